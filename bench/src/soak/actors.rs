//! The soak's simulated people, each bounded in messages and time: steady callers whose every
//! message is checked, slow readers that stop reading, flooders over the rate limit, and
//! reconnect storms (drop the connection, come back with the resume token).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shared::{ClientMessage, RoomId, ServerMessage};

use crate::error::{BenchError, Result};
use crate::load::conn::{self, Receiver, Transport};
use crate::load::{now_us, Peer, REPLY_LIMIT};
use crate::wire::{self, Incoming, SignalMaker};

/// What one steady pair saw: its receiver must get every message, in order, and its sender
/// nothing at all (a relayed signal is not answered; an answer is a refusal).
#[derive(Debug, Default, Clone)]
pub struct SteadyTally {
    pub sent: u64,
    /// Messages that arrived; one skipped over (a gap) is never counted, so it shows as lost.
    pub received: u64,
    /// Messages that came out of order (behind one already received) or from someone else, or
    /// anything unexpected.
    pub wrong: Vec<String>,
    /// What the sender was answered (e.g. `unavailable` for a relay the server refused): each a
    /// message that did not go out, which a well-behaved sender must never get.
    pub sender_answers: u64,
    pub first_sender_answer: Option<String>,
    /// One-way latencies, microseconds.
    pub latencies_us: Vec<u64>,
}

/// Signals of a steady caller: the size of a typical ICE candidate message.
const STEADY_SIZE: usize = 256;
/// Signals of a slow reader's partner: near the 64 KiB signal limit, to fill its queue fast.
const BIG_SIZE: usize = 60_000;

/// Reads `rx` until it closes or `until`, counting anything received: the side of a pair that
/// is expected to get nothing still answers pings (tungstenite does, while reading).
async fn drain(rx: &mut Receiver, until: Instant) -> u64 {
    let mut count = 0;
    while let Ok(Ok(Some(_))) = tokio::time::timeout_at(until.into(), rx.recv()).await {
        count += 1;
    }
    count
}

/// Reads `rx` until it closes or `until`, counting what arrives into `seen` and keeping the
/// first text: for the side that must be sent nothing.
async fn watch(rx: &mut Receiver, until: Instant, seen: &std::cell::RefCell<(u64, Option<String>)>) -> u64 {
    while let Ok(Ok(Some(text))) = tokio::time::timeout_at(until.into(), rx.recv()).await {
        let mut seen = seen.borrow_mut();
        seen.0 += 1;
        seen.1.get_or_insert(text);
    }
    seen.borrow().0
}

/// A sends `count` signals to B, one per `interval`; B checks each arrives, in order, and A must
/// be answered nothing. The messages B still expects when the sender is done may take
/// [`REPLY_LIMIT`] each, no more.
pub async fn steady(pair: (Peer, Peer), count: u64, interval: Duration, offset: Duration) -> SteadyTally {
    let (mut a, mut b) = pair;
    let maker = SignalMaker::new(b.id.clone(), STEADY_SIZE);
    let from = a.id.clone();
    let end = Instant::now() + offset + interval * u32::try_from(count).unwrap_or(u32::MAX) + REPLY_LIMIT;
    let sending = async {
        tokio::time::sleep(offset).await;
        let mut ticker = tokio::time::interval(interval);
        let mut sent = 0;
        for seq in 0..count {
            ticker.tick().await;
            if a.tx.send(maker.make(seq, now_us())).await.is_err() {
                break;
            }
            sent += 1;
        }
        sent
    };
    let receiving = async {
        let mut tally = SteadyTally::default();
        // The next sequence number due; a later one means those between were lost.
        let mut next = 0;
        while next < count {
            match b.rx.recv_within(REPLY_LIMIT, "steady: a relayed signal").await {
                Ok(text) => match wire::parse(&text) {
                    Incoming::Relayed(r) if r.from == from && r.seq >= next => {
                        // A gap (r.seq > next) is not counted as received: it shows as lost.
                        tally.latencies_us.push(now_us().saturating_sub(r.sent_us));
                        tally.received += 1;
                        next = r.seq + 1;
                    }
                    Incoming::Relayed(r) => {
                        tally.wrong.push(format!("expected #{next} from {from}, got #{} from {}", r.seq, r.from));
                    }
                    _ => tally.wrong.push(text),
                },
                Err(e) => {
                    tally.wrong.push(e.to_string());
                    break;
                }
            }
        }
        tally
    };
    let answers = std::cell::RefCell::new((0, None));
    let (sent, mut tally) =
        until_done(async { tokio::join!(sending, receiving) }, watch(&mut a.rx, end, &answers)).await;
    tally.sent = sent;
    (tally.sender_answers, tally.first_sender_answer) = answers.into_inner();
    tally
}

