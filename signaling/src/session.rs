//! One signaling session: a WebSocket's text messages turned into requests to the room engine,
//! and the seat given up (or kept for a resume) when the connection ends.
//!
//! Nothing a client sends closes its connection on the first offence: each bad message gets an
//! `error` with its code. Only a flood that continues after `rate_limited` is closed (1008).

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::relay::{parse_incoming, Incoming};
use shared::{ErrorCode, ServerMessage};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::address::{Refusal, Slot};
use crate::engine::peer::PeerHandle;
use crate::engine::{EngineConn, Replies, RoomEngine};
use crate::metrics::Metrics;
use crate::rate::{TokenBucket, Verdict};
use crate::service::Service;
use crate::ws::{outbox, CloseCode, Handler, Message, WebSocket, Writer};

/// The rooms service behind `/ws`, on either engine.
pub struct RoomService<E> {
    engine: Arc<E>,
    /// The bytes all sessions' outbound queues may hold together.
    budget: Arc<outbox::Budget>,
}

impl<E: RoomEngine> RoomService<E> {
    /// The service on `engine`; its outbound byte gauge is registered in `metrics`.
    pub fn new(engine: Arc<E>, metrics: &Metrics) -> Self {
        let budget = outbox::Budget::new(engine.config().outbound_total_bytes);
        metrics.register(|registry| budget.register(registry));
        RoomService { engine, budget }
    }
}

impl<E: RoomEngine> Service for RoomService<E> {
    async fn session(&self, ws: &mut WebSocket) {
        self.serve(ws, None).await;
    }

    async fn session_from(&self, ws: &mut WebSocket, slot: Slot) {
        self.serve(ws, Some(slot)).await;
    }

    fn healthy(&self) -> bool {
        self.engine.healthy()
    }
}

impl<E: RoomEngine> RoomService<E> {
    /// One session; `slot`, when given, holds it to its address's join and seat limits.
    async fn serve(&self, ws: &mut WebSocket, slot: Option<Slot>) {
        // Bounded in messages and bytes, per connection and in total: a recipient that stops
        // reading fills its allowance, and further messages to it are dropped and counted (see
        // `PeerHandle::send_text`) instead of growing memory without limit.
        let config = self.engine.config();
        let (tx, mut rx) = outbox::bounded(config.outbound_queue, config.outbound_bytes, self.budget.clone());
        let mut session = Session {
            conn: self.engine.open(PeerHandle::new(tx)),
            bucket: TokenBucket::new(self.engine.config().rate, Instant::now()),
            max_signal_size: self.engine.config().max_signal_size,
            hanging_up: None,
            slot,
        };
        let ended = ws.run(&mut session, Some(&mut rx)).await;
        // The slot (and the seat it counts) goes with the session, though the engine may keep
        // the seat for a resume: a resume is a new connection, counted again.
        session.conn.end(ended.label()).await;
    }
}

/// The engines answer into the session's WebSocket writer.
impl Replies for Writer {
    fn text(&mut self, json: &str) {
        Writer::text(self, json);
    }
}

struct Session<C> {
    conn: C,
    bucket: TokenBucket,
    max_signal_size: usize,
    /// The session asked to close and the close is on its way behind earlier answers: the
    /// messages ignored since, and the close itself if too many come before it.
    hanging_up: Option<(u32, (CloseCode, &'static str))>,
    /// The connection's client address and its per-address limits.
    slot: Option<Slot>,
}

/// Messages ignored while a close is on its way before closing anyway (its close was lost to a
/// full outbound queue): more than any queue holds.
const IGNORED_BEFORE_CLOSE: u32 = 1_000;

impl<C: EngineConn> Handler for Session<C> {
    fn on_message(&mut self, message: Message<'_>, reply: &mut Writer) -> ControlFlow<(CloseCode, &'static str)> {
        if let Some((ignored, close)) = &mut self.hanging_up {
            *ignored += 1;
            return if *ignored > IGNORED_BEFORE_CLOSE {
                ControlFlow::Break(*close)
            } else {
                ControlFlow::Continue(())
            };
        }
        match self.bucket.check(Instant::now()) {
            Verdict::Allow => {}
            Verdict::Limit => {
                let wait = self.bucket.retry_after().as_millis() + 1;
                self.error(reply, ErrorCode::RateLimited, format!("too many messages; retry in {wait} ms"));
                return ControlFlow::Continue(());
            }
            Verdict::Flood => {
                warn!("message flood; closing");
                let close = (CloseCode::POLICY_VIOLATION, "message flood");
                let flow = self.conn.hang_up(close.0, close.1, reply);
                self.hanging_up = flow.is_continue().then_some((0, close));
                return flow;
            }
        }
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                self.error(reply, ErrorCode::BadMessage, "binary messages are not part of the protocol".into());
                return ControlFlow::Continue(());
            }
        };
        let limit = self.max_signal_size;
        if text.len() > limit {
            let detail = format!("message of {} bytes; the limit is {limit}", text.len());
            self.error(reply, ErrorCode::MessageTooLarge, detail);
            return ControlFlow::Continue(());
        }
        match parse_incoming(text) {
            Err(e) => self.error(reply, e.code(), e.to_string()),
            // Validated as a `Signal`; relayed as the sender's own `data` text.
            Ok(Incoming::Signal { to, data }) => self.conn.relay(to, data, reply),
            Ok(Incoming::Join { room, resume }) => {
                if let Some(refusal) = self.slot.as_mut().and_then(|slot| slot.join().err()) {
                    let (code, detail) = join_refusal(refusal);
                    self.error(reply, code, detail);
                    return ControlFlow::Continue(());
                }
                return self.conn.join(room, resume, reply);
            }
            Ok(Incoming::Leave) => {
                if let Some(slot) = &mut self.slot {
                    slot.leave();
                }
                self.conn.leave(reply);
            }
        }
        ControlFlow::Continue(())
    }
}

/// The error a join refused by its address's limits gets: `rate_limited` either way (the same
/// join may succeed later), with the reason in the text.
fn join_refusal(refusal: Refusal) -> (ErrorCode, String) {
    let detail = match refusal {
        Refusal::Joins(wait) => {
            format!("too many joins from your address; retry in {} ms", wait.as_millis() + 1)
        }
        Refusal::Rooms => "your address holds too many rooms; leave one first".to_owned(),
        Refusal::Connections => "too many connections from your address".to_owned(),
    };
    (ErrorCode::RateLimited, detail)
}

impl<C: EngineConn> Session<C> {
    fn error(&mut self, reply: &mut Writer, code: ErrorCode, message: String) {
        // `?`: the message may quote what a client sent (newlines included); Debug escapes it, so it
        // stays inside this one log line.
        debug!(code = code.as_str(), ?message, "error sent");
        self.conn.reply(&ServerMessage::Error { code, message }, reply);
    }
}
