//! Limits and timeouts: oversized messages and heads, slow trickles, too many connections, peers that
//! stop reading or vanish, and graceful shutdown. Each costs the server bounded time and memory, is
//! counted, and never disturbs another client. Limits are set small so the tests are quick.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::StreamExt as _;
use signaling::ws::frame::OpCode;
use signaling::{HttpConfig, ServerConfig, WsConfig};
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::Message as TMessage;

const MESSAGE_TOO_BIG: u16 = 1009;

fn with_ws(ws: WsConfig) -> ServerConfig {
    ServerConfig { http: HttpConfig { ws: Arc::new(ws), ..HttpConfig::default() }, ..ServerConfig::default() }
}

fn small_messages() -> ServerConfig {
    with_ws(WsConfig { max_message_size: 1024, ..WsConfig::default() })
}

// ---- Message size (RFC 6455 §7.4.1: 1009) ----

/// The connection is failed with 1009 (see `common::assert_failed_with`) under a 1 KiB limit.
async fn assert_too_big(bytes: &[u8]) {
    assert_failed_with(small_messages(), bytes, MESSAGE_TOO_BIG, "message_too_big").await;
}

/// A 2000-byte single-frame message over a 1024-byte limit fails with 1009 (§7.4.1, §10.4).
#[tokio::test]
async fn single_frame_over_the_message_limit_fails_with_1009() {
    assert_too_big(&client_frame(true, OpCode::Binary, &[1; 2000])).await;
}

/// Fragments of 600 bytes each, together over a 1024-byte limit, fail with 1009 (§5.4, §10.4).
#[tokio::test]
async fn fragments_together_over_the_message_limit_fail_with_1009() {
    let frames =
        [client_frame(false, OpCode::Text, &[b'a'; 600]), client_frame(true, OpCode::Continuation, &[b'b'; 600])];
    assert_too_big(&frames.concat()).await;
}

/// A message of exactly the limit, whole or in fragments, is accepted and echoed (§5.4).
#[tokio::test]
async fn message_of_exactly_the_limit_is_echoed() {
    let server = start_echo(small_messages()).await;
    let mut stream = raw_websocket(server.addr, "/ws").await;
    send_bytes(&mut stream, &client_frame(true, OpCode::Binary, &[9; 1024])).await;
    let (header, payload) = read_frame(&mut stream).await.expect("the echo");
    assert_eq!((header.opcode, payload.len()), (OpCode::Binary, 1024));
    let frames =
        [client_frame(false, OpCode::Text, &[b'a'; 512]), client_frame(true, OpCode::Continuation, &[b'b'; 512])];
    send_bytes(&mut stream, &frames.concat()).await;
    let (header, payload) = read_frame(&mut stream).await.expect("the echo");
    assert_eq!(header.opcode, OpCode::Text);
    assert_eq!(payload, [[b'a'; 512], [b'b'; 512]].concat());
    send_bytes(&mut stream, &close_frame(1000, "")).await;
    assert_eq!(expect_close(&mut stream).await, Some(1000));
    server.wait_for_metric("signaling_messages_out_total 2\n").await;
    server.shutdown().await;
}

// ---- Request heads (RFC 6585 §5: 431; RFC 9110 §15.5.9: 408) ----

/// Sends `request` and proves it is refused with `status` and closed, counted as `reason`, while a
/// client connected before and a new one still echo.
async fn assert_head_refused(config: ServerConfig, request: &[u8], status: u16, reason: &str) {
    let server = start_echo(config).await;
    let mut bystander = connect_client(&server.url("/ws")).await;
    let mut stream = connect(server.addr).await;
    send_bytes(&mut stream, request).await;
    let response = read_response(&mut stream, false).await;
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(response.header("Connection"), Some("close"));
    read_until_eof(&mut stream).await;
    server.wait_for_metric(&format!("signaling_handshake_failures_total{{reason=\"{reason}\"}} 1\n")).await;
    assert_client_echoes(&mut bystander).await;
    assert_echo_works(&server.url("/ws")).await;
    close_client(bystander).await;
    server.shutdown().await;
}

