//! Keyboard shortcuts of the call screen: which key does what, when a key press is the
//! person's typing rather than a shortcut, and the list shown behind "?". Pure.

/// What a shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    ToggleMic,
    ToggleCamera,
    ToggleChat,
    Fullscreen,
    /// Show or hide the list of shortcuts.
    Help,
    /// Close what is open (the list, full screen, the chat sheet).
    Close,
}

/// The list behind "?": the key as printed, and what it does.
pub const LIST: [(&str, &str); 6] = [
    ("M", "Mute or unmute the microphone"),
    ("V", "Turn the camera off or on"),
    ("C", "Open or close the chat"),
    ("F", "Full screen"),
    ("?", "Show these shortcuts"),
    ("Esc", "Close this list or the chat; leave full screen"),
];

/// A key press as the page sees it (`KeyboardEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Press<'a> {
    /// `KeyboardEvent.key`.
    pub key: &'a str,
    /// Ctrl, Alt or Meta held: the browser's or the system's shortcut, not ours.
    pub modifier: bool,
    /// The focus is in a text field: the person is typing.
    pub typing: bool,
    /// The key is held down and repeats.
    pub repeat: bool,
}

/// The shortcut a key press means, if any. Letters ignore case (Caps Lock, Shift); "?" needs
/// Shift on most layouts, so Shift is never a modifier here.
pub fn shortcut(press: Press<'_>) -> Option<Shortcut> {
    if press.key == "Escape" {
        return Some(Shortcut::Close);
    }
    if press.modifier || press.typing || press.repeat {
        return None;
    }
    Some(match press.key {
        "m" | "M" => Shortcut::ToggleMic,
        "v" | "V" => Shortcut::ToggleCamera,
        "c" | "C" => Shortcut::ToggleChat,
        "f" | "F" => Shortcut::Fullscreen,
        "?" => Shortcut::Help,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(key: &str) -> Press<'_> {
        Press { key, modifier: false, typing: false, repeat: false }
    }

    #[test]
    fn letters_in_either_case() {
        assert_eq!(shortcut(press("m")), Some(Shortcut::ToggleMic));
        assert_eq!(shortcut(press("M")), Some(Shortcut::ToggleMic));
        assert_eq!(shortcut(press("V")), Some(Shortcut::ToggleCamera));
        assert_eq!(shortcut(press("c")), Some(Shortcut::ToggleChat));
        assert_eq!(shortcut(press("f")), Some(Shortcut::Fullscreen));
        assert_eq!(shortcut(press("?")), Some(Shortcut::Help));
        assert_eq!(shortcut(press("x")), None);
        assert_eq!(shortcut(press("Enter")), None);
    }

    #[test]
    fn typing_modifiers_and_repeats_are_not_shortcuts() {
        assert_eq!(shortcut(Press { typing: true, ..press("m") }), None);
        assert_eq!(shortcut(Press { modifier: true, ..press("v") }), None);
        assert_eq!(shortcut(Press { repeat: true, ..press("m") }), None);
        // Escape always closes, even from the chat input.
        assert_eq!(shortcut(Press { typing: true, ..press("Escape") }), Some(Shortcut::Close));
    }

    #[test]
    fn every_shortcut_is_listed() {
        for (key, _) in LIST.iter().filter(|(key, _)| *key != "Esc") {
            assert!(shortcut(press(key)).is_some(), "{key} is listed but does nothing");
        }
        assert!(LIST.iter().any(|(key, _)| *key == "Esc"));
    }
}
