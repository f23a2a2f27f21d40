//! The `signaling` binary under test, serving the built client; killed on drop, and restartable
//! on the same port so the browsers' saved URLs keep working ("the server restarted mid-call").

use std::collections::VecDeque;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStderr, Command};
use tokio::sync::oneshot;

use super::{Context as _, Failure, Result};
use e2e::Paths;

/// A debug build starts in well under a second; generous for a loaded 2-core CI machine.
const START_LIMIT: Duration = Duration::from_secs(15);
/// Re-binding the same port right after a kill can briefly fail; retried for this long.
const REBIND_LIMIT: Duration = Duration::from_secs(10);
/// Server log lines kept in memory for the failure report (all of them also go to a file).
const TAIL_LINES: usize = 200;
/// Our own HTTP requests (health, metrics, chromedriver's status) are small and local.
const HTTP_LIMIT: Duration = Duration::from_secs(5);
/// Nothing we fetch this way (a page, the wasm, metrics) comes near this.
const MAX_RESPONSE: usize = 16 << 20;
/// The server's `RUST_LOG` (default `info` with the per-peer lines, which tests read), e.g.
/// `debug` to chase a flaky run.
const LOG_FILTER_VAR: &str = "CONNECT_SIGNALING_LOG";

pub struct Signaling {
    bin: PathBuf,
    web_root: PathBuf,
    /// Flags beyond `--listen` and `--web-root` (e.g. TURN settings), kept for restarts.
    extra_args: Vec<String>,
    log_path: PathBuf,
    addr: SocketAddr,
    /// `None` while stopped. Spawned with `kill_on_drop`, so a panicking test leaves no server behind.
    child: Option<Child>,
    /// The last [`TAIL_LINES`] lines of stderr over every run; one lock, held only to push or copy.
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Signaling {
    /// Starts the server on a port the OS picks, with `extra_args` beyond `--listen` and
    /// `--web-root` (e.g. `--turn-urls …`); its log goes to `<artifacts>/<test>/signaling.log`.
    pub async fn start(paths: &Paths, test_name: &str, extra_args: Vec<String>) -> Result<Signaling> {
        let dir = paths.artifacts.join(test_name);
        std::fs::create_dir_all(&dir).context(format!("creating {}", dir.display()))?;
        let log_path = dir.join("signaling.log");
        std::fs::write(&log_path, "").context(format!("creating {}", log_path.display()))?;
        let mut server = Signaling {
            bin: paths.signaling_bin.clone(),
            web_root: paths.dist.clone(),
            extra_args,
            log_path,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            child: None,
            tail: Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES))),
        };
        server.addr = server.spawn(server.addr).await?;
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`: the page a user opens.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Kills the server the hard way (SIGKILL, no close frames): a crash, as clients see it.
    pub async fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("killing the signaling server")?;
            self.note("----- e2e harness: server killed -----");
        }
        Ok(())
    }

    /// Kills the server if it runs and starts a fresh one (empty rooms) on the same address.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill().await?;
        let started = tokio::time::Instant::now();
        loop {
            match self.spawn(self.addr).await {
                Ok(_) => return Ok(()),
                Err(e) if started.elapsed() < REBIND_LIMIT => {
                    self.note(&format!("----- e2e harness: restart failed, retrying: {e}"));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(Failure::new(format!("restarting the server on {}: {e}", self.addr))),
            }
        }
    }

    /// `GET path` over a fresh connection: (status, body).
    pub async fn get(&self, path: &str) -> Result<(u16, Vec<u8>)> {
        http_get(self.addr, path).await.context(format!("GET http://{}{path}", self.addr))
    }

    /// An unlabelled gauge or counter from `/metrics`.
    pub async fn metric(&self, name: &str) -> Result<Option<f64>> {
        let (status, body) = self.get("/metrics").await?;
        if status != 200 {
            return Err(Failure::new(format!("GET /metrics answered {status}")));
        }
        Ok(e2e::metric_value(&String::from_utf8_lossy(&body), name))
    }

    /// The last `n` server log lines.
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter().skip(tail.len().saturating_sub(n)).cloned().collect()
    }

    /// Starts the binary on `listen` and waits for its `listening on ADDR` line; returns ADDR.
    async fn spawn(&mut self, listen: SocketAddr) -> Result<SocketAddr> {
        let mut command = Command::new(&self.bin);
        // Nothing from our environment may change the server: no inherited SIGNALING_*, plain logs.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SIGNALING_") {
                command.env_remove(name);
            }
        }
        command
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--web-root")
            .arg(&self.web_root)
            .args(&self.extra_args)
            .env("RUST_LOG", std::env::var(LOG_FILTER_VAR).unwrap_or_else(|_| "info,signaling::peers=debug".to_owned()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().context(format!("starting {}", self.bin.display()))?;
        let stderr = child.stderr.take().ok_or_else(|| Failure::new("the server's stderr was not piped"))?;
        let (listening_tx, listening_rx) = oneshot::channel();
        tokio::spawn(forward_log(stderr, self.log_path.clone(), self.tail.clone(), listening_tx));

        let outcome = tokio::select! {
            addr = listening_rx => addr.map_err(|_| Failure::new("the server closed its log without `listening on`")),
            status = child.wait() => Err(Failure::new(format!("the server exited at start-up ({})", describe(status)))),
            () = tokio::time::sleep(START_LIMIT) => {
                Err(Failure::new(format!("no `listening on` line within {} s", START_LIMIT.as_secs())))
            }
        };
        match outcome {
            Ok(addr) => {
                self.child = Some(child);
                Ok(addr)
            }
            Err(e) => {
                let tail = self.log_tail(10).join("\n    ");
                Err(Failure::new(format!("starting signaling on {listen}: {e}; last log lines:\n    {tail}")))
            }
        }
    }

    /// Marks an event in the server log, so the log reads as a timeline of the test.
    fn note(&self, line: &str) {
        push_line(&self.log_path, &self.tail, line);
    }
}

fn describe(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("unknown status: {e}"),
    }
}

/// Copies every stderr line to the log file and the in-memory tail; reports the first
/// `listening on ADDR` through `listening`.
async fn forward_log(
    stderr: ChildStderr,
    log_path: PathBuf,
    tail: Arc<Mutex<VecDeque<String>>>,
    listening: oneshot::Sender<SocketAddr>,
) {
    let mut listening = Some(listening);
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(addr) = e2e::listening_addr(&line) {
            if let Some(tx) = listening.take() {
                // The starter may have given up already; then nobody needs the address.
                let _ = tx.send(addr);
            }
        }
        push_line(&log_path, &tail, &line);
    }
}

fn push_line(log_path: &Path, tail: &Mutex<VecDeque<String>>, line: &str) {
    // Logging is best effort: a full disk must not fail the call under test.
    if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(log_path) {
        let _ = writeln!(file, "{line}");
    }
    let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
    if tail.len() == TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line.to_owned());
}

/// A minimal HTTP/1.1 GET, bounded in time and size: (status, body). The response ends at its
/// `Content-Length` or when the peer closes.
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        while !e2e::http_response_complete(&raw) && raw.len() < MAX_RESPONSE {
            match stream.read(&mut chunk).await? {
                0 => break,
                n => raw.extend_from_slice(&chunk[..n]),
            }
        }
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(HTTP_LIMIT, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no complete answer in time"))??;
    match e2e::parse_http_response(&raw) {
        Some((status, body)) => Ok((status, body.to_vec())),
        None => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP/1.1 response")),
    }
}
