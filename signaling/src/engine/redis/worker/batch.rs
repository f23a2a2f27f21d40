//! Batches: each queued request planned into its step (and its command), sent as one pipeline,
//! and landed in order when Redis answers — or landed at once, failed, while Redis is away.

use redis::{Pipeline, Value};
use shared::{ErrorCode, PeerId, ResumeToken, RoomId, ServerMessage};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info};

use super::{millis, room_key, unix_millis, Conn, Landed, Plan, Seat, Worker, UNREACHABLE};
use crate::engine::joined_message;
use crate::engine::peer::ConnId;
use crate::engine::peer::CLOSE_REPLACED;
use crate::engine::peer_log::PEER_LOG;
use crate::engine::redis::inbox;
use crate::engine::redis::places::Places;
use crate::engine::redis::request::{Op, Request};
use crate::engine::redis::scripts::{self, JoinReply, Script};
use crate::relay::RawValue;

/// One request's part of a batch, landed in order when Redis has answered.
pub(super) enum Step {
    /// Answered without Redis.
    Answer(ConnId, String),
    Join {
        conn: ConnId,
        room: RoomId,
    },
    /// A relay through the script (no place known for the recipient).
    Relay {
        conn: ConnId,
        to: PeerId,
    },
    /// A relay published straight to where the recipient sits: the number of subscribers says
    /// whether its node still listens.
    Publish {
        conn: ConnId,
        to: PeerId,
        cross: bool,
        /// Kept to retry through the script if nobody was listening there.
        data: Box<RawValue>,
        /// In the same `PUBLISH` (an inbox batch) as the relay before it: its answer is that one's.
        shares: bool,
    },
    Away {
        conn: ConnId,
    },
    /// Nothing left to do when it lands (leave, end without grace, expiry).
    Removed,
}

impl Step {
    pub(super) fn has_command(&self) -> bool {
        !matches!(self, Step::Answer(..) | Step::Publish { shares: true, .. })
    }
}

impl Worker {
    /// Sends the pending requests as one pipeline, up to the first one that depends on a join
    /// still in it (that connection's next request waits for the join's answer).
    ///
    /// A batch answered entirely from local state (an `already_joined`, a parse error) sends
    /// nothing to Redis, so no reply would come back to wake the worker for the rest of the
    /// queue: such a batch is landed at once and the next one planned, until one goes to Redis or
    /// the queue is empty. Only a join that goes to Redis makes its connection's next request wait.
    pub(super) fn start_batch(&mut self) -> Option<oneshot::Sender<()>> {
        loop {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            let mut steps = Vec::new();
            let mut joining = Vec::new();
            for (node, conn, to) in self.bounces.drain(..) {
                pipe.cmd("PUBLISH").arg(format!("{}{node}", scripts::INBOX_PREFIX)).arg(inbox::undelivered(conn, &to));
                steps.push(Step::Removed);
            }
            while let Some(request) = self.pending.front() {
                if joining.contains(&request.conn) {
                    break;
                }
                if matches!(request.op, Op::Close(_)) {
                    if steps.is_empty() {
                        let Some(Request { op: Op::Close(done), .. }) = self.pending.pop_front() else { break };
                        let mut pipe = redis::pipe();
                        pipe.cmd("DEL").arg(format!("{}{}", scripts::NODE_PREFIX, self.node));
                        self.launch(pipe, Plan::Close(done));
                        return None;
                    }
                    break;
                }
                let Some(request) = self.pending.pop_front() else { break };
                let conn = request.conn;
                let planned = steps.len();
                self.plan(request, Some(&mut pipe), &mut steps);
                if steps[planned..].iter().any(|step| matches!(step, Step::Join { .. })) {
                    joining.push(conn);
                }
            }
            self.merging.flush(&mut pipe);
            if steps.iter().any(Step::has_command) {
                self.launch(pipe, Plan::Batch(steps));
                return None;
            }
            self.land_batch(steps, Ok(Vec::new()));
            if self.pending.is_empty() {
                return None;
            }
        }
    }

