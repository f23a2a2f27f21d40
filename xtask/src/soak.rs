//! `cargo xtask soak [--short]`: the soak (`bench::soak`) — thousands of peers in rooms on each
//! engine while some stop reading, flood and reconnect — built in release mode and run with the
//! generator pinned to CPU 1 (the server pins itself to CPU 0). The short form is the `soak`
//! step of `cargo xtask test`: it fails only if something does not run or a well-behaved peer
//! loses a message; it asserts no timing.

use crate::ensure;
use crate::error::Error;
use crate::process;
use crate::step::Runner;
use crate::workspace::Workspace;

/// The CPU the load generator runs on when there are two or more; the servers get CPU 0.
const GENERATOR_CPU: &str = "1";
/// The Redis engine's run needs redis-server.
const SOAK_APT_PACKAGES: &[&str] = &["redis-server"];

/// The whole command: `build` then `run`, as two steps of their own.
pub fn run(ws: &Workspace, short: bool) -> Result<(), Error> {
    let mut runner = Runner::new();
    runner.step("build", || build(ws));
    runner.step("soak", || soak(ws, short));
    runner.finish()
}

/// The `soak` step of `cargo xtask test`: the short form.
pub fn short(ws: &Workspace) -> Result<(), Error> {
    build(ws)?;
    soak(ws, true)
}

fn build(ws: &Workspace) -> Result<(), Error> {
    ensure::ensure_apt(ws, SOAK_APT_PACKAGES)?;
    process::run(&mut ws.command(&["cargo", "build", "--release", "-p", "signaling", "-p", "bench", "--bins"]))
}

fn soak(ws: &Workspace, short: bool) -> Result<(), Error> {
    let binary = ws.target_dir().join("release/bench");
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let argv = soak_argv(&binary.to_string_lossy(), cpus, short);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut command = ws.command(&argv);
    command.arg("--root").arg(ws.root()).arg("--target-dir").arg(ws.target_dir());
    process::run(&mut command)
}

/// The generator's command line: pinned with `taskset` when there is a second CPU.
fn soak_argv(binary: &str, cpus: usize, short: bool) -> Vec<String> {
    let mut argv: Vec<String> = Vec::new();
    if cpus >= 2 {
        argv.extend(["taskset", "-c", GENERATOR_CPU].map(String::from));
    }
    argv.extend([binary.to_owned(), "soak".to_owned()]);
    if short {
        argv.extend(["--short", "--command", "cargo xtask soak --short"].map(String::from));
    } else {
        argv.extend(["--command", "cargo xtask soak"].map(String::from));
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_pinned_only_with_a_second_cpu() {
        assert_eq!(
            soak_argv("/t/bench", 2, true),
            ["taskset", "-c", "1", "/t/bench", "soak", "--short", "--command", "cargo xtask soak --short"]
        );
        assert_eq!(soak_argv("/t/bench", 1, false), ["/t/bench", "soak", "--command", "cargo xtask soak"]);
    }
}
