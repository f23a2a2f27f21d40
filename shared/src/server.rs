//! Messages from the server to a client: the answer to `join`, room membership changes,
//! relayed signals and errors.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ParseError};
use crate::ids::{PeerId, ResumeToken, RoomId};
use crate::signal::Signal;

/// A server-to-client message: one JSON object per WebSocket text message, tagged by
/// `type`. Unknown fields are ignored on parse, so an older client can read a newer
/// server's messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to a successful `join`.
    Joined {
        /// The room joined.
        room: RoomId,
        /// The id the server gave this client; the same one again after a resume.
        peer_id: PeerId,
        /// The other peers already in the room, in the order they joined.
        peers: Vec<PeerId>,
        /// How many peers the room holds, this one included.
        capacity: u32,
        /// The secret to send as `join.resume` after a dropped connection. A new one after every
        /// resume: the token a resume used stops working.
        resume_token: ResumeToken,
        /// STUN and TURN servers to give to `RTCPeerConnection`.
        ice_servers: Vec<IceServer>,
    },
    /// Another peer took a seat in the room.
    PeerJoined {
        /// The newcomer.
        peer_id: PeerId,
    },
    /// Another peer's seat was taken over by a new connection with its resume token while its
    /// old connection was still open (closed with [`close::REPLACED`](crate::close::REPLACED)): a
    /// reload of their page, or someone else holding their token. Older clients ignore it.
    PeerResumed {
        /// The peer whose seat has a new connection; the same id as before.
        peer_id: PeerId,
    },
    /// Another peer left the room, or its resume grace period ran out.
    PeerLeft {
        /// The peer that is gone.
        peer_id: PeerId,
    },
    /// A signal relayed from another peer in the room.
    Signal {
        /// The sender, stamped by the server: clients can never choose it.
        from: PeerId,
        /// The payload exactly as the sender sent it.
        data: Signal,
    },
    /// The answer to `ice_config`: the same STUN and TURN servers `joined` would carry, with TURN
    /// credentials issued for this request alone.
    IceConfig {
        /// STUN and TURN servers to give to `RTCPeerConnection`.
        ice_servers: Vec<IceServer>,
    },
    /// A request was refused; the connection stays open.
    Error {
        /// What went wrong, for programs.
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
    },
}

impl ServerMessage {
    /// An error with the code's [default message](ErrorCode::default_message).
    pub fn error(code: ErrorCode) -> Self {
        Self::Error { code, message: code.default_message().to_owned() }
    }

    /// An error with a message of its own.
    pub fn error_with(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error { code, message: message.into() }
    }

    /// The message as one line of JSON, ready to send.
    pub fn to_json(&self) -> String {
        crate::to_json(self)
    }
}

impl From<ParseError> for ServerMessage {
    /// The answer to a client message that failed to parse.
    fn from(error: ParseError) -> Self {
        let code = error.code();
        match error {
            ParseError::InvalidRoom(reason) => Self::error_with(code, reason.to_string()),
            ParseError::BadMessage(detail) => Self::error_with(code, detail),
        }
    }
}

/// One entry of `RTCConfiguration.iceServers`: STUN servers carry only `urls`, TURN
/// servers also a username and credential (omitted when `None`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// The TURN username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The TURN credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl IceServer {
    /// A STUN server, which needs no credentials.
    pub fn stun(url: impl Into<String>) -> Self {
        Self { urls: vec![url.into()], username: None, credential: None }
    }

    /// A TURN server with its credentials.
    pub fn turn(urls: Vec<String>, username: impl Into<String>, credential: impl Into<String>) -> Self {
        Self { urls, username: Some(username.into()), credential: Some(credential.into()) }
    }
}

