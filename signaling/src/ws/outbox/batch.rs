//! Direct writes deferred to the end of a batch: while a connection's task handles what one read
//! brought, the frames it sends others wait in their pending buffers, and each recipient gets
//! them in one write when the batch is done (a closed loop of relays would otherwise cost a
//! write per message where the recipients' tasks used to batch them).

use std::cell::RefCell;
use std::sync::Arc;

use super::Sender;

/// Recipients a batch remembers before it writes to them; beyond it the list's memory is given
/// back after the batch (a batch reaches one partner per signal it relays, usually one).
const KEEP_DEFERRED: usize = 16;

thread_local! {
    /// Whether this thread's current task is handling a batch of input ([`deferring`]), and the
    /// recipients with frames pending meanwhile. A thread's, not a task's: a batch is handled
    /// synchronously, without an `.await`. The list is kept between batches, so a batch
    /// allocates nothing.
    static DEFERRED: RefCell<(bool, Vec<Sender>)> = const { RefCell::new((false, Vec::new())) };
}

/// Runs `batch` (a connection handling what one read brought) with direct writes deferred to its
/// end: each recipient's frames then leave in one write. Panic-safe: the writes happen on unwind.
pub fn deferring<R>(batch: impl FnOnce() -> R) -> R {
    /// Whether an enclosing batch was open (it then writes everything at its own end).
    struct Scope(bool);
    impl Drop for Scope {
        fn drop(&mut self) {
            if self.0 {
                return;
            }
            loop {
                let next = DEFERRED.with(|d| {
                    let mut d = d.borrow_mut();
                    let next = d.1.pop();
                    if next.is_none() {
                        d.0 = false;
                        if d.1.capacity() > KEEP_DEFERRED {
                            d.1 = Vec::new();
                        }
                    }
                    next
                });
                match next {
                    Some(sender) => sender.flush(),
                    None => break,
                }
            }
        }
    }
    let _scope = Scope(DEFERRED.with(|d| std::mem::replace(&mut d.borrow_mut().0, true)));
    batch()
}

/// Adds `sender` to this thread's batch, if one is open; returns whether one is.
pub(super) fn defer(sender: &Sender) -> bool {
    DEFERRED.with(|d| {
        let (open, senders) = &mut *d.borrow_mut();
        if *open && !senders.iter().any(|s| Arc::ptr_eq(&s.shared, &sender.shared)) {
            senders.push(sender.clone());
        }
        *open
    })
}
