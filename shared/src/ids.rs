//! Identifiers on the wire: validated room ids, server-issued peer ids and resume tokens,
//! as newtypes so a room id can never be passed where a peer id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::limits::{PEER_ID_MAX_LEN, ROOM_ID_MAX_LEN};

/// The id alphabet shared by room and peer ids: URL-safe without escaping, and the
/// base64url alphabet, so random ids can be written in it directly.
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A room id: 1 to [`ROOM_ID_MAX_LEN`] characters of `[A-Za-z0-9_-]`.
///
/// Holding a `RoomId` proves the id is valid: every constructor, including
/// deserialization, goes through [`RoomId::try_from`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomId(String);

impl RoomId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `id` against the room id rules without allocating.
    pub fn validate(id: &str) -> Result<(), InvalidRoomId> {
        if id.is_empty() {
            return Err(InvalidRoomId::Empty);
        }
        // Characters first: after this every character is ASCII, so `len()` below counts
        // characters, and a long unicode id reports the character that is wrong.
        if let Some(c) = id.chars().find(|&c| !is_id_char(c)) {
            return Err(InvalidRoomId::InvalidChar(c));
        }
        if id.len() > ROOM_ID_MAX_LEN {
            return Err(InvalidRoomId::TooLong(id.len()));
        }
        Ok(())
    }
}

impl TryFrom<String> for RoomId {
    type Error = InvalidRoomId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::validate(&id)?;
        Ok(Self(id))
    }
}

impl TryFrom<&str> for RoomId {
    type Error = InvalidRoomId;

    fn try_from(id: &str) -> Result<Self, Self::Error> {
        Self::validate(id)?;
        Ok(Self(id.to_owned()))
    }
}

impl FromStr for RoomId {
    type Err = InvalidRoomId;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        Self::try_from(id)
    }
}

impl From<RoomId> for String {
    fn from(id: RoomId) -> Self {
        id.0
    }
}

impl AsRef<str> for RoomId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not a [`RoomId`]; one variant per rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvalidRoomId {
    /// The id is the empty string.
    Empty,
    /// The id has this many characters, more than [`ROOM_ID_MAX_LEN`].
    TooLong(usize),
    /// The id contains this character, which is outside `[A-Za-z0-9_-]`.
    InvalidChar(char),
}

impl fmt::Display for InvalidRoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("room id is empty"),
            Self::TooLong(len) => write!(f, "room id is {len} characters long, the limit is {ROOM_ID_MAX_LEN}"),
            // `{:?}` escapes control characters, so the message stays one printable line.
            Self::InvalidChar(c) => write!(f, "room id contains {c:?}; allowed are A-Z, a-z, 0-9, '_' and '-'"),
        }
    }
}

impl std::error::Error for InvalidRoomId {}

/// A peer's id within a room, chosen by the server (64+ random bits, hex or base64url).
///
/// Not validated on deserialization: a client may put anything in `signal.to`, and the
/// server answers that with `unknown_peer` rather than rejecting the whole message.
/// [`PeerId::is_well_formed`] lets the server refuse odd ids before any lookup or log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(String);

impl PeerId {
    /// Wraps an id; the server is expected to pass a well-formed one.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the id is 1 to [`PEER_ID_MAX_LEN`] characters of `[A-Za-z0-9_-]`, the
    /// shape of every id the server issues.
    pub fn is_well_formed(&self) -> bool {
        (1..=PEER_ID_MAX_LEN).contains(&self.0.len()) && self.0.chars().all(is_id_char)
    }
}

impl From<PeerId> for String {
    fn from(id: PeerId) -> Self {
        id.0
    }
}

impl AsRef<str> for PeerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secret that lets a reconnecting client take back its seat (and peer id).
///
/// Opaque to clients. Its `Debug` output is redacted because whoever holds the token can
/// take over the seat, and messages containing it get logged.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResumeToken(String);

impl ResumeToken {
    /// Wraps a token; the server generates it from enough random bits to be unguessable.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token as text, e.g. to store it for the next reconnect.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<ResumeToken> for String {
    fn from(token: ResumeToken) -> Self {
        token.0
    }
}

