//! A process-wide allowance of bytes shared by every connection, with a gauge of the bytes taken:
//! what bounds the memory of many connections together where each one's own limit would not
//! (10,000 connections × a per-connection limit is far more than a small server has).
//!
//! Lock-free: taking and giving back are one atomic update each, done per message or buffer
//! growth, never per byte.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// At most `limit` bytes taken at once, across all connections.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    pub(crate) gauge: Gauge,
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit, used: AtomicUsize::new(0), gauge: Gauge::default() })
    }

    /// Registers the gauge of bytes taken as `name`.
    pub fn register_as(&self, registry: &mut Registry, name: &str, help: &str) {
        registry.register(name, help, self.gauge.clone());
    }

    /// Bytes taken now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes` if they fit under the limit; `false` (and nothing taken) if not.
    pub fn try_take(&self, bytes: usize) -> bool {
        let taken = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(bytes).filter(|&total| total <= self.limit)
        });
        if taken.is_ok() {
            self.gauge.inc_by(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        taken.is_ok()
    }

    /// Gives back `bytes` taken before.
    pub fn give(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
            self.gauge.dec_by(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_up_to_the_limit_and_gives_back() {
        let budget = Budget::new(100);
        assert!(budget.try_take(60));
        assert!(!budget.try_take(41), "over the limit: nothing taken");
        assert!(budget.try_take(40));
        assert_eq!((budget.used(), budget.gauge.get()), (100, 100));
        budget.give(60);
        budget.give(0);
        assert_eq!((budget.used(), budget.gauge.get()), (40, 40));
    }
}
