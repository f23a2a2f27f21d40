//! The outbox's unit tests: the queue's order and bounds, and direct writes into a real socket.

use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;

use super::*;

fn text(s: &str) -> Outbound {
    Outbound::Text(s.to_owned())
}

#[test]
fn messages_come_out_in_order_and_the_queue_is_bounded() {
    let (tx, mut rx) = channel(2);
    assert_eq!(tx.try_send(text("a")), Ok(()));
    assert_eq!(tx.clone().try_send(text("b")), Ok(()));
    assert_eq!(tx.try_send(text("c")), Err(SendError::Full));
    assert_eq!(rx.try_recv(), Some(text("a")));
    assert_eq!(tx.try_send(Outbound::Close(CloseCode::NORMAL, "bye")), Ok(()));
    assert_eq!(rx.try_recv(), Some(text("b")));
    assert_eq!(rx.try_recv(), Some(Outbound::Close(CloseCode::NORMAL, "bye")));
    assert_eq!(rx.try_recv(), None);
}

#[test]
fn a_dropped_receiver_closes_the_queue() {
    let (tx, rx) = channel(4);
    assert_eq!(tx.try_send(text("a")), Ok(()));
    drop(rx);
    assert_eq!(tx.try_send(text("b")), Err(SendError::Closed));
}

#[test]
fn a_drained_queue_gives_back_a_burst_s_memory() {
    let (tx, mut rx) = channel(1_000);
    for i in 0..500 {
        tx.try_send(text(&i.to_string())).unwrap();
    }
    while rx.try_recv().is_some() {}
    assert!(rx.shared.lock().queue.capacity() <= KEEP_CAPACITY);
}

#[test]
fn bytes_are_bounded_per_queue_and_in_total_until_written() {
    let budget = Budget::new(3_000);
    let (a, mut ra) = bounded(100, 2_000, budget.clone());
    let (b, rb) = bounded(100, 2_000, budget.clone());
    let kib = || Outbound::Text("x".repeat(1000));
    let cost = kib().cost();
    assert_eq!(a.try_send(kib()), Ok(()));
    assert_eq!(a.try_send(kib()), Err(SendError::Full), "over this queue's 2,000 bytes");
    assert_eq!(b.try_send(kib()), Ok(()));
    assert_eq!(b.try_send(kib()), Err(SendError::Full), "over the 3,000 bytes of the budget");
    assert_eq!(budget.used(), 2 * cost);
    assert_eq!(b.try_send(Outbound::Close(CloseCode::NORMAL, "bye")), Ok(()), "a close always fits");

    // Taken off the queue but still in the write buffer: still charged.
    assert!(ra.try_recv().is_some());
    ra.settle(cost);
    assert_eq!(a.try_send(kib()), Err(SendError::Full));
    // Written out: given back.
    ra.settle(0);
    assert_eq!(budget.used(), cost);
    assert_eq!(a.try_send(kib()), Ok(()));
    drop((ra, rb));
    assert_eq!(budget.used(), 0, "a closed queue gives back everything");
    assert_eq!(budget.gauge.get(), 0);
}

#[tokio::test]
async fn a_message_over_the_allowance_ends_the_slow_reader() {
    let (tx, mut rx) = bounded(100, 1_500, Budget::new(usize::MAX));
    tx.try_send(text(&"x".repeat(1000))).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), rx.next(true)).await;
    assert!(matches!(got, Ok(Some(Taken::Message(Outbound::Text(_))))));
    // Still in the write buffer (not settled): the next one does not fit.
    assert_eq!(tx.try_send(text(&"y".repeat(1000))), Err(SendError::Full));
    let got = tokio::time::timeout(Duration::from_secs(5), rx.next(false)).await;
    assert_eq!(got.ok(), Some(None), "told to end, even with no room to take a message");
}

// Paused time: the timers below elapse as soon as every task waits, without sleeping.
#[tokio::test(start_paused = true)]
async fn recv_waits_for_a_message_from_another_task() {
    let (tx, mut rx) = channel(4);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.try_send(text("late")).unwrap();
    });
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert_eq!(got.ok(), Some(text("late")));
    sender.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_recv_that_is_abandoned_loses_no_message() {
    let (tx, mut rx) = channel(4);
    // Polled while the queue is empty (it registers its waker), then dropped, as a losing
    // branch of a `select!` is.
    let abandoned = tokio::time::timeout(Duration::from_millis(10), rx.recv()).await;
    assert!(abandoned.is_err(), "nothing was sent yet");
    tx.try_send(text("kept")).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert_eq!(got.ok(), Some(text("kept")));
}

/// A connected pair on loopback: the server's end (attached to an outbox) and the client's.
async fn socket_pair() -> (Arc<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    server.writable().await.unwrap();
    (Arc::new(server), client)
}

/// Reads `len` bytes the server wrote, bounded in time.
async fn read_exactly(client: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut got = vec![0; len];
    tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut got)).await.unwrap().unwrap();
    got
}

