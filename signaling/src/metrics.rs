//! Process-wide counters, rendered in the Prometheus text exposition format for `GET /metrics`.
//!
//! Hot counters (messages, bytes) are plain relaxed atomics: they are statistics, never used to
//! decide anything, so no ordering is needed. Rare events (handshake failures, closes) are keyed by
//! label in small maps behind a mutex; each connection touches them at most once or twice.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_open: AtomicI64,
    pub connections_total: AtomicU64,
    pub connections_refused: AtomicU64,
    pub websockets_open: AtomicI64,
    pub websockets_total: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub http_requests: AtomicU64,
    pub rooms_open: AtomicI64,
    pub peers_seated: AtomicI64,
    pub signals_relayed: AtomicU64,
    pub relay_dropped: AtomicU64,
    pub resumes: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    handshake_failures: Mutex<BTreeMap<&'static str, u64>>,
    closes: Mutex<BTreeMap<(u16, &'static str), u64>>,
    disconnects: Mutex<BTreeMap<&'static str, u64>>,
}

/// Adds `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    // A poisoned lock only means another thread panicked mid-increment; the map is still usable.
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    *map.entry(key).or_insert(0) += 1;
}

impl Metrics {
    pub fn handshake_failed(&self, reason: &'static str) {
        bump(&self.handshake_failures, reason);
    }

    /// A WebSocket ended with a close frame carrying `code`, sent first by `initiator`
    /// (`"peer"` or `"server"`); `1006` counts connections that ended without one.
    pub fn closed(&self, code: u16, initiator: &'static str) {
        bump(&self.closes, (code, initiator));
    }

    /// Why a WebSocket ended (peer_closed, protocol error labels, idle_timeout, slow_consumer, …).
    pub fn disconnected(&self, reason: &'static str) {
        bump(&self.disconnects, reason);
    }

    /// A signaling `error` sent to a client, by its wire code.
    pub fn error_sent(&self, code: &'static str) {
        bump(&self.errors, code);
    }

    pub fn handshake_failures(&self, reason: &str) -> u64 {
        let map = self.handshake_failures.lock().unwrap_or_else(|e| e.into_inner());
        map.get(reason).copied().unwrap_or(0)
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n", v.load(Relaxed));
        };
        gauge(&mut out, "signaling_connections_open", "TCP connections open now.", self.connections_open.load(Relaxed));
        counter(&mut out, "signaling_connections_total", "TCP connections accepted.", &self.connections_total);
        counter(
            &mut out,
            "signaling_connections_refused_total",
            "Connections refused at the max-connections limit.",
            &self.connections_refused,
        );
        gauge(
            &mut out,
            "signaling_websockets_open",
            "WebSocket sessions open now.",
            self.websockets_open.load(Relaxed),
        );
        counter(&mut out, "signaling_websockets_total", "WebSocket handshakes completed.", &self.websockets_total);
        counter(&mut out, "signaling_messages_in_total", "WebSocket data messages received.", &self.messages_in);
        counter(&mut out, "signaling_messages_out_total", "WebSocket data messages sent.", &self.messages_out);
        counter(&mut out, "signaling_bytes_in_total", "Bytes read from clients.", &self.bytes_in);
        counter(&mut out, "signaling_bytes_out_total", "Bytes written to clients.", &self.bytes_out);
        counter(&mut out, "signaling_http_requests_total", "Plain HTTP requests answered.", &self.http_requests);
        gauge(&mut out, "signaling_rooms_open", "Rooms with at least one seat taken.", self.rooms_open.load(Relaxed));
        gauge(
            &mut out,
            "signaling_peers_joined",
            "Seats taken in rooms, including peers within their resume grace period.",
            self.peers_seated.load(Relaxed),
        );
        counter(
            &mut out,
            "signaling_signals_relayed_total",
            "Signals delivered to another peer.",
            &self.signals_relayed,
        );
        counter(
            &mut out,
            "signaling_relay_dropped_total",
            "Messages dropped because the recipient's queue was full.",
            &self.relay_dropped,
        );
        counter(&mut out, "signaling_resumes_total", "Seats taken back with a resume token.", &self.resumes);
        out.push_str("# HELP signaling_errors_total Signaling errors sent to clients, by code.\n");
        out.push_str("# TYPE signaling_errors_total counter\n");
        for (code, n) in self.errors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "signaling_errors_total{{code=\"{code}\"}} {n}");
        }
        out.push_str("# HELP signaling_handshake_failures_total Requests refused before a WebSocket or HTTP response, by reason.\n");
        out.push_str("# TYPE signaling_handshake_failures_total counter\n");
        for (reason, n) in self.handshake_failures.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "signaling_handshake_failures_total{{reason=\"{reason}\"}} {n}");
        }
        out.push_str(
            "# HELP signaling_ws_closes_total WebSocket closes by close code and by who sent the first close frame.\n",
        );
        out.push_str("# TYPE signaling_ws_closes_total counter\n");
        for ((code, initiator), n) in self.closes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "signaling_ws_closes_total{{code=\"{code}\",initiator=\"{initiator}\"}} {n}");
        }
        out.push_str("# HELP signaling_ws_disconnects_total WebSocket sessions ended, by reason.\n");
        out.push_str("# TYPE signaling_ws_disconnects_total counter\n");
        for (reason, n) in self.disconnects.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "signaling_ws_disconnects_total{{reason=\"{reason}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.connections_open.fetch_add(2, Relaxed);
        add(&m.messages_in, 5);
        m.handshake_failed("bad_key");
        m.handshake_failed("bad_key");
        m.closed(1002, "server");
        m.disconnected("unmasked_frame");
        let text = m.render();
        assert!(text.contains("# TYPE signaling_connections_open gauge\nsignaling_connections_open 2\n"));
        assert!(text.contains("signaling_messages_in_total 5\n"));
        assert!(text.contains("signaling_handshake_failures_total{reason=\"bad_key\"} 2\n"));
        assert!(text.contains("signaling_ws_closes_total{code=\"1002\",initiator=\"server\"} 1\n"));
        assert!(text.contains("signaling_ws_disconnects_total{reason=\"unmasked_frame\"} 1\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
