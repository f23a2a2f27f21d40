//! How a client reads the server: [`ServerMessage::read`] routes a JSON value that someone else
//! parsed ([`JsonView`]) into a [`ServerMessage`], and [`ServerMessage::parse`] is the same reader
//! over serde_json's [`Value`].
//!
//! Why not serde: in the web client, serde_json's deserializer — its parser, its error texts,
//! float formatting for them, the derived visitors of every message — was about 30 KB of the
//! gzipped bundle. The browser already has a JSON parser (`JSON.parse`), so the web client parses
//! with it and reads the result through this trait: the protocol's names and shapes stay here, in
//! one place, tested natively against the derive (the golden tests in `server.rs` run through
//! `parse`, and the tests below compare with the derived parser).
//!
//! The meaning is the derive's: unknown `type`s and `kind`s, missing fields and wrong types are
//! errors; unknown fields are ignored; `null` reads as `None` for optional fields; an unknown
//! error `code` or failure `reason` reads as `Unknown`. Two differences, of no consequence since
//! the server writes neither: a whole number written with a fraction (`2.0`) is read as that
//! integer (`JSON.parse` keeps no distinction between the two), and a message written as an array
//! instead of an object, which the derive would take, is refused.

use serde_json::Value;

use crate::error::{ErrorCode, ParseError};
use crate::failure::FailureReason;
use crate::ids::{PeerId, ResumeToken, RoomId};
use crate::server::{IceServer, ServerMessage};
use crate::signal::Signal;

/// A parsed JSON value, read one member at a time.
pub trait JsonView: Sized {
    /// Member `name` of an object (`null` included); `None` when absent or not an object.
    fn member(&self, name: &str) -> Option<Self>;
    /// The value when it is a string.
    fn string(&self) -> Option<String>;
    /// The value when it is a number.
    fn number(&self) -> Option<f64>;
    /// Whether the value is `null`.
    fn is_null(&self) -> bool;
    /// The items when the value is an array.
    fn items(&self) -> Option<Vec<Self>>;
}

impl JsonView for &Value {
    fn member(&self, name: &str) -> Option<Self> {
        self.as_object()?.get(name)
    }

    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn is_null(&self) -> bool {
        Value::is_null(self)
    }

    fn items(&self) -> Option<Vec<Self>> {
        self.as_array().map(|items| items.iter().collect())
    }
}

impl ServerMessage {
    /// Parses one text message from the server. Only ever returns
    /// [`ParseError::BadMessage`]: the server never sends an invalid room id, so one is
    /// just a malformed message here.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ParseError::BadMessage(e.to_string()))?;
        Self::read(&&value)
    }

    /// Reads a server message from a JSON value parsed elsewhere (the web client: the
    /// browser's `JSON.parse`). Same meaning and errors as [`ServerMessage::parse`].
    pub fn read(value: &impl JsonView) -> Result<Self, ParseError> {
        let tag = string(value, "type")?;
        Ok(match tag.as_str() {
            "joined" => ServerMessage::Joined {
                room: room(value)?,
                peer_id: peer(value, "peer_id")?,
                peers: list(value, "peers", |item| item.string().map(PeerId::new))?,
                capacity: whole(value, "capacity")?,
                resume_token: ResumeToken::new(string(value, "resume_token")?),
                ice_servers: ice_servers(value)?,
            },
            "peer_joined" => ServerMessage::PeerJoined { peer_id: peer(value, "peer_id")? },
            "peer_resumed" => ServerMessage::PeerResumed { peer_id: peer(value, "peer_id")? },
            "peer_left" => ServerMessage::PeerLeft { peer_id: peer(value, "peer_id")? },
            "signal" => {
                let from = peer(value, "from")?;
                let data = value.member("data").ok_or_else(|| missing("data"))?;
                ServerMessage::Signal { from, data: signal(&data)? }
            }
            "ice_config" => ServerMessage::IceConfig { ice_servers: ice_servers(value)? },
            "error" => ServerMessage::Error {
                code: ErrorCode::from_wire(&string(value, "code")?),
                message: string(value, "message")?,
            },
            other => return Err(unknown("type", other)),
        })
    }
}

