//! One child process of a run (a server under test, a second node, a `redis-server`): its log,
//! waiting — bounded — until it says it is ready, and kill-and-reap on drop.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};

/// One `/healthz` probe: connect, write and read, each; loopback answers in microseconds.
const PROBE_LIMIT: Duration = Duration::from_secs(1);
/// Between two looks at a log or at `/healthz` while waiting for a process to be ready.
const POLL: Duration = Duration::from_millis(10);

pub struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` with its stdout and stderr in a fresh file `log`.
    pub fn spawn(name: &'static str, mut command: Command, log: PathBuf) -> Result<Process> {
        let out = File::create(&log).map_err(|e| BenchError::io(format!("creating {}", log.display()), e))?;
        let err = out.try_clone().map_err(|e| BenchError::io("cloning a log handle", e))?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = command.spawn().map_err(|e| BenchError::io(format!("starting {name}"), e))?;
        Ok(Process { name, child, log })
    }

    /// The process id; through `taskset`, which execs its program, the program's.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// An error about this process, pointing at its log.
    pub fn failure(&self, what: impl Into<String>) -> BenchError {
        BenchError::Server { server: self.name, what: what.into(), log: self.log.clone() }
    }

    /// Fails if the process has died (a crash under load must not pass as a result).
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.failure(format!("exited during the run ({status})"))),
            Err(e) => Err(BenchError::io(format!("checking the {} process", self.name), e)),
        }
    }

    /// Waits until a line of the log gives what `find` looks for (`what`, for the error), the
    /// process exits, or `limit` passes.
    pub fn wait_for_line<T>(&mut self, what: &str, limit: Duration, find: impl Fn(&str) -> Option<T>) -> Result<T> {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(found) = text.lines().find_map(&find) {
                return Ok(found);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failure(format!("exited ({status}) before {what}")));
            }
            if started.elapsed() > limit {
                return Err(self.failure(format!("not {what} within {} s", limit.as_secs())));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `GET /healthz` on `addr` answers 200: a node on Redis takes joins only once
    /// it has registered there, and says so on `/healthz`.
    pub fn wait_healthy(&mut self, addr: SocketAddr, limit: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            if healthy(addr) {
                return Ok(());
            }
            self.check_alive()?;
            if started.elapsed() > limit {
                return Err(self.failure(format!("/healthz on {addr} did not answer 200 within {} s", limit.as_secs())));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One bounded `GET /healthz`; any failure is "not yet".
fn healthy(addr: SocketAddr) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, PROBE_LIMIT)?;
        stream.set_read_timeout(Some(PROBE_LIMIT))?;
        stream.set_write_timeout(Some(PROBE_LIMIT))?;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(is_ok_status(&head))
    };
    probe().unwrap_or(false)
}

/// Whether a response starts with a 200 status line.
fn is_ok_status(head: &[u8]) -> bool {
    head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_200_is_healthy() {
        assert!(is_ok_status(b"HTTP/1.1 200 OK\r\n"));
        assert!(!is_ok_status(b"HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(!is_ok_status(b""));
    }

    #[test]
    fn a_line_of_the_log_ends_the_wait_and_an_exit_fails_it() {
        let dir = std::env::temp_dir().join(format!("bench-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut echo = Command::new("sh");
        echo.args(["-c", "echo 'ready on 42'; sleep 5"]);
        let mut ready = Process::spawn("sh", echo, dir.join("ready.log")).unwrap();
        let found =
            ready.wait_for_line("ready", Duration::from_secs(5), |l| l.strip_prefix("ready on ").map(String::from));
        assert_eq!(found.unwrap(), "42");
        ready.check_alive().unwrap();
        let mut exit = Command::new("sh");
        exit.args(["-c", "echo nothing"]);
        let mut gone = Process::spawn("sh", exit, dir.join("gone.log")).unwrap();
        let error = gone.wait_for_line("ready", Duration::from_secs(5), |_| None::<()>).unwrap_err();
        assert!(error.to_string().contains("exited"), "{error}");
        drop((ready, gone));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
