//! The targets of the issue, checked against the figures of one run (`Results::figure`: medians,
//! or pooled percentiles): "musts" pass or fail, "goals" are met or not. Ratios are always
//! ours / theirs, from the same run.

use crate::results::{Metric, Results};
use crate::server::Server;

/// Paced one-way latency that no run of ours may exceed at p99, in milliseconds.
pub const PACED_P99_CEILING_MS: f64 = 20.0;
/// 1 KB = 1024 bytes throughout the report.
pub const KB: f64 = 1024.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub must: bool,
    pub target: String,
    pub measured: String,
    /// `None` when a figure is missing.
    pub pass: Option<bool>,
}

impl Verdict {
    pub fn result(&self) -> &'static str {
        match (self.must, self.pass) {
            (_, None) => "not measured",
            (true, Some(true)) => "pass",
            (true, Some(false)) => "**FAIL**",
            (false, Some(true)) => "met",
            (false, Some(false)) => "not met",
        }
    }
}

fn ratio(results: &Results, must: bool, metric: Metric, other: Server, limit: f64) -> Verdict {
    ratio_of(results, must, metric, Server::Ours, other, limit)
}

/// `server`'s median / `other`'s, against `limit`.
fn ratio_of(results: &Results, must: bool, metric: Metric, server: Server, other: Server, limit: f64) -> Verdict {
    let unit = metric.unit();
    let target = if server == Server::Ours {
        format!("{} ≤ {limit:.1}× {}", metric.label(), other.name())
    } else {
        format!("{}: {} ≤ {limit:.1}× {}", metric.label(), server.name(), other.name())
    };
    let (ours, theirs) = (results.figure(metric, server), results.figure(metric, other));
    match (ours, theirs, results.ratio(metric, server, other)) {
        (Some(a), Some(b), Some(r)) => Verdict {
            must,
            target,
            // Three decimals: a ratio of 0.704 against a limit of 0.7 must not read as "0.70".
            measured: format!("{r:.3}× ({} vs {} {})", unit.format(a), unit.format(b), unit.label()),
            pass: Some(r <= limit),
        },
        _ => Verdict { must, target, measured: "—".to_owned(), pass: None },
    }
}

fn absolute(must: bool, target: String, value: Option<f64>, limit: f64, unit: &str) -> Verdict {
    match value {
        Some(v) => Verdict { must, target, measured: format!("{v:.1} {unit}"), pass: Some(v <= limit) },
        None => Verdict { must, target, measured: "—".to_owned(), pass: None },
    }
}

/// Every target, musts and goals, in the order of the issue.
pub fn check(results: &Results) -> Vec<Verdict> {
    use Metric::*;
    use Server::{Fastwebsockets as Fws, RawTcp, Tungstenite as Tung};
    let mut verdicts = vec![
        ratio(results, true, RssJoined, Fws, 1.0),
        ratio(results, true, RssJoined, Tung, 0.1),
        absolute(false, "RSS per joined peer ≤ 4 KB".into(), results.figure(RssJoined, Server::Ours), 4.0, "KB"),
        ratio(results, true, ClosedSmallCpu, Fws, 1.0),
        ratio(results, true, ClosedSmallCpu, Tung, 0.7),
        ratio(results, false, ClosedSmallCpu, RawTcp, 1.3),
        ratio(results, true, ClosedLargeCpu, Fws, 1.0),
        ratio(results, false, ClosedLargeCpu, RawTcp, 1.2),
        ratio(results, true, PacedSmallP99, Fws, 1.0),
        ratio(results, true, PacedLargeP99, Fws, 1.0),
    ];
    let paced: Vec<f64> = results
        .samples(PacedSmallP99, Server::Ours)
        .iter()
        .chain(results.samples(PacedLargeP99, Server::Ours))
        .copied()
        .collect();
    let worst = paced.iter().copied().fold(None, |max: Option<f64>, v| Some(max.map_or(v, |m| m.max(v))));
    let mut no_run = absolute(
        true,
        format!("no paced run of ours with p99 over {PACED_P99_CEILING_MS:.0} ms"),
        worst,
        PACED_P99_CEILING_MS,
        "ms",
    );
    no_run.measured = format!("worst p99 {} over {} runs", no_run.measured, paced.len());
    verdicts.push(no_run);
    verdicts.push(ratio(results, true, JoinBurstP99, Fws, 1.0));
    verdicts.extend(echo(results));
    let gzip = (results.bundle.wasm.0 > 0).then(|| results.bundle.gzip_total() as f64 / KB);
    // Issue 15: the UX work must fit in 120 KB (it was 94.6 KB before it).
    verdicts.push(absolute(true, "bundle (wasm + JS), gzip ≤ 120 KB".into(), gzip, 120.0, "KB"));
    verdicts.push(absolute(false, "bundle (wasm + JS), gzip ≤ 100 KB".into(), gzip, 100.0, "KB"));
    let runs = results.browser_ms.len();
    let browser = results.browser_median().map(|ms| ms / 1000.0);
    let what = format!("link opened → first remote frame, median of {runs}");
    verdicts.push(absolute(true, format!("{what} ≤ 1.5 s"), browser, 1.5, "s"));
    verdicts.push(absolute(false, format!("{what} ≤ 1.0 s"), browser, 1.0, "s"));
    verdicts.extend(hot_path(results));
    verdicts
}

