//! The node's one Redis task. It owns this node's part of the room state (which connection holds
//! which seat) — no locks — and the two Redis connections: one multiplexed connection for
//! commands and one subscription to the node's inbox channel.
//!
//! Requests of every session arrive in one bounded queue and are sent as pipelined batches, one
//! batch in flight at a time: Redis runs them in queue order, so each connection's requests (and
//! each peer's signals) keep their order, and a batch costs one round trip however many sessions
//! it serves. Between batches runs the heartbeat ([`Script::Tick`]), which is also how the node
//! notices Redis is gone and how it repairs its seats after Redis comes back.
//!
//! While Redis is unreachable the node answers from its own state: joins and relays get
//! `unavailable`, leaves and ends take effect locally and reach Redis with the first heartbeat
//! after it returns.
//!
//! Here: the state, the loop and delivery. [`batch`]: requests to commands and answers;
//! [`heartbeat`]: liveness, repair and the grace timers; [`link`]: the connections to Redis
//! ([`subscription`]: the inbox one); [`conn_map`]: the connections by number;
//! [`relay`]: relays sent to where the recipient sits, and checked where they land.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use redis::{RedisResult, Value};
use shared::{ErrorCode, PeerId, ResumeToken, RoomId, ServerMessage};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, Instant};
use tracing::warn;

use super::inbox::{self, Inbox};
use super::places::{Place, Places};
use super::scripts::{self, State};
use crate::engine::config::RoomsConfig;
use crate::engine::peer::{ConnId, PeerHandle};
use crate::engine::redis::config::RedisConfig;
use crate::engine::redis::metrics::{EngineMetrics, PublishFailure};
use crate::engine::redis::request::Request;

mod batch;
mod conn_map;
mod heartbeat;
mod link;
mod relay;
mod subscription;

use batch::Step;
use conn_map::ConnMap;
pub(super) use link::counts;
use link::{link_event, Link, LinkEvent, BACKOFF_MIN};

/// A room nobody refreshes (every node with a seat in it died) disappears after this, beyond the
/// resume grace: long enough for any peer of a dead node to resume elsewhere first.
const ROOM_TTL_EXTRA: Duration = Duration::from_secs(60);

/// The answer to what cannot be done without Redis.
const UNREACHABLE: &str = "the room store is unreachable; retry in a few seconds";

pub(super) struct Setup {
    pub node: Arc<str>,
    pub client: redis::Client,
    pub rooms: RoomsConfig,
    pub redis: RedisConfig,
    pub metrics: Arc<EngineMetrics>,
    pub healthy: Arc<watch::Sender<bool>>,
    pub rx: mpsc::UnboundedReceiver<Request>,
}

/// A seat held by a connection of this node.
struct Seat {
    room: RoomId,
    peer: PeerId,
    token: ResumeToken,
    order: String,
    /// Away since the connection ended: the Redis deadline (ms) and the local timer.
    away: Option<(i64, Instant)>,
    /// Where the other peers of the room sit, as this seat heard: a relay to a known one is one
    /// `PUBLISH`.
    places: Places,
}

/// A connection of this node, from its first request until its seat is gone.
struct Conn {
    /// `None` once the connection has ended (its seat may still wait for a resume).
    handle: Option<PeerHandle>,
    seat: Option<Seat>,
    /// While its join is in flight: messages that came for it meanwhile, delivered after `joined`.
    held: Option<Vec<Held>>,
}

/// A message that came for a connection while its join was in flight.
enum Held {
    Text(String),
    /// A signal for the seat the join may be taking: checked when the join lands.
    Signal {
        from_node: String,
        from_conn: ConnId,
        to: String,
        json: String,
    },
}

/// What a flight carries to Redis, to be landed when the answers come back.
enum Plan {
    Batch(Vec<Step>),
    /// The connections whose seats were sent, per script call.
    Tick(Vec<Vec<ConnId>>),
    Close(oneshot::Sender<()>),
}

/// A flight's answers (or failure) and its round trip.
struct Landed {
    plan: Plan,
    result: RedisResult<Vec<Value>>,
    took: Duration,
}

/// The one pipeline in flight.
type Flight = Pin<Box<dyn Future<Output = Landed> + Send>>;

/// What woke the worker's loop.
enum Wake {
    Landed(Landed),
    Link(LinkEvent),
    Expiry,
    Tick,
    Requests(usize),
}

