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
//!
//! Bounded in messages and in bytes: a text is charged to its connection's byte allowance and to
//! the process-wide [`Budget`] from when it is queued until it has left the connection's write
//! buffer for the socket ([`Receiver::settle`]), so neither the queue nor the write buffer of a
//! reader that reads nothing can hold more than its allowance, and all of them together no more
//! than the budget. A message that does not fit is refused like one to a full queue.
//!
//! Most messages need not wake the connection's task at all: when the connection is idle (nothing
//! queued, nothing of its own pending, not handling input), [`Sender::try_send_now`] writes the
//! message straight into its socket from the sender's task, under this queue's lock, so the write
//! is ordered with everything queued before and after it ([`gate`] is the rule). Inside
//! [`deferring`] (a connection handling a batch of input) the frames wait in the recipient's
//! pending buffer until the batch ends, so several messages to one recipient cost one write. A
//! relayed signal then costs the server one read and one write and no second task's wake-up.
//!
//! - [`gate`]: who may write next — idle, writing directly, queued — pure and tested;
//! - [`direct`]: the sender's write into the socket;
//! - [`batch`]: direct writes deferred to the end of a batch of input.

mod batch;
mod direct;
mod gate;

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use prometheus_client::registry::Registry;
use tokio::net::TcpStream;

use super::close_code::CloseCode;
use super::codec::Writer;
use super::metrics::WsMetrics;
pub use batch::deferring;
use direct::Socket;
use gate::{Gate, Route};

/// Something another task wants sent on this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Text(String),
    /// Start the close handshake with this code and reason.
    Close(CloseCode, &'static str),
}

impl Outbound {
    /// What the message is charged: its text's allocation and its slot. A close costs nothing, so
    /// it is never refused for want of bytes.
    fn cost(&self) -> usize {
        match self {
            Outbound::Text(text) => text.capacity() + std::mem::size_of::<Outbound>(),
            Outbound::Close(..) => 0,
        }
    }
}

/// Capacity a drained queue keeps; a burst's larger buffer is given back once it is empty.
const KEEP_CAPACITY: usize = 8;

pub use super::budget::Budget;

/// Registers the outbound budget's gauge.
pub fn register(budget: &Budget, registry: &mut Registry) {
    budget.register_as(
        registry,
        "signaling_outbound_queued_bytes",
        "Bytes of messages queued to connections by others and not yet written to their sockets",
    );
}

/// A queue of at most `capacity` messages, unbounded in bytes (unit tests).
#[cfg(test)]
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    bounded(capacity, usize::MAX, Budget::new(usize::MAX))
}

/// A queue of at most `capacity` messages and `max_bytes` bytes (queued or still in the
/// connection's write buffer), charged to `budget`; and the receiver's end of it.
pub fn bounded(capacity: usize, max_bytes: usize, budget: Arc<Budget>) -> (Sender, Receiver) {
    let state = State {
        queue: VecDeque::new(),
        charged: 0,
        waker: None,
        closed: false,
        overrun: false,
        gate: Gate::new(),
        socket: None,
        pending: Vec::new(),
        pending_cost: 0,
    };
    let shared = Arc::new(Shared { state: Mutex::new(state), capacity, max_bytes, budget });
    (Sender { shared: shared.clone() }, Receiver { shared, handed_out: 0, holds: true })
}

struct Shared {
    state: Mutex<State>,
    capacity: usize,
    max_bytes: usize,
    budget: Arc<Budget>,
}

struct State {
    queue: VecDeque<Outbound>,
    /// Bytes charged for this connection: its queue's, and those handed to its write buffer and
    /// not yet settled.
    charged: usize,
    /// The receiver waiting for a message, if it is.
    waker: Option<Waker>,
    /// The receiver is gone: nothing sent will ever be read.
    closed: bool,
    /// A message did not fit in the connection's byte allowance: its reader is too slow, and the
    /// connection is to end ([`Receiver::next`] says so).
    overrun: bool,
    /// Who writes to the socket next: a sender directly, or the connection's task.
    gate: Gate,
    /// The connection's socket, for direct writes; attached while its task serves it.
    socket: Option<Socket>,
    /// Frames for direct writing not yet written (all of them, or the rest the socket did not
    /// take): written by a sender while the gate is `Direct`, else the first thing the
    /// connection's task writes.
    pending: Vec<u8>,
    /// What the messages in `pending` were charged.
    pending_cost: usize,
}