/// A sends big signals to B at `per_sec` (under the rate limit) for `run`, while B reads
/// nothing: the server must bound what it holds for B. Returns the signals A got out.
pub async fn slow_reader(pair: (Peer, Peer), per_sec: u32, run: Duration) -> u64 {
    let (mut a, b) = pair;
    let maker = SignalMaker::new(b.id.clone(), BIG_SIZE);
    let end = Instant::now() + run;
    let sending = async {
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / per_sec.max(1));
        let mut sent = 0;
        while Instant::now() < end {
            ticker.tick().await;
            match tokio::time::timeout_at(end.into(), a.tx.send(maker.make(sent, now_us()))).await {
                Ok(Ok(())) => sent += 1,
                _ => break,
            }
        }
        sent
    };
    let (sent, _) = tokio::join!(sending, drain(&mut a.rx, end));
    // B is dropped only now: it held its socket, unread, for the whole run.
    drop(b);
    sent
}

/// Joins a room alone and sends `burst` messages without waiting, then reads until the server
/// closes the connection or `limit` passes; repeats until `run` ends, at most `rounds` times.
/// Returns how many rounds ended with the server closing the connection, and how many joins it
/// refused (the Redis engine answers `unavailable` when its shared queue is full).
pub async fn flooder(addr: SocketAddr, room: String, burst: u32, rounds: u32, run: Duration) -> Result<(u32, u32)> {
    let end = Instant::now() + run;
    let (mut closed, mut refused) = (0, 0);
    for round in 0..rounds {
        if Instant::now() >= end {
            break;
        }
        let (mut tx, mut rx) = conn::connect(addr, Transport::WebSocket).await?;
        let me = match crate::load::join(&mut tx, &mut rx, &format!("{room}-{round}"), "soak flood").await {
            Ok((me, _, _)) => me,
            Err(BenchError::Protocol { .. }) => {
                refused += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let maker = SignalMaker::new(me, STEADY_SIZE);
        let limit = Instant::now() + REPLY_LIMIT;
        let sending = async {
            for seq in 0..u64::from(burst) {
                if tx.send(maker.make(seq, now_us())).await.is_err() {
                    break;
                }
            }
        };
        let (_, _) = tokio::join!(sending, drain(&mut rx, limit));
        if Instant::now() < limit {
            closed += 1;
        }
    }
    Ok((closed, refused))
}

/// What a reconnect storm did.
#[derive(Debug, Default, Clone, Copy)]
pub struct StormTally {
    pub reconnects: u32,
    /// Rejoins the server answered with its seat back (`joined` after a resume).
    pub resumed: u32,
    /// Rejoins answered with anything but `joined`.
    pub refused: u32,
}

/// A stays; B drops its connection every `every` and comes back with its resume token, at most
/// `rounds` times within `run`.
pub async fn storm(addr: SocketAddr, room: String, every: Duration, rounds: u32, run: Duration) -> Result<StormTally> {
    let end = Instant::now() + run;
    let room_id = RoomId::try_from(room.as_str()).map_err(|e| BenchError::protocol("soak storm", e.to_string()))?;
    let (mut a_tx, mut a_rx) = conn::connect(addr, Transport::WebSocket).await?;
    match crate::load::join(&mut a_tx, &mut a_rx, &room, "soak storm").await {
        Ok(_) => {}
        // The server's answer under overload (Redis: `unavailable`): counted, not a failure.
        Err(BenchError::Protocol { .. }) => return Ok(StormTally { refused: 1, ..StormTally::default() }),
        Err(e) => return Err(e),
    }
    let storming = async {
        let mut tally = StormTally::default();
        let mut token = None;
        for _ in 0..rounds {
            if Instant::now() >= end {
                break;
            }
            let (mut tx, mut rx) = conn::connect(addr, Transport::WebSocket).await?;
            let rejoin = token.is_some();
            tx.send(ClientMessage::Join { room: room_id.clone(), resume: token.take() }.to_json()).await?;
            match joined_token(&mut rx).await {
                Some(fresh) => {
                    token = Some(fresh);
                    tally.resumed += u32::from(rejoin);
                }
                None => tally.refused += 1,
            }
            tally.reconnects += u32::from(rejoin);
            let hold = tokio::time::sleep(every);
            tokio::pin!(hold);
            // Read while holding the seat, then drop the connection without a close frame.
            tokio::select! {
                _ = &mut hold => {}
                _ = drain(&mut rx, end) => {}
            }
            drop((tx, rx));
        }
        Ok::<_, BenchError>(tally)
    };
    let tally = until_done(storming, drain(&mut a_rx, end + REPLY_LIMIT)).await;
    drop(a_tx);
    tally
}

/// Runs `work` to its end, with `beside` (a drain) polled meanwhile and dropped when `work` ends.
async fn until_done<T>(
    work: impl std::future::Future<Output = T>,
    beside: impl std::future::Future<Output = u64>,
) -> T {
    tokio::pin!(work);
    tokio::pin!(beside);
    tokio::select! {
        done = &mut work => done,
        _ = &mut beside => work.await,
    }
}

/// The resume token of the `joined` that answers a join, skipping `peer_joined`s.
async fn joined_token(rx: &mut Receiver) -> Option<shared::ResumeToken> {
    for _ in 0..4 {
        let text = rx.recv_within(REPLY_LIMIT, "soak storm: joined").await.ok()?;
        match ServerMessage::parse(&text) {
            Ok(ServerMessage::Joined { resume_token, .. }) => return Some(resume_token),
            Ok(ServerMessage::PeerJoined { .. } | ServerMessage::PeerLeft { .. }) => {}
            _ => return None,
        }
    }
    None
}
