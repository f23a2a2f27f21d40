//! Several signaling nodes sharing one Redis, as deployed behind a load balancer: two (or three)
//! real `signaling` processes on their own ports and a real `redis-server` per test. Peers on
//! different nodes meet and relay in order; rooms never overfill, whichever node each joiner
//! reached; a node killed with SIGKILL loses no call (its peers resume on the other node) or, if
//! they never return, their seats are freed; a Redis outage makes nodes unhealthy and refuse joins
//! until Redis is back, then everything recovers by itself.
//!
//! Every process is killed on drop and every wait is bounded.

/// Read by the rooms support module (only its clients are used here).
const ENGINE: &str = "redis";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use rooms_support::*;
use shared::{ClientMessage, ErrorCode, PeerId, ServerMessage, Signal};
use tokio::task::JoinSet;
use tokio::time::{sleep, Instant};

use crate::common::{http_get, WAIT};

/// Node liveness TTL for these tests (`--redis-node-ttl-secs`): a killed node is noticed fast.
const NODE_TTL: Duration = Duration::from_secs(3);

/// A `signaling` process on Redis. Killed (SIGKILL) when dropped.
struct Node {
    child: Child,
    addr: SocketAddr,
    /// Output lines not yet read, and those read so far (for failure messages).
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Node {
    /// Starts a node on a free port with `extra` flags, and waits until it is healthy (registered
    /// in Redis).
    async fn start(redis: &RedisServer, extra: &[&str]) -> Node {
        let node = Node::spawn(redis, extra);
        node.wait_for_health(200).await;
        node
    }

    /// Starts a node and returns once it logs `listening on` (without waiting for health).
    fn spawn(redis: &RedisServer, extra: &[&str]) -> Node {
        Node::spawn_on(&redis.url(), extra)
    }

    fn spawn_on(redis_url: &str, extra: &[&str]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_signaling"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SIGNALING_") {
                command.env_remove(name);
            }
        }
        let ttl = NODE_TTL.as_secs().to_string();
        command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .args(["--listen", "127.0.0.1:0", "--redis-url", redis_url, "--redis-node-ttl-secs", &ttl])
            // Ordering and races are under test here, not the rate limit.
            .args(["--rate-limit-per-sec", "1000", "--rate-limit-burst", "1000"])
            .args(extra);
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn signaling");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut node = Node { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), lines, seen: Vec::new() };
        let line = node.wait_for_line("listening on ");
        let addr = line.split_once("listening on ").and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok());
        node.addr = addr.unwrap_or_else(|| panic!("no address in {line:?}"));
        node
    }

    /// Waits (bounded) for an output line containing `needle`.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no {needle:?} in time; output:\n{}", self.seen.join("\n")),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("exited before printing {needle:?}; output:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    async fn client(&self) -> Client {
        Client::connect(&self.url()).await
    }

    /// Waits (bounded by `within`) until `GET /healthz` answers `status`.
    async fn wait_for_health_within(&self, status: u16, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let got = http_get(self.addr, "/healthz").await.status;
            if got == status {
                return;
            }
            assert!(Instant::now() < deadline, "/healthz of {} is {got}, expected {status}", self.addr);
            sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_for_health(&self, status: u16) {
        self.wait_for_health_within(status, WAIT).await;
    }

    /// The value of the sample named exactly `name` in `GET /metrics`.
    async fn metric(&self, name: &str) -> Option<i64> {
        let text = http_get(self.addr, "/metrics").await.body_text();
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// SIGKILL: the node vanishes without a word to its clients or to Redis.
    fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// One Redis and two nodes on it.
async fn cluster(extra: &[&str]) -> (RedisServer, Node, Node) {
    let redis = RedisServer::start();
    let a = Node::start(&redis, extra).await;
    let b = Node::start(&redis, extra).await;
    (redis, a, b)
}

/// `a` joins `room` on its node, then `b` on its own; `a` has seen `b` arrive.
async fn meet(a: &mut Client, b: &mut Client, room: &str) -> (Joined, Joined) {
    let ja = a.join(room).await;
    assert!(ja.peers.is_empty(), "{room} starts empty");
    let jb = b.join(room).await;
    assert_eq!(jb.peers, std::slice::from_ref(&ja.peer_id), "{room}: the second peer sees the first");
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);
    (ja, jb)
}

/// One signal each way, checked on arrival.
async fn signals_flow(a: &mut Client, a_id: &PeerId, b: &mut Client, b_id: &PeerId, tag: &str) {
    a.signal(b_id, candidate(format!("candidate:{tag} a-to-b"))).await;
    assert_eq!(b.expect_signal().await, (a_id.clone(), candidate(format!("candidate:{tag} a-to-b"))));
    b.signal(a_id, candidate(format!("candidate:{tag} b-to-a"))).await;
    assert_eq!(a.expect_signal().await, (b_id.clone(), candidate(format!("candidate:{tag} b-to-a"))));
}

async fn send_tagged(client: &mut Client, to: &PeerId, tag: &str, count: usize) {
    for n in 0..count {
        client.signal(to, candidate(format!("candidate:{tag} {n}"))).await;
    }
}

async fn expect_tagged(client: &mut Client, from: &PeerId, tag: &str, count: usize) {
    for n in 0..count {
        let (sender, data) = client.expect_signal().await;
        assert_eq!(&sender, from);
        assert_eq!(candidate_text(&data), format!("candidate:{tag} {n}"), "signal {n} out of order");
    }
}

#[test]
fn a_redis_url_that_cannot_work_stops_the_server_at_start_up_without_showing_the_password() {
    for url in ["http://:hunter2@127.0.0.1:6379", "rediss://:hunter2@127.0.0.1:6379"] {
        let output = Command::new(env!("CARGO_BIN_EXE_signaling"))
            .env("NO_COLOR", "1")
            .args(["--listen", "127.0.0.1:0", "--redis-url", url])
            .stdin(Stdio::null())
            .output()
            .expect("run signaling");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains("--redis-url"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[tokio::test]
async fn a_join_sent_the_moment_a_node_listens_is_served() {
    let redis = RedisServer::start();
    // Each node is joined as soon as it logs `listening on`, without waiting for `/healthz`: a
    // node registers in Redis before it opens its port, so no join meets `unavailable`.
    let mut nodes = Vec::new();
    let mut clients = Vec::new();
    for n in 0..3 {
        let node = Node::spawn(&redis, &[]);
        let mut client = node.client().await;
        let room = format!("early-{n}");
        match client.request_join(&room, None).await {
            ServerMessage::Joined { peers, .. } => assert!(peers.is_empty(), "{room}: {peers:?}"),
            other => panic!("node {n}: a join right after `listening on` got {other:?}"),
        }
        nodes.push(node);
        clients.push(client);
    }
    // And they are one cluster at once: the rooms are shared.
    let mut late = nodes[0].client().await;
    let joined = late.join("early-2").await;
    assert_eq!(joined.peers.len(), 1, "early-2 holds the peer of the third node");
    clients[2].expect_peer_joined().await;
}

#[tokio::test]
async fn a_node_started_while_redis_is_down_listens_unhealthy_and_recovers_when_redis_comes() {
    let port = free_port(); // nothing listens there yet
    let started = Instant::now();
    let node = Node::spawn_on(&format!("redis://127.0.0.1:{port}"), &[]);
    // It waited (bounded) for Redis before listening, then listens anyway.
    assert!(started.elapsed() < WAIT, "listening after {:?}", started.elapsed());
    node.wait_for_health(503).await;
    assert_eq!(node.metric("signaling_redis_up").await, Some(0));
    let mut a = node.client().await;
    let refused = a.request_join("late-redis", None).await;
    assert!(matches!(&refused, ServerMessage::Error { code: ErrorCode::Unavailable, .. }), "{refused:?}");

    let _redis = RedisServer::start_on(port).expect("Redis starts on its port");
    node.wait_for_health(200).await;
    // The refused connection joins on a retry, as a client does after `unavailable`.
    assert!(a.join("late-redis").await.peers.is_empty());
    let mut b = node.client().await;
    assert_eq!(b.join("late-redis").await.peers.len(), 1);
    a.expect_peer_joined().await;
}

#[tokio::test]
async fn peers_on_two_nodes_relay_offer_answer_and_two_hundred_ordered_candidates_each_way() {
    let (_redis, node_a, node_b) = cluster(&[]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "across").await;

    b.signal(&ja.peer_id, Signal::Offer { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into() }).await;
    let offer = a.expect_signal().await;
    assert_eq!(offer, (jb.peer_id.clone(), Signal::Offer { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into() }));
    a.signal(&jb.peer_id, Signal::Answer { sdp: "v=0\r\n".into() }).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), Signal::Answer { sdp: "v=0\r\n".into() }));

    // 200 candidates each way, sent at the same time from both nodes.
    tokio::join!(send_tagged(&mut a, &jb.peer_id, "a", 200), send_tagged(&mut b, &ja.peer_id, "b", 200));
    tokio::join!(expect_tagged(&mut b, &ja.peer_id, "a", 200), expect_tagged(&mut a, &jb.peer_id, "b", 200));
    a.signal(&jb.peer_id, Signal::EndOfCandidates).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), Signal::EndOfCandidates));
    a.expect_silence(QUIET).await;
    b.expect_silence(Duration::ZERO).await;

    // A sent the answer, 200 candidates and the end; B the offer and 200 candidates.
    assert_eq!(node_a.metric("signaling_redis_cross_node_relays_total").await, Some(202));
    assert_eq!(node_b.metric("signaling_redis_cross_node_relays_total").await, Some(201));
    assert_eq!(node_a.metric("signaling_relay_dropped_total").await, Some(0));
    assert_eq!(node_a.metric("signaling_redis_up").await, Some(1));
    assert!(node_a.metric("signaling_redis_round_trip_seconds_count").await.is_some_and(|n| n > 0));
}

