//! Autobahn|Testsuite's fuzzing client (`wstest`), installed by the project itself into a Python
//! 2.7 virtualenv under `target/autobahn/`: the suite is Python 2 only. Everything is pinned,
//! because its 25.10.1 wheel declares no dependencies and the newest releases of many of them no
//! longer run on Python 2.7. Built once; a stamp named after the pins skips the next builds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::process;

/// The suite itself, installed without dependencies (it declares none).
pub const SUITE: &str = "autobahntestsuite==25.10.1";

/// virtualenv's last line that still creates Python 2.7 environments, with its own dependency
/// closure; it seeds pip 20.3.4, setuptools 44.1.1 and wheel 0.37.1 into the environment.
/// Installed with the interpreter's own pip into a directory of its own, never into the interpreter.
pub const BOOTSTRAP_PINS: &[&str] = &[
    "virtualenv==20.15.1",
    "distlib==0.4.4",
    "filelock==3.2.1",
    "platformdirs==2.0.2",
    "six==1.17.0",
    "importlib-metadata==2.1.3",
    "importlib-resources==3.3.1",
    "zipp==1.2.0",
    "pathlib2==2.3.7.post1",
    "scandir==1.10.0",
    "contextlib2==0.6.0.post1",
    "configparser==4.0.2",
    "singledispatch==3.7.0",
    "typing==3.10.0.0",
];

/// What the suite imports at run time: the requirements of its source distribution and their
/// resolved closure, each at the last version that installs and runs on CPython 2.7.
pub const SUITE_PINS: &[&str] = &[
    "setuptools==44.0.0",
    "txaio==2.1.0",
    "incremental==16.10.1",
    "pyOpenSSL==19.1.0",
    "cryptography==3.3.2",
    "Twisted==19.10.0",
    "zope.interface==4.6.0",
    "Jinja2==2.11.3",
    "MarkupSafe==1.1.1",
    "Werkzeug==1.0.1",
    "klein==17.10.0",
    "service-identity==18.1.0",
    "unittest2==1.1.0",
    "six==1.16.0",
    "autobahn[accelerate,twisted]==0.10.9",
    "attrs==21.4.0",
    "Automat==22.10.0",
    "cffi==1.15.1",
    "constantly==15.1.0",
    "enum34==1.1.10",
    "hyperlink==21.0.0",
    "idna==2.10",
    "ipaddress==1.0.23",
    "linecache2==1.0.0",
    "pyasn1==0.5.1",
    "pyasn1-modules==0.3.0",
    "pycparser==2.21",
    "PyHamcrest==1.10.1",
    "traceback2==1.4.0",
    "typing==3.10.0.0",
    "ujson==2.0.3",
    "wsaccel==0.6.6",
    "argparse==1.4.0",
];

/// Each pip or virtualenv call downloads and builds a few wheels (about a minute for all of them here);
/// a stalled download must not hold CI for the runner's whole budget.
const STEP_LIMIT: Duration = Duration::from_secs(15 * 60);
/// `wstest --help` and the version probe answer in about a second.
const PROBE_LIMIT: Duration = Duration::from_secs(60);

/// Where the environment lives: `<target>/autobahn/suite/`, rebuilt as a whole when the pins change.
pub struct Suite {
    dir: PathBuf,
}

impl Suite {
    pub fn under(autobahn_dir: &Path) -> Suite {
        Suite { dir: autobahn_dir.join("suite") }
    }

    /// The fuzzing client's executable inside the virtualenv.
    pub fn wstest(&self) -> PathBuf {
        self.venv().join("bin/wstest")
    }

    fn venv(&self) -> PathBuf {
        self.dir.join("venv")
    }

    fn stamp(&self) -> PathBuf {
        self.dir.join(format!(".pins-{}", pins_digest(BOOTSTRAP_PINS, SUITE_PINS, SUITE)))
    }

    fn log(&self) -> PathBuf {
        self.dir.join("setup.log")
    }

    /// Builds the virtualenv unless one with the same pins exists and its `wstest` starts.
    pub fn ensure(&self) -> Result<(), Error> {
        if self.stamp().is_file() && self.wstest_starts() {
            println!("    Autobahn|Testsuite present ({SUITE}, {})", self.venv().display());
            return Ok(());
        }
        println!("    Autobahn|Testsuite missing, installing {SUITE} into {} (about a minute)", self.venv().display());
        let python = find_python27()?;
        println!("    Python 2.7: {}", python.display());
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io(format!("removing {}", self.dir.display()), e))?;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(format!("creating {}", self.dir.display()), e))?;
        self.build(&python)?;
        if !self.wstest_starts() {
            return Err(Error::Check(format!("{} does not start after the install", self.wstest().display())));
        }
        std::fs::write(self.stamp(), SUITE).map_err(|e| Error::io(format!("writing {}", self.stamp().display()), e))
    }

    /// virtualenv into `bootstrap/`, the environment from it, then the pinned closure and the suite.
    fn build(&self, python: &Path) -> Result<(), Error> {
        let bootstrap = self.dir.join("bootstrap");
        let bootstrap_pins = self.write_pins("bootstrap-pins.txt", BOOTSTRAP_PINS)?;
        let suite_pins = self.write_pins("suite-pins.txt", SUITE_PINS)?;
        let log = self.log();
        let mut pip_target = std::process::Command::new(python);
        pip_target.args(["-m", "pip", "install", "--disable-pip-version-check", "--target"]);
        pip_target.arg(&bootstrap).arg("-r").arg(&bootstrap_pins);
        process::run_logged(&mut pip_target, &log, STEP_LIMIT)?;

        let mut virtualenv = std::process::Command::new(python);
        virtualenv.args(["-m", "virtualenv", "-q"]).arg(self.venv());
        // virtualenv caches its seed wheels in the user's home unless told otherwise.
        virtualenv.env("PYTHONPATH", &bootstrap).env("VIRTUALENV_OVERRIDE_APP_DATA", self.dir.join("app-data"));
        process::run_logged(&mut virtualenv, &log, STEP_LIMIT)?;

        let pip = self.venv().join("bin/pip");
        let mut closure = std::process::Command::new(&pip);
        closure.args(["install", "--disable-pip-version-check", "-r"]).arg(&suite_pins);
        process::run_logged(&mut closure, &log, STEP_LIMIT)?;
        let mut suite = std::process::Command::new(&pip);
        suite.args(["install", "--disable-pip-version-check", "--no-deps", SUITE]);
        process::run_logged(&mut suite, &log, STEP_LIMIT)
    }

    fn write_pins(&self, name: &str, pins: &[&str]) -> Result<PathBuf, Error> {
        let path = self.dir.join(name);
        std::fs::write(&path, requirements(pins)).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }

    fn wstest_starts(&self) -> bool {
        let mut help = std::process::Command::new(self.wstest());
        help.arg("--help");
        process::succeeds_within(&mut help, PROBE_LIMIT)
    }
}

