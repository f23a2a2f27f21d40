//! Every figure of a run: one sample per server, metric and repetition, the latency histograms
//! behind the percentile plots and the pooled percentiles, and the figures the report shows.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::server::Server;

/// What a figure is in, and how it is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Micros,
    Millis,
    PerSec,
    KiloBytes,
}

impl Unit {
    pub fn label(self) -> &'static str {
        match self {
            Unit::Micros => "µs",
            Unit::Millis => "ms",
            Unit::PerSec => "msg/s",
            Unit::KiloBytes => "KB",
        }
    }

    /// A value with as many decimals as its size deserves.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::PerSec => format!("{:.0}", value),
            _ if value >= 100.0 => format!("{value:.0}"),
            _ if value >= 10.0 => format!("{value:.1}"),
            _ => format!("{value:.2}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    ClosedSmallCpu,
    ClosedSmallRate,
    ClosedSmallP50,
    ClosedSmallP99,
    ClosedLargeCpu,
    ClosedLargeRate,
    ClosedLargeP50,
    ClosedLargeP99,
    PacedSmallCpu,
    PacedSmallP50,
    PacedSmallP99,
    PacedLargeCpu,
    PacedLargeP50,
    PacedLargeP99,
    JoinSequentialP50,
    JoinSequentialP99,
    JoinBurstP50,
    JoinBurstP99,
    RssConnected,
    RssJoined,
    EchoSmallCpu,
    EchoLargeCpu,
    /// Through Redis: the redis-server's CPU per message.
    ClosedSmallStoreCpu,
    /// The server's and its redis-server's CPU per message (in memory: the server's alone).
    ClosedSmallTotalCpu,
    PacedSmallStoreCpu,
    PacedSmallTotalCpu,
}

/// The room-server metrics in report order.
pub const ROOM_METRICS: [Metric; 20] = [
    Metric::ClosedSmallCpu,
    Metric::ClosedSmallRate,
    Metric::ClosedSmallP50,
    Metric::ClosedSmallP99,
    Metric::ClosedLargeCpu,
    Metric::ClosedLargeRate,
    Metric::ClosedLargeP50,
    Metric::ClosedLargeP99,
    Metric::PacedSmallCpu,
    Metric::PacedSmallP50,
    Metric::PacedSmallP99,
    Metric::PacedLargeCpu,
    Metric::PacedLargeP50,
    Metric::PacedLargeP99,
    Metric::JoinSequentialP50,
    Metric::JoinSequentialP99,
    Metric::JoinBurstP50,
    Metric::JoinBurstP99,
    Metric::RssConnected,
    Metric::RssJoined,
];

pub const ECHO_METRICS: [Metric; 2] = [Metric::EchoSmallCpu, Metric::EchoLargeCpu];

/// The figures of ours through Redis beside ours in memory, in report order.
pub const REDIS_METRICS: [Metric; 11] = [
    Metric::ClosedSmallCpu,
    Metric::ClosedSmallStoreCpu,
    Metric::ClosedSmallTotalCpu,
    Metric::ClosedSmallRate,
    Metric::ClosedSmallP50,
    Metric::ClosedSmallP99,
    Metric::PacedSmallCpu,
    Metric::PacedSmallStoreCpu,
    Metric::PacedSmallTotalCpu,
    Metric::PacedSmallP50,
    Metric::PacedSmallP99,
];

