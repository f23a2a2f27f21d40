//! The Redis engine's settings, their defaults and why.

use std::time::Duration;

/// See [`RedisConfig::node_ttl`].
pub const DEFAULT_NODE_TTL: Duration = Duration::from_secs(10);
/// See [`RedisConfig::queue_bytes`].
pub const DEFAULT_QUEUE_BYTES: usize = 64 << 20;
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
    /// payload plus 256 for its bookkeeping); beyond it requests are refused with `unavailable`.
    /// 64 MiB holds some 150,000 candidates arriving at the same instant — the call set-up bursts
    /// of a thousand calls at once — while Redis answers a batch per round trip; it is what four
    /// connections' outbound queues may hold at worst.
    pub queue_bytes: usize,
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
            .field("batch", &self.batch)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}
