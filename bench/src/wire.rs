//! The load generator's messages, built and checked with the `shared` types: joins, and
//! `signal`s whose ICE candidate string carries a sequence number and a send timestamp and is
//! padded so the whole client message has an exact size.

use shared::{ClientMessage, PeerId, RoomId, ServerMessage, Signal};

/// Fixed-width numbers keep every message of a run the same length.
const SEQ_WIDTH: usize = 12;
const TIME_WIDTH: usize = 16;

pub fn join(room: &str) -> Result<String, String> {
    let room = RoomId::try_from(room).map_err(|e| format!("room {room:?}: {e}"))?;
    Ok(ClientMessage::Join { room, resume: None }.to_json())
}

/// Builds the `signal`s one sender sends to one peer, all exactly `size` bytes long when the
/// size allows it (a smaller size gets the unpadded message).
#[derive(Debug, Clone)]
pub struct SignalMaker {
    shape: Shape,
    padding: String,
}

/// What the messages look like on the wire.
#[derive(Debug, Clone)]
enum Shape {
    /// The client's `signal` to this peer, which the server relays with `from` stamped.
    Request { to: PeerId },
    /// Already the relayed message, `from` this peer: for the relay floor, which forwards bytes
    /// without reading them.
    Relayed { from: PeerId },
}

impl SignalMaker {
    pub fn new(to: PeerId, size: usize) -> Self {
        SignalMaker::shaped(Shape::Request { to }, size)
    }

    /// Messages the relay floor forwards as they are, arriving as `from`'s relayed signals.
    pub fn relayed(from: PeerId, size: usize) -> Self {
        SignalMaker::shaped(Shape::Relayed { from }, size)
    }

    fn shaped(shape: Shape, size: usize) -> Self {
        let bare = SignalMaker { shape, padding: String::new() };
        let unpadded = bare.make(0, 0).len();
        SignalMaker { padding: "x".repeat(size.saturating_sub(unpadded)), ..bare }
    }

    /// The message with sequence number `seq`, sent at `sent_us` (microseconds on the
    /// generator's clock).
    pub fn make(&self, seq: u64, sent_us: u64) -> String {
        let candidate = format!(
            "candidate:{seq:0SEQ_WIDTH$} {sent_us:0TIME_WIDTH$} 1 udp 2122260223 127.0.0.1 9 typ host {}",
            self.padding
        );
        let data = Signal::Candidate { candidate, sdp_mid: Some("0".to_owned()), sdp_m_line_index: Some(0) };
        match &self.shape {
            Shape::Request { to } => ClientMessage::Signal { to: to.clone(), data }.to_json(),
            Shape::Relayed { from } => ServerMessage::Signal { from: from.clone(), data }.to_json(),
        }
    }
}

/// A relayed signal as the generator checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    pub from: PeerId,
    pub seq: u64,
    pub sent_us: u64,
}

/// What a server sent, as far as the generator cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Joined {
        peer: PeerId,
        peers: Vec<PeerId>,
    },
    PeerJoined(PeerId),
    Relayed(Relayed),
    /// Anything else (an error, `peer_left`, a signal the generator did not make): reported.
    Other(String),
}

pub fn parse(text: &str) -> Incoming {
    match ServerMessage::parse(text) {
        Ok(ServerMessage::Joined { peer_id, peers, .. }) => Incoming::Joined { peer: peer_id, peers },
        Ok(ServerMessage::PeerJoined { peer_id }) => Incoming::PeerJoined(peer_id),
        Ok(ServerMessage::Signal { from, data: Signal::Candidate { candidate, .. } }) => {
            match parse_candidate(&candidate) {
                Some((seq, sent_us)) => Incoming::Relayed(Relayed { from, seq, sent_us }),
                None => Incoming::Other(shorten(text)),
            }
        }
        _ => Incoming::Other(shorten(text)),
    }
}

/// `(seq, sent_us)` from a candidate string made by [`SignalMaker`].
fn parse_candidate(candidate: &str) -> Option<(u64, u64)> {
    let rest = candidate.strip_prefix("candidate:")?;
    let mut fields = rest.split(' ');
    let seq = fields.next()?.parse().ok()?;
    let sent = fields.next()?.parse().ok()?;
    Some((seq, sent))
}

/// Enough of a message for an error report.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_have_the_exact_size_and_parse_back() {
        for size in [256, 4096] {
            let maker = SignalMaker::new(PeerId::new("0123456789abcdef"), size);
            for (seq, at) in [(0, 0), (7, 123_456), (999_999, 9_999_999_999)] {
                let text = maker.make(seq, at);
                assert_eq!(text.len(), size);
                let Ok(ClientMessage::Signal { to, data: Signal::Candidate { candidate, .. } }) =
                    ClientMessage::parse(&text)
                else {
                    panic!("a valid candidate signal: {text}");
                };
                assert_eq!(to.as_str(), "0123456789abcdef");
                assert_eq!(parse_candidate(&candidate), Some((seq, at)));
            }
        }
    }

    #[test]
    fn the_floor_gets_messages_that_read_as_relayed_from_the_sender() {
        let maker = SignalMaker::relayed(PeerId::new("0123456789abcdef"), 256);
        let text = maker.make(5, 77);
        assert_eq!(text.len(), 256);
        let relayed = Relayed { from: PeerId::new("0123456789abcdef"), seq: 5, sent_us: 77 };
        assert_eq!(parse(&text), Incoming::Relayed(relayed));
    }

    #[test]
    fn a_size_below_the_bare_message_is_not_padded() {
        let maker = SignalMaker::new(PeerId::new("p"), 10);
        assert!(maker.make(1, 1).len() > 10);
    }

    #[test]
    fn server_messages_are_recognised() {
        let relayed = ServerMessage::Signal {
            from: PeerId::new("aa"),
            data: Signal::Candidate {
                candidate: "candidate:000000000003 0000000000000042 1 udp".into(),
                sdp_mid: None,
                sdp_m_line_index: None,
            },
        };
        assert_eq!(
            parse(&relayed.to_json()),
            Incoming::Relayed(Relayed { from: PeerId::new("aa"), seq: 3, sent_us: 42 })
        );
        let joined = r#"{"type":"joined","room":"r","peer_id":"b","peers":["a"],"capacity":2,"resume_token":"t","ice_servers":[]}"#;
        assert_eq!(parse(joined), Incoming::Joined { peer: PeerId::new("b"), peers: vec![PeerId::new("a")] });
        assert_eq!(parse(r#"{"type":"peer_joined","peer_id":"c"}"#), Incoming::PeerJoined(PeerId::new("c")));
        assert!(matches!(parse(r#"{"type":"error","code":"room_full","message":"full"}"#), Incoming::Other(_)));
        assert_eq!(join("r-1").unwrap(), r#"{"type":"join","room":"r-1"}"#);
        assert!(join("no spaces").is_err());
    }
}