    /// Without Redis: every pending request is answered from local state at once.
    pub(super) fn serve_offline(&mut self) -> Option<oneshot::Sender<()>> {
        self.bounces.clear(); // their senders' nodes cannot be told without Redis
        let mut steps = Vec::new();
        while let Some(request) = self.pending.pop_front() {
            if let Op::Close(done) = request.op {
                self.land_batch(steps, Err(UNREACHABLE.into()));
                return Some(done);
            }
            self.plan(request, None, &mut steps);
        }
        self.land_batch(steps, Err(UNREACHABLE.into()));
        None
    }

    /// Turns one request into its step (and, with a pipeline, its command). Local state changes
    /// that later requests depend on happen here, in queue order.
    pub(super) fn plan(&mut self, request: Request, mut pipe: Option<&mut Pipeline>, steps: &mut Vec<Step>) {
        let Request { conn, open, op, ticket } = request;
        drop(ticket); // taken off the queue: its bytes are free again
        if let (Some(pipe), false) = (pipe.as_deref_mut(), matches!(op, Op::Relay { .. })) {
            // Whatever this sends to Redis goes after the relays planned before it.
            self.merging.flush(pipe);
        }
        if let Some(handle) = open {
            self.conns.insert(conn, Conn { handle: Some(handle), seat: None, held: None });
        }
        if !self.conns.contains_key(&conn) {
            return; // a connection whose state is gone (its grace ended): nothing to answer
        }
        match op {
            Op::Reply(text) => steps.push(Step::Answer(conn, text)),
            Op::Join { room, resume, fresh } => self.plan_join(conn, room, resume, fresh, pipe, steps),
            Op::Relay { to, data, via_script } => self.plan_relay(conn, to, data, via_script, pipe, steps),
            Op::Leave => {
                let Some(seat) = self.detach(conn) else {
                    return steps.push(Step::Answer(conn, self.error(ErrorCode::NotInRoom, "not in a room".into())));
                };
                debug!(target: PEER_LOG, room = %seat.room, peer = seat.peer.as_str(), "left");
                self.remove(pipe, &seat, conn, false, steps);
            }
            Op::End { reason } => self.plan_end(conn, reason, pipe, steps),
            Op::Expire => {
                let c = self.conns.get(&conn);
                let away = c.is_some_and(|c| c.handle.is_none() && c.seat.as_ref().is_some_and(|s| s.away.is_some()));
                if !away {
                    return;
                }
                if let Some(seat) = self.detach(conn) {
                    debug!(room = %seat.room, peer = seat.peer.as_str(), "resume grace over; seat freed");
                    self.remove(pipe, &seat, conn, true, steps);
                }
                self.conns.remove(&conn);
            }
            // Taken out of the queue before planning; acknowledged here only if it ever slips in.
            Op::Close(done) => _ = done.send(()),
        }
    }

    pub(super) fn plan_join(
        &mut self,
        conn: ConnId,
        room: RoomId,
        resume: Option<ResumeToken>,
        fresh: (PeerId, ResumeToken),
        pipe: Option<&mut Pipeline>,
        steps: &mut Vec<Step>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if let Some(seat) = &c.seat {
            let detail = format!("already in room {}; leave it first", seat.room);
            return steps.push(Step::Answer(conn, self.error(ErrorCode::AlreadyJoined, detail)));
        }
        c.held = Some(Vec::new());
        if let Some(pipe) = pipe {
            let peer_joined = ServerMessage::PeerJoined { peer_id: fresh.0.clone() }.to_json();
            pipe.cmd("EVALSHA")
                .arg(self.sha(Script::Join))
                .arg(1)
                .arg(room_key(&room))
                .arg(&*self.node)
                .arg(conn)
                .arg(self.rooms.capacity)
                .arg(self.room_ttl_ms())
                .arg(fresh.0.as_str())
                .arg(fresh.1.as_str())
                .arg(resume.as_ref().map_or("", ResumeToken::as_str))
                .arg(peer_joined)
                .arg(&self.peer_resumed.0)
                .arg(&self.peer_resumed.1);
        }
        steps.push(Step::Join { conn, room });
    }

