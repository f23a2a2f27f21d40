//! The room engine: what a session asks of the rooms, behind one interface with two
//! implementations — [`memory`] (the default: one process, [`Rooms`](memory::registry::Rooms)) and
//! [`redis`] (`--redis-url`: many processes sharing rooms through Redis).
//!
//! A session's `Handler::on_message` is synchronous, and Redis is not, so every request is a call
//! that may answer at once (into the session's [`Replies`]) or later (through the connection's own
//! outbound queue, its [`PeerHandle`]). Either way an engine answers one connection's requests in
//! the order they were made, and [`EngineConn::reply`] lets the session put its own answers (a
//! parse error, a rate limit) into that same order.

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::SystemTime;

use crate::relay::RawValue;
use shared::{PeerId, ResumeToken, RoomId, ServerMessage};

use crate::engine::config::RoomsConfig;
use crate::ws::CloseCode;
use peer::PeerHandle;

pub mod config;
mod entropy;
pub mod memory;
pub(crate) mod metrics;
pub mod peer;
pub mod peer_log;
pub mod redis;

/// Where an engine puts the answers due at once to a connection's request: the session's
/// WebSocket writer in the server, a list in the engines' tests. Answers that come later go
/// through the connection's [`PeerHandle`].
pub trait Replies {
    /// One server message, as JSON text, after those put before it.
    fn text(&mut self, json: &str);
}

/// Collects the answers as they would be sent, for tests and diagnostics.
impl Replies for Vec<String> {
    fn text(&mut self, json: &str) {
        self.push(json.to_owned());
    }
}

/// What a request may end in besides an answer: the connection must close.
pub type Flow = ControlFlow<(CloseCode, &'static str)>;

/// The room state of the whole server, shared by every session.
pub trait RoomEngine: Send + Sync + 'static {
    /// One connection's view of the engine.
    type Conn: EngineConn;

    /// A new connection, which the engine reaches through `handle`.
    fn open(self: &Arc<Self>, handle: PeerHandle) -> Self::Conn;

    fn config(&self) -> &RoomsConfig;

    /// Whether the engine can take new joins (`GET /healthz` answers 503 when it cannot).
    fn healthy(&self) -> bool;

    /// (rooms, seats) as the engine's state holds them, away seats included. For tests and
    /// diagnostics: on Redis it walks every room key.
    fn counts(&self) -> impl Future<Output = (usize, usize)> + Send;

    /// The server stopped taking connections and its sessions have ended: let the engine finish
    /// what they asked for (bounded in time).
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// One connection's requests. Each answers now into `reply`, or later through the connection's
/// handle; answers always come in the order of the requests.
pub trait EngineConn: Send + 'static {
    fn join(&mut self, room: RoomId, resume: Option<ResumeToken>, reply: &mut impl Replies) -> Flow;

    /// Relays a signal's payload (as its sender wrote it) to `to`, stamped with this peer's id.
    fn relay(&mut self, to: PeerId, data: &RawValue, reply: &mut impl Replies);

    fn leave(&mut self, reply: &mut impl Replies);

    /// An answer of the session's own, kept in order with the engine's answers.
    fn reply(&mut self, message: &ServerMessage, reply: &mut impl Replies);

    /// An answer refusing a message without acting on it (over the rate limit): written at once,
    /// ahead of any answers still due to earlier requests, so that a close which follows it (a
    /// flood) can never overtake it or drop it.
    fn refuse(&mut self, message: &ServerMessage, reply: &mut impl Replies);

    /// The session closes the connection (a flood). `Break` closes now; `Continue` means the
    /// close comes through the handle after the answers still due, and the session must ignore
    /// whatever the client sends meanwhile.
    fn hang_up(&mut self, code: CloseCode, reason: &'static str, reply: &mut impl Replies) -> Flow {
        let _ = reply;
        Flow::Break((code, reason))
    }

    /// The connection ended without `leave`: the seat is kept for the resume grace period.
    fn end(self, reason: &'static str) -> impl Future<Output = ()> + Send;
}

/// The `joined` answer, with ICE servers (and fresh TURN credentials) for `peer`.
pub fn joined_message(
    config: &RoomsConfig,
    room: RoomId,
    peer: PeerId,
    peers: Vec<PeerId>,
    token: ResumeToken,
) -> ServerMessage {
    let ice_servers = config.ice.servers_for(&peer, SystemTime::now());
    ServerMessage::Joined {
        room,
        peer_id: peer,
        peers,
        capacity: u32::try_from(config.capacity).unwrap_or(u32::MAX),
        resume_token: token,
        ice_servers,
    }
}
