//! The measuring loop: for each repetition, each scenario, each server in turn (so a change in
//! the machine's load hits every server alike), a fresh server process, one bounded scenario,
//! and its figures recorded. The 256 B relay also runs ours through Redis, on one node and on
//! two, in the same turn. Any lost or misdelivered message, or a server that dies, ends the run
//! with an error.

use crate::error::Result;
use crate::launcher::Launcher;
use crate::load::{echo, idle, join, relay};
use crate::plan::{Sizes, ECHO_LARGE, ECHO_SMALL, LARGE, SMALL};
use crate::results::{ms, Distribution, Metric, Results};
use crate::server::{Server, Target, ECHO_SERVERS, REDIS_SERVERS, ROOM_SERVERS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    ClosedSmall,
    ClosedLarge,
    PacedSmall,
    PacedLarge,
    JoinSequential,
    JoinBurst,
    Idle,
}

pub const SCENARIOS: [Scenario; 7] = [
    Scenario::ClosedSmall,
    Scenario::ClosedLarge,
    Scenario::PacedSmall,
    Scenario::PacedLarge,
    Scenario::JoinSequential,
    Scenario::JoinBurst,
    Scenario::Idle,
];

impl Scenario {
    pub fn from_slug(slug: &str) -> Option<Scenario> {
        SCENARIOS.into_iter().find(|s| s.slug() == slug)
    }

    fn is_paced(self) -> bool {
        matches!(self, Scenario::PacedSmall | Scenario::PacedLarge)
    }

    /// Whether ours also runs it through Redis: the 256 B relay (an ICE candidate, most of a
    /// call's signaling), closed loop and paced.
    pub fn through_redis(self) -> bool {
        matches!(self, Scenario::ClosedSmall | Scenario::PacedSmall)
    }

    /// The servers it runs on, in turn: every room server, then ours through Redis.
    pub fn servers(self) -> impl Iterator<Item = Server> {
        let redis: &[Server] = if self.through_redis() { &REDIS_SERVERS } else { &[] };
        ROOM_SERVERS.into_iter().chain(redis.iter().copied())
    }

    /// Where the redis-server's CPU per message and the sum with the server's go.
    fn store_metrics(self) -> Option<[Metric; 2]> {
        match self {
            Scenario::ClosedSmall => Some([Metric::ClosedSmallStoreCpu, Metric::ClosedSmallTotalCpu]),
            Scenario::PacedSmall => Some([Metric::PacedSmallStoreCpu, Metric::PacedSmallTotalCpu]),
            _ => None,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Scenario::ClosedSmall => "relay-256-closed",
            Scenario::ClosedLarge => "relay-4k-closed",
            Scenario::PacedSmall => "relay-256-paced",
            Scenario::PacedLarge => "relay-4k-paced",
            Scenario::JoinSequential => "join-sequential",
            Scenario::JoinBurst => "join-burst",
            Scenario::Idle => "idle",
        }
    }
}

pub async fn measure(launcher: &Launcher, sizes: &Sizes, results: &mut Results) -> Result<()> {
    let connections = sizes.max_connections();
    for rep in 1..=sizes.repetitions {
        for scenario in SCENARIOS {
            let rounds = if scenario.is_paced() { sizes.paced_rounds } else { 1 };
            for round in 1..=rounds {
                for server in scenario.servers() {
                    let label = format!("{}-{rep}-{round}", scenario.slug());
                    let mut running = launcher.start(server, connections, &label)?;
                    let line = run_scenario(scenario, &running.target, server, sizes, results).await;
                    running.check_alive()?;
                    let line = line.map_err(|e| running.failure(format!("in {}: {e}", scenario.slug())))?;
                    println!("[{rep}/{}] {:<16} {:<20} {line}", sizes.repetitions, scenario.slug(), server.name());
                }
            }
        }
        for (size, metric) in [(ECHO_SMALL, Metric::EchoSmallCpu), (ECHO_LARGE, Metric::EchoLargeCpu)] {
            for server in ECHO_SERVERS {
                let mut running = launcher.start(server, sizes.echo_connections, &format!("echo-{size}-{rep}"))?;
                let figures = echo::run(&running.target, &sizes.echo(size)).await;
                running.check_alive()?;
                let figures = figures.map_err(|e| running.failure(format!("in echo {size} B: {e}")))?;
                results.add(metric, server, figures.cpu_us_per_message());
                results.messages_checked += figures.echoed;
                let rate = figures.echoed as f64 / figures.elapsed.as_secs_f64().max(1e-9);
                let name = format!("echo-{size}");
                println!(
                    "[{rep}/{}] {name:<16} {:<20} {:.2} µs/msg CPU, {rate:.0} msg/s",
                    sizes.repetitions,
                    server.name(),
                    figures.cpu_us_per_message()
                );
            }
        }
    }
    Ok(())
}

