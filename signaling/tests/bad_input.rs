//! Malformed and hostile input, at the handshake and in the framing: each gets the exact HTTP status
//! or close code RFC 6455 assigns, the server ends the connection, the metrics record why, and a
//! client connected before (and one connected after) never notices.

mod common;

use common::*;
use signaling::ws::frame::OpCode;
use signaling::ws::handshake::OriginPolicy;
use signaling::{HttpConfig, ServerConfig};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

const PROTOCOL_ERROR: u16 = 1002;
const INVALID_PAYLOAD: u16 = 1007;

/// Headers of a valid upgrade, minus `Host` (the request line and `Host` are added by `request`).
const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
const VERSION_13: &str = "Sec-WebSocket-Version: 13\r\n";

/// `GET /ws` with `Host` and the given header lines.
fn request(headers: &str) -> String {
    format!("GET /ws HTTP/1.1\r\nHost: test\r\n{headers}\r\n")
}

/// A valid upgrade with `Sec-WebSocket-Key: key`.
fn request_with_key(key: &str) -> String {
    request(&format!("{UPGRADE}{VERSION_13}Sec-WebSocket-Key: {key}\r\n"))
}

/// Sends `request` on a raw socket and proves the whole refusal: the response has `status`, the
/// server then closes the connection, the handshake-failure metric counts `reason`, and a client
/// connected before plus a new one still echo. Returns the response for further checks.
async fn assert_refused(config: ServerConfig, request: &[u8], status: u16, reason: &str) -> HttpResponse {
    let server = start_echo(config).await;
    let mut bystander = connect_client(&server.url("/ws")).await;
    let mut stream = connect(server.addr).await;
    send_bytes(&mut stream, request).await;
    let response = read_response(&mut stream, false).await;
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(response.header("Connection"), Some("close"), "a refusal announces the close");
    assert_eq!(read_until_eof(&mut stream).await, b"", "nothing follows the refusal");
    server.wait_for_metric(&format!("signaling_handshake_failures_total{{reason=\"{reason}\"}} 1\n")).await;
    assert!(server.metrics_text().contains("signaling_websockets_total 1\n"), "only the bystander upgraded");
    assert_client_echoes(&mut bystander).await;
    assert_echo_works(&server.url("/ws")).await;
    close_client(bystander).await;
    server.shutdown().await;
    response
}

/// The connection is failed with `code` (see `common::assert_failed_with`), default limits.
async fn assert_failed(bytes: &[u8], code: u16, label: &str) {
    assert_failed_with(ServerConfig::default(), bytes, code, label).await;
}

/// Sends a close frame with a code the peer may use; the server echoes that code (§5.5.1, §7.4.1),
/// ends TCP, and counts a peer-initiated close.
async fn assert_close_echoed(code: u16) {
    let server = start_echo(ServerConfig::default()).await;
    let mut bystander = connect_client(&server.url("/ws")).await;
    let mut stream = raw_websocket(server.addr, "/ws").await;
    send_bytes(&mut stream, &close_frame(code, "bye")).await;
    assert_eq!(expect_close(&mut stream).await, Some(code));
    expect_eof(&mut stream).await;
    drop(stream);
    server.wait_for_metric(&format!("signaling_ws_closes_total{{code=\"{code}\",initiator=\"peer\"}} 1\n")).await;
    server.wait_for_metric("signaling_ws_disconnects_total{reason=\"peer_closed\"} 1\n").await;
    assert_client_echoes(&mut bystander).await;
    assert_echo_works(&server.url("/ws")).await;
    close_client(bystander).await;
    server.shutdown().await;
}

// ---- The opening handshake (RFC 6455 §4.2) ----

/// A TLS ClientHello sent to the plain-text port is not HTTP: 400 (RFC 9112 §2.2, RFC 6455 §4.2.1).
#[tokio::test]
async fn tls_client_hello_gets_400() {
    // The record header and the start of a TLS 1.2 ClientHello.
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03];
    hello.extend((0u8..32).map(|i| i.wrapping_mul(37))); // client random
    hello.extend([0x00, 0x00, 0x04, 0x13, 0x01, 0x13, 0x02, 0x01, 0x00]);
    assert_refused(ServerConfig::default(), &hello, 400, "malformed_request").await;
}