/// A pending buffer larger than this is given back once written (a burst's), not kept.
const KEEP_PENDING: usize = 4096;

impl Shared {
    /// Nothing panics while holding the lock, so a poisoned lock still holds a consistent queue.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The queue holds `capacity` messages or its bytes, or the process's budget is spent: the
    /// recipient is not reading (or, for the budget, many are not).
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
        self.send(message, false)
    }

    /// Sends `text` as [`Sender::try_send`] does, but writes it straight into the connection's
    /// socket when the connection is idle and its socket takes it now; the connection's task is
    /// then not woken. Refused for the same reasons, with the same byte charge while it waits.
    pub fn try_send_now(&self, text: String) -> Result<(), SendError> {
        self.send(Outbound::Text(text), true)
    }

    fn send(&self, message: Outbound, direct: bool) -> Result<(), SendError> {
        let waker = {
            let mut state = self.shared.lock();
            let cost = message.cost();
            if let Err(refused) = self.admit(&mut state, cost) {
                let waker = if state.overrun { state.waker.take() } else { None };
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
                return Err(refused);
            }
            let state = &mut *state;
            match (&message, &state.socket) {
                (Outbound::Text(text), Some(socket)) if direct && state.gate.offer() == Route::Direct => {
                    direct::append_text(&mut state.pending, text);
                    state.pending_cost += cost;
                    socket.metrics.messages_out.inc();
                    if batch::defer(self) {
                        return Ok(());
                    }
                    self.write_pending(state)
                }
                _ => {
                    state.gate.queued();
                    state.queue.push_back(message);
                    state.waker.take()
                }
            }
        };
        // Woken outside the lock, so the woken task never finds it held.
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Writes the frames pending for direct writing, if the gate still says a sender should.
    fn flush(&self) {
        let waker = self.write_pending(&mut self.shared.lock());
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// One write of the pending frames; what the socket does not take goes to the connection's
    /// task, which is then to be woken (the waker returned).
    fn write_pending(&self, state: &mut State) -> Option<Waker> {
        if state.gate != Gate::Direct || state.pending.is_empty() {
            return None;
        }
        let taken = state.socket.as_ref().map_or(0, |socket| direct::write_now(socket, &state.pending));
        if taken < state.pending.len() {
            state.pending.drain(..taken);
            state.gate.written(false);
            return state.waker.take();
        }
        state.gate.written(true);
        if state.pending.capacity() > KEEP_PENDING {
            state.pending = Vec::new();
        } else {
            state.pending.clear();
        }
        let cost = std::mem::take(&mut state.pending_cost);
        state.charged -= cost;
        self.shared.budget.give(cost);
        None
    }

    /// Charges a message of `cost` bytes to the connection and the budget, unless the queue is
    /// full, the connection gone or the bytes are not there (which, for the connection's own
    /// allowance, marks it overrun).
    fn admit(&self, state: &mut State, cost: usize) -> Result<(), SendError> {
        if state.closed {
            return Err(SendError::Closed);
        }
        if state.queue.len() >= self.shared.capacity {
            return Err(SendError::Full);
        }
        if cost > self.shared.max_bytes.saturating_sub(state.charged) {
            // This reader holds its whole allowance unread: it ends, and gives it back.
            state.overrun = true;
            return Err(SendError::Full);
        }
        if !self.shared.budget.try_take(cost) {
            return Err(SendError::Full);
        }
        state.charged += cost;
        Ok(())
    }
}

/// What the connection's task takes from its queue.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    Message(Outbound),
    /// Frames senders left for direct writing (or the rest of them the socket did not take):
    /// raw bytes, to be written first.
    Rest(Vec<u8>),
}

/// The connection's end of its queue. Dropping it closes the queue, drops what is in it and gives
/// back every byte charged.
pub struct Receiver {
    shared: Arc<Shared>,
    /// Bytes of messages taken off the queue and still charged: they may be in the write buffer.
    handed_out: usize,
    /// Whether this task may hold the socket (the gate is or may be [`Gate::Queued`]): set when
    /// it claims or takes anything, cleared when it lets the socket go. Saves a lock per claim.
    holds: bool,
}

