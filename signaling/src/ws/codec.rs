//! The byte-level codec: a streaming frame decoder and the outgoing frame buffer.
//!
//! The decoder never buffers payload. It keeps at most one partial header (14 bytes) and hands
//! out payload bytes, unmasked in place, as they arrive — so a frame's size never turns into an
//! allocation here, and limits are enforced by the caller from the header before any payload is kept.

use super::error::ProtocolError;
use super::frame::{apply_mask, write_frame, FrameHeader, OpCode, MAX_HEADER_LEN};

/// One step of decoding.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A frame header; its payload follows as zero or more `Payload` pieces, then `FrameEnd`.
    Header(FrameHeader),
    /// The next piece of the current frame's payload, already unmasked.
    Payload(&'a mut [u8]),
    /// The current frame's payload is complete.
    FrameEnd,
}

/// Splits a byte stream into frame headers and payload pieces.
#[derive(Debug, Default)]
pub struct Decoder {
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    /// Payload bytes still to come for the current frame; `None` while reading a header.
    payload: Option<PayloadState>,
}

#[derive(Debug, Clone, Copy)]
struct PayloadState {
    remaining: u64,
    mask: Option<[u8; 4]>,
    /// Payload bytes of this frame already handed out: where the masking key's phase is.
    offset: usize,
}

impl Decoder {
    /// Consumes bytes from the front of `input` and returns the next step, or `Ok(None)` when
    /// `input` is used up and more bytes are needed.
    pub fn decode<'a>(&mut self, input: &mut &'a mut [u8]) -> Result<Option<Decoded<'a>>, ProtocolError> {
        match &mut self.payload {
            Some(state) if state.remaining == 0 => {
                self.payload = None;
                Ok(Some(Decoded::FrameEnd))
            }
            Some(state) => {
                if input.is_empty() {
                    return Ok(None);
                }
                let take = usize::try_from(state.remaining).map_or(input.len(), |r| r.min(input.len()));
                let (piece, rest) = std::mem::take(input).split_at_mut(take);
                *input = rest;
                if let Some(key) = state.mask {
                    apply_mask(piece, key, state.offset);
                }
                state.offset = state.offset.wrapping_add(take);
                state.remaining -= take as u64;
                Ok(Some(Decoded::Payload(piece)))
            }
            None => self.decode_header(input),
        }
    }

    fn decode_header<'a>(&mut self, input: &mut &'a mut [u8]) -> Result<Option<Decoded<'a>>, ProtocolError> {
        // Fast path: no partial header held, parse straight from the input.
        if self.header_len == 0 {
            return match FrameHeader::parse(input)? {
                Some((header, len)) => {
                    let rest = std::mem::take(input);
                    *input = &mut rest[len..];
                    Ok(Some(self.start_frame(header)))
                }
                None => {
                    self.stash_header_bytes(input);
                    Ok(None)
                }
            };
        }
        // Slow path: a header split across reads. Add bytes one read at a time (a header is at
        // most 14 bytes), and consume from `input` only what belongs to the header.
        let held = usize::from(self.header_len);
        let take = (MAX_HEADER_LEN - held).min(input.len());
        let mut joined = self.header;
        joined[held..held + take].copy_from_slice(&input[..take]);
        match FrameHeader::parse(&joined[..held + take])? {
            Some((header, len)) => {
                let rest = std::mem::take(input);
                *input = &mut rest[len - held..];
                self.header_len = 0;
                Ok(Some(self.start_frame(header)))
            }
            None => {
                self.stash_header_bytes(input);
                Ok(None)
            }
        }
    }

    fn stash_header_bytes(&mut self, input: &mut &mut [u8]) {
        let held = usize::from(self.header_len);
        let bytes = std::mem::take(input);
        // `parse` returned None, so held + bytes.len() < MAX_HEADER_LEN.
        self.header[held..held + bytes.len()].copy_from_slice(bytes);
        self.header_len = (held + bytes.len()) as u8;
    }

    fn start_frame<'a>(&mut self, header: FrameHeader) -> Decoded<'a> {
        self.payload = Some(PayloadState { remaining: header.payload_len, mask: header.mask, offset: 0 });
        Decoded::Header(header)
    }
}

