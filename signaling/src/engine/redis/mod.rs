//! The Redis engine (`--redis-url`): rooms shared by every server ("node") that uses the same
//! Redis, so two peers behind one load balancer meet whichever node each reached.
//!
//! - [`scripts`]: the data model and the Lua scripts (join, relay, leave, away, heartbeat);
//! - [`inbox`]: the envelopes on a node's inbox channel; [`places`]: where the peers of a seat's
//!   room sit, so that a relay is one `PUBLISH`; [`resp`]: the frames the inbox subscription
//!   reads, parsed without copying;
//! - [`admission`]: the queue's byte budget, each connection's share of it and the floor it keeps;
//! - `worker`: the node's one task that talks to Redis: an ordered queue of every session's
//!   requests, sent as pipelined batches on one connection; the node's inbox subscription; the
//!   heartbeat; reconnection.
//!
//! Sessions do not wait for Redis: a request is queued ([`RedisConn`]) and answered through the
//! connection's outbound queue when Redis has answered. One queue and one connection per node keep
//! every session's requests — and so each peer's signals — in order end to end: Redis runs them in
//! the order they were sent and publishes to each node's single subscription in that order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::relay::RawValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use shared::{ErrorCode, PeerId, ResumeToken, RoomId, ServerMessage};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::peer::{fresh_ids, ConnIds};
use super::{EngineConn, Flow, Replies, RoomEngine};
use crate::engine::config::RoomsConfig;
use crate::engine::peer::{ConnId, PeerHandle};
use crate::engine::redis::config::RedisConfig;
use crate::metrics::Metrics;
use crate::ws::CloseCode;
use admission::{Queue, Refusal, Share};
use metrics::EngineMetrics;
use request::{Op, Request};

mod admission;
pub mod config;
mod inbox;
mod metrics;
mod places;
mod request;
mod resp;
mod scripts;
mod worker;

/// How long [`RoomEngine::close`] waits for the worker to finish the sessions' last requests.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Why the engine cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid Redis URL: {0}")]
    Url(#[from] redis::RedisError),
    #[error("the OS random source failed: {0}")]
    Randomness(getrandom::Error),
}

pub struct RedisEngine {
    /// Unbounded as a channel, bounded in bytes by `queue`.
    tx: mpsc::UnboundedSender<Request>,
    queue: Arc<Queue>,
    /// Whether the node is registered in Redis and takes joins: set by the worker, read by
    /// `/healthz`, awaited at start-up ([`RedisEngine::registered`]).
    healthy: Arc<watch::Sender<bool>>,
    conn_ids: ConnIds,
    node: Arc<str>,
    client: redis::Client,
    config: RoomsConfig,
    metrics: Arc<EngineMetrics>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl RedisEngine {
    /// Starts the node's worker (on the current tokio runtime). It connects in the background and
    /// keeps reconnecting: until it is registered in Redis the engine is unhealthy and refuses
    /// joins with `unavailable`.
    pub fn start(config: RoomsConfig, redis: RedisConfig, registry: &Metrics) -> Result<Arc<Self>, StartError> {
        let client = redis::Client::open(redis.url.as_str())?;
        let mut id = [0u8; 9];
        getrandom::fill(&mut id).map_err(StartError::Randomness)?;
        let node: Arc<str> = URL_SAFE_NO_PAD.encode(id).into();
        let healthy = Arc::new(watch::Sender::new(false));
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Queue::new(redis.queue_bytes, redis.queue_share_bytes, redis.queue_floor_bytes);
        let metrics = EngineMetrics::registered(registry);
        let worker = worker::Worker::new(worker::Setup {
            node: node.clone(),
            client: client.clone(),
            rooms: config.clone(),
            redis,
            metrics: metrics.clone(),
            healthy: healthy.clone(),
            rx,
        });
        let task = tokio::spawn(worker.run());
        info!(node = &*node, "rooms are shared through Redis");
        Ok(Arc::new(RedisEngine {
            tx,
            queue,
            healthy,
            conn_ids: ConnIds::default(),
            node,
            client,
            config,
            metrics,
            worker: Mutex::new(Some(task)),
        }))
    }

    /// This node's id in Redis.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Waits until the node is registered in Redis (its inbox subscribed and its liveness key
    /// written: it takes joins from then on), for at most `within`. Returns whether it is.
    pub async fn registered(&self, within: Duration) -> bool {
        let mut healthy = self.healthy.subscribe();
        let up = tokio::time::timeout(within, healthy.wait_for(|&up| up)).await;
        matches!(up, Ok(Ok(_)))
    }
}

impl RoomEngine for RedisEngine {
    type Conn = RedisConn;

