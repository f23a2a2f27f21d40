//! What travels on a node's inbox channel (`connect:inbox:<node>`): every message is addressed to
//! one connection of that node, `<conn> <kind><body>`. Sans-IO: the envelopes built and parsed
//! here; the scripts (Lua) build the kinds they publish the same way.
//!
//! A relay with a known recipient is one `PUBLISH` of a [`Inbox::Signal`] that names the seat it
//! is meant for, so the receiving node can refuse it when that connection no longer holds that
//! seat (it left, went away, was replaced) instead of handing it to whoever holds the connection:
//! the sender's cache of where peers sit is a hint, the receiving node's own state is the truth.

use std::io;

use crate::engine::peer::ConnId;

/// A message on a node's inbox channel.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbox<'a> {
    /// `T<json>`: deliver this text to the connection.
    Text(ConnId, &'a str),
    /// `R`: another connection took this connection's seat: close it (4001).
    Replaced(ConnId),
    /// `P<peer> <node> <conn> <json>`: `peer`, in the connection's room, now sits at that node's
    /// connection (it joined or resumed); deliver `json` unless it is empty.
    Placed { conn: ConnId, peer: &'a str, node: &'a str, at: ConnId, json: &'a str },
    /// `L<peer> <json>`: `peer` left the connection's room; deliver `json`.
    Left { conn: ConnId, peer: &'a str, json: &'a str },
    /// `S<node> <conn> <from> <to> <json>`: a signal from `from` (sent by that node's connection)
    /// for the seat `to`, which the sender believes this connection holds.
    Signal(Signal<'a>),
    /// `U<peer>`: a signal this connection sent to `peer` found no such seat where it went.
    Undelivered { conn: ConnId, peer: &'a str },
}

/// A relayed signal as the receiving node checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal<'a> {
    pub conn: ConnId,
    pub from_node: &'a str,
    pub from_conn: ConnId,
    pub from: &'a str,
    pub to: &'a str,
    pub json: &'a str,
}

pub fn parse(payload: &[u8]) -> Option<Inbox<'_>> {
    let text = std::str::from_utf8(payload).ok()?;
    let (conn, rest) = split_word(text)?;
    let conn: ConnId = conn.parse().ok()?;
    let (kind, body) = rest.split_at_checked(1)?;
    match kind {
        "T" => Some(Inbox::Text(conn, body)),
        "R" if body.is_empty() => Some(Inbox::Replaced(conn)),
        "P" => {
            let [peer, node, at, json] = words(body)?;
            Some(Inbox::Placed { conn, peer, node, at: at.parse().ok()?, json })
        }
        "L" => {
            let (peer, json) = split_word(body)?;
            (!peer.is_empty()).then_some(Inbox::Left { conn, peer, json })
        }
        "S" => {
            let [from_node, from_conn, from, rest] = words(body)?;
            let (to, json) = split_word(rest)?;
            let from_conn = from_conn.parse().ok()?;
            (!to.is_empty()).then_some(Inbox::Signal(Signal { conn, from_node, from_conn, from, to, json }))
        }
        "U" if !body.is_empty() && !body.contains(' ') => Some(Inbox::Undelivered { conn, peer: body }),
        _ => None,
    }
}

/// Three space-separated non-empty words and the rest after the third space.
fn words(body: &str) -> Option<[&str; 4]> {
    let (first, rest) = split_word(body)?;
    let (second, rest) = split_word(rest)?;
    let (third, rest) = split_word(rest)?;
    let out = [first, second, third, rest];
    out[..3].iter().all(|w| !w.is_empty()).then_some(out)
}

/// The text before the first space and the text after it. Words are short: a byte loop finds
/// the space sooner than a general search sets itself up (every relayed signal is split so).
fn split_word(text: &str) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == b' ')?;
    // A space is one byte, so both sides are at char boundaries.
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// The envelope of a relayed signal for `to`, held by connection `at` of the node it goes to.
#[cfg(test)]
pub fn signal(at: ConnId, from_node: &str, from_conn: ConnId, from: &str, to: &str, json: &str) -> String {
    let mut out = Vec::with_capacity(json.len() + from_node.len() + from.len() + to.len() + 48);
    // Writing into a Vec cannot fail.
    let _ = write_signal(&mut out, at, from_node, from_conn, from, to, &[json]);
    // Made of `str`s and ASCII only.
    String::from_utf8(out).unwrap_or_default()
}

/// [`signal`] written where it goes, the message given in pieces (see
/// `relay::relayed_signal_parts`): a relay's one copy of the signal on its way to Redis.
pub fn write_signal(
    out: &mut impl io::Write,
    at: ConnId,
    from_node: &str,
    from_conn: ConnId,
    from: &str,
    to: &str,
    json: &[&str],
) -> io::Result<()> {
    let mut digits = [0; 20];
    out.write_all(decimal(at, &mut digits))?;
    out.write_all(b" S")?;
    out.write_all(from_node.as_bytes())?;
    out.write_all(b" ")?;
    out.write_all(decimal(from_conn, &mut digits))?;
    for word in [from, to] {
        out.write_all(b" ")?;
        out.write_all(word.as_bytes())?;
    }
    out.write_all(b" ")?;
    json.iter().try_for_each(|part| out.write_all(part.as_bytes()))
}

/// `n` in decimal, in `digits`, without the formatting machinery (a relay writes two).
fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

