//! Client bytes into the frame decoder and the message reader, cut into reads chosen by the input.
//!
//! Input layout: `[config, read lengths..., stream...]`. The low two bits of `config` pick the
//! message size limit, the next three bits how many read-length bytes follow (0: one read). The
//! same stream fed in one read must give the same frames, messages and error: a difference is a bug.
#![no_main]
#![forbid(unsafe_code)]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use signaling::ws::codec::{Decoded, Decoder};
use signaling::ws::frame::FrameHeader;
use signaling::ws::protocol::{Incoming, Reader};
use signaling::ws::ProtocolError;

/// Limits worth reaching: the server's small test limit, a control frame's size, tiny, none at all.
const LIMITS: [usize; 4] = [64 * 1024, 125, 16, 0];

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else { return };
    let max = LIMITS[usize::from(config & 0b11)];
    let n_lens = usize::from((config >> 2) & 0b111).min(rest.len());
    let (lens, stream) = rest.split_at(n_lens);
    let reads = reads(lens, stream.len());

    let whole = read(stream, &[(0, stream.len())], max);
    let split = read(stream, &reads, max);
    assert_eq!(split, whole, "reader: reads {reads:?} differ from one read");
    let (got, _) = &whole;
    assert!(got.iter().all(|m| m.data_len() <= max), "a message over the {max}-byte limit: {got:?}");
    if let Some(at) = got.iter().position(|m| matches!(m, Got::Close(_))) {
        assert_eq!(at + 1, got.len(), "delivered after a close: {got:?}");
    }

    assert_eq!(decode(stream, &reads), decode(stream, &[(0, stream.len())]), "decoder: reads {reads:?}");
});

/// Read boundaries: the lengths in `lens` in turn (0 is an empty read), over `len` bytes.
fn reads(lens: &[u8], len: usize) -> Vec<(usize, usize)> {
    if lens.iter().all(|&l| l == 0) {
        // Only empty reads would never finish: one empty read, then the rest at once.
        return vec![(0, 0), (0, len)];
    }
    let mut out = Vec::new();
    let mut at = 0;
    for &l in lens.iter().cycle() {
        let end = (at + usize::from(l)).min(len);
        out.push((at, end));
        at = end;
        if at == len {
            break;
        }
    }
    out
}

#[derive(Debug, PartialEq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

impl Got {
    fn data_len(&self) -> usize {
        match self {
            Got::Text(t) => t.len(),
            Got::Binary(b) => b.len(),
            _ => 0,
        }
    }
}

fn read(stream: &[u8], reads: &[(usize, usize)], max: usize) -> (Vec<Got>, Option<ProtocolError>) {
    let mut owned = stream.to_vec();
    let mut reader = Reader::new(max);
    let mut got = Vec::new();
    for &(start, end) in reads {
        let result = reader.feed(&mut owned[start..end], |m| {
            got.push(match m {
                Incoming::Text(t) => Got::Text(t.to_owned()),
                Incoming::Binary(b) => Got::Binary(b.to_vec()),
                Incoming::Ping(p) => Got::Ping(p.to_vec()),
                Incoming::Pong(p) => Got::Pong(p.to_vec()),
                Incoming::Close(c) => Got::Close(c.map(|c| (c.code.0, c.reason.to_owned()))),
            });
            ControlFlow::Continue(())
        });
        if let Err(e) = result {
            // Every error maps to a close code a server may send.
            assert!(e.close_code().is_sendable(), "{e:?}");
            return (got, Some(e));
        }
    }
    (got, None)
}

/// Frames (header, payload) with the frame in progress last, and the error that stopped decoding.
type Frames = (Vec<(FrameHeader, Vec<u8>)>, Option<ProtocolError>);

fn decode(stream: &[u8], reads: &[(usize, usize)]) -> Frames {
    let mut owned = stream.to_vec();
    let mut decoder = Decoder::default();
    let mut frames: Vec<(FrameHeader, Vec<u8>)> = Vec::new();
    let mut in_frame = false;
    for &(start, end) in reads {
        let mut input: &mut [u8] = &mut owned[start..end];
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(Decoded::Header(h))) => {
                    assert!(!in_frame, "a header inside a frame");
                    in_frame = true;
                    frames.push((h, Vec::new()));
                }
                Ok(Some(Decoded::Payload(p))) => {
                    assert!(in_frame, "payload outside a frame");
                    if let Some((h, payload)) = frames.last_mut() {
                        payload.extend_from_slice(p);
                        assert!(payload.len() as u64 <= h.payload_len, "more payload than the header said");
                    }
                }
                Ok(Some(Decoded::FrameEnd)) => {
                    assert!(in_frame, "end outside a frame");
                    in_frame = false;
                }
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
        assert!(input.is_empty(), "`Ok(None)` with {} bytes unread", input.len());
    }
    (frames, None)
}
