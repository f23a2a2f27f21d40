//! The call state shown to the person — and to tests, as `<body data-call-state>` — derived
//! from the facts the app tracks, never stored beside them, so the two cannot disagree.

use shared::FailureReason;

use crate::diagnosis::sentence;

/// The contract values of `data-call-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Idle,
    Joining,
    /// The pre-join screen of a person who opened a link: preview, devices, name, **Join**.
    Prejoin,
    Waiting,
    Connecting,
    Connected,
    Reconnecting,
    PeerLeft,
    Ended,
    Full,
    Error,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Idle => "idle",
            CallState::Joining => "joining",
            CallState::Prejoin => "prejoin",
            CallState::Waiting => "waiting",
            CallState::Connecting => "connecting",
            CallState::Connected => "connected",
            CallState::Reconnecting => "reconnecting",
            CallState::PeerLeft => "peer-left",
            CallState::Ended => "ended",
            CallState::Full => "full",
            CallState::Error => "error",
        }
    }
}

/// Where the page is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// `/` without a room: the "Start a call" page.
    Lobby,
    /// A person who opened a link: the seat is asked for first (so a full room is said before
    /// any camera prompt), then the pre-join screen until they press **Join**.
    PreJoin,
    /// In a room (or trying to be).
    InCall,
    /// Hung up by this person.
    Ended,
    /// The room already has two people.
    Full,
    /// Something that stops the call, with words for the person.
    Failed(Problem),
}

/// Why a call cannot go on, in terms a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The link's room id is not one this app makes or accepts.
    BadLink,
    /// The signaling server could not be reached at all.
    ServerUnreachable,
    /// The server refused us for a reason the app cannot fix (its message).
    Refused(String),
    /// The seat was taken with this page's resume token (close 4001): the call is open in another
    /// tab or on another device — or someone else holds the token.
    OpenedElsewhere,
}

/// The signaling connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Opening the socket and waiting for the first `joined`.
    Connecting,
    Joined,
    /// Lost after having been joined; reconnecting with backoff until joined again.
    Lost,
}

/// The other person, as far as the room tells us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Nobody else has been here yet.
    NotYet,
    Present,
    /// Was here and left (or their resume grace ran out).
    Left,
}

/// The media path to the other person (`RTCPeerConnection.connectionState`, simplified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    None,
    Connecting,
    Connected,
    /// Was connected and lost its path; an ICE restart is under way.
    Interrupted,
    /// No path was found within the deadline (one ICE restart included), for this reason.
    Failed(FailureReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub phase: Phase,
    pub link: Link,
    pub peer: Peer,
    pub media: Media,
}

impl Facts {
    pub fn lobby() -> Self {
        Facts { phase: Phase::Lobby, link: Link::Connecting, peer: Peer::NotYet, media: Media::None }
    }

    pub fn joining() -> Self {
        Facts { phase: Phase::InCall, ..Facts::lobby() }
    }

    pub fn state(&self) -> CallState {
        match &self.phase {
            Phase::Lobby => CallState::Idle,
            Phase::Ended => CallState::Ended,
            Phase::Full => CallState::Full,
            Phase::Failed(_) => CallState::Error,
            Phase::PreJoin if self.link == Link::Connecting => CallState::Joining,
            Phase::PreJoin => CallState::Prejoin,
            Phase::InCall => match (self.link, self.peer, self.media) {
                (Link::Connecting, ..) => CallState::Joining,
                (Link::Lost, ..) => CallState::Reconnecting,
                (Link::Joined, _, Media::Connected) => CallState::Connected,
                (Link::Joined, Peer::Present, Media::Interrupted) => CallState::Reconnecting,
                (Link::Joined, Peer::Present, Media::Failed(_)) => CallState::Error,
                (Link::Joined, Peer::Present, _) => CallState::Connecting,
                (Link::Joined, Peer::Left, _) => CallState::PeerLeft,
                (Link::Joined, Peer::NotYet, _) => CallState::Waiting,
            },
        }
    }