/// A 4 KiB header over a 1 KiB head limit gets 431 (RFC 6585 §5).
#[tokio::test]
async fn header_over_the_head_limit_gets_431() {
    let config =
        ServerConfig { http: HttpConfig { max_header_size: 1024, ..HttpConfig::default() }, ..ServerConfig::default() };
    let request = upgrade_request("/ws", &format!("X-Padding: {}\r\n", "p".repeat(4096)));
    assert_head_refused(config, request.as_bytes(), 431, "header_too_large").await;
}

/// More header fields than the server keeps (64), though small in bytes, get 431 (RFC 6585 §5).
#[tokio::test]
async fn too_many_headers_get_431() {
    let extra: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    let request = upgrade_request("/ws", &extra);
    assert!(request.len() < ServerConfig::default().http.max_header_size, "only the count is over");
    assert_head_refused(ServerConfig::default(), request.as_bytes(), 431, "header_too_large").await;
}

/// A head trickled one byte every 50 ms gets 408 once the 300 ms handshake timeout passes, long
/// before the trickle would finish (RFC 9110 §15.5.9; the slowloris defence).
#[tokio::test]
async fn header_trickle_gets_408_at_the_handshake_timeout() {
    let handshake_timeout = Duration::from_millis(300);
    let server = start_echo(ServerConfig {
        http: HttpConfig { handshake_timeout, ..HttpConfig::default() },
        ..ServerConfig::default()
    })
    .await;
    let mut bystander = connect_client(&server.url("/ws")).await;
    let mut stream = connect(server.addr).await;
    let request = upgrade_request("/ws", "");
    let started = Instant::now();
    let mut sent = 0;
    // Trickle until the server answers; stop writing then, so the answer is not lost to a reset.
    loop {
        tokio::select! {
            ready = stream.readable() => break ready.expect("readable"),
            () = sleep(Duration::from_millis(50)) => {
                assert!(sent < request.len(), "the whole request trickled in without an answer");
                send_bytes(&mut stream, &request.as_bytes()[sent..=sent]).await;
                sent += 1;
            }
        }
    }
    let response = read_response(&mut stream, false).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status, 408, "{response:?}");
    assert!(elapsed >= handshake_timeout, "answered after {elapsed:?}, before the timeout");
    assert!(elapsed < Duration::from_secs(2), "answered after {elapsed:?}");
    assert!(sent < request.len() / 2, "sent {sent} of {} bytes", request.len());
    read_until_eof(&mut stream).await;
    server.wait_for_metric("signaling_handshake_failures_total{reason=\"timeout\"} 1\n").await;
    assert_client_echoes(&mut bystander).await;
    assert_echo_works(&server.url("/ws")).await;
    close_client(bystander).await;
    server.shutdown().await;
}

// ---- Connection cap ----

/// With `max_connections` = 2 and two open, a third connection gets 503 and is closed; once one of
/// the two leaves, a new client connects (RFC 9110 §15.6.4).
#[tokio::test]
async fn connection_over_the_cap_gets_503_until_a_slot_frees() {
    let server = start_echo(ServerConfig { max_connections: 2, ..ServerConfig::default() }).await;
    let mut first = connect_client(&server.url("/ws")).await;
    let mut second = connect_client(&server.url("/ws")).await;
    server.wait_for_metric("signaling_connections_open 2\n").await;

    let mut third = connect(server.addr).await;
    send_bytes(&mut third, upgrade_request("/ws", "").as_bytes()).await;
    let response = read_response(&mut third, false).await;
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.header("Retry-After"), Some("5"));
    read_until_eof(&mut third).await;
    server.wait_for_metric("signaling_connections_refused_total 1\n").await;

    assert_client_echoes(&mut first).await;
    assert_client_echoes(&mut second).await;
    close_client(first).await;
    server.wait_for_metric("signaling_connections_open 1\n").await;
    assert_echo_works(&server.url("/ws")).await;
    assert_client_echoes(&mut second).await;
    close_client(second).await;
    server.shutdown().await;
}

