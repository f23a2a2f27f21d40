//! The servers under test as processes: how to start each one (pinned to its CPU, with limits
//! raised so they never throttle the load), how to find the port it picked, and what the kernel
//! says about it while it runs. A fresh process per measurement; killed on drop.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::load::conn::Transport;
use crate::procfs;

/// A release build binds in milliseconds; generous for a machine busy with other builds.
const START_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Server {
    /// Our `signaling` binary.
    Ours,
    Tungstenite,
    Fastwebsockets,
    /// Newline-delimited JSON over TCP: the floor.
    RawTcp,
    /// The `echo` example of the signaling crate.
    OursEcho,
    /// `ref-rawtcp --echo`.
    RawEcho,
}

/// The room servers, in the order every repetition runs them.
pub const ROOM_SERVERS: [Server; 4] = [Server::Ours, Server::Tungstenite, Server::Fastwebsockets, Server::RawTcp];
pub const ECHO_SERVERS: [Server; 2] = [Server::OursEcho, Server::RawEcho];

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Ours => "signaling (ours)",
            Server::Tungstenite => "tokio-tungstenite",
            Server::Fastwebsockets => "fastwebsockets",
            Server::RawTcp => "raw TCP",
            Server::OursEcho => "echo example (ours)",
            Server::RawEcho => "raw TCP echo",
        }
    }

    /// A short name for file names and plot legends.
    pub fn slug(self) -> &'static str {
        match self {
            Server::Ours => "ours",
            Server::Tungstenite => "tungstenite",
            Server::Fastwebsockets => "fastwebsockets",
            Server::RawTcp => "rawtcp",
            Server::OursEcho => "ours-echo",
            Server::RawEcho => "rawtcp-echo",
        }
    }

    pub fn transport(self) -> Transport {
        match self {
            Server::RawTcp | Server::RawEcho => Transport::Tcp,
            _ => Transport::WebSocket,
        }
    }
}

/// Where the binaries are and how to run them.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// `target/release`.
    pub release_dir: PathBuf,
    /// Where server logs go.
    pub log_dir: PathBuf,
    /// Pin servers to this CPU with `taskset` (None on a one-CPU machine).
    pub pin: Option<usize>,
}

impl Launcher {
    /// Every binary a run needs, checked before the first measurement.
    pub fn check(&self) -> Result<()> {
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
        Ok(())
    }

    fn binary(&self, server: Server) -> PathBuf {
        let name = match server {
            Server::Ours => "signaling",
            Server::Tungstenite => "ref-tungstenite",
            Server::Fastwebsockets => "ref-fastwebsockets",
            Server::RawTcp | Server::RawEcho => "ref-rawtcp",
            Server::OursEcho => "examples/echo",
        };
        self.release_dir.join(name)
    }

    /// The command line of `server`, able to hold `connections` at once.
    fn command(&self, server: Server, connections: usize) -> Command {
        let binary = self.binary(server);
        let mut command = match self.pin {
            Some(cpu) => {
                let mut taskset = Command::new("taskset");
                taskset.arg("-c").arg(cpu.to_string()).arg(&binary);
                taskset
            }
            None => Command::new(&binary),
        };
        match server {
            Server::Ours => {
                // Its own limits raised past the load (the defaults would answer `rate_limited`
                // and refuse connections past 10,000); otherwise as deployed, logging at info.
                let max = (connections + 1024).to_string();
                command.args(["--listen", "127.0.0.1:0", "--max-connections", &max]);
                command.args(["--rate-limit-per-sec", "1000000", "--rate-limit-burst", "1000000"]);
                command.env_remove("RUST_LOG").env("NO_COLOR", "1");
            }
            Server::OursEcho => {
                command.arg("127.0.0.1:0");
            }
            Server::RawEcho => {
                command.args(["--echo", "127.0.0.1:0"]);
            }
            Server::Tungstenite | Server::Fastwebsockets | Server::RawTcp => {
                command.arg("127.0.0.1:0");
            }
        }
        command
    }

    /// Starts a fresh `server` and waits until it listens.
    pub fn start(&self, server: Server, connections: usize, label: &str) -> Result<Running> {
        std::fs::create_dir_all(&self.log_dir)
            .map_err(|e| BenchError::io(format!("creating {}", self.log_dir.display()), e))?;
        let log = self.log_dir.join(format!("{}-{label}.log", server.slug()));
        let out = File::create(&log).map_err(|e| BenchError::io(format!("creating {}", log.display()), e))?;
        let err = out.try_clone().map_err(|e| BenchError::io("cloning a log handle", e))?;
        let mut command = self.command(server, connections);
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = command.spawn().map_err(|e| BenchError::io(format!("starting {}", server.name()), e))?;
        // `taskset` execs the server, so the child's pid is the server's.
        let pid = child.id();
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let target = Target { name: server.name(), addr, transport: server.transport(), pid };
        let mut running = Running { server, target, child, log };
        running.target.addr = running.wait_listening()?;
        Ok(running)
    }
}

/// A server to measure: where it listens, what it speaks, and which process it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub transport: Transport,
    pub pid: u32,
}

impl Target {
    pub fn cpu_ns(&self) -> Result<u64> {
        procfs::cpu_ns(self.pid)
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

/// A started server; killed (and reaped) when dropped.
pub struct Running {
    pub server: Server,
    pub target: Target,
    child: Child,
    log: PathBuf,
}

impl Running {
    /// An error about this server, pointing at its log.
    pub fn failure(&self, what: impl Into<String>) -> BenchError {
        BenchError::Server { server: self.server.name(), what: what.into(), log: self.log.clone() }
    }

    fn wait_listening(&mut self) -> Result<SocketAddr> {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(addr) = text.lines().find_map(listening_addr) {
                return Ok(addr);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failure(format!("exited ({status}) before listening")));
            }
            if started.elapsed() > START_LIMIT {
                return Err(self.failure(format!("printed no `listening on` within {} s", START_LIMIT.as_secs())));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Fails if the server has died (a crash under load must not pass as a result).
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.failure(format!("exited during the run ({status})"))),
            Err(e) => Err(BenchError::io("checking the server process", e)),
        }
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        let unpinned = Launcher { pin: None, ..launcher };
        assert_eq!(unpinned.command(Server::RawEcho, 1).get_program(), "/r/ref-rawtcp");
    }
}