impl fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_id_accepts_every_allowed_character() {
        let id = "AZaz09_-";
        assert_eq!(RoomId::try_from(id).map(String::from), Ok(id.to_owned()));
    }

    #[test]
    fn room_id_rejects_empty() {
        assert_eq!(RoomId::try_from(""), Err(InvalidRoomId::Empty));
    }

    #[test]
    fn room_id_accepts_exactly_the_max_length() {
        let id = "a".repeat(ROOM_ID_MAX_LEN);
        assert!(RoomId::try_from(id.as_str()).is_ok());
        assert!(RoomId::try_from("a").is_ok());
    }

    #[test]
    fn room_id_rejects_one_past_the_max_length() {
        let id = "a".repeat(ROOM_ID_MAX_LEN + 1);
        assert_eq!(RoomId::try_from(id), Err(InvalidRoomId::TooLong(65)));
    }

    #[test]
    fn room_id_rejects_characters_outside_the_alphabet() {
        for (id, bad) in
            [("a b", ' '), ("a/b", '/'), ("a.b", '.'), ("a%20", '%'), ("a\0", '\0'), ("a\nb", '\n'), ("a+b", '+')]
        {
            assert_eq!(RoomId::from_str(id), Err(InvalidRoomId::InvalidChar(bad)));
        }
    }

    #[test]
    fn room_id_rejects_unicode() {
        // Non-ASCII letters and digits are rejected even though `char::is_alphanumeric`
        // would accept them: ids must look the same everywhere they are typed or shown.
        assert_eq!(RoomId::from_str("café"), Err(InvalidRoomId::InvalidChar('é')));
        assert_eq!(RoomId::from_str("٣"), Err(InvalidRoomId::InvalidChar('٣')));
        assert_eq!(RoomId::from_str("🎥"), Err(InvalidRoomId::InvalidChar('🎥')));
        // 32 two-byte characters: short in characters, still rejected for the character.
        let long_unicode = "é".repeat(32);
        assert_eq!(RoomId::try_from(long_unicode), Err(InvalidRoomId::InvalidChar('é')));
    }

    #[test]
    fn room_id_serde_validates() {
        let ok: Result<RoomId, _> = serde_json::from_str(r#""room-1""#);
        assert_eq!(ok.map(String::from).ok(), Some("room-1".to_owned()));
        assert!(serde_json::from_str::<RoomId>(r#""bad room""#).is_err());
        assert!(serde_json::from_str::<RoomId>(r#""""#).is_err());
    }

    #[test]
    fn invalid_room_id_messages_are_readable() {
        assert_eq!(InvalidRoomId::Empty.to_string(), "room id is empty");
        assert_eq!(InvalidRoomId::TooLong(65).to_string(), "room id is 65 characters long, the limit is 64");
        assert_eq!(
            InvalidRoomId::InvalidChar('\n').to_string(),
            "room id contains '\\n'; allowed are A-Z, a-z, 0-9, '_' and '-'"
        );
    }

    #[test]
    fn peer_id_well_formedness() {
        assert!(PeerId::new("0123456789abcdef").is_well_formed());
        assert!(PeerId::new("q2Xy_-9aB0c").is_well_formed());
        assert!(PeerId::new("a".repeat(PEER_ID_MAX_LEN)).is_well_formed());
        assert!(!PeerId::new("a".repeat(PEER_ID_MAX_LEN + 1)).is_well_formed());
        assert!(!PeerId::new("").is_well_formed());
        assert!(!PeerId::new("a b").is_well_formed());
        assert!(!PeerId::new("ü").is_well_formed());
    }

    #[test]
    fn peer_id_deserializes_any_string() {
        let id: Result<PeerId, _> = serde_json::from_str(r#""not a valid id!""#);
        assert_eq!(id.ok(), Some(PeerId::new("not a valid id!")));
    }

    #[test]
    fn resume_token_debug_is_redacted() {
        let token = ResumeToken::new("s3cret");
        assert_eq!(format!("{token:?}"), "ResumeToken(<redacted>)");
        assert_eq!(token.as_str(), "s3cret");
    }
}