#[tokio::test]
async fn a_third_peer_on_either_node_gets_room_full_and_the_call_goes_on() {
    let (_redis, node_a, node_b) = cluster(&[]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "two-only").await;

    for node in [&node_a, &node_b] {
        let mut c = node.client().await;
        c.send(&ClientMessage::Join { room: room_id("two-only"), resume: None }).await;
        c.expect_error(ErrorCode::RoomFull).await;
        // The refused connection stays usable.
        assert!(c.join(&format!("elsewhere-{}", node.addr.port())).await.peers.is_empty());
    }
    a.expect_silence(QUIET).await;
    b.expect_silence(Duration::ZERO).await;
    signals_flow(&mut a, &ja.peer_id, &mut b, &jb.peer_id, "still-two").await;
}

#[tokio::test]
async fn racing_joins_from_both_nodes_never_overfill_a_room() {
    const ROOMS: usize = 40;
    const JOINERS: usize = 5; // per room, alternating between the nodes
    let one_address = ["--join-burst-per-address", "1000"]; // all 200 joiners are on loopback
    let (redis, node_a, node_b) = cluster(&one_address).await;
    let urls = [node_a.url(), node_b.url()];
    // Connect everyone first, then release all joins at once.
    let mut clients = Vec::new();
    for room in 0..ROOMS {
        for k in 0..JOINERS {
            clients.push((format!("race-{room}"), Client::connect(&urls[k % 2]).await));
        }
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let mut joins = JoinSet::new();
    for (room, mut client) in clients {
        let start = start.clone();
        joins.spawn(async move {
            start.wait().await;
            let answer = client.request_join(&room, None).await;
            (room, answer, client)
        });
    }
    let mut seated = std::collections::HashMap::<String, usize>::new();
    let mut keep = Vec::new();
    while let Some(done) = joins.join_next().await {
        let (room, answer, client) = done.expect("join task");
        match answer {
            ServerMessage::Joined { .. } => *seated.entry(room).or_default() += 1,
            ServerMessage::Error { code: ErrorCode::RoomFull, .. } => {}
            other => panic!("{room}: expected joined or room_full, got {other:?}"),
        }
        keep.push(client);
    }
    assert_eq!(seated.len(), ROOMS);
    assert!(seated.values().all(|&n| n == 2), "every room has exactly two: {seated:?}");
    // And Redis agrees.
    let client = redis::Client::open(redis.url()).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
    for room in 0..ROOMS {
        let seats: usize =
            redis::cmd("HLEN").arg(format!("connect:room:race-{room}")).query_async(&mut conn).await.expect("HLEN");
        assert_eq!(seats, 2, "race-{room}");
    }
    let seated_a = node_a.metric("signaling_peers_joined").await.unwrap_or(0);
    let seated_b = node_b.metric("signaling_peers_joined").await.unwrap_or(0);
    assert_eq!(seated_a + seated_b, i64::try_from(2 * ROOMS).expect("fits"));
    drop(keep);
}

#[tokio::test]
async fn a_leave_on_one_node_tells_the_peer_on_the_other_at_once_and_frees_the_seat() {
    let (_redis, node_a, node_b) = cluster(&["--resume-grace-secs", "60"]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "leaving").await;
    let left_at = Instant::now();
    a.send(&ClientMessage::Leave).await;
    assert_eq!(b.expect_peer_left().await, ja.peer_id);
    assert!(left_at.elapsed() < Duration::from_secs(2), "peer_left took {:?}", left_at.elapsed());
    let mut c = node_a.client().await;
    let jc = c.join("leaving").await;
    assert_eq!(jc.peers, std::slice::from_ref(&jb.peer_id));
    assert_eq!(b.expect_peer_joined().await, jc.peer_id);
    signals_flow(&mut b, &jb.peer_id, &mut c, &jc.peer_id, "after-leave").await;
}

#[tokio::test]
async fn a_reload_through_the_other_node_takes_the_seat_and_closes_the_old_connection_with_4001() {
    let (_redis, node_a, node_b) = cluster(&[]).await;
    let mut a1 = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a1, &mut b, "reload").await;

    let mut a2 = node_b.client().await;
    let back = a2.join_with("reload", Some(&ja.resume_token)).await;
    assert_eq!(back.peer_id, ja.peer_id, "the same seat");
    assert_eq!(back.peers, std::slice::from_ref(&jb.peer_id));
    assert_eq!(a1.expect_close().await, Some(4001));
    // The seat was taken from a connection still open: B cannot know it is still A.
    assert_eq!(b.expect_peer_resumed().await, ja.peer_id);
    b.expect_silence(QUIET).await;
    signals_flow(&mut a2, &back.peer_id, &mut b, &jb.peer_id, "after-reload").await;
    assert_eq!(node_b.metric("signaling_resumes_total").await, Some(1));
}

