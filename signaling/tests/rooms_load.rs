//! Many rooms at once: a thousand calls relaying in parallel lose and misdeliver nothing, and
//! after many joins, leaves and disconnects the registry and its gauges are back to zero.

/// The engine this suite runs on here; `rooms_on_redis.rs` runs it again on Redis.
#[allow(dead_code)] // unused where another crate includes this suite
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use std::sync::Arc;
use std::time::Duration;

use rooms_support::*;
use shared::{ClientMessage, PeerId};
use signaling::rate::RateConfig;
use signaling::{HttpConfig, RoomsConfig, ServerConfig, WsConfig};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;

const ROOMS: usize = 1_000;

/// Signals each peer sends the other: 100 per room.
const EACH_WAY: usize = 50;

/// Handshakes in flight at once. The listen backlog is finite: thousands of simultaneous connects
/// would overflow it and stall in SYN retries for seconds, which tests the kernel, not the server.
const CONNECTING: usize = 64;

/// File descriptors a room costs in this process: two client sockets and the server's two.
const FDS_PER_ROOM: usize = 4;

/// Kept free for the runtime, the listener, the test harness and stdio.
const FDS_SPARE: usize = 256;

/// Rooms per wave on the Redis engine. Every request of a node goes through its one ordered queue
/// to Redis, so a wave's whole backlog (100 signals per room, all sent at once) is relayed one
/// after another: 250 rooms keep each client's wait for its signals well inside the 10 s bound on
/// a busy 2-core machine running a debug build.
const REDIS_WAVE: usize = 250;

/// Rooms per wave, so the test never needs more file descriptors than the soft limit allows
/// (`ulimit -n`; it is not raised). With the common default of 1024 the thousand rooms run in
/// waves of 192, each wave fully parallel; with 4,256 or more they all run at once.
fn wave_size() -> usize {
    let limit = open_files_limit().unwrap_or(1024);
    let wave = (limit.saturating_sub(FDS_SPARE) / FDS_PER_ROOM).clamp(1, ROOMS);
    if on_redis() {
        wave.min(REDIS_WAVE)
    } else {
        wave
    }
}

/// The soft `RLIMIT_NOFILE` from `/proc/self/limits` (Linux); `None` elsewhere or if unlimited.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// One room's two peers, joined.
struct Call {
    room: String,
    a: Client,
    a_id: PeerId,
    b: Client,
    b_id: PeerId,
}

async fn open_call(url: &str, room: String) -> Call {
    let mut a = Client::connect(url).await;
    let mut b = Client::connect(url).await;
    let ja = a.join(&room).await;
    let jb = b.join(&room).await;
    assert!(ja.peers.is_empty(), "{room}: the room starts empty");
    assert_eq!(jb.peers, std::slice::from_ref(&ja.peer_id), "{room}");
    assert_eq!(a.expect_peer_joined().await, jb.peer_id, "{room}");
    Call { room, a, a_id: ja.peer_id, b, b_id: jb.peer_id }
}

/// Each message carries its room, its sender's side and its sequence number.
fn tag(room: &str, side: char, seq: usize) -> String {
    format!("candidate:{room} {side} {seq}")
}

/// Both peers send their signals interleaved, then each reads exactly the other's, in order.
async fn exchange(mut call: Call) -> Call {
    for seq in 0..EACH_WAY {
        call.a.signal(&call.b_id, candidate(tag(&call.room, 'a', seq))).await;
        call.b.signal(&call.a_id, candidate(tag(&call.room, 'b', seq))).await;
    }
    for seq in 0..EACH_WAY {
        let (from, data) = call.b.expect_signal().await;
        assert_eq!((&from, candidate_text(&data)), (&call.a_id, tag(&call.room, 'a', seq).as_str()));
        let (from, data) = call.a.expect_signal().await;
        assert_eq!((&from, candidate_text(&data)), (&call.b_id, tag(&call.room, 'b', seq).as_str()));
    }
    call
}

/// Waits for every task; a panic in one is re-raised with its own message.
async fn join_all<T: 'static>(mut set: JoinSet<T>) -> Vec<T> {
    let mut done = Vec::with_capacity(set.len());
    while let Some(result) = set.join_next().await {
        match result {
            Ok(value) => done.push(value),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("task failed: {e}"),
        }
    }
    done
}