/// Random binary is not HTTP: 400 (RFC 9112 §2.2).
#[tokio::test]
async fn random_binary_gets_400() {
    let noise: Vec<u8> = (0u32..200).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80).collect();
    assert_refused(ServerConfig::default(), &noise, 400, "malformed_request").await;
}

/// A version other than 13 gets 426 naming the version spoken (RFC 6455 §4.2.2 step 4, §4.4).
#[tokio::test]
async fn wrong_websocket_version_gets_426_naming_13() {
    let req = request(&format!("{UPGRADE}Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: {KEY}\r\n"));
    let response = assert_refused(ServerConfig::default(), req.as_bytes(), 426, "version").await;
    assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"));
}

/// An upgrade without `Sec-WebSocket-Key` gets 400 (RFC 6455 §4.2.1 item 5, §4.2.2).
#[tokio::test]
async fn missing_key_gets_400() {
    let req = request(&format!("{UPGRADE}{VERSION_13}"));
    assert_refused(ServerConfig::default(), req.as_bytes(), 400, "missing_key").await;
}

/// A key that is not base64 gets 400 (RFC 6455 §4.2.1 item 5).
#[tokio::test]
async fn key_that_is_not_base64_gets_400() {
    let req = request_with_key("not base64!!");
    assert_refused(ServerConfig::default(), req.as_bytes(), 400, "bad_key").await;
}

/// A key that is base64 of other than 16 bytes gets 400 (RFC 6455 §4.2.1 item 5).
#[tokio::test]
async fn key_of_ten_bytes_gets_400() {
    let req = request_with_key("dGhlIHNhbXBsZQ=="); // "the sample": 10 bytes
    assert_refused(ServerConfig::default(), req.as_bytes(), 400, "bad_key").await;
}

/// An origin outside the allowed list gets 403 (RFC 6455 §4.2.2 step 4, §10.2) and the allowed
/// origin gets 101 on the same server.
#[tokio::test]
async fn disallowed_origin_gets_403_and_allowed_origin_gets_101() {
    let config = ServerConfig {
        http: HttpConfig { allowed_origins: OriginPolicy::parse("https://good.example"), ..HttpConfig::default() },
        ..ServerConfig::default()
    };
    let server = start_echo(config).await;
    let mut bystander = good_origin_client(&server.url("/ws")).await;

    let mut stream = connect(server.addr).await;
    send_bytes(&mut stream, upgrade_request("/ws", "Origin: https://evil.example\r\n").as_bytes()).await;
    let response = read_response(&mut stream, false).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert_eq!(read_until_eof(&mut stream).await, b"");
    server.wait_for_metric("signaling_handshake_failures_total{reason=\"origin\"} 1\n").await;

    let mut good = connect(server.addr).await;
    send_bytes(&mut good, upgrade_request("/ws", "Origin: https://good.example\r\n").as_bytes()).await;
    assert_eq!(status_of(&read_http_head(&mut good).await), 101);
    send_bytes(&mut good, &close_frame(1000, "")).await;
    assert_eq!(expect_close(&mut good).await, Some(1000));

    assert_client_echoes(&mut bystander).await;
    let mut after = good_origin_client(&server.url("/ws")).await;
    assert_client_echoes(&mut after).await;
    close_client(after).await;
    close_client(bystander).await;
    server.shutdown().await;
}

/// A well-behaved client that sends the allowed `Origin`, as a browser on that page would.
async fn good_origin_client(url: &str) -> Client {
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert("Origin", "https://good.example".parse().expect("header value"));
    let connecting = tokio_tungstenite::connect_async(request);
    let (ws, _) = tokio::time::timeout(WAIT, connecting).await.expect("connect in time").expect("connect");
    ws
}

