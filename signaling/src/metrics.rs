//! The process's one metrics registry: each layer registers the families it counts (see
//! `docs/METRICS.md`), and `GET /metrics` encodes it with the Prometheus client library.
//!
//! The counters are statistics for operators: nothing in the server decides by reading them.

use std::sync::{Mutex, PoisonError};

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;

/// The `Content-Type` of an OpenMetrics exposition.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which exposition format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4: the default, which every scraper reads.
    Prometheus,
    /// OpenMetrics 1.0 text, for a scraper that asks for it.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header names `application/openmetrics-text` (Prometheus
    /// itself lists it first, with the plain text format as a fallback), else Prometheus text.
    pub fn from_accept(accept: Option<&[u8]>) -> Format {
        const OPENMETRICS: &[u8] = b"application/openmetrics-text";
        let asks = accept.is_some_and(|accept| {
            accept.split(|&b| b == b',').any(|range| {
                let mut params = range.split(|&b| b == b';');
                let media = params.next().unwrap_or_default().trim_ascii();
                // `q=0` means "not acceptable" (RFC 9110 §12.4.2).
                let refused = params.any(|p| matches!(p.trim_ascii(), b"q=0" | b"q=0.0" | b"q=0.00" | b"q=0.000"));
                media.eq_ignore_ascii_case(OPENMETRICS) && !refused
            })
        });
        if asks {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// The registry every layer's families are registered in, shared by the whole server.
#[derive(Default)]
pub struct Metrics {
    /// Registering happens at start-up and encoding once per scrape; neither is on a hot path,
    /// so a plain mutex, never held across an `.await`.
    registry: Mutex<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Lets a layer register its families.
    pub fn register(&self, register: impl FnOnce(&mut Registry)) {
        register(&mut self.registry.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// The exposition in the Prometheus text format.
    pub fn render(&self) -> String {
        self.encode(Format::Prometheus)
    }

    pub fn encode(&self, format: Format) -> String {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail, and our label values need no escaping that could.
        let _ = match format {
            Format::Prometheus => prometheus_text::encode(&mut out, &registry),
            Format::OpenMetrics => text::encode(&mut out, &registry),
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;

    use super::*;

    #[test]
    fn openmetrics_only_when_asked_for() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus.as_bytes())), Format::OpenMetrics);
        assert_eq!(Format::from_accept(Some(b"Application/OpenMetrics-Text")), Format::OpenMetrics);
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(Format::from_accept(Some(b"*/*")), Format::Prometheus);
        assert_eq!(Format::from_accept(Some(b"text/plain;version=0.0.4")), Format::Prometheus);
        assert_eq!(Format::from_accept(Some(b"application/openmetrics-text;q=0")), Format::Prometheus);
    }

    #[test]
    fn both_formats_carry_the_same_samples() {
        let metrics = Metrics::default();
        let counter = Counter::<u64>::default();
        metrics.register(|r| r.register("signaling_things", "Things", counter.clone()));
        counter.inc_by(3);
        let prometheus = metrics.encode(Format::Prometheus);
        assert!(
            prometheus.contains("# TYPE signaling_things_total counter\nsignaling_things_total 3\n"),
            "{prometheus}"
        );
        assert!(!prometheus.contains("# EOF"));
        let openmetrics = metrics.encode(Format::OpenMetrics);
        assert!(openmetrics.contains("# TYPE signaling_things counter\nsignaling_things_total 3\n"), "{openmetrics}");
        assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    }
}
