//! A fresh `redis-server` for every measurement through Redis (a `FLUSHALL` would leave the
//! previous run's memory, connections and node keys' expiry in it): on a free loopback port,
//! without persistence, pinned like the servers, killed on drop. A run fails when it is not
//! installed: a missing dependency must never look like a run without Redis.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use crate::error::{BenchError, Result};
use crate::launcher::Launcher;
use crate::process::Process;

pub const PROGRAM: &str = "redis-server";
/// How long a fresh redis-server may take to say it is ready (milliseconds, when idle).
const READY_LIMIT: Duration = Duration::from_secs(10);
/// A free port may be taken by another process before Redis binds it: try a few.
const PORT_ATTEMPTS: usize = 5;

/// `redis-server`'s version (e.g. `7.0.15`); an error saying how to install it if it is missing.
pub fn version() -> Result<String> {
    let output = Command::new(PROGRAM).arg("--version").output().map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "not installed".to_owned(),
            _ => format!("cannot run ({e})"),
        };
        BenchError::Missing {
            program: PROGRAM,
            why: format!(
                "{why}, and the relay through Redis needs it: `apt-get install -y redis-server` \
                 (the ensure step of `cargo xtask test` installs it)"
            ),
        }
    })?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_version(&text).ok_or_else(|| BenchError::Missing {
        program: PROGRAM,
        why: format!("`{PROGRAM} --version` printed {:?}", text.trim()),
    })
}

/// `Redis server v=7.0.15 sha=…` → `7.0.15`.
fn parse_version(text: &str) -> Option<String> {
    text.split_whitespace().find_map(|word| word.strip_prefix("v=")).map(str::to_owned)
}

/// The command line: loopback only, no snapshots, no append-only file.
fn args(port: u16) -> Vec<String> {
    let port = port.to_string();
    ["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"].map(String::from).to_vec()
}

fn is_ready(line: &str) -> bool {
    line.contains("Ready to accept connections")
}

/// A port that was free a moment ago (Redis cannot be asked to pick one: `--port 0` means no
/// TCP at all).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::io("binding 127.0.0.1:0", e))?;
    let addr = listener.local_addr().map_err(|e| BenchError::io("reading a bound address", e))?;
    Ok(addr.port())
}

pub struct RedisServer {
    pub process: Process,
    pub port: u16,
}

impl RedisServer {
    /// A fresh redis-server, pinned as `launcher` pins servers, its log `redis-server-{label}.log`.
    pub fn start(launcher: &Launcher, label: &str) -> Result<RedisServer> {
        let log = launcher.log_dir.join(format!("{PROGRAM}-{label}.log"));
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let mut command = launcher.pinned(PROGRAM);
            command.args(args(port));
            let mut process = Process::spawn(PROGRAM, command, log.clone())?;
            match process.wait_for_line("ready", READY_LIMIT, |line| is_ready(line).then_some(())) {
                Ok(()) => return Ok(RedisServer { process, port }),
                Err(e) => {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    if !text.contains("Address already in use") {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| BenchError::Report(format!("{PROGRAM}: no free port"))))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_readiness_lines() {
        let text = "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n";
        assert_eq!(parse_version(text).as_deref(), Some("7.0.15"));
        assert_eq!(parse_version("redis-server: command not found"), None);
        assert!(is_ready("1:M 01 Jan 2026 00:00:00.000 * Ready to accept connections tcp"));
        assert!(is_ready("1:M 01 Jan 2026 00:00:00.000 * Ready to accept connections"));
        assert!(!is_ready("1:M 01 Jan 2026 00:00:00.000 * Server initialized"));
    }

    #[test]
    fn a_fresh_server_answers_and_is_gone_when_dropped() {
        use std::io::{Read as _, Write as _};
        let log_dir = std::env::temp_dir().join(format!("bench-redis-{}", std::process::id()));
        std::fs::create_dir_all(&log_dir).unwrap();
        let launcher = Launcher { release_dir: log_dir.clone(), log_dir: log_dir.clone(), pin: None };
        assert!(!version().unwrap().is_empty());
        let server = RedisServer::start(&launcher, "test").unwrap();
        assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port));
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(b"PING\r\n").unwrap();
        let mut pong = [0u8; 7];
        stream.read_exact(&mut pong).unwrap();
        assert_eq!(&pong, b"+PONG\r\n");
        let pid = server.process.pid();
        drop(server);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "killed and reaped");
        std::fs::remove_dir_all(&log_dir).unwrap();
    }

    #[test]
    fn loopback_without_persistence() {
        let args = args(6400);
        assert!(args.windows(2).any(|w| w == ["--port", "6400"]));
        assert!(args.windows(2).any(|w| w == ["--bind", "127.0.0.1"]));
        assert!(args.windows(2).any(|w| w == ["--save", ""]));
        assert!(args.windows(2).any(|w| w == ["--appendonly", "no"]));
    }
}
