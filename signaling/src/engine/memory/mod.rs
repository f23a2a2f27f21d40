//! The in-memory engine, the default: the sharded [`Rooms`] of this one process. Every request is
//! answered at once, into the session's writer; other connections are reached through their
//! handles.
//!
//! - [`room`]: the rooms' state and rules, pure and synchronous;
//! - [`registry`]: the rooms of the process, sharded behind locks, and delivery to connections.

use std::sync::Arc;

use crate::relay::RawValue;
use shared::{ErrorCode, PeerId, ResumeToken, RoomId, ServerMessage};
use tracing::{debug, info, warn};

use registry::{JoinError, Rooms};

use super::peer::{ConnId, PeerHandle};
use super::peer_log::PEER_LOG;
use super::{joined_message, EngineConn, Flow, Replies, RoomEngine};
use crate::engine::config::RoomsConfig;
use crate::ws::CloseCode;

pub mod registry;
mod room;

impl RoomEngine for Rooms {
    type Conn = MemoryConn;

    fn open(self: &Arc<Self>, handle: PeerHandle) -> MemoryConn {
        MemoryConn { rooms: Arc::clone(self), conn: self.next_conn_id(), handle, seat: None }
    }

    fn config(&self) -> &RoomsConfig {
        &self.config
    }

    fn healthy(&self) -> bool {
        true
    }

    async fn counts(&self) -> (usize, usize) {
        Rooms::counts(self)
    }

    async fn close(&self) {}
}

/// The seat a connection holds.
#[derive(Debug)]
struct Seat {
    room: RoomId,
    peer: PeerId,
}

/// One connection on the in-memory engine.
pub struct MemoryConn {
    rooms: Arc<Rooms>,
    conn: ConnId,
    handle: PeerHandle,
    seat: Option<Seat>,
}

impl MemoryConn {
    fn error(&self, reply: &mut impl Replies, code: ErrorCode, message: String) {
        // `?`: the message may quote a client's input; Debug keeps it escaped, on this one log line.
        debug!(conn = self.conn, code = code.as_str(), ?message, "error sent");
        self.rooms.metrics().error_sent(code);
        reply.text(&ServerMessage::Error { code, message }.to_json());
    }
}

impl EngineConn for MemoryConn {
    fn join(&mut self, room: RoomId, resume: Option<ResumeToken>, reply: &mut impl Replies) -> Flow {
        if let Some(seat) = &self.seat {
            let detail = format!("already in room {}; leave it first", seat.room);
            self.error(reply, ErrorCode::AlreadyJoined, detail);
            return Flow::Continue(());
        }
        let joined = match self.rooms.join(&room, self.conn, self.handle.clone(), resume.as_ref()) {
            Ok(joined) => joined,
            Err(JoinError::Refused(code)) => {
                info!(%room, code = code.as_str(), "join refused");
                self.error(reply, code, code.default_message().to_owned());
                return Flow::Continue(());
            }
            Err(JoinError::Randomness) => {
                warn!("the OS random source failed; cannot make a peer id");
                return Flow::Break((CloseCode::INTERNAL_ERROR, "internal error"));
            }
        };
        self.handle.seated(&room, &joined.peer, !joined.resumed && joined.peers.is_empty());
        debug!(target: PEER_LOG, %room, peer = joined.peer.as_str(), resumed = joined.resumed, peers = joined.peers.len(), "joined");
        let message = joined_message(&self.rooms.config, room.clone(), joined.peer.clone(), joined.peers, joined.token);
        reply.text(&message.to_json());
        self.seat = Some(Seat { room, peer: joined.peer });
        Flow::Continue(())
    }

    fn relay(&mut self, to: PeerId, data: &RawValue, reply: &mut impl Replies) {
        let Some(seat) = &self.seat else {
            return self.error(reply, ErrorCode::NotInRoom, "join a room before sending signals".into());
        };
        if !to.is_well_formed() {
            return self.error(reply, ErrorCode::UnknownPeer, "no such peer in this room".into());
        }
        match self.rooms.relay(&seat.room, &seat.peer, &to, data) {
            Ok(()) => debug!(room = %seat.room, from = seat.peer.as_str(), to = to.as_str(), "signal relayed"),
            Err(code) => {
                let detail = format!("{} is not a connected peer in this room", to.as_str());
                self.error(reply, code, detail);
            }
        }
    }