#[tokio::test]
async fn an_idle_connection_gets_messages_written_directly_and_a_held_one_queues_them() {
    let budget = Budget::new(usize::MAX);
    let (tx, mut rx) = bounded(8, 1 << 20, budget.clone());
    let (server, mut client) = socket_pair().await;
    rx.attach(server, Arc::default());
    let mut writer = Writer::default();

    // A new connection is held by its task (its 101 is not written yet): senders queue.
    assert_eq!(tx.try_send_now("held".into()), Ok(()));
    assert_eq!(rx.try_recv(), Some(text("held")));
    rx.settle(0);
    assert_eq!(rx.shared.lock().gate, Gate::Idle, "nothing pending, nothing queued: let go");

    // Idle: written by the sender, nothing queued, nothing left charged.
    assert_eq!(tx.try_send_now("a".into()), Ok(()));
    assert_eq!(read_exactly(&mut client, 3).await, b"\x81\x01a");
    assert_eq!(rx.try_recv(), None);
    assert_eq!(budget.used(), 0);

    // A queued message (a close, say) holds the socket for the task: later ones queue behind it.
    assert_eq!(tx.try_send(text("b")), Ok(()));
    assert_eq!(tx.try_send_now("c".into()), Ok(()));
    assert_eq!(rx.try_recv(), Some(text("b")));
    assert_eq!(rx.try_recv(), Some(text("c")));
    rx.settle(0);
    assert_eq!(budget.used(), 0);

    // The task claims the socket to answer input: senders queue until it lets go again.
    rx.claim(&mut writer);
    assert_eq!(tx.try_send_now("d".into()), Ok(()));
    assert_eq!(rx.try_recv(), Some(text("d")));
    rx.settle(0);
    assert_eq!(tx.try_send_now("e".into()), Ok(()));
    assert_eq!(read_exactly(&mut client, 3).await, b"\x81\x01e");

    // Closing: the sender's handle on the socket goes, and nothing is written directly again.
    rx.detach(&mut writer);
    assert!(rx.shared.lock().socket.is_none());
    rx.settle(0);
    assert_eq!(tx.try_send_now("f".into()), Ok(()));
    assert_eq!(rx.try_recv(), Some(text("f")));
}

#[tokio::test]
async fn a_direct_write_the_socket_takes_in_part_hands_its_rest_to_the_task_first() {
    let budget = Budget::new(usize::MAX);
    let (tx, mut rx) = bounded(10_000, usize::MAX, budget.clone());
    let (server, mut client) = socket_pair().await;
    rx.attach(server, Arc::default());
    rx.settle(0);
    // Nobody reads: the socket fills, until a write is taken in part or not at all.
    let big = "x".repeat(50_000);
    let mut sent = 0;
    while rx.shared.lock().gate == Gate::Idle {
        assert!(sent < 10_000, "a socket nobody reads never filled");
        tx.try_send_now(big.clone()).unwrap();
        sent += 1;
    }
    assert!(budget.used() > 0, "what was not written whole stays charged");
    assert_eq!(tx.try_send_now("after".into()), Ok(()));
    // The task writes the rest (if any) first, then what queued behind it.
    let mut writer = Writer::default();
    let mut taken = 0;
    while let Ok(Some(next)) = tokio::time::timeout(Duration::from_millis(50), rx.next(true)).await {
        match next {
            Taken::Rest(bytes) => {
                assert_eq!(taken, 0, "the rest comes first");
                writer.raw(&bytes);
            }
            Taken::Message(Outbound::Text(text)) => writer.text(&text),
            Taken::Message(other) => panic!("unexpected {other:?}"),
        }
        taken += 1;
    }
    // Every frame arrives whole and in order once the client reads (the socket is drained
    // while the task's writer is written out).
    let reader = tokio::spawn(async move {
        let mut bytes = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let mut chunk = [0u8; 65_536];
            loop {
                let n = client.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&chunk[..n]);
            }
        })
        .await;
        bytes
    });
    let socket = rx.shared.lock().socket.as_ref().map(|s| s.stream.clone()).unwrap();
    while !writer.is_empty() {
        socket.writable().await.unwrap();
        match socket.try_write(writer.pending()) {
            Ok(n) => writer.consume(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    drop(socket);
    drop(rx);
    let bytes = reader.await.unwrap();
    let mut frames = 0;
    let mut rest = bytes.as_slice();
    let mut last = Vec::new();
    while !rest.is_empty() {
        let (header, len) = crate::ws::frame::FrameHeader::parse(rest).unwrap().unwrap();
        let end = len + header.payload_len as usize;
        last = rest[len..end].to_vec();
        rest = &rest[end..];
        frames += 1;
    }
    assert_eq!(frames, sent + 1, "each frame once and whole");
    assert_eq!(last, b"after");
}

#[tokio::test]
async fn in_a_batch_a_recipient_s_frames_leave_together_at_its_end_or_with_its_task() {
    let budget = Budget::new(usize::MAX);
    let (tx, mut rx) = bounded(8, 1 << 20, budget.clone());
    let (server, mut client) = socket_pair().await;
    rx.attach(server, Arc::default());
    rx.settle(0);

    deferring(|| {
        assert_eq!(tx.try_send_now("a".into()), Ok(()));
        assert_eq!(tx.try_send_now("b".into()), Ok(()));
        let state = rx.shared.lock();
        assert_eq!((state.gate, state.pending.len()), (Gate::Direct, 6), "pending until the batch ends");
        assert!(budget.used() > 0, "charged while pending");
    });
    assert_eq!(read_exactly(&mut client, 6).await, b"\x81\x01a\x81\x01b");
    assert_eq!((rx.shared.lock().gate, budget.used()), (Gate::Idle, 0));

    // The task claims the socket while frames are pending: it writes them, before its own.
    let mut writer = Writer::default();
    deferring(|| {
        assert_eq!(tx.try_send_now("c".into()), Ok(()));
        rx.claim(&mut writer);
        assert_eq!(tx.try_send_now("d".into()), Ok(()), "queued: the task holds the socket");
    });
    assert_eq!(writer.pending(), b"\x81\x01c");
    assert_eq!(rx.try_recv(), Some(text("d")));
    assert_eq!(rx.shared.lock().gate, Gate::Queued);
}