/// The echo targets: the 64 B echo against the floor (`ref-rawtcp --echo`), and the 32 KiB
/// echo against fastwebsockets' echo, the hot-path issue's goal for large messages.
fn echo(results: &Results) -> [Verdict; 3] {
    use Metric::{EchoLargeCpu, EchoSmallCpu};
    use Server::{FastwebsocketsEcho, RawEcho};
    let mut must = ratio_echo(results, true, EchoSmallCpu, RawEcho, 1.3);
    must.target = format!("{} ≤ 1.3× {}", EchoSmallCpu.label(), RawEcho.name());
    let mut goal = ratio_echo(results, false, EchoSmallCpu, RawEcho, 1.1);
    goal.target = format!("{} ≤ 1.1× {}", EchoSmallCpu.label(), RawEcho.name());
    let mut large = ratio_echo(results, false, EchoLargeCpu, FastwebsocketsEcho, 1.0);
    large.target = format!("{} ≤ 1.0× {}", EchoLargeCpu.label(), FastwebsocketsEcho.name());
    [must, goal, large]
}

/// The hot-path goals: the relay at one message per wake-up (paced) against fastwebsockets and
/// the physical floor (`ref-rawtcp --frames`), the join burst's tail, and a relay through Redis
/// (signaling + redis-server CPU, one node and two) against ours with rooms in memory.
fn hot_path(results: &Results) -> [Verdict; 6] {
    use Metric::*;
    [
        ratio(results, false, PacedSmallCpu, Server::Fastwebsockets, 0.8),
        ratio(results, false, PacedSmallCpu, Server::RawFrames, 1.5),
        ratio(results, false, ClosedSmallCpu, Server::RawFrames, 1.5),
        ratio(results, false, JoinBurstP99, Server::Fastwebsockets, 0.9),
        ratio_of(results, false, ClosedSmallTotalCpu, Server::OursRedis, Server::Ours, 1.5),
        ratio_of(results, false, ClosedSmallTotalCpu, Server::OursRedisPair, Server::Ours, 1.5),
    ]
}

