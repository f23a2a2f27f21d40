//! The in-memory engine's registry of rooms: [`Shard`]s behind their own locks, and delivery to
//! connections.
//!
//! Rooms are spread over shards by a keyed hash of the room id, so a relay locks only its own
//! room's shard and unrelated calls never wait for each other. A lock is held only for the pure
//! state change; JSON encoding and queueing to connections happen after it is released.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::relay::relayed_signal_json;
use crate::relay::RawValue;
use shared::{ErrorCode, PeerId, ResumeToken, RoomId, ServerMessage};
use tracing::debug;

use super::room::{Delivery, Joined, Left, Shard};
use crate::engine::config::RoomsConfig;
use crate::engine::metrics::RoomMetrics;
use crate::engine::peer::{fresh_ids, ConnId, ConnIds, PeerHandle, CLOSE_REPLACED};
use crate::metrics::Metrics;

/// Shards: a power of two well above the core count, so two busy rooms rarely share a lock.
const SHARDS: usize = 64;

pub struct Rooms {
    shards: Box<[Mutex<Shard<PeerHandle>>]>,
    /// Keyed with per-process random keys: clients choose room ids and must not be able to
    /// pile them all onto one shard.
    hasher: RandomState,
    conn_ids: ConnIds,
    pub config: RoomsConfig,
    metrics: RoomMetrics,
}

impl Rooms {
    /// The rooms, their families registered in `registry`.
    pub fn new(config: RoomsConfig, registry: &Metrics) -> Self {
        let metrics = RoomMetrics::default();
        registry.register(|r| metrics.register(r));
        Rooms {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            conn_ids: ConnIds::default(),
            config,
            metrics,
        }
    }

    pub fn metrics(&self) -> &RoomMetrics {
        &self.metrics
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.conn_ids.next()
    }

    fn shard(&self, room: &RoomId) -> MutexGuard<'_, Shard<PeerHandle>> {
        let index = (self.hasher.hash_one(room.as_str()) as usize) % SHARDS;
        // A panic while holding the lock leaves the shard's maps consistent (every operation
        // completes its mutation before anything can panic), so poisoning is ignored.
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn join(
        &self,
        room: &RoomId,
        conn: ConnId,
        handle: PeerHandle,
        resume: Option<&ResumeToken>,
    ) -> Result<Joined<PeerHandle>, JoinError> {
        let fresh = fresh_ids().map_err(|_| JoinError::Randomness)?;
        let result = self.shard(room).join(room, conn, handle, resume, fresh, self.config.capacity);
        let joined = result.map_err(JoinError::Refused)?;
        if joined.room_created {
            self.metrics.rooms_open.inc();
        }
        if joined.resumed {
            self.metrics.resumes.inc();
        } else {
            self.metrics.peers_joined.inc();
        }
        if let Some(old) = &joined.replaced {
            old.close(CLOSE_REPLACED, "replaced by a newer connection");
        }
        self.deliver(&joined.deliveries);
        Ok(joined)
    }

    /// Relays a signal's payload (`data` as the sender wrote it) from `from` to `to`, stamped
    /// with the sender's id.
    pub fn relay(&self, room: &RoomId, from: &PeerId, to: &PeerId, data: &RawValue) -> Result<(), ErrorCode> {
        let recipient = self.shard(room).route(room, from, to)?;
        if self.send_json(&recipient, relayed_signal_json(from, data)) {
            self.metrics.signals_relayed.inc();
        }
        Ok(())
    }

    /// `leave`: the seat is given up at once and the others are told.
    pub fn leave(&self, room: &RoomId, peer: &PeerId, conn: ConnId) {
        let left = self.shard(room).leave(room, peer, conn);
        self.finish_leave(left);
    }

