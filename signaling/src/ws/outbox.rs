//! The queue through which other tasks reach one connection: a room delivering a signal or a
//! peer's arrival, a newer connection with the same resume token asking this one to close.
//!
//! Not tokio's `mpsc`: a bounded tokio channel allocates its first block of 32 slots and its
//! cache-padded counters when it is made, about 1.5 KB per connection whether or not anything is
//! ever sent, and most connections receive a handful of messages in their life. This queue is a
//! `VecDeque` behind a mutex, which allocates nothing until a message arrives, with the receiver's
//! waker beside it. It is bounded: a full queue refuses, so a recipient that stopped reading cannot
//! grow the server's memory. `recv` is cancel-safe: a message leaves the queue only in the poll
//! that returns it, so losing a `select!` loses nothing.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::close_code::CloseCode;

/// Something another task wants sent on this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Text(String),
    /// Start the close handshake with this code and reason.
    Close(CloseCode, &'static str),
}

/// Capacity a drained queue keeps; a burst's larger buffer is given back once it is empty.
const KEEP_CAPACITY: usize = 8;

/// A queue of at most `capacity` messages, and the receiver's end of it.
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared =
        Arc::new(Shared { state: Mutex::new(State { queue: VecDeque::new(), waker: None, closed: false }), capacity });
    (Sender { shared: shared.clone() }, Receiver { shared })
}

struct Shared {
    state: Mutex<State>,
    capacity: usize,
}

struct State {
    queue: VecDeque<Outbound>,
    /// The receiver waiting for a message, if it is.
    waker: Option<Waker>,
    /// The receiver is gone: nothing sent will ever be read.
    closed: bool,
}

impl Shared {
    /// Nothing panics while holding the lock, so a poisoned lock still holds a consistent queue.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The queue holds `capacity` messages: the recipient is not reading.
    Full,
    /// The recipient's connection has ended.
    Closed,
}

/// A handle for queueing messages to one connection; cheap to clone.
#[derive(Clone)]
pub struct Sender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("capacity", &self.shared.capacity).finish_non_exhaustive()
    }
}

impl Sender {
    /// Queues `message` unless the queue is full or its receiver is gone.
    pub fn try_send(&self, message: Outbound) -> Result<(), SendError> {
        let waker = {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(SendError::Closed);
            }
            if state.queue.len() >= self.shared.capacity {
                return Err(SendError::Full);
            }
            state.queue.push_back(message);
            state.waker.take()
        };
        // Woken outside the lock, so the woken task never finds it held.
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

/// The connection's end of its queue. Dropping it closes the queue and drops what is in it.
pub struct Receiver {
    shared: Arc<Shared>,
}

impl Receiver {
    /// The next message, waiting for one.
    pub async fn recv(&mut self) -> Outbound {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let mut state = self.shared.lock();
        let message = state.queue.pop_front();
        if state.queue.is_empty() && state.queue.capacity() > KEEP_CAPACITY {
            state.queue.shrink_to(KEEP_CAPACITY);
        }
        message
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Outbound> {
        let mut state = self.shared.lock();
        if let Some(message) = state.queue.pop_front() {
            return Poll::Ready(message);
        }
        match &mut state.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            none => *none = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        state.queue = VecDeque::new();
        state.waker = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn text(s: &str) -> Outbound {
        Outbound::Text(s.to_owned())
    }

    #[test]
    fn messages_come_out_in_order_and_the_queue_is_bounded() {
        let (tx, mut rx) = channel(2);
        assert_eq!(tx.try_send(text("a")), Ok(()));
        assert_eq!(tx.clone().try_send(text("b")), Ok(()));
        assert_eq!(tx.try_send(text("c")), Err(SendError::Full));
        assert_eq!(rx.try_recv(), Some(text("a")));
        assert_eq!(tx.try_send(Outbound::Close(CloseCode::NORMAL, "bye")), Ok(()));
        assert_eq!(rx.try_recv(), Some(text("b")));
        assert_eq!(rx.try_recv(), Some(Outbound::Close(CloseCode::NORMAL, "bye")));
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn a_dropped_receiver_closes_the_queue() {
        let (tx, rx) = channel(4);
        assert_eq!(tx.try_send(text("a")), Ok(()));
        drop(rx);
        assert_eq!(tx.try_send(text("b")), Err(SendError::Closed));
    }

    #[test]
    fn a_drained_queue_gives_back_a_burst_s_memory() {
        let (tx, mut rx) = channel(1_000);
        for i in 0..500 {
            tx.try_send(text(&i.to_string())).unwrap();
        }
        while rx.try_recv().is_some() {}
        assert!(rx.shared.lock().queue.capacity() <= KEEP_CAPACITY);
    }

    // Paused time: the timers below elapse as soon as every task waits, without sleeping.
    #[tokio::test(start_paused = true)]
    async fn recv_waits_for_a_message_from_another_task() {
        let (tx, mut rx) = channel(4);
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.try_send(text("late")).unwrap();
        });
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(got.ok(), Some(text("late")));
        sender.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_recv_that_is_abandoned_loses_no_message() {
        let (tx, mut rx) = channel(4);
        // Polled while the queue is empty (it registers its waker), then dropped, as a losing
        // branch of a `select!` is.
        let abandoned = tokio::time::timeout(Duration::from_millis(10), rx.recv()).await;
        assert!(abandoned.is_err(), "nothing was sent yet");
        tx.try_send(text("kept")).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(got.ok(), Some(text("kept")));
    }
}
