//! The few RESP2 frames a node's inbox subscription sees, read sans-IO and borrowed from the
//! bytes read: every relayed signal crosses this parser once, so it allocates nothing and copies
//! nothing (the Redis client's general parser built a value tree per message and cost more than
//! the rest of the receiving side together). Also the commands the subscription sends.
//!
//! A subscribed connection (RESP2, no `HELLO`) receives only three-element arrays
//! (`message`, `subscribe`, `unsubscribe`: kind, channel, then a bulk string or an integer),
//! and before it subscribes the answers to `AUTH`: a status or an error.

/// One frame read from a subscription.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `+OK`: a command's success.
    Status(&'a [u8]),
    /// `-ERR …`: a command's failure.
    Error(&'a [u8]),
    /// `*3`: a published message or a subscription's confirmation.
    Push { kind: &'a [u8], channel: &'a [u8], last: Item<'a> },
}

/// The third element of a push: the message, or the subscription count.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Bulk(&'a [u8]),
    Int(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespError {
    #[error("unexpected byte {0:#04x} where a RESP frame starts")]
    Unexpected(u8),
    #[error("a RESP length or integer is malformed")]
    BadNumber,
    #[error("a bulk string of {0} bytes is over the limit")]
    TooLong(u64),
    #[error("a RESP frame does not end where its length says")]
    BadTerminator,
    #[error("an array of {0} elements where a subscription push has 3")]
    BadPush(i64),
}

/// The digits of a length or integer, at most (an `i64` has 19 and a sign).
const NUMBER_MAX: usize = 20;

/// The next complete frame at the start of `buf` and the bytes it takes; `Ok(None)` when more
/// bytes are needed. A bulk string longer than `bulk_max` is an error before it is buffered.
pub fn frame(buf: &[u8], bulk_max: usize) -> Result<Option<(Frame<'_>, usize)>, RespError> {
    let Some(&first) = buf.first() else { return Ok(None) };
    match first {
        b'+' | b'-' => {
            let Some(end) = line_end(buf, 1)? else { return Ok(None) };
            let text = &buf[1..end];
            let frame = if first == b'+' { Frame::Status(text) } else { Frame::Error(text) };
            Ok(Some((frame, end + 2)))
        }
        b'*' => {
            let Some((count, mut at)) = number(buf, 1)? else { return Ok(None) };
            if count != 3 {
                return Err(RespError::BadPush(count));
            }
            let Some((Item::Bulk(kind), next)) = item(buf, at, bulk_max)? else { return need_or_bad(buf, at) };
            at = next;
            let Some((Item::Bulk(channel), next)) = item(buf, at, bulk_max)? else { return need_or_bad(buf, at) };
            at = next;
            let Some((last, next)) = item(buf, at, bulk_max)? else { return Ok(None) };
            Ok(Some((Frame::Push { kind, channel, last }, next)))
        }
        other => Err(RespError::Unexpected(other)),
    }
}

/// After an element that was not a bulk string: more bytes needed, or a malformed push.
fn need_or_bad<T>(buf: &[u8], at: usize) -> Result<Option<T>, RespError> {
    match buf.get(at) {
        None | Some(b'$') => Ok(None),
        Some(&other) => Err(RespError::Unexpected(other)),
    }
}

/// A bulk string or an integer at `at`, and where the next element starts.
fn item(buf: &[u8], at: usize, bulk_max: usize) -> Result<Option<(Item<'_>, usize)>, RespError> {
    let Some(&first) = buf.get(at) else { return Ok(None) };
    match first {
        b':' => Ok(number(buf, at + 1)?.map(|(n, next)| (Item::Int(n), next))),
        b'$' => {
            let Some((len, start)) = number(buf, at + 1)? else { return Ok(None) };
            let len = u64::try_from(len).map_err(|_| RespError::BadNumber)?;
            let len = usize::try_from(len).ok().filter(|&n| n <= bulk_max).ok_or(RespError::TooLong(len))?;
            let end = start + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(RespError::BadTerminator);
            }
            Ok(Some((Item::Bulk(&buf[start..end]), end + 2)))
        }
        other => Err(RespError::Unexpected(other)),
    }
}

/// The decimal number from `at` to its CRLF, and where the next element starts.
fn number(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, RespError> {
    let Some(end) = line_end(buf, at)? else { return Ok(None) };
    let n = decimal(&buf[at..end]).ok_or(RespError::BadNumber)?;
    Ok(Some((n, end + 2)))
}

/// An optionally negative decimal; `None` if it is empty, has anything but digits or overflows.
/// By hand: two of these per message, where `str::parse` first validates UTF-8.
fn decimal(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > NUMBER_MAX {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    // Accumulated negative, so that i64::MIN fits.
    if negative {
        Some(n)
    } else {
        n.checked_neg()
    }
}

/// Where the CRLF of the line starting at `at` is; an error if it is longer than a number can be
/// (a status or error line is short too: Redis's own).
fn line_end(buf: &[u8], at: usize) -> Result<Option<usize>, RespError> {
    const LINE_MAX: usize = 512;
    let full = LINE_MAX.max(NUMBER_MAX) + 2;
    let window = &buf[at.min(buf.len())..buf.len().min(at + full)];
    match window.iter().position(|&b| b == b'\r') {
        Some(i) if i + 1 < window.len() && window[i + 1] == b'\n' => Ok(Some(at + i)),
        Some(i) if i + 1 < window.len() => Err(RespError::BadTerminator),
        _ if window.len() == full => Err(RespError::BadTerminator),
        _ => Ok(None),
    }
}

/// Appends a command as a RESP array of bulk strings.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    #[test]
    fn a_message_borrows_its_payload() {
        let bytes = b"*3\r\n$7\r\nmessage\r\n$4\r\nch:1\r\n$12\r\n7 T{\"a\":\"b\"}\r\n+OK";
        let (frame, used) = frame(bytes, MAX).unwrap().unwrap();
        assert_eq!(frame, Frame::Push { kind: b"message", channel: b"ch:1", last: Item::Bulk(b"7 T{\"a\":\"b\"}") });
        assert_eq!(&bytes[used..], b"+OK");
    }

    #[test]
    fn confirmations_statuses_and_errors() {
        let bytes = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
        assert_eq!(
            frame(bytes, MAX).unwrap(),
            Some((Frame::Push { kind: b"subscribe", channel: b"ch", last: Item::Int(1) }, bytes.len()))
        );
        assert_eq!(frame(b"+OK\r\n", MAX).unwrap(), Some((Frame::Status(b"OK"), 5)));
        let error = b"-WRONGPASS invalid username-password pair\r\n";
        assert_eq!(
            frame(error, MAX).unwrap(),
            Some((Frame::Error(b"WRONGPASS invalid username-password pair"), error.len()))
        );
    }

    #[test]
    fn every_prefix_of_a_frame_needs_more() {
        let bytes = b"*3\r\n$7\r\nmessage\r\n$4\r\nch:1\r\n$12\r\n7 S{\"a\":\r\n1}\r\n";
        for cut in 0..bytes.len() {
            assert_eq!(frame(&bytes[..cut], MAX), Ok(None), "cut at {cut}");
        }
        let (Frame::Push { last, .. }, used) = frame(bytes, MAX).unwrap().unwrap() else { panic!("a push") };
        assert_eq!((last, used), (Item::Bulk(&b"7 S{\"a\":\r\n1}"[..]), bytes.len()));
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert_eq!(frame(b"$3\r\nabc\r\n", MAX), Err(RespError::Unexpected(b'$')));
        assert_eq!(frame(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n", MAX), Err(RespError::BadPush(2)));
        assert_eq!(frame(b"*3\r\n:1\r\n", MAX), Err(RespError::Unexpected(b':')));
        assert_eq!(frame(b"*3\r\n$7\r\nmessageXY", MAX), Err(RespError::BadTerminator));
        assert_eq!(frame(b"*x\r\n", MAX), Err(RespError::BadNumber));
        assert_eq!(frame(b"*3\r\n$-1\r\n", MAX), Err(RespError::BadNumber));
        assert_eq!(frame(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2000000\r\n", MAX), Err(RespError::TooLong(2_000_000)));
        assert_eq!(frame(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n#1\r\n", MAX), Err(RespError::Unexpected(b'#')));
        assert_eq!(frame(b"*3\rx", MAX), Err(RespError::BadTerminator));
        assert_eq!(frame(&[b'*'; 600], MAX), Err(RespError::BadTerminator));
    }

    #[test]
    fn numbers_are_what_str_parse_says() {
        for text in [
            "0",
            "7",
            "-1",
            "65",
            "+1",
            "",
            "-",
            "1x",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "00012",
            "１",
        ] {
            assert_eq!(decimal(text.as_bytes()), text.parse::<i64>().ok().filter(|_| !text.starts_with('+')), "{text}");
        }
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &[b"AUTH", b"pw"]);
        command(&mut out, &[b"SUBSCRIBE", b"connect:inbox:n1"]);
        assert_eq!(out, b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$16\r\nconnect:inbox:n1\r\n");
    }
}
