//! The room engines' settings: the rules of rooms and of the signaling protocol, their defaults
//! and why. Both engines read the same [`RoomsConfig`].

use std::time::Duration;

use crate::ice::{IceConfig, DEFAULT_TURN_TTL};
use crate::rate::RateConfig;

/// See [`RoomsConfig::resume_grace`].
pub const DEFAULT_RESUME_GRACE: Duration = Duration::from_secs(15);
/// See [`RoomsConfig::outbound_queue`].
pub const DEFAULT_OUTBOUND_QUEUE: usize = 256;

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
    pub ice: IceConfig,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        RoomsConfig {
            capacity: shared::DEFAULT_ROOM_CAPACITY as usize,
            resume_grace: DEFAULT_RESUME_GRACE,
            max_signal_size: shared::DEFAULT_MAX_MESSAGE_BYTES,
            rate: RateConfig::default(),
            outbound_queue: DEFAULT_OUTBOUND_QUEUE,
            ice: IceConfig { turn_ttl: DEFAULT_TURN_TTL, ..IceConfig::default() },
        }
    }
}
