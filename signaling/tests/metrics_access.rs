//! Who may read `/metrics` on the public port: loopback and `--metrics-allowed` only, whatever
//! proxy forwarded the request. "Private addresses may" admitted everyone behind Docker's userland
//! proxy (every client arrives from its 172.x gateway: see `http::metrics_access`'s unit tests,
//! which cannot bind such an address here); a proxy on the same machine that forwards an outsider
//! is the same hole seen from loopback, and that is what this test does over real sockets.

#[allow(dead_code)] // the support module is shared with suites that run on Redis too
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use common::{http_get, http_request};
use rooms_support::*;
use signaling::http::metrics_access::MetricsAccess;
use signaling::{HttpConfig, RoomsConfig, ServerConfig};

fn scrape_as(forwarded: &str) -> String {
    format!("GET /metrics HTTP/1.1\r\nHost: signaling:8080\r\n{forwarded}Connection: close\r\n\r\n")
}

#[tokio::test]
async fn an_outsider_forwarded_by_a_local_proxy_gets_403_and_loopback_scrapers_get_metrics() {
    let server = start(RoomsConfig::default()).await;
    let (mut a, ja, mut b, jb) = pair(&server, "bystanders").await;

    let outsider = http_request(server.addr, &scrape_as("X-Forwarded-For: 203.0.113.9\r\n")).await;
    assert_eq!(outsider.status, 403, "{}", outsider.head);
    assert!(!outsider.body_text().contains("signaling_"), "no metric leaks in the refusal");
    let real_ip = http_request(server.addr, &scrape_as("X-Real-IP: 198.51.100.7\r\n")).await;
    assert_eq!(real_ip.status, 403);
    let chain = http_request(server.addr, &scrape_as("X-Forwarded-For: 127.0.0.1, 203.0.113.9\r\n")).await;
    assert_eq!(chain.status, 403);

    let direct = http_get(server.addr, "/metrics").await;
    assert_eq!(direct.status, 200);
    assert!(direct.body_text().contains("signaling_connections_total"));
    let local = http_request(server.addr, &scrape_as("X-Forwarded-For: 127.0.0.1\r\n")).await;
    assert_eq!(local.status, 200, "nginx forwarding its own loopback client");

    a.signal(&jb.peer_id, candidate("candidate:1 a-to-b")).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), candidate("candidate:1 a-to-b")));
    drop((a, b));
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_allowed_admits_the_listed_networks_behind_a_proxy() {
    let http = HttpConfig { metrics_allowed: MetricsAccess::parse("203.0.113.0/24").unwrap(), ..HttpConfig::default() };
    let server = start_with(ServerConfig { http, ..ServerConfig::default() }, RoomsConfig::default()).await;
    let listed = http_request(server.addr, &scrape_as("X-Forwarded-For: 203.0.113.9\r\n")).await;
    assert_eq!(listed.status, 200, "{}", listed.head);
    let other = http_request(server.addr, &scrape_as("X-Forwarded-For: 198.51.100.7\r\n")).await;
    assert_eq!(other.status, 403);
    server.shutdown().await;
}
