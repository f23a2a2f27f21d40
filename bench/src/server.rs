//! The servers under test as processes: how to start each one (pinned to its CPU, with limits
//! raised so they never throttle the load), how to find the port it picked, and what the kernel
//! says about it while it runs. A fresh process per measurement — through Redis, a fresh
//! `redis-server` and one or two nodes — killed on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::launcher::Launcher;
use crate::load::conn::Transport;
use crate::process::Process;
use crate::procfs;
use crate::redis::{self, RedisServer};

/// A release build binds in milliseconds; generous for a machine busy with other builds. Also
/// the limit for a node on Redis to register there.
const START_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Server {
    /// Our `signaling` binary.
    Ours,
    Tungstenite,
    Fastwebsockets,
    /// Newline-delimited JSON over TCP: the floor with the same JSON work.
    RawTcp,
    /// `ref-rawtcp --frames`: length-prefixed frames relayed unread, the physical floor.
    RawFrames,
    /// The `echo` example of the signaling crate.
    OursEcho,
    /// `ref-fastwebsockets --echo`: the WebSocket reference of the echo benchmark.
    FastwebsocketsEcho,
    /// `ref-rawtcp --echo`.
    RawEcho,
    /// Our `signaling` with `--redis-url`: one node.
    OursRedis,
    /// Two `signaling` nodes sharing one Redis, the peers of each room on different nodes.
    OursRedisPair,
}

/// The room servers, in the order every repetition runs them.
pub const ROOM_SERVERS: [Server; 5] =
    [Server::Ours, Server::Tungstenite, Server::Fastwebsockets, Server::RawTcp, Server::RawFrames];
/// The echo servers: ours, the WebSocket reference, the floor.
pub const ECHO_SERVERS: [Server; 3] = [Server::OursEcho, Server::FastwebsocketsEcho, Server::RawEcho];
/// Ours through Redis, after the room servers in the scenarios that run through Redis.
pub const REDIS_SERVERS: [Server; 2] = [Server::OursRedis, Server::OursRedisPair];

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Ours => "signaling (ours)",
            Server::Tungstenite => "tokio-tungstenite",
            Server::Fastwebsockets => "fastwebsockets",
            Server::RawTcp => "raw TCP",
            Server::RawFrames => "raw TCP frames",
            Server::OursEcho => "echo example (ours)",
            Server::FastwebsocketsEcho => "fastwebsockets echo",
            Server::RawEcho => "raw TCP echo",
            Server::OursRedis => "ours, Redis, 1 node",
            Server::OursRedisPair => "ours, Redis, 2 nodes",
        }
    }

    /// A short name for file names and plot legends.
    pub fn slug(self) -> &'static str {
        match self {
            Server::Ours => "ours",
            Server::Tungstenite => "tungstenite",
            Server::Fastwebsockets => "fastwebsockets",
            Server::RawTcp => "rawtcp",
            Server::RawFrames => "rawtcp-frames",
            Server::OursEcho => "ours-echo",
            Server::FastwebsocketsEcho => "fastwebsockets-echo",
            Server::RawEcho => "rawtcp-echo",
            Server::OursRedis => "ours-redis",
            Server::OursRedisPair => "ours-redis-2",
        }
    }

    /// Signaling nodes sharing a Redis; 0 for a server on its own (rooms in memory).
    pub fn redis_nodes(self) -> usize {
        match self {
            Server::OursRedis => 1,
            Server::OursRedisPair => 2,
            _ => 0,
        }
    }

    pub fn transport(self) -> Transport {
        match self {
            Server::RawTcp | Server::RawEcho => Transport::Tcp,
            Server::RawFrames => Transport::Frames,
            _ => Transport::WebSocket,
        }
    }
}

/// Starting the servers under test (the [`Launcher`] itself, shared with [`crate::redis`], is
/// in [`crate::launcher`]).
impl Launcher {
    /// Every binary a run needs, checked before the first measurement; returns the version of
    /// `redis-server` (which must be installed).
    pub fn check(&self) -> Result<String> {
        for server in ROOM_SERVERS.iter().chain(&ECHO_SERVERS) {
            let path = self.binary(*server);
            if !path.is_file() {
                return Err(BenchError::Server {
                    server: server.name(),
                    what: format!("binary {} is missing (build everything in release first)", path.display()),
                    log: self.log_dir.clone(),
                });
            }
        }
        redis::version()
    }

    fn binary(&self, server: Server) -> PathBuf {
        let name = match server {
            Server::Ours | Server::OursRedis | Server::OursRedisPair => "signaling",
            Server::Tungstenite => "ref-tungstenite",
            Server::Fastwebsockets | Server::FastwebsocketsEcho => "ref-fastwebsockets",
            Server::RawTcp | Server::RawEcho | Server::RawFrames => "ref-rawtcp",
            Server::OursEcho => "examples/echo",
        };
        self.release_dir.join(name)
    }

