//! What both engines know of a connection: its id, the handle that reaches it, and the fresh
//! ids a seat gets.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use shared::{PeerId, ResumeToken, RoomId};
use tracing::{info_span, warn, Span};

use super::metrics::RoomMetrics;
use crate::address::NewRooms;
use crate::ws::outbox::{self, SendError};
use crate::ws::{CloseCode, Outbound};

/// Close code for a connection whose seat was taken over by a newer one with the resume token.
pub const CLOSE_REPLACED: CloseCode = CloseCode(shared::close::REPLACED);

/// Close code for a connection whose seat the room store no longer holds.
pub const CLOSE_SEAT_LOST: CloseCode = CloseCode(shared::close::SEAT_LOST);

/// Unique per WebSocket connection for the life of the process.
pub type ConnId = u64;

/// Hands out connection ids, from 1.
#[derive(Debug)]
pub struct ConnIds(AtomicU64);

impl Default for ConnIds {
    fn default() -> Self {
        ConnIds(AtomicU64::new(1))
    }
}

impl ConnIds {
    pub fn next(&self) -> ConnId {
        self.0.fetch_add(1, Relaxed)
    }
}

/// How an engine reaches one connection: its bounded outbound queue, and the seat it holds.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    tx: outbox::Sender,
    /// The seat the connection holds (or held last), shared with its session, which names it in
    /// what it logs.
    seat: SeatedAs,
    /// Where the rooms this connection opens are charged: its client address's new-room budget.
    new_rooms: Option<NewRooms>,
}

impl PeerHandle {
    pub fn new(tx: outbox::Sender) -> Self {
        PeerHandle { tx, seat: SeatedAs::default(), new_rooms: None }
    }

    /// Rooms this connection opens are charged to `new_rooms` (its address's allowance).
    pub fn charge_new_rooms(&mut self, new_rooms: NewRooms) {
        self.new_rooms = Some(new_rooms);
    }

    /// The connection took a seat: [`PeerHandle::seated_as`] names the room and peer from now on
    /// (after a `leave`, the last ones it held). `opened`: the room was empty (not a resume),
    /// which its address pays for.
    pub fn seated(&self, room: &RoomId, peer: &PeerId, opened: bool) {
        self.seat.set(room, peer);
        if let (true, Some(new_rooms)) = (opened, &self.new_rooms) {
            new_rooms.opened();
        }
    }

    /// The connection's seat as the engine last gave it, readable by the session (which is not
    /// told the peer id itself: on Redis, `joined` reaches the client through the outbox).
    pub fn seated_as(&self) -> SeatedAs {
        self.seat.clone()
    }

    /// Queues a message; a full queue means the recipient stopped reading. The message is
    /// dropped and counted; a recipient whose byte allowance it overran is disconnected at once
    /// (`slow_consumer`), one full in messages by its own send timeout. Returns whether
    /// it was queued (a closed queue is a connection ending: its seat follows).
    pub fn send_text(&self, json: String, metrics: &RoomMetrics) -> bool {
        self.sent(self.tx.try_send(Outbound::Text(json)), metrics)
    }

    /// As [`PeerHandle::send_text`], but written straight into the connection's socket from this
    /// task when the connection is idle (see `outbox`): no wake-up of its task. For messages sent
    /// at once from the sender's own task (the in-memory engine).
    pub fn send_text_now(&self, json: String, metrics: &RoomMetrics) -> bool {
        self.sent(self.tx.try_send_now(json), metrics)
    }

    fn sent(&self, result: Result<(), SendError>, metrics: &RoomMetrics) -> bool {
        match result {
            Ok(()) => true,
            Err(SendError::Full) => {
                metrics.relay_dropped.inc();
                // Named after the recipient: the one that stopped reading.
                self.seat.span().in_scope(|| warn!("recipient queue full; message dropped"));
                false
            }
            Err(SendError::Closed) => false,
        }
    }

    /// Asks the connection to close with `code`; a connection already ending ignores it.
    pub fn close(&self, code: CloseCode, reason: &'static str) {
        let _ = self.tx.try_send(Outbound::Close(code, reason));
    }
}

/// The room and peer id of a connection's latest seat, set by the engine when it seats the
/// connection.
///
/// A mutex, not a lock-free cell: it is written once per join and read once per `ice_config`
/// request or warning, never across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct SeatedAs(Arc<Mutex<Option<(RoomId, PeerId)>>>);

impl SeatedAs {
    fn set(&self, room: &RoomId, peer: &PeerId) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((room.clone(), peer.clone()));
    }

    /// The latest seat's peer id; `None` before the first join.
    pub fn get(&self) -> Option<PeerId> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(|(_, peer)| peer.clone())
    }

    /// A `session` span naming the seat (`session{peer=… room=…}`; before a join, bare), for a
    /// line logged about the connection: `seat.span().in_scope(|| warn!(…))`.
    ///
    /// Made when a line needs it rather than held for the whole connection: a span entered at
    /// every poll of the session and filled in at its join cost ~7,100 instructions per
    /// connection in a join burst (callgrind, 1,000 joins: 66.5 M at `info` against 59.5 M at
    /// `warn`), for lines that only a misbehaving connection logs.
    pub fn span(&self) -> Span {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((room, peer)) => info_span!("session", peer = %peer.as_str(), %room),
            None => info_span!("session"),
        }
    }
}

/// A peer id of 96 random bits (16 base64url characters) and a resume token of 192.
pub fn fresh_ids() -> Result<(PeerId, ResumeToken), getrandom::Error> {
    let mut bytes = [0u8; 12 + 24];
    super::entropy::fill(&mut bytes)?;
    let (peer, token) = bytes.split_at(12);
    Ok((PeerId::new(URL_SAFE_NO_PAD.encode(peer)), ResumeToken::new(URL_SAFE_NO_PAD.encode(token))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_of_the_documented_length() {
        let (peer, token) = fresh_ids().unwrap();
        let (other, _) = fresh_ids().unwrap();
        assert_eq!((peer.as_str().len(), token.as_str().len()), (16, 32));
        assert_ne!(peer, other);
        let ids = ConnIds::default();
        assert_eq!((ids.next(), ids.next()), (1, 2));
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_a_closed_one_refuses() {
        let (tx, mut rx) = outbox::channel(1);
        let handle = PeerHandle::new(tx);
        let metrics = RoomMetrics::default();
        assert!(handle.send_text("a".into(), &metrics));
        assert!(!handle.send_text("b".into(), &metrics));
        assert_eq!(metrics.relay_dropped.get(), 1);
        assert_eq!(rx.try_recv(), Some(Outbound::Text("a".into())));
        drop(rx);
        assert!(!handle.send_text("c".into(), &metrics));
        assert_eq!(metrics.relay_dropped.get(), 1, "a closed queue is not a drop");
    }
}
