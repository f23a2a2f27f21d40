//! Incremental UTF-8 validation of text messages that arrive in pieces (RFC 6455 §8.1).
//!
//! A text message may be split across frames and each frame across reads, with a code point cut
//! anywhere. The validator keeps at most three bytes of an unfinished sequence and reports an error
//! as soon as a byte makes the input invalid — not at the end of the message — so a peer cannot
//! make us buffer megabytes of garbage first (Autobahn 6.4.* checks exactly this).

/// Carries the unfinished tail of a code point between pieces.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

/// The bytes seen so far can never be valid UTF-8, whatever follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// Validates the next piece of the message.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.pending_len > 0 {
            input = self.complete_pending(input)?;
            if self.pending_len > 0 {
                return Ok(()); // `input` was used up and the code point is still unfinished
            }
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            // `error_len() == None`: the input ends inside a code point that may still be valid.
            Err(e) if e.error_len().is_none() => {
                let tail = &input[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8; // at most 3: a 4th byte would finish it
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// The message is complete: an unfinished code point at its end is an error.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let unfinished = self.pending_len > 0;
        self.pending_len = 0;
        if unfinished {
            Err(InvalidUtf8)
        } else {
            Ok(())
        }
    }

    /// Adds bytes from `input` to the pending sequence; returns what is left of `input`.
    fn complete_pending<'a>(&mut self, input: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let have = usize::from(self.pending_len);
        let want = sequence_len(self.pending[0]).ok_or(InvalidUtf8)?;
        let take = (want - have).min(input.len());
        self.pending[have..have + take].copy_from_slice(&input[..take]);
        let now = have + take;
        match std::str::from_utf8(&self.pending[..now]) {
            Ok(_) => self.pending_len = 0,
            Err(e) if e.error_len().is_none() => self.pending_len = now as u8,
            Err(_) => return Err(InvalidUtf8),
        }
        Ok(&input[take..])
    }
}

/// The length of the sequence a lead byte starts, or `None` if it cannot start one.
fn sequence_len(lead: u8) -> Option<usize> {
    match lead {
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(bytes: &[u8], at: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::default();
        let mut start = 0;
        for &cut in at {
            v.feed(&bytes[start..cut])?;
            start = cut;
        }
        v.feed(&bytes[start..])?;
        v.finish()
    }

    #[test]
    fn every_split_of_valid_text_is_valid() {
        let text = "κόσμε — hello 𝄞 ✓ ÿ".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(feed_split(text, &[a, b]), Ok(()), "split {a},{b}");
            }
        }
    }

    #[test]
    fn every_split_of_invalid_text_is_invalid() {
        let cases: [&[u8]; 6] = [
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // surrogate (Autobahn 6.3.1)
            b"abc\xff",
            b"\xf4\x90\x80\x80",     // above U+10FFFF
            b"\xc0\xaf",             // overlong
            b"hello\xe2\x82",        // unfinished at the end
            b"\xf0\x9d\x84\x9e\x80", // stray continuation byte
        ];
        for bytes in cases {
            for a in 0..=bytes.len() {
                assert_eq!(feed_split(bytes, &[a]), Err(InvalidUtf8), "{bytes:x?} split {a}");
            }
        }
    }

    #[test]
    fn fails_fast_before_the_sequence_could_complete() {
        // 0xF4 0x90 can never start a valid code point: the error comes with the second byte.
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(b"ok\xf4"), Ok(()));
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
        // A surrogate lead (0xED 0xA0) is refused at once, too.
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(b"\xed\xa0"), Err(InvalidUtf8));
    }
}