    pub(super) fn plan_end(
        &mut self,
        conn: ConnId,
        reason: &'static str,
        pipe: Option<&mut Pipeline>,
        steps: &mut Vec<Step>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.handle = None;
        let Some(seat) = self.conns.get(&conn).and_then(|c| c.seat.as_ref()) else {
            self.conns.remove(&conn);
            return;
        };
        debug!(target: PEER_LOG, room = %seat.room, peer = seat.peer.as_str(), reason, "connection ended");
        if self.rooms.resume_grace.is_zero() {
            if let Some(seat) = self.detach(conn) {
                self.remove(pipe, &seat, conn, false, steps);
            }
            self.conns.remove(&conn);
            return;
        }
        if let Some(pipe) = pipe {
            pipe.cmd("EVALSHA")
                .arg(self.sha(Script::Away))
                .arg(1)
                .arg(room_key(&seat.room))
                .arg(seat.peer.as_str())
                .arg(&*self.node)
                .arg(conn)
                .arg(millis(self.rooms.resume_grace));
        }
        steps.push(Step::Away { conn });
    }

    /// The command freeing a seat this connection held (`only_away`: unless it was resumed).
    pub(super) fn remove(
        &self,
        pipe: Option<&mut Pipeline>,
        seat: &Seat,
        conn: ConnId,
        only_away: bool,
        steps: &mut Vec<Step>,
    ) {
        if let Some(pipe) = pipe {
            let peer_left = ServerMessage::PeerLeft { peer_id: seat.peer.clone() }.to_json();
            pipe.cmd("EVALSHA")
                .arg(self.sha(Script::Remove))
                .arg(1)
                .arg(room_key(&seat.room))
                .arg(seat.peer.as_str())
                .arg(&*self.node)
                .arg(conn)
                .arg(if only_away { "1" } else { "0" })
                .arg(peer_left);
        }
        steps.push(Step::Removed);
    }

    /// Lands a batch: each step with its reply, in order; `Err` fails every step.
    pub(super) fn land_batch(&mut self, steps: Vec<Step>, result: Result<Vec<Value>, String>) {
        let (mut values, failure) = match result {
            Ok(values) => (values.into_iter(), None),
            Err(e) => (Vec::new().into_iter(), Some(e)),
        };
        // The answer of the last `PUBLISH`, for the relays that share it.
        let mut published: Option<Result<Value, String>> = None;
        for step in steps {
            let outcome = if let Step::Publish { shares: true, .. } = step {
                published.clone().unwrap_or_else(|| Err("missing reply".into()))
            } else if !step.has_command() {
                Ok(Value::Nil)
            } else if let Some(e) = &failure {
                Err(e.clone())
            } else {
                match values.next() {
                    Some(Value::ServerError(e)) => {
                        if e.code() == "NOSCRIPT" {
                            self.link_lost("Redis forgot our scripts");
                        }
                        Err(format!("{e:?}"))
                    }
                    Some(value) => Ok(value),
                    None => Err("missing reply".into()),
                }
            };
            if let Step::Publish { .. } = step {
                published = Some(outcome.clone());
            }
            self.land_step(step, outcome);
        }
        // Relays whose place had nobody listening go again, first, through the script.
        for retry in self.retries.drain(..).rev() {
            self.pending.push_front(retry);
        }
    }

    pub(super) fn land_step(&mut self, step: Step, outcome: Result<Value, String>) {
        match step {
            Step::Answer(conn, text) => self.send(conn, text),
            Step::Join { conn, room } => self.land_join(conn, room, outcome),
            Step::Relay { conn, to } => self.land_relay(conn, &to, outcome),
            Step::Publish { conn, to, cross, data, .. } => self.land_publish(conn, to, cross, data, outcome),
            Step::Away { conn } => self.land_away(conn, outcome),
            Step::Removed => {
                if let Err(e) = outcome {
                    debug!(error = %e, "seat freed locally; Redis follows at the next heartbeat");
                }
            }
        }
    }

