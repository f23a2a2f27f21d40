//! The error codes a server puts in `{"type":"error"}` and the typed failure of parsing a
//! client message, kept together because each parse failure maps to exactly one code.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::InvalidRoomId;

/// Why the server answered with `{"type":"error"}`; serialized in snake_case.
///
/// None of these close the connection on the first offence: the client can correct
/// itself and carry on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// `join` to a room that already holds its capacity of peers.
    RoomFull,
    /// `join` with a room id that breaks the [`RoomId`](crate::RoomId) rules.
    InvalidRoom,
    /// Malformed JSON, an unknown `type` or `kind`, or a missing or mistyped field.
    BadMessage,
    /// `signal` or `leave` before a successful `join`.
    NotInRoom,
    /// `signal` whose `to` is not a peer in the sender's room.
    UnknownPeer,
    /// `join` while already in a room.
    AlreadyJoined,
    /// Too many messages in too short a time; the message was dropped.
    RateLimited,
    /// A message over the server's size limit; it was dropped unread.
    MessageTooLarge,
    /// The server cannot serve the request now (a multi-node server lost its shared store, or
    /// is overloaded); nothing changed, and the same request may succeed after a pause.
    Unavailable,
    /// A code this build does not know, from a newer server. Never sent; it exists so
    /// an older client still reads the rest of the error instead of failing to parse it.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code a server sends (all but [`ErrorCode::Unknown`]).
    pub const ALL: [ErrorCode; 9] = [
        Self::RoomFull,
        Self::InvalidRoom,
        Self::BadMessage,
        Self::NotInRoom,
        Self::UnknownPeer,
        Self::AlreadyJoined,
        Self::RateLimited,
        Self::MessageTooLarge,
        Self::Unavailable,
    ];

    /// The code of a wire name; a name this build does not know is [`ErrorCode::Unknown`], as
    /// with the derive.
    pub fn from_wire(name: &str) -> Self {
        Self::ALL.into_iter().find(|code| code.as_str() == name).unwrap_or(Self::Unknown)
    }

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoomFull => "room_full",
            Self::InvalidRoom => "invalid_room",
            Self::BadMessage => "bad_message",
            Self::NotInRoom => "not_in_room",
            Self::UnknownPeer => "unknown_peer",
            Self::AlreadyJoined => "already_joined",
            Self::RateLimited => "rate_limited",
            Self::MessageTooLarge => "message_too_large",
            Self::Unavailable => "unavailable",
            Self::Unknown => "unknown",
        }
    }

    /// A default human-readable explanation, for a server with nothing more specific to
    /// say or a client that wants a fallback text.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::RoomFull => "the room is full",
            Self::InvalidRoom => "room ids are 1-64 characters of A-Z, a-z, 0-9, '_' and '-'",
            Self::BadMessage => "the message could not be understood",
            Self::NotInRoom => "join a room first",
            Self::UnknownPeer => "no such peer in this room",
            Self::AlreadyJoined => "already in a room; leave it first",
            Self::RateLimited => "too many messages; slow down",
            Self::MessageTooLarge => "the message is too large",
            Self::Unavailable => "the server cannot do this right now; retry in a few seconds",
            Self::Unknown => "unknown error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a text message is not a valid [`ClientMessage`](crate::ClientMessage).
///
/// Two variants because the server answers them with different codes: a well-formed
/// `join` whose room id breaks the rules is [`ErrorCode::InvalidRoom`], anything else
/// that fails to parse is [`ErrorCode::BadMessage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A `join` whose `room` is a string but not a valid room id.
    InvalidRoom(InvalidRoomId),
    /// Anything else: not JSON, not an object, unknown `type`, missing or mistyped field.
    /// The detail is serde_json's description, fit to show to the sender.
    BadMessage(String),
}

impl ParseError {
    /// The error code the server sends back for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRoom(_) => ErrorCode::InvalidRoom,
            Self::BadMessage(_) => ErrorCode::BadMessage,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRoom(e) => write!(f, "invalid room: {e}"),
            Self::BadMessage(detail) => write!(f, "bad message: {detail}"),
        }
    }
}

impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidRoom(e) => Some(e),
            Self::BadMessage(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_golden, parse, ALL_SENT_CODES};

    #[test]
    fn every_code_golden_and_as_str_agrees() {
        for (code, name) in ALL_SENT_CODES {
            assert_golden(&code, &format!("\"{name}\""));
            assert_eq!(code.as_str(), name);
            assert_eq!(code.to_string(), name);
            assert_eq!(ErrorCode::from_wire(name), code);
        }
        assert_eq!(ErrorCode::ALL.to_vec(), ALL_SENT_CODES.map(|(code, _)| code).to_vec());
    }

    #[test]
    fn unknown_code_from_a_newer_server_is_read_as_unknown() {
        assert_eq!(parse::<ErrorCode>(r#""quota_exceeded""#), Ok(ErrorCode::Unknown));
        assert_eq!(ErrorCode::from_wire("quota_exceeded"), ErrorCode::Unknown);
        assert_eq!(ErrorCode::from_wire("unknown"), ErrorCode::Unknown);
    }

    #[test]
    fn invalid_room_default_message_states_the_current_limit() {
        let limit = crate::limits::ROOM_ID_MAX_LEN.to_string();
        assert!(ErrorCode::InvalidRoom.default_message().contains(&limit));
    }

    #[test]
    fn parse_error_maps_to_its_code() {
        let invalid = ParseError::InvalidRoom(InvalidRoomId::Empty);
        assert_eq!(invalid.code(), ErrorCode::InvalidRoom);
        assert_eq!(invalid.to_string(), "invalid room: room id is empty");
        let bad = ParseError::BadMessage("missing field `room`".into());
        assert_eq!(bad.code(), ErrorCode::BadMessage);
        assert_eq!(bad.to_string(), "bad message: missing field `room`");
    }
}
