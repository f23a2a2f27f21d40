//! The heartbeat: this node's liveness, its seats checked and written back, dead nodes' seats
//! swept (see [`Script::Tick`]); and the local timers that end resume grace periods.

use redis::Value;
use shared::RoomId;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::link::Link;
use super::{millis, random_id, room_key, Plan, Worker};
use crate::engine::peer::ConnId;
use crate::engine::peer::CLOSE_SEAT_LOST;
use crate::engine::redis::request::{Op, Request};
use crate::engine::redis::scripts::{self, Script};

/// Rooms per heartbeat script call, so one call never blocks Redis for long.
const TICK_ROOMS: usize = 200;

impl Worker {
    pub(super) fn start_tick(&mut self) {
        self.next_tick = Instant::now() + self.tick_interval();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let rooms: Vec<(&RoomId, &Vec<ConnId>)> = self.seats.iter().collect();
        let chunks: Vec<&[(&RoomId, &Vec<ConnId>)]> =
            if rooms.is_empty() { vec![&[]] } else { rooms.chunks(TICK_ROOMS).collect() };
        let mut sent = Vec::with_capacity(chunks.len());
        let (left_prefix, left_suffix) = &self.peer_left;
        for chunk in chunks {
            let cmd = pipe.cmd("EVALSHA");
            cmd.arg(self.sha(Script::Tick))
                .arg(2 + chunk.len())
                .arg(format!("{}{}", scripts::NODE_PREFIX, self.node))
                .arg(scripts::EPOCH_KEY);
            for (room, _) in chunk {
                cmd.arg(room_key(room));
            }
            cmd.arg(&*self.node)
                .arg(millis(self.redis.node_ttl))
                .arg(self.room_ttl_ms())
                .arg(self.rooms.capacity)
                .arg(millis(self.rooms.resume_grace))
                .arg(&self.epoch)
                .arg(random_id())
                .arg(left_prefix)
                .arg(left_suffix);
            let mut conns = Vec::new();
            for (_, holders) in chunk {
                cmd.arg(holders.len());
                for &conn in holders.iter() {
                    let seat = self.conns.get(&conn).and_then(|c| c.seat.as_ref());
                    let (peer, value) = seat.map_or_else(Default::default, |s| (s.peer.as_str(), self.member(conn, s)));
                    cmd.arg(peer).arg(value);
                    conns.push(conn);
                }
            }
            sent.push(conns);
        }
        self.launch(pipe, Plan::Tick(sent));
    }

    pub(super) fn land_tick(&mut self, sent: Vec<Vec<ConnId>>, values: Vec<Value>) {
        let mut evicted = 0;
        for (conns, value) in sent.into_iter().zip(values) {
            let reply = match scripts::tick_reply(&value) {
                Ok(reply) => reply,
                Err(e) => return self.link_lost(&format!("heartbeat failed: {e}")),
            };
            if !self.epoch.is_empty() && self.epoch != reply.epoch {
                warn!("Redis lost its data (restarted?); this node writes its seats back");
            }
            self.epoch = reply.epoch;
            evicted += reply.evicted;
            for (conn, status) in conns.into_iter().zip(reply.statuses) {
                match status {
                    0 => {}
                    1 => debug!(conn, "seat written back to Redis"),
                    _ => self.seat_lost(conn),
                }
            }
        }
        self.metrics.redis.evictions.inc_by(evicted);
        if let Link::Up(connected) = &mut self.link {
            if !connected.registered {
                connected.registered = true;
                info!(node = &*self.node, "registered in Redis; taking joins");
            }
            self.healthy.send_replace(true);
            self.metrics.redis.up.set(1);
        }
    }

    /// Redis no longer has a seat this node held as it holds it.
    pub(super) fn seat_lost(&mut self, conn: ConnId) {
        let Some(seat) = self.detach(conn) else { return };
        match self.conns.get(&conn).and_then(|c| c.handle.as_ref()) {
            // A live connection lost its seat (freed while this node was cut off): it must join again.
            Some(handle) => {
                warn!(room = %seat.room, peer = seat.peer.as_str(), "seat lost in Redis; closing its connection");
                self.metrics.redis.seats_lost.inc();
                handle.close(CLOSE_SEAT_LOST, "seat lost; join again");
            }
            // An ended connection's away seat, taken back on another node (or freed there): done.
            None => {
                debug!(room = %seat.room, peer = seat.peer.as_str(), "away seat resumed or freed elsewhere");
                self.conns.remove(&conn);
            }
        }
    }

    pub(super) fn expire_due(&mut self) {
        let now = Instant::now();
        while let Some(&(at, conn)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            self.pending.push_back(Request { conn, open: None, op: Op::Expire, ticket: None });
        }
    }
}