/// Outgoing frames, encoded into one buffer so that many frames leave in one `write`.
///
/// Server frames are never masked (RFC 6455 §5.1). Flushed bytes are tracked by an offset rather
/// than shifted out, and a large drained buffer is released so an idle connection holds no memory.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    flushed: usize,
    /// Text and binary frames encoded so far, for the outgoing-message metric.
    data_frames: u64,
}

/// Capacity kept after the buffer drains; anything larger was a burst and is given back.
const RETAIN_CAPACITY: usize = 4096;

impl Writer {
    pub fn frame(&mut self, opcode: OpCode, payload: &[u8]) {
        write_frame(&mut self.buf, true, opcode, None, payload);
    }

    pub fn text(&mut self, text: &str) {
        self.frame(OpCode::Text, text.as_bytes());
        self.data_frames += 1;
    }

    pub fn binary(&mut self, data: &[u8]) {
        self.frame(OpCode::Binary, data);
        self.data_frames += 1;
    }

    pub fn data_frames(&self) -> u64 {
        self.data_frames
    }

    /// Raw bytes that are not a frame: the HTTP response head of the handshake.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes encoded but not yet written to the socket.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.flushed..]
    }

    pub fn is_empty(&self) -> bool {
        self.flushed == self.buf.len()
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.flushed
    }

    /// Marks `n` pending bytes as written.
    pub fn consume(&mut self, n: usize) {
        self.flushed = (self.flushed + n).min(self.buf.len());
        if self.flushed == self.buf.len() {
            self.flushed = 0;
            self.buf.clear();
            if self.buf.capacity() > RETAIN_CAPACITY {
                self.buf = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `bytes` fed in the given piece sizes into (header, payload) pairs.
    fn decode_all(bytes: &[u8], piece: usize) -> Vec<(FrameHeader, Vec<u8>)> {
        let mut decoder = Decoder::default();
        let mut frames = Vec::new();
        let mut current: Option<(FrameHeader, Vec<u8>)> = None;
        let mut owned = bytes.to_vec();
        for chunk in owned.chunks_mut(piece.max(1)) {
            let mut input: &mut [u8] = chunk;
            while let Some(step) = decoder.decode(&mut input).unwrap() {
                match step {
                    Decoded::Header(h) => current = Some((h, Vec::new())),
                    Decoded::Payload(p) => current.as_mut().unwrap().1.extend_from_slice(p),
                    Decoded::FrameEnd => frames.push(current.take().unwrap()),
                }
            }
        }
        frames
    }

    #[test]
    fn decodes_masked_frames_in_any_piece_size() {
        let mut wire = Vec::new();
        write_frame(&mut wire, false, OpCode::Text, Some([9, 8, 7, 6]), b"Hel");
        write_frame(&mut wire, true, OpCode::Ping, Some([1, 2, 3, 4]), b"");
        write_frame(&mut wire, true, OpCode::Continuation, Some([5, 5, 5, 5]), &[b'x'; 300]);
        for piece in [1, 2, 3, 5, 13, 14, 15, 64, 1000] {
            let frames = decode_all(&wire, piece);
            assert_eq!(frames.len(), 3, "piece {piece}");
            assert_eq!(frames[0].1, b"Hel");
            assert_eq!(frames[1].0.opcode, OpCode::Ping);
            assert!(frames[1].1.is_empty());
            assert_eq!(frames[2].1, vec![b'x'; 300]);
        }
    }

    #[test]
    fn errors_surface_from_a_split_header() {
        let mut decoder = Decoder::default();
        let mut first = [0x89u8];
        let mut input: &mut [u8] = &mut first;
        assert_eq!(decoder.decode(&mut input), Ok(None));
        let mut second = [0xFEu8, 0x00, 0x7E];
        let mut input: &mut [u8] = &mut second;
        assert_eq!(decoder.decode(&mut input), Err(ProtocolError::ControlTooLong));
    }

    #[test]
    fn writer_batches_and_releases() {
        let mut w = Writer::default();
        w.text("hi");
        w.binary(&[0u8; 10_000]);
        assert_eq!(&w.pending()[..4], &[0x81, 0x02, b'h', b'i']);
        let total = w.len();
        w.consume(4);
        assert_eq!(w.len(), total - 4);
        w.consume(total);
        assert!(w.is_empty());
        assert_eq!(w.buf.capacity(), 0, "a burst's buffer is given back");
    }
}
