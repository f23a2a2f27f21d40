//! From frames to messages: fragmentation, UTF-8, control frames and the limits (RFC 6455 §5.4–§5.6).
//!
//! [`Reader::feed`] takes bytes as they come off the socket and calls back once per complete data
//! message or control frame. A single-frame message that arrived in one read is handed out straight
//! from the read buffer (no copy); anything else is assembled into one buffer whose size is checked
//! against the limit from the frame header, before any of its payload is kept.
//!
//! The assembly buffer grows by doubling but never past the message limit, and what it holds
//! beyond the few KiB every connection keeps is charged to a process-wide [`Budget`], when one is
//! given: many connections each holding an unfinished message cannot together exceed it.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::budget::Budget;
use super::close::{parse_close_payload, CloseFrame};
use super::codec::{Decoded, Decoder};
use super::error::ProtocolError;
use super::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use super::utf8::Utf8Validator;

/// What the peer sent, as the application and the close handshake need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    /// The peer started or answered the close handshake; no data follows it (§5.5.1).
    Close(Option<CloseFrame<'a>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    Text,
    Binary,
}

/// The frame whose payload is being received.
#[derive(Debug, Clone, Copy)]
enum Frame {
    Control { opcode: OpCode },
    Data { fin: bool, len: u64, delivered: bool },
}

/// Reassembles messages from frames, for the server role: client frames must be masked (§5.1).
#[derive(Debug)]
pub struct Reader {
    decoder: Decoder,
    max_message_size: usize,
    frame: Option<Frame>,
    /// The data message in progress: set by its first frame, cleared by its final frame.
    message: Option<DataKind>,
    assembled: Vec<u8>,
    utf8: Utf8Validator,
    control: [u8; MAX_CONTROL_PAYLOAD],
    control_len: u8,
    closed: bool,
    /// Where the assembly buffer's capacity beyond [`RETAIN_CAPACITY`] is charged, and how much.
    budget: Option<Arc<Budget>>,
    charged: usize,
}

/// Capacity kept for reassembly after a message; a larger one was an outlier and is given back.
/// Also what a connection may assemble without drawing on the process-wide budget.
pub const RETAIN_CAPACITY: usize = 4096;

impl Reader {
    pub fn new(max_message_size: usize) -> Self {
        Reader {
            decoder: Decoder::default(),
            max_message_size,
            frame: None,
            message: None,
            assembled: Vec::new(),
            utf8: Utf8Validator::default(),
            control: [0; MAX_CONTROL_PAYLOAD],
            control_len: 0,
            closed: false,
            budget: None,
            charged: 0,
        }
    }

    /// A reader whose assembly buffer beyond [`RETAIN_CAPACITY`] is charged to `budget`; a message
    /// that cannot get its bytes fails with [`ProtocolError::BudgetExhausted`].
    pub fn with_budget(max_message_size: usize, budget: Arc<Budget>) -> Self {
        let mut reader = Reader::new(max_message_size);
        reader.budget = Some(budget);
        reader
    }

    /// Lowers the message limit to `max` (never raises it): a service that accepts nothing larger
    /// has the connection refuse bigger messages from their first header (1009).
    pub fn limit(&mut self, max: usize) {
        self.max_message_size = self.max_message_size.min(max);
    }

    /// Makes room for `additional` more assembled bytes: doubling, so a trickle of small pieces
    /// costs few copies, but never past the message limit (the headers were checked against it),
    /// and charging the budget before allocating.
    fn reserve(&mut self, additional: usize) -> Result<(), ProtocolError> {
        let need = self.assembled.len() + additional;
        let capacity = self.assembled.capacity();
        if need <= capacity {
            return Ok(());
        }
        let target = capacity.saturating_mul(2).min(self.max_message_size).max(need);
        let charge = target.saturating_sub(RETAIN_CAPACITY);
        if let Some(budget) = &self.budget {
            let extra = charge.saturating_sub(self.charged);
            if !budget.try_take(extra) {
                return Err(ProtocolError::BudgetExhausted);
            }
            self.charged += extra;
        }
        self.assembled.reserve_exact(target - self.assembled.len());
        Ok(())
    }

    /// After a message: a small buffer is kept, a larger one given back with its charge.
    fn release(&mut self) {
        self.assembled.clear();
        if self.assembled.capacity() > RETAIN_CAPACITY {
            self.assembled = Vec::new();
            if let Some(budget) = &self.budget {
                budget.give(std::mem::take(&mut self.charged));
            }
        }
    }