    pub(super) fn land_join(&mut self, conn: ConnId, room: RoomId, outcome: Result<Value, String>) {
        let held = self.conns.get_mut(&conn).and_then(|c| c.held.take()).unwrap_or_default();
        let reply = outcome.and_then(|value| scripts::join_reply(&value).map_err(|e| e.to_string()));
        let (resumed, peer, token, order, peers) = match reply {
            Ok(JoinReply::Seated { resumed, peer, token, order, peers }) => (resumed, peer, token, order, peers),
            Ok(JoinReply::Full) => {
                info!(%room, code = ErrorCode::RoomFull.as_str(), "join refused");
                let text = self.error(ErrorCode::RoomFull, ErrorCode::RoomFull.default_message().into());
                self.send(conn, text);
                return self.release(conn, held, None);
            }
            Err(e) => {
                info!(%room, code = ErrorCode::Unavailable.as_str(), error = %e, "join refused");
                let text = self.error(ErrorCode::Unavailable, UNREACHABLE.into());
                self.send(conn, text);
                return self.release(conn, held, None);
            }
        };
        if resumed {
            self.take_over(&room, &peer, conn);
            self.metrics.rooms.resumes.inc();
        }
        if let Some(handle) = self.conns.get(&conn).and_then(|c| c.handle.as_ref()) {
            handle.seated(&room, &peer, !resumed && peers.is_empty());
        }
        debug!(target: PEER_LOG, %room, peer = peer.as_str(), resumed, peers = peers.len(), "joined");
        let message = joined_message(&self.rooms, room.clone(), peer.clone(), peers, token.clone());
        self.send(conn, message.to_json());
        self.release(conn, held, Some(&peer));
        self.attach(conn, Seat { room, peer, token, order, away: None, places: Places::default() });
    }

    /// A resume took the seat from another connection of this node: it loses it and is closed.
    pub(super) fn take_over(&mut self, room: &RoomId, peer: &PeerId, by: ConnId) {
        let holders = self.seats.get(room).cloned().unwrap_or_default();
        for other in holders {
            let holds = self.conns.get(&other).and_then(|c| c.seat.as_ref()).is_some_and(|s| &s.peer == peer);
            if other != by && holds {
                self.replaced(other);
            }
        }
    }

    pub(super) fn replaced(&mut self, conn: ConnId) {
        if self.detach(conn).is_none() {
            return;
        }
        match self.conns.get(&conn).and_then(|c| c.handle.as_ref()) {
            Some(handle) => handle.close(CLOSE_REPLACED, "replaced by a newer connection"),
            None => _ = self.conns.remove(&conn),
        }
    }

    pub(super) fn land_away(&mut self, conn: ConnId, outcome: Result<Value, String>) {
        let grace = self.rooms.resume_grace;
        let deadline = match outcome.map(|value| scripts::int(&value)) {
            Ok(Ok(0)) => {
                // Not ours any more (resumed elsewhere meanwhile): nothing to keep.
                self.detach(conn);
                self.conns.remove(&conn);
                return;
            }
            Ok(Ok(deadline)) => deadline,
            // Redis failed: away locally; the heartbeat writes it once Redis is back.
            _ => unix_millis().saturating_add(i64::try_from(millis(grace)).unwrap_or(i64::MAX)),
        };
        let at = Instant::now() + grace;
        if let Some(seat) = self.conns.get_mut(&conn).and_then(|c| c.seat.as_mut()) {
            seat.away = Some((deadline, at));
            self.expiries.insert((at, conn));
        }
    }

    pub(super) fn land(&mut self, landed: Landed) -> Option<oneshot::Sender<()>> {
        self.metrics.redis.round_trip(landed.took);
        match (landed.plan, landed.result) {
            (Plan::Batch(steps), result) => {
                let result = result.map_err(|e| {
                    self.link_lost(&e.to_string());
                    UNREACHABLE.to_owned()
                });
                self.land_batch(steps, result);
            }
            (Plan::Tick(sent), Ok(values)) => self.land_tick(sent, values),
            (Plan::Tick(_), Err(e)) => self.link_lost(&format!("heartbeat failed: {e}")),
            (Plan::Close(done), _) => return Some(done),
        }
        None
    }
}
