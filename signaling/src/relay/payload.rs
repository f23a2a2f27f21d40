//! Is a `signal`'s `data` a valid [`Signal`]? Asked of every relayed message, so answered in
//! one pass for the shape every client writes (`kind` first): the members the kind has are
//! read with their types, every other member read through as serde's buffering would read it.
//!
//! The typed parse of an internally tagged enum cannot know the variant before it has seen
//! `kind`, so it buffers every member first, decoding each string into an owned copy; for a
//! 256-byte candidate that was half of everything the server did per relayed message (callgrind:
//! 3,050 of 6,064 instructions in `parse_incoming`). When `kind` comes first there is nothing to
//! buffer. Anything else — `kind` later, the array form, and every payload the fast read does not
//! accept — gets the typed parse, so the answer is always exactly the typed parse's (the
//! agreement test in `relay` compares them on generated payloads).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use shared::Signal;

use super::envelope::{AnyValue, Text};
use super::RawValue;

/// Whether `data` parses as a [`Signal`].
pub fn is_signal(data: &RawValue) -> bool {
    accepted_fast(data.get()) || serde_json::from_str::<Signal>(data.get()).is_ok()
}

/// `true` only for a payload with `kind` first whose members are all valid for that kind.
fn accepted_fast(text: &str) -> bool {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.deserialize_map(KindFirst).is_ok() && deserializer.end().is_ok()
}

/// The members a kind has, past `kind` itself.
#[derive(Clone, Copy)]
enum Shape {
    /// `offer`, `answer`: `sdp`.
    Description,
    /// `candidate`, `sdp_mid`, `sdp_m_line_index`.
    Candidate,
    /// `end_of_candidates`: none.
    Bare,
    /// `connect_failed`: `reason`.
    Failure,
}

impl Shape {
    fn of(kind: &str) -> Option<Shape> {
        Some(match kind {
            "offer" | "answer" => Shape::Description,
            "candidate" => Shape::Candidate,
            "end_of_candidates" => Shape::Bare,
            "connect_failed" => Shape::Failure,
            _ => return None,
        })
    }
}

/// Which of a kind's members have been read (each at most once, as the derived parse demands).
#[derive(Default)]
struct Seen {
    first: bool,
    mid: bool,
    index: bool,
}

fn once<E: de::Error>(seen: &mut bool) -> Result<(), E> {
    if std::mem::replace(seen, true) {
        return Err(E::custom("a member twice"));
    }
    Ok(())
}

struct KindFirst;