    /// True once a close frame has been received: everything after it is ignored (§5.5.1).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Decodes `input` and calls `on` for each message or control frame completed by it.
    ///
    /// `on` returning `Break` stops decoding (the connection is closing). An error means the
    /// connection must be failed with the error's close code; the reader is unusable after it.
    pub fn feed(
        &mut self,
        mut input: &mut [u8],
        mut on: impl FnMut(Incoming<'_>) -> ControlFlow<()>,
    ) -> Result<(), ProtocolError> {
        while !self.closed {
            let Some(step) = self.decoder.decode(&mut input)? else { break };
            let flow = match step {
                Decoded::Header(header) => {
                    self.start_frame(header)?;
                    ControlFlow::Continue(())
                }
                Decoded::Payload(piece) => self.payload(piece, &mut on)?,
                Decoded::FrameEnd => self.end_frame(&mut on)?,
            };
            if flow.is_break() {
                break;
            }
        }
        Ok(())
    }

    fn start_frame(&mut self, header: FrameHeader) -> Result<(), ProtocolError> {
        if header.rsv != 0 {
            return Err(ProtocolError::ReservedBits); // §5.2: no extension was negotiated
        }
        if header.mask.is_none() {
            return Err(ProtocolError::UnmaskedFrame); // §5.1: the server MUST fail the connection
        }
        let kind = match header.opcode {
            opcode if opcode.is_control() => {
                self.control_len = 0;
                self.frame = Some(Frame::Control { opcode });
                return Ok(());
            }
            OpCode::Continuation if self.message.is_none() => return Err(ProtocolError::UnexpectedContinuation),
            OpCode::Continuation => None,
            _ if self.message.is_some() => return Err(ProtocolError::ExpectedContinuation), // §5.4
            OpCode::Text => Some(DataKind::Text),
            _ => Some(DataKind::Binary),
        };
        // The limit is checked from the header, before any payload is buffered.
        let total = (self.assembled.len() as u64).saturating_add(header.payload_len);
        if total > self.max_message_size as u64 {
            return Err(ProtocolError::MessageTooBig);
        }
        if let Some(kind) = kind {
            self.message = Some(kind);
        }
        self.frame = Some(Frame::Data { fin: header.fin, len: header.payload_len, delivered: false });
        Ok(())
    }

    fn payload(
        &mut self,
        piece: &mut [u8],
        on: &mut impl FnMut(Incoming<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ProtocolError> {
        match &mut self.frame {
            Some(Frame::Control { .. }) => {
                let at = usize::from(self.control_len);
                // The header check bounds the whole payload to 125 bytes.
                self.control[at..at + piece.len()].copy_from_slice(piece);
                self.control_len += piece.len() as u8;
                Ok(ControlFlow::Continue(()))
            }
            Some(Frame::Data { fin, len, delivered }) => {
                // Fast path: a whole unfragmented message in this one piece is handed out in place.
                if *fin && self.assembled.is_empty() && piece.len() as u64 == *len {
                    *delivered = true;
                    let msg = match self.message {
                        Some(DataKind::Text) => {
                            Incoming::Text(std::str::from_utf8(piece).map_err(|_| ProtocolError::InvalidUtf8)?)
                        }
                        _ => Incoming::Binary(piece),
                    };
                    self.message = None;
                    return Ok(on(msg));
                }
                if self.message == Some(DataKind::Text) {
                    self.utf8.feed(piece).map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                self.reserve(piece.len())?;
                self.assembled.extend_from_slice(piece);
                Ok(ControlFlow::Continue(()))
            }
            None => Ok(ControlFlow::Continue(())),
        }
    }

    fn end_frame(
        &mut self,
        on: &mut impl FnMut(Incoming<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ProtocolError> {
        match self.frame.take() {
            Some(Frame::Control { opcode }) => {
                let payload = &self.control[..usize::from(self.control_len)];
                Ok(match opcode {
                    OpCode::Ping => on(Incoming::Ping(payload)),
                    OpCode::Pong => on(Incoming::Pong(payload)),
                    _ => {
                        self.closed = true;
                        on(Incoming::Close(parse_close_payload(payload)?))
                    }
                })
            }
            Some(Frame::Data { fin: true, delivered: false, .. }) => {
                let msg = match self.message.take() {
                    Some(DataKind::Text) => {
                        self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                        // Already validated piece by piece; this re-check only guards the type.
                        Incoming::Text(std::str::from_utf8(&self.assembled).map_err(|_| ProtocolError::InvalidUtf8)?)
                    }
                    _ => Incoming::Binary(&self.assembled),
                };
                let flow = on(msg);
                self.release();
                Ok(flow)
            }
            _ => Ok(ControlFlow::Continue(())),
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give(self.charged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::close_code::CloseCode;
    use crate::ws::frame::write_frame;

    const KEY: Option<[u8; 4]> = Some([0x12, 0x34, 0x56, 0x78]);

    #[derive(Debug, PartialEq)]
    enum Got {
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        Close(Option<(u16, String)>),
    }

    fn frame(fin: bool, op: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, fin, op, KEY, payload);
        out
    }

    /// Feeds `wire` in pieces of `piece` bytes; returns what was delivered and the first error.
    fn run(wire: &[u8], piece: usize, max: usize) -> (Vec<Got>, Option<ProtocolError>) {
        let mut reader = Reader::new(max);
        let mut got = Vec::new();
        let mut owned = wire.to_vec();
        for chunk in owned.chunks_mut(piece) {
            let result = reader.feed(chunk, |m| {
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
                return (got, Some(e));
            }
        }
        (got, None)
    }

    fn all_pieces(wire: &[u8], max: usize) -> (Vec<Got>, Option<ProtocolError>) {
        let whole = run(wire, wire.len().max(1), max);
        for piece in 1..wire.len().min(40) {
            assert_eq!(run(wire, piece, max), whole, "piece size {piece}");
        }
        whole
    }

    #[test]
    fn fragmented_text_with_interleaved_ping() {
        let mut wire = frame(false, OpCode::Text, "κό".as_bytes());
        wire.extend(frame(true, OpCode::Ping, b"p"));
        wire.extend(frame(false, OpCode::Continuation, &"σμε".as_bytes()[..3]));
        wire.extend(frame(true, OpCode::Continuation, &"σμε".as_bytes()[3..]));
        wire.extend(frame(true, OpCode::Binary, &[1, 2, 3]));
        let (got, err) = all_pieces(&wire, 1 << 20);
        assert_eq!(err, None);
        assert_eq!(got, [Got::Ping(b"p".to_vec()), Got::Text("κόσμε".into()), Got::Binary(vec![1, 2, 3])]);
    }

    #[test]
    fn empty_messages_and_pong() {
        let mut wire = frame(true, OpCode::Text, b"");
        wire.extend(frame(false, OpCode::Binary, b""));
        wire.extend(frame(true, OpCode::Continuation, b""));
        wire.extend(frame(true, OpCode::Pong, b"x"));
        let (got, err) = all_pieces(&wire, 1 << 20);
        assert_eq!(err, None);
        assert_eq!(got, [Got::Text(String::new()), Got::Binary(vec![]), Got::Pong(b"x".to_vec())]);
    }

    #[test]
    fn close_is_the_end() {
        let mut wire = frame(true, OpCode::Close, b"\x03\xe8bye");
        wire.extend(frame(true, OpCode::Text, b"ignored"));
        let (got, err) = all_pieces(&wire, 1 << 20);
        assert_eq!(err, None);
        assert_eq!(got, [Got::Close(Some((1000, "bye".into())))]);
    }

    #[test]
    fn each_violation_has_its_error_and_close_code() {
        let unmasked = {
            let mut v = Vec::new();
            write_frame(&mut v, true, OpCode::Text, None, b"hi");
            v
        };
        let mut rsv = frame(true, OpCode::Text, b"hi");
        rsv[0] |= 0x40;
        let oversized_ping = frame(true, OpCode::Ping, &[0; 126]);
        let cases: Vec<(Vec<u8>, ProtocolError, u16)> = vec![
            (unmasked, ProtocolError::UnmaskedFrame, 1002),
            (rsv, ProtocolError::ReservedBits, 1002),
            (vec![0x83, 0x80, 0, 0, 0, 0], ProtocolError::ReservedOpcode(3), 1002),
            (oversized_ping, ProtocolError::ControlTooLong, 1002),
            (frame(false, OpCode::Ping, b""), ProtocolError::FragmentedControl, 1002),
            (frame(true, OpCode::Continuation, b"x"), ProtocolError::UnexpectedContinuation, 1002),
            (
                [frame(false, OpCode::Text, b"a"), frame(true, OpCode::Text, b"b")].concat(),
                ProtocolError::ExpectedContinuation,
                1002,
            ),
            (frame(true, OpCode::Text, b"\xff"), ProtocolError::InvalidUtf8, 1007),
            (
                [frame(false, OpCode::Text, b"\xce"), frame(true, OpCode::Continuation, b"\xff")].concat(),
                ProtocolError::InvalidUtf8,
                1007,
            ),
            (frame(true, OpCode::Close, b"\x03"), ProtocolError::CloseTooShort, 1002),
            (frame(true, OpCode::Close, b"\x03\xed"), ProtocolError::InvalidCloseCode(1005), 1002),
            (frame(true, OpCode::Binary, &[0; 65]), ProtocolError::MessageTooBig, 1009),
            (
                [frame(false, OpCode::Binary, &[0; 40]), frame(true, OpCode::Continuation, &[0; 40])].concat(),
                ProtocolError::MessageTooBig,
                1009,
            ),
        ];
        for (wire, want, code) in cases {
            let (_, err) = all_pieces(&wire, 64);
            assert_eq!(err, Some(want));
            assert_eq!(want.close_code(), CloseCode(code));
        }
    }

    #[test]
    fn invalid_utf8_fails_before_the_frame_is_complete() {
        // Autobahn 6.4.x: the bad byte arrives first, the rest of the frame never does.
        let wire = frame(true, OpCode::Text, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80hello");
        let mut reader = Reader::new(1 << 20);
        let mut head = wire[..6 + 13].to_vec();
        assert_eq!(reader.feed(&mut head, |_| ControlFlow::Continue(())), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn too_big_fails_from_the_header_alone() {
        let wire = frame(true, OpCode::Binary, &[0; 1000]);
        let mut reader = Reader::new(999);
        let mut head = wire[..8].to_vec();
        assert_eq!(reader.feed(&mut head, |_| ControlFlow::Continue(())), Err(ProtocolError::MessageTooBig));
    }

    #[test]
    fn break_stops_delivery() {
        let wire = [frame(true, OpCode::Text, b"one"), frame(true, OpCode::Text, b"two")].concat();
        let mut reader = Reader::new(100);
        let mut count = 0;
        let mut owned = wire.clone();
        reader
            .feed(&mut owned, |_| {
                count += 1;
                ControlFlow::Break(())
            })
            .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn assembly_grows_within_the_limit_and_charges_the_budget_beyond_the_free_part() {
        let budget = Budget::new(5_000);
        let mut reader = Reader::with_budget(8_000, budget.clone());
        // 7,000 bytes in 100-byte frames: assembled, never past the 8,000-byte limit.
        let mut wire = Vec::new();
        for i in 0..70 {
            let op = if i == 0 { OpCode::Binary } else { OpCode::Continuation };
            wire.extend(frame(false, op, &[7; 100]));
        }
        reader.feed(&mut wire, |_| ControlFlow::Continue(())).unwrap();
        assert!(reader.assembled.capacity() <= 8_000, "{}", reader.assembled.capacity());
        assert_eq!(budget.used(), reader.assembled.capacity() - RETAIN_CAPACITY);
        // Another reader finds the budget spent past its free part: 1013.
        let mut other = Reader::with_budget(8_000, budget.clone());
        let mut big = frame(true, OpCode::Binary, &[1; 7_000]);
        let mut got = 0;
        assert_eq!(
            run_pieces(&mut other, &mut big, 1000, &mut got),
            Err(ProtocolError::BudgetExhausted),
            "{} of 5,000 used",
            budget.used()
        );
        assert_eq!(ProtocolError::BudgetExhausted.close_code(), CloseCode::TRY_AGAIN_LATER);
        // The message ends: the buffer and its charge go back.
        let mut end = frame(true, OpCode::Continuation, &[7; 10]);
        reader
            .feed(&mut end, |m| {
                assert!(matches!(m, Incoming::Binary(b) if b.len() == 7_010));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(budget.used(), 0);
        drop(other);
        assert_eq!(budget.used(), 0, "a dropped reader gives back what it held");
    }

    /// Feeds `wire` to `reader` in pieces of `piece` bytes, counting delivered messages.
    fn run_pieces(reader: &mut Reader, wire: &mut [u8], piece: usize, got: &mut usize) -> Result<(), ProtocolError> {
        for chunk in wire.chunks_mut(piece) {
            reader.feed(chunk, |_| {
                *got += 1;
                ControlFlow::Continue(())
            })?;
        }
        Ok(())
    }

    #[test]
    fn a_lowered_limit_refuses_from_the_header() {
        let mut reader = Reader::new(1 << 20);
        reader.limit(1_000);
        reader.limit(1 << 20);
        let wire = frame(true, OpCode::Text, &[b'a'; 1_001]);
        let mut head = wire[..8].to_vec();
        assert_eq!(reader.feed(&mut head, |_| ControlFlow::Continue(())), Err(ProtocolError::MessageTooBig));
    }
}