impl Metric {
    pub fn label(self) -> &'static str {
        match self {
            Metric::ClosedSmallCpu => "relay 256 B, closed loop: server CPU per message",
            Metric::ClosedSmallRate => "relay 256 B, closed loop: messages per second",
            Metric::ClosedSmallP50 => "relay 256 B, closed loop: one-way latency p50",
            Metric::ClosedSmallP99 => "relay 256 B, closed loop: one-way latency p99",
            Metric::ClosedLargeCpu => "relay 4 KiB, closed loop: server CPU per message",
            Metric::ClosedLargeRate => "relay 4 KiB, closed loop: messages per second",
            Metric::ClosedLargeP50 => "relay 4 KiB, closed loop: one-way latency p50",
            Metric::ClosedLargeP99 => "relay 4 KiB, closed loop: one-way latency p99",
            Metric::PacedSmallCpu => "relay 256 B, paced: server CPU per message",
            Metric::PacedSmallP50 => "relay 256 B, paced: one-way latency p50",
            Metric::PacedSmallP99 => "relay 256 B, paced: one-way latency p99",
            Metric::PacedLargeCpu => "relay 4 KiB, paced: server CPU per message",
            Metric::PacedLargeP50 => "relay 4 KiB, paced: one-way latency p50",
            Metric::PacedLargeP99 => "relay 4 KiB, paced: one-way latency p99",
            Metric::JoinSequentialP50 => "join → joined, one at a time: p50",
            Metric::JoinSequentialP99 => "join → joined, one at a time: p99",
            Metric::JoinBurstP50 => "join → joined, burst: p50",
            Metric::JoinBurstP99 => "join → joined, burst: p99",
            Metric::RssConnected => "RSS per connected (idle) peer",
            Metric::RssJoined => "RSS per joined peer",
            Metric::EchoSmallCpu => "echo 64 B: server CPU per message",
            Metric::EchoLargeCpu => "echo 32 KiB: server CPU per message",
            Metric::ClosedSmallStoreCpu => "relay 256 B, closed loop: redis-server CPU per message",
            Metric::ClosedSmallTotalCpu => "relay 256 B, closed loop: server + redis-server CPU per message",
            Metric::PacedSmallStoreCpu => "relay 256 B, paced: redis-server CPU per message",
            Metric::PacedSmallTotalCpu => "relay 256 B, paced: server + redis-server CPU per message",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::ClosedSmallCpu
            | Metric::ClosedLargeCpu
            | Metric::PacedSmallCpu
            | Metric::PacedLargeCpu
            | Metric::EchoSmallCpu
            | Metric::EchoLargeCpu
            | Metric::ClosedSmallStoreCpu
            | Metric::ClosedSmallTotalCpu
            | Metric::PacedSmallStoreCpu
            | Metric::PacedSmallTotalCpu => Unit::Micros,
            Metric::ClosedSmallRate | Metric::ClosedLargeRate => Unit::PerSec,
            Metric::RssConnected | Metric::RssJoined => Unit::KiloBytes,
            _ => Unit::Millis,
        }
    }

    /// The paced relay's latency percentiles are taken over every message of every paced run
    /// (their merged histogram), not as the median of each run's own: a run is a few thousand
    /// messages, so its p99 is decided by a few dozen of them, and whole runs land in one of two
    /// modes (about 0.15 or 0.3 ms, whichever the server) — the median of nine such values jumps
    /// from one mode to the other between two runs of the bench.
    pub fn pooled(self) -> Option<(Distribution, f64)> {
        match self {
            Metric::PacedSmallP50 => Some((Distribution::PacedSmall, 0.5)),
            Metric::PacedSmallP99 => Some((Distribution::PacedSmall, 0.99)),
            Metric::PacedLargeP50 => Some((Distribution::PacedLarge, 0.5)),
            Metric::PacedLargeP99 => Some((Distribution::PacedLarge, 0.99)),
            _ => None,
        }
    }
}

/// Which latency distribution a histogram belongs to, for the percentile plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Distribution {
    PacedSmall,
    PacedLarge,
    ClosedSmall,
    ClosedLarge,
    JoinBurst,
}

/// The bundle the browser downloads: (raw bytes, gzip -9 bytes) of the wasm and the JS glue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bundle {
    pub wasm: (u64, u64),
    pub js: (u64, u64),
}

impl Bundle {
    pub fn gzip_total(&self) -> u64 {
        self.wasm.1 + self.js.1
    }

    pub fn raw_total(&self) -> u64 {
        self.wasm.0 + self.js.0
    }
}

#[derive(Default)]
pub struct Results {
    samples: BTreeMap<(Metric, Server), Vec<f64>>,
    histograms: BTreeMap<(Distribution, Server), Histogram<u64>>,
    /// Link opened → first remote frame, one per browser call, milliseconds.
    pub browser_ms: Vec<u64>,
    pub bundle: Bundle,
    /// Relayed, joined and echoed messages over the whole run, all checked.
    pub messages_checked: u64,
}