// ---- A peer that stops reading ----

/// Opens a raw WebSocket with tiny socket buffers, so a peer that stops reading is felt at once.
async fn tiny_buffered_websocket(server: &TestServer) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.set_send_buffer_size(4096).expect("SO_SNDBUF");
    let mut stream = timeout(WAIT, socket.connect(server.addr)).await.expect("connect in time").expect("connect");
    send_bytes(&mut stream, upgrade_request("/ws", "").as_bytes()).await;
    assert_eq!(status_of(&read_http_head(&mut stream).await), 101);
    stream
}

/// Sends up to 200 × 32 KiB text messages and reads nothing back; returns when the server stops
/// taking them (a write blocks for 300 ms) or they are all sent, or the server resets.
async fn flood_without_reading(stream: &mut TcpStream) -> usize {
    let frame = client_frame(true, OpCode::Text, &[b'x'; 32 * 1024]);
    let mut sent = 0;
    while sent < 200 {
        match timeout(Duration::from_millis(300), tokio::io::AsyncWriteExt::write_all(stream, &frame)).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(_)) | Err(_) => break,
        }
    }
    sent
}

/// Proves a peer that stops reading is disconnected (`slow_consumer`, no close frame: it would not
/// be read) within `send_timeout` plus slack, with another client unaffected during and after.
async fn assert_slow_consumer_cut(ws: WsConfig) {
    let send_timeout = ws.send_timeout;
    let server = start_echo(with_ws(ws)).await;
    let mut bystander = connect_client(&server.url("/ws")).await;
    let mut stream = tiny_buffered_websocket(&server).await;
    let sent = flood_without_reading(&mut stream).await;
    let stopped = Instant::now();
    assert!(sent > 2, "the server took only {sent} messages");
    assert_client_echoes(&mut bystander).await; // during the stall
    server.wait_for_metric("signaling_ws_disconnects_total{reason=\"slow_consumer\"} 1\n").await;
    let elapsed = stopped.elapsed();
    assert!(elapsed < send_timeout + Duration::from_secs(2), "cut after {elapsed:?}");
    server.wait_for_metric("signaling_ws_closes_total{code=\"1006\",initiator=\"none\"} 1\n").await;
    // What was in flight can still be read; then the connection is gone (EOF or reset).
    expect_eof(&mut stream).await;
    assert_client_echoes(&mut bystander).await; // after
    assert_echo_works(&server.url("/ws")).await;
    server.wait_for_metric("signaling_websockets_open 1\n").await;
    close_client(bystander).await;
    server.shutdown().await;
}

/// A peer that stops reading is cut after `send_timeout` (500 ms) with the default 15 s ping
/// interval: the stall alone must arm the timer (bounded memory per peer, STYLE "bounded everything").
#[tokio::test]
async fn peer_that_stops_reading_is_cut_after_send_timeout() {
    let ws =
        WsConfig { max_outbound_bytes: 64 * 1024, send_timeout: Duration::from_millis(500), ..WsConfig::default() };
    assert_slow_consumer_cut(ws).await;
}

/// A peer that stops reading is cut as `slow_consumer` when the keepalive timer ticks often
/// (ping interval 200 ms < send timeout 500 ms), so the stall check runs in time.
#[tokio::test]
async fn peer_that_stops_reading_is_cut_with_a_short_ping_interval() {
    let ws = WsConfig {
        max_outbound_bytes: 64 * 1024,
        send_timeout: Duration::from_millis(500),
        ping_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(30),
        ..WsConfig::default()
    };
    assert_slow_consumer_cut(ws).await;
}