/// The first byte of a batch: several envelopes in one `PUBLISH` (never a digit, which every
/// single envelope starts with).
pub const BATCH: u8 = b'*';

/// The digits of an envelope's length in a batch, zero-padded: the length is known only once the
/// envelope is written after it.
const BATCH_LEN_DIGITS: usize = 10;

/// Starts a batch in `out` (empty).
pub fn start_batch(out: &mut Vec<u8>) {
    out.push(BATCH);
}

/// Appends one envelope to the batch in `out`, written by `write`: each is preceded by its length.
pub fn add_to_batch(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[b'0'; BATCH_LEN_DIGITS]);
    write(out);
    let len = out.len() - at - BATCH_LEN_DIGITS;
    let mut digits = [0; 20];
    let digits = decimal(len as u64, &mut digits);
    out[at + BATCH_LEN_DIGITS - digits.len()..at + BATCH_LEN_DIGITS].copy_from_slice(digits);
}

/// The envelopes of a batch, in order; `None` for a single envelope (not a batch). A malformed
/// rest ends the iteration with one `Err`.
pub fn batch(payload: &[u8]) -> Option<impl Iterator<Item = Result<&[u8], ()>>> {
    let mut rest = payload.strip_prefix(&[BATCH])?;
    let mut failed = false;
    Some(std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let envelope = rest.split_at_checked(BATCH_LEN_DIGITS).and_then(|(len, after)| {
            let len: usize = std::str::from_utf8(len).ok()?.parse().ok()?;
            after.split_at_checked(len)
        });
        match envelope {
            Some((envelope, after)) => {
                rest = after;
                Some(Ok(envelope))
            }
            None => {
                failed = true;
                Some(Err(()))
            }
        }
    }))
}

/// The answer to a [`Signal`] whose seat was not where it went, for the sender's node.
pub fn undelivered(from_conn: ConnId, to: &str) -> String {
    format!("{from_conn} U{to}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_replaced() {
        assert_eq!(parse(b"17 T{\"type\":\"x\"}"), Some(Inbox::Text(17, "{\"type\":\"x\"}")));
        assert_eq!(parse(b"4 R"), Some(Inbox::Replaced(4)));
    }

    #[test]
    fn a_signal_round_trips_with_spaces_in_its_json() {
        let json = r#"{"type":"signal","from":"pA","data":{"sdp":"v=0 o=- 1 2 IN IP4"}}"#;
        let envelope = signal(9, "nodeB_-", 31, "pA", "pB", json);
        assert_eq!(
            parse(envelope.as_bytes()),
            Some(Inbox::Signal(Signal { conn: 9, from_node: "nodeB_-", from_conn: 31, from: "pA", to: "pB", json }))
        );
        assert_eq!(parse(undelivered(31, "pB").as_bytes()), Some(Inbox::Undelivered { conn: 31, peer: "pB" }));
    }

    #[test]
    fn a_batch_carries_envelopes_of_any_content_in_order() {
        let mut out = Vec::new();
        start_batch(&mut out);
        let envelopes = ["9 S{\"a\":\"x y\"}", "3 T{}", "12 Ux", ""];
        for e in envelopes {
            add_to_batch(&mut out, |out| out.extend_from_slice(e.as_bytes()));
        }
        let got: Vec<_> = batch(&out).unwrap().collect();
        let want: Vec<Result<&[u8], ()>> = envelopes.iter().map(|e| Ok(e.as_bytes())).collect();
        assert_eq!(got, want);
        assert!(batch(b"9 T{}").is_none(), "a single envelope is not a batch");
        assert_eq!(batch(b"*").unwrap().count(), 0);
        for bad in [&b"*00000000"[..], b"*0000000009abc", b"*000000000x", b"*0000000003abc0000000001"] {
            let got: Vec<_> = batch(bad).unwrap().collect();
            assert_eq!(got.last(), Some(&Err(())), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn decimals() {
        let mut digits = [0; 20];
        for n in [0, 7, 10, 31, 1_000_000, u64::MAX] {
            assert_eq!(decimal(n, &mut digits), n.to_string().as_bytes());
        }
    }

    #[test]
    fn placed_and_left_carry_their_message_or_none() {
        assert_eq!(
            parse(b"3 PpB n1 8 {\"type\":\"peer_joined\"}"),
            Some(Inbox::Placed { conn: 3, peer: "pB", node: "n1", at: 8, json: "{\"type\":\"peer_joined\"}" })
        );
        assert_eq!(parse(b"3 PpB n1 8 "), Some(Inbox::Placed { conn: 3, peer: "pB", node: "n1", at: 8, json: "" }));
        assert_eq!(parse(b"3 LpB {}"), Some(Inbox::Left { conn: 3, peer: "pB", json: "{}" }));
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        for bad in [
            &b""[..],
            b"17",
            b"17 ",
            b"x T{}",
            b"17 Rx",
            b"17 Q{}",
            b"-1 T{}",
            b"17 T\xff",
            b"3 PpB n1 8",
            b"3 PpB n1 x {}",
            b"3 P n1 8 {}",
            b"3 L {}",
            b"3 LpB",
            b"3 Sn 1 pA",
            b"3 Sn x pA pB {}",
            b"3 Sn 1 pA  {}",
            b"3 U",
            b"3 Ua b",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
