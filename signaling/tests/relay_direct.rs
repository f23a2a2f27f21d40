//! Relayed signals reach an idle recipient written straight into its socket by the sender's task,
//! and fall back to the recipient's queue when its socket would block: against the real server,
//! a recipient that reads, stops reading until its messages queue, then reads again while more
//! arrive gets every signal once, whole and in the order it was sent, and the queue's bytes are
//! all given back.

/// The in-memory engine: the one whose relays are written directly.
#[allow(dead_code)] // read by the rooms support module
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use std::time::Duration;

use common::{raw_websocket, send_bytes, FrameReader, WAIT};
use rooms_support::*;
use shared::{ClientMessage, PeerId, ServerMessage};
use signaling::rate::RateConfig;
use signaling::ws::frame::OpCode;
use signaling::{RoomsConfig, ServerConfig};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

const GAUGE: &str = "signaling_outbound_queued_bytes";

/// Signals sent while the recipient reads each one before the next is sent.
const READ_EACH: usize = 100;
/// Most signals sent while the recipient reads nothing: far more than loopback's socket buffers
/// hold (the sending stops once the server queues).
const MAX_UNREAD: usize = 4_000;
/// Signals sent after the server began to queue, still unread: many write batches' worth.
const QUEUED_BEHIND: usize = 1_000;
/// Signals sent while the recipient drains what waited for it.
const WHILE_DRAINING: usize = 500;
/// Signals sent once the queue is empty again.
const AFTER_DRAIN: usize = 100;

/// A 4 KiB signal carrying its sequence number.
fn numbered(n: usize) -> shared::Signal {
    candidate(format!("{n:06}:{}", "x".repeat(4096)))
}

fn number_of(message: &ServerMessage) -> usize {
    match message {
        ServerMessage::Signal { data, .. } => {
            let text = candidate_text(data);
            text[..6].parse().unwrap_or_else(|e| panic!("unnumbered signal {text:?}: {e}"))
        }
        other => panic!("expected a signal, got {other:?}"),
    }
}

/// A recipient on a raw socket, reading (or not) exactly when the test says.
struct Recipient {
    stream: TcpStream,
    frames: FrameReader,
}

impl Recipient {
    async fn connect(server: &RoomServer) -> Recipient {
        Recipient { stream: raw_websocket(server.addr, "/ws").await, frames: FrameReader::default() }
    }

    async fn send(&mut self, message: &ClientMessage) {
        let frame = common::client_frame(true, OpCode::Text, message.to_json().as_bytes());
        send_bytes(&mut self.stream, &frame).await;
    }

    /// The next text message (pings skipped: the test is over long before one matters).
    async fn recv(&mut self) -> ServerMessage {
        loop {
            let frame = timeout(WAIT, self.frames.next(&mut self.stream)).await.expect("a frame in time");
            let (header, payload) = frame.expect("the server keeps the connection");
            match header.opcode {
                OpCode::Ping | OpCode::Pong => continue,
                OpCode::Text => {
                    let text = String::from_utf8(payload).expect("text frames are UTF-8");
                    return ServerMessage::parse(&text).unwrap_or_else(|e| panic!("bad message {text:?}: {e}"));
                }
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    async fn join(&mut self, room: &str) -> PeerId {
        self.send(&ClientMessage::Join { room: room_id(room), resume: None }).await;
        match self.recv().await {
            ServerMessage::Joined { peer_id, .. } => peer_id,
            other => panic!("expected joined, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_arrive_once_and_in_order_across_direct_and_queued_delivery() {
    let rooms = RoomsConfig {
        // The sender may send as fast as it likes; the recipient's queue holds all it is sent.
        rate: RateConfig { per_sec: 100_000.0, burst: 100_000.0, ..RateConfig::default() },
        outbound_queue: MAX_UNREAD + QUEUED_BEHIND + WHILE_DRAINING + AFTER_DRAIN,
        outbound_bytes: 64 << 20,
        outbound_total_bytes: 64 << 20,
        ..RoomsConfig::default()
    };
    let config = ServerConfig { addresses: one_address_for_all(), ..ServerConfig::default() };
    let server = start_with(config, rooms).await;
    let mut sender = server.client().await;
    let sender_id = sender.join("direct").await.peer_id;
    let mut recipient = Recipient::connect(&server).await;
    let recipient_id = recipient.join("direct").await;
    assert_eq!(sender.expect_peer_joined().await, recipient_id);
    let mut next = 0;

    // The recipient reads each signal before the next is sent: it is idle every time one comes.
    for n in 0..READ_EACH {
        sender.signal(&recipient_id, numbered(n)).await;
        let got = recipient.recv().await;
        assert_eq!(number_of(&got), n);
        assert!(matches!(&got, ServerMessage::Signal { from, .. } if *from == sender_id));
        next = n + 1;
    }

    // It stops reading: the socket fills, and the server starts queueing for it.
    let mut queued_at = None;
    while queued_at.is_none() && next < READ_EACH + MAX_UNREAD {
        sender.signal(&recipient_id, numbered(next)).await;
        next += 1;
        if next % 10 == 0 && server.metric(GAUGE).unwrap_or(0) > 0 {
            queued_at = Some(next);
        }
    }
    assert!(queued_at.is_some(), "{MAX_UNREAD} unread signals never made the server queue");
    for _ in 0..QUEUED_BEHIND {
        sender.signal(&recipient_id, numbered(next)).await;
        next += 1;
    }

    // It reads again while more are sent: the queue drains meanwhile (each sender's message
    // queued or, whenever the recipient's task has let the socket go, written directly).
    let total = next + WHILE_DRAINING + AFTER_DRAIN;
    let reader = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(total);
        while seen.len() < total - READ_EACH {
            seen.push(number_of(&recipient.recv().await));
        }
        (recipient, seen)
    });
    for _ in 0..WHILE_DRAINING {
        sender.signal(&recipient_id, numbered(next)).await;
        next += 1;
    }
    // Drained: the recipient is idle again and signals go straight into its socket.
    server.wait_for_metric(GAUGE, 0).await;
    for _ in 0..AFTER_DRAIN {
        sender.signal(&recipient_id, numbered(next)).await;
        next += 1;
        sleep(Duration::from_millis(1)).await;
    }
    let (mut recipient, seen) = timeout(WAIT * 3, reader).await.expect("everything read in time").expect("reader");
    let expected: Vec<usize> = (READ_EACH..total).collect();
    assert_eq!(seen.len(), expected.len());
    if let Some(at) = seen.iter().zip(&expected).position(|(got, want)| got != want) {
        panic!("out of order from the {at}th unread signal: got {}, expected {}", seen[at], expected[at]);
    }

    // Every queued byte was given back, nothing was dropped, and the connection still relays.
    server.wait_for_metric(GAUGE, 0).await;
    assert_eq!(server.metric("signaling_relay_dropped_total").unwrap_or(0), 0);
    sender.signal(&recipient_id, numbered(total)).await;
    assert_eq!(number_of(&recipient.recv().await), total);
    let deadline = Instant::now() + Duration::from_millis(200);
    sender.expect_silence_until(deadline).await;
    sender.close().await;
    server.shutdown().await;
}
