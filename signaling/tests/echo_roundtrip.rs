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
