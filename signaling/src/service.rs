//! What runs on an accepted WebSocket: the seam between the HTTP front, which upgrades
//! connections, and the application on top (the rooms, or the conformance echo).

use std::future::Future;

use crate::ws::WebSocket;

/// What runs on an accepted WebSocket: the rooms in the server, an echo in the conformance example.
pub trait Service: Send + Sync + 'static {
    /// Runs one session on `ws`. Borrowed, so the connection's task stores the `WebSocket` once.
    fn session(&self, ws: &mut WebSocket) -> impl Future<Output = ()> + Send;

    /// Whether `GET /healthz` answers 200: false while the service cannot take new sessions'
    /// requests (the Redis engine without Redis).
    fn healthy(&self) -> bool {
        true
    }
}
