//! Connect's signaling server: a hand-written RFC 6455 WebSocket server on tokio, with plain HTTP
//! (health, metrics, static files) on the same port.
//!
//! Layout (the layer picture and one message's path are in `docs/ARCHITECTURE.md`):
//! - [`address`]: per-address limits (connections, joins, seats) and the client's address behind
//!   trusted proxies;
//! - [`config`]: the command line, assembled into each layer's settings;
//! - [`server`]: accept loop, connection cap, graceful shutdown;
//! - [`service`]: what runs on an accepted WebSocket (the rooms, or the echo);
//! - [`http`]: routing, health, metrics, static files — the connection before it upgrades;
//! - [`http1`]: HTTP/1.1 request heads and responses, sans-IO (the front's and the handshake's);
//! - [`ws`]: RFC 6455 and nothing else, mostly sans-IO;
//! - [`relay`]: client messages as the server reads them; a signal forwarded as its sender wrote it;
//! - [`session`]: one signaling connection: messages to room requests, rate limit;
//! - [`engine`]: the room engine interface and its two implementations: in memory (one process:
//!   pure room state and a sharded registry) and through Redis (many processes sharing rooms);
//! - [`node`]: the engine the settings ask for, started and served: what `main` runs;
//! - [`fd_limit`]: the open-files limit raised at start, and the connection cap kept under it;
//! - [`health`]: the `--health-check` probe;
//! - [`ice`]: STUN/TURN servers and TURN REST credentials for `joined`;
//! - [`rate`]: the per-connection token bucket;
//! - [`metrics`]: the one registry every layer registers its families in, encoded for `GET /metrics`;
//! - [`listed`]: a metric family listed before its first sample;
//! - [`read_buffer`]: the per-thread buffer every socket read goes into;
//! - [`echo`]: the echo service the Autobahn conformance run talks to.

pub mod address;
pub mod config;
pub mod echo;
pub mod engine;
pub mod fd_limit;
pub mod health;
pub mod http;
pub mod http1;
pub mod ice;
mod listed;
#[cfg(test)]
mod log_capture;
pub mod metrics;
pub mod node;
pub mod rate;
mod read_buffer;
mod relay;
pub mod server;
pub mod service;
mod session;
pub mod ws;

pub use config::Args;
pub use engine::config::RoomsConfig;
pub use engine::redis::config::RedisConfig;
pub use http::config::HttpConfig;
pub use server::{run, ServerConfig};
pub use service::Service;
pub use ws::WsConfig;
