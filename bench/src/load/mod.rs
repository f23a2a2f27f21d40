//! The load generator: bounded scenarios against one running server, each returning figures
//! and failing on any lost, reordered or misdelivered message.
//!
//! - [`conn`]: the client side of a connection, WebSocket or newline-delimited TCP;
//! - [`relay`]: rooms of two exchanging signals, closed loop or paced;
//! - [`join`](mod@join): join → joined latency, one at a time and as a burst;
//! - [`idle`]: memory per connected and per joined peer;
//! - [`echo`]: CPU per echoed message.

pub mod conn;
pub mod echo;
pub mod idle;
pub mod join;
pub mod relay;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, TryStreamExt as _};
use shared::PeerId;

use crate::error::{BenchError, Result};
use crate::wire::{self, Incoming};
use conn::{Receiver, Sender, Transport};

/// Waiting for one answer from a server (joined, peer_joined); generous for a pinned server
/// working through a burst of ten thousand.
pub const REPLY_LIMIT: Duration = Duration::from_secs(30);

/// Connections opened or joined at once: enough to keep a server busy, few enough that the
/// listen backlog (1024 in tokio) never overflows into SYN retries.
pub const CONCURRENCY: usize = 64;

/// Microseconds since the generator started: the clock of the timestamps inside messages. One
/// process sends and receives, so one monotonic clock serves both ends.
pub fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// A connection that has joined a room.
pub struct Peer {
    pub id: PeerId,
    pub tx: Sender,
    pub rx: Receiver,
}

/// Sends `join` and waits for `joined`, skipping `peer_joined`s; returns the peer id, the
/// peers already there and the time from the send to the answer.
pub async fn join(
    tx: &mut Sender,
    rx: &mut Receiver,
    room: &str,
    scenario: &str,
) -> Result<(PeerId, Vec<PeerId>, Duration)> {
    let message = wire::join(room).map_err(|e| BenchError::protocol(scenario, e))?;
    let started = Instant::now();
    tx.send(message).await?;
    loop {
        let text = rx.recv_within(REPLY_LIMIT, &format!("{scenario}: joined for {room}")).await?;
        match wire::parse(&text) {
            Incoming::Joined { peer, peers } => return Ok((peer, peers, started.elapsed())),
            Incoming::PeerJoined(_) => {}
            _ => return Err(BenchError::protocol(scenario, format!("join {room}: answered {text}"))),
        }
    }
}

/// Waits for `peer_joined` of `peer`.
pub async fn peer_joined(rx: &mut Receiver, peer: &PeerId, scenario: &str) -> Result<()> {
    let text = rx.recv_within(REPLY_LIMIT, &format!("{scenario}: peer_joined")).await?;
    match wire::parse(&text) {
        Incoming::PeerJoined(id) if &id == peer => Ok(()),
        _ => Err(BenchError::protocol(scenario, format!("expected peer_joined of {peer}, got {text}"))),
    }
}

/// Two connections joined to `room`, each knowing the other's id: the first has seen the
/// second's `peer_joined`, the second had the first in `joined.peers`.
pub async fn pair(addr: SocketAddr, transport: Transport, room: &str, scenario: &str) -> Result<(Peer, Peer)> {
    pair_across([addr, addr], transport, room, scenario).await
}

/// [`pair`], the first connection to `addrs[0]` and the second to `addrs[1]`: two nodes
/// sharing rooms through Redis.
pub async fn pair_across(
    addrs: [SocketAddr; 2],
    transport: Transport,
    room: &str,
    scenario: &str,
) -> Result<(Peer, Peer)> {
    let (mut a_tx, mut a_rx) = conn::connect(addrs[0], transport).await?;
    let (mut b_tx, mut b_rx) = conn::connect(addrs[1], transport).await?;
    let (a_id, a_peers, _) = join(&mut a_tx, &mut a_rx, room, scenario).await?;
    let (b_id, b_peers, _) = join(&mut b_tx, &mut b_rx, room, scenario).await?;
    if !a_peers.is_empty() || b_peers != [a_id.clone()] {
        return Err(BenchError::Misdelivered {
            scenario: scenario.to_owned(),
            detail: format!("room {room}: first saw peers {a_peers:?}, second {b_peers:?} (first is {a_id})"),
        });
    }
    peer_joined(&mut a_rx, &b_id, scenario).await?;
    Ok((Peer { id: a_id, tx: a_tx, rx: a_rx }, Peer { id: b_id, tx: b_tx, rx: b_rx }))
}

/// `count` rooms named `{prefix}-{i}`, set up [`CONCURRENCY`] at a time, as [`pair_across`].
pub async fn pairs(
    addrs: [SocketAddr; 2],
    transport: Transport,
    prefix: &str,
    count: usize,
) -> Result<Vec<(Peer, Peer)>> {
    futures_util::stream::iter(0..count)
        .map(|i| async move { pair_across(addrs, transport, &format!("{prefix}-{i}"), prefix).await })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await
}
