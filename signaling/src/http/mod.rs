//! Plain HTTP on the WebSocket port: request heads, responses, and the static file server.

pub mod conn;
pub mod mime;
pub mod request;
pub mod response;
pub mod router;
pub mod static_files;