impl<'de> Visitor<'de> for KindFirst {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a signal with `kind` first")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let not_fast = || de::Error::custom("not the fast shape");
        match map.next_key::<Text<'de>>()? {
            Some(Text(key)) if key == "kind" => {}
            _ => return Err(not_fast()),
        }
        let Text(kind) = map.next_value()?;
        let shape = Shape::of(&kind).ok_or_else(not_fast)?;
        let mut seen = Seen::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match (shape, &*key) {
                (_, "kind") => return Err(not_fast()),
                (Shape::Description, "sdp") | (Shape::Candidate, "candidate") | (Shape::Failure, "reason") => {
                    once(&mut seen.first)?;
                    map.next_value::<Text<'de>>()?;
                }
                (Shape::Candidate, "sdp_mid") => {
                    once(&mut seen.mid)?;
                    map.next_value::<Option<Text<'de>>>()?;
                }
                (Shape::Candidate, "sdp_m_line_index") => {
                    once(&mut seen.index)?;
                    map.next_value::<Option<u16>>()?;
                }
                _ => {
                    map.next_value::<AnyValue>()?;
                }
            }
        }
        match (shape, seen.first) {
            (Shape::Bare, _) | (_, true) => Ok(()),
            _ => Err(not_fast()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> &RawValue {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn what_clients_write_is_accepted_in_one_pass() {
        for text in [
            r#"{"kind":"offer","sdp":"v=0\r\n"}"#,
            r#"{"kind":"answer","sdp":""}"#,
            r#"{"kind":"candidate","candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdp_mid":"0","sdp_m_line_index":0}"#,
            r#"{"kind":"candidate","candidate":"","sdp_mid":null,"sdp_m_line_index":null,"username_fragment":"u"}"#,
            r#"{"kind":"end_of_candidates"}"#,
            r#"{"kind":"connect_failed","reason":"no-path"}"#,
            r#"{"kind":"connect_failed","reason":"from-a-newer-client"}"#,
        ] {
            assert!(accepted_fast(text), "{text}");
            assert!(is_signal(raw(text)), "{text}");
            assert!(serde_json::from_str::<Signal>(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn other_shapes_get_the_typed_answer() {
        for (text, valid) in [
            (r#"{"sdp":"v=0","kind":"offer"}"#, true),
            (r#"["end_of_candidates"]"#, true),
            (r#"{"kind":"offer"}"#, false),
            (r#"{"kind":"offer","sdp":1}"#, false),
            (r#"{"kind":"offer","sdp":"a","sdp":"b"}"#, false),
            (r#"{"kind":"offer","sdp":"a","kind":"offer"}"#, false),
            (r#"{"kind":"candidate","candidate":"c","sdp_m_line_index":65536}"#, false),
            (r#"{"kind":"candidate","candidate":"c","sdp_m_line_index":-1}"#, false),
            (r#"{"kind":"candidate","candidate":"c","sdp_mid":0}"#, false),
            (r#"{"kind":"end_of_candidates","x":"\ud800"}"#, false),
            (r#"{"kind":"dance"}"#, false),
            (r#"{"kind":"connect_failed","reason":5}"#, false),
            (r#"{}"#, false),
        ] {
            assert!(!accepted_fast(text) || valid, "{text}");
            assert_eq!(is_signal(raw(text)), valid, "{text}");
            assert_eq!(serde_json::from_str::<Signal>(text).is_ok(), valid, "{text}");
        }
    }

    mod agreement {
        use proptest::prelude::*;

        use super::super::*;

        /// A payload object: `kind` mostly first, then members of every kind, right or wrong
        /// (types, ranges, nulls, escapes, duplicates), in any order.
        fn payload() -> impl Strategy<Value = String> {
            let kind = prop::sample::select(vec![
                r#""kind":"offer""#,
                r#""kind":"answer""#,
                r#""kind":"candidate""#,
                r#""kind":"end_of_candidates""#,
                r#""kind":"connect_failed""#,
                r#""kind":"of\u0066er""#,
                r#""kind":"dance""#,
                r#""kind":null"#,
            ]);
            let member = prop::sample::select(vec![
                r#""sdp":"v=0\r\n""#,
                r#""sdp":5"#,
                r#""sdp":null"#,
                r#""s\u0064p":"x""#,
                r#""candidate":"candidate:1""#,
                r#""candidate":[]"#,
                r#""sdp_mid":"0""#,
                r#""sdp_mid":null"#,
                r#""sdp_mid":1"#,
                r#""sdp_m_line_index":0"#,
                r#""sdp_m_line_index":65535"#,
                r#""sdp_m_line_index":65536"#,
                r#""sdp_m_line_index":-1"#,
                r#""sdp_m_line_index":1.0"#,
                r#""sdp_m_line_index":"0""#,
                r#""reason":"no-path""#,
                r#""reason":"new-reason""#,
                r#""reason":{"no-path":null}"#,
                r#""reason":3"#,
                r#""kind":"offer""#,
                r#""x":"\ud800""#,
                r#""x":{"y":[1,null,true]}"#,
                r#""\udc00":1"#,
            ]);
            (kind, prop::collection::vec(member, 0..4), 0..6usize).prop_map(|(kind, members, at)| {
                let mut all = members;
                all.insert(at.min(all.len()), kind);
                format!("{{{}}}", all.join(","))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4_000))]

            #[test]
            fn the_fast_read_agrees_with_the_typed_parse(text in payload()) {
                let typed = serde_json::from_str::<Signal>(&text).is_ok();
                prop_assert!(!accepted_fast(&text) || typed, "accepted what the typed parse refuses: {}", text);
                let data: &RawValue = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(is_signal(data), typed, "{}", text);
            }
        }
    }
}
