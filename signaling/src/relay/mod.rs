//! Relaying a signal's payload exactly as its sender wrote it.
//!
//! The server validates every `signal` by parsing it into [`Signal`](shared::Signal), but what it
//! forwards is the sender's own `data` text, not a re-encoding: fields this build does not know
//! (a newer browser's `username_fragment`, say) reach the other peer, and the SDP is not
//! re-escaped on the way. The output is still an ordinary [`ServerMessage::Signal`](shared::ServerMessage).
//!
//! Signals are most of what a server parses, so [`parse_incoming`] reads them in one pass that
//! borrows from the message instead of building [`ClientMessage`] first: the typed parse of an
//! internally tagged enum buffers every field before it knows the variant. What it accepts is
//! exactly what [`ClientMessage::parse`] accepts (a test compares the two on many messages), and
//! everything else goes through `ClientMessage::parse` for the same answers and errors.

mod envelope;
mod payload;

use serde::{Deserialize, Serialize};
pub use serde_json::value::RawValue;

use envelope::Envelope;
use shared::{ClientMessage, ParseError, PeerId, ResumeToken, RoomId};

/// A client message as the server reads it.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A valid `signal`: its recipient, and its `data` exactly as written (a valid [`Signal`](shared::Signal)).
    Signal { to: PeerId, data: &'a RawValue },
    /// A valid `join`, as [`ClientMessage::Join`].
    Join { room: RoomId, resume: Option<ResumeToken> },
    /// A valid `leave`.
    Leave,
    /// A valid `ice_config` request.
    IceConfig,
}

/// Parses one client text message, reading a `signal` without building its typed form.
pub fn parse_incoming(text: &str) -> Result<Incoming<'_>, ParseError> {
    if let Some((to, data)) = read_signal(text) {
        return Ok(Incoming::Signal { to, data });
    }
    match ClientMessage::parse(text)? {
        // Unreachable while `read_signal` accepts every signal the typed parse accepts, as
        // tested; if they ever disagreed, the typed parse wins and the payload is found the slow way.
        ClientMessage::Signal { to, data: _ } => match signal_payload(text) {
            Some(data) => Ok(Incoming::Signal { to, data }),
            None => Err(ParseError::BadMessage("signal without data".into())),
        },
        ClientMessage::Join { room, resume } => Ok(Incoming::Join { room, resume }),
        ClientMessage::Leave => Ok(Incoming::Leave),
        ClientMessage::IceConfig => Ok(Incoming::IceConfig),
    }
}