impl Receiver {
    /// The next message, waiting for one.
    #[cfg(test)]
    pub async fn recv(&mut self) -> Outbound {
        loop {
            if let Some(Taken::Message(message)) = self.next(true).await {
                return message;
            }
        }
    }

    /// The next message (or the rest of a direct write) when `take` (the connection has room
    /// for one), waiting for one; `None` — whether or not `take` — once a message overran the
    /// connection's byte allowance: the connection's reader is too slow, and it should end.
    pub async fn next(&mut self, take: bool) -> Option<Taken> {
        poll_fn(|cx| self.poll_next(cx, take)).await
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let mut state = self.shared.lock();
        let message = state.queue.pop_front();
        if state.queue.is_empty() && state.queue.capacity() > KEEP_CAPACITY {
            state.queue.shrink_to(KEEP_CAPACITY);
        }
        if let Some(message) = &message {
            self.handed_out += message.cost();
            self.holds = true;
        }
        message
    }

    /// Direct writes reach `stream` from now on, counted in `metrics`, whenever the connection
    /// lets its socket go ([`Receiver::settle`] with nothing pending).
    pub fn attach(&mut self, stream: Arc<TcpStream>, metrics: Arc<WsMetrics>) {
        self.shared.lock().socket = Some(Socket { stream, metrics });
    }

    /// No more direct writes: the connection is closing. Holds the socket for good and lets go
    /// of the sender's handle on it.
    pub fn detach(&mut self, writer: &mut Writer) {
        self.claim(writer);
        self.shared.lock().socket = None;
    }

    /// The connection's task is about to write something of its own (answers to input, a ping,
    /// its close): from now on senders queue behind it. The rest of a direct write the socket
    /// did not take whole goes into `writer` first.
    pub fn claim(&mut self, writer: &mut Writer) {
        if self.holds {
            return;
        }
        let mut state = self.shared.lock();
        state.gate.claim();
        self.holds = true;
        if !state.pending.is_empty() {
            writer.raw(&state.pending);
            take_pending(&mut state, &mut self.handed_out);
        }
    }

    /// The connection's write buffer holds `pending` bytes: messages taken off the queue beyond
    /// that have been written to the socket, and their bytes are given back. (Of the bytes handed
    /// out, at most `pending` can still be in the buffer.) With nothing pending and nothing
    /// queued, the socket is let go: the next message may be written directly.
    pub fn settle(&mut self, pending: usize) {
        let written = self.handed_out.saturating_sub(pending);
        let let_go = pending == 0 && self.holds;
        if written == 0 && !let_go {
            return;
        }
        self.handed_out -= written;
        let mut state = self.shared.lock();
        state.charged -= written;
        if let_go && !state.overrun && state.socket.is_some() {
            let nothing_waiting = state.queue.is_empty() && state.pending.is_empty();
            state.gate.release(nothing_waiting);
            self.holds = state.gate != Gate::Idle;
        }
        drop(state);
        self.shared.budget.give(written);
    }

    /// [`Receiver::next`] as a poll, for a task that waits on several things in one `poll_fn`.
    pub fn poll_next(&mut self, cx: &mut Context<'_>, take: bool) -> Poll<Option<Taken>> {
        let mut state = self.shared.lock();
        if state.overrun {
            return Poll::Ready(None);
        }
        if !state.pending.is_empty() {
            self.holds = true;
            return Poll::Ready(Some(Taken::Rest(take_pending(&mut state, &mut self.handed_out))));
        }
        if take {
            if let Some(message) = state.queue.pop_front() {
                self.handed_out += message.cost();
                self.holds = true;
                return Poll::Ready(Some(Taken::Message(message)));
            }
        }
        match &mut state.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            none => *none = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// The pending frames become the connection's task's to write (it holds the socket from now on);
/// their charge goes with them into `handed_out`.
fn take_pending(state: &mut State, handed_out: &mut usize) -> Vec<u8> {
    state.gate.claim();
    *handed_out += std::mem::take(&mut state.pending_cost);
    std::mem::take(&mut state.pending)
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        state.queue = VecDeque::new();
        state.waker = None;
        state.socket = None;
        state.pending = Vec::new();
        self.shared.budget.give(std::mem::take(&mut state.charged));
    }
}

#[cfg(test)]
mod tests;
