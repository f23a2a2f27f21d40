//! The byte-level codec: a streaming frame decoder and the outgoing frame buffer.
//!
//! The decoder never buffers payload. It keeps at most one partial header (14 bytes) and hands
//! out payload bytes, unmasked in place, as they arrive — so a frame's size never turns into an
//! allocation here, and limits are enforced by the caller from the header before any payload is kept.
//!
//! The writer buffers frames; given a [`Sink`], a large frame with nothing pending ahead of it
//! is offered to the socket straight from the caller's slice instead (header and payload in one
//! vectored write), and only what the socket does not take is buffered.

use std::fmt;
use std::io::{self, IoSlice};

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

/// Where a large frame may be written without first being copied into the writer's buffer: the
/// connection's socket, when nothing but the connection's own task ever writes to it.
pub trait Sink: Send + fmt::Debug {
    /// Writes what the socket takes of `parts` now, without waiting: the number of bytes taken.
    fn try_write(&self, parts: &[IoSlice<'_>]) -> io::Result<usize>;
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
    /// See [`Writer::write_through`]. Boxed twice: a thin pointer, so every connection's writer
    /// grows by 8 bytes and not 16 (it is part of every connection task, whose allocation tokio
    /// rounds up to 128 bytes: 16 more bytes here cost 128 per connection).
    sink: Option<Box<Box<dyn Sink>>>,
}

/// Capacity kept after the buffer drains; anything larger was a burst and is given back.
const RETAIN_CAPACITY: usize = 4096;

/// The smallest payload offered to the [`Sink`] directly. Below it the copy costs less than the
/// syscall it would add: small replies to one read are batched into one write. (fastwebsockets
/// writes vectored from the same size.)
pub const WRITE_THROUGH_MIN: usize = 1024;

impl Writer {
    /// From now on, a frame of at least [`WRITE_THROUGH_MIN`] payload bytes encoded while nothing
    /// is pending is offered to `sink` first, from the caller's slice: a 32 KiB echo is then
    /// written with no copy in the server (the copy into this buffer was 71% of the echo
    /// example's instructions per 32 KiB message). Order is kept: nothing is pending ahead of
    /// it, and whatever the sink does not take is buffered behind what it took.
    pub fn write_through(&mut self, sink: Box<dyn Sink>) {
        self.sink = Some(Box::new(sink));
    }

    /// Back to buffering every frame (the close handshake writes through the buffer alone).
    pub fn stop_write_through(&mut self) {
        self.sink = None;
    }

    pub fn frame(&mut self, opcode: OpCode, payload: &[u8]) {
        match &self.sink {
            Some(sink) if payload.len() >= WRITE_THROUGH_MIN && self.is_empty() => {
                let header = FrameHeader { fin: true, rsv: 0, opcode, mask: None, payload_len: payload.len() as u64 };
                let header = header.encode();
                let head = header.as_slice();
                // WouldBlock, Interrupted or a failed socket: all of it waits in the buffer, and
                // a lasting error surfaces from the next flush, as for any buffered frame.
                let taken = sink.try_write(&[IoSlice::new(head), IoSlice::new(payload)]).unwrap_or(0);
                match taken.checked_sub(head.len()) {
                    Some(of_payload) => self.buf.extend_from_slice(&payload[of_payload.min(payload.len())..]),
                    None => {
                        self.buf.reserve(head.len() - taken + payload.len());
                        self.buf.extend_from_slice(&head[taken..]);
                        self.buf.extend_from_slice(payload);
                    }
                }
            }
            _ => write_frame(&mut self.buf, true, opcode, None, payload),
        }
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

    /// A socket that takes at most `room` bytes per write and records what it took.
    #[derive(Debug, Clone, Default)]
    struct Socket {
        room: usize,
        taken: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Sink for Socket {
        fn try_write(&self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
            self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut taken = self.taken.lock().unwrap();
            let before = taken.len();
            for part in parts {
                let left = self.room - (taken.len() - before);
                taken.extend_from_slice(&part[..part.len().min(left)]);
            }
            Ok(taken.len() - before)
        }
    }

    /// What the socket got, then what is still pending: the bytes in the order they leave.
    fn sent(socket: &Socket, writer: &Writer) -> Vec<u8> {
        let mut all = socket.taken.lock().unwrap().clone();
        all.extend_from_slice(writer.pending());
        all
    }

    #[test]
    fn large_frames_write_through_in_order_whatever_the_socket_takes() {
        let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        let mut expected = Vec::new();
        write_frame(&mut expected, true, OpCode::Binary, None, &payload);
        write_frame(&mut expected, true, OpCode::Text, None, b"after");
        for room in [0, 1, 3, 4, 5, 100, 40_003, 40_004, 40_005, 100_000] {
            let socket = Socket { room, ..Socket::default() };
            let mut w = Writer::default();
            w.write_through(Box::new(socket.clone()));
            w.binary(&payload);
            w.text("after");
            assert_eq!(sent(&socket, &w), expected, "socket taking {room} bytes");
            assert_eq!(socket.writes.load(std::sync::atomic::Ordering::Relaxed), 1, "the small frame is buffered");
            assert_eq!(w.data_frames(), 2);
            let through = socket.taken.lock().unwrap().len();
            assert_eq!(through, room.min(40_004), "room {room}");
        }
    }

    #[test]
    fn small_frames_and_frames_behind_pending_bytes_are_buffered() {
        let socket = Socket { room: usize::MAX, ..Socket::default() };
        let mut w = Writer::default();
        w.write_through(Box::new(socket.clone()));
        w.binary(&[7; WRITE_THROUGH_MIN - 1]);
        w.binary(&[8; 5000]);
        assert_eq!(socket.writes.load(std::sync::atomic::Ordering::Relaxed), 0, "something was pending ahead");
        w.consume(w.len());
        w.frame(OpCode::Pong, b"p");
        w.consume(w.len());
        w.binary(&[9; WRITE_THROUGH_MIN]);
        assert_eq!(socket.writes.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(w.is_empty(), "the socket took it all");
        w.stop_write_through();
        w.binary(&[9; 5000]);
        assert_eq!(socket.writes.load(std::sync::atomic::Ordering::Relaxed), 1, "stopped");
        assert_eq!(w.len(), 5004);
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
