//! Property tests for the sans-IO parsers: frames, the streaming decoder, message reassembly, UTF-8
//! validation, masking and the HTTP request head. Each is checked against a model of its input, and
//! against itself when the same bytes arrive cut into other pieces — the way a socket delivers them.

use std::ops::ControlFlow;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use signaling::http1::request::{Request, RequestError};
use signaling::ws::codec::{Decoded, Decoder};
use signaling::ws::frame::{apply_mask, write_frame, FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use signaling::ws::handshake::{accept_key, validate, OriginPolicy};
use signaling::ws::protocol::{Incoming, Reader};
use signaling::ws::utf8::Utf8Validator;
use signaling::ws::ProtocolError;

// ---------------------------------------------------------------------------------------------
// Cutting a byte stream into reads.

/// Where a stream is cut: at arbitrary points (duplicates give empty reads), or every `n` bytes.
#[derive(Debug, Clone)]
enum Cuts {
    At(Vec<Index>),
    Every(usize),
}

const WHOLE: Cuts = Cuts::At(Vec::new());

fn cuts() -> impl Strategy<Value = Cuts> {
    prop_oneof![3 => vec(any::<Index>(), 0..16).prop_map(Cuts::At), 1 => (1usize..20).prop_map(Cuts::Every)]
}

/// The reads for `len` bytes as `(start, end)` ranges covering `0..len` in order.
fn pieces(cuts: &Cuts, len: usize) -> Vec<(usize, usize)> {
    let mut at: Vec<usize> = match cuts {
        Cuts::At(points) => points.iter().map(|i| i.index(len + 1)).collect(),
        Cuts::Every(n) => (*n..len).step_by(*n).collect(),
    };
    at.sort_unstable();
    let starts = std::iter::once(0).chain(at.iter().copied());
    starts.zip(at.iter().copied().chain(std::iter::once(len))).collect()
}

/// Deterministic filler for payloads too large to generate byte by byte (splitmix64).
fn filled(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let z = (state ^ (state >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            ((z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB) >> 56) as u8
        })
        .collect()
}

/// Data payloads: mostly small, sometimes on the 7/16/64-bit length encoding boundaries.
fn data_payload() -> impl Strategy<Value = Vec<u8>> {
    let boundary = select(vec![124usize, 125, 126, 127, 255, 256, 65534, 65535, 65536, 65537]);
    prop_oneof![
        8 => vec(any::<u8>(), 0..200),
        1 => (boundary, any::<u64>()).prop_map(|(len, seed)| filled(len, seed)),
    ]
}

fn control_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..=MAX_CONTROL_PAYLOAD),
        1 => (select(vec![0usize, 124, 125]), any::<u64>()).prop_map(|(len, seed)| filled(len, seed)),
    ]
}

// ---------------------------------------------------------------------------------------------
// The frame decoder.

/// A frame as a client writes it.
#[derive(Debug, Clone)]
struct ClientFrame {
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    let mask = prop_oneof![4 => any::<[u8; 4]>().prop_map(Some), 1 => Just(None)];
    let data = (select(vec![OpCode::Text, OpCode::Binary, OpCode::Continuation]), any::<bool>(), data_payload());
    let control = (select(vec![OpCode::Close, OpCode::Ping, OpCode::Pong]), Just(true), control_payload());
    (prop_oneof![3 => data, 1 => control], mask).prop_map(|((opcode, fin, payload), mask)| ClientFrame {
        fin,
        opcode,
        mask,
        payload,
    })
}

/// What the decoder produced: complete frames, a frame still in progress, and the error that stopped it.
#[derive(Debug, PartialEq)]
struct DecodedStream {
    frames: Vec<(FrameHeader, Vec<u8>)>,
    partial: Option<(FrameHeader, Vec<u8>)>,
    error: Option<ProtocolError>,
}

