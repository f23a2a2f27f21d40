//! Idempotent installs: check first, install only what is missing, say which one happened.
//! A second run on the same machine costs a few `--version` calls, not a rebuild of the tools.

use crate::error::Error;
use crate::process;
use crate::workspace::Workspace;

/// How to tell whether a tool is already present.
pub enum Check {
    /// Present when this command exits 0 (e.g. `cargo fuzz --version`).
    Succeeds(&'static [&'static str]),
    /// Present when some line of this command's stdout satisfies the predicate
    /// (e.g. `rustup toolchain list` has a nightly line).
    OutputLine(&'static [&'static str], fn(&str) -> bool),
}

pub struct Tool {
    pub name: &'static str,
    pub check: Check,
    pub install: &'static [&'static str],
    /// Shown when installing, for installs slow enough that a silent wait looks like a hang.
    pub note: Option<&'static str>,
}

/// Installs `tool` with its install command unless its check says it is present.
pub fn ensure_tool(ws: &Workspace, tool: &Tool) -> Result<(), Error> {
    let present = match &tool.check {
        Check::Succeeds(argv) => process::succeeds(&mut ws.command(argv)),
        // A failing list command counts as "absent": the install then fails loudly if it must.
        Check::OutputLine(argv, matches) => {
            process::quiet_stdout(&mut ws.command(argv)).is_some_and(|out| out.lines().any(|line| matches(line.trim())))
        }
    };
    if present {
        println!("    {}: present", tool.name);
        return Ok(());
    }
    match tool.note {
        Some(note) => println!("    {}: missing, installing ({note})", tool.name),
        None => println!("    {}: missing, installing", tool.name),
    }
    process::run(&mut ws.command(tool.install))
}

/// A `rustup toolchain list` line naming the undated nightly that `cargo +nightly` selects:
/// `nightly-x86_64-unknown-linux-gnu (default)`, not `nightly-2025-01-01-x86_64-...`.
pub fn is_plain_nightly(line: &str) -> bool {
    let name = line.split_whitespace().next().unwrap_or("");
    match name.strip_prefix("nightly") {
        Some("") => true,
        Some(rest) => rest.strip_prefix('-').is_some_and(|host| !host.starts_with(|c: char| c.is_ascii_digit())),
        None => false,
    }
}

/// True for a `PROGRAM --version` line naming exactly this program and version, e.g.
/// `trunk 0.21.14`: another version counts as missing, so the pinned one gets installed over it.
pub fn reports_version(line: &str, program: &str, version: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some(program) && words.next() == Some(version)
}

/// Installs the Debian packages that are not installed yet; runs `apt-get update` only if some are missing.
pub fn ensure_apt(ws: &Workspace, packages: &[&str]) -> Result<(), Error> {
    let missing = missing_packages(packages, |package| {
        process::quiet_stdout(&mut ws.command(&["dpkg", "-s", package]))
            .is_some_and(|status| dpkg_says_installed(&status))
    });
    if missing.is_empty() {
        println!("    apt packages present: {}", packages.join(" "));
        return Ok(());
    }
    println!("    apt packages missing, installing: {}", missing.join(" "));
    for argv in apt_commands(&missing) {
        process::run(ws.command(&argv).env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    Ok(())
}

/// `packages` not reported installed by `is_installed`, in the order given, without duplicates.
fn missing_packages<'a>(packages: &[&'a str], is_installed: impl Fn(&str) -> bool) -> Vec<&'a str> {
    let mut missing: Vec<&str> = Vec::new();
    for &package in packages {
        if !missing.contains(&package) && !is_installed(package) {
            missing.push(package);
        }
    }
    missing
}

/// `dpkg -s` exits 0 for removed-but-configured packages too; only this status line means usable.
fn dpkg_says_installed(dpkg_status: &str) -> bool {
    dpkg_status.lines().any(|line| line.trim() == "Status: install ok installed")
}

/// The apt-get invocations that install `missing`: none when nothing is missing.
fn apt_commands<'a>(missing: &[&'a str]) -> Vec<Vec<&'a str>> {
    if missing.is_empty() {
        return Vec::new();
    }
    let mut install = vec!["apt-get", "install", "-y", "--no-install-recommends"];
    install.extend_from_slice(missing);
    vec![vec!["apt-get", "update"], install]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_nightly_lines_are_recognised() {
        assert!(is_plain_nightly("nightly-x86_64-unknown-linux-gnu"));
        assert!(is_plain_nightly("nightly-x86_64-unknown-linux-gnu (active, default)"));
        assert!(is_plain_nightly("  nightly"));
    }

    #[test]
    fn dated_and_other_toolchains_are_not_nightly() {
        assert!(!is_plain_nightly("nightly-2025-01-01-x86_64-unknown-linux-gnu"));
        assert!(!is_plain_nightly("stable-x86_64-unknown-linux-gnu (active, default)"));
        assert!(!is_plain_nightly("1.95.0-x86_64-unknown-linux-gnu"));
        assert!(!is_plain_nightly("nightlyish"));
        assert!(!is_plain_nightly(""));
    }

    #[test]
    fn version_lines_must_name_program_and_exact_version() {
        assert!(reports_version("trunk 0.21.14", "trunk", "0.21.14"));
        assert!(reports_version("wasm-bindgen 0.2.129", "wasm-bindgen", "0.2.129"));
        assert!(!reports_version("trunk 0.22.0", "trunk", "0.21.14"));
        assert!(!reports_version("trunk 0.21.140", "trunk", "0.21.14"));
        assert!(!reports_version("wasm-bindgen-test-runner 0.2.129", "wasm-bindgen", "0.2.129"));
        assert!(!reports_version("", "trunk", "0.21.14"));
    }

    #[test]
    fn missing_packages_keeps_order_and_drops_duplicates() {
        let installed = |p: &str| p == "chromium";
        assert_eq!(
            missing_packages(&["chromium", "chromium-driver", "coturn", "chromium-driver"], installed),
            ["chromium-driver", "coturn"]
        );
        assert!(missing_packages(&["chromium"], installed).is_empty());
    }

    #[test]
    fn dpkg_status_must_be_fully_installed() {
        let installed = "Package: coturn\nStatus: install ok installed\nPriority: optional\n";
        let config_only = "Package: coturn\nStatus: deinstall ok config-files\n";
        assert!(dpkg_says_installed(installed));
        assert!(!dpkg_says_installed(config_only));
        assert!(!dpkg_says_installed(""));
    }

    #[test]
    fn apt_updates_then_installs_only_when_needed() {
        assert!(apt_commands(&[]).is_empty());
        assert_eq!(
            apt_commands(&["chromium", "chromium-driver"]),
            [
                vec!["apt-get", "update"],
                vec!["apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"],
            ]
        );
    }
}
