//! Join latency: the time from sending `join` to receiving `joined`, on connections already
//! open (the handshake is not part of it). One at a time, then as a burst: every connection
//! open first, then every join written back to back. Connections join in pairs, and every pair
//! is checked to have been seated together.

use std::collections::HashMap;
use std::time::Instant;

use futures_util::{StreamExt as _, TryStreamExt as _};
use hdrhistogram::Histogram;
use shared::PeerId;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::conn::{self, Receiver, Sender};
use super::relay::histogram;
use super::{join, CONCURRENCY, REPLY_LIMIT};
use crate::error::{BenchError, Result};
use crate::server::Target;
use crate::wire::{self, Incoming};

/// What one join told: its pair (room), its id and the peers it was shown.
pub struct Seated {
    pub room: usize,
    pub id: PeerId,
    pub peers: Vec<PeerId>,
}

/// Every room has exactly two peers, and one of them was shown the other.
pub fn check_pairs(seated: &[Seated], scenario: &str) -> Result<()> {
    let mut rooms: HashMap<usize, Vec<&Seated>> = HashMap::new();
    for seat in seated {
        rooms.entry(seat.room).or_default().push(seat);
    }
    for (room, seats) in rooms {
        let ok = match seats.as_slice() {
            [a, b] => {
                (a.peers.is_empty() && b.peers == [a.id.clone()]) || (b.peers.is_empty() && a.peers == [b.id.clone()])
            }
            [a] => a.peers.is_empty(),
            _ => false,
        };
        if !ok {
            let shown: Vec<_> = seats.iter().map(|s| (s.id.as_str(), &s.peers)).collect();
            return Err(BenchError::Misdelivered {
                scenario: scenario.to_owned(),
                detail: format!("room {room}: {shown:?}"),
            });
        }
    }
    Ok(())
}

/// `count` joins one after the other, each on a fresh connection, kept open until the end.
pub async fn sequential(server: &Target, count: usize) -> Result<Histogram<u64>> {
    let scenario = "join one at a time";
    let mut latency = histogram();
    let mut open = Vec::with_capacity(count);
    let mut seated = Vec::with_capacity(count);
    for i in 0..count {
        let (mut tx, mut rx) = conn::connect(server.addr, server.transport).await?;
        let (id, peers, took) = join(&mut tx, &mut rx, &format!("seq-{}", i / 2), scenario).await?;
        let _ = latency.record(took.as_micros().max(1) as u64);
        seated.push(Seated { room: i / 2, id, peers });
        open.push((tx, rx));
    }
    check_pairs(&seated, scenario)?;
    Ok(latency)
}

/// `count` connections opened first; then one task writes every `join` back to back, as fast as
/// the generator can, while a reader per connection waits for its `joined`. A join's latency is
/// from the moment its write began to the moment its answer was read: the server's queueing under
/// the burst, not the generator's (readers are idle tasks, woken as soon as an answer arrives).
/// `round` keeps each burst's rooms apart from an earlier burst's on the same server (whose
/// seats a server may still hold for a resume).
pub async fn burst(server: &Target, count: usize, round: usize) -> Result<Histogram<u64>> {
    let scenario = "join burst";
    let (addr, transport) = (server.addr, server.transport);
    let connections: Vec<(Sender, Receiver)> = futures_util::stream::iter(0..count)
        .map(|_| conn::connect(addr, transport))
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut writers = Vec::with_capacity(count);
    let mut readers = JoinSet::new();
    for (i, (tx, mut rx)) in connections.into_iter().enumerate() {
        let (sent_tx, sent_rx) = oneshot::channel::<Instant>();
        let room = format!("burst{round}-{}", i / 2);
        let join = wire::join(&room).map_err(|e| BenchError::protocol(scenario, e))?;
        writers.push((tx, join, sent_tx));
        readers.spawn(async move {
            let answer = joined(&mut rx, &room, scenario).await;
            let read_at = Instant::now();
            let sent_at = sent_rx.await.unwrap_or(read_at);
            (i, answer.map(|(id, peers)| (id, peers, read_at.saturating_duration_since(sent_at))), rx)
        });
    }
    let writing = tokio::spawn(async move {
        let mut open = Vec::with_capacity(writers.len());
        for (mut tx, join, sent) in writers {
            let _ = sent.send(Instant::now());
            tx.send(join).await?;
            open.push(tx);
        }
        Ok::<_, BenchError>(open)
    });
    let mut latency = histogram();
    let mut seated = Vec::with_capacity(count);
    let mut open = Vec::with_capacity(count);
    let mut failure = None;
    while let Some(done) = readers.join_next().await {
        match done {
            Ok((i, Ok((id, peers, took)), rx)) => {
                let _ = latency.record(took.as_micros().max(1) as u64);
                seated.push(Seated { room: i / 2, id, peers });
                open.push(rx);
            }
            Ok((_, Err(e), _)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(BenchError::Report(format!("a join task failed: {e}")))),
        }
    }
    let written = writing.await.map_err(|e| BenchError::Report(format!("the join writer failed: {e}")));
    match (failure, written) {
        (Some(e), _) | (None, Err(e)) | (None, Ok(Err(e))) => Err(e),
        (None, Ok(Ok(_open_senders))) => {
            check_pairs(&seated, scenario)?;
            Ok(latency)
        }
    }
}

/// Reads until `joined` (skipping the `peer_joined` of the other half of the pair).
async fn joined(rx: &mut Receiver, room: &str, scenario: &str) -> Result<(PeerId, Vec<PeerId>)> {
    loop {
        let text = rx.recv_within(REPLY_LIMIT, &format!("{scenario}: joined for {room}")).await?;
        match wire::parse(&text) {
            Incoming::Joined { peer, peers } => return Ok((peer, peers)),
            Incoming::PeerJoined(_) => {}
            _ => return Err(BenchError::protocol(scenario, format!("join {room}: answered {text}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(room: usize, id: &str, peers: &[&str]) -> Seated {
        Seated { room, id: PeerId::new(id), peers: peers.iter().map(|p| PeerId::new(*p)).collect() }
    }

    #[test]
    fn pairs_must_see_each_other() {
        assert!(check_pairs(&[seat(0, "a", &[]), seat(0, "b", &["a"]), seat(1, "c", &["d"]), seat(1, "d", &[])], "t")
            .is_ok());
        assert!(check_pairs(&[seat(0, "a", &[]), seat(0, "b", &[])], "t").is_err());
        assert!(check_pairs(&[seat(0, "a", &[]), seat(0, "b", &["x"])], "t").is_err());
        assert!(check_pairs(&[seat(0, "a", &[]), seat(0, "b", &["a"]), seat(0, "c", &["a"])], "t").is_err());
        assert!(check_pairs(&[seat(3, "odd", &[])], "t").is_ok());
    }
}