/// Opens the wave's calls (a bounded number of handshakes at a time), then runs all their
/// exchanges at once, then drops every connection and waits until the server has let them go.
async fn run_wave(server: &RoomServer, rooms: std::ops::Range<usize>) {
    let url: Arc<str> = server.url().into();
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let mut opening = JoinSet::new();
    for n in rooms {
        let (url, connecting) = (url.clone(), connecting.clone());
        opening.spawn(async move {
            let _permit = connecting.acquire_owned().await.expect("semaphore open");
            open_call(&url, format!("load-{n}")).await
        });
    }
    let calls = join_all(opening).await;

    let mut running = JoinSet::new();
    for call in calls {
        running.spawn(exchange(call));
    }
    let calls = join_all(running).await;
    for call in calls {
        call.a.vanish();
        call.b.vanish();
    }
    server.wait_for_metric("signaling_connections_open", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_rooms_relay_in_parallel_without_loss_or_misdelivery() {
    // Keepalive is out of scope: clients waiting for the other rooms must not be pinged out.
    let ws = WsConfig {
        ping_interval: Duration::from_secs(120),
        idle_timeout: Duration::from_secs(300),
        ..WsConfig::default()
    };
    let config = ServerConfig {
        http: HttpConfig { ws: Arc::new(ws), ..HttpConfig::default() },
        addresses: one_address_for_all(),
        ..ServerConfig::default()
    };
    // The burst covers a join and 50 signals sent at full speed.
    let rate = RateConfig { burst: 200.0, ..RateConfig::default() };
    let rooms = RoomsConfig { rate, resume_grace: Duration::ZERO, ..RoomsConfig::default() };
    let server = start_with(config, rooms).await;

    let wave = wave_size();
    timeout(Duration::from_secs(60), async {
        for first in (0..ROOMS).step_by(wave) {
            run_wave(&server, first..(first + wave).min(ROOMS)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{ROOMS} rooms in waves of {wave} did not finish within 60 s"));

    let signals = i64::try_from(ROOMS * 2 * EACH_WAY).expect("fits");
    assert_eq!(server.metric("signaling_signals_relayed_total"), Some(signals));
    assert_eq!(server.metric("signaling_relay_dropped_total"), Some(0));
    assert_eq!(server.metric("signaling_websockets_total"), Some(i64::try_from(2 * ROOMS).expect("fits")));
    server.wait_for_counts((0, 0)).await;
    server.wait_for_metric("signaling_rooms_open", 0).await;
    server.wait_for_metric("signaling_peers_joined", 0).await;
    server.shutdown().await;
}

const CYCLE_ROOMS: usize = 50;
const CYCLES_PER_ROOM: usize = 10;

/// The client kept from the last cycle, or a new connection.
async fn reuse_or_connect(kept: Option<Client>, url: &str) -> Client {
    match kept {
        Some(client) => client,
        None => Client::connect(url).await,
    }
}

/// One join/leave cycle in `room`, ended in the way `k` picks. It ends with something that proves
/// the server is done with it (a `peer_left`, or the `not_in_room` after a second `leave`), so
/// the next cycle starts from an empty room. Returns the connections still open.
async fn cycle(mut a: Client, mut b: Client, room: &str, k: usize) -> (Option<Client>, Option<Client>) {
    let ja = a.join(room).await;
    assert!(ja.peers.is_empty(), "{room} cycle {k}: the room starts empty");
    let jb = b.join(room).await;
    assert_eq!(jb.peers, std::slice::from_ref(&ja.peer_id), "{room} cycle {k}");
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);
    b.signal(&ja.peer_id, candidate(format!("candidate:{room} {k}"))).await;
    assert_eq!(a.expect_signal().await, (jb.peer_id.clone(), candidate(format!("candidate:{room} {k}"))));
    match k % 4 {
        0 => {
            b.send(&ClientMessage::Leave).await;
            assert_eq!(a.expect_peer_left().await, jb.peer_id);
            a.leave_confirmed().await;
            (Some(a), Some(b))
        }
        1 => {
            b.vanish();
            assert_eq!(a.expect_peer_left().await, jb.peer_id);
            a.leave_confirmed().await;
            (Some(a), None)
        }
        2 => {
            b.close().await;
            assert_eq!(a.expect_peer_left().await, jb.peer_id);
            a.leave_confirmed().await;
            (Some(a), None)
        }
        _ => {
            a.vanish();
            assert_eq!(b.expect_peer_left().await, ja.peer_id);
            b.leave_confirmed().await;
            (None, Some(b))
        }
    }
}

/// `CYCLES_PER_ROOM` cycles in one room; then both peers join once more and vanish without anyone
/// watching, so only the server's own cleanup can empty the room.
async fn cycles(url: Arc<str>, room: String) {
    let (mut a, mut b) = (None, None);
    for k in 0..CYCLES_PER_ROOM {
        let ca = reuse_or_connect(a, &url).await;
        let cb = reuse_or_connect(b, &url).await;
        (a, b) = cycle(ca, cb, &room, k).await;
    }
    let mut ca = reuse_or_connect(a, &url).await;
    let mut cb = reuse_or_connect(b, &url).await;
    ca.join(&room).await;
    cb.join(&room).await;
    ca.vanish();
    cb.vanish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_seats_return_to_zero_after_many_joins_leaves_and_disconnects() {
    let config = ServerConfig { addresses: one_address_for_all(), ..ServerConfig::default() };
    let server = start_with(config, with_grace(Duration::ZERO)).await;
    let url: Arc<str> = server.url().into();
    let mut set = JoinSet::new();
    for n in 0..CYCLE_ROOMS {
        set.spawn(cycles(url.clone(), format!("cycle-{n}")));
    }
    timeout(Duration::from_secs(60), join_all(set)).await.expect("all cycles within 60 s");

    // The last disconnects are cleaned up when their sessions end, just after the drop.
    server.wait_for_counts((0, 0)).await;
    server.wait_for_metric("signaling_rooms_open", 0).await;
    server.wait_for_metric("signaling_peers_joined", 0).await;
    let cycles = i64::try_from(CYCLE_ROOMS * CYCLES_PER_ROOM).expect("fits");
    assert_eq!(server.metric("signaling_signals_relayed_total"), Some(cycles));
    assert_eq!(server.metric("signaling_errors_total{code=\"not_in_room\"}"), Some(cycles));
    server.shutdown().await;
}
