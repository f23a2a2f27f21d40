//! The web client build: the wasm toolchain it needs (installed when missing) and
//! `trunk build --release` of the root `index.html` into `dist/`, which the signaling server serves.
//! Used by the `web` step of `cargo xtask test` and by `cargo xtask serve`. After the build, the
//! text and wasm files get their stored gzip and brotli encodings (`precompress`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ensure::{self, Check, Tool};
use crate::error::Error;
use crate::process;
use crate::workspace::Workspace;

/// Must equal the `wasm-bindgen` crate version pinned in webclient/Cargo.toml and `[tools]` in
/// Trunk.toml: the CLI refuses wasm built by another version. 0.2.130 does not install here.
pub const WASM_BINDGEN_VERSION: &str = "0.2.129";
/// 0.22.x needs a newer rustc than the workspace's 1.95.
pub const TRUNK_VERSION: &str = "0.21.14";
/// wasm-opt comes from npm's binaryen, a Node.js build: Debian's binaryen 108 silently breaks
/// wasm-bindgen's output (`WebAssembly.Table.grow(): failed to grow table` at load). Must match
/// `wasm_opt = "version_132"` in Trunk.toml, which trunk compares with `wasm-opt --version`.
const BINARYEN_PACKAGE: &str = "binaryen@132.0.0";
const WASM_OPT_VERSION: &str = "132";
/// Where npm installs binaryen, under the target directory: project-local, not on the system PATH
/// (where a Debian wasm-opt may be), and removed by `cargo clean`.
const BINARYEN_DIR: &str = "tools/binaryen";
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

/// `wasm-opt version 132 (version_132)`: the pinned version, in the words trunk reads it from.
fn is_pinned_wasm_opt(line: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some("wasm-opt") && words.next() == Some("version") && words.next() == Some(WASM_OPT_VERSION)
}

/// binaryen's `node_modules/.bin`, which goes first on trunk's PATH.
fn binaryen_bin(ws: &Workspace) -> PathBuf {
    ws.target_dir().join(BINARYEN_DIR).join("node_modules/.bin")
}

/// The project's wasm-opt runs (it needs `node`) and is the pinned version.
fn wasm_opt_present(ws: &Workspace) -> bool {
    let mut version = Command::new(binaryen_bin(ws).join("wasm-opt"));
    version.arg("--version");
    process::quiet_stdout(&mut version).is_some_and(|out| out.lines().any(is_pinned_wasm_opt))
}

/// Installs whatever of [`TOOLS`] is missing, then wasm-opt (seconds).
pub fn ensure_tools(ws: &Workspace) -> Result<(), Error> {
    println!("    web tools: on a fresh machine trunk and wasm-bindgen-cli build from source (~20 minutes); later runs skip them");
    TOOLS.iter().try_for_each(|tool| ensure::ensure_tool(ws, tool))?;
    ensure_wasm_opt(ws)
}

/// npm's binaryen into the target directory unless the pinned wasm-opt is already there.
fn ensure_wasm_opt(ws: &Workspace) -> Result<(), Error> {
    let name = format!("wasm-opt {WASM_OPT_VERSION} (npm {BINARYEN_PACKAGE})");
    if wasm_opt_present(ws) {
        println!("    {name}: present");
        return Ok(());
    }
    let node_hint = "install Node.js with npm (Debian: `apt-get install nodejs npm`): wasm-opt is a Node.js build";
    if !process::succeeds(&mut ws.command(&["npm", "--version"])) {
        // Only when there is no npm at all: a Node.js from elsewhere (NodeSource, nvm) is kept.
        println!("    npm: missing, installing Debian's nodejs and npm");
        ensure::ensure_apt(ws, &["nodejs", "npm"])?;
        if !process::succeeds(&mut ws.command(&["npm", "--version"])) {
            return Err(Error::Missing { what: "npm".to_owned(), hint: node_hint });
        }
    }
    println!("    {name}: missing, installing");
    process::run(&mut npm_install(ws, &ws.target_dir().join(BINARYEN_DIR)))?;
    if !wasm_opt_present(ws) {
        let what = format!("a working {name} in {} after npm install", binaryen_bin(ws).display());
        return Err(Error::Missing { what, hint: node_hint });
    }
    Ok(())
}

