//! One signaling session: a WebSocket's text messages turned into room operations, and the
//! seat given up (or kept for a resume) when the connection ends.
//!
//! Nothing a client sends closes its connection on the first offence: each bad message gets an
//! `error` with its code. Only a flood that continues after `rate_limited` is closed (1008).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::SystemTime;

use shared::relay::RawValue;
use shared::{ClientMessage, ErrorCode, PeerId, ResumeToken, RoomId, ServerMessage};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::rate::{TokenBucket, Verdict};
use crate::room::ConnId;
use crate::rooms::{JoinError, PeerHandle, Rooms};
use crate::server::Service;
use crate::ws::{CloseCode, Ended, Handler, Message, WebSocket, Writer};

/// The rooms service behind `/ws`.
pub struct RoomService {
    rooms: Arc<Rooms>,
}

impl RoomService {
    pub fn new(rooms: Arc<Rooms>) -> Self {
        RoomService { rooms }
    }
}

impl Service for RoomService {
    async fn session(&self, ws: WebSocket) {
        // Bounded: a recipient that stops reading fills its queue, and further messages to it are
        // dropped and counted (see `Rooms::send`) instead of growing memory without limit.
        let (tx, mut rx) = mpsc::channel(self.rooms.config.outbound_queue);
        let mut session = Session::new(self.rooms.clone(), PeerHandle::new(tx));
        let ended = ws.run(&mut session, Some(&mut rx)).await;
        session.end(&ended);
    }
}

/// The seat this connection holds.
#[derive(Debug)]
struct Seat {
    room: RoomId,
    peer: PeerId,
}

struct Session {
    rooms: Arc<Rooms>,
    conn: ConnId,
    handle: PeerHandle,
    seat: Option<Seat>,
    bucket: TokenBucket,
}

impl Handler for Session {
    fn on_message(&mut self, message: Message<'_>, reply: &mut Writer) -> ControlFlow<(CloseCode, &'static str)> {
        match self.bucket.check(Instant::now()) {
            Verdict::Allow => {}
            Verdict::Limit => {
                let wait = self.bucket.retry_after().as_millis() + 1;
                self.error(reply, ErrorCode::RateLimited, format!("too many messages; retry in {wait} ms"));
                return ControlFlow::Continue(());
            }
            Verdict::Flood => {
                warn!(conn = self.conn, peer = self.peer_str(), "message flood; closing");
                return ControlFlow::Break((CloseCode::POLICY_VIOLATION, "message flood"));
            }
        }
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                self.error(reply, ErrorCode::BadMessage, "binary messages are not part of the protocol".into());
                return ControlFlow::Continue(());
            }
        };
        let limit = self.rooms.config.max_signal_size;
        if text.len() > limit {
            let detail = format!("message of {} bytes; the limit is {limit}", text.len());
            self.error(reply, ErrorCode::MessageTooLarge, detail);
            return ControlFlow::Continue(());
        }
        match ClientMessage::parse(text) {
            Err(e) => self.error(reply, e.code(), e.to_string()),
            Ok(ClientMessage::Join { room, resume }) => return self.join(room, resume.as_ref(), reply),
            // Validated as a typed `Signal`; relayed as the sender's own `data` text.
            Ok(ClientMessage::Signal { to, .. }) => match shared::relay::signal_payload(text) {
                Some(data) => self.signal(&to, data, reply),
                None => self.error(reply, ErrorCode::BadMessage, "signal without data".into()),
            },
            Ok(ClientMessage::Leave) => self.leave(reply),
        }
        ControlFlow::Continue(())
    }
}

impl Session {
    fn new(rooms: Arc<Rooms>, handle: PeerHandle) -> Self {
        let conn = rooms.next_conn_id();
        let bucket = TokenBucket::new(rooms.config.rate, Instant::now());
        Session { rooms, conn, handle, seat: None, bucket }
    }

    fn peer_str(&self) -> &str {
        self.seat.as_ref().map_or("-", |s| s.peer.as_str())
    }

    fn join(
        &mut self,
        room: RoomId,
        resume: Option<&ResumeToken>,
        reply: &mut Writer,
    ) -> ControlFlow<(CloseCode, &'static str)> {
        if let Some(seat) = &self.seat {
            let detail = format!("already in room {}; leave it first", seat.room);
            self.error(reply, ErrorCode::AlreadyJoined, detail);
            return ControlFlow::Continue(());
        }
        let joined = match self.rooms.join(&room, self.conn, self.handle.clone(), resume) {
            Ok(joined) => joined,
            Err(JoinError::Refused(code)) => {
                info!(%room, code = code.as_str(), "join refused");
                self.error(reply, code, code.default_message().to_owned());
                return ControlFlow::Continue(());
            }
            Err(JoinError::Randomness) => {
                warn!("the OS random source failed; cannot make a peer id");
                return ControlFlow::Break((CloseCode::INTERNAL_ERROR, "internal error"));
            }
        };
        info!(%room, peer = joined.peer.as_str(), resumed = joined.resumed, peers = joined.peers.len(), "joined");
        let ice_servers = self.rooms.config.ice.servers_for(&joined.peer, SystemTime::now());
        let message = ServerMessage::Joined {
            room: room.clone(),
            peer_id: joined.peer.clone(),
            peers: joined.peers,
            capacity: u32::try_from(self.rooms.config.capacity).unwrap_or(u32::MAX),
            resume_token: joined.token,
            ice_servers,
        };
        reply.text(&message.to_json());
        self.seat = Some(Seat { room, peer: joined.peer });
        ControlFlow::Continue(())
    }

    fn signal(&mut self, to: &PeerId, data: &RawValue, reply: &mut Writer) {
        let Some(seat) = &self.seat else {
            return self.error(reply, ErrorCode::NotInRoom, "join a room before sending signals".into());
        };
        if !to.is_well_formed() {
            return self.error(reply, ErrorCode::UnknownPeer, "no such peer in this room".into());
        }
        match self.rooms.relay(&seat.room, &seat.peer, to, data) {
            Ok(()) => debug!(room = %seat.room, from = seat.peer.as_str(), to = to.as_str(), "signal relayed"),
            Err(code) => {
                let detail = format!("{} is not a connected peer in this room", to.as_str());
                self.error(reply, code, detail);
            }
        }
    }

    fn leave(&mut self, reply: &mut Writer) {
        match self.seat.take() {
            Some(seat) => {
                info!(room = %seat.room, peer = seat.peer.as_str(), "left");
                self.rooms.leave(&seat.room, &seat.peer, self.conn);
            }
            None => self.error(reply, ErrorCode::NotInRoom, "not in a room".into()),
        }
    }

    fn error(&self, reply: &mut Writer, code: ErrorCode, message: String) {
        debug!(conn = self.conn, peer = self.peer_str(), code = code.as_str(), %message, "error sent");
        self.rooms.metrics().error_sent(code.as_str());
        reply.text(&ServerMessage::Error { code, message }.to_json());
    }

    /// The connection is over. Without an explicit `leave`, the seat is kept for the resume
    /// grace period: a reload or a network blip must not hand the seat to someone else.
    fn end(self, ended: &Ended) {
        if let Some(seat) = self.seat {
            info!(room = %seat.room, peer = seat.peer.as_str(), reason = ended.label(), "connection ended");
            self.rooms.disconnect(seat.room, seat.peer, self.conn);
        }
    }
}
