//! The Redis engine (`--redis-url`): rooms shared by every server ("node") that uses the same
//! Redis, so two peers behind one load balancer meet whichever node each reached.
//!
//! - [`scripts`]: the data model and the Lua scripts (join, relay, leave, away, heartbeat);
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
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::peer::{fresh_ids, ConnIds};
use super::{EngineConn, Flow, Replies, RoomEngine};
use crate::engine::config::RoomsConfig;
use crate::engine::peer::{ConnId, PeerHandle};
use crate::engine::redis::config::RedisConfig;
use crate::metrics::Metrics;
use crate::ws::CloseCode;
use metrics::EngineMetrics;
use request::{Op, Request};

pub mod config;
mod metrics;
mod request;
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
    /// Unbounded as a channel, bounded in bytes by `budget`.
    tx: mpsc::UnboundedSender<Request>,
    budget: Arc<Semaphore>,
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
        let budget = Arc::new(Semaphore::new(redis.queue_bytes));
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
            budget,
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
            budget: self.budget.clone(),
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
        let request = Request { conn: 0, open: None, op: Op::Close(done), permit: None };
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
    budget: Arc<Semaphore>,
    metrics: Arc<EngineMetrics>,
}

impl RedisConn {
    /// Queues a request; `false` if it was refused (and answered so).
    fn submit(&mut self, op: Op, reply: &mut impl Replies) -> bool {
        let size = u32::try_from(op.size()).unwrap_or(u32::MAX);
        let Ok(permit) = self.budget.clone().try_acquire_many_owned(size) else {
            // Overload: refused at once. This answer may overtake answers still queued.
            warn!(conn = self.conn, "Redis queue full; request refused");
            self.refuse(reply, "the server is overloaded; retry in a few seconds");
            return false;
        };
        let open = (!self.opened).then(|| self.handle.clone());
        match self.tx.send(Request { conn: self.conn, open, op, permit: Some(permit) }) {
            Ok(()) => {
                self.opened = true;
                true
            }
            Err(_) => {
                self.refuse(reply, "the server is shutting down");
                false
            }
        }
    }

    fn refuse(&self, reply: &mut impl Replies, message: &str) {
        self.metrics.rooms.error_sent(ErrorCode::Unavailable);
        reply.text(&ServerMessage::error_with(ErrorCode::Unavailable, message).to_json());
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
        self.submit(Op::Relay { to, data: data.to_owned() }, reply);
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

    /// Once requests are queued, the close waits behind their answers (the session reads on but
    /// ignores everything until it comes).
    fn hang_up(&mut self, code: CloseCode, reason: &'static str, reply: &mut impl Replies) -> Flow {
        if self.opened && self.submit(Op::HangUp(code, reason), reply) {
            Flow::Continue(())
        } else {
            Flow::Break((code, reason))
        }
    }

    async fn end(self, reason: &'static str) {
        if self.opened {
            // Outside the byte budget: the end of a connection must never be lost, and it is small.
            let _ = self.tx.send(Request { conn: self.conn, open: None, op: Op::End { reason }, permit: None });
        }
    }
}