    fn open(self: &Arc<Self>, handle: PeerHandle) -> RedisConn {
        RedisConn {
            conn: self.conn_ids.next(),
            handle,
            opened: false,
            tx: self.tx.clone(),
            share: self.queue.share(),
            metrics: self.metrics.clone(),
        }
    }

    fn config(&self) -> &RoomsConfig {
        &self.config
    }

    fn healthy(&self) -> bool {
        *self.healthy.borrow()
    }

    /// Walks every room key with `SCAN` on a connection of its own; (0, 0) if Redis is unreachable.
    async fn counts(&self) -> (usize, usize) {
        match worker::counts(&self.client).await {
            Ok(counts) => counts,
            Err(e) => {
                warn!(error = %e, "cannot count rooms in Redis");
                (0, 0)
            }
        }
    }

    async fn close(&self) {
        let (done, finished) = oneshot::channel();
        let request = Request { conn: 0, open: None, op: Op::Close(done), ticket: None };
        if self.tx.send(request).is_ok() && tokio::time::timeout(CLOSE_WAIT, finished).await.is_err() {
            warn!("the Redis worker did not finish in time");
        }
        let task = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            task.abort();
        }
    }
}

/// One connection on the Redis engine: its requests go into the node's queue.
pub struct RedisConn {
    conn: ConnId,
    handle: PeerHandle,
    /// Whether a request (and with it the handle) reached the queue: until then nothing is pending
    /// and the session's own answers go straight into its writer.
    opened: bool,
    tx: mpsc::UnboundedSender<Request>,
    /// What its requests waiting in the node's queue hold.
    share: Share,
    metrics: Arc<EngineMetrics>,
}

impl RedisConn {
    /// Queues a request; if it is refused, answers so at once (an answer that may overtake answers
    /// still queued: it refuses the request without acting on it).
    fn submit(&mut self, op: Op, reply: &mut impl Replies) {
        let ticket = match self.share.admit(op.size()) {
            Ok(ticket) => ticket,
            Err(Refusal::Connection) => {
                debug!(conn = self.conn, "the connection's share of the Redis queue is full; request refused");
                let message = "too many of your messages are waiting for the room store; retry in a moment";
                return self.refused(reply, ErrorCode::RateLimited, message);
            }
            Err(Refusal::Node) => {
                warn!(conn = self.conn, "Redis queue full; request refused");
                return self.refused(reply, ErrorCode::Unavailable, "the server is overloaded; retry in a few seconds");
            }
        };
        let open = (!self.opened).then(|| self.handle.clone());
        match self.tx.send(Request { conn: self.conn, open, op, ticket: Some(ticket) }) {
            Ok(()) => self.opened = true,
            Err(_) => self.refused(reply, ErrorCode::Unavailable, "the server is shutting down"),
        }
    }

    fn refused(&self, reply: &mut impl Replies, code: ErrorCode, message: &str) {
        self.metrics.rooms.error_sent(code);
        reply.text(&ServerMessage::error_with(code, message).to_json());
    }
}

impl EngineConn for RedisConn {
    fn join(&mut self, room: RoomId, resume: Option<ResumeToken>, reply: &mut impl Replies) -> Flow {
        let Ok(fresh) = fresh_ids() else {
            warn!("the OS random source failed; cannot make a peer id");
            return Flow::Break((CloseCode::INTERNAL_ERROR, "internal error"));
        };
        self.submit(Op::Join { room, resume, fresh }, reply);
        Flow::Continue(())
    }

    fn relay(&mut self, to: PeerId, data: &RawValue, reply: &mut impl Replies) {
        self.submit(Op::Relay { to, data: data.to_owned(), via_script: false }, reply);
    }

    fn leave(&mut self, reply: &mut impl Replies) {
        self.submit(Op::Leave, reply);
    }

    fn reply(&mut self, message: &ServerMessage, reply: &mut impl Replies) {
        if let ServerMessage::Error { code, .. } = message {
            self.metrics.rooms.error_sent(*code);
        }
        if self.opened {
            self.submit(Op::Reply(message.to_json()), reply);
        } else {
            reply.text(&message.to_json());
        }
    }

    /// Written at once: a refusal does not wait for the answers to earlier requests, so the
    /// warning before a flood's close is never stuck behind them (nor lost with them).
    fn refuse(&mut self, message: &ServerMessage, reply: &mut impl Replies) {
        if let ServerMessage::Error { code, .. } = message {
            self.metrics.rooms.error_sent(*code);
        }
        reply.text(&message.to_json());
    }

    async fn end(self, reason: &'static str) {
        if self.opened {
            // Outside the byte budget: the end of a connection must never be lost, and it is small.
            let _ = self.tx.send(Request { conn: self.conn, open: None, op: Op::End { reason }, ticket: None });
        }
    }
}
