//! How the call screen is arranged, as pure decisions: where the self-view sits (a corner,
//! hidden, or swapped with the other person into the big tile), the call timer's text, the
//! page title for each state, and where keyboard focus goes when a screen change would leave
//! it nowhere.

use crate::state::CallState;

/// The self-view's corner of the stage (`data-corner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Corner {
    #[default]
    BottomRight,
    BottomLeft,
    TopLeft,
    TopRight,
}

impl Corner {
    /// The next corner, clockwise from the bottom right: four presses come back.
    pub fn next(self) -> Corner {
        match self {
            Corner::BottomRight => Corner::BottomLeft,
            Corner::BottomLeft => Corner::TopLeft,
            Corner::TopLeft => Corner::TopRight,
            Corner::TopRight => Corner::BottomRight,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Corner::BottomRight => "bottom-right",
            Corner::BottomLeft => "bottom-left",
            Corner::TopLeft => "top-left",
            Corner::TopRight => "top-right",
        }
    }
}

/// The person's arrangement of the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    pub corner: Corner,
    /// The self-view is hidden (the small tile; a swapped self-view is never hidden).
    pub self_hidden: bool,
    /// The person sees themselves big and the other person small.
    pub swapped: bool,
}

impl View {
    /// Whether the small tile is shown: hiding applies to whoever is small, but the other
    /// person is never hidden, so swapping shows the small tile again.
    pub fn small_tile_shown(self) -> bool {
        self.swapped || !self.self_hidden
    }
}

/// The timer's text for `ms` of call: `m:ss`, then `h:mm:ss` from an hour on.
pub fn elapsed(ms: f64) -> String {
    let secs = if ms.is_finite() && ms > 0.0 { (ms / 1000.0) as u64 } else { 0 };
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The page title: the state first, so a tab or a task switcher says it.
pub fn title(state: CallState) -> &'static str {
    match state {
        CallState::Idle => "Connect — a video call",
        CallState::Prejoin => "Ready to join — Connect",
        CallState::Joining => "Joining… — Connect",
        CallState::Waiting => "Waiting for the other person — Connect",
        CallState::Connecting => "Connecting… — Connect",
        CallState::Connected => "In a call — Connect",
        CallState::Reconnecting => "Reconnecting… — Connect",
        CallState::PeerLeft => "The other person left — Connect",
        CallState::Ended => "Call ended — Connect",
        CallState::Full => "Call full — Connect",
        CallState::Error => "Could not connect — Connect",
    }
}

/// Where focus goes when a screen change left it on nothing (the button pressed disappeared):
/// the element of that screen a person most likely wants next, by id. The screens that end or
/// stop a call (ended, peer left, full, error) are not here: their next step takes focus itself
/// (`next_step`), and one owner per screen keeps the two from moving it twice.
pub fn focus_target(state: CallState, link_shown: bool) -> Option<&'static str> {
    match state {
        CallState::Idle => Some("start-call"),
        CallState::Prejoin => Some("join-button"),
        CallState::Waiting if link_shown => Some("copy-link"),
        CallState::Waiting | CallState::Connecting | CallState::Connected | CallState::Reconnecting => {
            Some("toggle-mic")
        }
        // Devices are still being asked for: the next screen decides.
        CallState::Joining => None,
        CallState::Ended | CallState::PeerLeft | CallState::Full | CallState::Error => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_moves_come_back() {
        let mut corner = Corner::default();
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(corner.as_str());
            corner = corner.next();
        }
        assert_eq!(corner, Corner::BottomRight);
        assert_eq!(seen, ["bottom-right", "bottom-left", "top-left", "top-right"]);
    }

    #[test]
    fn the_other_person_is_never_hidden() {
        assert!(View::default().small_tile_shown());
        let hidden = View { self_hidden: true, ..View::default() };
        assert!(!hidden.small_tile_shown());
        assert!(View { swapped: true, ..hidden }.small_tile_shown());
    }

    #[test]
    fn timer_text() {
        assert_eq!(elapsed(0.0), "0:00");
        assert_eq!(elapsed(-5.0), "0:00");
        assert_eq!(elapsed(f64::NAN), "0:00");
        assert_eq!(elapsed(59_999.0), "0:59");
        assert_eq!(elapsed(61_000.0), "1:01");
        assert_eq!(elapsed(3_600_000.0 + 62_000.0), "1:01:02");
    }

    #[test]
    fn titles_lead_with_the_state() {
        assert!(title(CallState::Connected).starts_with("In a call"));
        assert!(title(CallState::Waiting).starts_with("Waiting"));
        assert!(title(CallState::Ended).ends_with("Connect"));
    }

    #[test]
    fn focus_lands_on_the_next_step() {
        assert_eq!(focus_target(CallState::Waiting, true), Some("copy-link"));
        assert_eq!(focus_target(CallState::Waiting, false), Some("toggle-mic"));
        assert_eq!(focus_target(CallState::Connected, false), Some("toggle-mic"));
        assert_eq!(focus_target(CallState::Joining, false), None);
        for ending in [CallState::Ended, CallState::PeerLeft, CallState::Full, CallState::Error] {
            assert_eq!(focus_target(ending, true), None, "{ending:?}: the next step's own focus");
        }
    }
}
