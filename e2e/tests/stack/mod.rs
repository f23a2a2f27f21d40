//! The deployment stack of `tests/deploy.rs`: Debian's nginx running the repository's nginx
//! configuration and coturn running the repository's `turnserver.conf`, on loopback, each killed
//! on drop with its log kept in the test's artifacts; an HTTP client that shows headers; and the
//! reporting of the tests that run without a browser (and so without a `Stage`).

pub mod coturn;
pub mod nginx;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::harness::{Context as _, Failure, Result};
use e2e::deploy::DeployPaths;
use e2e::http::Response;
use e2e::Paths;

/// Our requests to a local nginx are small; generous for a loaded CI machine.
const HTTP_LIMIT: Duration = Duration::from_secs(5);
/// The largest file served (the wasm) is well below this.
const MAX_RESPONSE: usize = 16 << 20;

/// `GET path` with `headers` over a fresh connection, read until the server closes it (or, for a
/// 101 Switching Protocols, until the end of the head).
pub async fn request(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<Response> {
    let what = format!("GET http://{addr}{path}");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        while raw.len() < MAX_RESPONSE {
            if Response::parse(&raw).is_some_and(|r| r.status == 101) || e2e::http_response_complete(&raw) {
                break;
            }
            match stream.read(&mut chunk).await? {
                0 => break,
                n => raw.extend_from_slice(&chunk[..n]),
            }
        }
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(HTTP_LIMIT, exchange)
        .await
        .map_err(|_| Failure::new(format!("{what}: no complete answer within {} s", HTTP_LIMIT.as_secs())))?
        .context(&what)?;
    Response::parse(&raw).ok_or_else(|| Failure::new(format!("{what}: not an HTTP/1.1 response")))
}

/// The last `n` lines of a log file, for failure reports; unreadable files say so.
pub fn file_tail(path: &Path, n: usize) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].iter().map(|line| line.to_string()).collect()
        }
        Err(e) => vec![format!("(cannot read {}: {e})", path.display())],
    }
}

/// The `CONNECT_*` paths and this test's artifacts directory, created; panics with instructions
/// when the environment is not set up (not a failure of the code under test).
pub fn environment(name: &str) -> (Paths, DeployPaths, PathBuf) {
    let paths = Paths::from_env().unwrap_or_else(|e| panic!("{name}: {e}"));
    let deploy = DeployPaths::from_env().unwrap_or_else(|e| panic!("{name}: {e}"));
    let artifacts = paths.artifacts.join(name);
    std::fs::create_dir_all(&artifacts).unwrap_or_else(|e| panic!("{name}: creating {}: {e}", artifacts.display()));
    (paths, deploy, artifacts)
}

/// On failure: the last lines of every log, then a panic with the failure.
pub fn report(name: &str, outcome: Result<()>, logs: &[PathBuf], artifacts: &Path) {
    if let Err(failure) = outcome {
        eprintln!("\n===== {name} FAILED: {failure}\n");
        for log in logs {
            print_tail(&log.display().to_string(), log);
        }
        panic!("{name}: {failure} (logs in {})", artifacts.display());
    }
    println!("{name}: artifacts in {}", artifacts.display());
}

pub fn print_tail(what: &str, path: &Path) {
    eprintln!("----- {what}, last log lines ({}):", path.display());
    for line in file_tail(path, 30) {
        eprintln!("    {line}");
    }
}

/// The last `n` lines of `text`, for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
