//! Test helpers shared by the golden-JSON tests of every module.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ErrorCode;

/// Every error code the server sends, with its wire name.
pub const ALL_SENT_CODES: [(ErrorCode, &str); 9] = [
    (ErrorCode::RoomFull, "room_full"),
    (ErrorCode::InvalidRoom, "invalid_room"),
    (ErrorCode::BadMessage, "bad_message"),
    (ErrorCode::NotInRoom, "not_in_room"),
    (ErrorCode::UnknownPeer, "unknown_peer"),
    (ErrorCode::AlreadyJoined, "already_joined"),
    (ErrorCode::RateLimited, "rate_limited"),
    (ErrorCode::MessageTooLarge, "message_too_large"),
    (ErrorCode::Unavailable, "unavailable"),
];

/// Asserts that `value` serializes to exactly `json`, and that `json` parses back to it.
#[track_caller]
pub fn assert_golden<T>(value: &T, json: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let written = serde_json::to_string(value).map_err(|e| e.to_string());
    assert_eq!(written.as_deref(), Ok(json), "serializing {value:?}");
    assert_eq!(parse::<T>(json).as_ref(), Ok(value), "parsing {json}");
}

/// Plain serde parsing, with the error as text so results can be compared.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}