/// A plain GET on the WebSocket path gets 426 with `Upgrade: websocket` (RFC 9110 §15.5.22,
/// RFC 6455 §4.2.2); the connection stays usable (keep-alive) and the idle one is closed after the
/// handshake timeout.
#[tokio::test]
async fn plain_get_on_ws_path_gets_426_then_idle_close() {
    let handshake_timeout = std::time::Duration::from_millis(300);
    let server = start_echo(ServerConfig {
        http: HttpConfig { handshake_timeout, ..HttpConfig::default() },
        ..ServerConfig::default()
    })
    .await;
    let mut bystander = connect_client(&server.url("/ws")).await;
    let mut stream = connect(server.addr).await;
    send_bytes(&mut stream, request("").as_bytes()).await;
    let response = read_response(&mut stream, false).await;
    assert_eq!(response.status, 426, "{response:?}");
    assert_eq!(response.header("Upgrade"), Some("websocket"));
    assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"));
    // Keep-alive: a second request on the same connection is answered too.
    send_bytes(&mut stream, b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert_eq!(read_response(&mut stream, false).await.status, 200);
    // Left idle, the server ends it after the handshake timeout, without a response.
    assert_eq!(read_until_eof(&mut stream).await, b"");
    server.wait_for_metric("signaling_http_requests_total 2\n").await;
    assert!(!server.metrics_text().contains("signaling_handshake_failures_total{"), "idle close is no failure");
    assert_client_echoes(&mut bystander).await;
    assert_echo_works(&server.url("/ws")).await;
    close_client(bystander).await;
    server.shutdown().await;
}

/// A plain GET on the WebSocket path with `Connection: close` gets 426 and the server closes
/// (RFC 9112 §9.6).
#[tokio::test]
async fn plain_get_on_ws_path_with_connection_close_gets_426_and_eof() {
    let server = start_echo(ServerConfig::default()).await;
    let mut bystander = connect_client(&server.url("/ws")).await;
    let mut stream = connect(server.addr).await;
    send_bytes(&mut stream, request("Connection: close\r\n").as_bytes()).await;
    let response = read_response(&mut stream, false).await;
    assert_eq!(response.status, 426, "{response:?}");
    assert_eq!(response.header("Upgrade"), Some("websocket"));
    assert_eq!(read_until_eof(&mut stream).await, b"");
    server.wait_for_metric("signaling_http_requests_total 1\n").await;
    assert_client_echoes(&mut bystander).await;
    assert_echo_works(&server.url("/ws")).await;
    close_client(bystander).await;
    server.shutdown().await;
}

// ---- Framing (RFC 6455 §5) ----

/// An unmasked client frame fails the connection with 1002 (§5.1).
#[tokio::test]
async fn unmasked_frame_fails_with_1002() {
    assert_failed(&unmasked_frame(OpCode::Text, b"hi"), PROTOCOL_ERROR, "unmasked_frame").await;
}

/// RSV1 set with no extension negotiated fails the connection with 1002 (§5.2).
#[tokio::test]
async fn rsv1_bit_fails_with_1002() {
    assert_failed(&client_frame_with_first_byte(0x80 | 0x40 | 0x1, b"hi"), PROTOCOL_ERROR, "reserved_bits").await;
}

/// RSV2 set with no extension negotiated fails the connection with 1002 (§5.2).
#[tokio::test]
async fn rsv2_bit_fails_with_1002() {
    assert_failed(&client_frame_with_first_byte(0x80 | 0x20 | 0x1, b"hi"), PROTOCOL_ERROR, "reserved_bits").await;
}

/// RSV3 set, on a control frame, fails the connection with 1002 (§5.2).
#[tokio::test]
async fn rsv3_bit_on_ping_fails_with_1002() {
    assert_failed(&client_frame_with_first_byte(0x80 | 0x10 | 0x9, b"hi"), PROTOCOL_ERROR, "reserved_bits").await;
}

/// Reserved data opcode 0x3 fails the connection with 1002 (§5.2).
#[tokio::test]
async fn reserved_opcode_3_fails_with_1002() {
    assert_failed(&client_frame_with_first_byte(0x80 | 0x3, b""), PROTOCOL_ERROR, "reserved_opcode").await;
}

/// Reserved control opcode 0xB fails the connection with 1002 (§5.2).
#[tokio::test]
async fn reserved_opcode_0xb_fails_with_1002() {
    assert_failed(&client_frame_with_first_byte(0x80 | 0xB, b""), PROTOCOL_ERROR, "reserved_opcode").await;
}

/// A ping with FIN=0 (a fragmented control frame) fails the connection with 1002 (§5.5).
#[tokio::test]
async fn fragmented_ping_fails_with_1002() {
    assert_failed(&client_frame(false, OpCode::Ping, b"p"), PROTOCOL_ERROR, "fragmented_control").await;
}

/// A ping with 126 bytes of payload (over 125) fails the connection with 1002 (§5.5).
#[tokio::test]
async fn ping_of_126_bytes_fails_with_1002() {
    assert_failed(&client_frame(true, OpCode::Ping, &[7; 126]), PROTOCOL_ERROR, "control_too_long").await;
}

/// A 64-bit payload length with its most significant bit set fails the connection with 1002 (§5.2).
#[tokio::test]
async fn length_with_top_bit_set_fails_with_1002() {
    let header = [0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
    assert_failed(&header, PROTOCOL_ERROR, "length_overflow").await;
}

/// A continuation frame with no message to continue fails the connection with 1002 (§5.4).
#[tokio::test]
async fn continuation_without_a_message_fails_with_1002() {
    let frame = client_frame(true, OpCode::Continuation, b"orphan");
    assert_failed(&frame, PROTOCOL_ERROR, "unexpected_continuation").await;
}

/// A new data frame inside a fragmented message fails the connection with 1002 (§5.4).
#[tokio::test]
async fn new_data_frame_inside_a_fragmented_message_fails_with_1002() {
    let frames = [client_frame(false, OpCode::Text, b"first half"), client_frame(true, OpCode::Binary, b"intruder")];
    assert_failed(&frames.concat(), PROTOCOL_ERROR, "expected_continuation").await;
}

// ---- UTF-8 (RFC 6455 §8.1) ----

/// Invalid UTF-8 in a single-frame text message fails the connection with 1007 (§8.1, §7.4.1).
#[tokio::test]
async fn invalid_utf8_in_one_frame_fails_with_1007() {
    let frame = client_frame(true, OpCode::Text, b"caf\xc3\x28");
    assert_failed(&frame, INVALID_PAYLOAD, "invalid_utf8").await;
}

/// Invalid UTF-8 split across fragments (0xCE, then 0xFF) fails the connection with 1007 (§8.1).
#[tokio::test]
async fn invalid_utf8_split_across_fragments_fails_with_1007() {
    let frames = [client_frame(false, OpCode::Text, b"ok \xce"), client_frame(true, OpCode::Continuation, b"\xff")];
    assert_failed(&frames.concat(), INVALID_PAYLOAD, "invalid_utf8").await;
}

/// Invalid UTF-8 fails the connection as soon as it arrives, before the message is complete (§8.1):
/// the final fragment is never sent.
#[tokio::test]
async fn invalid_utf8_fails_before_the_message_completes() {
    let frames = [client_frame(false, OpCode::Text, b"\xce"), client_frame(false, OpCode::Continuation, b"\xff")];
    assert_failed(&frames.concat(), INVALID_PAYLOAD, "invalid_utf8").await;
}

/// A close reason that is not UTF-8 fails the connection with 1007 (§5.5.1, §8.1).
#[tokio::test]
async fn close_reason_with_invalid_utf8_fails_with_1007() {
    let frame = client_frame(true, OpCode::Close, b"\x03\xe8bad \xff");
    assert_failed(&frame, INVALID_PAYLOAD, "invalid_utf8").await;
}

/// A valid 2-byte character split across two fragments is accepted and echoed whole (§5.4, §8.1).
#[tokio::test]
async fn valid_character_split_across_fragments_is_echoed() {
    let server = start_echo(ServerConfig::default()).await;
    let mut stream = raw_websocket(server.addr, "/ws").await;
    let kappa = "κ".as_bytes(); // 0xCE 0xBA
    let frames =
        [client_frame(false, OpCode::Text, &kappa[..1]), client_frame(true, OpCode::Continuation, &kappa[1..])];
    send_bytes(&mut stream, &frames.concat()).await;
    let (header, payload) = read_frame(&mut stream).await.expect("the echo");
    assert_eq!((header.opcode, header.fin), (OpCode::Text, true));
    assert_eq!(payload, kappa);
    send_bytes(&mut stream, &close_frame(1000, "")).await;
    assert_eq!(expect_close(&mut stream).await, Some(1000));
    expect_eof(&mut stream).await;
    server.wait_for_metric("signaling_messages_in_total 1\n").await;
    server.wait_for_metric("signaling_ws_disconnects_total{reason=\"peer_closed\"} 1\n").await;
    assert_echo_works(&server.url("/ws")).await;
    server.shutdown().await;
}

// ---- The close handshake (RFC 6455 §5.5.1, §7.4) ----

/// Close code 1005 must never be sent on the wire (§7.4.1): 1002.
#[tokio::test]
async fn close_code_1005_fails_with_1002() {
    assert_failed(&close_frame(1005, ""), PROTOCOL_ERROR, "invalid_close_code").await;
}

/// Close code 1006 must never be sent on the wire (§7.4.1): 1002.
#[tokio::test]
async fn close_code_1006_fails_with_1002() {
    assert_failed(&close_frame(1006, ""), PROTOCOL_ERROR, "invalid_close_code").await;
}

/// Close code 999 is below every defined range (§7.4.2): 1002.
#[tokio::test]
async fn close_code_999_fails_with_1002() {
    assert_failed(&close_frame(999, ""), PROTOCOL_ERROR, "invalid_close_code").await;
}

/// Close code 2999 is reserved for future protocol revisions (§7.4.2): 1002.
#[tokio::test]
async fn close_code_2999_fails_with_1002() {
    assert_failed(&close_frame(2999, ""), PROTOCOL_ERROR, "invalid_close_code").await;
}

/// Close code 5000 is above every defined range (§7.4.2): 1002.
#[tokio::test]
async fn close_code_5000_fails_with_1002() {
    assert_failed(&close_frame(5000, ""), PROTOCOL_ERROR, "invalid_close_code").await;
}

/// A close frame with a 1-byte body (half a status code) fails with 1002 (§5.5.1).
#[tokio::test]
async fn close_with_one_byte_body_fails_with_1002() {
    assert_failed(&client_frame(true, OpCode::Close, &[0x03]), PROTOCOL_ERROR, "close_too_short").await;
}

/// Close 1000 is echoed with the same code (§5.5.1, §7.4.1).
#[tokio::test]
async fn close_code_1000_is_echoed() {
    assert_close_echoed(1000).await;
}

/// Close 3000, the first code of the registered-application range, is echoed (§7.4.2).
#[tokio::test]
async fn close_code_3000_is_echoed() {
    assert_close_echoed(3000).await;
}

/// Close 4999, the last code of the private-use range, is echoed (§7.4.2).
#[tokio::test]
async fn close_code_4999_is_echoed() {
    assert_close_echoed(4999).await;
}

// ---- Control frames (RFC 6455 §5.5.2–§5.5.3) ----

/// A ping is answered by a pong with the same payload, up to the 125-byte maximum (§5.5.2, §5.5.3).
#[tokio::test]
async fn ping_is_answered_with_pong_of_the_same_payload() {
    let server = start_echo(ServerConfig::default()).await;
    let mut stream = raw_websocket(server.addr, "/ws").await;
    let largest: Vec<u8> = (0u8..125).collect();
    for payload in [&b"are you there"[..], &[][..], &largest[..]] {
        send_bytes(&mut stream, &client_frame(true, OpCode::Ping, payload)).await;
        let (header, echoed) = read_frame(&mut stream).await.expect("a pong");
        assert_eq!((header.opcode, header.fin, header.mask), (OpCode::Pong, true, None));
        assert_eq!(echoed, payload);
    }
    send_bytes(&mut stream, &close_frame(1000, "")).await;
    assert_eq!(expect_close(&mut stream).await, Some(1000));
    expect_eof(&mut stream).await;
    server.wait_for_metric("signaling_ws_closes_total{code=\"1000\",initiator=\"peer\"} 1\n").await;
    assert!(server.metrics_text().contains("signaling_messages_in_total 0\n"), "pings are not messages");
    assert_echo_works(&server.url("/ws")).await;
    server.shutdown().await;
}