/// `npm install` of the pinned binaryen into `prefix`: the exact version in the prefix's
/// package.json, no lifecycle scripts (binaryen has none), no audit or funding chatter.
fn npm_install(ws: &Workspace, prefix: &Path) -> Command {
    let mut npm = ws.command(&["npm", "install", "--save-exact", "--ignore-scripts", "--no-audit", "--no-fund"]);
    npm.arg("--prefix").arg(prefix).arg(BINARYEN_PACKAGE);
    npm
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
    if !wasm_opt_present(ws) {
        let what = format!("wasm-opt {WASM_OPT_VERSION} in {}", binaryen_bin(ws).display());
        return Err(Error::Missing { what, hint: ensure_hint });
    }
    process::run(&mut ws.command(&["cargo", "fetch"]))?;
    // trunk takes wasm-opt from PATH (offline, it never downloads one) and checks its version.
    let path = path_with_first(&binaryen_bin(ws), std::env::var_os("PATH"))?;
    println!("    trunk's PATH starts with {}", binaryen_bin(ws).display());
    process::run(ws.command(&["trunk", "build", "--release"]).env("PATH", path))?;
    let dist = ws.join(DIST);
    if !dist.join("index.html").is_file() {
        return Err(Error::Missing {
            what: format!("{}/index.html after trunk build", dist.display()),
            hint: "check `dist` in Trunk.toml",
        });
    }
    println!("    {}", describe_dist(&dist)?);
    crate::csp::write_snippet(ws, &dist)?;
    let stored = crate::precompress::precompress(&dist, &ws.target_dir().join(crate::precompress::CACHE))?;
    println!("    {}", crate::precompress::describe(&stored));
    Ok(())
}

/// A PATH value: `dir`, then the directories of `path`. An unset or empty PATH adds nothing (an
/// empty entry would mean the current directory).
fn path_with_first(dir: &Path, path: Option<OsString>) -> Result<OsString, Error> {
    let rest = path.filter(|p| !p.is_empty());
    let dirs = std::iter::once(dir.to_path_buf()).chain(rest.iter().flat_map(std::env::split_paths));
    std::env::join_paths(dirs).map_err(|_| Error::Env {
        var: "PATH",
        value: dir.display().to_string(),
        reason: "cannot hold the binaryen directory: its path contains the PATH separator",
    })
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
    fn the_pinned_tool_versions_match_trunk_toml() {
        let ws = Workspace::locate().expect("xtask has a parent");
        let trunk_toml = std::fs::read_to_string(ws.join("Trunk.toml")).expect("Trunk.toml at the root");
        assert!(trunk_toml.contains(&format!("wasm_bindgen = \"{WASM_BINDGEN_VERSION}\"")), "{trunk_toml}");
        assert!(trunk_toml.contains(&format!("wasm_opt = \"version_{WASM_OPT_VERSION}\"")), "{trunk_toml}");
        assert_eq!(BINARYEN_PACKAGE, format!("binaryen@{WASM_OPT_VERSION}.0.0"));
    }

    #[test]
    fn only_the_pinned_wasm_opt_counts_as_present() {
        assert!(is_pinned_wasm_opt("wasm-opt version 132 (version_132)"));
        assert!(!is_pinned_wasm_opt("wasm-opt version 108"));
        assert!(!is_pinned_wasm_opt("wasm-opt version 1320 (version_1320)"));
        assert!(!is_pinned_wasm_opt("wasm-dis version 132 (version_132)"));
        assert!(!is_pinned_wasm_opt(""));
    }

    #[test]
    fn npm_installs_the_exact_binaryen_into_the_prefix() {
        let ws = Workspace::locate().expect("xtask has a parent");
        let npm = npm_install(&ws, Path::new("/t/tools/binaryen"));
        assert_eq!(
            process::describe(&npm),
            "npm install --save-exact --ignore-scripts --no-audit --no-fund --prefix /t/tools/binaryen binaryen@132.0.0"
        );
        assert!(binaryen_bin(&ws).ends_with("tools/binaryen/node_modules/.bin"));
    }

    #[test]
    fn binaryen_goes_first_on_path_and_nothing_is_dropped() {
        let path = path_with_first(Path::new("/t/bin"), Some(OsString::from("/usr/bin:/bin"))).expect("joins");
        assert_eq!(path, "/t/bin:/usr/bin:/bin");
        assert_eq!(path_with_first(Path::new("/t/bin"), None).expect("joins"), "/t/bin");
        assert_eq!(path_with_first(Path::new("/t/bin"), Some(OsString::new())).expect("joins"), "/t/bin");
        assert!(matches!(path_with_first(Path::new("/a:b"), None), Err(Error::Env { var: "PATH", .. })));
    }

    #[test]
    fn listing_shows_names_and_sizes() {
        let files = [("index.html".to_owned(), 2970), ("app_bg.wasm".to_owned(), 184_525)];
        assert_eq!(format_listing("dist", &files), "dist/: index.html 2.9 KB, app_bg.wasm 180.2 KB");
    }
}
