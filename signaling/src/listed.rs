//! A labelled metric family that is listed (its `# HELP` and `# TYPE`) before its first sample.
//!
//! The Prometheus client leaves a family with no label values out of the exposition entirely;
//! our `/metrics` has always listed every family, so dashboards and tests can tell "none yet"
//! from "not exported". Wrapping a family at registration keeps that.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;

/// A family (or any metric) that is never left out for being empty.
#[derive(Debug)]
pub struct Listed<M>(pub M);

impl<M: EncodeMetric> EncodeMetric for Listed<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }

    // `is_empty` keeps its default, `false`: always listed.
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::prometheus_text::encode;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::registry::Registry;

    use super::*;

    #[test]
    fn an_empty_family_is_listed_only_when_wrapped() {
        let mut registry = Registry::default();
        registry.register("plain", "Plain", Family::<Vec<(String, String)>, Counter>::default());
        registry.register("listed", "Listed", Listed(Family::<Vec<(String, String)>, Counter>::default()));
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert_eq!(text, "# HELP listed_total Listed.\n# TYPE listed_total counter\n");
    }
}
