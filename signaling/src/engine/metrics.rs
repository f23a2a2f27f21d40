//! What the room engines count — rooms, seats, relays, resumes, and the errors sent to clients —
//! whichever engine runs. The engine registers these families when it starts.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use shared::ErrorCode;

use crate::listed::Listed;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Debug, Default)]
pub struct RoomMetrics {
    pub rooms_open: Gauge,
    /// Seats taken, away seats included.
    pub peers_joined: Gauge,
    pub signals_relayed: Counter,
    pub relay_dropped: Counter,
    pub resumes: Counter,
    errors: Family<CodeLabel, Counter>,
}

impl RoomMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("signaling_rooms_open", "Rooms with at least one seat taken", self.rooms_open.clone());
        registry.register(
            "signaling_peers_joined",
            "Seats taken in rooms, including peers within their resume grace period",
            self.peers_joined.clone(),
        );
        registry.register(
            "signaling_signals_relayed",
            "Signals delivered to another peer",
            self.signals_relayed.clone(),
        );
        registry.register(
            "signaling_relay_dropped",
            "Messages dropped because the recipient's queue was full",
            self.relay_dropped.clone(),
        );
        registry.register("signaling_resumes", "Seats taken back with a resume token", self.resumes.clone());
        registry.register("signaling_errors", "Signaling errors sent to clients, by code", Listed(self.errors.clone()));
    }

    /// A signaling `error` sent to a client.
    pub fn error_sent(&self, code: ErrorCode) {
        self.errors.get_or_create(&CodeLabel { code: code.as_str() }).inc();
    }
}
