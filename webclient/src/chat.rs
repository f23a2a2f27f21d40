//! Text chat over the call's RTCDataChannel: peer to peer, nothing stored on the server.
//!
//! The channel is created `negotiated` with a fixed id on both sides, so it exists as soon as the
//! connection does — no `ondatachannel` race when both sides offer at once.

/// Characters a message may have; longer input is cut (the input field enforces the same).
pub const MAX_CHARS: usize = 2000;

/// Lines the chat log keeps; older ones are removed, so a flood of messages from the other
/// side costs bounded memory in the page. A 1:1 call rarely reaches a few dozen.
pub const MAX_LINES: u32 = 500;

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
/// message cannot mangle the log, nor bidirectional overrides and isolates, which could make
/// a line read differently from what it says (a link shown reversed, a name spoofed).
pub fn incoming(received: &str) -> Option<String> {
    let cleaned: String =
        received.chars().filter(|&c| (!c.is_control() || c == '\n') && !is_bidi_control(c)).take(MAX_CHARS).collect();
    outgoing(&cleaned)
}

/// The explicit directional formatting characters of Unicode's bidirectional algorithm (UAX #9
/// §2): embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069), and the marks
/// (U+200E, U+200F, U+061C), which are harmless alone but are dropped with the rest for simplicity.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
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
    fn bidirectional_overrides_are_dropped_on_arrival() {
        // "exe.pdf" written with a right-to-left override would show as "fdp.exe".
        assert_eq!(incoming("report\u{202E}fdp.exe").as_deref(), Some("reportfdp.exe"));
        assert_eq!(incoming("\u{2066}a\u{2069}\u{200F}b\u{061C}").as_deref(), Some("ab"));
        assert_eq!(incoming("\u{202D}").as_deref(), None);
        assert_eq!(incoming("שלום").as_deref(), Some("שלום"), "right-to-left text itself is kept");
    }

    #[test]
    fn control_characters_are_dropped_on_arrival() {
        assert_eq!(incoming("a\u{7}b\u{1b}[2Jc").as_deref(), Some("ab[2Jc"));
        assert_eq!(incoming("\u{0}").as_deref(), None);
    }
}