    /// What the notice over the video says, if anything.
    pub fn message(&self) -> Option<String> {
        let text = match (&self.phase, self.state()) {
            (Phase::Failed(Problem::BadLink), _) => {
                "This link is not valid. Check that you copied all of it, or start a new call.".into()
            }
            (Phase::Failed(Problem::ServerUnreachable), _) => {
                "Cannot reach the call server. Check your connection; the page will keep trying.".into()
            }
            (Phase::Failed(Problem::Refused(why)), _) => format!("The call server refused to connect: {why}"),
            (Phase::Failed(Problem::OpenedElsewhere), _) => {
                "This call is now open in another tab or on another device. If that was not you, start a new call."
                    .into()
            }
            (Phase::PreJoin, CallState::Joining) => "Opening the call…".into(),
            (_, CallState::Joining) => "Joining the call…".into(),
            (_, CallState::Waiting) => "Waiting for the other person to join.".into(),
            (_, CallState::Connecting) => "Connecting to the other person…".into(),
            (_, CallState::Reconnecting) if self.link != Link::Joined => {
                "Reconnecting to the call server… The call continues if it can.".into()
            }
            (_, CallState::Reconnecting) => "The connection dropped. Reconnecting…".into(),
            (_, CallState::PeerLeft) => "The other person left. They can rejoin with the same link.".into(),
            (_, CallState::Ended) => "You left the call.".into(),
            (_, CallState::Full) => "This call already has two people.".into(),
            (_, CallState::Error) => match self.failure() {
                Some(reason) => sentence(reason).into(),
                None => sentence(FailureReason::NoPath).into(),
            },
            (_, CallState::Connected | CallState::Idle | CallState::Prejoin) => return None,
        };
        Some(text)
    }

    /// Why the call could not connect, while it shows that error: `<body data-error>`.
    pub fn failure(&self) -> Option<FailureReason> {
        match (&self.phase, self.state(), self.media) {
            (Phase::InCall, CallState::Error, Media::Failed(reason)) => Some(reason),
            _ => None,
        }
    }

    /// Whether the message covers the video. Not while media still flows: a signaling outage
    /// mid-call must not hide a picture that is still live, so its message goes to the status
    /// line instead.
    pub fn message_covers_video(&self) -> bool {
        self.message().is_some() && self.media != Media::Connected
    }

