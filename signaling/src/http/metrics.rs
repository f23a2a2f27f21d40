//! What the HTTP front counts: requests answered, and requests refused before any response
//! (malformed heads, timeouts, refused WebSocket handshakes).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::listed::Listed;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Default)]
pub struct HttpMetrics {
    requests: Counter,
    handshake_failures: Family<ReasonLabel, Counter>,
}

impl HttpMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("signaling_http_requests", "Plain HTTP requests answered", self.requests.clone());
        registry.register(
            "signaling_handshake_failures",
            "Requests refused before a WebSocket or HTTP response, by reason",
            Listed(self.handshake_failures.clone()),
        );
    }

    pub(super) fn request(&self) {
        self.requests.inc();
    }

    pub(super) fn handshake_failed(&self, reason: &'static str) {
        self.handshake_failures.get_or_create(&ReasonLabel { reason }).inc();
    }
}
