//! The slow-reader attack measured where it hurts: the resident memory of a spawned `signaling`
//! binary. Ten pairs, each a peer that joins and reads nothing and a partner sending it 150 signals
//! of 60 KiB (9 MiB) as fast as the server takes them. With messages bounded only in number (256
//! per reader) each reader could hold all 150, ~90 MiB in all; bounded in bytes, each holds at most
//! its 256 KiB allowance and is cut. The server's peak RSS (`VmHWM`) must stay within 48 MiB of
//! what it was before, and a bystander pair relays meanwhile.

/// The engine this suite's support module is built for (the binary runs rooms in memory).
#[allow(dead_code)]
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use rooms_support::*;

/// The spawned server, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn spawn() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_signaling"))
            .args(["--listen", "127.0.0.1:0", "--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn signaling");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        // Bounded: the server prints a handful of lines before it listens.
        let addr = (0..100)
            .find_map(|_| {
                let line = lines.next()?.ok()?;
                line.split("listening on ").nth(1)?.split_whitespace().next()?.parse().ok()
            })
            .expect("the server says where it listens");
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Server { child, addr }
    }

    /// A field of `/proc/PID/status`, in KiB.
    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        let line = status.lines().find(|l| l.starts_with(field)).expect("the field");
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn slow_readers_cost_the_server_bounded_resident_memory() {
    const PAIRS: usize = 10;
    const SIGNALS: usize = 150;
    let server = Server::spawn();
    let url = format!("ws://{}/ws", server.addr);
    let mut a = Client::connect(&url).await;
    let mut b = Client::connect(&url).await;
    let ja = a.join("bystanders").await;
    let jb = b.join("bystanders").await;
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);
    let before = server.status_kib("VmRSS:");

    let payload = "x".repeat(60 * 1024);
    let mut readers = Vec::new();
    for i in 0..PAIRS {
        let room = format!("slow-{i}");
        let mut reader = RawPeer::connect(server.addr).await;
        let reader_id = reader.join(&room).await;
        let mut sender = Client::connect(&url).await;
        sender.join(&room).await;
        for _ in 0..SIGNALS {
            sender.signal(&reader_id, candidate(payload.as_str())).await;
        }
        readers.push((reader, sender));
        a.signal(&jb.peer_id, candidate(format!("candidate:{i} a-to-b"))).await;
        assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), candidate(format!("candidate:{i} a-to-b"))));
    }
    let peak = server.status_kib("VmHWM:");
    let after = server.status_kib("VmRSS:");
    eprintln!("server RSS before {before} KiB, peak {peak} KiB, after {after} KiB");
    assert!(peak < before + 48 * 1024, "peak RSS {peak} KiB, from {before} KiB before the attack");
    b.signal(&ja.peer_id, candidate("candidate:after b-to-a")).await;
    assert_eq!(a.expect_signal().await, (jb.peer_id.clone(), candidate("candidate:after b-to-a")));
    drop(readers);
}
