//! The `signaling` binary spawned as deployed, for tests that measure the process itself (its
//! resident memory, its open-files limit). Killed when dropped.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

pub struct Spawned {
    child: Child,
    pub addr: SocketAddr,
}

impl Spawned {
    /// `signaling --listen 127.0.0.1:0 ARGS…`, run through `launcher` (e.g. `prlimit …`) if given;
    /// returns once it says where it listens.
    pub fn start(launcher: &[&str], args: &[&str]) -> Spawned {
        let binary = env!("CARGO_BIN_EXE_signaling");
        let mut command = match launcher.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn signaling");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        // Bounded: the server prints a handful of lines before it listens; EOF ends it too.
        let addr = (0..100)
            .map_while(|_| lines.next()?.ok())
            .find_map(|line| line.split("listening on ").nth(1)?.split_whitespace().next()?.parse().ok())
            .expect("the server says where it listens");
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Spawned { child, addr }
    }

    /// A field of `/proc/PID/status`, in KiB (`VmRSS:`, `VmHWM:`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        let line = status.lines().find(|l| l.starts_with(field)).expect("the field");
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