fn decode(wire: &[u8], cuts: &Cuts) -> DecodedStream {
    let mut owned = wire.to_vec();
    let mut decoder = Decoder::default();
    let mut out = DecodedStream { frames: Vec::new(), partial: None, error: None };
    for (start, end) in pieces(cuts, wire.len()) {
        let mut input: &mut [u8] = &mut owned[start..end];
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(Decoded::Header(h))) => {
                    assert!(out.partial.is_none(), "a header inside a frame");
                    out.partial = Some((h, Vec::new()));
                }
                Ok(Some(Decoded::Payload(p))) => out.partial.as_mut().expect("payload outside a frame").1.extend(&*p),
                Ok(Some(Decoded::FrameEnd)) => out.frames.push(out.partial.take().expect("end outside a frame")),
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            }
        }
        assert!(input.is_empty(), "`Ok(None)` with {} bytes left unread", input.len());
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn written_frames_decode_to_the_same_headers_and_payloads(
        frames in vec(client_frame(), 0..8),
        cuts in cuts(),
    ) {
        let mut wire = Vec::new();
        for f in &frames {
            write_frame(&mut wire, f.fin, f.opcode, f.mask, &f.payload);
        }
        let expected: Vec<_> = frames
            .iter()
            .map(|f| {
                let header =
                    FrameHeader { fin: f.fin, rsv: 0, opcode: f.opcode, mask: f.mask, payload_len: f.payload.len() as u64 };
                (header, f.payload.clone())
            })
            .collect();
        let whole = decode(&wire, &WHOLE);
        prop_assert_eq!(&whole, &DecodedStream { frames: expected, partial: None, error: None });
        prop_assert_eq!(decode(&wire, &cuts), whole);
    }

    #[test]
    fn header_write_then_parse_is_identity_and_every_prefix_needs_more(
        fin in any::<bool>(),
        rsv in 0u8..8,
        opcode in select(vec![OpCode::Text, OpCode::Binary, OpCode::Continuation]),
        mask in proptest::option::of(any::<[u8; 4]>()),
        payload_len in prop_oneof![
            select(vec![0u64, 125, 126, 127, 0xFFFF, 0x1_0000, (1 << 63) - 1]),
            0u64..0x2_0000,
            0u64..(1 << 63),
        ],
    ) {
        let header = FrameHeader { fin, rsv, opcode, mask, payload_len };
        let mut out = Vec::new();
        header.write(&mut out);
        let ext = match payload_len { 0..=125 => 0, 126..=0xFFFF => 2, _ => 8 };
        prop_assert_eq!(out.len(), 2 + ext + if mask.is_some() { 4 } else { 0 });
        prop_assert_eq!(FrameHeader::parse(&out), Ok(Some((header, out.len()))));
        for cut in 0..out.len() {
            prop_assert_eq!(FrameHeader::parse(&out[..cut]), Ok(None), "cut at {}", cut);
        }
    }

    #[test]
    fn decoder_on_garbage_agrees_with_itself_whatever_the_reads(wire in hostile_bytes(), cuts in cuts()) {
        prop_assert_eq!(decode(&wire, &cuts), decode(&wire, &WHOLE));
    }
}

// ---------------------------------------------------------------------------------------------
// Messages through the protocol reader.

/// What the reader delivered, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

impl From<Incoming<'_>> for Got {
    fn from(m: Incoming<'_>) -> Got {
        match m {
            Incoming::Text(t) => Got::Text(t.to_owned()),
            Incoming::Binary(b) => Got::Binary(b.to_vec()),
            Incoming::Ping(p) => Got::Ping(p.to_vec()),
            Incoming::Pong(p) => Got::Pong(p.to_vec()),
            Incoming::Close(c) => Got::Close(c.map(|c| (c.code.0, c.reason.to_owned()))),
        }
    }
}

/// Feeds `wire` to a fresh reader in the given reads; returns what it delivered and its error.
fn read(wire: &[u8], cuts: &Cuts, max_message_size: usize) -> (Vec<Got>, Option<ProtocolError>) {
    let mut reader = Reader::new(max_message_size);
    let mut owned = wire.to_vec();
    let mut got = Vec::new();
    for (start, end) in pieces(cuts, wire.len()) {
        let result = reader.feed(&mut owned[start..end], |m| {
            got.push(Got::from(m));
            ControlFlow::Continue(())
        });
        if let Err(e) = result {
            return (got, Some(e));
        }
    }
    (got, None)
}

/// One data message, cut into fragments with control frames between them.
#[derive(Debug, Clone)]
struct Planned {
    message: Got,
    /// Fragment boundaries in the payload; equal points make empty fragments.
    fragments: Vec<Index>,
    /// `controls[i]` are sent just before fragment `i`.
    controls: Vec<Vec<Got>>,
    /// Masking keys, used in turn by the message's frames.
    keys: Vec<[u8; 4]>,
}