/// A relayed [`Signal`], by its `kind`.
fn signal(data: &impl JsonView) -> Result<Signal, ParseError> {
    let kind = string(data, "kind")?;
    Ok(match kind.as_str() {
        "offer" => Signal::Offer { sdp: string(data, "sdp")? },
        "answer" => Signal::Answer { sdp: string(data, "sdp")? },
        "candidate" => Signal::Candidate {
            candidate: string(data, "candidate")?,
            sdp_mid: optional(data, "sdp_mid", |v| v.string())?,
            sdp_m_line_index: optional(data, "sdp_m_line_index", integer)?,
        },
        "end_of_candidates" => Signal::EndOfCandidates,
        "connect_failed" => Signal::ConnectFailed { reason: FailureReason::from_wire(&string(data, "reason")?) },
        other => return Err(unknown("kind", other)),
    })
}

fn room(value: &impl JsonView) -> Result<RoomId, ParseError> {
    RoomId::try_from(string(value, "room")?).map_err(|e| ParseError::BadMessage(e.to_string()))
}

fn peer(value: &impl JsonView, name: &str) -> Result<PeerId, ParseError> {
    string(value, name).map(PeerId::new)
}

fn ice_servers(value: &impl JsonView) -> Result<Vec<IceServer>, ParseError> {
    list(value, "ice_servers", |server| {
        let urls = server.member("urls")?.items()?.iter().map(JsonView::string).collect::<Option<Vec<_>>>()?;
        let username = optional(server, "username", |v| v.string()).ok()?;
        let credential = optional(server, "credential", |v| v.string()).ok()?;
        Some(IceServer { urls, username, credential })
    })
}

/// A required string member.
fn string(value: &impl JsonView, name: &str) -> Result<String, ParseError> {
    value.member(name).ok_or_else(|| missing(name))?.string().ok_or_else(|| wrong(name))
}

/// A required array member whose every item `item` reads.
fn list<V: JsonView, T>(value: &V, name: &str, item: impl Fn(&V) -> Option<T>) -> Result<Vec<T>, ParseError> {
    let items = value.member(name).ok_or_else(|| missing(name))?.items().ok_or_else(|| wrong(name))?;
    items.iter().map(|v| item(v).ok_or_else(|| wrong(name))).collect()
}

/// A required whole number that fits `T`.
fn whole<T: TryFrom<u64>>(value: &impl JsonView, name: &str) -> Result<T, ParseError> {
    integer(&value.member(name).ok_or_else(|| missing(name))?).ok_or_else(|| wrong(name))
}

/// An optional member: absent and `null` are `None`; otherwise `read` must accept it.
fn optional<V: JsonView, T>(value: &V, name: &str, read: impl Fn(&V) -> Option<T>) -> Result<Option<T>, ParseError> {
    match value.member(name) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => read(&v).map(Some).ok_or_else(|| wrong(name)),
    }
}

/// A whole number that fits `T`. Numbers up to 2^53 are exact as `f64`, which covers every
/// integer of the protocol (u32 and u16).
fn integer<T: TryFrom<u64>>(value: &impl JsonView) -> Option<T> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let n = value.number()?;
    if !(0.0..=EXACT).contains(&n) || n.fract() != 0.0 {
        return None;
    }
    // In range and whole: the conversion is exact.
    T::try_from(n as u64).ok()
}

fn missing(name: &str) -> ParseError {
    ParseError::BadMessage(["missing field `", name, "`"].concat())
}

fn wrong(name: &str) -> ParseError {
    ParseError::BadMessage(["invalid value for `", name, "`"].concat())
}

