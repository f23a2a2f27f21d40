//! Per-address connection limits against the real server: one address holding its allowance of
//! connections is refused with 429 while other addresses connect; a cap held by one client still
//! leaves `/healthz` reachable for others; behind a trusted proxy the forwarded client is counted,
//! and nobody else's `X-Forwarded-For` is believed. Clients take distinct addresses of 127.0.0.0/8.

mod common;

use common::*;
use signaling::address::{AddressConfig, Limits, TrustedProxies};
use signaling::ServerConfig;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

const ATTACKER: &str = "127.0.0.2";
const BYSTANDER: &str = "127.0.0.3";

fn with_limits(limits: Limits, trusted: &str) -> ServerConfig {
    ServerConfig {
        addresses: AddressConfig { limits, trusted_proxies: TrustedProxies::parse(trusted).expect("CIDR list") },
        ..ServerConfig::default()
    }
}

fn connections_per_address(connections: u32) -> Limits {
    Limits { connections, ..AddressConfig::default().limits }
}

/// A raw upgrade from `local` with extra headers; the response head.
async fn upgrade_from(local: &str, server: &TestServer, extra: &str) -> (TcpStream, String) {
    let mut stream = connect_from(local, server.addr).await;
    stream.write_all(upgrade_request("/ws", extra).as_bytes()).await.expect("write upgrade");
    let head = read_http_head(&mut stream).await;
    (stream, head)
}

/// A WebSocket echoes one frame.
async fn echoes(stream: &mut TcpStream) {
    send_bytes(stream, &client_frame(true, signaling::ws::frame::OpCode::Text, b"still here")).await;
    let (_, payload) = read_frame(stream).await.expect("the echo");
    assert_eq!(payload, b"still here");
}

/// Three WebSockets from one address with a limit of three: the fourth connection gets 429 with
/// `Retry-After` before it sends anything, and is counted; another address connects and echoes;
/// once the attacker closes one, it may connect again.
#[tokio::test]
async fn connections_over_the_per_address_limit_get_429_and_other_addresses_connect() {
    let server = start_echo(with_limits(connections_per_address(3), "")).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(raw_websocket_from(ATTACKER, server.addr, "/ws").await);
    }
    let mut refused = connect_from(ATTACKER, server.addr).await;
    let response = read_response(&mut refused, false).await;
    assert_eq!(response.status, 429, "{response:?}");
    assert_eq!(response.header("Retry-After"), Some("5"));
    assert_eq!(response.body_text(), "too many connections from your address\r\n");
    server.wait_for_metric("signaling_address_refusals_total{limit=\"connections\"} 1\n").await;

    let mut bystander = raw_websocket_from(BYSTANDER, server.addr, "/ws").await;
    echoes(&mut bystander).await;
    for stream in &mut held {
        echoes(stream).await;
    }
    let first = held.remove(0);
    drop(first);
    server.wait_for_metric("signaling_connections_open 3\n").await;
    let mut again = raw_websocket_from(ATTACKER, server.addr, "/ws").await;
    echoes(&mut again).await;
    server.shutdown().await;
}

/// One client holds every one of `--max-connections` (its per-address allowance is larger): its
/// next connection gets 503, but another address still gets `/healthz` 200 from the reserve — and
/// 503 for an upgrade, which the reserve does not serve. Before the reserve, `/healthz` got 503.
#[tokio::test]
async fn healthz_stays_reachable_for_others_when_one_client_holds_the_cap() {
    let server = start_echo(ServerConfig { max_connections: 4, ..ServerConfig::default() }).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(raw_websocket_from(ATTACKER, server.addr, "/ws").await);
    }
    let mut refused = connect_from(ATTACKER, server.addr).await;
    assert_eq!(status_of(&read_http_head(&mut refused).await), 503);

    let mut health = connect_from(BYSTANDER, server.addr).await;
    health.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await.expect("write");
    let response = read_response(&mut health, false).await;
    assert_eq!((response.status, response.body_text().as_str()), (200, "ok\n"), "{response:?}");

    let (_, head) = upgrade_from(BYSTANDER, &server, "").await;
    assert_eq!(status_of(&head), 503, "{head:?}");
    assert_eq!(header_of(&head, "Retry-After"), Some("5"));
    for stream in &mut held {
        echoes(stream).await;
    }
    server.shutdown().await;
}

/// Behind a trusted proxy (127.0.0.1 here) the client is the right-most untrusted
/// `X-Forwarded-For` hop: two upgrades for 203.0.113.5 fill its allowance of two (a forged hop on
/// the left changes nothing), and the third gets 429; another forwarded client still upgrades.
#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_counted() {
    let server = start_echo(with_limits(connections_per_address(2), "127.0.0.1")).await;
    let mut held = Vec::new();
    for forged in ["198.51.100.1", "198.51.100.2"] {
        let (stream, head) =
            upgrade_from("127.0.0.1", &server, &format!("X-Forwarded-For: {forged}, 203.0.113.5\r\n")).await;
        assert_eq!(status_of(&head), 101, "{head:?}");
        held.push(stream);
    }
    let (_, head) = upgrade_from("127.0.0.1", &server, "X-Forwarded-For: 198.51.100.3, 203.0.113.5\r\n").await;
    assert_eq!(status_of(&head), 429, "{head:?}");
    assert_eq!(header_of(&head, "Retry-After"), Some("5"));
    let (mut other, head) = upgrade_from("127.0.0.1", &server, "X-Real-IP: 203.0.113.6\r\n").await;
    assert_eq!(status_of(&head), 101, "{head:?}");
    echoes(&mut other).await;
    for stream in &mut held {
        echoes(stream).await;
    }
    server.wait_for_metric("signaling_address_refusals_total{limit=\"connections\"} 1\n").await;
    server.shutdown().await;
}

/// A peer that is not a trusted proxy cannot pick its address: however it varies
/// `X-Forwarded-For`, its connections count for its own address.
#[tokio::test]
async fn an_untrusted_peer_s_forwarding_headers_are_ignored() {
    let server = start_echo(with_limits(connections_per_address(2), "127.0.0.1")).await;
    let mut held = Vec::new();
    for i in 0..2 {
        let (stream, head) = upgrade_from(ATTACKER, &server, &format!("X-Forwarded-For: 203.0.113.{i}\r\n")).await;
        assert_eq!(status_of(&head), 101, "{head:?}");
        held.push(stream);
    }
    let mut refused = connect_from(ATTACKER, server.addr).await;
    let head = read_http_head(&mut refused).await;
    assert_eq!(status_of(&head), 429, "{head:?}");
    let mut bystander = raw_websocket_from(BYSTANDER, server.addr, "/ws").await;
    echoes(&mut bystander).await;
    server.shutdown().await;
}