    /// The command line of `server`, able to hold `connections` at once.
    fn command(&self, server: Server, connections: usize) -> Command {
        let mut command = self.pinned(self.binary(server));
        match server {
            Server::Ours | Server::OursRedis | Server::OursRedisPair => {
                // Its own limits raised past the load (the defaults would answer `rate_limited`
                // and refuse connections past 10,000); otherwise as deployed, logging at info.
                let max = (connections + 1024).to_string();
                command.args(["--listen", "127.0.0.1:0", "--max-connections", &max]);
                command.args(["--rate-limit-per-sec", "1000000", "--rate-limit-burst", "1000000"]);
                // Every generated client is on the one loopback address.
                command.args(["--max-connections-per-address", &max, "--max-rooms-per-address", &max]);
                command.args(["--joins-per-sec-per-address", "1000000", "--join-burst-per-address", "1000000"]);
                command.args(["--new-rooms-per-min-per-address", "1000000", "--new-room-burst-per-address", "1000000"]);
                command.env_remove("RUST_LOG").env("NO_COLOR", "1");
            }
            Server::OursEcho => {
                command.arg("127.0.0.1:0");
            }
            Server::RawEcho | Server::FastwebsocketsEcho => {
                command.args(["--echo", "127.0.0.1:0"]);
            }
            Server::RawFrames => {
                command.args(["--frames", "127.0.0.1:0"]);
            }
            Server::Tungstenite | Server::Fastwebsockets | Server::RawTcp => {
                command.arg("127.0.0.1:0");
            }
        }
        command
    }

    /// Starts a fresh `server` and waits until it listens (through Redis: a fresh redis-server,
    /// then each node, until it has registered there).
    pub fn start(&self, server: Server, connections: usize, label: &str) -> Result<Running> {
        std::fs::create_dir_all(&self.log_dir)
            .map_err(|e| BenchError::io(format!("creating {}", self.log_dir.display()), e))?;
        let label = format!("{}-{label}", server.slug());
        let nodes = server.redis_nodes();
        if nodes == 0 {
            let (process, target) = self.start_node(server, connections, &label, None)?;
            return Ok(Running { server, target, process, companions: Vec::new() });
        }
        let store = RedisServer::start(self, &label)?;
        let url = store.url();
        let (process, mut target) = self.start_node(server, connections, &format!("{label}-node1"), Some(&url))?;
        let mut companions = Vec::with_capacity(nodes);
        if nodes == 2 {
            let (second, node) = self.start_node(server, connections, &format!("{label}-node2"), Some(&url))?;
            target.second = Some(Node { addr: node.addr, pid: node.pid });
            companions.push(second);
        }
        target.store_pid = Some(store.process.pid());
        // Last, so it is killed after the nodes (which would otherwise log a lost Redis).
        companions.push(store.process);
        Ok(Running { server, target, process, companions })
    }

    /// One process of `server`, listening (and on Redis `redis_url`, registered there).
    fn start_node(
        &self,
        server: Server,
        connections: usize,
        label: &str,
        redis_url: Option<&str>,
    ) -> Result<(Process, Target)> {
        let mut command = self.command(server, connections);
        if let Some(url) = redis_url {
            command.args(["--redis-url", url]);
        }
        let log = self.log_dir.join(format!("{label}.log"));
        let mut process = Process::spawn(server.name(), command, log)?;
        let addr = process.wait_for_line("listening", START_LIMIT, listening_addr)?;
        if redis_url.is_some() {
            process.wait_healthy(addr, START_LIMIT)?;
        }
        let target = Target::new(server.name(), addr, server.transport(), process.pid());
        Ok((process, target))
    }
}

/// A server to measure: where it listens, what it speaks, and which processes it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: &'static str,
    /// Where it listens; with two nodes, the first node's address.
    pub addr: SocketAddr,
    pub transport: Transport,
    pub pid: u32,
    /// A second node sharing rooms with the first through Redis: the second peer of each relay
    /// room connects to it, and its CPU counts as the server's.
    pub second: Option<Node>,
    /// The redis-server behind the nodes, whose CPU is counted apart.
    pub store_pid: Option<u32>,
}

/// One more signaling node of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub addr: SocketAddr,
    pub pid: u32,
}

impl Target {
    /// A server of one process, on its own.
    pub fn new(name: &'static str, addr: SocketAddr, transport: Transport, pid: u32) -> Target {
        Target { name, addr, transport, pid, second: None, store_pid: None }
    }

    /// Where the second peer of each relay room connects: the second node, if there is one.
    pub fn second_addr(&self) -> SocketAddr {
        self.second.map_or(self.addr, |node| node.addr)
    }

