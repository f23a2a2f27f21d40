//! The room engines' settings: the rules of rooms and of the signaling protocol, their defaults
//! and why. Both engines read the same [`RoomsConfig`].

use std::sync::Arc;
use std::time::Duration;

use crate::ice::{IceConfig, DEFAULT_TURN_TTL};
use crate::rate::RateConfig;

/// See [`RoomsConfig::resume_grace`].
pub const DEFAULT_RESUME_GRACE: Duration = Duration::from_secs(15);
/// See [`RoomsConfig::outbound_queue`].
pub const DEFAULT_OUTBOUND_QUEUE: usize = 256;
/// See [`RoomsConfig::outbound_bytes`].
pub const DEFAULT_OUTBOUND_BYTES: usize = 256 * 1024;
/// See [`RoomsConfig::outbound_total_bytes`].
pub const DEFAULT_OUTBOUND_TOTAL_BYTES: usize = 64 * 1024 * 1024;

/// Rules of the rooms and the signaling protocol.
#[derive(Debug, Clone)]
pub struct RoomsConfig {
    /// Peers per room: a 1:1 call is two.
    pub capacity: usize,
    /// How long a dropped connection keeps its seat for a resume. 15 s covers a reload or a
    /// Wi-Fi hand-over; longer would keep a ghost in the room after someone really left.
    pub resume_grace: Duration,
    /// Largest signaling message answered with `message_too_large` instead of being processed.
    /// Below the WebSocket limit, so an oversized signal gets an error and the connection lives.
    pub max_signal_size: usize,
    pub rate: RateConfig,
    /// Messages queued for one connection by others (signals, presence). A call needs a few dozen
    /// at once (an answer and its candidates); a queue that fills means the reader is stuck.
    pub outbound_queue: usize,
    /// Bytes of those messages one connection may hold, queued or in its write buffer. A call's
    /// whole setup (two SDPs and their candidates) is a few tens of KiB; 256 KiB is four of the
    /// largest signals, and bounds what a reader that reads nothing costs.
    pub outbound_bytes: usize,
    /// Bytes all connections' queues may hold together: the process-wide bound for many slow
    /// readers at once (64 MiB: 256 connections each at its allowance).
    pub outbound_total_bytes: usize,
    /// Shared by every session (each answers `ice_config` from it), not copied into each.
    pub ice: Arc<IceConfig>,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        RoomsConfig {
            capacity: shared::DEFAULT_ROOM_CAPACITY as usize,
            resume_grace: DEFAULT_RESUME_GRACE,
            max_signal_size: shared::DEFAULT_MAX_MESSAGE_BYTES,
            rate: RateConfig::default(),
            outbound_queue: DEFAULT_OUTBOUND_QUEUE,
            outbound_bytes: DEFAULT_OUTBOUND_BYTES,
            outbound_total_bytes: DEFAULT_OUTBOUND_TOTAL_BYTES,
            ice: Arc::new(IceConfig { turn_ttl: DEFAULT_TURN_TTL, ..IceConfig::default() }),
        }
    }
}
