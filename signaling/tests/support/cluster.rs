//! Several real `signaling` processes on one real `redis-server`, for the cluster suites: a
//! node per process on a free port, killed on drop; and the steps those suites share (two peers
//! meeting across nodes, tagged signal streams checked in order).
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use shared::PeerId;
use tokio::time::{sleep, Instant};

use crate::common::{http_get, WAIT};
use crate::rooms_support::*;

/// Node liveness TTL for these tests (`--redis-node-ttl-secs`): a killed node is noticed fast.
pub const NODE_TTL: Duration = Duration::from_secs(3);

/// A `signaling` process on Redis. Killed (SIGKILL) when dropped.
pub struct Node {
    child: Child,
    pub addr: SocketAddr,
    /// Output lines not yet read, and those read so far (for failure messages).
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Node {
    /// Starts a node on a free port with `extra` flags, and waits until it is healthy (registered
    /// in Redis).
    pub async fn start(redis: &RedisServer, extra: &[&str]) -> Node {
        let node = Node::spawn(redis, extra);
        node.wait_for_health(200).await;
        node
    }

    /// Starts a node and returns once it logs `listening on` (without waiting for health).
    pub fn spawn(redis: &RedisServer, extra: &[&str]) -> Node {
        Node::spawn_on(&redis.url(), extra)
    }

    pub fn spawn_on(redis_url: &str, extra: &[&str]) -> Node {
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
    pub fn wait_for_line(&mut self, needle: &str) -> String {
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

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.url()).await
    }

    /// Waits (bounded by `within`) until `GET /healthz` answers `status`.
    pub async fn wait_for_health_within(&self, status: u16, within: Duration) {
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

    pub async fn wait_for_health(&self, status: u16) {
        self.wait_for_health_within(status, WAIT).await;
    }

    /// The value of the sample named exactly `name` in `GET /metrics`.
    pub async fn metric(&self, name: &str) -> Option<i64> {
        let text = http_get(self.addr, "/metrics").await.body_text();
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// SIGKILL: the node vanishes without a word to its clients or to Redis.
    pub fn kill_9(&mut self) {
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
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// One Redis and two nodes on it.
pub async fn cluster(extra: &[&str]) -> (RedisServer, Node, Node) {
    let redis = RedisServer::start();
    let a = Node::start(&redis, extra).await;
    let b = Node::start(&redis, extra).await;
    (redis, a, b)
}

/// `a` joins `room` on its node, then `b` on its own; `a` has seen `b` arrive.
pub async fn meet(a: &mut Client, b: &mut Client, room: &str) -> (Joined, Joined) {
    let ja = a.join(room).await;
    assert!(ja.peers.is_empty(), "{room} starts empty");
    let jb = b.join(room).await;
    assert_eq!(jb.peers, std::slice::from_ref(&ja.peer_id), "{room}: the second peer sees the first");
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);
    (ja, jb)
}

/// One signal each way, checked on arrival.
pub async fn signals_flow(a: &mut Client, a_id: &PeerId, b: &mut Client, b_id: &PeerId, tag: &str) {
    a.signal(b_id, candidate(format!("candidate:{tag} a-to-b"))).await;
    assert_eq!(b.expect_signal().await, (a_id.clone(), candidate(format!("candidate:{tag} a-to-b"))));
    b.signal(a_id, candidate(format!("candidate:{tag} b-to-a"))).await;
    assert_eq!(a.expect_signal().await, (b_id.clone(), candidate(format!("candidate:{tag} b-to-a"))));
}

pub async fn send_tagged(client: &mut Client, to: &PeerId, tag: &str, count: usize) {
    for n in 0..count {
        client.signal(to, candidate(format!("candidate:{tag} {n}"))).await;
    }
}

pub async fn expect_tagged(client: &mut Client, from: &PeerId, tag: &str, count: usize) {
    for n in 0..count {
        let (sender, data) = client.expect_signal().await;
        assert_eq!(&sender, from);
        assert_eq!(candidate_text(&data), format!("candidate:{tag} {n}"), "signal {n} out of order");
    }
}