    /// On-CPU nanoseconds of the server: every thread of every node.
    pub fn cpu_ns(&self) -> Result<u64> {
        let second = self.second.map(|node| procfs::cpu_ns(node.pid)).transpose()?;
        Ok(procfs::cpu_ns(self.pid)? + second.unwrap_or(0))
    }

    /// On-CPU nanoseconds of the redis-server behind it (`None` without one).
    pub fn store_cpu_ns(&self) -> Result<Option<u64>> {
        self.store_pid.map(procfs::cpu_ns).transpose()
    }

    pub fn rss(&self) -> Result<u64> {
        procfs::rss_bytes(self.pid)
    }

    pub fn open_fds(&self) -> Result<usize> {
        procfs::open_fds(self.pid)
    }

    /// Waits until the server is idle: under 2 ms of CPU in a 200 ms window (at most 10 s), so
    /// a memory reading is not taken while it still works through a backlog.
    pub async fn settle(&self) -> Result<()> {
        let started = Instant::now();
        let mut before = self.cpu_ns()?;
        while started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.cpu_ns()?;
            if now - before < 2_000_000 {
                return Ok(());
            }
            before = now;
        }
        Ok(())
    }

    /// Waits until the server holds at least `fds` open descriptors: every connection accepted.
    pub async fn wait_fds(&self, fds: usize, limit: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            let open = self.open_fds()?;
            if open >= fds {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(BenchError::Timeout {
                    what: format!("{} accepting every connection ({open} of {fds} descriptors open)", self.name),
                    secs: limit.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A started server; its processes are killed (and reaped) when dropped.
pub struct Running {
    pub server: Server,
    pub target: Target,
    /// The server, or its first node.
    process: Process,
    /// Through Redis: the second node if any, then redis-server (dropped in this order).
    companions: Vec<Process>,
}

impl Running {
    /// An error about this server, pointing at its log.
    pub fn failure(&self, what: impl Into<String>) -> BenchError {
        self.process.failure(what)
    }

    /// Fails if any of its processes has died (a crash under load must not pass as a result).
    pub fn check_alive(&mut self) -> Result<()> {
        self.process.check_alive()?;
        self.companions.iter_mut().try_for_each(Process::check_alive)
    }

    pub fn log_path(&self) -> &Path {
        self.process.log()
    }
}

/// ADDR from a `listening on ADDR` line (any prefix, ANSI colours or not).
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let plain = strip_ansi(line);
    let (_, rest) = plain.split_once("listening on ")?;
    rest.split_whitespace().next()?.parse().ok()
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (false, c) => out.push(c),
            (true, c) if c.is_ascii_alphabetic() => in_escape = false,
            (true, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_lines_of_every_server() {
        let ours =
            "2026-01-01T00:00:00.000Z  INFO signaling: listening on 127.0.0.1:4100 addr=127.0.0.1:4100 web_root=None";
        assert_eq!(listening_addr(ours), Some("127.0.0.1:4100".parse().unwrap()));
        assert_eq!(listening_addr("echo: listening on 127.0.0.1:9001"), Some("127.0.0.1:9001".parse().unwrap()));
        assert_eq!(listening_addr("\u{1b}[32mlistening on\u{1b}[0m 127.0.0.1:1"), Some("127.0.0.1:1".parse().unwrap()));
        assert_eq!(
            listening_addr("\u{1b}[2mx\u{1b}[0m listening on 127.0.0.1:2"),
            Some("127.0.0.1:2".parse().unwrap())
        );
        assert_eq!(listening_addr("stopped"), None);
    }

    #[test]
    fn pinned_commands_go_through_taskset() {
        let launcher = Launcher { release_dir: PathBuf::from("/r"), log_dir: PathBuf::from("/l"), pin: Some(0) };
        let command = launcher.command(Server::Ours, 10_000);
        assert_eq!(command.get_program(), "taskset");
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args[..3], ["-c", "0", "/r/signaling"]);
        assert!(args.windows(2).any(|w| w == ["--max-connections", "11024"]));
        assert!(args.windows(2).any(|w| w == ["--rate-limit-per-sec", "1000000"]));
        let redis: Vec<_> =
            launcher.command(Server::OursRedisPair, 100).get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(redis[..3], ["-c", "0", "/r/signaling"], "the nodes run as deployed, pinned");
        let unpinned = Launcher { pin: None, ..launcher };
        assert_eq!(unpinned.command(Server::RawEcho, 1).get_program(), "/r/ref-rawtcp");
        let echo = unpinned.command(Server::FastwebsocketsEcho, 1);
        assert_eq!(echo.get_program(), "/r/ref-fastwebsockets");
        assert_eq!(echo.get_args().collect::<Vec<_>>(), ["--echo", "127.0.0.1:0"]);
        assert_eq!(Server::FastwebsocketsEcho.transport(), Transport::WebSocket);
    }
}
