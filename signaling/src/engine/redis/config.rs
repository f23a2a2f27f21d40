//! The Redis engine's settings, their defaults and why.

use std::time::Duration;

/// See [`RedisConfig::node_ttl`].
pub const DEFAULT_NODE_TTL: Duration = Duration::from_secs(10);
/// See [`RedisConfig::queue_bytes`].
pub const DEFAULT_QUEUE_BYTES: usize = 64 << 20;
/// See [`RedisConfig::queue_share_bytes`].
pub const DEFAULT_QUEUE_SHARE_BYTES: usize = 1 << 20;
/// See [`RedisConfig::queue_floor_bytes`].
pub const DEFAULT_QUEUE_FLOOR_BYTES: usize = 64 << 10;
/// See [`RedisConfig::batch`].
pub const DEFAULT_BATCH: usize = 256;
/// See [`RedisConfig::response_timeout`].
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Redis engine (`--redis-url`): rooms shared by every server that uses the same Redis.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`; may hold a password, so it is never logged.
    pub url: String,
    /// A node that stops refreshing its liveness key for this long is dead: the other nodes mark
    /// its peers away (resumable on any node) and free their seats after the resume grace. 10 s:
    /// three missed heartbeats (one every third of it), so a busy node is not declared dead.
    pub node_ttl: Duration,
    /// Bytes of requests of all sessions waiting for the node's Redis worker (each counted as its
    /// payload plus 256 for its bookkeeping); beyond it requests of connections holding more than
    /// [`queue_floor_bytes`](Self::queue_floor_bytes) are refused with `unavailable`.
    /// 64 MiB holds some 150,000 candidates arriving at the same instant — the call set-up bursts
    /// of a thousand calls at once — while Redis answers a batch per round trip.
    pub queue_bytes: usize,
    /// Bytes of that queue one connection's requests may hold; beyond it its requests are refused
    /// with `rate_limited` (it sends faster than the node serves it). 1 MiB is a call's whole
    /// set-up many times over (two SDPs and their candidates are a few tens of KiB), and it takes
    /// 64 connections at their share to spend the node's budget.
    pub queue_share_bytes: usize,
    /// Bytes every connection may hold in the queue even when the node's budget is spent, so a
    /// burst from some connections never starves the others' joins and signals: 64 KiB is a whole
    /// call set-up, or one signal of the largest size. The node's queue holds at most its budget
    /// plus this much (or one request) per connection.
    pub queue_floor_bytes: usize,
    /// Requests sent to Redis in one pipelined round trip: large enough that a node's relays cost
    /// one round trip per batch, small enough that one batch stays well under a millisecond.
    pub batch: usize,
    /// Longest wait for a Redis answer before the connection is considered lost.
    pub response_timeout: Duration,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            node_ttl: DEFAULT_NODE_TTL,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            queue_share_bytes: DEFAULT_QUEUE_SHARE_BYTES,
            queue_floor_bytes: DEFAULT_QUEUE_FLOOR_BYTES,
            batch: DEFAULT_BATCH,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"<redacted>")
            .field("node_ttl", &self.node_ttl)
            .field("queue_bytes", &self.queue_bytes)
            .field("queue_share_bytes", &self.queue_share_bytes)
            .field("queue_floor_bytes", &self.queue_floor_bytes)
            .field("batch", &self.batch)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}
