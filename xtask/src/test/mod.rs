//! `cargo xtask test`: every check CI runs, as an ordered list of named steps.
//! To add a step, write a `fn(&Ctx) -> Result<(), Error>` and add it to `STEPS` and to the usage text.

mod browser;
mod deploy;
mod fuzz;

use crate::cli::TestArgs;
use crate::ensure::{self, Check, Tool};
use crate::error::Error;
use crate::process;
use crate::step::Runner;
use crate::web;
use crate::workspace::Workspace;

/// What every step may need; built once before the first step runs.
pub struct Ctx {
    ws: Workspace,
    fuzz_secs: u64,
}

struct Step {
    name: &'static str,
    run: fn(&Ctx) -> Result<(), Error>,
}

/// In the order they run: cheap checks first so a formatting slip fails in seconds, not minutes.
const STEPS: &[Step] = &[
    Step { name: "ensure", run: ensure_tools },
    Step { name: "fmt", run: fmt },
    Step { name: "clippy", run: clippy },
    Step { name: "modules", run: modules },
    Step { name: "web", run: web_build },
    Step { name: "test", run: unit_and_integration },
    Step { name: "browser", run: browser::run },
    Step { name: "deploy", run: deploy::run },
    Step { name: "autobahn", run: autobahn },
    Step { name: "fuzz", run: fuzz::run },
    Step { name: "bench", run: bench_quick },
    Step { name: "soak", run: soak_short },
];

/// The module-cycle checker, pinned: 0.2.0 builds with rustc 1.95 here (7 min on a busy 2-core
/// machine, 1 min 40 s of CPU). cargo-modules 0.27's `dependencies --acyclic` was tried and
/// rejected: it checks the item graph before its filters apply, so any method that names its
/// own type (`Args::to_config`) is a cycle, and it took 38 min to build here.
const CARGO_CYCLES_VERSION: &str = "0.2.0";

/// Tools the steps below call; installed only when missing (see `ensure`).
const TOOLS: &[Tool] = &[
    Tool {
        name: "rustfmt",
        check: Check::Succeeds(&["cargo", "fmt", "--version"]),
        install: &["rustup", "component", "add", "rustfmt"],
        note: None,
    },
    Tool {
        name: "clippy",
        check: Check::Succeeds(&["cargo", "clippy", "--version"]),
        install: &["rustup", "component", "add", "clippy"],
        note: None,
    },
    Tool {
        name: "nightly toolchain",
        check: Check::OutputLine(&["rustup", "toolchain", "list"], ensure::is_plain_nightly),
        install: &["rustup", "toolchain", "install", "nightly", "--profile", "minimal"],
        note: None,
    },
    Tool {
        name: "cargo-cycles",
        check: Check::OutputLine(&["cargo-cycles", "--version"], |line| {
            ensure::reports_version(line, "cargo-cycles", CARGO_CYCLES_VERSION)
        }),
        install: &["cargo", "install", "--locked", "cargo-cycles", "--version", CARGO_CYCLES_VERSION],
        note: Some("builds from source: about 2 CPU-minutes"),
    },
    Tool {
        name: "cargo-fuzz",
        check: Check::Succeeds(&["cargo", "fuzz", "--version"]),
        install: &["cargo", "install", "--locked", "cargo-fuzz"],
        note: Some("builds from source: a few minutes"),
    },
    Tool {
        name: "geckodriver 0.37.1",
        check: Check::OutputLine(&["geckodriver", "--version"], is_pinned_geckodriver),
        install: &["cargo", "install", "--locked", "geckodriver", "--version", GECKODRIVER_VERSION],
        note: Some("builds from source: a few minutes"),
    },
];

/// Firefox's WebDriver server for the cross-browser calls of the `browser` step; not a Debian
/// package, so from crates.io at a version proven with Firefox ESR here.
const GECKODRIVER_VERSION: &str = "0.37.1";

/// `geckodriver 0.37.1 (…)`, the first line of `geckodriver --version`.
fn is_pinned_geckodriver(line: &str) -> bool {
    ensure::reports_version(line, "geckodriver", GECKODRIVER_VERSION)
}

