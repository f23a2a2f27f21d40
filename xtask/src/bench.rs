//! `cargo xtask bench [--quick]`: the signaling server measured against reference servers that
//! speak the same protocol (the `bench` crate). This module builds everything in release mode
//! and the web client, then runs the `bench` binary pinned to CPU 1 (it pins each server to CPU 0
//! itself); `bench` writes the report. The quick run is also the last step of `cargo xtask test`.

use crate::ensure;
use crate::error::Error;
use crate::process;
use crate::step::Runner;
use crate::web;
use crate::workspace::Workspace;

/// The CPU the load generator runs on when there are two or more; the servers get CPU 0.
const GENERATOR_CPU: &str = "1";

/// The whole command: `build` then `measure`, as two steps of their own.
pub fn run(ws: &Workspace, quick: bool) -> Result<(), Error> {
    let mut runner = Runner::new();
    runner.step("build", || build(ws, quick));
    runner.step("measure", || measure(ws, quick));
    runner.finish()
}

/// The `bench` step of `cargo xtask test`: a quick run, which fails only if something does not
/// run or a message is lost or misdelivered; it asserts no timing.
pub fn quick(ws: &Workspace) -> Result<(), Error> {
    build(ws, true)?;
    measure(ws, true)
}

/// The relay through Redis needs redis-server; the browser figure, Chromium and its driver.
const BENCH_APT_PACKAGES: &[&str] = &["redis-server", "chromium", "chromium-driver"];

/// Release builds of every server and of the generator, the e2e test binary (the browser figure
/// runs it offline inside a network namespace) and, unless a quick run finds one, the web client.
fn build(ws: &Workspace, quick: bool) -> Result<(), Error> {
    // `cargo xtask bench` may be the first command on a machine: what it runs besides our own
    // binaries (skipped when installed, as in `cargo xtask test`'s ensure step).
    ensure::ensure_apt(ws, BENCH_APT_PACKAGES)?;
    if !quick || !ws.join(web::DIST).join("index.html").is_file() {
        web::ensure_tools(ws)?;
        web::build(ws)?;
    }
    let release = ["cargo", "build", "--release", "-p", "signaling", "-p", "bench", "--bins", "--examples"];
    process::run(&mut ws.command(&release))?;
    process::run(&mut ws.command(&["cargo", "test", "-p", "e2e", "--no-run"]))
}

fn measure(ws: &Workspace, quick: bool) -> Result<(), Error> {
    let args: &[&str] = if quick {
        &["--quick", "--command", "cargo xtask bench --quick"]
    } else {
        &["--command", "cargo xtask bench"]
    };
    run_generator(ws, args)
}

/// Runs the release `bench` binary (the benchmarks, or `soak`) with `args`, the workspace's root
/// and target directory, pinned to the generator's CPU when there is a second one.
pub fn run_generator(ws: &Workspace, args: &[&str]) -> Result<(), Error> {
    let binary = ws.target_dir().join("release/bench");
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let argv = generator_argv(&binary.to_string_lossy(), cpus, args);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut command = ws.command(&argv);
    command.arg("--root").arg(ws.root()).arg("--target-dir").arg(ws.target_dir());
    process::run(&mut command)
}

/// The generator's command line: pinned with `taskset` when there is a second CPU.
fn generator_argv(binary: &str, cpus: usize, args: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = Vec::new();
    if cpus >= 2 {
        argv.extend(["taskset", "-c", GENERATOR_CPU].map(String::from));
    }
    argv.push(binary.to_owned());
    argv.extend(args.iter().map(|&a| a.to_owned()));
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_pinned_only_with_a_second_cpu() {
        assert_eq!(
            generator_argv("/t/bench", 2, &["--quick", "--command", "cargo xtask bench --quick"]),
            ["taskset", "-c", "1", "/t/bench", "--quick", "--command", "cargo xtask bench --quick"]
        );
        assert_eq!(
            generator_argv("/t/bench", 1, &["--command", "cargo xtask bench"]),
            ["/t/bench", "--command", "cargo xtask bench"]
        );
    }
}