/// The one-pass read: `Some` exactly when `text` is a valid `signal`.
fn read_signal(text: &str) -> Option<(PeerId, &RawValue)> {
    let Envelope { kind: Some(kind), to: Some(to), data: Some(data) } = serde_json::from_str(text).ok()? else {
        return None;
    };
    let valid = kind == "signal" && payload::is_signal(data);
    valid.then(|| (PeerId::new(to), data))
}

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
    let Some(parts) = relayed_signal_parts(from, data) else {
        return to_json(&Relayed { kind: "signal", from, data });
    };
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// [`relayed_signal_json`] as the pieces that make it, in order, for a writer that puts it
/// straight where it goes (a Redis command) instead of into a `String` first. `None` when `from`
/// is not an id the server issues: only serde then knows how to escape it.
pub fn relayed_signal_parts<'a>(from: &'a PeerId, data: &'a RawValue) -> Option<[&'a str; 5]> {
    // Every id the server issues: nothing in it needs escaping.
    from.is_well_formed().then(|| [r#"{"type":"signal","from":""#, from.as_str(), r#"","data":"#, data.get(), "}"])
}

/// Serializes a [`Relayed`] message: its members are a string and already-valid JSON text, which
/// serde_json writes into a `String` without any way to fail (no maps with non-string keys, no
/// custom `Serialize`, no I/O), so the `expect` cannot fire.
fn to_json(message: &Relayed<'_>) -> String {
    serde_json::to_string(message).expect("a relayed signal always serializes")
}

#[cfg(test)]
mod tests {
    use shared::{ServerMessage, Signal};

    use super::*;

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
    fn the_relayed_message_is_serde_s_for_any_sender_id() {
        let data = signal_payload(r#"{"data":{"kind":"end_of_candidates"}}"#).unwrap();
        for from in ["aZ09_-", "a\"b", "", "ü"] {
            let from = PeerId::new(from);
            let expected = to_json(&Relayed { kind: "signal", from: &from, data });
            assert_eq!(relayed_signal_json(&from, data), expected);
        }
    }

    #[test]
    fn the_parts_are_the_message() {
        let data = signal_payload(r#"{"data":{"kind":"answer","sdp":"v=0\r\n"}}"#).unwrap();
        let from = PeerId::new("aZ09_-");
        assert_eq!(relayed_signal_parts(&from, data).unwrap().concat(), relayed_signal_json(&from, data));
        assert_eq!(relayed_signal_parts(&PeerId::new("a\"b"), data), None);
    }

    #[test]
    fn no_data_no_payload() {
        assert!(signal_payload(r#"{"type":"leave"}"#).is_none());
        assert!(signal_payload("not json").is_none());
    }

    #[test]
    fn a_signal_is_read_in_one_pass_with_its_payload_as_written() {
        let text = r#"{"type":"signal","to":"bbbb","data":{"kind":"answer", "sdp":"v=0\r\n"}}"#;
        let Ok(Incoming::Signal { to, data }) = parse_incoming(text) else { panic!("a signal") };
        assert_eq!(to, PeerId::new("bbbb"));
        assert_eq!(data.get(), r#"{"kind":"answer", "sdp":"v=0\r\n"}"#);
        assert!(read_signal(text).is_some(), "the one-pass read took it");
    }

    #[test]
    fn the_array_form_serde_reads_is_read_too() {
        let text = r#"["signal","b",{"kind":"end_of_candidates"}]"#;
        assert!(matches!(ClientMessage::parse(text), Ok(ClientMessage::Signal { .. })));
        let Some((to, data)) = read_signal(text) else { panic!("read in one pass") };
        assert_eq!((to.as_str(), data.get()), ("b", r#"{"kind":"end_of_candidates"}"#));
    }

    #[test]
    fn other_messages_and_errors_are_the_typed_parse() {
        for text in [
            r#"{"type":"join","room":"r1"}"#,
            r#"{"type":"join","room":"no spaces"}"#,
            r#"{"type":"leave"}"#,
            r#"{"type":"signal","to":"b","data":{"kind":"offer"}}"#,
            r#"{"type":"signal","to":"b"}"#,
            r#"{"type":"dance"}"#,
            r#"{"type":"signal","to":"b","data":{"kind":"end_of_candidates"},"x":"\ud800"}"#,
            r#"{"type":"signal","to":"b","data":{"kind":"end_of_candidates","x":["\ud800"]}}"#,
            r#"["signal","b",{"kind":"end_of_candidates"},5]"#,
            r#"["signal","b"]"#,
            "not json",
        ] {
            match (parse_incoming(text), ClientMessage::parse(text)) {
                (Ok(Incoming::Join { room, resume }), Ok(typed)) => {
                    assert_eq!(ClientMessage::Join { room, resume }, typed, "{text}");
                }
                (Ok(Incoming::Leave), Ok(typed)) => assert_eq!(ClientMessage::Leave, typed, "{text}"),
                (Ok(Incoming::IceConfig), Ok(typed)) => assert_eq!(ClientMessage::IceConfig, typed, "{text}"),
                (Err(ours), Err(typed)) => assert_eq!(ours, typed, "{text}"),
                (ours, typed) => panic!("{text}: {ours:?} vs {typed:?}"),
            }
        }
    }

    mod agreement {
        use proptest::prelude::*;
        use shared::Signal;

        use super::super::*;

        fn one_of(members: &[&'static str]) -> impl Strategy<Value = Option<&'static str>> {
            prop::option::weighted(0.85, prop::sample::select(members.to_vec()))
        }

        /// A client message's members in any order: mostly one `type`, `to` and `data` each,
        /// right or wrong (escapes, nulls, wrong types), sometimes missing, plus unknown members
        /// and duplicates.
        fn message() -> impl Strategy<Value = String> {
            let kind = one_of(&[
                r#""type":"signal""#,
                r#""type":"sig\u006eal""#,
                r#""type":"join""#,
                r#""type":"leave""#,
                r#""type":"Signal""#,
                r#""type":5"#,
                r#""type":null"#,
            ]);
            let to = one_of(&[
                r#""to":"bbbb""#,
                r#""to":"a\"b""#,
                r#""to":"""#,
                r#""to":null"#,
                r#""to":7"#,
                r#""to":["b"]"#,
            ]);
            let data = one_of(&[
                r#""data":{"kind":"offer","sdp":"v=0\r\n"}"#,
                r#""data":{"sdp":"v=0","kind":"answer","extra":[1,{"a":null}]}"#,
                r#""data":{"kind":"candidate","candidate":"c:1","sdp_mid":null,"sdp_m_line_index":0}"#,
                r#""data":{"kind":"candidate","candidate":"c:1","sdp_m_line_index":70000}"#,
                r#""data":{"kind":"end_of_candidates"}"#,
                r#""data":{"kind":"end_of_candidates","x":"\ud800"}"#,
                r#""data":["answer","v=0"]"#,
                r#""data":{"kind":"offer"}"#,
                r#""data":{"kind":"dance"}"#,
                r#""data":{"kind":"offer","sdp":"a","sdp":"b"}"#,
                r#""data":null"#,
                r#""data":"offer""#,
                r#""data":[]"#,
            ]);
            let extra = prop::collection::vec(
                prop::sample::select(vec![
                    r#""room":"r1""#,
                    r#""resume":"tok""#,
                    r#""x":{"type":"join"}"#,
                    r#""x":["\ud800"]"#,
                    r#""x":{"\udc00":1}"#,
                    r#""type":"signal""#,
                    r#""to":"cccc""#,
                    r#""data":{"kind":"end_of_candidates"}"#,
                ]),
                0..2,
            );
            (kind, to, data, extra)
                .prop_flat_map(|(kind, to, data, extra)| {
                    Just([kind, to, data].into_iter().flatten().chain(extra).collect::<Vec<_>>()).prop_shuffle()
                })
                .prop_map(|members| format!("{{{}}}", members.join(",")))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// The one-pass read takes a message exactly when the typed parse finds a signal,
            /// with the same recipient and payload; whatever it leaves, the typed parse answers.
            #[test]
            fn the_one_pass_read_agrees_with_the_typed_parse(text in message()) {
                let typed = ClientMessage::parse(&text);
                match (read_signal(&text), &typed) {
                    (Some((to, data)), Ok(ClientMessage::Signal { to: typed_to, data: typed_data })) => {
                        prop_assert_eq!(&to, typed_to);
                        prop_assert_eq!(&serde_json::from_str::<Signal>(data.get()).unwrap(), typed_data);
                        prop_assert_eq!(Some(data.get()), signal_payload(&text).map(RawValue::get));
                    }
                    (None, Ok(ClientMessage::Signal { .. })) => prop_assert!(false, "missed a signal: {}", text),
                    (Some(_), _) => prop_assert!(false, "took a non-signal: {} ({:?})", text, typed),
                    (None, _) => {}
                }
            }
        }
    }
}
