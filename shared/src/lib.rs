//! Connect's signaling wire protocol: the one definition of every message the server and
//! the browser client exchange, compiled into both so they cannot disagree.
//!
//! Each WebSocket text message is one JSON object tagged by `type` (snake_case).
//! `docs/PROTOCOL.md` describes the protocol for people; the golden-JSON tests beside
//! each type pin it for programs.
//!
//! The crate builds for native targets and `wasm32-unknown-unknown`, so it uses only
//! serde and serde_json: no I/O, no runtime, no OS APIs.
//!
//! # Layout
//! - [`client`]: [`ClientMessage`] (`join`, `signal`, `leave`, `ice_config`) and
//!   [`ClientMessage::parse`], which tells an invalid room from a bad message.
//! - [`server`]: [`ServerMessage`] (`joined`, `peer_joined`, `peer_resumed`, `peer_left`,
//!   `signal`, `error`, `ice_config`) and [`IceServer`]; `server_read`: how a client reads them ([`JsonView`]).
//! - [`signal`]: [`Signal`], the WebRTC payload the server relays untouched.
//! - [`failure`]: [`FailureReason`], why a call found no media path (`connect_failed`).
//! - [`ids`]: [`RoomId`] (validated), [`PeerId`], [`ResumeToken`].
//! - [`error`]: [`ErrorCode`] for the wire, [`ParseError`] for parsing.
//! - [`limits`]: sizes both ends agree on.
//! - [`close`]: the application's WebSocket close codes (4001, 4002).
//!
//! # Example
//! How the server reads a client message and answers a bad one:
//! ```
//! use shared::{ClientMessage, ErrorCode, ParseError, ServerMessage};
//!
//! let reply = match ClientMessage::parse(r#"{"type":"join","room":"no spaces"}"#) {
//!     Ok(_message) => unreachable!("the room id is invalid"),
//!     Err(error) => ServerMessage::from(error),
//! };
//! assert!(matches!(reply, ServerMessage::Error { code: ErrorCode::InvalidRoom, .. }));
//!
//! let error = ClientMessage::parse(r#"{"type":"dance"}"#).unwrap_err();
//! assert!(matches!(error, ParseError::BadMessage(_)));
//! ```
//!
//! # Compatibility
//! Unknown fields are ignored when parsing, so either end may be newer and add fields;
//! unknown `type`s, `kind`s and missing fields are errors. Names and shapes never
//! change: the protocol only grows.

pub mod client;
pub mod close;
pub mod error;
pub mod failure;
pub mod ids;
pub mod limits;
pub mod server;
mod server_read;
pub mod signal;

#[cfg(test)]
mod testing;

pub use client::ClientMessage;
pub use error::{ErrorCode, ParseError};
pub use failure::FailureReason;
pub use ids::{InvalidRoomId, PeerId, ResumeToken, RoomId};
pub use limits::{DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_ROOM_CAPACITY, PEER_ID_MAX_LEN, ROOM_ID_MAX_LEN};
pub use server::{IceServer, ServerMessage};
pub use server_read::JsonView;
pub use signal::Signal;

/// Serializes one of this crate's messages.
///
/// serde_json fails only when a `Serialize` impl reports an error, a map has non-string
/// keys, or the writer fails. Every type here is derived from strings, integers,
/// options, vectors and enums (no maps, no custom `Serialize`), and `to_string` writes
/// into a `Vec`, which cannot fail; the golden tests serialize every variant. So the
/// panic cannot fire, and a `Result` here would only push an impossible branch onto
/// every caller. The error is not formatted into the panic: that would link serde_json's
/// error formatting into the web client for a branch that never runs (~1 KB gzipped).
fn to_json<T: serde::Serialize>(message: &T) -> String {
    match serde_json::to_string(message) {
        Ok(json) => json,
        Err(_) => panic!("protocol messages always serialize"),
    }
}