fn text() -> impl Strategy<Value = String> {
    let chars = vec(any::<char>(), 0..60).prop_map(String::from_iter);
    let big = (vec(any::<char>(), 1..8), select(vec![126usize, 65_536, 70_000])).prop_map(|(chars, target)| {
        let unit = String::from_iter(chars);
        unit.repeat(target.div_ceil(unit.len()))
    });
    prop_oneof![8 => chars, 1 => big]
}

fn planned() -> impl Strategy<Value = Planned> {
    let message = prop_oneof![text().prop_map(Got::Text), data_payload().prop_map(Got::Binary)];
    let control = prop_oneof![control_payload().prop_map(Got::Ping), control_payload().prop_map(Got::Pong)];
    let controls = vec(vec(control, 0..3), 0..6);
    (message, vec(any::<Index>(), 0..5), controls, vec(any::<[u8; 4]>(), 1..4))
        .prop_map(|(message, fragments, controls, keys)| Planned { message, fragments, controls, keys })
}

/// A close frame to end the stream with: no body, or a sendable code and a reason that fits.
fn close_body() -> impl Strategy<Value = Option<(u16, String)>> {
    let codes = vec![1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
    let code = prop_oneof![select(codes), 3000u16..5000];
    let reason = any::<String>().prop_map(|mut r| {
        let mut end = r.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !r.is_char_boundary(end) {
            end -= 1;
        }
        r.truncate(end);
        r
    });
    proptest::option::of((code, reason))
}

/// What a reader makes of a stream: the deliveries in order, and the error that ended it.
type Outcome = (Vec<Got>, Option<ProtocolError>);

/// The client's bytes for `plan`, and what a reader with `max_message_size` must make of them.
fn encode(plan: &[Planned], close: &Option<Option<(u16, String)>>, trailer: &[u8], max: usize) -> (Vec<u8>, Outcome) {
    let mut wire = Vec::new();
    let (mut expected, mut error) = (Vec::new(), None);
    for p in plan {
        let (opcode, payload) = match &p.message {
            Got::Text(t) => (OpCode::Text, t.as_bytes()),
            Got::Binary(b) => (OpCode::Binary, b.as_slice()),
            other => panic!("not a data message: {other:?}"),
        };
        let mut keys = p.keys.iter().copied().cycle();
        let fragments = pieces(&Cuts::At(p.fragments.clone()), payload.len());
        for (i, &(start, end)) in fragments.iter().enumerate() {
            for control in p.controls.get(i).into_iter().flatten() {
                let (op, body) = match control {
                    Got::Ping(b) => (OpCode::Ping, b),
                    Got::Pong(b) => (OpCode::Pong, b),
                    other => panic!("not a ping or pong: {other:?}"),
                };
                write_frame(&mut wire, true, op, keys.next(), body);
                if error.is_none() {
                    expected.push(control.clone());
                }
            }
            // The limit is checked on each fragment's header: the message so far plus this frame.
            if end > max {
                error = error.or(Some(ProtocolError::MessageTooBig));
            }
            let op = if i == 0 { opcode } else { OpCode::Continuation };
            write_frame(&mut wire, i + 1 == fragments.len(), op, keys.next(), &payload[start..end]);
        }
        if error.is_none() {
            expected.push(p.message.clone());
        }
    }
    if let Some(body) = close {
        let mut payload = Vec::new();
        if let Some((code, reason)) = body {
            payload.extend(code.to_be_bytes());
            payload.extend(reason.as_bytes());
        }
        write_frame(&mut wire, true, OpCode::Close, Some([0xA5, 0x5A, 0x0F, 0xF0]), &payload);
        if error.is_none() {
            expected.push(Got::Close(body.clone()));
        }
        wire.extend(trailer); // after a close nothing is read (§5.5.1)
    }
    (wire, (expected, error))
}

fn message_len(m: &Got) -> usize {
    match m {
        Got::Text(t) => t.len(),
        Got::Binary(b) => b.len(),
        _ => 0,
    }
}

/// Frame-shaped hostile bytes: any first byte, masked or not, minimal or oversized length encodings.
fn soup_frame() -> impl Strategy<Value = Vec<u8>> {
    let b0 = prop_oneof![
        3 => select(vec![0x81u8, 0x01, 0x80, 0x00, 0x82, 0x02, 0x88, 0x89, 0x8A, 0x09, 0xC1]),
        1 => any::<u8>(),
    ];
    let payload = prop_oneof![
        vec(any::<u8>(), 0..140),
        any::<String>().prop_map(String::into_bytes),
        vec(select(vec![0x03u8, 0xE8, 0xCE, 0xBA, 0xED, 0xA0, 0xF4, 0x90, 0x80, b'a']), 0..8),
    ];
    (b0, prop::bool::weighted(0.9), any::<[u8; 4]>(), 0u8..3, payload).prop_map(|(b0, masked, key, form, payload)| {
        let mask_bit = if masked { 0x80 } else { 0 };
        let mut out = vec![b0];
        match (form, payload.len()) {
            (0, len @ 0..=125) => out.push(mask_bit | len as u8),
            (0 | 1, len) => {
                out.push(mask_bit | 126);
                out.extend((len as u16).to_be_bytes());
            }
            (_, len) => {
                out.push(mask_bit | 127);
                out.extend((len as u64).to_be_bytes());
            }
        }
        if masked {
            out.extend(key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            out.extend(payload);
        }
        out
    })
}

/// A few bytes overwritten, then the end perhaps cut off.
fn damage(mut wire: Vec<u8>, edits: Vec<(Index, u8)>, cut: Option<Index>) -> Vec<u8> {
    if !wire.is_empty() {
        for (at, byte) in edits {
            let at = at.index(wire.len());
            wire[at] = byte;
        }
    }
    if let Some(cut) = cut {
        wire.truncate(cut.index(wire.len() + 1));
    }
    wire
}

/// Any bytes; frame-shaped chunks; or a valid stream of messages — the latter two damaged.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let edits = || vec((any::<Index>(), any::<u8>()), 0..3);
    let soup = (vec(soup_frame(), 0..8), edits(), any::<Option<Index>>())
        .prop_map(|(frames, edits, cut)| damage(frames.concat(), edits, cut));
    let stream = (vec(planned(), 0..4), proptest::option::of(close_body()), edits(), any::<Option<Index>>())
        .prop_map(|(plan, close, edits, cut)| damage(encode(&plan, &close, b"", usize::MAX).0, edits, cut));
    prop_oneof![1 => vec(any::<u8>(), 0..512), 2 => soup, 2 => stream]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_messages_arrive_intact_whatever_the_fragments_and_reads(
        plan in vec(planned(), 0..6),
        close in proptest::option::of(close_body()),
        trailer in vec(any::<u8>(), 0..32),
        slack in 0usize..2,
        cuts in cuts(),
    ) {
        let max = plan.iter().map(|p| message_len(&p.message)).max().unwrap_or(0) + slack;
        let (wire, expected) = encode(&plan, &close, &trailer, max);
        prop_assert_eq!(&expected.1, &None);
        prop_assert_eq!(&read(&wire, &WHOLE, max), &expected);
        prop_assert_eq!(read(&wire, &cuts, max), expected);
    }

    #[test]
    fn the_first_fragment_over_the_limit_fails_and_nothing_after_it_is_delivered(
        plan in vec(planned(), 1..6),
        close in proptest::option::of(close_body()),
        short_by in 1usize..3,
        cuts in cuts(),
    ) {
        let largest = plan.iter().map(|p| message_len(&p.message)).max().unwrap_or(0);
        let max = largest.saturating_sub(short_by);
        let (wire, expected) = encode(&plan, &close, b"", max);
        prop_assert_eq!(expected.1.is_some(), largest > 0);
        prop_assert_eq!(&read(&wire, &WHOLE, max), &expected);
        prop_assert_eq!(read(&wire, &cuts, max), expected);
    }

    #[test]
    fn reader_on_garbage_is_the_same_whatever_the_reads(
        wire in hostile_bytes(),
        max in select(vec![0usize, 8, 125, 200, 1 << 16]),
        cuts in cuts(),
    ) {
        let whole = read(&wire, &WHOLE, max);
        let (got, _) = &whole;
        prop_assert!(got.iter().all(|m| message_len(m) <= max), "a message over the limit: {:?}", got);
        let close_at = got.iter().position(|m| matches!(m, Got::Close(_)));
        prop_assert!(close_at.is_none_or(|at| at + 1 == got.len()), "delivered after a close: {:?}", got);
        prop_assert_eq!(read(&wire, &cuts, max), whole);
    }
}

// ---------------------------------------------------------------------------------------------
// UTF-8 validation and masking.

/// Bytes near the edges of UTF-8's rules: continuation bounds, overlong and surrogate leads, > U+10FFFF.
const TRICKY: [u8; 14] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF4, 0xF5];

