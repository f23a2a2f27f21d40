//! The web client build: the wasm toolchain it needs (installed when missing) and
//! `trunk build --release` of the root `index.html` into `dist/`, which the signaling server serves.
//! Used by the `web` step of `cargo xtask test` and by `cargo xtask serve`.

use std::path::Path;

use crate::ensure::{self, Check, Tool};
use crate::error::Error;
use crate::process;
use crate::workspace::Workspace;

/// Must equal the `wasm-bindgen` crate version pinned in webclient/Cargo.toml and `[tools]` in
/// Trunk.toml: the CLI refuses wasm built by another version. 0.2.130 does not install here.
pub const WASM_BINDGEN_VERSION: &str = "0.2.129";
/// 0.22.x needs a newer rustc than the workspace's 1.95.
pub const TRUNK_VERSION: &str = "0.21.14";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Where trunk writes (`dist` in Trunk.toml), relative to the workspace root.
pub const DIST: &str = "dist";

/// What `trunk build` needs, cheapest first. The two cargo installs build from source.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "wasm32 target",
        check: Check::OutputLine(&["rustup", "target", "list", "--installed"], is_wasm_target),
        install: &["rustup", "target", "add", WASM_TARGET],
        note: None,
    },
    Tool {
        name: "wasm-bindgen-cli 0.2.129",
        check: Check::OutputLine(&["wasm-bindgen", "--version"], is_pinned_wasm_bindgen),
        install: &["cargo", "install", "--locked", "wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION],
        note: Some("builds from source: ~8 minutes on 2 cores"),
    },
    Tool {
        name: "trunk 0.21.14",
        check: Check::OutputLine(&["trunk", "--version"], is_pinned_trunk),
        install: &["cargo", "install", "--locked", "trunk", "--version", TRUNK_VERSION],
        note: Some("builds from source: ~12 minutes on 2 cores"),
    },
];

fn is_wasm_target(line: &str) -> bool {
    line == WASM_TARGET
}

fn is_pinned_wasm_bindgen(line: &str) -> bool {
    ensure::reports_version(line, "wasm-bindgen", WASM_BINDGEN_VERSION)
}

fn is_pinned_trunk(line: &str) -> bool {
    ensure::reports_version(line, "trunk", TRUNK_VERSION)
}

/// Installs whatever of [`TOOLS`] is missing.
pub fn ensure_tools(ws: &Workspace) -> Result<(), Error> {
    println!("    web tools: on a fresh machine trunk and wasm-bindgen-cli build from source (~20 minutes); later runs skip them");
    TOOLS.iter().try_for_each(|tool| ensure::ensure_tool(ws, tool))
}

/// `cargo fetch` (trunk runs cargo offline, see Trunk.toml), then `trunk build --release` → dist/.
pub fn build(ws: &Workspace) -> Result<(), Error> {
    let ensure_hint = "run `cargo xtask test --only ensure` to install the pinned web tools (~20 minutes once)";
    if !process::succeeds(&mut ws.command(&["trunk", "--version"])) {
        return Err(Error::Missing { what: format!("trunk {TRUNK_VERSION}"), hint: ensure_hint });
    }
    // trunk would only say "wasm-bindgen not found" after compiling the whole client.
    if !process::succeeds(&mut ws.command(&["wasm-bindgen", "--version"])) {
        return Err(Error::Missing { what: format!("wasm-bindgen {WASM_BINDGEN_VERSION}"), hint: ensure_hint });
    }
    process::run(&mut ws.command(&["cargo", "fetch"]))?;
    process::run(&mut ws.command(&["trunk", "build", "--release"]))?;
    let dist = ws.join(DIST);
    if !dist.join("index.html").is_file() {
        return Err(Error::Missing {
            what: format!("{}/index.html after trunk build", dist.display()),
            hint: "check `dist` in Trunk.toml",
        });
    }
    println!("    {}", describe_dist(&dist)?);
    crate::csp::write_snippet(ws, &dist)?;
    Ok(())
}

/// `dist/: index.html 2.9 KB, webclient-….wasm 180.2 KB, …`: what CI ships, at a glance.
fn describe_dist(dist: &Path) -> Result<String, Error> {
    let entries = std::fs::read_dir(dist).map_err(|e| Error::io(format!("listing {}", dist.display()), e))?;
    let mut files: Vec<(String, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            meta.is_file().then(|| (entry.file_name().to_string_lossy().into_owned(), meta.len()))
        })
        .collect();
    files.sort();
    Ok(format_listing(DIST, &files))
}

fn format_listing(dir: &str, files: &[(String, u64)]) -> String {
    let listed: Vec<String> =
        files.iter().map(|(name, bytes)| format!("{name} {:.1} KB", *bytes as f64 / 1024.0)).collect();
    format!("{dir}/: {}", listed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pinned_versions_count_as_present() {
        assert!(is_pinned_trunk("trunk 0.21.14"));
        assert!(!is_pinned_trunk("trunk 0.22.1"));
        assert!(is_pinned_wasm_bindgen("wasm-bindgen 0.2.129"));
        assert!(!is_pinned_wasm_bindgen("wasm-bindgen 0.2.130"));
        assert!(is_wasm_target("wasm32-unknown-unknown"));
        assert!(!is_wasm_target("wasm32-wasip1"));
    }

    #[test]
    fn install_commands_pin_the_versions_the_checks_expect() {
        let installs: Vec<String> = TOOLS.iter().map(|tool| tool.install.join(" ")).collect();
        assert_eq!(
            installs,
            [
                "rustup target add wasm32-unknown-unknown",
                "cargo install --locked wasm-bindgen-cli --version 0.2.129",
                "cargo install --locked trunk --version 0.21.14",
            ]
        );
        assert!(TOOLS[1].name.ends_with(WASM_BINDGEN_VERSION) && TOOLS[2].name.ends_with(TRUNK_VERSION));
    }

    #[test]
    fn the_pinned_wasm_bindgen_matches_trunk_toml() {
        let ws = Workspace::locate().expect("xtask has a parent");
        let trunk_toml = std::fs::read_to_string(ws.join("Trunk.toml")).expect("Trunk.toml at the root");
        assert!(trunk_toml.contains(&format!("wasm_bindgen = \"{WASM_BINDGEN_VERSION}\"")), "{trunk_toml}");
    }

    #[test]
    fn listing_shows_names_and_sizes() {
        let files = [("index.html".to_owned(), 2970), ("app_bg.wasm".to_owned(), 184_525)];
        assert_eq!(format_listing("dist", &files), "dist/: index.html 2.9 KB, app_bg.wasm 180.2 KB");
    }
}
