//! One signaling session: a WebSocket's text messages turned into requests to the room engine,
//! and the seat given up (or kept for a resume) when the connection ends.
//!
//! Nothing a client sends closes its connection on the first offence: each bad message gets an
//! `error` with its code. Only a flood that continues after `rate_limited` is closed (1008).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::SystemTime;

use crate::relay::{parse_incoming, Incoming};
use shared::{ErrorCode, ServerMessage};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::engine::peer::{fresh_ids, PeerHandle};
use crate::engine::{EngineConn, Replies, RoomEngine};
use crate::ice::IceConfig;
use crate::rate::{TokenBucket, Verdict};
use crate::service::Service;
use crate::ws::{outbox, CloseCode, Handler, Message, WebSocket, Writer};

/// The rooms service behind `/ws`, on either engine.
pub struct RoomService<E> {
    engine: Arc<E>,
}

impl<E: RoomEngine> RoomService<E> {
    pub fn new(engine: Arc<E>) -> Self {
        RoomService { engine }
    }
}

impl<E: RoomEngine> Service for RoomService<E> {
    async fn session(&self, ws: &mut WebSocket) {
        // Bounded: a recipient that stops reading fills its queue, and further messages to it are
        // dropped and counted (see `PeerHandle::send_text`) instead of growing memory without limit.
        let (tx, mut rx) = outbox::channel(self.engine.config().outbound_queue);
        let mut session = Session {
            conn: self.engine.open(PeerHandle::new(tx)),
            bucket: TokenBucket::new(self.engine.config().rate, Instant::now()),
            max_signal_size: self.engine.config().max_signal_size,
            ice: self.engine.config().ice.clone(),
            hanging_up: None,
        };
        let ended = ws.run(&mut session, Some(&mut rx)).await;
        session.conn.end(ended.label()).await;
    }

    fn healthy(&self) -> bool {
        self.engine.healthy()
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
    /// For `ice_config`, the pre-call check's request: a copy of a few short strings per session.
    ice: IceConfig,
    /// The session asked to close and the close is on its way behind earlier answers: the
    /// messages ignored since, and the close itself if too many come before it.
    hanging_up: Option<(u32, (CloseCode, &'static str))>,
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
            Ok(Incoming::Join { room, resume }) => return self.conn.join(room, resume, reply),
            Ok(Incoming::Leave) => self.conn.leave(reply),
            Ok(Incoming::IceConfig) => self.ice_config(reply),
        }
        ControlFlow::Continue(())
    }
}

impl<C: EngineConn> Session<C> {
    /// The ICE servers `joined` would carry, for a client that has not joined (the pre-call
    /// check). The TURN username carries a fresh random id instead of a peer id: the credential
    /// is as short-lived as a joined peer's, and anyone may join a room to get one anyway.
    fn ice_config(&mut self, reply: &mut Writer) {
        let message = match fresh_ids() {
            Ok((id, _)) => ServerMessage::IceConfig { ice_servers: self.ice.servers_for(&id, SystemTime::now()) },
            Err(e) => {
                warn!(error = %e, "no random source for an ice_config answer");
                ServerMessage::error(ErrorCode::Unavailable)
            }
        };
        self.conn.reply(&message, reply);
    }

    fn error(&mut self, reply: &mut Writer, code: ErrorCode, message: String) {
        // `?`: the message may quote what a client sent (newlines included); Debug escapes it, so it
        // stays inside this one log line.
        debug!(code = code.as_str(), ?message, "error sent");
        self.conn.reply(&ServerMessage::Error { code, message }, reply);
    }
}
