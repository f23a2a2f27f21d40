//! Relaying a signal's payload exactly as its sender wrote it.
//!
//! The server validates every `signal` by parsing it into [`Signal`](crate::Signal), but what it
//! forwards is the sender's own `data` text, not a re-encoding: fields this build does not know
//! (a newer browser's `username_fragment`, say) reach the other peer, and the SDP is not
//! re-escaped on the way. The output is still an ordinary [`ServerMessage::Signal`](crate::ServerMessage).

use serde::{Deserialize, Serialize};
pub use serde_json::value::RawValue;

use crate::ids::PeerId;

#[derive(Deserialize)]
struct PayloadOnly<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Serialize)]
struct Relayed<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    from: &'a PeerId,
    data: &'a RawValue,
}

/// The `data` member of a client message, as written. `None` if there is none.
pub fn signal_payload(text: &str) -> Option<&RawValue> {
    serde_json::from_str::<PayloadOnly<'_>>(text).ok().map(|p| p.data)
}

/// `{"type":"signal","from":"<from>","data":<data as written>}`.
pub fn relayed_signal_json(from: &PeerId, data: &RawValue) -> String {
    crate::to_json(&Relayed { kind: "signal", from, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientMessage, ServerMessage, Signal};

    #[test]
    fn the_relayed_message_is_the_typed_signal_message() {
        let text =
            r#"{"type":"signal","to":"bbbb","data":{"kind":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}"#;
        let Ok(ClientMessage::Signal { data, .. }) = ClientMessage::parse(text) else { panic!("valid signal") };
        let raw = signal_payload(text).unwrap();
        let json = relayed_signal_json(&PeerId::new("aaaa"), raw);
        assert_eq!(
            json,
            r#"{"type":"signal","from":"aaaa","data":{"kind":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}"#
        );
        assert_eq!(ServerMessage::parse(&json).unwrap(), ServerMessage::Signal { from: PeerId::new("aaaa"), data });
    }

    #[test]
    fn unknown_payload_fields_and_spelling_survive() {
        let text = r#"{"data": {"kind":"candidate", "candidate":"candidate:1 1 udp 1 10.0.0.1 9 typ host", "username_fragment":"uf", "sdp_m_line_index":0}, "type":"signal", "to":"b"}"#;
        let raw = signal_payload(text).unwrap();
        let json = relayed_signal_json(&PeerId::new("a"), raw);
        assert!(json.contains(r#""username_fragment":"uf""#), "{json}");
        assert!(json.ends_with(r#", "sdp_m_line_index":0}}"#), "{json}");
        let ServerMessage::Signal { data: Signal::Candidate { sdp_m_line_index, .. }, .. } =
            ServerMessage::parse(&json).unwrap()
        else {
            panic!("a candidate")
        };
        assert_eq!(sdp_m_line_index, Some(0));
    }

    #[test]
    fn no_data_no_payload() {
        assert!(signal_payload(r#"{"type":"leave"}"#).is_none());
        assert!(signal_payload("not json").is_none());
    }
}
