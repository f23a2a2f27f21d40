//! The application's WebSocket close codes (RFC 6455 §7.4.2: 4000–4999 are for applications):
//! the server sends them, the client acts on them, so both read them from here.

/// A newer connection took this connection's seat with its resume token (a reload, or a
/// reconnect before the old connection was noticed dead): do not reconnect, the seat lives on.
pub const REPLACED: u16 = 4001;

/// The server no longer holds this connection's seat (freed by other nodes while this one was
/// cut off from the room store, or lost with the store's data): reconnect and join again.
pub const SEAT_LOST: u16 = 4002;
