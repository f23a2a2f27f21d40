//! An independent client (tokio-tungstenite) talks to our server: text, binary, ping, fragments, close.

mod common;

use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use signaling::ServerConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn text_binary_and_ping_round_trip_then_clean_close() {
    let server = start_echo(ServerConfig::default()).await;
    let (mut ws, response) = tokio_tungstenite::connect_async(server.url("/ws")).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text("hello κόσμε")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello κόσμε"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(vec![0u8, 1, 2, 255]));
    ws.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Pong(b"are you there".to_vec().into()));
    let big = "x".repeat(200_000);
    ws.send(Message::text(big.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(big));
    ws.close(Some(CloseFrame { code: TCloseCode::Normal, reason: "bye".into() })).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, TCloseCode::Normal),
        other => panic!("expected the close echoed, got {other:?}"),
    }
    assert!(ws.next().await.is_none(), "server ends the connection after the close handshake");
    server.wait_for_metric("signaling_ws_closes_total{code=\"1000\",initiator=\"peer\"} 1").await;
    server.wait_for_metric("signaling_messages_in_total 3\n").await;
    server.wait_for_metric("signaling_messages_out_total 3\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn frames_pipelined_behind_the_handshake_are_not_lost() {
    let server = start_echo(ServerConfig::default()).await;
    let mut stream = connect(server.addr).await;
    let mut bytes = upgrade_request("/ws", "").into_bytes();
    bytes.extend(client_frame(true, signaling::ws::frame::OpCode::Text, b"early"));
    tokio::io::AsyncWriteExt::write_all(&mut stream, &bytes).await.unwrap();
    let head = read_http_head(&mut stream).await;
    assert_eq!(status_of(&head), 101);
    let (header, payload) = read_frame(&mut stream).await.unwrap();
    assert_eq!(header.opcode, signaling::ws::frame::OpCode::Text);
    assert_eq!(payload, b"early");
    drop(stream);
    server.shutdown().await;
}

/// A large reply leaves straight from the read buffer (write-through); a client that reads
/// nothing for a while fills its socket, so those writes go through in part and the rest waits
/// in the write buffer, and the server stops reading once that is full. Every message still
/// comes back whole and in order.
#[tokio::test]
async fn large_echoes_to_a_client_that_reads_late_come_back_whole_and_in_order() {
    const COUNT: usize = 32;
    const SIZE: usize = 512 * 1024;
    let message = |n: usize| Message::binary((0..SIZE).map(|i| (i * 7 + n) as u8).collect::<Vec<u8>>());
    let server = start_echo(ServerConfig::default()).await;
    let (ws, _) = tokio_tungstenite::connect_async(server.url("/ws")).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let (sent, all_sent) = tokio::sync::oneshot::channel();
    let sender = tokio::spawn(async move {
        for n in 0..COUNT {
            tx.send(message(n)).await.unwrap();
        }
        let _ = sent.send(());
        tx
    });
    // Read nothing until the sender is through, or held up by the server's backpressure: 16 MiB
    // of echoes is more than the sockets between us hold (loopback buffers grow to a few MiB).
    let _ = tokio::time::timeout(std::time::Duration::from_millis(300), all_sent).await;
    for n in 0..COUNT {
        let got = tokio::time::timeout(WAIT, rx.next()).await.expect("an echo in time").unwrap().unwrap();
        assert!(got == message(n), "message {n} came back changed or out of order");
    }
    let mut ws = sender.await.unwrap().reunite(rx).unwrap();
    ws.close(None).await.unwrap();
    server.wait_for_metric(&format!("signaling_messages_out_total {COUNT}\n")).await;
    server.shutdown().await;
}
