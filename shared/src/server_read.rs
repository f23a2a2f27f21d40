//! [`ServerMessage::parse`](crate::ServerMessage::parse), the browser's one way to read the server,
//! routed by hand instead of through serde's internally tagged enum.
//!
//! Why: a derived `#[serde(tag = "type")]` enum deserializes by first buffering the whole object
//! into serde's generic `Content` tree and then replaying it into the variant, and `data`'s
//! `Signal` (tagged by `kind`) does the same again. In the web client that machinery was the
//! largest single item of the wasm (~53 KB of code before compression). Here the tag is read
//! first (every other field skipped), then the same text is read once more into a plain struct
//! of the variant's fields; `data` is kept as raw JSON and read the same way. Plain structs go
//! straight through serde_json's parser.
//!
//! The meaning is the derive's (the golden tests in `server.rs` run through this function):
//! unknown `type`s and `kind`s, missing fields and wrong types are errors; unknown fields are
//! ignored; `null` reads as `None` for optional fields.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{ErrorCode, ParseError};
use crate::failure::FailureReason;
use crate::ids::{PeerId, ResumeToken, RoomId};
use crate::server::{IceServer, ServerMessage};
use crate::signal::Signal;

#[derive(Deserialize)]
struct Tagged {
    #[serde(rename = "type")]
    tag: String,
}

#[derive(Deserialize)]
struct Joined {
    room: RoomId,
    peer_id: PeerId,
    peers: Vec<PeerId>,
    capacity: u32,
    resume_token: ResumeToken,
    ice_servers: Vec<IceServer>,
}

#[derive(Deserialize)]
struct Peer {
    peer_id: PeerId,
}

#[derive(Deserialize)]
struct Relayed<'a> {
    from: PeerId,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct IceServers {
    ice_servers: Vec<IceServer>,
}

#[derive(Deserialize)]
struct Refused {
    code: ErrorCode,
    message: String,
}

#[derive(Deserialize)]
struct Kind {
    kind: String,
}

#[derive(Deserialize)]
struct Sdp {
    sdp: String,
}

#[derive(Deserialize)]
struct Candidate {
    candidate: String,
    #[serde(default)]
    sdp_mid: Option<String>,
    #[serde(default)]
    sdp_m_line_index: Option<u16>,
}

#[derive(Deserialize)]
struct ConnectFailed {
    reason: FailureReason,
}

impl ServerMessage {
    /// Parses one text message from the server. Only ever returns
    /// [`ParseError::BadMessage`]: the server never sends an invalid room id, so one is
    /// just a malformed message here. Read by hand rather than through the derive, for the web
    /// client's size (see the module doc); same meaning.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse(text)
    }
}

/// Reads one text message from the server; see the module doc.
fn parse(text: &str) -> Result<ServerMessage, ParseError> {
    let Tagged { tag } = read(text)?;
    Ok(match tag.as_str() {
        "joined" => {
            let m: Joined = read(text)?;
            ServerMessage::Joined {
                room: m.room,
                peer_id: m.peer_id,
                peers: m.peers,
                capacity: m.capacity,
                resume_token: m.resume_token,
                ice_servers: m.ice_servers,
            }
        }
        "peer_joined" => ServerMessage::PeerJoined { peer_id: read::<Peer>(text)?.peer_id },
        "peer_resumed" => ServerMessage::PeerResumed { peer_id: read::<Peer>(text)?.peer_id },
        "peer_left" => ServerMessage::PeerLeft { peer_id: read::<Peer>(text)?.peer_id },
        "signal" => {
            let m: Relayed = read(text)?;
            ServerMessage::Signal { from: m.from, data: signal(m.data.get())? }
        }
        "ice_config" => ServerMessage::IceConfig { ice_servers: read::<IceServers>(text)?.ice_servers },
        "error" => {
            let m: Refused = read(text)?;
            ServerMessage::Error { code: m.code, message: m.message }
        }
        other => return Err(unknown("type", other)),
    })
}

/// A relayed [`Signal`], by its `kind`.
fn signal(text: &str) -> Result<Signal, ParseError> {
    let Kind { kind } = read(text)?;
    Ok(match kind.as_str() {
        "offer" => Signal::Offer { sdp: read::<Sdp>(text)?.sdp },
        "answer" => Signal::Answer { sdp: read::<Sdp>(text)?.sdp },
        "candidate" => {
            let c: Candidate = read(text)?;
            Signal::Candidate { candidate: c.candidate, sdp_mid: c.sdp_mid, sdp_m_line_index: c.sdp_m_line_index }
        }
        "end_of_candidates" => Signal::EndOfCandidates,
        "connect_failed" => Signal::ConnectFailed { reason: read::<ConnectFailed>(text)?.reason },
        other => return Err(unknown("kind", other)),
    })
}

fn read<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, ParseError> {
    serde_json::from_str(text).map_err(|e| ParseError::BadMessage(e.to_string()))
}

fn unknown(field: &str, value: &str) -> ParseError {
    let mut detail = String::from("unknown ");
    detail.push_str(field);
    detail.push_str(" `");
    // A hostile value is bounded by the message size limit; it is shown only in the page's log.
    detail.push_str(value);
    detail.push('`');
    ParseError::BadMessage(detail)
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
            r#"{"type":"peer_joined","peer_id":"p","extra":[1,{"a":null}]}"#,
            r#"{"peer_id":"p","type":"peer_left"}"#,
            r#"{"type":"peer_resumed","peer_id":"p"}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"offer","sdp":"v=0\r\n"}}"#,
            r#"{"type":"signal","from":"p","data":{"sdp":"v=0","kind":"answer","x":1}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"candidate","candidate":"c","sdp_mid":null}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"candidate","candidate":"c","sdp_mid":"0","sdp_m_line_index":3}}"#,
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
            assert_eq!(parse(text).ok(), expected.ok(), "{text}");
        }
    }

    #[test]
    fn rejects_what_the_derive_rejects() {
        let texts = [
            r#"{"type":"welcome"}"#,
            r#"{"peer_id":"p"}"#,
            r#"{"type":3,"peer_id":"p"}"#,
            r#"{"type":"joined","room":"bad room","peer_id":"p","peers":[],"capacity":2,"resume_token":"t","ice_servers":[]}"#,
            r#"{"type":"joined","room":"r","peer_id":"p","peers":[],"capacity":-1,"resume_token":"t","ice_servers":[]}"#,
            r#"{"type":"signal","from":"p"}"#,
            r#"{"type":"signal","from":"p","data":"offer"}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"pranswer","sdp":"v=0"}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"offer"}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"candidate","candidate":"c","sdp_m_line_index":70000}}"#,
            r#"{"type":"signal","from":"p","data":{"kind":"connect_failed"}}"#,
            r#"{"type":"error","code":"room_full"}"#,
            r#"{"type":"peer_left","peer_id":"p"} trailing"#,
            "not json",
            "",
        ];
        for text in texts {
            assert!(derived::<ServerMessage>(text).is_err(), "the derive accepts {text}");
            assert!(matches!(parse(text), Err(ParseError::BadMessage(_))), "{text}");
        }
    }

    #[test]
    fn unknown_tags_are_named_in_the_error() {
        assert_eq!(parse(r#"{"type":"welcome"}"#), Err(ParseError::BadMessage("unknown type `welcome`".into())));
        let text = r#"{"type":"signal","from":"p","data":{"kind":"pranswer"}}"#;
        assert_eq!(parse(text), Err(ParseError::BadMessage("unknown kind `pranswer`".into())));
    }
}
