//! A client that pipelines thousands of plain HTTP requests and reads none of the answers holds
//! its connection only for the write timeout, then it is closed; others are served meanwhile.
//! (Without a write timeout, 8,928 pipelined `/metrics` left unread held a connection for good.)

mod common;

use std::time::Duration;

use common::*;
use signaling::{HttpConfig, ServerConfig};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpSocket;
use tokio::time::timeout;

#[tokio::test]
async fn a_client_that_reads_no_responses_is_closed_after_the_write_timeout() {
    let http = HttpConfig { write_timeout: Duration::from_secs(1), ..HttpConfig::default() };
    let server = start_echo(ServerConfig { http, ..ServerConfig::default() }).await;

    // A small receive buffer, so the server's responses fill it at once.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = timeout(WAIT, socket.connect(server.addr)).await.expect("connect in time").expect("connect");
    let requests = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n".repeat(3_000);
    // Written by a task: once the server stops reading, this write may never finish.
    let writer = tokio::spawn(async move {
        let _ = timeout(WAIT, stream.write_all(requests.as_bytes())).await;
        stream
    });
    server.wait_for_metric("signaling_connections_open 1\n").await;

    // Served meanwhile.
    let health = http_get(server.addr, "/healthz").await;
    assert_eq!(health.status, 200);
    // The reader of nothing is closed within the write timeout (bounded wait).
    server.wait_for_metric("signaling_connections_open 0\n").await;
    let held = writer.await.expect("writer task");
    drop(held);
    server.shutdown().await;
}
