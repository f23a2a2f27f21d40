//! Where the other peers of one seat's room sit (node and connection), as far as this node has
//! heard: what lets a relay be one `PUBLISH` to the recipient's node instead of a script that
//! looks the seat up in Redis.
//!
//! One per seat, so it lives and dies with the seat and holds at most the room's other members.
//! Two sources, and which wins when they race:
//! - **notices** on the seat's inbox (`P`: a peer joined or resumed there, `L`: it left) are
//!   published by the scripts that change the room, in Redis order, to every connected member:
//!   they always overwrite;
//! - **the relay script's answer** (a cache miss) says where the recipient sat when the script
//!   ran, but it comes back on the command connection, which may be overtaken by a later notice
//!   on the subscription: it fills only a peer not already known.
//!
//! A stale entry is never trusted to deliver: the receiving node checks the seat the envelope
//! names (see `inbox`). It only costs a bounced signal and its `unknown_peer`.

use std::sync::Arc;

use crate::engine::peer::ConnId;
use crate::engine::redis::scripts::INBOX_PREFIX;

/// A seat's holder: a connection of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub node: Arc<str>,
    /// The node's inbox channel, put together once here rather than for every relay to it.
    pub channel: Arc<str>,
    pub conn: ConnId,
}

impl Place {
    pub fn new(node: &str, conn: ConnId) -> Place {
        Place { node: node.into(), channel: format!("{INBOX_PREFIX}{node}").into(), conn }
    }

    pub fn is(&self, node: &str, conn: ConnId) -> bool {
        self.conn == conn && &*self.node == node
    }
}

#[derive(Debug, Default)]
pub struct Places {
    /// Peer id → place; a handful (a room's capacity), so a list beats a map.
    known: Vec<(String, Place)>,
}

impl Places {
    pub fn get(&self, peer: &str) -> Option<&Place> {
        self.known.iter().find(|(p, _)| p == peer).map(|(_, place)| place)
    }

    /// A notice: `peer` sits at `place` now. `limit` bounds the list (the room's other seats);
    /// past it the oldest entry goes.
    pub fn learned(&mut self, peer: &str, place: Place, limit: usize) {
        if let Some((_, known)) = self.known.iter_mut().find(|(p, _)| p == peer) {
            *known = place;
            return;
        }
        if self.known.len() >= limit.max(1) {
            self.known.remove(0);
        }
        self.known.push((peer.to_owned(), place));
    }

    /// A relay script's answer: where `peer` sat when it ran; kept only if no notice said more.
    pub fn answered(&mut self, peer: &str, place: Place, limit: usize) {
        if self.get(peer).is_none() {
            self.learned(peer, place, limit);
        }
    }

    pub fn forget(&mut self, peer: &str) {
        self.known.retain(|(p, _)| p != peer);
    }

    pub fn clear(&mut self) {
        self.known.clear();
    }

    /// Whether a signal from `peer`, sent by `node`'s connection `conn`, comes from where `peer`
    /// sits as far as this seat heard. A peer not known passes: the seat heard of no move.
    pub fn sent_from_its_seat(&self, peer: &str, node: &str, conn: ConnId) -> bool {
        self.get(peer).is_none_or(|place| place.is(node, conn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(node: &str, conn: ConnId) -> Place {
        Place::new(node, conn)
    }

    #[test]
    fn notices_overwrite_and_answers_only_fill_gaps() {
        let mut places = Places::default();
        places.answered("pB", at("n1", 4), 1);
        assert_eq!(places.get("pB"), Some(&at("n1", 4)));
        // B resumed on n2: the notice wins, and a late script answer from before cannot undo it.
        places.learned("pB", at("n2", 9), 1);
        places.answered("pB", at("n1", 4), 1);
        assert_eq!(places.get("pB"), Some(&at("n2", 9)));
        places.forget("pB");
        assert_eq!(places.get("pB"), None);
    }

    #[test]
    fn bounded_by_the_limit_oldest_out() {
        let mut places = Places::default();
        places.learned("p1", at("n", 1), 2);
        places.learned("p2", at("n", 2), 2);
        places.learned("p3", at("n", 3), 2);
        assert_eq!(places.get("p1"), None);
        assert_eq!(places.get("p3"), Some(&at("n", 3)));
        places.learned("p3", at("n", 4), 2);
        assert_eq!(places.get("p2"), Some(&at("n", 2)));
        places.clear();
        assert_eq!(places.get("p2"), None);
    }

    #[test]
    fn a_signal_from_an_old_seat_is_told_apart() {
        let mut places = Places::default();
        assert!(places.sent_from_its_seat("pB", "n1", 4), "unknown peers pass");
        places.learned("pB", at("n2", 9), 1);
        assert!(places.sent_from_its_seat("pB", "n2", 9));
        assert!(!places.sent_from_its_seat("pB", "n1", 4));
        assert!(!places.sent_from_its_seat("pB", "n2", 4));
    }
}
