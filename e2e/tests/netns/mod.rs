//! The simulated internet of `tests/nat.rs`, running: namespaces built from `e2e::netns`,
//! processes started inside them with `ip netns exec`, a chromedriver per home reached through
//! `netns-bridge`, and a teardown that kills every process and deletes every namespace, also when
//! the test fails or panics.

pub mod certs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::net::{TcpListener, UnixStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::harness::driver::kill_process_tree;
use crate::harness::server::http_get;
use crate::harness::{poll, Context as _, Failure, Probe, Result};
use e2e::netns::{hosts_file, resolv_conf, setup_commands, teardown_commands, Names, Scenario};

/// Building the network is ~60 short `ip` commands; each one is bounded.
const COMMAND_LIMIT: Duration = Duration::from_secs(10);
/// chromedriver answers `/status` within a second here; generous for a loaded CI machine.
const DRIVER_LIMIT: Duration = Duration::from_secs(20);
/// chromedriver's port inside its home namespace: nothing else listens there.
const DRIVER_PORT: u16 = 9515;
/// `ip netns exec` mounts `/etc/netns/<ns>/hosts` over `/etc/hosts` for what it runs.
const NETNS_ETC: &str = "/etc/netns";

/// One run's namespaces, processes and bridges; dropping it tears everything down.
pub struct Network {
    names: Names,
    /// Sockets of the bridges and rulesets as loaded; removed on drop.
    work: tempfile::TempDir,
    processes: Vec<NsProcess>,
    forwarders: Vec<JoinHandle<()>>,
    etc_dirs: Vec<PathBuf>,
    built: bool,
}

/// A process started in a namespace; killed with its children when the network is torn down.
struct NsProcess {
    child: Child,
}

impl Network {
    /// A fresh network named after this process, with `scenario`'s rules loaded. The rulesets
    /// are also written to `artifacts` for whoever reads a failure.
    pub fn build(scenario: &Scenario, artifacts: &Path) -> Result<Network> {
        // Unique per run and per case, so cases may even run in parallel threads.
        static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let run_number = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let names = Names::new(format!("cnat{}x{run_number}", std::process::id()));
        let work = tempfile::Builder::new().prefix("e2e-nat-").tempdir().context("creating the NAT work dir")?;
        let network =
            Network { names, work, processes: Vec::new(), forwarders: Vec::new(), etc_dirs: Vec::new(), built: true };
        // A namespace of a crashed earlier run of this same process id would make `add` fail.
        for argv in teardown_commands(&network.names) {
            let _ = run_quiet(&argv);
        }
        for argv in setup_commands(&network.names) {
            run(&argv)?;
        }
        for (ns, rules) in scenario.rulesets(&network.names) {
            let file = network.work.path().join(format!("{ns}.nft"));
            std::fs::write(&file, &rules).context(format!("writing {}", file.display()))?;
            let _ = std::fs::write(artifacts.join(format!("{ns}.nft")), &rules);
            run(&["ip", "netns", "exec", &ns, "nft", "-f", &file.display().to_string()])?;
        }
        Ok(network)
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// What names resolve to for processes started in `ns` from now on.
    pub fn set_hosts(&mut self, ns: &str, names: &[&str]) -> Result<()> {
        let dir = Path::new(NETNS_ETC).join(ns);
        std::fs::create_dir_all(&dir).context(format!("creating {}", dir.display()))?;
        self.etc_dirs.push(dir.clone());
        std::fs::write(dir.join("resolv.conf"), resolv_conf())
            .context(format!("writing {}/resolv.conf", dir.display()))?;
        std::fs::write(dir.join("hosts"), hosts_file(names)).context(format!("writing {}/hosts", dir.display()))
    }

    /// Starts `argv` in `ns` with its output appended to `log`.
    pub fn spawn(&mut self, ns: &str, argv: &[String], envs: &[(&str, &str)], log: &Path) -> Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .context(format!("opening {}", log.display()))?;
        let err = out.try_clone().context("duplicating a log handle")?;
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]).args(argv).stdin(Stdio::null()).stdout(out).stderr(err).kill_on_drop(true);
        for (name, value) in envs {
            command.env(name, value);
        }
        let program = argv.first().map(String::as_str).unwrap_or_default();
        let child = command.spawn().context(format!("starting {program} in {ns}"))?;
        self.processes.push(NsProcess { child });
        Ok(())
    }

    /// Waits until a TCP connect from `ns` to `addr` succeeds (a server inside is up, or a route
    /// through the routers works), for at most `limit`.
    pub async fn probe(&self, ns: &str, addr: SocketAddr, limit: Duration) -> Result<()> {
        let bridge = env!("CARGO_BIN_EXE_netns-bridge");
        let secs = limit.as_secs().max(1).to_string();
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns, bridge, "probe", &addr.to_string(), &secs]).kill_on_drop(true);
        let output = tokio::time::timeout(limit + Duration::from_secs(5), command.output())
            .await
            .map_err(|_| Failure::new(format!("probing {addr} from {ns}: no answer")))?
            .context(format!("probing {addr} from {ns}"))?;
        check_status(&format!("a TCP connect from {ns} to {addr}"), &output)
    }

    /// What `argv` run in `ns` prints; fails unless it exits 0.
    pub fn output(&self, ns: &str, argv: &[&str]) -> Result<String> {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(argv);
        let output = run_quiet(&full).context(format!("running {argv:?} in {ns}"))?;
        check_status(&format!("{argv:?} in {ns}"), &output)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Fails unless a TCP connect from `ns` to `addr` is refused or dropped within `limit`.
    pub async fn unreachable(&self, ns: &str, addr: SocketAddr, limit: Duration) -> Result<()> {
        match self.probe(ns, addr, limit).await {
            Ok(()) => Err(Failure::new(format!("{addr} is reachable from {ns}, which the scenario forbids"))),
            Err(_) => Ok(()),
        }
    }

    /// chromedriver inside `ns`, reachable from the test as `http://127.0.0.1:PORT` through a
    /// Unix socket; its log goes to `log`. Returns the WebDriver URL.
    pub async fn chromedriver(&mut self, ns: &str, chromedriver: &Path, log: &Path) -> Result<String> {
        let driver = vec![chromedriver.display().to_string(), format!("--port={DRIVER_PORT}")];
        self.spawn(ns, &driver, &[], log)?;
        let socket = self.work.path().join(format!("{ns}.sock"));
        let bridge = vec![
            env!("CARGO_BIN_EXE_netns-bridge").to_owned(),
            "forward".to_owned(),
            socket.display().to_string(),
            format!("127.0.0.1:{DRIVER_PORT}"),
        ];
        self.spawn(ns, &bridge, &[], log)?;
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the WebDriver forwarder")?;
        let addr = listener.local_addr().context("reading the forwarder's address")?;
        self.forwarders.push(tokio::spawn(forward(listener, socket)));
        poll(&format!("chromedriver in {ns}"), DRIVER_LIMIT, Duration::from_millis(200), || async move {
            let (status, body) = http_get(addr, "/status").await.context("GET /status")?;
            let body = String::from_utf8_lossy(&body);
            if status == 200 && body.replace(' ', "").contains("\"ready\":true") {
                Ok(Probe::Ready(()))
            } else {
                Ok(Probe::NotYet(format!("/status answered {status}: {body}")))
            }
        })
        .await?;
        Ok(format!("http://{addr}"))
    }

    /// Kills every process (and its children: Chromium below chromedriver, nginx's workers),
    /// then deletes the namespaces. Idempotent.
    pub fn teardown(&mut self) {
        for task in self.forwarders.drain(..) {
            task.abort();
        }
        for process in self.processes.drain(..).rev() {
            if let Some(pid) = process.child.id() {
                kill_process_tree(pid);
            }
        }
        if std::mem::take(&mut self.built) {
            for argv in teardown_commands(&self.names) {
                if let Err(e) = run(&argv) {
                    eprintln!("    tearing down: {e}");
                }
            }
        }
        for dir in self.etc_dirs.drain(..) {
            let _ = std::fs::remove_dir_all(&dir);
        }
        // Only if no other namespace has files there (remove_dir fails on a non-empty directory).
        let _ = std::fs::remove_dir(NETNS_ETC);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Every connection to `listener` is joined to a new connection to the Unix socket at `socket`.
async fn forward(listener: TcpListener, socket: PathBuf) {
    while let Ok((mut tcp, _)) = listener.accept().await {
        let socket = socket.clone();
        tokio::spawn(async move {
            if let Ok(mut unix) = UnixStream::connect(&socket).await {
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
            }
        });
    }
}

/// Runs `argv` to completion; fails with its output unless it exits 0.
pub fn run<S: AsRef<str>>(argv: &[S]) -> Result<()> {
    let line = argv.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ");
    let output = run_quiet(argv).context(format!("running `{line}`"))?;
    check_status(&format!("`{line}`"), &output)
}

fn run_quiet<S: AsRef<str>>(argv: &[S]) -> std::io::Result<std::process::Output> {
    let (program, args) = argv.split_first().ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut child = std::process::Command::new(program.as_ref())
        .args(args.iter().map(AsRef::as_ref))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let started = std::time::Instant::now();
    // Short commands: poll for the exit, and kill one that hangs.
    while child.try_wait()?.is_none() {
        if started.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output()
}

fn check_status(what: &str, output: &std::process::Output) -> Result<()> {
    if output.status.success() {
        return Ok(());
    }
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Err(Failure::new(format!("{what} failed ({}): {}", output.status, text.trim())))
}
