//! No dead ends: what a screen that ends or interrupts the call offers next ("Start a new call",
//! "Rejoin", "Try again", the link to send again), and which of those takes keyboard focus when
//! the screen appears. Pure; `join_view` shows it.

use crate::state::{CallState, Facts, Phase, Problem};

/// An action a screen offers, by the id of its button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `#new-call`: a fresh room, as "Start a call" on the start page.
    NewCall,
    /// `#rejoin`: back into the same room.
    Rejoin,
    /// `#retry-button`: try the connection (or the server) again.
    Retry,
    /// `#copy-link`: the link, for the other person to come back.
    CopyLink,
}

impl Step {
    pub fn id(self) -> &'static str {
        match self {
            Step::NewCall => "new-call",
            Step::Rejoin => "rejoin",
            Step::Retry => "retry-button",
            Step::CopyLink => "copy-link",
        }
    }
}

/// The steps offered beside the screen's own buttons, and the one to focus; empty while the
/// call goes on.
pub fn next_steps(facts: &Facts) -> (Vec<Step>, Option<Step>) {
    match (facts.state(), &facts.phase) {
        (CallState::Full, _) => (vec![Step::NewCall], Some(Step::NewCall)),
        (CallState::Ended, _) => (vec![Step::Rejoin, Step::NewCall], Some(Step::Rejoin)),
        (CallState::PeerLeft, _) => (vec![Step::NewCall], Some(Step::CopyLink)),
        (CallState::Error, Phase::Failed(Problem::ServerUnreachable)) => {
            (vec![Step::Retry, Step::NewCall], Some(Step::Retry))
        }
        (CallState::Error, Phase::Failed(_)) => (vec![Step::NewCall], Some(Step::NewCall)),
        // No path to the other person: "Try again" is the error screen's own button.
        (CallState::Error, _) => (vec![Step::NewCall], Some(Step::Retry)),
        _ => (Vec::new(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Link, Media, Peer};
    use shared::FailureReason;

    fn with(phase: Phase) -> Facts {
        Facts { phase, ..Facts::joining() }
    }

    #[test]
    fn every_terminal_screen_offers_a_way_on_and_focuses_it() {
        let cases = [
            (with(Phase::Full), Step::NewCall),
            (with(Phase::Ended), Step::Rejoin),
            (with(Phase::Failed(Problem::BadLink)), Step::NewCall),
            (with(Phase::Failed(Problem::ServerUnreachable)), Step::Retry),
            (with(Phase::Failed(Problem::Refused("origin not allowed".into()))), Step::NewCall),
            (with(Phase::Failed(Problem::OpenedElsewhere)), Step::NewCall),
            (
                Facts {
                    phase: Phase::InCall,
                    link: Link::Joined,
                    peer: Peer::Present,
                    media: Media::Failed(FailureReason::NoPath),
                },
                Step::Retry,
            ),
            (Facts { phase: Phase::InCall, link: Link::Joined, peer: Peer::Left, media: Media::None }, Step::CopyLink),
        ];
        for (facts, focus) in cases {
            let (steps, focused) = next_steps(&facts);
            assert!(!steps.is_empty(), "{:?} offers nothing", facts.state());
            assert_eq!(focused, Some(focus), "{:?}", facts.state());
        }
    }

    #[test]
    fn nothing_extra_while_the_call_goes_on() {
        let connected =
            Facts { phase: Phase::InCall, link: Link::Joined, peer: Peer::Present, media: Media::Connected };
        assert_eq!(next_steps(&connected), (Vec::new(), None));
        assert_eq!(next_steps(&Facts::joining()), (Vec::new(), None));
        assert_eq!(next_steps(&Facts::lobby()), (Vec::new(), None));
    }

    #[test]
    fn button_ids() {
        let ids: Vec<&str> = [Step::NewCall, Step::Rejoin, Step::Retry, Step::CopyLink].map(Step::id).to_vec();
        assert_eq!(ids, ["new-call", "rejoin", "retry-button", "copy-link"]);
    }
}