impl Results {
    pub fn add(&mut self, metric: Metric, server: Server, value: f64) {
        self.samples.entry((metric, server)).or_default().push(value);
    }

    /// Merges a distribution of microseconds into the run's histogram for `server`.
    pub fn add_histogram(&mut self, distribution: Distribution, server: Server, histogram: &Histogram<u64>) {
        match self.histograms.get_mut(&(distribution, server)) {
            // Every histogram here has the same bounds, so adding cannot fail.
            Some(merged) => drop(merged.add(histogram)),
            None => drop(self.histograms.insert((distribution, server), histogram.clone())),
        }
    }

    pub fn samples(&self, metric: Metric, server: Server) -> &[f64] {
        self.samples.get(&(metric, server)).map_or(&[], Vec::as_slice)
    }

    /// The figure the report shows: the median of the samples, or for a pooled metric (see
    /// [`Metric::pooled`]) the quantile of every message measured, in milliseconds.
    pub fn figure(&self, metric: Metric, server: Server) -> Option<f64> {
        match metric.pooled() {
            Some((distribution, quantile)) => self.histogram(distribution, server).map(|h| ms(h, quantile)),
            None => median(self.samples(metric, server)),
        }
    }

    /// `ours / other` of the figures.
    pub fn ratio(&self, metric: Metric, ours: Server, other: Server) -> Option<f64> {
        let (a, b) = (self.figure(metric, ours)?, self.figure(metric, other)?);
        (b > 0.0).then(|| a / b)
    }

    pub fn histogram(&self, distribution: Distribution, server: Server) -> Option<&Histogram<u64>> {
        self.histograms.get(&(distribution, server))
    }

    pub fn browser_median(&self) -> Option<f64> {
        median(&self.browser_ms.iter().map(|&ms| ms as f64).collect::<Vec<_>>())
    }
}

/// A latency histogram's (microseconds) value at `quantile`, in milliseconds.
pub fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

/// The middle value (the mean of the middle two for an even count); `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
    }

    #[test]
    fn ratios_are_ours_over_theirs() {
        let mut results = Results::default();
        for v in [10.0, 12.0, 11.0] {
            results.add(Metric::ClosedSmallCpu, Server::Ours, v);
        }
        results.add(Metric::ClosedSmallCpu, Server::Fastwebsockets, 22.0);
        assert_eq!(results.ratio(Metric::ClosedSmallCpu, Server::Ours, Server::Fastwebsockets), Some(0.5));
        assert_eq!(results.ratio(Metric::ClosedSmallCpu, Server::Ours, Server::RawTcp), None);
    }

    #[test]
    fn paced_percentiles_pool_every_run() {
        let mut results = Results::default();
        // Three runs of 100 messages at 0.1 ms, one of them with 4 at 2 ms: its p99 is 2 ms, the
        // others' 0.1 ms (the median of the runs); over all 300 messages the p99 is 2 ms.
        for slow in [0, 4, 0] {
            let mut run = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            run.record_n(100, 100 - slow).unwrap();
            run.record_n(2_000, slow).unwrap();
            results.add(Metric::PacedSmallP99, Server::Ours, ms(&run, 0.99));
            results.add_histogram(Distribution::PacedSmall, Server::Ours, &run);
        }
        assert_eq!(median(results.samples(Metric::PacedSmallP99, Server::Ours)), Some(0.1));
        let pooled = results.figure(Metric::PacedSmallP99, Server::Ours).unwrap();
        assert!((pooled - 2.0).abs() < 0.01, "{pooled}");
        // Nothing pooled without a histogram; other metrics stay medians.
        assert_eq!(results.figure(Metric::PacedLargeP99, Server::Ours), None);
        results.add(Metric::ClosedSmallP99, Server::Ours, 2.0);
        assert_eq!(results.figure(Metric::ClosedSmallP99, Server::Ours), Some(2.0));
    }

    #[test]
    fn units_format_by_size() {
        assert_eq!(Unit::Micros.format(12.345), "12.3");
        assert_eq!(Unit::Millis.format(0.1234), "0.12");
        assert_eq!(Unit::KiloBytes.format(140.4), "140");
        assert_eq!(Unit::PerSec.format(45123.7), "45124");
    }
}
