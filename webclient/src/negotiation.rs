//! Perfect negotiation (W3C WebRTC §10.7 example) as pure decisions, so glare — both sides
//! offering at once — is resolved the same way on both ends and tested without a browser.
//!
//! One side is *polite*: on a collision it rolls its own offer back and answers. The other is
//! *impolite*: it ignores the colliding offer and waits for its own to be answered. The roles come
//! from the two peer ids the server assigned, so both ends agree without a message.

use shared::PeerId;

/// The polite side is the one with the smaller peer id.
pub fn is_polite(me: &PeerId, them: &PeerId) -> bool {
    me.as_str() < them.as_str()
}

/// Whether a description is an offer or an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Offer,
    Answer,
}

/// What to do with an incoming description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Impolite side in a collision: drop the offer (and the candidates that follow it).
    Ignore,
    /// Apply it (the browser rolls back our own offer implicitly when needed), and answer if it
    /// is an offer.
    Apply { answer: bool },
}

/// The negotiation flags of one `RTCPeerConnection`.
#[derive(Debug, Clone, Default)]
pub struct Negotiator {
    polite: bool,
    /// Between starting our offer and setting it as the local description.
    making_offer: bool,
    /// The last remote offer was ignored: failures adding its candidates are expected.
    ignore_offer: bool,
    /// Applying a remote answer: the state is briefly not "stable" but this is no collision.
    setting_remote_answer: bool,
}

impl Negotiator {
    pub fn new(polite: bool) -> Self {
        Negotiator { polite, ..Negotiator::default() }
    }

    pub fn polite(&self) -> bool {
        self.polite
    }

    pub fn start_offer(&mut self) {
        self.making_offer = true;
    }

    pub fn finish_offer(&mut self) {
        self.making_offer = false;
    }

    /// Decides about a remote description, given whether the connection's signaling state is
    /// `stable`. Call [`Negotiator::applied`] once it has been applied.
    pub fn on_description(&mut self, kind: Kind, stable: bool) -> Decision {
        let ready_for_offer = !self.making_offer && (stable || self.setting_remote_answer);
        let collision = kind == Kind::Offer && !ready_for_offer;
        self.ignore_offer = !self.polite && collision;
        if self.ignore_offer {
            return Decision::Ignore;
        }
        self.setting_remote_answer = kind == Kind::Answer;
        Decision::Apply { answer: kind == Kind::Offer }
    }

    pub fn applied(&mut self) {
        self.setting_remote_answer = false;
    }

    /// Whether a failure to add a remote candidate is expected (it belonged to an ignored offer)
    /// rather than a fault.
    pub fn candidate_error_expected(&self) -> bool {
        self.ignore_offer
    }
}

/// How we learnt that the other person is in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Our `joined` listed them: we are the newcomer.
    Listed,
    /// `peer_joined`: they are the newcomer.
    Arrived,
    /// A signal came from a peer id we did not know (their id changed, e.g. after a restart).
    Signalled,
}

/// What to do about the connection when the other person appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// A call is still connected (both came back after a server restart, or a resume): carry on.
    Keep,
    /// Start a fresh connection and offer.
    Offer,
    /// End any stale connection and wait for their offer.
    AwaitOffer,
}

/// Only the newcomer offers on a fresh connection; the one who was already there waits for that
/// offer. One offer, so no glare (and no rollback) at the start of every call; perfect
/// negotiation still settles later collisions, such as ICE restarts from both sides. A signal
/// from an unknown id is answered, never raced: if it is an offer, it starts the new connection.
pub fn on_arrival(seen: Seen, connected: bool) -> Arrival {
    match (seen, connected) {
        (_, true) => Arrival::Keep,
        (Seen::Listed, false) => Arrival::Offer,
        (Seen::Arrived | Seen::Signalled, false) => Arrival::AwaitOffer,
    }
}

/// The session id of an SDP (`o=<user> <sess-id> <version> …`). A new `RTCPeerConnection` picks
/// a new one; renegotiations of the same connection keep it. An offer with a different id than
/// the current remote description comes from a new connection of the other side — a reload —
/// and needs a new connection here too.
pub fn sdp_session_id(sdp: &str) -> Option<&str> {
    sdp.lines().find_map(|line| line.strip_prefix("o=")).and_then(|origin| origin.split_whitespace().nth(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_side_is_polite() {
        let (a, b) = (PeerId::new("AAAA"), PeerId::new("BBBB"));
        assert!(is_polite(&a, &b));
        assert!(!is_polite(&b, &a));
    }

    #[test]
    fn without_collision_offers_are_answered_and_answers_applied() {
        let mut n = Negotiator::new(false);
        assert_eq!(n.on_description(Kind::Offer, true), Decision::Apply { answer: true });
        n.applied();
        n.start_offer();
        n.finish_offer();
        assert_eq!(n.on_description(Kind::Answer, false), Decision::Apply { answer: false });
        n.applied();
    }

    #[test]
    fn glare_the_impolite_side_ignores_the_polite_side_yields() {
        // Both sent offers: each is in have-local-offer (not stable) when the other's arrives.
        let mut impolite = Negotiator::new(false);
        let mut polite = Negotiator::new(true);
        assert_eq!(impolite.on_description(Kind::Offer, false), Decision::Ignore);
        assert!(impolite.candidate_error_expected());
        assert_eq!(polite.on_description(Kind::Offer, false), Decision::Apply { answer: true });
        polite.applied();
        assert!(!polite.candidate_error_expected());
        // The polite side's answer reaches the impolite side, which applies it.
        assert_eq!(impolite.on_description(Kind::Answer, false), Decision::Apply { answer: false });
    }

    #[test]
    fn an_offer_while_making_our_own_is_a_collision_even_if_still_stable() {
        let mut n = Negotiator::new(false);
        n.start_offer();
        assert_eq!(n.on_description(Kind::Offer, true), Decision::Ignore);
        let mut p = Negotiator::new(true);
        p.start_offer();
        assert_eq!(p.on_description(Kind::Offer, true), Decision::Apply { answer: true });
    }

    #[test]
    fn an_offer_right_after_applying_an_answer_is_not_a_collision() {
        let mut n = Negotiator::new(false);
        assert_eq!(n.on_description(Kind::Answer, false), Decision::Apply { answer: false });
        // Still marked as setting the answer: the state is not stable yet, but no collision.
        assert_eq!(n.on_description(Kind::Offer, false), Decision::Apply { answer: true });
    }

    #[test]
    fn only_the_newcomer_offers_and_a_connected_call_carries_on() {
        assert_eq!(on_arrival(Seen::Listed, false), Arrival::Offer);
        assert_eq!(on_arrival(Seen::Arrived, false), Arrival::AwaitOffer);
        assert_eq!(on_arrival(Seen::Signalled, false), Arrival::AwaitOffer);
        for seen in [Seen::Listed, Seen::Arrived, Seen::Signalled] {
            assert_eq!(on_arrival(seen, true), Arrival::Keep, "{seen:?}");
        }
    }

    #[test]
    fn session_ids() {
        let sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\n";
        assert_eq!(sdp_session_id(sdp), Some("4611731400430051336"));
        assert_eq!(sdp_session_id("v=0\r\n"), None);
    }
}
