//! One benchmark run from start to report: the command line, limits, the measuring loop, the
//! browser, the report and plots.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::browser::{self, BrowserRun};
use crate::error::{BenchError, Result};
use crate::launcher::Launcher;
use crate::machine::{self, Machine};
use crate::orchestrate;
use crate::plan::{Mode, Sizes};
use crate::plots;
use crate::report::{self, Context};
use crate::results::Results;
use crate::targets;

pub const USAGE: &str =
    "usage: bench [--quick] [--root DIR] [--target-dir DIR] [--report FILE] [--plots DIR] [--command TEXT]";

/// Descriptors beyond the connections: the runtime, logs, pipes, the server's listener.
const FD_HEADROOM: u64 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub mode: Mode,
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub report: PathBuf,
    pub plots: PathBuf,
    pub command: String,
}

impl Args {
    /// Defaults: the workspace this crate is in; a quick run reports to `target/bench/quick.md`,
    /// a full one to `docs/BENCHMARKS.md` with its plots in `docs/bench/`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args> {
        let mut mode = Mode::Full;
        let mut given: [Option<String>; 5] = Default::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let slot = match arg.as_str() {
                "--quick" => {
                    mode = Mode::Quick;
                    continue;
                }
                "--root" => 0,
                "--target-dir" => 1,
                "--report" => 2,
                "--plots" => 3,
                "--command" => 4,
                other => return Err(BenchError::Usage(format!("unknown argument `{other}`; {USAGE}"))),
            };
            let value = args.next().ok_or_else(|| BenchError::Usage(format!("`{arg}` needs a value; {USAGE}")))?;
            given[slot] = Some(value);
        }
        let [root, target_dir, report, plots, command] = given;
        let root = root.map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), PathBuf::from);
        let target_dir = target_dir.map_or_else(|| root.join("target"), PathBuf::from);
        let (report_default, plots_default, command_default) = match mode {
            Mode::Quick => {
                (target_dir.join("bench/quick.md"), target_dir.join("bench/quick"), "cargo xtask bench --quick")
            }
            Mode::Full => (root.join("docs/BENCHMARKS.md"), root.join("docs/bench"), "cargo xtask bench"),
        };
        Ok(Args {
            mode,
            report: report.map_or(report_default, PathBuf::from),
            plots: plots.map_or(plots_default, PathBuf::from),
            command: command.unwrap_or_else(|| command_default.to_owned()),
            root,
            target_dir,
        })
    }
}

/// Raises this process's open-file limit (the servers it starts inherit it) to hold
/// `connections` plus headroom; as root the hard limit is raised too if it is lower.
pub fn raise_fd_limit(connections: usize) -> Result<u64> {
    use rlimit::Resource;
    let wanted = connections as u64 + FD_HEADROOM;
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE).map_err(|e| BenchError::io("reading RLIMIT_NOFILE", e))?;
    if soft >= wanted {
        return Ok(soft);
    }
    let result = if hard >= wanted {
        rlimit::setrlimit(Resource::NOFILE, wanted, hard)
    } else {
        rlimit::setrlimit(Resource::NOFILE, wanted, wanted)
    };
    result.map_err(|e| BenchError::io(format!("raising RLIMIT_NOFILE from {soft} (hard {hard}) to {wanted}"), e))?;
    Ok(wanted)
}

/// A path for a Markdown link from the report's directory (plain when `path` is outside it).
fn relative_link(report: &Path, path: &Path) -> String {
    let base = report.parent().unwrap_or(Path::new(""));
    path.strip_prefix(base).unwrap_or(path).to_string_lossy().into_owned()
}

