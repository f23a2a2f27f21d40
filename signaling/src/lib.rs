//! Connect's signaling server: a hand-written RFC 6455 WebSocket server on tokio, with plain HTTP
//! (health, metrics, static files) on the same port.
//!
//! Layout:
//! - [`config`]: every limit, its default and why; the command line;
//! - [`server`]: accept loop, connection cap, graceful shutdown;
//! - [`http`]: request heads, routing, responses, static files — the connection before it upgrades;
//! - [`ws`]: RFC 6455 and nothing else, mostly sans-IO;
//! - [`metrics`]: counters for `GET /metrics`;
//! - [`echo`]: the echo service the Autobahn conformance run talks to.

pub mod config;
pub mod echo;
pub mod http;
pub mod metrics;
pub mod server;
pub mod ws;

pub use config::{Args, ServerConfig, WsConfig};
pub use server::{run, Service};
