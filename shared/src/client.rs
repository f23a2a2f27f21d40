//! Messages from a client to the server, and the one parser the server uses for them, so
//! that every way a message can be wrong maps to a typed error and an error code.

use serde::{Deserialize, Serialize};

use crate::error::ParseError;
use crate::ids::{PeerId, ResumeToken, RoomId};
use crate::signal::Signal;

/// A client-to-server message: one JSON object per WebSocket text message, tagged by
/// `type`.
///
/// Unknown fields are ignored rather than rejected (no `deny_unknown_fields`): a client
/// may be newer than the server and send fields this build does not know yet, and the
/// message should still work as far as this build understands it. Unknown `type`s are
/// still errors, because the server cannot act on them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// `{"type":"join","room":"<room-id>"}`: take a seat in a room.
    Join {
        /// The room to join, validated on parse.
        room: RoomId,
        /// The token from an earlier `joined`, to take back the same seat and peer id
        /// after a dropped connection. Omitted when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeToken>,
    },
    /// `{"type":"signal","to":"<peer-id>","data":{…}}`: relay `data` to one peer in the
    /// same room. There is no `from`: the server stamps it.
    Signal {
        /// The recipient; not validated on parse, the server answers `unknown_peer`.
        to: PeerId,
        /// The WebRTC payload, relayed untouched.
        data: Signal,
    },
    /// `{"type":"leave"}`: give up the seat for good (no resume).
    Leave,
    /// `{"type":"ice_config"}`: ask for the STUN and TURN servers (with fresh TURN credentials)
    /// without joining a room, for the pre-call connection check. Answered with
    /// [`ServerMessage::IceConfig`](crate::ServerMessage::IceConfig).
    IceConfig,
}

impl ClientMessage {
    /// Parses one text message, telling an invalid room id apart from everything else.
    ///
    /// The message is parsed once as a whole. Only when that fails is it parsed a second
    /// time, as just `type` and `room`, to see whether the failure was a `join` whose
    /// `room` is a string that breaks the room id rules; that is
    /// [`ParseError::InvalidRoom`], and every other failure is
    /// [`ParseError::BadMessage`]. This keeps a single `Deserialize` for the message
    /// (no mirror type to drift), never inspects serde's error text, and costs a second
    /// parse only on the error path, whose size the server already bounds.
    ///
    /// A `room` that is missing or not a string is a `BadMessage`: the message has the
    /// wrong shape, not a wrong id.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        serde_json::from_str(text).map_err(|error| match serde_json::from_str::<JoinProbe>(text) {
            Ok(probe) if probe.kind == "join" => match RoomId::validate(&probe.room) {
                Err(invalid) => ParseError::InvalidRoom(invalid),
                Ok(()) => ParseError::BadMessage(error.to_string()),
            },
            _ => ParseError::BadMessage(error.to_string()),
        })
    }

    /// The message as one line of JSON, ready to send.
    pub fn to_json(&self) -> String {
        crate::to_json(self)
    }
}

/// Just enough of a message to find a `join` with a string `room`; every other field is
/// ignored, so a join with a bad id and other problems still reports the bad id.
#[derive(Deserialize)]
struct JoinProbe {
    #[serde(rename = "type")]
    kind: String,
    room: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InvalidRoomId;
    use crate::testing::assert_golden;

    fn room(id: &str) -> RoomId {
        RoomId::try_from(id).unwrap_or_else(|e| panic!("test room id {id:?}: {e}"))
    }

    /// Checks both `to_json` and `parse` against the golden text, not just serde.
    #[track_caller]
    fn assert_wire(message: ClientMessage, json: &str) {
        assert_golden(&message, json);
        assert_eq!(message.to_json(), json);
        assert_eq!(ClientMessage::parse(json), Ok(message));
    }

    fn bad_message(text: &str) -> bool {
        matches!(ClientMessage::parse(text), Err(ParseError::BadMessage(_)))
    }

