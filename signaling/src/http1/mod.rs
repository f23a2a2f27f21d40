//! HTTP/1.1 messages, sans-IO: request heads parsed from bytes, responses serialized to bytes.
//!
//! Below both the HTTP front ([`http`](crate::http)) and the WebSocket opening handshake
//! ([`ws::handshake`](crate::ws::handshake)), which is an HTTP exchange: neither owns the format.

pub mod request;
pub mod response;