#[tokio::test]
async fn a_node_killed_mid_call_its_peer_resumes_on_the_other_node_and_the_other_peer_hears_nothing() {
    let (_redis, node_a, mut node_b) = cluster(&["--resume-grace-secs", "15"]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "crash").await;
    signals_flow(&mut a, &ja.peer_id, &mut b, &jb.peer_id, "before").await;

    node_b.kill_9();
    b.vanish();
    // The browser reconnects through the load balancer, which now only has node A.
    let mut b2 = node_a.client().await;
    let back = b2.join_with("crash", Some(&jb.resume_token)).await;
    assert_eq!(back.peer_id, jb.peer_id, "the same seat, on the other node");
    assert_eq!(back.peers, std::slice::from_ref(&ja.peer_id));
    signals_flow(&mut a, &ja.peer_id, &mut b2, &back.peer_id, "after").await;
    // Past the dead node's liveness TTL and a sweep: still no peer_left, no peer_joined.
    a.expect_silence(NODE_TTL * 2).await;
    signals_flow(&mut a, &ja.peer_id, &mut b2, &back.peer_id, "later").await;
}

#[tokio::test]
async fn the_peer_of_a_killed_node_that_never_returns_is_freed_after_liveness_and_grace() {
    let grace = Duration::from_secs(1);
    let (_redis, node_a, mut node_b) = cluster(&["--resume-grace-secs", "1"]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "gone").await;

    let killed_at = Instant::now();
    node_b.kill_9();
    drop(b);
    // Signals to a peer whose node is gone are refused, not lost silently.
    a.signal(&jb.peer_id, candidate("candidate:into-the-void")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    // Noticed when the dead node's liveness key expires (≤ NODE_TTL), by the next heartbeat
    // (≤ NODE_TTL / 3), then the resume grace; all well under a minute.
    let left = match a.next_until(killed_at + NODE_TTL + NODE_TTL / 3 + grace + Duration::from_secs(5)).await {
        Some(Seen::Text(text)) => ServerMessage::parse(&text).expect("a server message"),
        other => panic!("expected peer_left, got {other:?}"),
    };
    assert_eq!(left, ServerMessage::PeerLeft { peer_id: jb.peer_id.clone() });
    assert!(killed_at.elapsed() >= grace, "freed after {:?}, before the grace", killed_at.elapsed());
    assert!(node_a.metric("signaling_redis_evictions_total").await.is_some_and(|n| n >= 2));
    // The seat is free for someone else.
    let mut c = node_a.client().await;
    let jc = c.join("gone").await;
    assert_eq!(jc.peers, std::slice::from_ref(&ja.peer_id));
    assert_eq!(a.expect_peer_joined().await, jc.peer_id);
}

#[tokio::test]
async fn when_redis_dies_nodes_turn_unhealthy_and_refuse_joins_then_recover_when_it_returns() {
    let (mut redis, node_a, node_b) = cluster(&[]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "outage").await;

    redis.kill();
    node_a.wait_for_health(503).await;
    node_b.wait_for_health(503).await;
    assert_eq!(node_a.metric("signaling_redis_up").await, Some(0));
    let mut c = node_a.client().await;
    let refused = c.request_join("newcomer", None).await;
    assert!(
        matches!(&refused, ServerMessage::Error { code: ErrorCode::Unavailable, message } if message.contains("retry")),
        "{refused:?}"
    );
    a.signal(&jb.peer_id, candidate("candidate:during-outage")).await;
    a.expect_error(ErrorCode::Unavailable).await;

    // Redis comes back empty (no persistence): the nodes reconnect, write their seats back, and
    // the call goes on with the same peer ids.
    let port = redis.port;
    let _redis = RedisServer::start_on(port).expect("Redis restarts on its port");
    // A node is healthy again after its first heartbeat, which has written its seats back.
    node_a.wait_for_health(200).await;
    node_b.wait_for_health(200).await;
    signals_flow(&mut a, &ja.peer_id, &mut b, &jb.peer_id, "after-outage").await;
    // New joins work again, across nodes.
    let mut d = node_b.client().await;
    let (_, _) = meet(&mut c, &mut d, "newcomer").await;
    a.expect_silence(QUIET).await;
    b.expect_silence(Duration::ZERO).await;
}
