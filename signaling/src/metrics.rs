//! Process-wide counters, rendered in the Prometheus text exposition format for `GET /metrics`.
//!
//! Hot counters (messages, bytes) are plain relaxed atomics: they are statistics, never used to
//! decide anything, so no ordering is needed. Rare events (handshake failures, closes) are keyed by
//! label in small maps behind a mutex; each connection touches them at most once or twice.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

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
    /// Rendered only when the Redis engine runs (`--redis-url`).
    pub redis: RedisMetrics,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    handshake_failures: Mutex<BTreeMap<&'static str, u64>>,
    closes: Mutex<BTreeMap<(u16, &'static str), u64>>,
    disconnects: Mutex<BTreeMap<&'static str, u64>>,
}

/// The Redis engine's health and traffic.
#[derive(Debug, Default)]
pub struct RedisMetrics {
    pub enabled: AtomicBool,
    /// 1 while connected (commands and subscription) and registered; 0 otherwise.
    pub up: AtomicI64,
    pub connects: AtomicU64,
    /// Round trips of command batches and heartbeats.
    pub round_trip: Histogram,
    /// Signals not delivered because Redis failed or was unreachable.
    pub publish_errors: AtomicU64,
    /// Signals whose recipient's node no longer listened (it died): answered `unknown_peer`.
    pub publish_unheard: AtomicU64,
    /// Signals relayed to a peer on another node.
    pub cross_node_relays: AtomicU64,
    /// Seats of dead nodes marked away, and away seats freed when their grace ran out, by this node.
    pub evictions: AtomicU64,
    /// Seats this node held that were gone from Redis when it checked (their connections are closed).
    pub seats_lost: AtomicU64,
}

/// Upper bounds of the round-trip histogram, in seconds: loopback is ~0.1 ms, a LAN ~0.5 ms.
const ROUND_TRIP_BUCKETS: [f64; 12] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// A Prometheus histogram with fixed buckets; each observation is two relaxed increments.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; ROUND_TRIP_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let at = ROUND_TRIP_BUCKETS.iter().position(|&bound| secs <= bound).unwrap_or(ROUND_TRIP_BUCKETS.len());
        add(&self.buckets[at], 1);
        add(&self.sum_micros, u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut cumulative = 0;
        for (at, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Relaxed);
            match ROUND_TRIP_BUCKETS.get(at) {
                Some(bound) => _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}"),
                None => _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}"),
            }
        }
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = write!(out, "{name}_sum {sum}\n{name}_count {cumulative}\n");
    }
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
        if self.redis.enabled.load(Relaxed) {
            self.render_redis(&mut out);
        }
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

    fn render_redis(&self, out: &mut String) {
        let r = &self.redis;
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n", v.load(Relaxed));
        };
        gauge(out, "signaling_redis_up", "1 while Redis is reachable and this node is registered.", r.up.load(Relaxed));
        counter(out, "signaling_redis_connects_total", "Connections (and reconnections) to Redis.", &r.connects);
        r.round_trip.render(out, "signaling_redis_round_trip_seconds", "Round trips of Redis command batches.");
        out.push_str("# HELP signaling_redis_publish_failures_total Signals not delivered through Redis, by reason.\n");
        out.push_str("# TYPE signaling_redis_publish_failures_total counter\n");
        for (reason, v) in [("redis_error", &r.publish_errors), ("node_gone", &r.publish_unheard)] {
            let _ = writeln!(out, "signaling_redis_publish_failures_total{{reason=\"{reason}\"}} {}", v.load(Relaxed));
        }
        counter(
            out,
            "signaling_redis_cross_node_relays_total",
            "Signals relayed to a peer on another node.",
            &r.cross_node_relays,
        );
        counter(
            out,
            "signaling_redis_evictions_total",
            "Seats of dead nodes marked away, and expired away seats freed, by this node.",
            &r.evictions,
        );
        counter(
            out,
            "signaling_redis_seats_lost_total",
            "Seats this node held that Redis no longer had; their connections were closed.",
            &r.seats_lost,
        );
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
        assert!(!text.contains("signaling_redis_"), "Redis metrics only with the Redis engine");
    }

    #[test]
    fn redis_metrics_and_the_round_trip_histogram() {
        let m = Metrics::default();
        m.redis.enabled.store(true, Relaxed);
        m.redis.round_trip.observe(Duration::from_micros(80));
        m.redis.round_trip.observe(Duration::from_micros(700));
        m.redis.round_trip.observe(Duration::from_secs(3));
        add(&m.redis.publish_unheard, 2);
        let text = m.render();
        assert!(text.contains("signaling_redis_round_trip_seconds_bucket{le=\"0.0001\"} 1\n"), "{text}");
        assert!(text.contains("signaling_redis_round_trip_seconds_bucket{le=\"0.001\"} 2\n"), "{text}");
        assert!(text.contains("signaling_redis_round_trip_seconds_bucket{le=\"1\"} 2\n"), "{text}");
        assert!(text.contains("signaling_redis_round_trip_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("signaling_redis_round_trip_seconds_count 3\n"), "{text}");
        assert!(text.contains("signaling_redis_round_trip_seconds_sum 3.00078\n"), "{text}");
        assert!(text.contains("signaling_redis_publish_failures_total{reason=\"node_gone\"} 2\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
