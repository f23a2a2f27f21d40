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
use super::{joined_message, EngineConn, Flow, Replies, RoomEngine};
use crate::engine::config::RoomsConfig;
use crate::ws::CloseCode;

pub mod registry;
pub mod room;

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
        info!(%room, peer = joined.peer.as_str(), resumed = joined.resumed, peers = joined.peers.len(), "joined");
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
                info!(room = %seat.room, peer = seat.peer.as_str(), "left");
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

    /// Without an explicit `leave`, the seat is kept for the resume grace period: a reload or a
    /// network blip must not hand the seat to someone else.
    async fn end(self, reason: &'static str) {
        if let Some(seat) = self.seat {
            info!(room = %seat.room, peer = seat.peer.as_str(), reason, "connection ended");
            self.rooms.disconnect(seat.room, seat.peer, self.conn);
        }
    }
}
