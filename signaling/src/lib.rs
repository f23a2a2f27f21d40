//! Connect's signaling server: a hand-written RFC 6455 WebSocket server on tokio, with plain HTTP
//! (health, metrics, static files) on the same port.
//!
//! Layout:
//! - [`config`]: every limit, its default and why; the command line;
//! - [`server`]: accept loop, connection cap, graceful shutdown;
//! - [`http`]: request heads, routing, responses, static files — the connection before it upgrades;
//! - [`ws`]: RFC 6455 and nothing else, mostly sans-IO;
//! - [`session`]: one signaling connection: messages to room requests, rate limit;
//! - [`engine`]: the room engine interface and its two implementations: in memory (one process)
//!   and through Redis (many processes sharing rooms);
//! - [`rooms`]: the in-memory engine's sharded registry of rooms and delivery to connections;
//! - [`room`]: room state and rules, pure and synchronous;
//! - [`ice`]: STUN/TURN servers and TURN REST credentials for `joined`;
//! - [`rate`]: the per-connection token bucket;
//! - [`metrics`]: counters for `GET /metrics`;
//! - [`read_buffer`]: the per-thread buffer every socket read goes into;
//! - [`echo`]: the echo service the Autobahn conformance run talks to.

pub mod config;
pub mod echo;
pub mod engine;
pub mod http;
pub mod ice;
pub mod metrics;
pub mod rate;
pub mod read_buffer;
pub mod room;
pub mod rooms;
pub mod server;
pub mod session;
pub mod ws;

pub use config::{Args, RedisConfig, RoomsConfig, ServerConfig, WsConfig};
pub use server::{run, Service};