fn utf8ish() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![any::<u8>(), select(TRICKY.to_vec())];
    let valid = vec(any::<char>(), 0..40).prop_map(|c| String::from_iter(c).into_bytes());
    let edited = (valid.clone(), vec((any::<Index>(), byte.clone()), 1..3)).prop_map(|(mut bytes, edits)| {
        for (at, b) in edits {
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                bytes[at] = b;
            }
        }
        bytes
    });
    let cut = (valid.clone(), any::<Index>()).prop_map(|(mut bytes, at)| {
        bytes.truncate(at.index(bytes.len() + 1));
        bytes
    });
    prop_oneof![vec(byte, 0..64), valid, edited, cut]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn utf8_validator_agrees_with_std_at_every_read(bytes in utf8ish(), cuts in cuts()) {
        let mut v = Utf8Validator::default();
        let mut failed = false;
        for (start, end) in pieces(&cuts, bytes.len()) {
            // It fails exactly when no continuation could make the bytes so far valid.
            let hopeless = matches!(std::str::from_utf8(&bytes[..end]), Err(e) if e.error_len().is_some());
            let result = v.feed(&bytes[start..end]);
            prop_assert_eq!(result.is_err(), hopeless, "after {:x?}", &bytes[..end]);
            if result.is_err() {
                failed = true;
                break;
            }
        }
        let valid = !failed && v.finish().is_ok();
        prop_assert_eq!(valid, std::str::from_utf8(&bytes).is_ok());
    }

    #[test]
    fn masking_in_pieces_is_bytewise_xor(
        data in vec(any::<u8>(), 0..100),
        key in any::<[u8; 4]>(),
        base in prop_oneof![0usize..8, any::<usize>()],
        cuts in cuts(),
    ) {
        let expected: Vec<u8> = data.iter().enumerate().map(|(i, b)| b ^ key[base.wrapping_add(i) % 4]).collect();
        let mut masked = data.clone();
        for (start, end) in pieces(&cuts, data.len()) {
            apply_mask(&mut masked[start..end], key, base.wrapping_add(start));
        }
        prop_assert_eq!(masked, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// The HTTP request head and the opening handshake.

const TCHARS: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]";

/// A header value as httparse keeps it: no leading or trailing whitespace, obs-text allowed.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let visible = prop_oneof![0x21u8..=0x7E, 0x80u8..=0xFF];
    let inner = prop_oneof![8 => visible.clone(), 1 => Just(b' '), 1 => Just(b'\t')];
    prop_oneof![
        1 => Just(Vec::new()),
        6 => (visible.clone(), vec(inner, 0..30), visible).prop_map(|(a, mid, z)| [vec![a], mid, vec![z]].concat()),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let method = prop_oneof![select(vec!["GET", "POST", "HEAD", "OPTIONS"]).prop_map(str::to_owned), "[A-Z]{1,8}"];
    let name = proptest::string::string_regex(&format!("{TCHARS}{{1,20}}")).expect("a valid regex");
    let target = prop_oneof![Just("/".to_owned()), "/[!-~é€𝄞]{0,40}", Just("*".to_owned())];
    let version = prop_oneof![Just(0u8), Just(1u8)];
    (method, version, target, vec((name, header_value()), 0..12)).prop_map(
        |(method, version, target, headers): (_, _, _, Vec<(String, Vec<u8>)>)| Request {
            method,
            version,
            target,
            headers: headers.into_iter().collect(),
        },
    )
}

/// The request head on the wire, with a random amount of optional whitespace after each colon.
fn head_bytes(req: &Request, spaces: &[u8]) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.{}\r\n", req.method, req.target, req.version).into_bytes();
    for (i, (name, value)) in req.headers.iter().enumerate() {
        out.extend(name);
        out.push(b':');
        out.extend(std::iter::repeat_n(b' ', usize::from(spaces.get(i).copied().unwrap_or(1))));
        out.extend(value);
        out.extend(b"\r\n");
    }
    out.extend(b"\r\n");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_parse_never_panics_and_a_complete_head_stays_complete(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..300),
            (request(), vec(0u8..3, 12), vec((any::<Index>(), any::<u8>()), 1..4)).prop_map(|(r, s, edits)| {
                let mut b = head_bytes(&r, &s);
                for (at, byte) in edits {
                    let at = at.index(b.len());
                    b[at] = byte;
                }
                b
            }),
        ],
        extra in vec(any::<u8>(), 0..16),
        limit in prop_oneof![0usize..400, Just(usize::MAX)],
    ) {
        if let Ok(Some((req, n))) = Request::parse(&bytes, limit) {
            prop_assert!(n <= bytes.len() && n <= limit);
            // Bytes after a complete head belong to the next protocol, never to the head.
            let longer = [bytes.as_slice(), &extra].concat();
            prop_assert_eq!(Request::parse(&longer, limit), Ok(Some((req, n))));
        }
    }

    #[test]
    fn request_parse_needs_more_for_every_prefix_then_parses_the_whole(
        req in request(),
        spaces in vec(0u8..3, 12),
        extra in vec(any::<u8>(), 0..16),
        limit_slack in prop_oneof![3 => 0usize..64, 1 => Just(usize::MAX)],
        under in any::<Option<Index>>(),
    ) {
        let head = head_bytes(&req, &spaces);
        // Mostly a limit the head fits in; sometimes one anywhere below it.
        let limit = match under {
            Some(at) => at.index(head.len()),
            None => head.len().saturating_add(limit_slack),
        };
        for cut in 0..head.len() {
            let want = if cut > limit { Err(RequestError::TooLarge) } else { Ok(None) };
            prop_assert_eq!(Request::parse(&head[..cut], limit), want, "prefix of {} bytes", cut);
        }
        let whole = [head.as_slice(), &extra].concat();
        let want = if head.len() > limit { Err(RequestError::TooLarge) } else { Ok(Some((req, head.len()))) };
        prop_assert_eq!(Request::parse(&whole, limit), want);
    }

    #[test]
    fn any_spelling_of_a_valid_upgrade_is_accepted_with_its_accept_key(
        nonce in any::<[u8; 16]>(),
        upper in vec(any::<bool>(), 64),
        mut others in vec((proptest::string::string_regex("X-[A-Za-z]{1,8}").expect("a valid regex"), header_value()), 0..4),
        order in any::<Index>(),
    ) {
        let key = BASE64.encode(nonce);
        let mut flips = upper.iter().cycle();
        let mut spell = |s: &str| -> String {
            s.chars().map(|c| if *flips.next().unwrap_or(&false) { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
        };
        let mut headers = vec![
            (spell("Host"), b"example.com".to_vec()),
            (spell("Upgrade"), spell("websocket").into_bytes()),
            (spell("Connection"), format!("keep-alive, {}", spell("upgrade")).into_bytes()),
            (spell("Sec-WebSocket-Version"), b"13".to_vec()),
            (spell("Sec-WebSocket-Key"), key.clone().into_bytes()),
            (spell("Origin"), b"https://call.example".to_vec()),
        ];
        let at = order.index(headers.len() + 1);
        headers.splice(at..at, others.drain(..));
        let headers = headers.into_iter().collect();
        let req = Request { method: "GET".to_owned(), version: 1, target: "/ws".to_owned(), headers };
        let (parsed, _) = Request::parse(&head_bytes(&req, &[]), 8192).expect("a valid head").expect("complete");
        let accept = accept_key(key.as_bytes());
        prop_assert_eq!(accept.len(), 28);
        prop_assert_eq!(BASE64.decode(&accept).map(|sha1| sha1.len()), Ok(20));
        prop_assert_eq!(validate(&parsed, &OriginPolicy::Any), Ok(accept.clone()));
        let listed = OriginPolicy::parse("https://CALL.example/, http://localhost:8080");
        prop_assert_eq!(validate(&parsed, &listed), Ok(accept));
    }
}
