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

#[path = "support/binary.rs"]
mod binary;

use rooms_support::*;

#[tokio::test]
async fn slow_readers_cost_the_server_bounded_resident_memory() {
    const PAIRS: usize = 10;
    const SIGNALS: usize = 150;
    let rate = ["--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000"];
    let server = binary::Spawned::start(&[], &rate);
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