    /// Whether the share box (the link to send) belongs on screen.
    pub fn show_link(&self) -> bool {
        matches!(self.state(), CallState::Waiting | CallState::PeerLeft) || self.failure().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_call(link: Link, peer: Peer, media: Media) -> Facts {
        Facts { phase: Phase::InCall, link, peer, media }
    }

    #[test]
    fn the_happy_path() {
        assert_eq!(Facts::lobby().state(), CallState::Idle);
        assert_eq!(Facts::joining().state(), CallState::Joining);
        assert_eq!(in_call(Link::Joined, Peer::NotYet, Media::None).state(), CallState::Waiting);
        assert_eq!(in_call(Link::Joined, Peer::Present, Media::Connecting).state(), CallState::Connecting);
        assert_eq!(in_call(Link::Joined, Peer::Present, Media::Connected).state(), CallState::Connected);
        assert_eq!(in_call(Link::Joined, Peer::Left, Media::None).state(), CallState::PeerLeft);
    }

    #[test]
    fn losing_the_server_mid_call_is_reconnecting_and_media_survives() {
        let lost = in_call(Link::Lost, Peer::Present, Media::Connected);
        assert_eq!(lost.state(), CallState::Reconnecting);
        assert!(lost.message().unwrap().contains("call server"));
        assert_eq!(in_call(Link::Lost, Peer::Present, Media::Interrupted).state(), CallState::Reconnecting);
        // Back: joined again while media kept flowing.
        assert_eq!(in_call(Link::Joined, Peer::Present, Media::Connected).state(), CallState::Connected);
    }

    #[test]
    fn a_media_drop_is_reconnecting_and_no_path_is_an_error_with_words() {
        assert_eq!(in_call(Link::Joined, Peer::Present, Media::Interrupted).state(), CallState::Reconnecting);
        let no_path = in_call(Link::Joined, Peer::Present, Media::Failed(FailureReason::NoPath));
        assert_eq!(no_path.state(), CallState::Error);
        assert!(no_path.message().unwrap().contains("No network path"));
    }

    #[test]
    fn a_connection_failure_says_why_and_keeps_the_link() {
        let failed = in_call(Link::Joined, Peer::Present, Media::Failed(FailureReason::TurnUnreachable));
        assert_eq!(failed.failure(), Some(FailureReason::TurnUnreachable));
        assert!(failed.message().unwrap().contains("relay server cannot be reached"));
        assert!(failed.show_link());
        assert!(failed.message_covers_video());
        // Other errors and other states carry no data-error.
        let refused = Facts { phase: Phase::Failed(Problem::ServerUnreachable), ..failed.clone() };
        assert_eq!(refused.failure(), None);
        assert_eq!(in_call(Link::Joined, Peer::Present, Media::Connecting).failure(), None);
        // The other person left: the failure is over.
        assert_eq!(in_call(Link::Joined, Peer::Left, Media::Failed(FailureReason::NoPath)).failure(), None);
    }

    #[test]
    fn terminal_phases() {
        let f = |phase| Facts { phase, ..Facts::joining() };
        assert_eq!(f(Phase::Ended).state(), CallState::Ended);
        assert_eq!(f(Phase::Full).state(), CallState::Full);
        assert!(f(Phase::Full).message().unwrap().contains("two people"));
        let refused = f(Phase::Failed(Problem::Refused("origin not allowed".into())));
        assert_eq!(refused.state(), CallState::Error);
        assert!(refused.message().unwrap().contains("origin not allowed"));
        assert!(f(Phase::Failed(Problem::ServerUnreachable)).message().unwrap().contains("Cannot reach"));
        let elsewhere = f(Phase::Failed(Problem::OpenedElsewhere));
        assert_eq!(elsewhere.state(), CallState::Error);
        assert!(elsewhere.message().unwrap().contains("open in another tab or on another device"));
    }

    #[test]
    fn a_signaling_outage_does_not_cover_live_video() {
        let lost = in_call(Link::Lost, Peer::Present, Media::Connected);
        assert!(lost.message().is_some());
        assert!(!lost.message_covers_video());
        assert!(in_call(Link::Lost, Peer::Present, Media::Interrupted).message_covers_video());
        assert!(in_call(Link::Joined, Peer::NotYet, Media::None).message_covers_video());
    }

    #[test]
    fn the_link_is_shown_while_alone() {
        assert!(in_call(Link::Joined, Peer::NotYet, Media::None).show_link());
        assert!(in_call(Link::Joined, Peer::Left, Media::None).show_link());
        assert!(!in_call(Link::Joined, Peer::Present, Media::Connected).show_link());
    }

    #[test]
    fn a_link_opens_on_the_seat_then_the_prejoin_screen() {
        let prejoin = |link| Facts { phase: Phase::PreJoin, link, ..Facts::joining() };
        assert_eq!(prejoin(Link::Connecting).state(), CallState::Joining);
        assert!(prejoin(Link::Connecting).message().unwrap().contains("Opening"));
        assert_eq!(prejoin(Link::Joined).state(), CallState::Prejoin);
        assert_eq!(prejoin(Link::Joined).message(), None);
        // A reconnect beneath the pre-join screen does not take it away.
        assert_eq!(prejoin(Link::Lost).state(), CallState::Prejoin);
        assert!(!prejoin(Link::Joined).show_link());
    }

    #[test]
    fn every_state_has_its_contract_name() {
        let names: Vec<&str> = [
            CallState::Idle,
            CallState::Joining,
            CallState::Prejoin,
            CallState::Waiting,
            CallState::Connecting,
            CallState::Connected,
            CallState::Reconnecting,
            CallState::PeerLeft,
            CallState::Ended,
            CallState::Full,
            CallState::Error,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "idle",
                "joining",
                "prejoin",
                "waiting",
                "connecting",
                "connected",
                "reconnecting",
                "peer-left",
                "ended",
                "full",
                "error"
            ]
        );
    }
}