/// Our echo example's figure / `other`'s for `metric`, against `limit`; the caller names the target.
fn ratio_echo(results: &Results, must: bool, metric: Metric, other: Server, limit: f64) -> Verdict {
    let (a, b) = (results.figure(metric, Server::OursEcho), results.figure(metric, other));
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Verdict {
            must,
            target: String::new(),
            measured: format!("{:.3}× ({a:.2} vs {b:.2} µs)", a / b),
            pass: Some(a / b <= limit),
        },
        _ => Verdict { must, target: String::new(), measured: "—".to_owned(), pass: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hot_path_is_held_to_the_floor() {
        let mut results = Results::default();
        results.add(Metric::PacedSmallCpu, Server::Ours, 15.0);
        results.add(Metric::PacedSmallCpu, Server::RawFrames, 10.0);
        results.add(Metric::PacedSmallCpu, Server::Fastwebsockets, 20.0);
        let [fws, floor, closed, _, redis, _] = hot_path(&results);
        assert_eq!((fws.pass, fws.must), (Some(true), false), "15/20 is within 0.8");
        assert_eq!(floor.pass, Some(true), "15/10 is exactly 1.5");
        assert!(floor.target.contains("raw TCP frames"), "{}", floor.target);
        assert_eq!(closed.pass, None);
        assert_eq!(redis.pass, None);
        results.add(Metric::ClosedSmallTotalCpu, Server::Ours, 4.0);
        results.add(Metric::ClosedSmallTotalCpu, Server::OursRedis, 8.0);
        results.add(Metric::ClosedSmallTotalCpu, Server::OursRedisPair, 6.0);
        let [.., one, two] = hot_path(&results);
        assert_eq!((one.pass, two.pass), (Some(false), Some(true)), "8/4 is over 1.5, 6/4 is 1.5");
        assert!(one.target.contains(Server::OursRedis.name()), "{}", one.target);
        results.add(Metric::PacedSmallCpu, Server::Ours, 16.0);
        results.add(Metric::PacedSmallCpu, Server::Ours, 17.0);
        assert_eq!(hot_path(&results)[1].pass, Some(false), "the median, 16, is over 1.5× 10");
    }

    #[test]
    fn ratios_pass_and_fail_at_their_limits() {
        let mut results = Results::default();
        results.add(Metric::RssJoined, Server::Ours, 4.0);
        results.add(Metric::RssJoined, Server::Fastwebsockets, 8.0);
        results.add(Metric::RssJoined, Server::Tungstenite, 30.0);
        let verdicts = check(&results);
        assert_eq!(verdicts[0].pass, Some(true));
        assert_eq!(verdicts[0].measured, "0.500× (4.00 vs 8.00 KB)");
        assert_eq!(verdicts[1].pass, Some(false), "4/30 is over 0.1");
        assert_eq!(verdicts[1].result(), "**FAIL**");
        assert_eq!(verdicts[2].pass, Some(true), "4 KB goal");
        assert_eq!(verdicts[3].pass, None, "no CPU figures");
        assert_eq!(verdicts[3].result(), "not measured");
    }

    #[test]
    fn echo_targets_hold_ours_to_the_floor_and_to_fastwebsockets() {
        let mut results = Results::default();
        let [must, goal, large] = echo(&results);
        assert_eq!((must.pass, goal.pass, large.pass), (None, None, None), "nothing measured");
        assert_eq!((must.must, goal.must, large.must), (true, false, false));
        assert_eq!(large.target, "echo 32 KiB: server CPU per message ≤ 1.0× fastwebsockets echo");
        results.add(Metric::EchoSmallCpu, Server::OursEcho, 3.6);
        results.add(Metric::EchoSmallCpu, Server::RawEcho, 3.0);
        results.add(Metric::EchoSmallCpu, Server::FastwebsocketsEcho, 1.0);
        results.add(Metric::EchoLargeCpu, Server::OursEcho, 30.0);
        results.add(Metric::EchoLargeCpu, Server::FastwebsocketsEcho, 30.0);
        results.add(Metric::EchoLargeCpu, Server::RawEcho, 10.0);
        let [must, goal, large] = echo(&results);
        assert_eq!(must.pass, Some(true), "3.6/3.0 = 1.2 is within 1.3× the floor");
        assert_eq!(must.measured, "1.200× (3.60 vs 3.00 µs)", "against the floor, not fastwebsockets");
        assert_eq!(goal.pass, Some(false), "1.2 is over the 1.1 goal");
        assert_eq!(large.pass, Some(true), "30/30 is exactly 1.0");
        assert_eq!(large.measured, "1.000× (30.00 vs 30.00 µs)", "against fastwebsockets, not the floor");
        results.add(Metric::EchoLargeCpu, Server::OursEcho, 31.0);
        results.add(Metric::EchoLargeCpu, Server::OursEcho, 32.0);
        assert_eq!(echo(&results)[2].pass, Some(false), "the median, 31, is over 1.0× 30");
        let all = check(&results);
        assert_eq!(all.iter().filter(|v| v.target.starts_with("echo ")).count(), 3, "all three in the report");
    }

    #[test]
    fn the_paced_ceiling_looks_at_every_run() {
        let mut results = Results::default();
        for p99 in [1.0, 25.0, 2.0] {
            results.add(Metric::PacedSmallP99, Server::Ours, p99);
        }
        let ceiling = check(&results).into_iter().find(|v| v.target.contains("no paced run")).unwrap();
        assert_eq!(ceiling.pass, Some(false));
        assert!(ceiling.measured.contains("25.0 ms over 3 runs"), "{}", ceiling.measured);
    }
}
