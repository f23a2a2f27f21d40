//! Length-prefixed frames: the wire of the relay floor (`ref-rawtcp --frames`), shared by that
//! server and the load generator. A frame is a 4-byte big-endian payload length, then the
//! payload. No masking, no opcodes, no UTF-8 check and no JSON: what is left of relaying a
//! message when everything a WebSocket signaling server adds is taken away, so the cost the
//! floor measures is the sockets' and the scheduler's alone.
//!
//! [`Frames`] gathers what reads bring and hands out whole frames, header included, so a relay
//! can forward a frame with the very bytes it read.

use std::fmt;

/// Bytes of the length header.
pub const HEADER: usize = 4;

/// How much room a read gets at least: big enough for a 32 KiB message in one read.
const READ_ROOM: usize = 64 * 1024;

/// A frame announcing more than the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    pub len: usize,
    pub max: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a frame of {} bytes, more than the {} accepted", self.len, self.max)
    }
}

impl std::error::Error for TooLong {}

/// `payload` as one frame, ready for a single write.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// One whole frame as it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Header and payload: what a relay forwards.
    pub whole: &'a [u8],
}

impl<'a> Frame<'a> {
    pub fn payload(&self) -> &'a [u8] {
        &self.whole[HEADER..]
    }
}

/// Bytes read but not yet handed out as frames.
#[derive(Debug)]
pub struct Frames {
    data: Vec<u8>,
    /// Where the next frame starts in `data`.
    start: usize,
    /// The longest payload accepted.
    max: usize,
}

impl Frames {
    pub fn new(max: usize) -> Self {
        Frames { data: Vec::with_capacity(READ_ROOM), start: 0, max }
    }

    /// The buffer a read appends to (tokio's `read_buf` appends without zeroing), with what was
    /// handed out already dropped and room for a large read.
    pub fn read_buffer(&mut self) -> &mut Vec<u8> {
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        } else if self.start > 0 && self.data.capacity() - self.data.len() < READ_ROOM {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.reserve(READ_ROOM);
        &mut self.data
    }

    /// The next whole frame, `None` until one has arrived in full.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, TooLong> {
        let rest = &self.data[self.start..];
        let Some(header) = rest.first_chunk::<HEADER>() else {
            return Ok(None);
        };
        let len = usize::try_from(u32::from_be_bytes(*header)).unwrap_or(usize::MAX);
        if len > self.max {
            return Err(TooLong { len, max: self.max });
        }
        if rest.len() < HEADER + len {
            return Ok(None);
        }
        let whole = &self.data[self.start..self.start + HEADER + len];
        self.start += HEADER + len;
        Ok(Some(Frame { whole }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(frames: &mut Frames) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(frame) = frames.next_frame().expect("within the limit") {
            out.push(frame.payload().to_vec());
        }
        out
    }

    #[test]
    fn frames_come_out_whole_however_the_bytes_are_split() {
        let wire: Vec<u8> = [&b"hello"[..], b"", &[7u8; 300]].iter().flat_map(|p| encode(p)).collect();
        for chunk in [1, 3, 4, 5, 9, 64, wire.len()] {
            let mut frames = Frames::new(1024);
            let mut seen = Vec::new();
            for piece in wire.chunks(chunk) {
                frames.read_buffer().extend_from_slice(piece);
                seen.extend(payloads(&mut frames));
            }
            assert_eq!(seen, vec![b"hello".to_vec(), Vec::new(), vec![7u8; 300]], "chunks of {chunk}");
        }
    }

    #[test]
    fn a_frame_is_forwarded_with_its_header() {
        let mut frames = Frames::new(16);
        frames.read_buffer().extend_from_slice(&encode(b"abc"));
        let frame = frames.next_frame().unwrap().unwrap();
        assert_eq!(frame.whole, &[0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(frame.payload(), b"abc");
    }

    #[test]
    fn an_announced_length_past_the_limit_is_refused_before_it_arrives() {
        let mut frames = Frames::new(8);
        frames.read_buffer().extend_from_slice(&[0, 0, 0, 9, 1]);
        assert_eq!(frames.next_frame(), Err(TooLong { len: 9, max: 8 }));
    }

    #[test]
    fn consumed_bytes_are_dropped_when_the_buffer_is_reused() {
        let mut frames = Frames::new(1 << 20);
        for round in 0..100u8 {
            frames.read_buffer().extend_from_slice(&encode(&[round; 1000]));
            frames.read_buffer().extend_from_slice(&encode(&[round; 10])[..7]);
            assert_eq!(payloads(&mut frames), vec![vec![round; 1000]]);
            frames.read_buffer().extend_from_slice(&encode(&[round; 10])[7..]);
            assert_eq!(payloads(&mut frames), vec![vec![round; 10]]);
        }
        assert!(frames.data.capacity() < 4 * READ_ROOM, "{}", frames.data.capacity());
    }
}
