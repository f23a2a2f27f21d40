//! Who writes to a connection's socket next: the rule that lets other tasks write messages
//! straight into an idle connection's socket (no wake-up of the connection's task) without ever
//! changing the order the connection's messages reach the wire.
//!
//! The connection's task holds the socket ([`Gate::Queued`]) whenever anything could come before
//! a new message: messages in its queue, bytes of its own not yet written, or input it is handling
//! (which may answer). Only when it gives the socket up with nothing pending ([`Gate::Idle`]) do
//! senders write: their frames go into one pending buffer ([`Gate::Direct`]) that a sender writes
//! out with one write — at once, or at the end of the batch of input its own task is handling, so
//! several messages to one recipient cost one write. Whatever the socket does not take, and
//! anything sent after, goes to the connection's task, which writes the pending bytes first; so
//! does a claim by the task while frames are pending. Pure: the caller keeps the gate and the
//! pending bytes under the queue's lock and does the I/O.

/// The state of one connection's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Nothing queued or pending, nothing of the task's own to write, the task not handling
    /// input: the next message may go straight to the socket.
    Idle,
    /// Senders' frames are pending, to be written into the socket by a sender.
    Direct,
    /// The connection's task holds the socket: senders queue and the task writes in order.
    Queued,
}

/// Where a sender's message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Append it to the pending frames, written by a sender (report with [`Gate::written`]).
    Direct,
    /// Queue it for the connection's task (and wake the task).
    Queue,
}

impl Gate {
    /// A connection starts held by its task: its handshake answer is still to be written.
    pub const fn new() -> Self {
        Gate::Queued
    }

    /// A sender has a message that may be written directly.
    pub fn offer(&mut self) -> Route {
        match self {
            Gate::Idle | Gate::Direct => {
                *self = Gate::Direct;
                Route::Direct
            }
            Gate::Queued => Route::Queue,
        }
    }

    /// A message was queued (one that must not be written directly): the task holds the socket
    /// from here on, and writes any pending frames first.
    pub fn queued(&mut self) {
        *self = Gate::Queued;
    }

    /// A sender wrote the pending frames; `whole`: the socket took every byte. Otherwise the rest
    /// is the first thing the task must write. Returns whether the task must be woken.
    pub fn written(&mut self, whole: bool) -> bool {
        if whole && *self == Gate::Direct {
            *self = Gate::Idle;
            return false;
        }
        *self = Gate::Queued;
        true
    }

    /// The task is about to produce output of its own (answers, a ping, its close frame), or
    /// takes the pending frames to write them itself: senders queue from now on, so nothing
    /// overtakes what it writes.
    pub fn claim(&mut self) {
        *self = Gate::Queued;
    }