pub(super) struct Worker {
    node: Arc<str>,
    client: redis::Client,
    rooms: RoomsConfig,
    redis: RedisConfig,
    metrics: Arc<EngineMetrics>,
    healthy: Arc<watch::Sender<bool>>,
    rx: mpsc::UnboundedReceiver<Request>,
    rx_closed: bool,
    /// Requests taken from the queue, not yet sent: at most one batch.
    pending: VecDeque<Request>,
    conns: ConnMap<Conn>,
    /// This node's seats per room: what the heartbeat refreshes and checks.
    seats: HashMap<RoomId, Vec<ConnId>>,
    /// The number of seats in `seats`, kept as they come and go (a gauge read at every wake-up).
    seat_count: usize,
    expiries: BTreeSet<(Instant, ConnId)>,
    link: Link,
    flight: Option<Flight>,
    next_tick: Instant,
    /// The `connect:epoch` last seen; empty before the first heartbeat.
    epoch: String,
    /// `peer_left` around the peer id, for the heartbeat script.
    peer_left: (String, String),
    /// `peer_resumed` around the peer id, for the join script.
    peer_resumed: (String, String),
    /// Signals that found no seat here, to tell their senders' nodes: (node, connection, peer).
    bounces: Vec<(String, ConnId, String)>,
    /// Relays of the batch landing whose place had nobody listening: queued again, first.
    retries: Vec<Request>,
    /// The `PUBLISH` of consecutive relays to one inbox, while a batch is planned.
    merging: relay::Merging,
}

impl Worker {
    pub(super) fn new(setup: Setup) -> Self {
        Worker {
            node: setup.node,
            client: setup.client,
            rooms: setup.rooms,
            redis: setup.redis,
            metrics: setup.metrics,
            healthy: setup.healthy,
            rx: setup.rx,
            rx_closed: false,
            pending: VecDeque::new(),
            conns: ConnMap::default(),
            seats: HashMap::new(),
            seat_count: 0,
            expiries: BTreeSet::new(),
            link: Link::Down { retry_at: Instant::now(), backoff: BACKOFF_MIN, failures: 0 },
            flight: None,
            next_tick: Instant::now(),
            epoch: String::new(),
            peer_left: scripts::peer_left_halves(),
            peer_resumed: scripts::peer_resumed_halves(),
            bounces: Vec::new(),
            retries: Vec::new(),
            merging: relay::Merging::default(),
        }
    }

    fn tick_interval(&self) -> Duration {
        self.redis.node_ttl / 3
    }

    pub(super) async fn run(mut self) {
        // However the task ends (a panic included), the node stops claiming to be healthy.
        let _unhealthy_on_exit = Unhealthy(self.healthy.clone(), self.metrics.clone());
        let mut taken = Vec::with_capacity(self.redis.batch);
        loop {
            if let Some(done) = self.pump() {
                let _ = done.send(());
                return;
            }
            if self.rx_closed && self.pending.is_empty() && self.flight.is_none() {
                return;
            }
            let up = matches!(&self.link, Link::Up(c) if c.registered);
            let tick_due = up && self.flight.is_none();
            let room = self.redis.batch.saturating_sub(self.pending.len());
            let want = room > 0 && !self.rx_closed;
            let next_expiry = self.expiries.first().map(|&(at, _)| at);
            let wake = tokio::select! {
                biased;
                landed = fly(&mut self.flight) => Wake::Landed(landed),
                event = link_event(&mut self.link) => Wake::Link(event),
                () = sleep_until(next_expiry.unwrap_or_else(Instant::now)), if next_expiry.is_some() => Wake::Expiry,
                () = sleep_until(self.next_tick), if tick_due => Wake::Tick,
                n = self.rx.recv_many(&mut taken, room), if want => Wake::Requests(n),
            };
            match wake {
                Wake::Landed(landed) => {
                    self.flight = None;
                    if let Some(done) = self.land(landed) {
                        let _ = done.send(());
                        return;
                    }
                }
                Wake::Link(event) => self.on_link(event),
                Wake::Expiry => self.expire_due(),
                Wake::Tick => {} // `pump` starts it
                Wake::Requests(0) => self.rx_closed = true,
                Wake::Requests(_) => self.pending.extend(taken.drain(..)),
            }
            self.update_gauges();
        }
    }

    /// Starts the next piece of work if none is in flight. Returns the close acknowledgement when
    /// the worker is done.
    fn pump(&mut self) -> Option<oneshot::Sender<()>> {
        if self.flight.is_some() {
            return None;
        }
        match &self.link {
            Link::Up(c) if !c.registered || Instant::now() >= self.next_tick => {
                self.start_tick();
                None
            }
            Link::Up(_) => self.start_batch(),
            Link::Down { .. } | Link::Connecting(..) => self.serve_offline(),
        }
    }

    // ---- delivery -----------------------------------------------------------------------------

    /// A message from the node's inbox channel: one envelope, or a batch of them.
    fn deliver(&mut self, payload: &[u8]) {
        let Some(envelopes) = inbox::batch(payload) else { return self.deliver_one(payload) };
        for envelope in envelopes {
            match envelope {
                Ok(envelope) => self.deliver_one(envelope),
                Err(()) => warn!(len = payload.len(), "malformed inbox batch; its rest ignored"),
            }
        }
    }