pub async fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    let sizes = Sizes::for_mode(args.mode);
    let mut machine = Machine::read();
    let limit = raise_fd_limit(sizes.max_connections())?;
    let (cpus, count) = machine::online_cpus();
    let release = args.target_dir.join("release");
    let bench_dir = args.target_dir.join("bench");
    let launcher =
        Launcher { release_dir: release.clone(), log_dir: bench_dir.join("logs"), pin: (count >= 2).then_some(0) };
    machine.redis = launcher.check()?;
    let dist = args.root.join("dist");
    println!(
        "bench: {:?} run, {} repetitions, open-file limit {limit}, {count} CPUs ({cpus}); servers pinned: {}; load {}",
        args.mode,
        sizes.repetitions,
        launcher.pin.map_or("no".to_owned(), |cpu| format!("CPU {cpu}")),
        machine.load
    );
    let mut results = Results::default();
    results.bundle = browser::bundle(&dist)?;
    orchestrate::measure(&launcher, &sizes, &mut results).await?;
    let browser = BrowserRun {
        root: args.root.clone(),
        dist,
        signaling: release.join("signaling"),
        artifacts: bench_dir.join("e2e"),
        cpus,
    };
    for index in 1..=sizes.browser_runs {
        let ms = browser.once(index)?;
        println!("[{index}/{}] browser          link opened → first remote frame: {ms} ms", sizes.browser_runs);
        results.browser_ms.push(ms);
    }
    let summary =
        Summary { machine: &machine, pinned: launcher.pin.is_some(), minutes: started.elapsed().as_secs_f64() / 60.0 };
    write_report(args, &sizes, &results, &summary)?;
    println!("\nbench: {} messages checked, none lost or misdelivered", results.messages_checked);
    for verdict in targets::check(&results) {
        let kind = if verdict.must { "must" } else { "goal" };
        println!("  {kind:<5} {:<12} {} — {}", verdict.result(), verdict.target, verdict.measured);
    }
    println!("bench: report {} (plots in {})", args.report.display(), args.plots.display());
    Ok(())
}

/// What the report says about the run itself.
struct Summary<'a> {
    machine: &'a Machine,
    pinned: bool,
    minutes: f64,
}

/// The plots, then the Markdown report linking them.
fn write_report(args: &Args, sizes: &Sizes, results: &Results, summary: &Summary<'_>) -> Result<()> {
    let plots = plots::write_all(&args.plots, results)?;
    let links: Vec<(String, String)> =
        plots.into_iter().map(|(title, file)| (title, relative_link(&args.report, &args.plots.join(file)))).collect();
    let load_after = machine::load_average();
    let revision = machine::revision(&args.root);
    let context = Context {
        mode: args.mode,
        sizes,
        command: &args.command,
        machine: summary.machine,
        revision: &revision,
        load_after: &load_after,
        pinned: summary.pinned,
        minutes: summary.minutes,
        plots: &links,
    };
    let markdown = report::render(results, &context);
    if let Some(dir) = args.report.parent() {
        std::fs::create_dir_all(dir).map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(&args.report, markdown).map_err(|e| BenchError::io(format!("writing {}", args.report.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Args> {
        Args::parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn quick_and_full_report_to_their_places() {
        let quick = parse("--quick --root /w").unwrap();
        assert_eq!(quick.mode, Mode::Quick);
        assert_eq!(quick.report, Path::new("/w/target/bench/quick.md"));
        assert_eq!(quick.command, "cargo xtask bench --quick");
        let full = parse("--root /w --target-dir /t").unwrap();
        assert_eq!(full.report, Path::new("/w/docs/BENCHMARKS.md"));
        assert_eq!(full.plots, Path::new("/w/docs/bench"));
        assert_eq!(full.target_dir, Path::new("/t"));
        assert!(matches!(parse("--fast"), Err(BenchError::Usage(_))));
        assert!(matches!(parse("--root"), Err(BenchError::Usage(_))));
    }

    #[test]
    fn plot_links_are_relative_to_the_report() {
        assert_eq!(
            relative_link(Path::new("/w/docs/BENCHMARKS.md"), Path::new("/w/docs/bench/cpu.svg")),
            "bench/cpu.svg"
        );
        assert_eq!(relative_link(Path::new("/w/target/bench/quick.md"), Path::new("/x/cpu.svg")), "/x/cpu.svg");
    }
}
