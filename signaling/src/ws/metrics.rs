//! What the WebSocket layer counts: sessions, messages, bytes, and how sessions ended. The layer
//! owns these families and registers them; it knows nothing of the rest of the server's metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::listed::Listed;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CloseLabels {
    code: u16,
    initiator: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The WebSocket layer's families; cheap to update from every connection (relaxed atomics).
#[derive(Debug, Default)]
pub struct WsMetrics {
    open: Gauge,
    total: Counter,
    pub(super) messages_in: Counter,
    pub(super) messages_out: Counter,
    pub(super) bytes_in: Counter,
    pub(super) bytes_out: Counter,
    closes: Family<CloseLabels, Counter>,
    disconnects: Family<ReasonLabel, Counter>,
}

impl WsMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("signaling_websockets_open", "WebSocket sessions open now", self.open.clone());
        registry.register("signaling_websockets", "WebSocket handshakes completed", self.total.clone());
        registry.register("signaling_messages_in", "WebSocket data messages received", self.messages_in.clone());
        registry.register("signaling_messages_out", "WebSocket data messages sent", self.messages_out.clone());
        registry.register("signaling_bytes_in", "Bytes read from clients", self.bytes_in.clone());
        registry.register("signaling_bytes_out", "Bytes written to clients", self.bytes_out.clone());
        registry.register(
            "signaling_ws_closes",
            "WebSocket closes by close code and by who sent the first close frame",
            Listed(self.closes.clone()),
        );
        registry.register(
            "signaling_ws_disconnects",
            "WebSocket sessions ended, by reason",
            Listed(self.disconnects.clone()),
        );
    }

    /// A session started.
    pub(super) fn opened(&self) {
        self.open.inc();
        self.total.inc();
    }

    /// A session ended with a close frame carrying `code`, sent first by `initiator` (`"peer"`,
    /// `"server"`; `"none"` with 1006 when none was exchanged), for `reason`.
    pub(super) fn ended(&self, code: u16, initiator: &'static str, reason: &'static str) {
        self.open.dec();
        self.closes.get_or_create(&CloseLabels { code, initiator }).inc();
        self.disconnects.get_or_create(&ReasonLabel { reason }).inc();
    }
}