    #[test]
    fn join_golden() {
        let message = ClientMessage::Join { room: room("team-standup_42"), resume: None };
        assert_wire(message, r#"{"type":"join","room":"team-standup_42"}"#);
    }

    #[test]
    fn join_with_resume_golden() {
        let message = ClientMessage::Join { room: room("r1"), resume: Some(ResumeToken::new("tok_abc")) };
        assert_wire(message, r#"{"type":"join","room":"r1","resume":"tok_abc"}"#);
    }

    #[test]
    fn join_with_null_resume_is_a_plain_join() {
        let parsed = ClientMessage::parse(r#"{"type":"join","room":"r1","resume":null}"#);
        let expected = ClientMessage::Join { room: room("r1"), resume: None };
        assert_eq!(parsed, Ok(expected));
    }

    #[test]
    fn signal_golden_for_each_kind() {
        let cases = [
            (Signal::Offer { sdp: "v=0".into() }, r#"{"kind":"offer","sdp":"v=0"}"#),
            (Signal::Answer { sdp: "v=0".into() }, r#"{"kind":"answer","sdp":"v=0"}"#),
            (
                Signal::Candidate {
                    candidate: "candidate:1".into(),
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0),
                },
                r#"{"kind":"candidate","candidate":"candidate:1","sdp_mid":"0","sdp_m_line_index":0}"#,
            ),
            (
                Signal::Candidate { candidate: "candidate:1".into(), sdp_mid: None, sdp_m_line_index: None },
                r#"{"kind":"candidate","candidate":"candidate:1"}"#,
            ),
            (Signal::EndOfCandidates, r#"{"kind":"end_of_candidates"}"#),
        ];
        for (data, data_json) in cases {
            let message = ClientMessage::Signal { to: PeerId::new("9f86d081884c7d65"), data };
            let json = format!(r#"{{"type":"signal","to":"9f86d081884c7d65","data":{data_json}}}"#);
            assert_wire(message, &json);
        }
    }

    #[test]
    fn leave_golden() {
        assert_wire(ClientMessage::Leave, r#"{"type":"leave"}"#);
    }

    #[test]
    fn ice_config_golden() {
        assert_wire(ClientMessage::IceConfig, r#"{"type":"ice_config"}"#);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let parsed = ClientMessage::parse(r#"{"type":"join","room":"r1","client":"connect-web/2.0","caps":["chat"]}"#);
        let expected = ClientMessage::Join { room: room("r1"), resume: None };
        assert_eq!(parsed, Ok(expected));
        let parsed = ClientMessage::parse(r#"{"type":"leave","reason":"bye"}"#);
        assert_eq!(parsed, Ok(ClientMessage::Leave));
        let parsed =
            ClientMessage::parse(r#"{"type":"signal","to":"p1","seq":7,"data":{"kind":"end_of_candidates","x":1}}"#);
        let expected = ClientMessage::Signal { to: PeerId::new("p1"), data: Signal::EndOfCandidates };
        assert_eq!(parsed, Ok(expected));
    }

    #[test]
    fn field_order_does_not_matter() {
        let parsed = ClientMessage::parse(r#"{"room":"r1","type":"join"}"#);
        let expected = ClientMessage::Join { room: room("r1"), resume: None };
        assert_eq!(parsed, Ok(expected));
    }

    #[test]
    fn bad_room_is_invalid_room() {
        let cases = [
            (r#"{"type":"join","room":""}"#, InvalidRoomId::Empty),
            (r#"{"type":"join","room":"a b"}"#, InvalidRoomId::InvalidChar(' ')),
            (r#"{"type":"join","room":"caf\u00e9"}"#, InvalidRoomId::InvalidChar('é')),
            (r#"{"room":"../etc","type":"join"}"#, InvalidRoomId::InvalidChar('.')),
        ];
        for (json, reason) in cases {
            assert_eq!(ClientMessage::parse(json), Err(ParseError::InvalidRoom(reason)));
        }
        let too_long = format!(r#"{{"type":"join","room":"{}"}}"#, "x".repeat(65));
        assert_eq!(ClientMessage::parse(&too_long), Err(ParseError::InvalidRoom(InvalidRoomId::TooLong(65))));
    }

    #[test]
    fn bad_room_wins_over_other_problems_in_a_join() {
        let parsed = ClientMessage::parse(r#"{"type":"join","room":"a b","resume":5}"#);
        assert_eq!(parsed, Err(ParseError::InvalidRoom(InvalidRoomId::InvalidChar(' '))));
    }

    #[test]
    fn valid_room_with_other_problems_is_bad_message() {
        assert!(bad_message(r#"{"type":"join","room":"r1","resume":5}"#));
    }

    #[test]
    fn room_of_the_wrong_shape_is_bad_message() {
        assert!(bad_message(r#"{"type":"join","room":5}"#));
        assert!(bad_message(r#"{"type":"join","room":null}"#));
        assert!(bad_message(r#"{"type":"join","room":["r1"]}"#));
    }

    #[test]
    fn room_field_on_other_types_is_not_invalid_room() {
        assert!(bad_message(r#"{"type":"signal","room":"a b"}"#));
        assert!(bad_message(r#"{"type":"nope","room":"a b"}"#));
    }

    #[test]
    fn unknown_type_is_bad_message() {
        assert!(bad_message(r#"{"type":"subscribe","room":"r1"}"#));
        assert!(bad_message(r#"{"type":"JOIN","room":"r1"}"#));
        // `joined` is a server message; a client cannot send it.
        assert!(bad_message(r#"{"type":"joined","room":"r1"}"#));
    }

    #[test]
    fn missing_fields_are_bad_message() {
        assert!(bad_message(r#"{"room":"r1"}"#));
        assert!(bad_message(r#"{"type":"join"}"#));
        assert!(bad_message(r#"{"type":"signal","to":"p1"}"#));
        assert!(bad_message(r#"{"type":"signal","data":{"kind":"end_of_candidates"}}"#));
        assert!(bad_message(r#"{"type":"signal","to":"p1","data":{"kind":"offer"}}"#));
        assert!(bad_message(r#"{"type":"signal","to":"p1","data":{"kind":"candidate"}}"#));
    }

    #[test]
    fn malformed_json_is_bad_message() {
        for text in
            ["", "join", "{", "null", "[]", r#""join""#, r#"{"type":"join","room":"r1"} trailing"#, r#"{"type":5}"#]
        {
            assert!(bad_message(text), "{text:?}");
        }
    }

    #[test]
    fn bad_message_detail_is_serdes_description() {
        let Err(ParseError::BadMessage(detail)) = ClientMessage::parse(r#"{"type":"join"}"#) else {
            panic!("expected BadMessage");
        };
        assert!(detail.contains("missing field `room`"), "{detail}");
    }
}