pub fn run(ws: Workspace, args: &TestArgs) -> Result<(), Error> {
    let names: Vec<&'static str> = STEPS.iter().map(|step| step.name).collect();
    let selected = select(&names, &args.only, &args.skip)?;
    let ctx = Ctx { ws, fuzz_secs: fuzz::secs_from_env()? };
    let left_out: Vec<&str> = names.iter().filter(|n| !selected.contains(n)).copied().collect();
    println!("steps to run: {}", selected.join(", "));
    if !left_out.is_empty() {
        println!("steps left out: {}", left_out.join(", "));
    }
    let mut runner = Runner::new();
    for step in STEPS {
        if selected.contains(&step.name) {
            runner.step(step.name, || (step.run)(&ctx));
        } else {
            runner.skip(step.name, "not selected");
        }
    }
    runner.finish()
}

/// The steps to run, in `all`'s order: those in `only` (every step if `only` is empty) minus `skip`.
/// Unknown names are an error so a typo cannot silently skip a check.
fn select<'a>(all: &[&'a str], only: &[String], skip: &[String]) -> Result<Vec<&'a str>, Error> {
    if let Some(unknown) = only.iter().chain(skip).find(|name| !all.contains(&name.as_str())) {
        return Err(Error::Usage(format!("unknown step `{unknown}`; steps are: {}", all.join(", "))));
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let skipped = |name: &str| skip.iter().any(|s| s == name);
    let selected: Vec<&str> = all.iter().copied().filter(|n| wanted(n) && !skipped(n)).collect();
    if selected.is_empty() {
        return Err(Error::Usage("--only and --skip leave no step to run".into()));
    }
    Ok(selected)
}

/// Debian packages: Chromium and the matching chromedriver (~1 minute) and Firefox ESR (the other
/// browser of the cross-browser calls) for the `browser` step; nginx and coturn (seconds; no
/// daemon is started) run the deployment files in that step too, nginx with its stream module
/// (`libnginx-mod-stream`, dynamic in Debian: nginx.conf's `stream` block, TURN over TLS sharing
/// port 443); nftables builds the simulated home routers of the NAT tests, whose TLS case makes
/// its certificates with openssl and fetches through 443 with curl (both usually present
/// already); docker-compose 1.29 validates the compose files in the `deploy` step; redis-server
/// (run in the foreground by the tests, never as a service) backs the multi-node tests.
const APT_PACKAGES: &[&str] = &[
    "chromium",
    "chromium-driver",
    "firefox-esr",
    "nginx",
    "libnginx-mod-stream",
    "coturn",
    "nftables",
    "openssl",
    "curl",
    "docker-compose",
    "redis-server",
];

fn ensure_tools(ctx: &Ctx) -> Result<(), Error> {
    TOOLS.iter().try_for_each(|tool| ensure::ensure_tool(&ctx.ws, tool))?;
    web::ensure_tools(&ctx.ws)?;
    crate::audit::ensure_all(&ctx.ws)?;
    ensure::ensure_apt(&ctx.ws, APT_PACKAGES)
}

fn web_build(ctx: &Ctx) -> Result<(), Error> {
    web::build(&ctx.ws)
}

fn fmt(ctx: &Ctx) -> Result<(), Error> {
    process::run(&mut ctx.ws.command(&["cargo", "fmt", "--all", "--", "--check"]))
}

fn clippy(ctx: &Ctx) -> Result<(), Error> {
    let argv = ["cargo", "clippy", "--workspace", "--all-targets", "--", "-D", "warnings"];
    process::run(&mut ctx.ws.command(&argv))
}

/// The crates whose module graphs must stay acyclic. cargo-cycles reads one crate per run.
const ACYCLIC_CRATES: [&str; 2] = ["signaling", "webclient"];

