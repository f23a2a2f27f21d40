//! Plain HTTP on the WebSocket port: serving a connection until it upgrades, routing, and the
//! static file server. The message format itself is [`http1`](crate::http1).

pub mod config;
pub(crate) mod conn;
pub mod encoding;
pub(crate) mod metrics;
pub mod metrics_access;
mod mime;
mod router;
pub mod static_files;
mod validators;
