//! What runs on an accepted WebSocket: the seam between the HTTP front, which upgrades
//! connections, and the application on top (the rooms, or the conformance echo).

use std::future::Future;

use crate::address::Slot;
use crate::ws::WebSocket;

/// What runs on an accepted WebSocket: the rooms in the server, an echo in the conformance example.
pub trait Service: Send + Sync + 'static {
    /// Runs one session on `ws`. Borrowed, so the connection's task stores the `WebSocket` once.
    fn session(&self, ws: &mut WebSocket) -> impl Future<Output = ()> + Send;

    /// Runs one session for the client `slot` counts (its address, its per-address limits); the
    /// slot is given back when the session ends. Services without per-client rules run
    /// [`Service::session`].
    fn session_from(&self, ws: &mut WebSocket, slot: Slot) -> impl Future<Output = ()> + Send {
        async move {
            self.session(ws).await;
            drop(slot);
        }
    }

    /// The largest message this service can use, if it is smaller than the WebSocket layer's
    /// limit: each connection then refuses larger ones (1009) from their first frame header
    /// instead of holding up to the layer's limit of an unfinished message it would refuse anyway.
    fn max_message_size(&self) -> Option<usize> {
        None
    }

    /// Whether `GET /healthz` answers 200: false while the service cannot take new sessions'
    /// requests (the Redis engine without Redis).
    fn healthy(&self) -> bool {
        true
    }
}
