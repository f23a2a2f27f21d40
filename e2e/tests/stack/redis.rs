//! A throwaway `redis-server` for the multi-node test (`tests/cluster.rs`, which includes this file
//! by path, so the deployment tests do not compile it): on a free loopback port, without
//! persistence, its log in the test's artifacts, killed on drop. Also reads a room's seats with
//! `redis-cli`, to see which node holds which seat.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::harness::driver::free_local_addr;
use crate::harness::{Context as _, Failure, Result};

/// redis-server is ready in milliseconds; generous for a loaded CI machine.
const READY_LIMIT: Duration = Duration::from_secs(10);
/// A port can be taken between our probe and redis-server's bind; tried on this many ports.
const PORT_ATTEMPTS: usize = 5;
/// How to get redis-server, for the failure message when it is missing.
const INSTALL_HINT: &str = "`cargo xtask test` installs redis-server (or `apt-get install -y redis-server`)";

pub struct Redis {
    /// Spawned with `kill_on_drop`, so a panicking test leaves no Redis behind.
    _child: Child,
    port: u16,
    log_path: PathBuf,
}

/// One seat of a room as Redis stores it: `order|token|node|conn|state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub peer: String,
    pub node: String,
    /// `c` (connected) or `a<deadline ms>` (away, resumable until then).
    pub state: String,
}

impl Redis {
    /// `redis-server --bind 127.0.0.1 --port <free> --save '' --appendonly no`, waited for until it
    /// says it accepts connections; its output goes to `<artifacts>/redis.log`.
    pub async fn start(artifacts: &Path) -> Result<Redis> {
        let log_path = artifacts.join("redis.log");
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_local_addr()?.port();
            match Redis::start_on(port, &log_path).await? {
                Some(redis) => return Ok(redis),
                None => last = format!("port {port} was taken"),
            }
        }
        Err(Failure::new(format!("redis-server did not start on any of {PORT_ATTEMPTS} free ports ({last})")))
    }

    /// `None` if the port turned out to be taken.
    async fn start_on(port: u16, log_path: &Path) -> Result<Option<Redis>> {
        std::fs::write(log_path, "").context(format!("creating {}", log_path.display()))?;
        let port_arg = port.to_string();
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &port_arg, "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::new(format!(
                    "redis-server is not installed (the multi-node test needs it): {INSTALL_HINT}"
                )))
            }
            Err(e) => return Err(Failure::new(format!("cannot run redis-server: {e}; {INSTALL_HINT}"))),
        };
        let stdout = child.stdout.take().ok_or_else(|| Failure::new("redis-server's stdout was not piped"))?;
        let stderr = child.stderr.take().ok_or_else(|| Failure::new("redis-server's stderr was not piped"))?;
        let (ready_tx, ready_rx) = oneshot::channel();
        // Both read to the end, so Redis never blocks on a full pipe.
        tokio::spawn(copy_log(stdout, log_path.to_path_buf(), Some(ready_tx)));
        tokio::spawn(copy_log(stderr, log_path.to_path_buf(), None));

        let outcome = tokio::select! {
            ready = ready_rx => ready.map_err(|_| "closed its output without `Ready to accept connections`".to_owned()),
            status = child.wait() => Err(match status {
                Ok(status) => format!("exited at start-up ({status})"),
                Err(e) => format!("exited at start-up (unknown status: {e})"),
            }),
            () = tokio::time::sleep(READY_LIMIT) => {
                Err(format!("not ready within {} s", READY_LIMIT.as_secs()))
            }
        };
        match outcome {
            Ok(()) => Ok(Some(Redis { _child: child, port, log_path: log_path.to_path_buf() })),
            Err(why) => {
                // Give the log copier a moment to write redis-server's last words.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let log = std::fs::read_to_string(log_path).unwrap_or_default();
                if log.contains("Address already in use") {
                    return Ok(None);
                }
                let _ = child.kill().await;
                Err(Failure::new(format!("redis-server on port {port} {why}; its log:\n{}", log.trim_end())))
            }
        }
    }

    /// `redis://127.0.0.1:PORT`, for `--redis-url`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The seats of `room` (the hash `connect:room:<room>`), sorted by peer id; read with `redis-cli`.
    pub async fn seats(&self, room: &str) -> Result<Vec<Seat>> {
        let key = format!("connect:room:{room}");
        let what = format!("redis-cli HGETALL {key}");
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "HGETALL", &key])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(READY_LIMIT, output)
            .await
            .map_err(|_| Failure::new(format!("{what}: no answer within {} s", READY_LIMIT.as_secs())))?
            .context(format!("{what} (redis-cli comes with redis-server: {INSTALL_HINT})"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(Failure::new(format!("{what}: {}: {}{}", output.status, text.trim(), stderr.trim())));
        }
        parse_seats(&text).ok_or_else(|| Failure::new(format!("{what}: unexpected answer {text:?}")))
    }
}

/// `redis-cli`'s raw HGETALL answer (field and value on alternate lines) as seats; `None` if a
/// member is not `order|token|node|conn|state`.
pub fn parse_seats(text: &str) -> Option<Vec<Seat>> {
    let lines: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
    if !lines.len().is_multiple_of(2) {
        return None;
    }
    let mut seats = Vec::new();
    for pair in lines.chunks(2) {
        let parts: Vec<&str> = pair[1].split('|').collect();
        let [_order, _token, node, _conn, state] = parts[..] else { return None };
        seats.push(Seat { peer: pair[0].to_owned(), node: node.to_owned(), state: state.to_owned() });
    }
    seats.sort_by(|a, b| a.peer.cmp(&b.peer));
    Some(seats)
}

/// Appends every line of `output` to the log; reports the first `Ready to accept connections`.
async fn copy_log(
    output: impl tokio::io::AsyncRead + Unpin,
    log_path: PathBuf,
    mut ready: Option<oneshot::Sender<()>>,
) {
    use std::io::Write as _;
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("Ready to accept connections") {
            if let Some(tx) = ready.take() {
                // The starter may have given up already.
                let _ = tx.send(());
            }
        }
        // Best effort: a full disk must not fail the call under test.
        if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(&log_path) {
            let _ = writeln!(file, "{line}");
        }
    }
}
