//! WebDriver servers on free loopback ports, started by the test and killed on drop together with
//! every browser they launched: chromedriver for Chromium (one serves every Chromium session of a
//! test) and geckodriver for Firefox (one per session: it serves one session at a time).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::server::http_get;
use super::{poll, Context as _, Failure, Probe, Result};
use e2e::Paths;

/// Either driver answers `/status` within a second here; generous for a loaded CI machine.
const START_LIMIT: Duration = Duration::from_secs(20);

/// Which browser a session runs, and so which WebDriver server drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserKind {
    Chromium,
    Firefox,
}

impl BrowserKind {
    pub fn driver_name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromedriver",
            BrowserKind::Firefox => "geckodriver",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "Debian: apt-get install chromium-driver; `cargo xtask test` installs it",
            BrowserKind::Firefox => {
                "cargo install --locked geckodriver --version 0.37.1; `cargo xtask test` installs it"
            }
        }
    }
}

pub struct Driver {
    kind: BrowserKind,
    child: Child,
    addr: SocketAddr,
    log_path: PathBuf,
}

impl Driver {
    /// Starts the driver for `kind` and waits until `/status` says it is ready; its output (and,
    /// for geckodriver, Firefox's, which includes the page's console) goes to `log_path`.
    /// geckodriver creates its fresh Firefox profiles under `profile_root`. The driver stays in
    /// our process group, so Ctrl-C or a CI timeout that signals the group reaches it and its
    /// browsers too.
    pub async fn start(paths: &Paths, kind: BrowserKind, log_path: PathBuf, profile_root: &Path) -> Result<Driver> {
        let addr = free_local_addr()?;
        let name = kind.driver_name();
        let log = std::fs::File::create(&log_path).context(format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone().context(format!("duplicating the {name} log handle"))?;
        let (program, args) = match kind {
            BrowserKind::Chromium => (&paths.chromedriver, vec![format!("--port={}", addr.port())]),
            BrowserKind::Firefox => {
                std::fs::create_dir_all(profile_root).context(format!("creating {}", profile_root.display()))?;
                let bidi = free_local_addr()?.port();
                (&paths.geckodriver, e2e::firefox::geckodriver_args(addr.port(), bidi, profile_root))
            }
        };
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null()).stdout(log).stderr(log_err).kill_on_drop(true);
        let child = command.spawn().context(format!("starting {} ({})", program.display(), kind.install_hint()))?;
        let mut driver = Driver { kind, child, addr, log_path };
        let what = format!("{name} on {addr} (log: {})", driver.log_path.display());
        driver.wait_ready().await.context(what)?;
        Ok(driver)
    }

    pub fn kind(&self) -> BrowserKind {
        self.kind
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The WebDriver endpoint, e.g. `http://127.0.0.1:9515`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let addr = self.addr;
        let name = self.kind.driver_name();
        let child = &mut self.child;
        poll(&format!("{name} ready"), START_LIMIT, Duration::from_millis(100), || {
            let exited = child.try_wait();
            async move {
                if let Some(status) = exited.context(format!("checking on {name}"))? {
                    return Err(Failure::new(format!("{name} exited ({status})")));
                }
                let (status, body) = http_get(addr, "/status").await.context("GET /status")?;
                let body = String::from_utf8_lossy(&body);
                if status == 200 && body.replace(' ', "").contains("\"ready\":true") {
                    Ok(Probe::Ready(()))
                } else {
                    Ok(Probe::NotYet(format!("/status answered {status}: {body}")))
                }
            }
        })
        .await
    }
}

impl Drop for Driver {
    /// Sessions are closed politely by `Stage::finish`; this is for panics and early returns:
    /// the driver and every process below it (the browsers and their helpers) are killed, so
    /// nothing keeps running after the test. `kill(1)` because this crate forbids `unsafe` (libc).
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            kill_process_tree(pid);
        }
    }
}

/// SIGKILL for `pid` and every process below it. All are stopped first, parents before children,
/// and the tree is read again: a parent that is still running can fork a replacement for a killed
/// child (nginx's master respawns a worker at once, which then outlives the master), and a killed
/// parent's children would be re-parented out of sight.
pub fn kill_process_tree(pid: u32) {
    let tree = |root: u32| std::iter::once(root).chain(e2e::descendants(root, &process_table())).collect::<Vec<_>>();
    let stopped = tree(pid);
    signal("-STOP", &stopped);
    let mut doomed = tree(pid);
    doomed.extend(stopped.into_iter().filter(|p| *p != pid));
    signal("-KILL", &doomed);
}

/// `kill SIGNAL PID…`; `kill(1)` because this crate forbids `unsafe` (libc). Processes already
/// gone are no error worth reporting.
fn signal(signal: &str, pids: &[u32]) {
    let _ = std::process::Command::new("kill")
        .arg(signal)
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// (pid, parent pid) of every process we can see in `/proc`.
fn process_table() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            Some((pid, e2e::stat_parent_pid(&stat)?))
        })
        .collect()
}

/// A loopback address with a port the OS just handed out; released before the driver binds it
/// (if something takes it in between, the readiness wait reports the failure).
pub fn free_local_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
    listener.local_addr().context("reading the address of 127.0.0.1:0")
}