/// Runs one scenario against a fresh server, records its figures and returns a progress line.
pub async fn run_scenario(
    scenario: Scenario,
    server: &Target,
    who: Server,
    sizes: &Sizes,
    results: &mut Results,
) -> Result<String> {
    match scenario {
        Scenario::ClosedSmall | Scenario::ClosedLarge | Scenario::PacedSmall | Scenario::PacedLarge => {
            relay_scenario(scenario, server, who, sizes, results).await
        }
        Scenario::JoinSequential | Scenario::JoinBurst => join_scenario(scenario, server, who, sizes, results).await,
        Scenario::Idle => {
            let memory = idle::run(server, sizes.idle).await?;
            results.add(Metric::RssConnected, who, memory.per_connected() / 1024.0);
            results.add(Metric::RssJoined, who, memory.per_joined() / 1024.0);
            results.messages_checked += memory.connections as u64;
            Ok(format!(
                "{:.2} KB per connected, {:.2} KB per joined ({} connections, baseline {:.1} MB)",
                memory.per_connected() / 1024.0,
                memory.per_joined() / 1024.0,
                memory.connections,
                memory.baseline as f64 / (1024.0 * 1024.0)
            ))
        }
    }
}

async fn relay_scenario(
    scenario: Scenario,
    server: &Target,
    who: Server,
    sizes: &Sizes,
    results: &mut Results,
) -> Result<String> {
    // Paced runs have no rate of their own to report: it is the configured one.
    let (plan, [cpu, rate, p50, p99], distribution) = match scenario {
        Scenario::ClosedSmall => (
            sizes.closed(SMALL),
            [Metric::ClosedSmallCpu, Metric::ClosedSmallRate, Metric::ClosedSmallP50, Metric::ClosedSmallP99],
            Distribution::ClosedSmall,
        ),
        Scenario::ClosedLarge => (
            sizes.closed(LARGE),
            [Metric::ClosedLargeCpu, Metric::ClosedLargeRate, Metric::ClosedLargeP50, Metric::ClosedLargeP99],
            Distribution::ClosedLarge,
        ),
        Scenario::PacedSmall => (
            sizes.paced(SMALL),
            [Metric::PacedSmallCpu, Metric::PacedSmallCpu, Metric::PacedSmallP50, Metric::PacedSmallP99],
            Distribution::PacedSmall,
        ),
        _ => (
            sizes.paced(LARGE),
            [Metric::PacedLargeCpu, Metric::PacedLargeCpu, Metric::PacedLargeP50, Metric::PacedLargeP99],
            Distribution::PacedLarge,
        ),
    };
    let figures = relay::run(server, &plan, scenario.slug()).await?;
    results.add(cpu, who, figures.cpu_us_per_message());
    if let Some([store, total]) = scenario.store_metrics() {
        if let Some(us) = figures.store_us_per_message() {
            results.add(store, who, us);
        }
        results.add(total, who, figures.total_us_per_message());
    }
    if rate != cpu {
        results.add(rate, who, figures.per_sec());
    }
    let (median, tail) = (ms(&figures.latency, 0.5), ms(&figures.latency, 0.99));
    results.add(p50, who, median);
    results.add(p99, who, tail);
    results.add_histogram(distribution, who, &figures.latency);
    results.messages_checked += figures.relayed;
    let cpu = match figures.store_us_per_message() {
        Some(store) => format!(
            "{:.2} µs/msg CPU + redis-server {store:.2} = {:.2}",
            figures.cpu_us_per_message(),
            figures.total_us_per_message()
        ),
        None => format!("{:.2} µs/msg CPU", figures.cpu_us_per_message()),
    };
    Ok(format!(
        "{cpu}, {:.0} msg/s, p50 {median:.2} ms, p99 {tail:.2} ms ({} relayed)",
        figures.per_sec(),
        figures.relayed
    ))
}

async fn join_scenario(
    scenario: Scenario,
    server: &Target,
    who: Server,
    sizes: &Sizes,
    results: &mut Results,
) -> Result<String> {
    if scenario == Scenario::JoinSequential {
        let latency = join::sequential(server, sizes.join_sequential).await?;
        let (median, tail) = (ms(&latency, 0.5), ms(&latency, 0.99));
        results.add(Metric::JoinSequentialP50, who, median);
        results.add(Metric::JoinSequentialP99, who, tail);
        results.messages_checked += latency.len();
        return Ok(format!("p50 {median:.2} ms, p99 {tail:.2} ms ({} joins)", latency.len()));
    }
    let mut lines = Vec::with_capacity(sizes.bursts);
    for round in 0..sizes.bursts {
        // The previous burst's connections are closing: let the server finish with them first.
        server.settle().await?;
        let latency = join::burst(server, sizes.join_burst, round).await?;
        let (median, tail) = (ms(&latency, 0.5), ms(&latency, 0.99));
        results.add(Metric::JoinBurstP50, who, median);
        results.add(Metric::JoinBurstP99, who, tail);
        results.add_histogram(Distribution::JoinBurst, who, &latency);
        results.messages_checked += latency.len();
        lines.push(format!("{median:.1}/{tail:.1}"));
    }
    Ok(format!("p50/p99 ms of {} bursts of {}: {}", sizes.bursts, sizes.join_burst, lines.join(", ")))
}