    /// The connection ended without `leave`: keep the seat for the resume grace period, then
    /// free it unless it was taken back.
    pub fn disconnect(self: &Arc<Self>, room: RoomId, peer: PeerId, conn: ConnId) {
        if self.config.resume_grace.is_zero() {
            return self.leave(&room, &peer, conn);
        }
        if !self.shard(&room).disconnect(&room, &peer, conn) {
            return;
        }
        let rooms = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(rooms.config.resume_grace).await;
            let left = rooms.shard(&room).expire(&room, &peer, conn);
            if !left.deliveries.is_empty() || left.room_removed {
                debug!(%room, peer = peer.as_str(), "resume grace over; seat freed");
            }
            rooms.finish_leave(left);
        });
    }

    fn finish_leave(&self, left: Left<PeerHandle>) {
        self.deliver(&left.deliveries);
        if left.seat_freed {
            self.metrics.peers_joined.dec();
        }
        if left.room_removed {
            self.metrics.rooms_open.dec();
        }
    }

    fn deliver(&self, deliveries: &[Delivery<PeerHandle>]) {
        for delivery in deliveries {
            self.send(&delivery.to, &delivery.message);
        }
    }

    fn send(&self, to: &PeerHandle, message: &ServerMessage) -> bool {
        self.send_json(to, message.to_json())
    }

    /// Written into an idle recipient's socket from this task, else queued to it.
    fn send_json(&self, to: &PeerHandle, json: String) -> bool {
        to.send_text_now(json, &self.metrics)
    }

    /// (rooms, seats) across all shards.
    pub fn counts(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(rooms, seats), shard| {
            let (r, s) = shard.lock().unwrap_or_else(|e| e.into_inner()).counts();
            (rooms + r, seats + s)
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    Refused(ErrorCode),
    /// The OS random source failed: no unguessable id can be made.
    Randomness,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::outbox::{self, Receiver};
    use crate::ws::Outbound;

    fn rooms() -> Rooms {
        Rooms::new(RoomsConfig::default(), &Metrics::default())
    }

    fn handle() -> (PeerHandle, Receiver) {
        let (tx, rx) = outbox::channel(8);
        (PeerHandle::new(tx), rx)
    }

    fn room(id: &str) -> RoomId {
        RoomId::try_from(id).expect("a valid room id")
    }

    #[test]
    fn rooms_spread_over_shards_and_the_gauges_follow_joins_and_leaves() {
        let rooms = rooms();
        let mut seated = Vec::new();
        for n in 0..100 {
            let (h, rx) = handle();
            let conn = rooms.next_conn_id();
            let joined = rooms.join(&room(&format!("r{}", n / 2)), conn, h, None).expect("a seat");
            seated.push((format!("r{}", n / 2), joined.peer, conn, rx));
        }
        assert_eq!(rooms.counts(), (50, 100));
        let used = rooms.shards.iter().filter(|s| s.lock().map(|s| s.counts().0 > 0).unwrap_or(false)).count();
        assert!(used > 1, "50 rooms on {used} shard(s)");
        assert_eq!((rooms.metrics().rooms_open.get(), rooms.metrics().peers_joined.get()), (50, 100));
        for (id, peer, conn, _rx) in &seated {
            rooms.leave(&room(id), peer, *conn);
        }
        assert_eq!(rooms.counts(), (0, 0));
        assert_eq!((rooms.metrics().rooms_open.get(), rooms.metrics().peers_joined.get()), (0, 0));
    }

    #[test]
    fn a_resume_closes_the_connection_it_replaces_with_4001() {
        let rooms = rooms();
        let (old, mut old_rx) = handle();
        let joined = rooms.join(&room("x"), rooms.next_conn_id(), old, None).expect("a seat");
        let (new, _new_rx) = handle();
        let resumed = rooms.join(&room("x"), rooms.next_conn_id(), new, Some(&joined.token)).expect("resumed");
        assert!(resumed.resumed);
        assert_eq!(resumed.peer, joined.peer);
        assert_eq!(old_rx.try_recv(), Some(Outbound::Close(CLOSE_REPLACED, "replaced by a newer connection")));
        assert_eq!(CLOSE_REPLACED.0, 4001);
        assert_eq!((rooms.metrics().resumes.get(), rooms.metrics().peers_joined.get()), (1, 1));
    }
}
