//! RFC 6455, server side, and nothing else: this module knows nothing about rooms or JSON.
//!
//! Layout, from bytes up:
//! - [`frame`]: header wire format, opcodes, masking;
//! - [`codec`]: the streaming frame decoder and the outgoing frame buffer;
//! - [`utf8`]: incremental UTF-8 validation for text split across frames;
//! - [`close_code`]: close status codes;
//! - [`close`]: close frame bodies;
//! - [`protocol`]: frames to messages — fragmentation, control frames, limits;
//! - [`config`]: the limits of one session;
//! - [`handshake`]: the HTTP upgrade;
//! - [`connection`]: the async driver over a `TcpStream`;
//! - [`metrics`]: the families this layer counts (sessions, messages, bytes, closes);
//! - [`budget`]: a process-wide allowance of bytes (inbound assembly, outbound queues);
//! - [`outbox`]: the bounded queue through which other tasks reach a connection, or its socket
//!   directly while it is idle;
//! - [`error`]: protocol violations and their close codes.
//!
//! Everything but `connection` (and `outbox`'s one non-blocking write for a sender) is sans-IO:
//! bytes in, decisions out.

pub mod budget;
mod close;
mod close_code;
pub mod codec;
pub mod config;
mod connection;
mod error;
pub mod frame;
pub mod handshake;
mod metrics;
pub(crate) mod outbox;
pub mod protocol;
pub mod utf8;

pub use close_code::CloseCode;
pub use codec::Writer;
pub use config::WsConfig;
pub use connection::{Ended, Handler, Message, WebSocket};
pub use error::ProtocolError;
pub use metrics::WsMetrics;
pub use outbox::Outbound;