/// Written by hand to keep the TURN credential out of logs.
impl fmt::Debug for IceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &self.credential.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InvalidRoomId;
    use crate::testing::{assert_golden, ALL_SENT_CODES};

    /// Checks both `to_json` and `parse` against the golden text, not just serde.
    #[track_caller]
    fn assert_wire(message: ServerMessage, json: &str) {
        assert_golden(&message, json);
        assert_eq!(message.to_json(), json);
        assert_eq!(ServerMessage::parse(json), Ok(message));
    }

    fn joined(peers: Vec<PeerId>, ice_servers: Vec<IceServer>) -> ServerMessage {
        ServerMessage::Joined {
            room: RoomId::try_from("r1").unwrap_or_else(|e| panic!("{e}")),
            peer_id: PeerId::new("a1b2c3d4e5f60718"),
            peers,
            capacity: 2,
            resume_token: ResumeToken::new("tok"),
            ice_servers,
        }
    }

    #[test]
    fn joined_golden() {
        let message = joined(
            vec![PeerId::new("0f1e2d3c4b5a6978")],
            vec![
                IceServer::stun("stun:stun.example.org:3478"),
                IceServer::turn(
                    vec!["turn:turn.example.org:3478?transport=udp".into()],
                    "1700000000:alice",
                    "c2VjcmV0",
                ),
            ],
        );
        let json = concat!(
            r#"{"type":"joined","room":"r1","peer_id":"a1b2c3d4e5f60718","#,
            r#""peers":["0f1e2d3c4b5a6978"],"capacity":2,"resume_token":"tok","#,
            r#""ice_servers":[{"urls":["stun:stun.example.org:3478"]},"#,
            r#"{"urls":["turn:turn.example.org:3478?transport=udp"],"#,
            r#""username":"1700000000:alice","credential":"c2VjcmV0"}]}"#
        );
        assert_wire(message, json);
    }

    #[test]
    fn joined_alone_without_ice_servers_golden() {
        let json = concat!(
            r#"{"type":"joined","room":"r1","peer_id":"a1b2c3d4e5f60718","peers":[],"#,
            r#""capacity":2,"resume_token":"tok","ice_servers":[]}"#
        );
        assert_wire(joined(vec![], vec![]), json);
    }

    #[test]
    fn peer_joined_golden() {
        let message = ServerMessage::PeerJoined { peer_id: PeerId::new("p2") };
        assert_wire(message, r#"{"type":"peer_joined","peer_id":"p2"}"#);
    }

    #[test]
    fn peer_resumed_golden() {
        let message = ServerMessage::PeerResumed { peer_id: PeerId::new("p2") };
        assert_wire(message, r#"{"type":"peer_resumed","peer_id":"p2"}"#);
    }

    #[test]
    fn peer_left_golden() {
        let message = ServerMessage::PeerLeft { peer_id: PeerId::new("p2") };
        assert_wire(message, r#"{"type":"peer_left","peer_id":"p2"}"#);
    }

    #[test]
    fn signal_golden() {
        let message = ServerMessage::Signal { from: PeerId::new("p1"), data: Signal::Answer { sdp: "v=0".into() } };
        let json = r#"{"type":"signal","from":"p1","data":{"kind":"answer","sdp":"v=0"}}"#;
        assert_wire(message, json);
    }

    #[test]
    fn ice_config_golden() {
        let message = ServerMessage::IceConfig {
            ice_servers: vec![IceServer::turn(
                vec!["turn:t.example:3478?transport=udp".into(), "turns:t.example:443?transport=tcp".into()],
                "1700000000:x",
                "c2VjcmV0",
            )],
        };
        let json = concat!(
            r#"{"type":"ice_config","ice_servers":[{"urls":["turn:t.example:3478?transport=udp","#,
            r#""turns:t.example:443?transport=tcp"],"username":"1700000000:x","credential":"c2VjcmV0"}]}"#
        );
        assert_wire(message, json);
        assert_wire(ServerMessage::IceConfig { ice_servers: vec![] }, r#"{"type":"ice_config","ice_servers":[]}"#);
    }

    #[test]
    fn error_golden_for_every_code() {
        for (code, name) in ALL_SENT_CODES {
            let message = ServerMessage::error_with(code, "why");
            let json = format!(r#"{{"type":"error","code":"{name}","message":"why"}}"#);
            assert_wire(message, &json);
        }
    }

    #[test]
    fn error_uses_the_default_message() {
        assert_eq!(
            ServerMessage::error(ErrorCode::RoomFull).to_json(),
            r#"{"type":"error","code":"room_full","message":"the room is full"}"#
        );
    }

    #[test]
    fn parse_error_becomes_an_error_message() {
        let message = ServerMessage::from(ParseError::InvalidRoom(InvalidRoomId::Empty));
        assert_eq!(message.to_json(), r#"{"type":"error","code":"invalid_room","message":"room id is empty"}"#);
        let message = ServerMessage::from(ParseError::BadMessage("oops".into()));
        assert_eq!(message.to_json(), r#"{"type":"error","code":"bad_message","message":"oops"}"#);
    }

    #[test]
    fn older_client_reads_newer_server() {
        // An extra field, and an error code this build does not know.
        let json = r#"{"type":"error","code":"quota_exceeded","message":"m","retry_after":3}"#;
        assert_eq!(ServerMessage::parse(json), Ok(ServerMessage::error_with(ErrorCode::Unknown, "m")));
        let json = r#"{"type":"peer_left","peer_id":"p2","reason":"timeout"}"#;
        let expected = ServerMessage::PeerLeft { peer_id: PeerId::new("p2") };
        assert_eq!(ServerMessage::parse(json), Ok(expected));
    }

    #[test]
    fn ice_server_accepts_null_credentials() {
        let json = r#"{"urls":["stun:s"],"username":null,"credential":null}"#;
        let parsed: Result<IceServer, _> = serde_json::from_str(json);
        assert_eq!(parsed.ok(), Some(IceServer::stun("stun:s")));
    }

    #[test]
    fn ice_server_debug_hides_the_credential() {
        let server = IceServer::turn(vec!["turn:t".into()], "u", "hunter2");
        let debug = format!("{server:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn unknown_type_and_missing_fields_are_bad_message() {
        for text in [
            r#"{"type":"welcome"}"#,
            r#"{"type":"joined","room":"r1"}"#,
            r#"{"type":"error","code":"room_full"}"#,
            "not json",
        ] {
            assert!(matches!(ServerMessage::parse(text), Err(ParseError::BadMessage(_))), "{text}");
        }
    }
}