    fn deliver_one(&mut self, payload: &[u8]) {
        match inbox::parse(payload) {
            Some(Inbox::Text(conn, json)) => self.deliver_text(conn, json),
            Some(Inbox::Replaced(conn)) => self.replaced(conn),
            Some(Inbox::Placed { conn, peer, node, at, json }) => {
                let limit = self.rooms.capacity.saturating_sub(1);
                if let Some(seat) = self.conns.get_mut(&conn).and_then(|c| c.seat.as_mut()) {
                    seat.places.learned(peer, Place::new(node, at), limit);
                }
                if !json.is_empty() {
                    self.deliver_text(conn, json);
                }
            }
            Some(Inbox::Left { conn, peer, json }) => {
                if let Some(seat) = self.conns.get_mut(&conn).and_then(|c| c.seat.as_mut()) {
                    seat.places.forget(peer);
                }
                self.deliver_text(conn, json);
            }
            Some(Inbox::Signal(signal)) => self.deliver_signal(signal),
            Some(Inbox::Undelivered { conn, peer }) => {
                let Some(c) = self.conns.get_mut(&conn) else { return };
                if let Some(seat) = c.seat.as_mut() {
                    seat.places.forget(peer);
                }
                self.metrics.redis.publish_failed(PublishFailure::NoSeat);
                let text = self.error(ErrorCode::UnknownPeer, unknown_peer(peer));
                self.send(conn, text);
            }
            None => warn!(len = payload.len(), "malformed inbox message ignored"),
        }
    }

    fn deliver_text(&mut self, conn: ConnId, json: &str) {
        let Some(c) = self.conns.get_mut(&conn) else { return }; // ended meanwhile
        if let Some(held) = &mut c.held {
            if held.len() < self.rooms.outbound_queue {
                held.push(Held::Text(json.to_owned()));
            } else {
                self.metrics.rooms.relay_dropped.inc();
            }
        } else if let Some(handle) = &c.handle {
            handle.send_text(json.to_owned(), &self.metrics.rooms);
        }
    }

    fn send(&self, conn: ConnId, text: String) {
        if let Some(handle) = self.conns.get(&conn).and_then(|c| c.handle.as_ref()) {
            handle.send_text(text, &self.metrics.rooms);
        }
    }

    fn error(&self, code: ErrorCode, message: String) -> String {
        self.metrics.rooms.error_sent(code);
        ServerMessage::Error { code, message }.to_json()
    }

    // ---- local state --------------------------------------------------------------------------

    fn attach(&mut self, conn: ConnId, seat: Seat) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        self.seats.entry(seat.room.clone()).or_default().push(conn);
        self.seat_count += 1;
        c.seat = Some(seat);
    }

    fn detach(&mut self, conn: ConnId) -> Option<Seat> {
        let seat = self.conns.get_mut(&conn)?.seat.take()?;
        self.seat_count -= 1;
        if let Some(holders) = self.seats.get_mut(&seat.room) {
            holders.retain(|&c| c != conn);
            if holders.is_empty() {
                self.seats.remove(&seat.room);
            }
        }
        if let Some((_, at)) = seat.away {
            self.expiries.remove(&(at, conn));
        }
        Some(seat)
    }

    fn member(&self, conn: ConnId, seat: &Seat) -> String {
        let state = seat.away.map_or(State::Connected, |(deadline, _)| State::Away(deadline));
        scripts::member(&seat.order, &seat.token, &self.node, conn, state)
    }

    fn room_ttl_ms(&self) -> u64 {
        millis(self.rooms.resume_grace + ROOM_TTL_EXTRA)
    }

    /// This node's seats and rooms (with a seat of this node), as the rooms gauges.
    fn update_gauges(&self) {
        self.metrics.rooms.rooms_open.set(i64::try_from(self.seats.len()).unwrap_or(i64::MAX));
        self.metrics.rooms.peers_joined.set(i64::try_from(self.seat_count).unwrap_or(i64::MAX));
    }
}

/// Marks the node unhealthy when dropped.
struct Unhealthy(Arc<watch::Sender<bool>>, Arc<EngineMetrics>);

impl Drop for Unhealthy {
    fn drop(&mut self) {
        self.0.send_replace(false);
        self.1.redis.up.set(0);
    }
}

async fn fly(flight: &mut Option<Flight>) -> Landed {
    match flight {
        Some(flight) => flight.await,
        None => std::future::pending().await,
    }
}

fn unknown_peer(peer: &str) -> String {
    format!("{peer} is not a connected peer in this room")
}

fn room_key(room: &RoomId) -> String {
    format!("{}{}", scripts::ROOM_PREFIX, room.as_str())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn unix_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A random epoch candidate; a failing random source gives the time instead (still unique enough:
/// it only has to differ from the epoch before a Redis restart).
fn random_id() -> String {
    let mut bytes = [0u8; 9];
    match getrandom::fill(&mut bytes) {
        Ok(()) => URL_SAFE_NO_PAD.encode(bytes),
        Err(_) => format!("t{}", unix_millis()),
    }
}