// ---- A peer that vanishes, and one that answers pings ----

fn fast_keepalive() -> ServerConfig {
    with_ws(WsConfig {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(400),
        close_timeout: Duration::from_millis(300),
        ..WsConfig::default()
    })
}

/// Keeps reading `client` in a task, which makes tungstenite answer the server's pings, until told
/// to stop; then hands the client back with the number of pings seen.
fn keep_reading(mut client: Client) -> (oneshot::Sender<()>, JoinHandle<(Client, usize)>) {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut pings = 0;
        loop {
            tokio::select! {
                _ = &mut stopped => return (client, pings),
                message = client.next() => match message {
                    Some(Ok(TMessage::Ping(_))) => pings += 1,
                    other => panic!("the client got {other:?} while idle"),
                },
            }
        }
    });
    (stop, task)
}

/// A peer that completes the handshake and then never answers (half-open: no FIN, no pongs) is
/// ended as `idle_timeout` after the idle timeout, having been pinged first (RFC 6455 §5.5.2).
#[tokio::test]
async fn silent_peer_is_reaped_after_the_idle_timeout() {
    let server = start_echo(fast_keepalive()).await;
    let (stop, reader) = keep_reading(connect_client(&server.url("/ws")).await);
    let mut silent = raw_websocket(server.addr, "/ws").await;
    let started = Instant::now();
    server.wait_for_metric("signaling_ws_disconnects_total{reason=\"idle_timeout\"} 1\n").await;
    let elapsed = started.elapsed();
    // Idle timeout (400 ms) + close timeout (300 ms, waiting for a reply that never comes) + slack.
    assert!(elapsed >= Duration::from_millis(400), "reaped after {elapsed:?}, before the idle timeout");
    assert!(elapsed < Duration::from_secs(2), "reaped after {elapsed:?}");
    server.wait_for_metric("signaling_websockets_open 1\n").await;
    server.wait_for_metric("signaling_connections_open 1\n").await;
    // The silent peer never read; what waits in its buffer is pings, then a 1001 close, then EOF.
    let frames = parse_frames(&read_until_eof(&mut silent).await);
    let (last, pings) = frames.split_last().expect("frames were sent");
    assert!(pings.len() >= 2, "only {} pings before the idle timeout", pings.len());
    assert!(pings.iter().all(|(header, _)| header.opcode == OpCode::Ping), "{frames:?}");
    assert_eq!(last.0.opcode, OpCode::Close);
    assert_eq!(last.1[..2], 1001u16.to_be_bytes());
    server.wait_for_metric("signaling_ws_closes_total{code=\"1001\",initiator=\"server\"} 1\n").await;
    let _ = stop.send(());
    let (mut bystander, _) = reader.await.expect("reader task");
    assert_client_echoes(&mut bystander).await;
    assert_echo_works(&server.url("/ws")).await;
    close_client(bystander).await;
    server.shutdown().await;
}

/// A client that answers pings (tungstenite does while it is read) stays connected across many
/// ping intervals and idle timeouts (RFC 6455 §5.5.2–§5.5.3).
#[tokio::test]
async fn client_answering_pings_stays_connected() {
    let server = start_echo(fast_keepalive()).await;
    let (stop, reader) = keep_reading(connect_client(&server.url("/ws")).await);
    sleep(Duration::from_millis(1200)).await; // 12 ping intervals, 3 idle timeouts
    let _ = stop.send(());
    let (mut client, pings) = reader.await.expect("reader task");
    assert!(pings >= 5, "only {pings} pings in 1.2 s");
    assert_client_echoes(&mut client).await;
    let metrics = server.metrics_text();
    assert!(metrics.contains("signaling_websockets_open 1\n"), "{metrics}");
    assert!(!metrics.contains("signaling_ws_disconnects_total{"), "{metrics}");
    close_client(client).await;
    server.shutdown().await;
}

