//! `/metrics` scraped from a real server after a scripted session (two peers join, one signals,
//! one leaves and closes, a client fails its handshake), parsed by an independent exposition-format parser
//! (prometheus-parse), checking names, types and values; and the same samples in OpenMetrics
//! when the scraper asks for it.

#[allow(dead_code)] // the support module is shared with suites that run on Redis too
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use std::collections::HashMap;

use common::{http_get, http_request, KEY};
use prometheus_parse::{Scrape, Value};
use rooms_support::*;
use shared::Signal;
use signaling::RoomsConfig;

/// The samples of a scrape by name and labels, `name{a="x",b="y"}` with labels in order.
fn samples(text: &str) -> HashMap<String, Value> {
    let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("an exposition");
    let mut by_name = HashMap::new();
    for sample in scrape.samples {
        let mut labels: Vec<_> = sample.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        labels.sort();
        let key = if labels.is_empty() { sample.metric } else { format!("{}{{{}}}", sample.metric, labels.join(",")) };
        by_name.insert(key, sample.value);
    }
    by_name
}

#[track_caller]
fn counter(samples: &HashMap<String, Value>, name: &str) -> f64 {
    match samples.get(name) {
        Some(Value::Counter(v)) => *v,
        other => panic!("{name}: expected a counter, got {other:?}"),
    }
}

#[track_caller]
fn gauge(samples: &HashMap<String, Value>, name: &str) -> f64 {
    match samples.get(name) {
        Some(Value::Gauge(v)) => *v,
        other => panic!("{name}: expected a gauge, got {other:?}"),
    }
}

#[tokio::test]
async fn a_scripted_session_is_counted_in_every_layer() {
    let server = start(RoomsConfig::default()).await;
    let (mut a, _, mut b, jb) = pair(&server, "scrape").await;
    a.signal(&jb.peer_id, Signal::EndOfCandidates).await;
    assert!(matches!(b.expect_signal().await.1, Signal::EndOfCandidates));
    b.leave_confirmed().await;
    assert_eq!(a.expect_peer_left().await, jb.peer_id);
    b.close().await;
    let bad = format!(
        "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n\r\n"
    );
    assert_eq!(http_request(server.addr, &bad).await.status, 426);
    // B's session is recorded when it has fully ended, just after its client saw the close.
    server.wait_for_metric("signaling_ws_disconnects_total{reason=\"peer_closed\"}", 1).await;

    let response = http_get(server.addr, "/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response.header("Content-Type").is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let s = samples(&response.body_text());
    // The server: A's connection, B's, the refused one, and this scrape's.
    assert_eq!(counter(&s, "signaling_connections_total"), 4.0);
    assert_eq!(gauge(&s, "signaling_connections_open"), 2.0, "A and this scrape");
    assert_eq!(counter(&s, "signaling_connections_refused_total"), 0.0);
    assert_eq!(counter(&s, "signaling_http_requests_total"), 1.0, "this scrape");
    assert_eq!(counter(&s, "signaling_handshake_failures_total{reason=\"version\"}"), 1.0);
    // The WebSocket layer.
    assert_eq!(counter(&s, "signaling_websockets_total"), 2.0);
    assert_eq!(gauge(&s, "signaling_websockets_open"), 1.0);
    assert_eq!(counter(&s, "signaling_messages_in_total"), 5.0, "two joins, a signal, two leaves");
    let out = "two joined, peer_joined, signal, peer_left, an error";
    assert_eq!(counter(&s, "signaling_messages_out_total"), 6.0, "{out}");
    assert!(counter(&s, "signaling_bytes_in_total") > 0.0);
    assert!(counter(&s, "signaling_bytes_out_total") > 0.0);
    assert_eq!(
        counter(&s, "signaling_ws_closes_total{code=\"1005\",initiator=\"peer\"}"),
        1.0,
        "a close without a code"
    );
    // The rooms.
    assert_eq!(gauge(&s, "signaling_rooms_open"), 1.0);
    assert_eq!(gauge(&s, "signaling_peers_joined"), 1.0);
    assert_eq!(counter(&s, "signaling_signals_relayed_total"), 1.0);
    assert_eq!(counter(&s, "signaling_relay_dropped_total"), 0.0);
    assert_eq!(counter(&s, "signaling_resumes_total"), 0.0);
    // The second leave, which proves the first was processed, is answered `not_in_room`.
    assert_eq!(counter(&s, "signaling_errors_total{code=\"not_in_room\"}"), 1.0);
    assert_eq!(s.keys().filter(|k| k.starts_with("signaling_errors_total")).count(), 1);
    assert!(!s.keys().any(|k| k.starts_with("signaling_redis_")), "Redis families only on Redis");
    a.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn openmetrics_when_the_scraper_asks_for_it() {
    let server = start(RoomsConfig::default()).await;
    let request = "GET /metrics HTTP/1.1\r\nHost: test\r\n\
                   Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n";
    let response = http_request(server.addr, request).await;
    assert_eq!(response.status, 200);
    let content_type = response.header("Content-Type").unwrap_or_default();
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"), "{content_type}");
    let text = response.body_text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE signaling_connections counter\nsignaling_connections_total 1\n"), "{text}");
    assert!(text.contains("# TYPE signaling_rooms_open gauge\nsignaling_rooms_open 0\n"), "{text}");
    server.shutdown().await;
}
