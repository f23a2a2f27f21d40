//! Where things are: the workspace root and cargo's target directory; a fresh directory in it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;

pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// The workspace root is xtask's parent directory. Taken at compile time so the binary
    /// also works when run directly rather than through `cargo xtask`.
    pub fn locate() -> Result<Self, Error> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir.parent().ok_or_else(|| Error::Missing {
            what: format!("the parent of {}", manifest_dir.display()),
            hint: "xtask must live in a directory of the workspace root",
        })?;
        Ok(Workspace { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn join(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Cargo's target directory, honouring `CARGO_TARGET_DIR` as cargo does.
    pub fn target_dir(&self) -> PathBuf {
        target_dir_from(&self.root, env::var_os("CARGO_TARGET_DIR").as_deref())
    }

    /// A command whose program is `argv[0]`, run from the workspace root.
    /// An empty `argv` yields a command that fails to spawn, reported like any other.
    pub fn command(&self, argv: &[&str]) -> Command {
        let (program, args) = argv.split_first().unwrap_or((&"", &[]));
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(&self.root);
        cmd
    }
}

/// An empty directory at `dir`: screenshots or reports of an earlier run must not pass for this run's.
pub fn fresh_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(format!("removing {}", dir.display()), e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

fn target_dir_from(root: &Path, configured: Option<&std::ffi::OsStr>) -> PathBuf {
    match configured {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn root_is_parent_of_xtask() {
        let ws = Workspace::locate().expect("xtask has a parent");
        assert!(ws.join("xtask/Cargo.toml").is_file());
        assert!(ws.join("Cargo.toml").is_file());
    }

    #[test]
    fn target_dir_defaults_to_root_target() {
        let root = Path::new("/w");
        assert_eq!(target_dir_from(root, None), Path::new("/w/target"));
        assert_eq!(target_dir_from(root, Some(OsStr::new(""))), Path::new("/w/target"));
    }

    #[test]
    fn target_dir_relative_is_under_root_absolute_is_kept() {
        let root = Path::new("/w");
        assert_eq!(target_dir_from(root, Some(OsStr::new("t"))), Path::new("/w/t"));
        assert_eq!(target_dir_from(root, Some(OsStr::new("/x/t"))), Path::new("/x/t"));
    }

    #[test]
    fn fresh_dir_empties_an_existing_directory() {
        let dir = std::env::temp_dir().join(format!("xtask-fresh-dir-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("old")).expect("create");
        std::fs::write(dir.join("old/a.png"), b"x").expect("write");
        fresh_dir(&dir).expect("fresh");
        assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 0);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// The value of the first `key = "value"` line of a TOML file (enough for these flat files).
    fn toml_string(text: &str, key: &str) -> Option<String> {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        })
    }

    /// One toolchain everywhere: `rust-toolchain.toml`, the workspace's `rust-version` (its
    /// major.minor) and the Rust image of every Dockerfile, so a container builds with the
    /// toolchain CI proved and does not download another one.
    #[test]
    fn the_toolchain_is_pinned_once() {
        let ws = Workspace::locate().expect("xtask has a parent");
        let read = |path: &str| std::fs::read_to_string(ws.join(path)).expect(path);
        let channel = toml_string(&read("rust-toolchain.toml"), "channel").expect("a channel");
        assert_eq!(channel.split('.').count(), 3, "pin an exact release, not {channel}");
        let rust_version = toml_string(&read("Cargo.toml"), "rust-version").expect("a rust-version");
        assert!(format!("{channel}.").starts_with(&format!("{rust_version}.")), "{rust_version} vs {channel}");
        for dockerfile in ["signaling/Dockerfile", "nginx/Dockerfile"] {
            let image = read(dockerfile)
                .lines()
                .find_map(|line| line.strip_prefix("FROM rust:")?.split('-').next().map(str::to_owned))
                .expect(dockerfile);
            assert_eq!(image, channel, "{dockerfile}");
        }
    }

    #[test]
    fn command_runs_from_root() {
        let ws = Workspace::locate().expect("xtask has a parent");
        let cmd = ws.command(&["cargo", "fmt", "--version"]);
        assert_eq!(cmd.get_program(), "cargo");
        assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["fmt", "--version"]);
        assert_eq!(cmd.get_current_dir(), Some(ws.root()));
    }
}