// ---- Graceful shutdown ----

/// On shutdown, a connected client gets close 1001 "going away" (RFC 6455 §7.4.1), the shutdown
/// finishes in bounded time, and the port takes no new connections.
#[tokio::test]
async fn shutdown_closes_clients_with_1001() {
    let server = start_echo(ServerConfig::default()).await;
    let addr = server.addr;
    let metrics = server.metrics.clone();
    let mut client = connect_client(&server.url("/ws")).await;
    let mut raw = raw_websocket(addr, "/ws").await;
    let started = Instant::now();
    let shutdown = tokio::spawn(server.shutdown());
    match timeout(WAIT, client.next()).await.expect("close in time") {
        Some(Ok(TMessage::Close(Some(frame)))) => assert_eq!(frame.code, TCloseCode::Away),
        other => panic!("expected close 1001, got {other:?}"),
    }
    // tungstenite answers the close as it reads on; then the server ends the connection, and the
    // client closes its side (drop), as a browser does.
    while let Some(Ok(_)) = timeout(WAIT, client.next()).await.expect("end in time") {}
    drop(client);
    assert_eq!(expect_close(&mut raw).await, Some(1001));
    send_bytes(&mut raw, &close_frame(1001, "")).await;
    expect_eof(&mut raw).await;
    drop(raw);
    timeout(WAIT, shutdown).await.expect("shutdown in time").expect("shutdown task");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "shutdown took {elapsed:?}");
    let text = metrics.render();
    assert!(text.contains("signaling_ws_closes_total{code=\"1001\",initiator=\"server\"} 2\n"), "{text}");
    assert!(text.contains("signaling_ws_disconnects_total{reason=\"going_away\"} 2\n"), "{text}");
    assert!(text.contains("signaling_websockets_open 0\n"), "{text}");
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
}

/// A raw client that reads nothing more after the handshake still lets shutdown finish within the
/// close timeout plus slack, not the whole grace period (RFC 6455 §7.1.1 server closes first).
#[tokio::test]
async fn shutdown_is_bounded_with_an_unresponsive_client() {
    let ws = WsConfig { close_timeout: Duration::from_millis(300), ..WsConfig::default() };
    let server = start_echo(with_ws(ws)).await;
    let metrics = server.metrics.clone();
    let mut raw = raw_websocket(server.addr, "/ws").await;
    let started = Instant::now();
    server.shutdown().await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "shutdown took {elapsed:?}");
    assert!(metrics.render().contains("signaling_ws_disconnects_total{reason=\"going_away\"} 1\n"));
    assert_eq!(expect_close(&mut raw).await, Some(1001));
    let mut rest = Vec::new();
    let _ = timeout(WAIT, raw.read_to_end(&mut rest)).await.expect("closed in time");
}

/// Once the close handshake the server started is complete (its 1001 sent, the client's close
/// received), the server closes TCP at once (RFC 6455 §7.1.1: "MUST close the underlying TCP
/// connection immediately"), so shutdown does not wait out the close timeout (3 s) for a client
/// that answered but has not closed its socket yet.
#[tokio::test]
async fn server_closes_tcp_once_the_close_handshake_completes() {
    let server = start_echo(ServerConfig::default()).await;
    let metrics = server.metrics.clone();
    let mut raw = raw_websocket(server.addr, "/ws").await;
    let started = Instant::now();
    let shutdown = tokio::spawn(server.shutdown());
    assert_eq!(expect_close(&mut raw).await, Some(1001));
    send_bytes(&mut raw, &close_frame(1001, "")).await;
    expect_eof(&mut raw).await;
    timeout(WAIT, shutdown).await.expect("shutdown in time").expect("shutdown task");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(1), "shutdown took {elapsed:?} though the handshake was done");
    assert!(metrics.render().contains("signaling_ws_disconnects_total{reason=\"going_away\"} 1\n"));
    drop(raw);
}