/// The signaling crate's modules import each other without cycles: `ws/` below `http/`, the
/// engines below the session, and so on (docs/ARCHITECTURE.md); the web client's too (the app
/// loop above the modules that own browser callbacks, `event` and `listener` below them).
/// cargo-cycles follows `mod` declarations and `crate::` paths, and exits non-zero naming each
/// cycle and its lines.
fn modules(ctx: &Ctx) -> Result<(), Error> {
    for name in ACYCLIC_CRATES {
        let crate_dir = ctx.ws.root().join(name);
        let crate_dir = crate_dir.to_string_lossy();
        process::run(&mut ctx.ws.command(&["cargo-cycles", "--workspace", &crate_dir]))?;
    }
    Ok(())
}

/// Every benchmark at small sizes: proves the benchmarks run and lose no message; no timing.
fn bench_quick(ctx: &Ctx) -> Result<(), Error> {
    crate::bench::quick(&ctx.ws)
}

/// The same code as `cargo xtask autobahn`.
fn autobahn(ctx: &Ctx) -> Result<(), Error> {
    crate::autobahn::run(&ctx.ws)
}

/// The soak's short form: proves it runs on both engines and loses no message; no timing.
fn soak_short(ctx: &Ctx) -> Result<(), Error> {
    crate::soak::short(&ctx.ws)
}

fn unit_and_integration(ctx: &Ctx) -> Result<(), Error> {
    process::run(&mut ctx.ws.command(&["cargo", "test", "--workspace"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &[
        "ensure", "fmt", "clippy", "modules", "web", "test", "browser", "deploy", "autobahn", "fuzz", "bench", "soak",
    ];

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn sel(only: &[&str], skip: &[&str]) -> Result<Vec<&'static str>, Error> {
        select(ALL, &names(only), &names(skip))
    }

    #[test]
    fn step_table_matches_documented_names() {
        let table: Vec<&str> = STEPS.iter().map(|s| s.name).collect();
        assert_eq!(table, ALL);
        for name in ALL {
            assert!(crate::cli::USAGE.contains(&format!("  {name} ")), "usage lacks {name}");
        }
    }

    #[test]
    fn only_the_pinned_geckodriver_counts_as_present() {
        assert!(is_pinned_geckodriver("geckodriver 0.37.1 (a1b2c3d4 2025-09-01)"));
        assert!(is_pinned_geckodriver("geckodriver 0.37.1"));
        assert!(!is_pinned_geckodriver("geckodriver 0.36.0 (…)"));
        assert!(!is_pinned_geckodriver("The source code of this program is available from"));
    }

    #[test]
    fn default_runs_everything_in_order() {
        assert_eq!(sel(&[], &[]).ok(), Some(ALL.to_vec()));
    }

    #[test]
    fn only_keeps_canonical_order() {
        assert_eq!(sel(&["fuzz", "fmt"], &[]).ok(), Some(vec!["fmt", "fuzz"]));
        assert_eq!(sel(&["fmt", "fmt"], &[]).ok(), Some(vec!["fmt"]));
    }

    #[test]
    fn skip_removes_and_wins_over_only() {
        assert_eq!(
            sel(&[], &["modules", "fuzz", "autobahn", "browser", "deploy", "bench", "soak"]).ok(),
            Some(vec!["ensure", "fmt", "clippy", "web", "test"])
        );
        assert_eq!(sel(&["browser", "web"], &[]).ok(), Some(vec!["web", "browser"]));
        assert_eq!(sel(&["fmt", "clippy"], &["clippy"]).ok(), Some(vec!["fmt"]));
    }

    #[test]
    fn unknown_names_are_rejected_with_the_list() {
        for (only, skip) in [(&["fmt", "lint"][..], &[][..]), (&[][..], &["lint"][..])] {
            match sel(only, skip) {
                Err(Error::Usage(msg)) => {
                    assert_eq!(
                        msg,
                        "unknown step `lint`; steps are: ensure, fmt, clippy, modules, web, test, browser, deploy, autobahn, fuzz, bench, soak"
                    )
                }
                other => panic!("expected a usage error, got {other:?}"),
            }
        }
    }

    #[test]
    fn selecting_nothing_is_an_error() {
        assert!(matches!(sel(&["fmt"], &["fmt"]), Err(Error::Usage(_))));
    }
}
