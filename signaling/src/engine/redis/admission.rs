//! Admission to the node's shared request queue: one budget in bytes for the whole node, a share
//! of it per connection, and a small floor every connection keeps however full the queue is.
//!
//! The worker serves the queue in order, one batch per Redis round trip. Without a share per
//! connection, a few connections bursting big signals (each within its message rate) filled the
//! whole budget and everyone else's requests — joins, relays of well-behaved peers — were refused
//! with `unavailable`. Now one connection may hold at most its share (beyond it, its own messages
//! are refused: it sends faster than the node serves it), and a connection holding no more than
//! the floor is admitted even when the budget is spent, so a burst cannot starve a bystander.
//! Memory stays bounded: the budget, plus at most the floor (or one request) per connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The connection already holds its share: it is answered `rate_limited`.
    Connection,
    /// The node's budget is spent and the connection holds more than the floor: `unavailable`.
    Node,
}

/// The node's budget and the limits every connection's share follows.
#[derive(Debug)]
pub(crate) struct Queue {
    limit: usize,
    share: usize,
    floor: usize,
    used: AtomicUsize,
}

impl Queue {
    /// `limit` bytes for the node; `share` at most per connection; `floor` admitted regardless.
    pub(crate) fn new(limit: usize, share: usize, floor: usize) -> Arc<Queue> {
        Arc::new(Queue { limit, share, floor, used: AtomicUsize::new(0) })
    }

    /// A new connection's share, empty.
    pub(crate) fn share(self: &Arc<Self>) -> Share {
        Share { queue: self.clone(), held: Arc::new(AtomicUsize::new(0)) }
    }

    /// Bytes held now, by every connection together.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// One connection's part of the queue: what its requests waiting there hold.
#[derive(Debug)]
pub(crate) struct Share {
    queue: Arc<Queue>,
    /// Incremented by the connection's session, decremented by the worker as it takes requests.
    held: Arc<AtomicUsize>,
}

impl Share {
    /// Admits a request of `bytes`, or says why not. Only the connection's own session admits into
    /// its share, so `held` can only shrink between the check and the increment.
    pub(crate) fn admit(&self, bytes: usize) -> Result<Ticket, Refusal> {
        let queue = &self.queue;
        let held = self.held.load(Ordering::Acquire);
        let after = held.saturating_add(bytes);
        // The first request always fits: a request is at most one signal, smaller than a share.
        if held > 0 && after > queue.share {
            return Err(Refusal::Connection);
        }
        let taken = queue
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= queue.limit)
            })
            .is_ok();
        if !taken {
            if held > 0 && after > queue.floor {
                return Err(Refusal::Node);
            }
            // Within the floor: admitted past the budget.
            queue.used.fetch_add(bytes, Ordering::AcqRel);
        }
        self.held.fetch_add(bytes, Ordering::AcqRel);
        Ok(Ticket { queue: queue.clone(), held: self.held.clone(), bytes })
    }
}

/// A request's bytes in the queue, given back (to the node and to its connection) when dropped:
/// when the worker has taken the request off the queue.
#[derive(Debug)]
pub(crate) struct Ticket {
    queue: Arc<Queue>,
    held: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.queue.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_held_to_its_share_and_gets_it_back_as_the_worker_takes_its_requests() {
        let queue = Queue::new(1_000, 300, 50);
        let share = queue.share();
        let first = share.admit(200).expect("within the share");
        let second = share.admit(100).expect("exactly the share");
        assert_eq!(share.admit(1).err(), Some(Refusal::Connection));
        drop(first);
        let third = share.admit(200).expect("room again");
        assert_eq!(queue.used(), 300);
        drop((second, third));
        assert_eq!(queue.used(), 0);
    }

    #[test]
    fn the_first_request_of_a_connection_always_fits_its_share() {
        let queue = Queue::new(1_000, 100, 50);
        let share = queue.share();
        let big = share.admit(400).expect("one request, however big");
        assert_eq!(share.admit(1).err(), Some(Refusal::Connection));
        drop(big);
    }

    #[test]
    fn a_spent_budget_refuses_connections_above_the_floor_and_admits_those_below() {
        let queue = Queue::new(1_000, 600, 100);
        let (burst_a, burst_b, bystander) = (queue.share(), queue.share(), queue.share());
        let a = burst_a.admit(600).expect("a's share");
        let b1 = burst_b.admit(300).expect("b within the budget");
        let b2 = burst_b.admit(100).expect("the budget's last bytes");
        assert_eq!(burst_b.admit(50).err(), Some(Refusal::Node), "b holds more than the floor");
        // The bystander holds nothing: admitted past the spent budget, up to the floor.
        let c1 = bystander.admit(60).expect("a bystander's request");
        let c2 = bystander.admit(40).expect("up to the floor");
        assert_eq!(bystander.admit(1).err(), Some(Refusal::Node));
        assert_eq!(queue.used(), 1_100, "the budget plus one floor");
        drop((a, b1, b2, c1, c2));
        assert_eq!(queue.used(), 0);
        let again = burst_b.admit(500).expect("room once the worker took the rest");
        drop(again);
    }
}
