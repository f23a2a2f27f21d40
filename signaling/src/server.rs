//! The accept loop: connection cap, one task per connection, and graceful shutdown fan-out.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::http::config::HttpConfig;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::address::{proxies, AddressConfig, AddressLimits};
use crate::http::conn::{self, Admitted, Context};
use crate::http::metrics::HttpMetrics;
use crate::metrics::Metrics;
use crate::service::Service;
use crate::ws::budget::Budget;
use crate::ws::WsMetrics;

/// See [`ServerConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Connections accepted beyond `max_connections` for addresses that hold none, for plain HTTP
/// only (an upgrade on one gets `503`): when the cap is reached — by many addresses, or by one
/// under a generous per-address limit — a load balancer's `/healthz` and a `/metrics` scrape still
/// get through. Each is bounded in time by the request-head timeout like any plain connection.
pub const HEALTH_RESERVE: usize = 16;
/// See [`ServerConfig::shutdown_grace`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Settings of the accept loop, and of the HTTP front each connection gets.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Open TCP connections at most; beyond it new ones get `503` and are closed at once.
    pub max_connections: usize,
    /// How long open connections get to say goodbye on shutdown before they are dropped.
    pub shutdown_grace: Duration,
    pub http: HttpConfig,
    /// Per-address limits and the trusted proxies.
    pub addresses: AddressConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            http: HttpConfig::default(),
            addresses: AddressConfig::default(),
        }
    }
}

/// Accepts connections on `listener` until `shutdown` completes, then asks every connection to
/// close (WebSockets get close 1001) and waits up to the configured grace for them to finish.
pub async fn run<S: Service>(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    metrics: Arc<Metrics>,
    service: Arc<S>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection task holds a clone of `alive`; when all are dropped, `recv` returns None.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let counted = Arc::new(ServerMetrics::default());
    let http = Arc::new(HttpMetrics::default());
    let ws = Arc::new(WsMetrics::default());
    let addresses = AddressLimits::new(&config.addresses);
    let inbound = Budget::new(config.http.ws.inbound_total_bytes);
    metrics.register(|registry| {
        counted.register(registry);
        http.register(registry);
        ws.register(registry);
        inbound.register_as(
            registry,
            "signaling_inbound_unfinished_bytes",
            "Bytes held for unfinished incoming WebSocket messages beyond each connection's first 4 KiB",
        );
        addresses.register(registry);
    });
    let ctx = Context {
        config: Arc::new(config.http.clone()),
        metrics,
        http,
        ws,
        inbound,
        addresses: addresses.clone(),
        service,
        shutdown: stop_rx,
    };
    // The connection cap's own count: decided on here, never read back from a metric.
    let open_now = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors or similar: back off instead of spinning on the error.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let open = open_now.load(Relaxed);
        let peer = proxies::canonical(addr.ip());
        let reserve = open >= config.max_connections;
        if reserve && (open >= config.max_connections + HEALTH_RESERVE || !addresses.holds_none(peer)) {
            counted.refused.inc();
            debug!(%addr, open, "connection refused: at max connections");
            refuse(stream, BUSY);
            continue;
        }
        // Behind a trusted proxy the client is known only from the request's headers: such a
        // connection is counted for its client when it upgrades (see `http::conn`).
        let slot = if addresses.trusted_proxies().contains(peer) {
            None
        } else {
            match addresses.connect(peer) {
                Ok(slot) => Some(slot),
                Err(refusal) => {
                    debug!(%addr, limit = refusal.label(), "connection refused: per-address limit");
                    refuse(stream, TOO_MANY);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true); // signaling messages are small and latency-bound
        let guard = OpenConnection::new(open_now.clone(), counted.clone());
        let ctx = ctx.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            conn::serve(stream, ctx, Admitted { peer, slot, reserve }).await;
            drop(guard);
            drop(alive);
        });
    }
    drop(listener);
    info!(open = open_now.load(Relaxed), "shutting down: closing connections");
    let _ = stop_tx.send(true);
    drop(alive);
    if tokio::time::timeout(config.shutdown_grace, all_done.recv()).await.is_err() {
        warn!(open = open_now.load(Relaxed), "shutdown grace over; dropping the rest");
    }
}

/// Over the connection cap.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
/// Over the per-address connection limit (RFC 6585 §4).
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\ntoo many connections from your address\r\n";

/// A best-effort refusal without reading the request, then close.
fn refuse(stream: TcpStream, response: &[u8]) {
    let _ = stream.try_write(response);
}

/// What the accept loop counts: connections open, accepted, and refused at the cap.
#[derive(Debug, Default)]
struct ServerMetrics {
    open: Gauge,
    total: Counter,
    refused: Counter,
}

impl ServerMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register("signaling_connections_open", "TCP connections open now", self.open.clone());
        registry.register("signaling_connections", "TCP connections accepted", self.total.clone());
        registry.register(
            "signaling_connections_refused",
            "Connections refused at the max-connections limit",
            self.refused.clone(),
        );
    }
}

/// Counts an open TCP connection for as long as it lives: in the cap's count and the gauge.
struct OpenConnection {
    open_now: Arc<AtomicUsize>,
    metrics: Arc<ServerMetrics>,
}

impl OpenConnection {
    fn new(open_now: Arc<AtomicUsize>, metrics: Arc<ServerMetrics>) -> Self {
        open_now.fetch_add(1, Relaxed);
        metrics.open.inc();
        metrics.total.inc();
        OpenConnection { open_now, metrics }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open_now.fetch_sub(1, Relaxed);
        self.metrics.open.dec();
    }
}
