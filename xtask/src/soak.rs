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
    crate::bench::run_generator(ws, soak_args(short))
}

/// The `bench` binary's arguments for the soak.
fn soak_args(short: bool) -> &'static [&'static str] {
    if short {
        &["soak", "--short", "--command", "cargo xtask soak --short"]
    } else {
        &["soak", "--command", "cargo xtask soak"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soak_names_its_form_and_the_command_that_ran_it() {
        assert_eq!(soak_args(true), ["soak", "--short", "--command", "cargo xtask soak --short"]);
        assert_eq!(soak_args(false), ["soak", "--command", "cargo xtask soak"]);
    }
}
