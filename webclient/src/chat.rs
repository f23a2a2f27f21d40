//! Text chat over the call's RTCDataChannel: peer to peer, nothing stored on the server.
//!
//! The channel is created `negotiated` with a fixed id on both sides, so it exists as soon as the
//! connection does — no `ondatachannel` race when both sides offer at once.

/// Characters a message may have; longer input is cut (the input field enforces the same).
pub const MAX_CHARS: usize = 2000;

/// The label and id both sides use for the negotiated channel.
pub const LABEL: &str = "chat";
pub const CHANNEL_ID: u16 = 0;

/// What to send for what was typed: trimmed, bounded, nothing for blank input.
pub fn outgoing(typed: &str) -> Option<String> {
    let text = typed.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.chars().take(MAX_CHARS).collect())
}

/// What to show for what arrived: the same bound, and control characters removed so a
/// message cannot mangle the log.
pub fn incoming(received: &str) -> Option<String> {
    let cleaned: String = received.chars().filter(|c| !c.is_control() || *c == '\n').take(MAX_CHARS).collect();
    outgoing(&cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_nothing_and_text_is_trimmed() {
        assert_eq!(outgoing("   "), None);
        assert_eq!(outgoing("  hi  ").as_deref(), Some("hi"));
    }

    #[test]
    fn long_messages_are_cut_on_characters() {
        let long = "é".repeat(MAX_CHARS + 10);
        assert_eq!(outgoing(&long).unwrap().chars().count(), MAX_CHARS);
    }

    #[test]
    fn control_characters_are_dropped_on_arrival() {
        assert_eq!(incoming("a\u{7}b\u{1b}[2Jc").as_deref(), Some("ab[2Jc"));
        assert_eq!(incoming("\u{0}").as_deref(), None);
    }
}
