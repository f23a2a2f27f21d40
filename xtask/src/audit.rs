//! The page audits' tools, pinned npm packages installed under the target directory like
//! binaryen (`web.rs`): axe-core, which browser tests inject into a page
//! (`Browser::axe_violations`), and Lighthouse, whose accessibility score a browser test prints.
//! Checked by the version in their installed `package.json`, so a second run costs two file reads.

use std::path::PathBuf;

use crate::error::Error;
use crate::process;
use crate::workspace::Workspace;

/// A pinned npm package in its own prefix under the target directory.
pub struct NpmTool {
    pub name: &'static str,
    pub version: &'static str,
    /// The prefix, relative to the target directory.
    pub dir: &'static str,
}

/// axe-core 4.14 was verified here injected over WebDriver into Chromium 156.
pub const AXE: NpmTool = NpmTool { name: "axe-core", version: "4.14.1", dir: "tools/axe-core" };
/// Lighthouse 12.8 runs against Debian's Chromium here (13.x was not tried).
pub const LIGHTHOUSE: NpmTool = NpmTool { name: "lighthouse", version: "12.8.2", dir: "tools/lighthouse" };

impl NpmTool {
    fn prefix(&self, ws: &Workspace) -> PathBuf {
        ws.target_dir().join(self.dir)
    }

    fn package_dir(&self, ws: &Workspace) -> PathBuf {
        self.prefix(ws).join("node_modules").join(self.name)
    }

    fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The installed version, from its package.json.
    fn installed(&self, ws: &Workspace) -> Option<String> {
        let text = std::fs::read_to_string(self.package_dir(ws).join("package.json")).ok()?;
        installed_version(&text)
    }

    fn install_command(&self, ws: &Workspace) -> std::process::Command {
        let mut npm = ws.command(&["npm", "install", "--save-exact", "--ignore-scripts", "--no-audit", "--no-fund"]);
        npm.arg("--prefix").arg(self.prefix(ws)).arg(self.spec());
        npm
    }
}

/// `"version"` of a package.json.
fn installed_version(package_json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(package_json).ok()?;
    value.get("version")?.as_str().map(str::to_owned)
}

/// Installs the pinned package unless it is there (npm, which `web::ensure_tools` provides).
pub fn ensure(ws: &Workspace, tool: &NpmTool) -> Result<(), Error> {
    if tool.installed(ws).as_deref() == Some(tool.version) {
        println!("    {} (npm): present", tool.spec());
        return Ok(());
    }
    println!("    {} (npm): missing, installing into {}", tool.spec(), tool.prefix(ws).display());
    process::run(&mut tool.install_command(ws))?;
    if tool.installed(ws).as_deref() != Some(tool.version) {
        let what = format!("{} in {} after npm install", tool.spec(), tool.prefix(ws).display());
        return Err(Error::Missing { what, hint: "install Node.js with npm (Debian: `apt-get install nodejs npm`)" });
    }
    Ok(())
}

/// Both audit tools.
pub fn ensure_all(ws: &Workspace) -> Result<(), Error> {
    ensure(ws, &AXE)?;
    ensure(ws, &LIGHTHOUSE)
}

/// axe-core's browser build, which tests inject (`CONNECT_AXE`).
pub fn axe_script(ws: &Workspace) -> PathBuf {
    AXE.package_dir(ws).join("axe.min.js")
}

/// Lighthouse's command line (`CONNECT_LIGHTHOUSE`).
pub fn lighthouse_cli(ws: &Workspace) -> PathBuf {
    LIGHTHOUSE.prefix(ws).join("node_modules/.bin/lighthouse")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_from_package_json() {
        assert_eq!(installed_version(r#"{"name":"axe-core","version":"4.14.1"}"#).as_deref(), Some("4.14.1"));
        assert_eq!(installed_version(r#"{"name":"axe-core"}"#), None);
        assert_eq!(installed_version("not json"), None);
    }

    #[test]
    fn npm_installs_the_exact_version_into_the_target_directory() {
        let ws = Workspace::locate().expect("xtask has a parent");
        let npm = AXE.install_command(&ws);
        let described = process::describe(&npm);
        assert!(
            described.starts_with("npm install --save-exact --ignore-scripts --no-audit --no-fund --prefix "),
            "{described}"
        );
        assert!(described.ends_with("tools/axe-core axe-core@4.14.1"), "{described}");
        assert!(axe_script(&ws).ends_with("tools/axe-core/node_modules/axe-core/axe.min.js"));
        assert!(lighthouse_cli(&ws).ends_with("tools/lighthouse/node_modules/.bin/lighthouse"));
        assert_eq!(LIGHTHOUSE.spec(), "lighthouse@12.8.2");
    }
}
