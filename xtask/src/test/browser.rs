//! The `browser` step: the e2e crate's end-to-end calls between headless Chromium peers and
//! between Chromium and Firefox, against
//! the debug signaling binary serving the `web` step's `dist/`, and through Debian's nginx and
//! coturn running the repository's deployment files with the `web` step's CSP snippet. They run
//! inside a network namespace with nothing but loopback, so ICE cannot pick a real interface and
//! nothing leaves the machine; everything is built before entering it and cargo runs offline inside.
//! The NAT tests (`e2e/tests/nat.rs`) build their own namespaces from there (`ip netns`, nft).

use super::Ctx;
use crate::csp;
use crate::error::Error;
use crate::process;
use crate::web;
use crate::workspace::fresh_dir;

/// Under the target directory, so `cargo clean` removes it and git ignores it.
const ARTIFACTS: &str = "e2e-artifacts";

pub fn run(ctx: &Ctx) -> Result<(), Error> {
    let ws = &ctx.ws;
    let dist = ws.join(web::DIST);
    if !dist.join("index.html").is_file() {
        return Err(Error::Missing {
            what: format!("{}/index.html", dist.display()),
            hint: "the `web` step builds it: run `cargo xtask test --only web,browser`",
        });
    }
    require(
        &["chromium", "--version"],
        "chromium",
        "install it with `apt-get install chromium` (the ensure step does)",
    )?;
    let csp_snippet = ws.target_dir().join(csp::SNIPPET);
    if !csp_snippet.is_file() {
        return Err(Error::Missing {
            what: csp_snippet.display().to_string(),
            hint: "the `web` step writes it: run `cargo xtask test --only web,browser`",
        });
    }
    let driver_hint = "install it with `apt-get install chromium-driver` (the ensure step does)";
    require(&["chromedriver", "--version"], "chromedriver", driver_hint)?;
    let firefox_hint = "install it with `apt-get install firefox-esr` (the ensure step does)";
    require(&["firefox-esr", "--version"], "firefox-esr", firefox_hint)?;
    let gecko_hint = "install it with `cargo install --locked geckodriver --version 0.37.1` (the ensure step does)";
    require(&["geckodriver", "--version"], "geckodriver", gecko_hint)?;
    require(&["nginx", "-v"], "nginx", "install it with `apt-get install nginx` (the ensure step does)")?;
    let coturn_hint = "install it with `apt-get install coturn` (the ensure step does)";
    require(&["turnserver", "--version"], "coturn's turnserver", coturn_hint)?;
    require(&["which", "turnutils_uclient"], "coturn's turnutils_uclient", coturn_hint)?;
    let namespace_hint =
        "the browser step needs root (CAP_SYS_ADMIN, as in CI), util-linux's unshare and iproute2's ip";
    require(&in_loopback_namespace(&["true"]), "a loopback-only network namespace", namespace_hint)?;
    let nat_hint = "the NAT tests need nftables (the ensure step installs it) and iproute2's `ip netns`";
    require(&["nft", "--version"], "nft", nat_hint)?;
    require(&["ip", "netns", "list"], "ip netns", nat_hint)?;

    // The page audits' pinned npm tools (seconds when present; the ensure step installs them).
    crate::audit::ensure_all(ws)?;

    // Inside the namespace cargo cannot reach the registry: build everything out here first.
    process::run(&mut ws.command(&["cargo", "build", "-p", "signaling"]))?;
    process::run(&mut ws.command(&["cargo", "test", "-p", "e2e", "--no-run"]))?;

    let artifacts = ws.target_dir().join(ARTIFACTS);
    fresh_dir(&artifacts)?;
    // Every test file runs even after one fails, so a CI log shows all that broke at once.
    let tests = [
        "cargo",
        "test",
        "--offline",
        "--no-fail-fast",
        "-p",
        "e2e",
        "--",
        "--ignored",
        "--test-threads=1",
        "--nocapture",
    ];
    let mut command = ws.command(&in_loopback_namespace(&tests));
    command
        .env("CONNECT_DIST", &dist)
        .env("CONNECT_SIGNALING_BIN", ws.target_dir().join("debug/signaling"))
        .env("CONNECT_ARTIFACTS", &artifacts)
        .env("CONNECT_CSP_SNIPPET", &csp_snippet)
        .env("CONNECT_AXE", crate::audit::axe_script(ws))
        .env("CONNECT_LIGHTHOUSE", crate::audit::lighthouse_cli(ws));
    let result = process::run(&mut command);
    println!("    screenshots and logs: {}", artifacts.display());
    result
}

/// `argv` run in a new network namespace whose only interface, loopback, is brought up first.
fn in_loopback_namespace<'a>(argv: &[&'a str]) -> Vec<&'a str> {
    let mut wrapped = vec!["unshare", "--net", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"];
    wrapped.extend_from_slice(argv);
    wrapped
}

/// Fails with `hint` unless `argv` runs and exits 0.
fn require(argv: &[&str], what: &str, hint: &'static str) -> Result<(), Error> {
    let (program, args) = argv.split_first().unwrap_or((&"", &[]));
    let mut command = std::process::Command::new(program);
    command.args(args);
    if process::succeeds(&mut command) {
        Ok(())
    } else {
        Err(Error::Missing { what: what.to_owned(), hint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_run_in_a_loopback_only_namespace() {
        assert_eq!(
            in_loopback_namespace(&["cargo", "test", "--offline"]),
            ["unshare", "--net", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh", "cargo", "test", "--offline"]
        );
    }

    #[test]
    fn require_reports_what_is_missing() {
        assert!(require(&["true"], "true", "-").is_ok());
        match require(&["xtask-no-such-program", "--version"], "the thing", "install it") {
            Err(Error::Missing { what, hint }) => assert_eq!((what.as_str(), hint), ("the thing", "install it")),
            other => panic!("expected Missing, got {other:?}"),
        }
    }
}
