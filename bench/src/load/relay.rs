//! Relay: rooms of two peers sending each other `signal`s of a fixed size, both ways at once.
//! Closed loop (each direction keeps a fixed window of messages in flight, so the server runs
//! flat out without any queue growing) or paced (a fixed total rate). Every message carries its
//! sequence number and send time: the receiver checks the sender and the order, and records the
//! one-way latency. The server's CPU (every node's) is read around the measured window, and
//! apart from it that of the redis-server behind it, if any. With two nodes, the first peer of
//! each room is on the first node and the second on the second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shared::PeerId;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::conn::{Receiver, Sender, Transport};
use super::{now_us, pairs};
use crate::error::{BenchError, Result};
use crate::server::Target;
use crate::wire::{self, Incoming, SignalMaker};

/// How long a direction may go without a message arriving before the run is declared stuck.
const STALL_LIMIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// At most this many messages in flight per direction.
    Closed { window: u32 },
    /// This many messages per second over all directions together.
    Paced { per_sec: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelayPlan {
    pub rooms: usize,
    /// Bytes of each client `signal` message.
    pub size: usize,
    /// Messages in all (every direction together); each direction sends its share.
    pub messages: u64,
    pub pacing: Pacing,
    /// Senders stop at this time even if they have not sent their share.
    pub max_time: Duration,
}

pub struct RelayFigures {
    pub relayed: u64,
    pub elapsed: Duration,
    pub server_cpu_ns: u64,
    /// The redis-server's, through Redis.
    pub store_cpu_ns: Option<u64>,
    /// One-way latency, microseconds.
    pub latency: Histogram<u64>,
}

impl RelayFigures {
    pub fn cpu_us_per_message(&self) -> f64 {
        self.per_message(self.server_cpu_ns)
    }

    /// The redis-server's CPU per message, through Redis.
    pub fn store_us_per_message(&self) -> Option<f64> {
        self.store_cpu_ns.map(|ns| self.per_message(ns))
    }

    /// The server's and its redis-server's CPU per message together.
    pub fn total_us_per_message(&self) -> f64 {
        self.per_message(self.server_cpu_ns + self.store_cpu_ns.unwrap_or(0))
    }

    fn per_message(&self, ns: u64) -> f64 {
        ns as f64 / 1000.0 / self.relayed.max(1) as f64
    }

    pub fn per_sec(&self) -> f64 {
        self.relayed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A latency histogram in microseconds, from 1 µs to a minute, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; a failure here is a bug.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// One direction of one room: who sends, who receives, and the window between them.
struct Direction {
    from: PeerId,
    tx: Sender,
    maker: SignalMaker,
    rx: Receiver,
}

pub async fn run(server: &Target, plan: &RelayPlan, scenario: &str) -> Result<RelayFigures> {
    let directions = directions(server, plan, scenario).await?;
    let count = directions.len();
    let share = (plan.messages / count as u64).max(1);
    let (window, period) = match plan.pacing {
        Pacing::Closed { window } => (window.max(1), None),
        Pacing::Paced { per_sec } => {
            let share = u32::try_from(share).unwrap_or(u32::MAX);
            (share, Some(Duration::from_secs_f64(count as f64 / per_sec.max(1e-3))))
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let cpu_before = server.cpu_ns()?;
    let store_before = server.store_cpu_ns()?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + plan.max_time;
    let mut senders = JoinSet::new();
    let mut receivers = JoinSet::new();
    let mut windows = Vec::with_capacity(count);
    for (index, direction) in directions.into_iter().enumerate() {
        let credit = Arc::new(Semaphore::new(window as usize));
        windows.push(credit.clone());
        let receiving =
            ReceiveState { from: direction.from, next: 0, latency: histogram(), scenario: scenario.to_owned() };
        receivers.spawn(receive(direction.rx, receiving, credit.clone(), stop_rx.clone()));
        // Paced senders start spread over one period, so the total rate is smooth.
        let offset = period.map(|p| p.mul_f64(index as f64 / count as f64));
        let send = SendPlan { share, period, offset, deadline };
        senders.spawn(send_all(direction.tx, direction.maker, credit, send));
    }
    let mut failure = None;
    let (sent, keep_open) = collect_senders(senders, &mut failure).await;
    // Everything sent has arrived once every window is whole again.
    let drain_by = tokio::time::Instant::now() + STALL_LIMIT;
    let mut drained = true;
    for credit in &windows {
        drained &= matches!(tokio::time::timeout_at(drain_by, credit.acquire_many(window)).await, Ok(Ok(_)));
    }
    let elapsed = started.elapsed();
    let server_cpu_ns = server.cpu_ns()?.saturating_sub(cpu_before);
    let store_cpu_ns = server.store_cpu_ns()?.map(|ns| ns.saturating_sub(store_before.unwrap_or(0)));
    let _ = stop_tx.send(true);
    let (relayed, latency) = collect_receivers(receivers, &mut failure).await;
    drop(keep_open);
    if let Some(e) = failure {
        return Err(e);
    }
    if !drained || relayed != sent {
        return Err(BenchError::Lost { scenario: scenario.to_owned(), sent, lost: sent.saturating_sub(relayed) });
    }
    Ok(RelayFigures { relayed, elapsed, server_cpu_ns, store_cpu_ns, latency })
}

/// The rooms joined, as two directions each: A → B and B → A.
async fn directions(server: &Target, plan: &RelayPlan, scenario: &str) -> Result<Vec<Direction>> {
    let rooms = plan.rooms.max(1);
    let mut directions = Vec::with_capacity(2 * rooms);
    // The floor forwards bytes unread: it gets the message the receiver expects, ready-made.
    let maker = |from: &PeerId, to: &PeerId| match server.transport {
        Transport::Frames => SignalMaker::relayed(from.clone(), plan.size),
        Transport::WebSocket | Transport::Tcp => SignalMaker::new(to.clone(), plan.size),
    };
    for (a, b) in pairs([server.addr, server.second_addr()], server.transport, scenario, rooms).await? {
        directions.push(Direction { maker: maker(&a.id, &b.id), from: a.id.clone(), tx: a.tx, rx: b.rx });
        directions.push(Direction { maker: maker(&b.id, &a.id), from: b.id, tx: b.tx, rx: a.rx });
    }
    Ok(directions)
}

/// Messages sent in all, and the senders (kept open until the receivers are done).
async fn collect_senders(
    mut senders: JoinSet<Result<(Sender, u64)>>,
    failure: &mut Option<BenchError>,
) -> (u64, Vec<Sender>) {
    let mut sent = 0;
    let mut keep_open = Vec::with_capacity(senders.len());
    while let Some(joined) = senders.join_next().await {
        match joined {
            Ok(Ok((tx, n))) => {
                sent += n;
                keep_open.push(tx);
            }
            Ok(Err(e)) => *failure = failure.take().or(Some(e)),
            Err(e) => *failure = failure.take().or(Some(BenchError::Report(format!("a sender task failed: {e}")))),
        }
    }
    (sent, keep_open)
}

/// Messages received in all, and their latencies merged.
async fn collect_receivers(
    mut receivers: JoinSet<Result<ReceiveState>>,
    failure: &mut Option<BenchError>,
) -> (u64, Histogram<u64>) {
    let mut relayed = 0;
    let mut latency = histogram();
    while let Some(joined) = receivers.join_next().await {
        match joined {
            Ok(Ok(state)) => {
                relayed += state.next;
                // Same bounds on both sides: adding cannot fail.
                let _ = latency.add(&state.latency);
            }
            Ok(Err(e)) => *failure = failure.take().or(Some(e)),
            Err(e) => *failure = failure.take().or(Some(BenchError::Report(format!("a receiver task failed: {e}")))),
        }
    }
    (relayed, latency)
}

struct SendPlan {
    share: u64,
    period: Option<Duration>,
    offset: Option<Duration>,
    deadline: tokio::time::Instant,
}

/// Sends up to `share` messages, each when the window has room (and, paced, at its tick).
/// Returns the sender (closing it would end the room early) and how many it sent.
async fn send_all(mut tx: Sender, maker: SignalMaker, credit: Arc<Semaphore>, plan: SendPlan) -> Result<(Sender, u64)> {
    let mut ticks = plan.period.map(|period| {
        let start = tokio::time::Instant::now() + plan.offset.unwrap_or_default();
        tokio::time::interval_at(start, period)
    });
    let mut seq = 0;
    while seq < plan.share && tokio::time::Instant::now() < plan.deadline {
        if let Some(ticks) = ticks.as_mut() {
            ticks.tick().await;
        }
        match tokio::time::timeout(STALL_LIMIT, credit.acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => {
                return Err(BenchError::Timeout {
                    what: "room in the relay window".to_owned(),
                    secs: STALL_LIMIT.as_secs(),
                })
            }
        }
        tx.send(maker.make(seq, now_us())).await?;
        seq += 1;
    }
    Ok((tx, seq))
}

struct ReceiveState {
    from: PeerId,
    /// The sequence number expected next, which is also how many arrived.
    next: u64,
    latency: Histogram<u64>,
    scenario: String,
}

/// Receives until stopped, checking sender and order, and gives each message's credit back.
async fn receive(
    mut rx: Receiver,
    mut state: ReceiveState,
    credit: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> Result<ReceiveState> {
    loop {
        let text = tokio::select! {
            biased;
            _ = stop.changed() => return Ok(state),
            text = rx.recv() => text?,
        };
        let Some(text) = text else {
            return Err(BenchError::protocol(&state.scenario, "the server closed a connection mid-run"));
        };
        let relayed = match wire::parse(&text) {
            Incoming::Relayed(relayed) => relayed,
            _ => return Err(BenchError::protocol(&state.scenario, text)),
        };
        if relayed.from != state.from || relayed.seq != state.next {
            return Err(BenchError::Misdelivered {
                scenario: state.scenario.clone(),
                detail: format!(
                    "expected #{} from {}, got #{} from {}",
                    state.next, state.from, relayed.seq, relayed.from
                ),
            });
        }
        let _ = state.latency.record(now_us().saturating_sub(relayed.sent_us).max(1));
        state.next += 1;
        credit.add_permits(1);
    }
}
