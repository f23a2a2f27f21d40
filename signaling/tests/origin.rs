//! Cross-site WebSocket hijacking, refused by default: a page on another site that opens a
//! WebSocket to the server (its browser sends that page's `Origin`) gets 403, while the page the
//! server itself serves (same host and port), clients that send no `Origin`, and a proxy that
//! passes the host name without its port all get through. `--allowed-origins '*'` lets any page
//! in; a list lets in those. On the spawned `signaling` binary with its default flags.

/// The engine this suite's support module is built for (the binary runs rooms in memory).
#[allow(dead_code)]
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

#[path = "support/binary.rs"]
mod binary;

use std::net::SocketAddr;

use common::{http_head, status_of, KEY};
use rooms_support::*;

/// The status of an upgrade to `/ws` with these `Host` and (if any) `Origin` headers.
async fn upgrade_status(addr: SocketAddr, host: &str, origin: Option<&str>) -> u16 {
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    );
    status_of(&http_head(addr, request.as_bytes()).await)
}

#[tokio::test]
async fn a_page_on_another_site_is_refused_by_default_and_the_server_s_own_page_is_not() {
    let server = binary::Spawned::start(&[], &[]);
    let addr = server.addr;
    let host = addr.to_string();
    // A bystander call in progress.
    let url = format!("ws://{addr}/ws");
    let (mut a, mut b) = (Client::connect(&url).await, Client::connect(&url).await);
    let ja = a.join("bystanders").await;
    let jb = b.join("bystanders").await;
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);

    assert_eq!(upgrade_status(addr, &host, Some("https://evil.example")).await, 403);
    assert_eq!(upgrade_status(addr, &host, Some(&format!("http://{}:1", addr.ip()))).await, 403, "another port");
    assert_eq!(upgrade_status(addr, &host, Some("null")).await, 403, "an opaque origin (sandboxed frame, file:)");
    assert_eq!(upgrade_status(addr, &host, Some(&format!("http://{host}"))).await, 101, "the server's own page");
    assert_eq!(upgrade_status(addr, &host, None).await, 101, "no Origin: not a browser");
    // Behind nginx (`proxy_set_header Host $host`) the port is gone from `Host`.
    assert_eq!(upgrade_status(addr, "call.example", Some("https://call.example:8443")).await, 101);
    assert_eq!(upgrade_status(addr, "call.example", Some("https://evil.example")).await, 403);

    a.signal(&jb.peer_id, candidate("candidate:1 a-to-b")).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), candidate("candidate:1 a-to-b")));
    let metrics = common::http_get(addr, "/metrics").await.body_text();
    assert!(metrics.contains("signaling_handshake_failures_total{reason=\"origin\"} 4"), "{metrics}");
}

#[tokio::test]
async fn allowed_origins_star_lets_any_page_in_and_a_list_only_its_own() {
    let any = binary::Spawned::start(&[], &["--allowed-origins", "*"]);
    let host = any.addr.to_string();
    assert_eq!(upgrade_status(any.addr, &host, Some("https://evil.example")).await, 101);
    assert_eq!(upgrade_status(any.addr, &host, None).await, 101);
    let listed = binary::Spawned::start(&[], &["--allowed-origins", "https://call.example"]);
    let host = listed.addr.to_string();
    assert_eq!(upgrade_status(listed.addr, &host, Some("https://call.example")).await, 101);
    assert_eq!(upgrade_status(listed.addr, &host, Some(&format!("http://{host}"))).await, 403, "not listed");
}
