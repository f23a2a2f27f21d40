//! The WebSocket layer's own settings: the limits of one session, their defaults and why.
//!
//! The defaults are constants so that the command line's defaults are these very values.

use std::time::Duration;

/// See [`WsConfig::max_message_size`].
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 20;
/// See [`WsConfig::max_outbound_bytes`].
pub const DEFAULT_MAX_OUTBOUND_BYTES: usize = 256 * 1024;
/// See [`WsConfig::ping_interval`].
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(15);
/// See [`WsConfig::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(40);
/// See [`WsConfig::inbound_total_bytes`].
pub const DEFAULT_INBOUND_TOTAL_BYTES: usize = 64 << 20;
/// See [`WsConfig::send_timeout`].
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// See [`WsConfig::close_timeout`].
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Limits of one WebSocket session.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Largest data message accepted, after reassembly (→ close 1009). Signaling messages are a few
    /// KiB (an SDP offer is the biggest), so 1 MiB is generous and still bounds a hostile peer.
    pub max_message_size: usize,
    /// Bytes all connections' unfinished incoming messages may hold together, beyond the 4 KiB
    /// each keeps anyway (`protocol::RETAIN_CAPACITY`); a message that would need more fails its
    /// connection with 1013 (try again later). 64 MiB: a thousand maximal signaling messages
    /// assembled at the same moment, where a well-behaved client's message is a few KiB and
    /// mostly arrives whole; without it, 10,000 connections × 68 KiB could take 680 MiB.
    pub inbound_total_bytes: usize,
    /// Bytes in a peer's write buffer before we stop reading from it and stop taking its outbound
    /// messages: the write buffer stays under this plus one message. (What others send it is
    /// bounded in bytes by its outbox, see `outbox::bounded`.)
    pub max_outbound_bytes: usize,
    /// Quiet time after which the server pings, so NATs and proxies keep the path open and a dead
    /// peer is noticed. 15 s: well under the 60 s idle cut of common proxies (nginx's default).
    pub ping_interval: Duration,
    /// Nothing received (not even a pong) for this long → the connection is dead and reaped.
    /// 40 s: two missed pings plus slack for a slow network.
    pub idle_timeout: Duration,
    /// Output pending without progress for this long → the peer stopped reading; disconnect.
    pub send_timeout: Duration,
    /// How long the close handshake may take before the socket is dropped anyway.
    pub close_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            inbound_total_bytes: DEFAULT_INBOUND_TOTAL_BYTES,
            max_outbound_bytes: DEFAULT_MAX_OUTBOUND_BYTES,
            ping_interval: DEFAULT_PING_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
        }
    }
}
