//! What one connection may hold of an incoming message it has not finished, measured on the
//! spawned `signaling` binary: the rooms service reads nothing over `--max-signal-size` + 4 KiB
//! (68 KiB by default), so a frame header announcing more fails the connection with 1009 at once,
//! instead of each connection holding up to `--max-message-size` (1 MiB) of fragments it would
//! refuse anyway; and every connection's unfinished messages together are bounded by
//! `--inbound-total-bytes` (beyond it: 1013). A bystander pair relays meanwhile.

/// The engine this suite's support module is built for (the binary runs rooms in memory).
#[allow(dead_code)]
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

#[path = "support/binary.rs"]
mod binary;

use common::{client_frame, raw_websocket, send_bytes, FrameReader};
use rooms_support::*;
use signaling::ws::frame::OpCode;
use tokio::net::TcpStream;

const ATTACKERS: usize = 200;
const FRAGMENT: usize = 60 * 1024;

/// A first text fragment of `FRAGMENT` bytes: a message left unfinished.
fn unfinished() -> Vec<u8> {
    client_frame(false, OpCode::Text, &vec![b' '; FRAGMENT])
}

/// The value of an unlabelled sample in a `/metrics` text.
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

/// The close code of the next close frame (pings skipped).
async fn close_code(stream: &mut TcpStream, frames: &mut FrameReader) -> Option<u16> {
    for _ in 0..16 {
        let (header, payload) = frames.next(stream).await.expect("a close frame before EOF");
        if header.opcode == OpCode::Close {
            return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
    panic!("no close frame among the first frames");
}

/// A bystander pair relays a signal both ways.
async fn bystanders_relay(a: &mut Client, ja: &Joined, b: &mut Client, jb: &Joined, tag: &str) {
    a.signal(&jb.peer_id, candidate(format!("candidate:{tag} a-to-b"))).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), candidate(format!("candidate:{tag} a-to-b"))));
    b.signal(&ja.peer_id, candidate(format!("candidate:{tag} b-to-a"))).await;
    assert_eq!(a.expect_signal().await, (jb.peer_id.clone(), candidate(format!("candidate:{tag} b-to-a"))));
}

#[tokio::test]
async fn unfinished_messages_are_bounded_per_connection_and_an_over_limit_header_gets_1009_at_once() {
    let server = binary::Spawned::start(&[], &[]);
    let url = format!("ws://{}/ws", server.addr);
    let (mut a, mut b) = (Client::connect(&url).await, Client::connect(&url).await);
    let ja = a.join("bystanders").await;
    let jb = b.join("bystanders").await;
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);
    let before = server.status_kib("VmRSS:");

    let mut attackers = Vec::with_capacity(ATTACKERS);
    for _ in 0..ATTACKERS {
        let mut stream = raw_websocket(server.addr, "/ws").await;
        send_bytes(&mut stream, &unfinished()).await;
        attackers.push(stream);
    }
    bystanders_relay(&mut a, &ja, &mut b, &jb, "stalled").await;
    let held =
        sample(&common::http_get(server.addr, "/metrics").await.body_text(), "signaling_inbound_unfinished_bytes");
    let peak = server.status_kib("VmHWM:");
    eprintln!("{ATTACKERS} stalled 60 KiB fragments: RSS {before} KiB before, peak {peak} KiB; {held} bytes charged");
    // Each holds its 60 KiB (4 KiB of it free of charge) and no more than its 68 KiB limit.
    assert!(held >= (ATTACKERS * (FRAGMENT - 4096)) as u64, "{held}");
    assert!(held <= (ATTACKERS * (64 * 1024)) as u64, "{held}");
    assert!(peak < before + 24 * 1024, "peak RSS {peak} KiB, from {before} KiB before");

    // A continuation announcing 60 KiB more is past the limit: refused from its header alone,
    // before any of its payload is sent.
    for stream in &mut attackers {
        let header = &client_frame(false, OpCode::Continuation, &vec![b' '; FRAGMENT])[..14];
        send_bytes(stream, header).await;
        assert_eq!(close_code(stream, &mut FrameReader::default()).await, Some(1009));
    }
    drop(attackers);
    bystanders_relay(&mut a, &ja, &mut b, &jb, "after").await;
    // Counted once each session has ended (bounded wait).
    let line = format!("signaling_ws_closes_total{{code=\"1009\",initiator=\"server\"}} {ATTACKERS}");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while !common::http_get(server.addr, "/metrics").await.body_text().contains(&line) {
        assert!(tokio::time::Instant::now() < deadline, "{line} never appeared");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn unfinished_messages_of_all_connections_share_one_budget_and_past_it_get_1013() {
    // 1 MB for everyone: about 18 connections' 56 KiB beyond their free 4 KiB.
    let server = binary::Spawned::start(&[], &["--inbound-total-bytes", "1000000"]);
    let url = format!("ws://{}/ws", server.addr);
    let (mut a, mut b) = (Client::connect(&url).await, Client::connect(&url).await);
    let ja = a.join("bystanders").await;
    let jb = b.join("bystanders").await;
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);

    let mut held = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        let mut stream = raw_websocket(server.addr, "/ws").await;
        send_bytes(&mut stream, &unfinished()).await;
        // A ping after the fragment: its pong proves the fragment was taken.
        send_bytes(&mut stream, &client_frame(true, OpCode::Ping, b"taken?")).await;
        let mut frames = FrameReader::default();
        let (header, payload) = frames.next(&mut stream).await.expect("a pong or a close");
        if header.opcode == OpCode::Close {
            refused = Some((i, u16::from_be_bytes([payload[0], payload[1]])));
            break;
        }
        assert_eq!((header.opcode, payload.as_slice()), (OpCode::Pong, &b"taken?"[..]));
        held.push(stream);
    }
    let (at, code) = refused.expect("the budget ran out within 40 connections");
    eprintln!("connection {at} (from 0) got close {code}");
    assert_eq!(code, 1013, "try again later");
    assert!((15..=18).contains(&at), "refused at connection {at}");
    let metrics = common::http_get(server.addr, "/metrics").await.body_text();
    assert!(sample(&metrics, "signaling_inbound_unfinished_bytes") <= 1_000_000);
    // Whole messages need no budget: the bystanders relay while it is spent.
    bystanders_relay(&mut a, &ja, &mut b, &jb, "spent").await;
    drop(held);
}