fn unknown(field: &str, value: &str) -> ParseError {
    // A hostile value is bounded by the message size limit; it is shown only in the page's log.
    ParseError::BadMessage(["unknown ", field, " `", value, "`"].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::parse as derived;

    /// Every shape the derive reads, read the same way here; and what it rejects, rejected.
    #[test]
    fn agrees_with_the_derived_parser() {
        let texts = [
            r#"{"type":"joined","room":"r1","peer_id":"p","peers":["q"],"capacity":2,"resume_token":"t","ice_servers":[{"urls":["stun:s"]}]}"#,
            r#"{"type":"joined","room":"r1","peer_id":"p","peers":[],"capacity":4294967295,"resume_token":"t","ice_servers":[{"urls":["turn:a","turns:b"],"username":"u","credential":null}]}"#,
            r#"{"type":"peer_joined","peer_id":"p","extra":[1,{"a":null}]}"#,
            r#"{"peer_id":"p","type":"peer_left"}"#,
            r#"{"type":"peer_resumed","peer_id":"p"}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"offer","sdp":"v=0\r\n"}}"#,
            r#"{"type":"signal","from":"p","data":{"sdp":"v=0","kind":"answer","x":1}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"candidate","candidate":"c","sdp_mid":null}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"candidate","candidate":"c","sdp_mid":"0","sdp_m_line_index":3}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"candidate","candidate":"c","sdp_m_line_index":65535}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"end_of_candidates"}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"connect_failed","reason":"no-path"}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"connect_failed","reason":"newer-reason"}}"#,
            r#"{"type":"ice_config","ice_servers":[{"urls":["turn:t"],"username":"u","credential":"c"}]}"#,
            r#"{"type":"error","code":"room_full","message":"full"}"#,
            r#"{"type":"error","code":"from_the_future","message":"m"}"#,
        ];
        for text in texts {
            let expected = derived::<ServerMessage>(text);
            assert!(expected.is_ok(), "{text}: {expected:?}");
            assert_eq!(ServerMessage::parse(text).ok(), expected.ok(), "{text}");
        }
    }

    #[test]
    fn rejects_what_the_derive_rejects() {
        let texts = [
            r#"{"type":"welcome"}"#,
            r#"{"peer_id":"p"}"#,
            r#"{"type":3,"peer_id":"p"}"#,
            r#"{"type":"peer_left","peer_id":7}"#,
            r#"{"type":"joined","room":"bad room","peer_id":"p","peers":[],"capacity":2,"resume_token":"t","ice_servers":[]}"#,
            r#"{"type":"joined","room":"r","peer_id":"p","peers":[],"capacity":-1,"resume_token":"t","ice_servers":[]}"#,
            r#"{"type":"joined","room":"r","peer_id":"p","peers":[],"capacity":1.5,"resume_token":"t","ice_servers":[]}"#,
            r#"{"type":"joined","room":"r","peer_id":"p","peers":[],"capacity":4294967296,"resume_token":"t","ice_servers":[]}"#,
            r#"{"type":"joined","room":"r","peer_id":"p","peers":[1],"capacity":2,"resume_token":"t","ice_servers":[]}"#,
            r#"{"type":"joined","room":"r","peer_id":"p","peers":"q","capacity":2,"resume_token":"t","ice_servers":[]}"#,
            r#"{"type":"ice_config","ice_servers":[{"urls":"stun:s"}]}"#,
            r#"{"type":"ice_config","ice_servers":[{"urls":["stun:s"],"username":1}]}"#,
            r#"{"type":"ice_config","ice_servers":[{}]}"#,
            r#"{"type":"signal","from":"p"}"#,
            r#"{"type":"signal","from":"p","data":"offer"}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"pranswer","sdp":"v=0"}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"offer"}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"candidate","candidate":"c","sdp_m_line_index":70000}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"candidate","candidate":"c","sdp_mid":5}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"connect_failed"}}"#,
            r#"{"type":"error","code":"room_full"}"#,
            r#"{"type":"peer_left","peer_id":"p"} trailing"#,
            "not json",
            "",
        ];
        for text in texts {
            assert!(derived::<ServerMessage>(text).is_err(), "the derive accepts {text}");
            assert!(matches!(ServerMessage::parse(text), Err(ParseError::BadMessage(_))), "{text}");
        }
    }

    /// The derive also takes a message written as an array (`["peer_left","p"]`); the server
    /// only ever writes objects, and this reader reads only those.
    #[test]
    fn reads_objects_only() {
        let text = r#"["peer_left","p"]"#;
        assert!(derived::<ServerMessage>(text).is_ok());
        assert_eq!(ServerMessage::parse(text), Err(ParseError::BadMessage("missing field `type`".into())));
    }

    #[test]
    fn errors_name_the_field_or_tag() {
        let bad = |text: &str| ServerMessage::parse(text).err();
        let message = |detail: &str| Some(ParseError::BadMessage(detail.into()));
        assert_eq!(bad(r#"{"type":"welcome"}"#), message("unknown type `welcome`"));
        assert_eq!(
            bad(r#"{"type":"signal","from":"p","data":{"kind":"pranswer"}}"#),
            message("unknown kind `pranswer`")
        );
        assert_eq!(bad(r#"{"type":"peer_left"}"#), message("missing field `peer_id`"));
        assert_eq!(bad(r#"{"type":"error","code":3,"message":"m"}"#), message("invalid value for `code`"));
        let text =
            r#"{"type":"joined","room":"","peer_id":"p","peers":[],"capacity":2,"resume_token":"t","ice_servers":[]}"#;
        assert_eq!(bad(text), message("room id is empty"));
    }
}
