//! What the Redis engine counts beyond the rooms: its link to Redis, the round trips, and the
//! signals that crossed nodes or could not. Registered only when the Redis engine runs.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::engine::metrics::RoomMetrics;

/// Upper bounds of the round-trip histogram, in seconds: loopback is ~0.1 ms, a LAN ~0.5 ms.
const ROUND_TRIP_BUCKETS: [f64; 12] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Why a signal was not delivered through Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishFailure {
    /// Redis failed or was unreachable.
    RedisError,
    /// The recipient's node no longer listened (it died): answered `unknown_peer`.
    NodeGone,
    /// A signal sent straight to where the recipient sat found it gone (left, away, replaced):
    /// bounced by the recipient's node, answered `unknown_peer`.
    NoSeat,
}

impl PublishFailure {
    fn label(self) -> &'static str {
        match self {
            PublishFailure::RedisError => "redis_error",
            PublishFailure::NodeGone => "node_gone",
            PublishFailure::NoSeat => "no_seat",
        }
    }
}

#[derive(Debug)]
pub struct RedisMetrics {
    /// 1 while connected (commands and subscription) and registered; 0 otherwise.
    pub up: Gauge,
    pub connects: Counter,
    /// Round trips of command batches and heartbeats.
    round_trip: Histogram,
    publish_failures: Family<ReasonLabel, Counter>,
    pub cross_node_relays: Counter,
    /// Seats of dead nodes marked away, and away seats freed when their grace ran out, by this node.
    pub evictions: Counter,
    /// Seats this node held that were gone from Redis when it checked (their connections are closed).
    pub seats_lost: Counter,
}

impl Default for RedisMetrics {
    fn default() -> Self {
        let publish_failures = Family::default();
        // Both reasons are shown from the start, at 0.
        for failure in [PublishFailure::RedisError, PublishFailure::NodeGone, PublishFailure::NoSeat] {
            let _ = publish_failures.get_or_create(&ReasonLabel { reason: failure.label() });
        }
        RedisMetrics {
            up: Gauge::default(),
            connects: Counter::default(),
            round_trip: Histogram::new(ROUND_TRIP_BUCKETS),
            publish_failures,
            cross_node_relays: Counter::default(),
            evictions: Counter::default(),
            seats_lost: Counter::default(),
        }
    }
}

impl RedisMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "signaling_redis_up",
            "1 while Redis is reachable and this node is registered",
            self.up.clone(),
        );
        registry.register(
            "signaling_redis_connects",
            "Connections (and reconnections) to Redis",
            self.connects.clone(),
        );
        registry.register(
            "signaling_redis_round_trip_seconds",
            "Round trips of Redis command batches",
            self.round_trip.clone(),
        );
        registry.register(
            "signaling_redis_publish_failures",
            "Signals not delivered through Redis, by reason",
            self.publish_failures.clone(),
        );
        registry.register(
            "signaling_redis_cross_node_relays",
            "Signals relayed to a peer on another node",
            self.cross_node_relays.clone(),
        );
        registry.register(
            "signaling_redis_evictions",
            "Seats of dead nodes marked away, and expired away seats freed, by this node",
            self.evictions.clone(),
        );
        registry.register(
            "signaling_redis_seats_lost",
            "Seats this node held that Redis no longer had; their connections were closed",
            self.seats_lost.clone(),
        );
    }

    pub fn round_trip(&self, took: Duration) {
        self.round_trip.observe(took.as_secs_f64());
    }

    pub fn publish_failed(&self, failure: PublishFailure) {
        self.publish_failures.get_or_create(&ReasonLabel { reason: failure.label() }).inc();
    }
}

/// Everything the Redis engine counts: the rooms' families and its own.
#[derive(Debug, Default)]
pub struct EngineMetrics {
    pub rooms: RoomMetrics,
    pub redis: RedisMetrics,
}

impl EngineMetrics {
    pub fn registered(registry: &crate::metrics::Metrics) -> Arc<Self> {
        let metrics = Arc::new(EngineMetrics::default());
        registry.register(|r| {
            metrics.rooms.register(r);
            metrics.redis.register(r);
        });
        metrics
    }
}