    fn leave(&mut self, reply: &mut impl Replies) {
        match self.seat.take() {
            Some(seat) => {
                debug!(target: PEER_LOG, room = %seat.room, peer = seat.peer.as_str(), "left");
                self.rooms.leave(&seat.room, &seat.peer, self.conn);
            }
            None => self.error(reply, ErrorCode::NotInRoom, "not in a room".into()),
        }
    }

    fn reply(&mut self, message: &ServerMessage, reply: &mut impl Replies) {
        if let ServerMessage::Error { code, .. } = message {
            self.rooms.metrics().error_sent(*code);
        }
        reply.text(&message.to_json());
    }

    /// Every answer is written at once here: a refusal is just a reply.
    fn refuse(&mut self, message: &ServerMessage, reply: &mut impl Replies) {
        self.reply(message, reply);
    }

    /// Without an explicit `leave`, the seat is kept for the resume grace period: a reload or a
    /// network blip must not hand the seat to someone else.
    async fn end(self, reason: &'static str) {
        if let Some(seat) = self.seat {
            debug!(target: PEER_LOG, room = %seat.room, peer = seat.peer.as_str(), reason, "connection ended");
            self.rooms.disconnect(seat.room, seat.peer, self.conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shared::Signal;

    use super::*;
    use crate::metrics::Metrics;
    use crate::relay::signal_payload;
    use crate::ws::outbox::{self, Receiver};
    use crate::ws::Outbound;

    /// The engine with a resume grace, and a way to open connections on it without sockets.
    fn engine(resume_grace: Duration) -> (Arc<Rooms>, Metrics) {
        let metrics = Metrics::default();
        let rooms = Arc::new(Rooms::new(RoomsConfig { resume_grace, ..RoomsConfig::default() }, &metrics));
        (rooms, metrics)
    }

    fn open(rooms: &Arc<Rooms>) -> (MemoryConn, Receiver) {
        let (tx, rx) = outbox::channel(16);
        (rooms.open(PeerHandle::new(tx)), rx)
    }

    fn parsed(json: &str) -> ServerMessage {
        ServerMessage::parse(json).expect("a server message")
    }

    /// What the connection's outbox holds now, as messages.
    fn queued(rx: &mut Receiver) -> Vec<ServerMessage> {
        std::iter::from_fn(|| rx.try_recv())
            .map(|out| match out {
                Outbound::Text(json) => parsed(&json),
                Outbound::Close(code, reason) => panic!("unexpected close {code} {reason}"),
            })
            .collect()
    }

    fn join(conn: &mut MemoryConn, room: &str) -> (PeerId, ResumeToken, Vec<PeerId>) {
        let mut replies = Vec::new();
        let room = RoomId::try_from(room).expect("a valid room id");
        assert!(conn.join(room, None, &mut replies).is_continue());
        match replies.as_slice() {
            [one] => match parsed(one) {
                ServerMessage::Joined { peer_id, resume_token, peers, capacity, .. } => {
                    assert_eq!(capacity, shared::DEFAULT_ROOM_CAPACITY);
                    (peer_id, resume_token, peers)
                }
                other => panic!("expected joined, got {other:?}"),
            },
            other => panic!("expected one answer, got {other:?}"),
        }
    }

    #[test]
    fn join_relay_leave_answer_at_once_and_reach_the_other_peer_through_its_handle() {
        let (rooms, _metrics) = engine(Duration::ZERO);
        let (mut a, mut a_rx) = open(&rooms);
        let (mut b, mut b_rx) = open(&rooms);
        let (pa, _, others) = join(&mut a, "r1");
        assert!(others.is_empty());
        let (pb, _, others) = join(&mut b, "r1");
        assert_eq!(others, std::slice::from_ref(&pa));
        assert_eq!(queued(&mut a_rx), [ServerMessage::PeerJoined { peer_id: pb.clone() }]);

        let text = r#"{"type":"signal","to":"x","data":{"kind":"end_of_candidates"}}"#;
        let data = signal_payload(text).expect("a payload");
        let mut replies = Vec::new();
        a.relay(pb.clone(), data, &mut replies);
        assert!(replies.is_empty(), "a relayed signal is not answered");
        assert_eq!(queued(&mut b_rx), [ServerMessage::Signal { from: pa.clone(), data: Signal::EndOfCandidates }]);
        assert_eq!(rooms.metrics().signals_relayed.get(), 1);

        b.leave(&mut replies);
        assert!(replies.is_empty());
        assert_eq!(queued(&mut a_rx), [ServerMessage::PeerLeft { peer_id: pb }]);
        assert_eq!(rooms.counts(), (1, 1));
    }

    #[test]
    fn requests_out_of_turn_are_answered_with_their_error_and_counted() {
        let (rooms, metrics) = engine(Duration::ZERO);
        let (mut a, _a_rx) = open(&rooms);
        let mut replies = Vec::new();
        a.leave(&mut replies);
        let data = signal_payload(r#"{"data":{"kind":"end_of_candidates"}}"#).expect("a payload");
        a.relay(PeerId::new("nobody"), data, &mut replies);
        join(&mut a, "r2");
        assert!(a.join(RoomId::try_from("r3").expect("valid"), None, &mut replies).is_continue());
        a.relay(PeerId::new("nobody"), data, &mut replies);
        let codes: Vec<_> = replies
            .iter()
            .map(|json| match parsed(json) {
                ServerMessage::Error { code, .. } => code,
                other => panic!("expected an error, got {other:?}"),
            })
            .collect();
        use ErrorCode::*;
        assert_eq!(codes, [NotInRoom, NotInRoom, AlreadyJoined, UnknownPeer]);
        let text = metrics.render();
        assert!(text.contains("signaling_errors_total{code=\"not_in_room\"} 2\n"), "{text}");
        assert!(text.contains("signaling_errors_total{code=\"already_joined\"} 1\n"), "{text}");
    }

    #[test]
    fn a_full_room_refuses_the_third_peer() {
        let (rooms, _metrics) = engine(Duration::ZERO);
        let (mut a, _a) = open(&rooms);
        let (mut b, _b) = open(&rooms);
        let (mut c, _c) = open(&rooms);
        join(&mut a, "r");
        join(&mut b, "r");
        let mut replies = Vec::new();
        assert!(c.join(RoomId::try_from("r").expect("valid"), None, &mut replies).is_continue());
        assert!(matches!(parsed(&replies[0]), ServerMessage::Error { code: ErrorCode::RoomFull, .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_connection_keeps_its_seat_for_the_grace_then_the_others_are_told() {
        let grace = Duration::from_secs(15);
        let (rooms, _metrics) = engine(grace);
        let (mut a, mut a_rx) = open(&rooms);
        let (mut b, _b_rx) = open(&rooms);
        join(&mut a, "g");
        let (pb, _, _) = join(&mut b, "g");
        queued(&mut a_rx);
        b.end("vanished").await;
        tokio::time::sleep(grace - Duration::from_secs(1)).await;
        assert!(queued(&mut a_rx).is_empty(), "still within the grace");
        assert_eq!(rooms.counts(), (1, 2));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(queued(&mut a_rx), [ServerMessage::PeerLeft { peer_id: pb }]);
        assert_eq!(rooms.counts(), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_resume_within_the_grace_takes_the_seat_back_unannounced() {
        let grace = Duration::from_secs(15);
        let (rooms, _metrics) = engine(grace);
        let (mut a, mut a_rx) = open(&rooms);
        let (mut b, _b_rx) = open(&rooms);
        join(&mut a, "g");
        let (pb, token, _) = join(&mut b, "g");
        queued(&mut a_rx);
        b.end("vanished").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (mut b2, _b2_rx) = open(&rooms);
        let mut replies = Vec::new();
        assert!(b2.join(RoomId::try_from("g").expect("valid"), Some(token), &mut replies).is_continue());
        assert!(matches!(parsed(&replies[0]), ServerMessage::Joined { ref peer_id, .. } if *peer_id == pb));
        tokio::time::sleep(grace * 2).await;
        assert!(queued(&mut a_rx).is_empty(), "neither peer_left nor peer_joined for a resume");
        assert_eq!(rooms.counts(), (1, 2));
        assert_eq!(rooms.metrics().resumes.get(), 1);
    }

    #[test]
    fn once_seated_a_connection_s_logs_name_its_peer_and_room() {
        let (rooms, _metrics) = engine(Duration::ZERO);
        let (tx, _rx) = outbox::channel(4);
        let handle = PeerHandle::new(tx);
        let seat = handle.seated_as();
        let mut conn = rooms.open(handle);
        let before = crate::log_capture::logged(|| seat.span().in_scope(|| tracing::warn!("message flood; closing")));
        assert!(before.contains(" WARN session: "), "unseated, the span is bare: {before}");
        let peer = join(&mut conn, "named").0;
        let text = crate::log_capture::logged(|| seat.span().in_scope(|| tracing::warn!("message flood; closing")));
        let named = format!(" WARN session{{peer={} room=named}}: ", peer.as_str());
        assert!(text.contains(&named), "{text}");
    }
}
