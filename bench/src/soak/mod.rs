//! `bench soak [--short]`: many peers in rooms for minutes on each engine (memory, and Redis
//! with a real `redis-server`), while some stop reading, some flood and some drop and resume.
//! Reports peak RSS, RSS per peer, messages lost by well-behaved peers (must be 0: each one's
//! every message is checked, in order) and their one-way latency. Bounded in count and time.
//!
//! - [`actors`]: the simulated people;
//! - this module: the plan, the server's flags, one run per engine and the report.

pub mod actors;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use crate::error::{BenchError, Result};
use crate::launcher::Launcher;
use crate::load::conn::Transport;
use crate::load::{pairs, CONCURRENCY};
use crate::process::Process;
use crate::procfs;
use crate::redis::RedisServer;
use crate::server::listening_addr;
use actors::{SteadyTally, StormTally};

/// How big and how long: the short form for CI, the full one for a quiet machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Rooms of two well-behaved peers; every message between them is checked.
    pub steady_pairs: usize,
    /// Messages each steady sender sends, one per `interval`: the run's length.
    pub messages: u64,
    pub interval: Duration,
    /// Rooms where one peer stops reading and the other sends big signals to it.
    pub slow_pairs: usize,
    /// Connections that flood past the rate limit, `flood_rounds` times each.
    pub flooders: usize,
    pub flood_rounds: u32,
    /// Rooms where one peer drops its connection and resumes, every `storm_every`.
    pub storm_pairs: usize,
    pub storm_every: Duration,
}

impl Plan {
    /// ~30 s per engine, a few hundred peers: proves the soak runs and loses nothing.
    pub const SHORT: Plan = Plan {
        steady_pairs: 150,
        messages: 40,
        interval: Duration::from_millis(500),
        slow_pairs: 4,
        flooders: 4,
        flood_rounds: 3,
        storm_pairs: 10,
        storm_every: Duration::from_secs(1),
    };
    /// 3 minutes per engine, 10,000 steady peers plus the hostile ones.
    pub const FULL: Plan = Plan {
        steady_pairs: 5_000,
        messages: 90,
        interval: Duration::from_secs(2),
        slow_pairs: 50,
        flooders: 50,
        flood_rounds: 10,
        storm_pairs: 200,
        storm_every: Duration::from_secs(2),
    };

    pub fn run_time(&self) -> Duration {
        self.interval * u32::try_from(self.messages).unwrap_or(u32::MAX)
    }

    pub fn peers(&self) -> usize {
        2 * (self.steady_pairs + self.slow_pairs + self.storm_pairs) + self.flooders
    }
}

/// Big signals per second to a slow reader: under the default sustained rate (50/s), so the
/// sender itself is never limited; only the reader's queue grows.
const SLOW_PER_SEC: u32 = 40;
/// Messages per flood: past the default burst (200) and flood threshold.
const FLOOD_BURST: u32 = 1_000;
/// How often the server's RSS is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// The server starts within this (Redis engine: registered there too).
const START_LIMIT: Duration = Duration::from_secs(30);

/// The signaling server's flags for a soak, in one place. Defaults everywhere — the rate limit
/// and the outbound bounds are what the hostile peers must hit — except the connection cap,
/// raised past the load. Every simulated peer sends its own `X-Forwarded-For` address
/// (`load::conn::forwarded_for`) and the generator's address is a trusted proxy, so the
/// per-address limits count each peer apart.
pub fn server_flags(peers: usize) -> Vec<String> {
    let max = (peers + 1024).to_string();
    // The generator is the trusted proxy: each of its WebSockets names its own client address
    // in X-Forwarded-For, so the per-address limits apply per simulated person, as in production.
    ["--listen", "127.0.0.1:0", "--max-connections", &max, "--trusted-proxies", "127.0.0.1/32"]
        .map(str::to_owned)
        .to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Memory,
    Redis,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Memory => "memory",
            Engine::Redis => "Redis",
        }
    }
}

/// One engine's figures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub engine: &'static str,
    pub peers: usize,
    pub seconds: f64,
    pub idle_rss: u64,
    pub loaded_rss: u64,
    pub peak_rss: u64,
    pub sent: u64,
    pub received: u64,
    pub wrong: usize,
    pub first_wrong: Option<String>,
    /// Answers well-behaved senders got (refusals of their signals); must be 0.
    pub sender_answers: u64,
    pub first_sender_answer: Option<String>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub slow_sent: u64,
    pub flood_closes: u32,
    pub flood_joins_refused: u32,
    pub storm: StormTally,
}

