//! Limits both ends must agree on, in one place so the server's checks and the client's
//! expectations cannot drift apart.

/// Longest room id, in characters (all of which are ASCII, so also in bytes).
///
/// Room ids travel in URLs that people share, so they stay short; 64 is room for a UUID
/// (36) or a few readable words, and bounds what the server stores per room.
pub const ROOM_ID_MAX_LEN: usize = 64;

/// Longest peer id, in characters (ASCII). The server's ids are 64+ random bits written
/// as hex or base64url (16 or 11 characters for 64 bits), so 64 leaves room for longer
/// ids without letting a `to` field carry arbitrary text into lookups and logs.
pub const PEER_ID_MAX_LEN: usize = 64;

/// How many peers a room holds unless the server is configured otherwise. Connect is a
/// 1:1 call, so two; the server sends its actual value in `joined.capacity`.
pub const DEFAULT_ROOM_CAPACITY: u32 = 2;

/// Default limit on one WebSocket text message, in bytes: what the server answers with
/// `message_too_large` above, and what a client should check before sending.
///
/// The largest messages are SDP offers and answers. A browser's audio+video offer with
/// every codec it supports is commonly 5–12 KB; several transceivers or simulcast push
/// it towards 20–30 KB, and JSON escaping of each `\r\n` adds about 5 %. 64 KiB is about
/// twice the largest realistic signal while keeping per-message memory small; an ICE
/// candidate (a few hundred bytes) is far below it.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;