    /// The task has written everything it had; `nothing_waiting`: nothing is queued or pending
    /// for it. Only then does the socket become free for direct writes.
    pub fn release(&mut self, nothing_waiting: bool) {
        if *self == Gate::Queued && nothing_waiting {
            *self = Gate::Idle;
        }
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_new_connection_is_held_until_its_task_lets_go() {
        let mut gate = Gate::new();
        assert_eq!(gate.offer(), Route::Queue, "the handshake answer is not written yet");
        gate.release(false);
        assert_eq!(gate, Gate::Queued, "a message is still queued");
        gate.release(true);
        assert_eq!(gate.offer(), Route::Direct);
        assert_eq!(gate.offer(), Route::Direct, "appended to the frames pending");
        assert!(!gate.written(true));
        assert_eq!(gate, Gate::Idle);
    }

    #[test]
    fn a_write_the_socket_does_not_take_whole_hands_the_socket_back() {
        let mut gate = Gate::Idle;
        assert_eq!(gate.offer(), Route::Direct);
        assert!(gate.written(false), "the task must write the rest");
        assert_eq!(gate, Gate::Queued);
        assert_eq!(gate.offer(), Route::Queue);
    }

    #[test]
    fn a_claim_during_a_direct_write_keeps_the_socket_with_the_task() {
        let mut gate = Gate::Idle;
        assert_eq!(gate.offer(), Route::Direct);
        gate.claim();
        assert!(gate.written(true), "the task has output waiting behind the direct write");
        assert_eq!(gate, Gate::Queued);
    }

    #[test]
    fn a_queued_message_holds_the_socket_for_the_task() {
        let mut gate = Gate::Idle;
        gate.queued();
        assert_eq!(gate.offer(), Route::Queue);
        gate.release(true);
        assert_eq!(gate, Gate::Idle);
    }

    /// One step of a connection's life, as the server interleaves them.
    #[derive(Debug, Clone)]
    enum Step {
        /// A sender's message, written to the pending frames when the gate allows.
        Send,
        /// A sender writes the pending frames out; the socket takes `takes` of their bytes (at
        /// most).
        Write { takes: u8 },
        /// A sender's message that always queues (a close, or the Redis engine's deliveries).
        SendQueued,
        /// The task handles input and answers it.
        Answer,
        /// The task takes one queued message into its buffer.
        Take,
        /// The task writes its buffer out, then lets the socket go if it can.
        Flush,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Send),
            (0u8..=6).prop_map(|takes| Step::Write { takes }),
            Just(Step::SendQueued),
            Just(Step::Answer),
            Just(Step::Take),
            Just(Step::Flush),
        ]
    }

    /// Every byte is `(message, part)`; a message is two bytes, so a write may split it.
    type Byte = (u32, u8);

    /// The connection as the server runs it: the gate, the queue, the task's buffer and the wire.
    #[derive(Default)]
    struct Model {
        gate: Gate,
        /// Frames senders appended, not yet written.
        pending: Vec<Byte>,
        queue: VecDeque<u32>,
        buffer: Vec<Byte>,
        wire: Vec<Byte>,
        next: u32,
        /// Messages in the order they were sent or answered, and whether each is an answer.
        sent: Vec<(u32, bool)>,
    }

    impl Model {
        fn run(&mut self, step: &Step) {
            match *step {
                Step::Send => {
                    let id = self.fresh(false);
                    match self.gate.offer() {
                        Route::Direct => self.pending.extend([(id, 0), (id, 1)]),
                        Route::Queue => self.queue.push_back(id),
                    }
                }
                Step::Write { takes } => {
                    if self.gate == Gate::Direct {
                        let taken = usize::from(takes).min(self.pending.len());
                        self.wire.extend(self.pending.drain(..taken));
                        // What is left stays pending: the task's first bytes.
                        self.gate.written(self.pending.is_empty());
                    }
                }
                Step::SendQueued => {
                    let id = self.fresh(false);
                    self.queue.push_back(id);
                    self.gate.queued();
                }
                Step::Answer => {
                    self.gate.claim();
                    self.buffer.append(&mut self.pending);
                    let id = self.fresh(true);
                    self.buffer.extend([(id, 0), (id, 1)]);
                }
                Step::Take => {
                    if !self.pending.is_empty() {
                        self.gate.claim();
                        self.buffer.append(&mut self.pending);
                    } else if let Some(id) = self.queue.pop_front() {
                        assert_eq!(self.gate, Gate::Queued, "a queued message means the task holds the socket");
                        self.buffer.extend([(id, 0), (id, 1)]);
                    }
                }
                Step::Flush => {
                    if self.gate == Gate::Queued {
                        self.wire.append(&mut self.buffer);
                        self.gate.release(self.queue.is_empty() && self.pending.is_empty());
                    }
                }
            }
            if self.gate == Gate::Idle {
                assert!(self.queue.is_empty() && self.buffer.is_empty(), "idle with output pending");
                assert!(self.pending.is_empty(), "idle with frames pending");
            }
            if self.gate != Gate::Direct && !self.pending.is_empty() {
                assert_eq!(self.gate, Gate::Queued, "pending frames left to the task");
            }
        }

        fn fresh(&mut self, answer: bool) -> u32 {
            self.next += 1;
            self.sent.push((self.next, answer));
            self.next
        }

        /// Drains everything as the task would, then reads the wire back as messages.
        fn finish(mut self) -> (Vec<u32>, Vec<(u32, bool)>) {
            while !self.queue.is_empty() || !self.buffer.is_empty() || !self.pending.is_empty() {
                self.run(&Step::Take);
                self.run(&Step::Flush);
            }
            let mut messages = Vec::new();
            for pair in self.wire.chunks(2) {
                assert_eq!(pair, [(pair[0].0, 0), (pair[0].0, 1)], "a message's bytes interleaved with another's");
                messages.push(pair[0].0);
            }
            (messages, self.sent)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Whatever the interleaving of senders, writes of the pending frames the socket takes
        /// whole, in part or not at all, answers and the task's writes: every message reaches the wire once and
        /// whole; senders' messages in the order they were sent, answers in the order they were
        /// made, and nothing sent after an answer ahead of it. (An answer may pass a message
        /// still queued when it was made, as it always could: the task answers before it takes
        /// from its queue.)
        #[test]
        fn every_interleaving_keeps_the_order(steps in prop::collection::vec(step(), 0..60)) {
            let mut model = Model::default();
            for step in &steps {
                model.run(step);
            }
            let (wire, sent) = model.finish();
            prop_assert_eq!(wire.len(), sent.len(), "each message once");
            let at = |id: u32| wire.iter().position(|&w| w == id);
            for (i, &(earlier, earlier_answer)) in sent.iter().enumerate() {
                for &(later, later_answer) in &sent[i + 1..] {
                    if !earlier_answer && later_answer {
                        continue;
                    }
                    prop_assert!(at(earlier) < at(later), "{} after {} on the wire: {:?}", earlier, later, wire);
                }
            }
        }
    }
}