impl Figures {
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    pub fn rss_per_peer(&self) -> f64 {
        self.loaded_rss.saturating_sub(self.idle_rss) as f64 / self.peers.max(1) as f64
    }
}

/// The `q`-quantile (0..=1) of `sorted`, nearest rank; 0 for none.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs the plan on each engine and writes the report to `report`; fails if a well-behaved
/// peer lost or misordered a message.
pub async fn run(launcher: &Launcher, plan: Plan, report: &Path, command: &str) -> Result<()> {
    // Per process: the generator holds one end of each connection, the server (which inherits
    // the limit) the other.
    crate::run::raise_fd_limit(plan.peers())?;
    let started = Instant::now();
    let mut all = Vec::new();
    for engine in [Engine::Memory, Engine::Redis] {
        println!("soak: {} engine, {} peers, {:.0} s", engine.name(), plan.peers(), plan.run_time().as_secs_f64());
        let figures = run_engine(launcher, plan, engine).await?;
        println!("{}", row(&figures));
        all.push(figures);
    }
    let text = render(&all, plan, command, started.elapsed());
    if let Some(dir) = report.parent() {
        std::fs::create_dir_all(dir).map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(report, text).map_err(|e| BenchError::io(format!("writing {}", report.display()), e))?;
    println!("soak: report in {}", report.display());
    for figures in &all {
        if figures.lost() > 0 || figures.wrong > 0 || figures.sender_answers > 0 {
            return Err(BenchError::Misdelivered {
                scenario: format!("soak ({})", figures.engine),
                detail: format!(
                    "{} of {} messages lost, {} wrong, {} answers to well-behaved senders; first wrong: {}; \
                     first answer: {}",
                    figures.lost(),
                    figures.sent,
                    figures.wrong,
                    figures.sender_answers,
                    figures.first_wrong.as_deref().unwrap_or("-"),
                    figures.first_sender_answer.as_deref().unwrap_or("-")
                ),
            });
        }
    }
    Ok(())
}

/// A fresh server (and redis-server) for `engine`, the plan run against it, then killed.
async fn run_engine(launcher: &Launcher, plan: Plan, engine: Engine) -> Result<Figures> {
    std::fs::create_dir_all(&launcher.log_dir)
        .map_err(|e| BenchError::io(format!("creating {}", launcher.log_dir.display()), e))?;
    let store = match engine {
        Engine::Memory => None,
        Engine::Redis => Some(RedisServer::start(launcher, "soak")?),
    };
    let mut command = launcher.pinned(launcher.release_dir.join("signaling"));
    command.args(server_flags(plan.peers()));
    if let Some(store) = &store {
        command.args(["--redis-url", &store.url()]);
    }
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
    let log: PathBuf = launcher.log_dir.join(format!("soak-{}.log", engine.name()));
    let mut server = Process::spawn("signaling", command, log)?;
    let addr = server.wait_for_line("listening", START_LIMIT, listening_addr)?;
    server.wait_healthy(addr, START_LIMIT)?;
    let pid = server.pid();
    let idle_rss = procfs::rss_bytes(pid)?;

    let started = Instant::now();
    let steady = pairs([addr, addr], Transport::WebSocket, "soak-steady", plan.steady_pairs).await?;
    let slow = pairs([addr, addr], Transport::WebSocket, "soak-slow", plan.slow_pairs).await?;
    let loaded_rss = procfs::rss_bytes(pid)?;
    let peak = std::cell::Cell::new(loaded_rss);
    let run = plan.run_time();

    let steady_work = futures_util::stream::iter(steady.into_iter().enumerate().map(|(i, pair)| {
        // Senders spread over one interval, so the load is even rather than in waves.
        let offset = plan.interval * u32::try_from(i % 1000).unwrap_or(0) / 1000;
        actors::steady(pair, plan.messages, plan.interval, offset)
    }))
    .buffer_unordered(usize::MAX)
    .collect::<Vec<SteadyTally>>();
    let slow_work =
        futures_util::future::join_all(slow.into_iter().map(|pair| actors::slow_reader(pair, SLOW_PER_SEC, run)));
    let flood_work = futures_util::stream::iter(
        (0..plan.flooders)
            .map(|i| actors::flooder(addr, format!("soak-flood-{i}"), FLOOD_BURST, plan.flood_rounds, run)),
    )
    .buffer_unordered(CONCURRENCY)
    .collect::<Vec<Result<(u32, u32)>>>();
    let storm_work = futures_util::future::join_all(
        (0..plan.storm_pairs).map(|i| actors::storm(addr, format!("soak-storm-{i}"), plan.storm_every, 10_000, run)),
    );
    let sampling = async {
        let mut ticker = tokio::time::interval(SAMPLE_EVERY);
        loop {
            ticker.tick().await;
            if let Ok(rss) = procfs::rss_bytes(pid) {
                peak.set(peak.get().max(rss));
            }
        }
    };
    let work = async { tokio::join!(steady_work, slow_work, flood_work, storm_work) };
    let (tallies, slow_sent, floods, storms) = tokio::select! {
        done = work => done,
        _ = sampling => unreachable!("the sampler never ends"),
    };
    server.check_alive()?;

    let mut figures = Figures {
        engine: engine.name(),
        peers: plan.peers(),
        seconds: started.elapsed().as_secs_f64(),
        idle_rss,
        loaded_rss,
        peak_rss: peak.get().max(procfs::rss_bytes(pid).unwrap_or(0)),
        slow_sent: slow_sent.iter().sum(),
        ..Figures::default()
    };
    let mut latencies = Vec::new();
    for tally in tallies {
        figures.sent += tally.sent;
        figures.received += tally.received;
        figures.wrong += tally.wrong.len();
        if figures.first_wrong.is_none() {
            figures.first_wrong = tally.wrong.into_iter().next();
        }
        figures.sender_answers += tally.sender_answers;
        if figures.first_sender_answer.is_none() {
            figures.first_sender_answer = tally.first_sender_answer;
        }
        latencies.extend(tally.latencies_us);
    }
    latencies.sort_unstable();
    figures.p50_ms = quantile(&latencies, 0.50) as f64 / 1000.0;
    figures.p99_ms = quantile(&latencies, 0.99) as f64 / 1000.0;
    for flood in floods {
        let (closed, refused) = flood?;
        figures.flood_closes += closed;
        figures.flood_joins_refused += refused;
    }
    for storm in storms {
        let storm = storm?;
        figures.storm.reconnects += storm.reconnects;
        figures.storm.resumed += storm.resumed;
        figures.storm.refused += storm.refused;
    }
    drop(server);
    drop(store);
    Ok(figures)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One engine's line of the report table.
pub fn row(f: &Figures) -> String {
    format!(
        "| {} | {} | {:.0} | {:.1} | {:.1} | {:.2} | {} | {} | {} | {} | {:.2} | {:.2} | {} | {} ({} joins refused) | {}/{} |",
        f.engine,
        f.peers,
        f.seconds,
        mib(f.loaded_rss),
        mib(f.peak_rss),
        f.rss_per_peer() / 1024.0,
        f.sent,
        f.lost(),
        f.wrong,
        f.sender_answers,
        f.p50_ms,
        f.p99_ms,
        f.slow_sent,
        f.flood_closes,
        f.flood_joins_refused,
        f.storm.resumed,
        f.storm.reconnects,
    )
}

/// The Markdown report.
pub fn render(all: &[Figures], plan: Plan, command: &str, took: Duration) -> String {
    let mut text = String::from("# Reliability: the soak\n\n");
    let _ = writeln!(
        text,
        "Generated by `{command}` in {:.1} minutes; do not edit by hand.\n\n\
         Per engine: {} rooms of two well-behaved peers, each sender sending {} signals of 256 bytes, one \
         every {} ms, every one checked to arrive once and in order (a message skipped over counts as lost), and \
         every answer a sender gets (a refused signal) counted; {} rooms where one peer reads nothing \
         while the other sends it 60,000-byte signals at {SLOW_PER_SEC}/s; {} connections each flooding \
         {FLOOD_BURST} signals at once, {} times; {} rooms where one peer drops its connection every {} ms \
         and resumes with its token. The server runs with `bench::soak::server_flags` (defaults but \
         the connection cap).\n",
        took.as_secs_f64() / 60.0,
        plan.steady_pairs,
        plan.messages,
        plan.interval.as_millis(),
        plan.slow_pairs,
        plan.flooders,
        plan.flood_rounds,
        plan.storm_pairs,
        plan.storm_every.as_millis(),
    );
    text.push_str(
        "| engine | peers | s | RSS loaded (MiB) | peak RSS (MiB) | RSS per peer (KiB) | messages | lost | \
         wrong | refused senders | latency p50 (ms) | p99 (ms) | big signals to slow readers | floods closed | \
         resumed/reconnects |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for figures in all {
        text.push_str(&row(figures));
        text.push('\n');
    }
    text
}

/// `bench soak [--short] [--root DIR] [--target-dir DIR] [--report FILE] [--command TEXT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoakArgs {
    pub plan: Plan,
    pub target_dir: PathBuf,
    pub report: PathBuf,
    pub command: String,
}

const SOAK_USAGE: &str = "usage: bench soak [--short] [--root DIR] [--target-dir DIR] [--report FILE] [--command TEXT]";

impl SoakArgs {
    /// Defaults: the full plan reports to `docs/RELIABILITY.md`, the short one to
    /// `target/soak/short.md`.
    pub fn parse(args: &[String]) -> Result<SoakArgs> {
        let mut short = false;
        let mut given: [Option<String>; 4] = Default::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let slot = match arg.as_str() {
                "--short" => {
                    short = true;
                    continue;
                }
                "--root" => 0,
                "--target-dir" => 1,
                "--report" => 2,
                "--command" => 3,
                other => return Err(BenchError::Usage(format!("unknown argument `{other}`; {SOAK_USAGE}"))),
            };
            let value = args.next().ok_or_else(|| BenchError::Usage(format!("`{arg}` needs a value; {SOAK_USAGE}")))?;
            given[slot] = Some(value.clone());
        }
        let [root, target_dir, report, command] = given;
        let root = root.map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), PathBuf::from);
        let target_dir = target_dir.map_or_else(|| root.join("target"), PathBuf::from);
        let (plan, report_default, command_default) = if short {
            (Plan::SHORT, target_dir.join("soak/short.md"), "cargo xtask soak --short")
        } else {
            (Plan::FULL, root.join("docs/RELIABILITY.md"), "cargo xtask soak")
        };
        Ok(SoakArgs {
            plan,
            report: report.map_or(report_default, PathBuf::from),
            command: command.unwrap_or_else(|| command_default.to_owned()),
            target_dir,
        })
    }

    /// Servers pinned to CPU 0 when there is a second CPU (xtask pins the generator to CPU 1).
    pub fn launcher(&self) -> Launcher {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Launcher {
            release_dir: self.target_dir.join("release"),
            log_dir: self.target_dir.join("soak/logs"),
            pin: (cpus >= 2).then_some(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_pick_the_plan_and_the_report() {
        let args = |a: &[&str]| SoakArgs::parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let short = args(&["--short", "--root", "/r"]).unwrap();
        assert_eq!(short.plan, Plan::SHORT);
        assert_eq!(short.report, Path::new("/r/target/soak/short.md"));
        let full = args(&["--root", "/r", "--target-dir", "/t"]).unwrap();
        assert_eq!((full.plan, full.report.as_path()), (Plan::FULL, Path::new("/r/docs/RELIABILITY.md")));
        assert_eq!(full.launcher().release_dir, Path::new("/t/release"));
        assert!(args(&["--fast"]).is_err());
        assert!(args(&["--report"]).is_err());
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&v, 1.0), 100);
        assert_eq!(quantile(&[7], 0.99), 7);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn the_full_plan_has_ten_thousand_well_behaved_peers_and_both_are_bounded() {
        const { assert!(Plan::FULL.steady_pairs * 2 >= 10_000) };
        assert!(Plan::FULL.run_time() <= Duration::from_secs(300));
        assert!(Plan::SHORT.run_time() <= Duration::from_secs(30));
        assert!(Plan::SHORT.peers() < 1_000);
    }

    #[test]
    fn server_flags_keep_the_rate_limit_and_raise_only_the_connection_cap() {
        let flags = server_flags(10_000);
        assert_eq!(
            flags,
            ["--listen", "127.0.0.1:0", "--max-connections", "11024", "--trusted-proxies", "127.0.0.1/32"]
        );
        assert!(!flags.iter().any(|f| f.starts_with("--rate-limit")));
    }

    #[test]
    fn a_lost_message_shows_in_the_row() {
        let f = Figures { engine: "memory", peers: 2, sent: 10, received: 9, ..Figures::default() };
        assert_eq!(f.lost(), 1);
        assert!(row(&f).starts_with("| memory | 2 |"));
        assert!(render(&[f], Plan::SHORT, "cargo xtask soak --short", Duration::from_secs(60)).contains("| 10 | 1 |"));
    }
}
