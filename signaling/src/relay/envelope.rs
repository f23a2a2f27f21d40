//! The members of a `signal` message, read in one pass and borrowed from its text: `type`, `to`,
//! and `data` as written. Everything else in the message is read through and dropped.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::RawValue;

/// The members every `signal` has, borrowed from the text where it has no escapes.
///
/// Read by hand rather than derived so that every other member is read the way the typed parse
/// reads it: serde buffers an internally tagged enum's members, decoding each string, so a member
/// that is not valid JSON text (a lone surrogate escape) fails that parse, and must fail this one.
/// A derived struct would skip it unread.
///
/// Any object reads as an envelope, with whichever of the three members it has: a `join`, the
/// other message a burst is made of, then costs the parse only, not the construction and drop
/// of a serde error as well (an allocated message, ~1,000 instructions per join).
pub(super) struct Envelope<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub to: Option<Cow<'a, str>>,
    pub data: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a signal message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut kind, mut to, mut data) = (None, None, None);
        while let Some(Text(key)) = map.next_key()? {
            match &*key {
                "type" => set_once(&mut kind, map.next_value::<Text<'de>>()?.0, "type")?,
                "to" => set_once(&mut to, map.next_value::<Text<'de>>()?.0, "to")?,
                "data" => set_once(&mut data, map.next_value()?, "data")?,
                _ => {
                    map.next_value::<AnyValue>()?;
                }
            }
        }
        Ok(Envelope { kind, to, data })
    }

    /// serde also reads an internally tagged enum from an array, tag first: `["signal", to, data]`.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let not_a_signal = || de::Error::custom("not a signal");
        let kind = seq.next_element::<Text<'de>>()?.ok_or_else(not_a_signal)?.0;
        let to = seq.next_element::<Text<'de>>()?.ok_or_else(not_a_signal)?.0;
        let data = seq.next_element()?.ok_or_else(not_a_signal)?;
        match seq.next_element::<AnyValue>()? {
            None => Ok(Envelope { kind: Some(kind), to: Some(to), data: Some(data) }),
            Some(_) => Err(not_a_signal()),
        }
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(E::duplicate_field(name)),
    }
}

/// A JSON string, borrowed unless it has escapes.
pub(super) struct Text<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
}

/// Any JSON value, read through and dropped, every string decoded (as serde's buffering does).
pub(super) struct AnyValue;

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor)
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_i64<E>(self, _: i64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_u64<E>(self, _: u64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_f64<E>(self, _: f64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_str<E>(self, _: &str) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_unit<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
        while seq.next_element::<AnyValue>()?.is_some() {}
        Ok(AnyValue)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
        while map.next_entry::<AnyValue, AnyValue>()?.is_some() {}
        Ok(AnyValue)
    }
}