/// A pip requirements file: one pin a line.
fn requirements(pins: &[&str]) -> String {
    pins.iter().map(|pin| format!("{pin}\n")).collect()
}

/// 16 hex digits of SHA-256 over every pin: any change of version gives another stamp name.
fn pins_digest(bootstrap: &[&str], suite_pins: &[&str], suite: &str) -> String {
    let mut hash = Sha256::new();
    for list in [bootstrap, suite_pins, &[suite]] {
        hash.update(requirements(list));
        // Separates the lists, so moving a pin from one to the other changes the digest too.
        hash.update(b"\0");
    }
    hash.finalize().iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

/// The first Python 2.7 of: `$PYENV_ROOT/versions/2.7.*` (default `~/.pyenv`; newest first), then
/// `python2.7` on `PATH`; each is asked for its version, so a broken shim does not count.
fn find_python27() -> Result<PathBuf, Error> {
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".pyenv")));
    let mut candidates = Vec::new();
    if let Some(root) = pyenv_root {
        let versions = root.join("versions");
        let names = std::fs::read_dir(&versions)
            .map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        candidates.extend(pyenv_pythons(&versions, names));
    }
    candidates.push(PathBuf::from("python2.7"));
    candidates.into_iter().find(|python| is_python27(python)).ok_or(Error::Missing {
        what: "a Python 2.7 interpreter".to_owned(),
        hint: "the Autobahn|Testsuite client runs on Python 2.7 only: `pyenv install 2.7.18`, or a system python2.7",
    })
}

fn is_python27(python: &Path) -> bool {
    let mut probe = std::process::Command::new(python);
    probe.args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]);
    process::quiet_stdout(&mut probe).is_some_and(|out| out.trim() == "2.7")
}

/// `<versions>/2.7.N/bin/python` for each `2.7.N` among `names`, highest N first.
fn pyenv_pythons(versions: &Path, names: Vec<String>) -> Vec<PathBuf> {
    let mut found: Vec<(u32, String)> =
        names.into_iter().filter_map(|name| Some((name.strip_prefix("2.7.")?.parse().ok()?, name))).collect();
    found.sort_by_key(|(patch, _)| std::cmp::Reverse(*patch));
    found.into_iter().map(|(_, name)| versions.join(name).join("bin/python")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyenv_pythons_are_2_7_only_newest_first() {
        let names = ["3.12.1", "2.7.9", "2.7.18", "2.7.x", "2.7", "system"].map(String::from).to_vec();
        assert_eq!(
            pyenv_pythons(Path::new("/p/versions"), names),
            [PathBuf::from("/p/versions/2.7.18/bin/python"), PathBuf::from("/p/versions/2.7.9/bin/python")]
        );
    }

    #[test]
    fn the_stamp_changes_with_any_pin_and_only_then() {
        let base = pins_digest(BOOTSTRAP_PINS, SUITE_PINS, SUITE);
        assert_eq!(base.len(), 16);
        assert_eq!(base, pins_digest(BOOTSTRAP_PINS, SUITE_PINS, SUITE));
        assert_ne!(base, pins_digest(BOOTSTRAP_PINS, SUITE_PINS, "autobahntestsuite==25.10.2"));
        assert_ne!(base, pins_digest(&BOOTSTRAP_PINS[1..], SUITE_PINS, SUITE));
        let (moved, rest) = SUITE_PINS.split_at(1);
        let bootstrap_plus: Vec<&str> = BOOTSTRAP_PINS.iter().chain(moved).copied().collect();
        assert_ne!(base, pins_digest(&bootstrap_plus, rest, SUITE));
    }

    #[test]
    fn every_pin_is_exact() {
        for pin in BOOTSTRAP_PINS.iter().chain(SUITE_PINS).chain([&SUITE]) {
            let (name, version) = pin.split_once("==").unwrap_or_else(|| panic!("{pin} is not name==version"));
            assert!(!name.is_empty() && version.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'), "{pin}");
        }
        assert_eq!(requirements(&["a==1", "b==2"]), "a==1\nb==2\n");
    }

    #[test]
    fn a_missing_interpreter_is_not_python_2_7() {
        assert!(!is_python27(Path::new("xtask-no-such-python")));
    }
}
