//! Privacy mode ("hide my address from the other person"): whether this side gathers relay
//! candidates only (`iceTransportPolicy: "relay"`), so its host and server-reflexive addresses
//! never reach the other person, and what the page says about it. Pure; the setting is kept in
//! `localStorage` by the app.

use shared::IceServer;

use crate::diagnosis::is_turn_url;

/// The `localStorage` key; the value is [`ON`] or [`OFF`]. Off when absent: the default.
pub const STORAGE_KEY: &str = "connect.privacy-mode";
pub const ON: &str = "on";
pub const OFF: &str = "off";

/// Whether the remembered value turns privacy mode on.
pub fn remembered(value: Option<&str>) -> bool {
    value == Some(ON)
}

/// Whether this server can hide addresses: only a TURN relay can carry the call without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Not joined yet: the server has not said which ICE servers it offers.
    Unknown,
    Available,
    NoTurn,
}

impl Availability {
    pub fn of(ice_servers: &[IceServer]) -> Availability {
        if ice_servers.iter().flat_map(|s| &s.urls).any(|u| is_turn_url(u)) {
            Availability::Available
        } else {
            Availability::NoTurn
        }
    }

    /// Why the checkbox is disabled, shown next to it.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Availability::NoTurn => Some(
                "Unavailable: this server has no relay (TURN) configured, so a call here shows your address to the other person.",
            ),
            Availability::Unknown | Availability::Available => None,
        }
    }
}

/// The ICE policy for a call: relay only when the link asks for it (`ice=relay`, for tests and
/// diagnosis) or when privacy mode is on and a relay exists. Without a relay, relay-only would
/// gather nothing and the call could never connect; the page says privacy is unavailable instead.
pub fn relay_only(wanted: bool, force_relay: bool, availability: Availability) -> bool {
    force_relay || (wanted && availability == Availability::Available)
}

/// The path badge's words for a relayed path.
pub fn relay_badge(private: bool) -> &'static str {
    if private {
        "relayed (private)"
    } else {
        "relayed via TURN"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str) -> IceServer {
        IceServer { urls: vec![url.into()], username: None, credential: None }
    }

    #[test]
    fn off_unless_remembered_on() {
        assert!(!remembered(None));
        assert!(!remembered(Some(OFF)));
        assert!(!remembered(Some("yes")));
        assert!(remembered(Some(ON)));
    }

    #[test]
    fn only_a_turn_server_makes_privacy_available() {
        assert_eq!(Availability::of(&[]), Availability::NoTurn);
        assert_eq!(Availability::of(&[server("stun:stun.example.org:3478")]), Availability::NoTurn);
        assert_eq!(Availability::of(&[server("stun:x"), server("turn:x:3478")]), Availability::Available);
        assert_eq!(Availability::of(&[server("TURNS:x:5349")]), Availability::Available);
        assert!(Availability::NoTurn.reason().is_some_and(|r| r.contains("TURN")));
        assert_eq!(Availability::Available.reason(), None);
    }

    #[test]
    fn relay_only_needs_the_wish_and_a_relay_or_the_link() {
        use Availability::*;
        assert!(relay_only(true, false, Available));
        assert!(!relay_only(false, false, Available));
        assert!(!relay_only(true, false, NoTurn));
        assert!(!relay_only(true, false, Unknown));
        assert!(relay_only(false, true, NoTurn));
    }

    #[test]
    fn the_badge_says_private_only_when_private() {
        assert_eq!(relay_badge(true), "relayed (private)");
        assert_eq!(relay_badge(false), "relayed via TURN");
    }
}
