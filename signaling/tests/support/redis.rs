//! A real `redis-server` for a test: on a free loopback port, without persistence, killed (and
//! reaped) on drop. Waits, bounded, until Redis says it is ready; a port lost to a race with
//! another test is retried on a new one.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long redis-server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(10);

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// A fresh Redis on a free port. Fails the test, saying how to install it, if `redis-server`
    /// is missing: a missing dependency must never look like a pass.
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// As [`RedisServer::start`], with `extra` arguments (a password, ACL users).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        for _ in 0..5 {
            let port = free_port();
            if let Some(server) = RedisServer::start_on_with(port, extra) {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// A Redis on `port` (again, after [`RedisServer::kill`]); `None` if the port is taken.
    pub fn start_on(port: u16) -> Option<RedisServer> {
        RedisServer::start_on_with(port, &[])
    }

    fn start_on_with(port: u16, extra: &[&str]) -> Option<RedisServer> {
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed (needed by the multi-node tests): `cargo xtask test` \
                 installs it, or `apt-get install -y redis-server`"
            ),
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = mpsc::channel();
        // Reads to the end, so Redis never blocks on a full pipe; the first lines go to the test.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + READY_WITHIN;
        let mut seen = Vec::new();
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if line.contains("Ready to accept connections") => {
                    return Some(RedisServer { child: Some(child), port });
                }
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = child.wait();
                    let taken = seen.iter().any(|l| l.contains("Address already in use"));
                    assert!(taken, "redis-server on port {port} exited:\n{}", seen.join("\n"));
                    return None;
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("redis-server on port {port} not ready within {READY_WITHIN:?}:\n{}", seen.join("\n"));
                }
            }
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills Redis at once (SIGKILL: no goodbye to its clients) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago (the OS picks it; another process may still take it first).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
