//! Debian's coturn with the repository's `turn/turnserver.conf` (see `e2e::coturn` for what the
//! command line adds), ready once it answers a STUN Binding request; killed on drop. Also runs
//! coturn's own test client, `turnutils_uclient`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::harness::{poll, Context as _, Failure, Probe, Result, Stage};
use e2e::coturn::{binding_request, is_binding_success, turnserver_args, Setup, TEST_REALM};
use e2e::deploy::DeployPaths;

/// coturn is up within a second here; generous for a loaded CI machine.
const START_LIMIT: Duration = Duration::from_secs(15);
/// Relay ports: two calls' worth of allocations (a browser allocates one per ICE server and
/// component, turnutils_uclient four per run) with room to spare. Not the file's 1,024: on the
/// machine's shared loopback a smaller run is found free more easily.
const RELAY_PORTS: u16 = 64;
/// Below Linux's ephemeral range (32768–60999), so no port the OS hands out lands in it.
const RELAY_SEARCH: RangeInclusive<u16> = 20000..=30000;
/// `turnutils_uclient -n 5` takes about 6 s; failures end sooner.
const UCLIENT_LIMIT: Duration = Duration::from_secs(40);

/// Ports for one coturn run, picked before it starts so the signaling server can be told the URL.
#[derive(Debug, Clone)]
pub struct Ports {
    pub listening: u16,
    pub relay: RangeInclusive<u16>,
}

impl Ports {
    /// A listening port free for UDP and TCP, and a run of [`RELAY_PORTS`] free UDP ports.
    pub fn pick() -> Result<Ports> {
        // coturn listens on UDP and TCP: a port the OS hands out for UDP is nearly always free for TCP.
        let listening = (0..20)
            .find_map(|_| {
                let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?.local_addr().ok()?.port();
                TcpListener::bind((Ipv4Addr::LOCALHOST, port)).ok().map(|_| port)
            })
            .ok_or_else(|| Failure::new("no loopback port free for both UDP and TCP"))?;
        let mut start = *RELAY_SEARCH.start();
        while start + RELAY_PORTS <= *RELAY_SEARCH.end() {
            let range = start..=start + RELAY_PORTS - 1;
            // Held all at once, then released together: the run is free right now.
            let bound: Vec<UdpSocket> =
                range.clone().map_while(|port| UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).ok()).collect();
            if bound.len() == usize::from(RELAY_PORTS) {
                return Ok(Ports { listening, relay: range });
            }
            start += RELAY_PORTS;
        }
        Err(Failure::new(format!("no {RELAY_PORTS} free UDP ports in {RELAY_SEARCH:?}")))
    }

    /// The signaling server's flags for this TURN server: what docker-compose.yml sets through
    /// SIGNALING_STUN_URLS, SIGNALING_TURN_URLS and SIGNALING_TURN_SECRET.
    pub fn signaling_args(&self, secret: &str) -> Vec<String> {
        let port = self.listening;
        vec![
            "--turn-urls".to_owned(),
            format!("turn:127.0.0.1:{port}?transport=udp"),
            "--turn-secret".to_owned(),
            secret.to_owned(),
            "--stun-urls".to_owned(),
            format!("stun:127.0.0.1:{port}"),
        ]
    }
}

/// A secret for one run: not guessable by anything else on the machine, no randomness crate needed.
pub fn run_secret() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("e2e-{nanos:x}-{:x}", std::process::id())
}

pub struct Coturn {
    child: Child,
    addr: SocketAddr,
    log_path: PathBuf,
    artifacts: PathBuf,
    /// coturn's user database and pid file.
    _state: tempfile::TempDir,
}

impl Coturn {
    /// Starts `turnserver -c <repo>/turn/turnserver.conf …` on `ports` with `secret`; the log goes
    /// to `<artifacts>/coturn.log`.
    pub async fn start(repo: &Path, ports: &Ports, secret: &str, artifacts: &Path) -> Result<Coturn> {
        let state = tempfile::Builder::new().prefix("e2e-coturn-").tempdir().context("creating coturn's state dir")?;
        let setup = Setup {
            conf: repo.join("turn/turnserver.conf"),
            port: ports.listening,
            relay_ports: ports.relay.clone(),
            secret: secret.to_owned(),
            realm: TEST_REALM.to_owned(),
            state_dir: state.path().to_path_buf(),
        };
        let log_path = artifacts.join("coturn.log");
        let log = std::fs::File::create(&log_path).context(format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone().context("duplicating the coturn log handle")?;
        let mut command = Command::new("turnserver");
        command.args(turnserver_args(&setup)).stdin(Stdio::null()).stdout(log).stderr(log_err).kill_on_drop(true);
        let child = command.spawn().context("starting turnserver (Debian: apt-get install coturn)")?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ports.listening));
        let mut coturn = Coturn { child, addr, log_path, artifacts: artifacts.to_path_buf(), _state: state };
        coturn.wait_ready().await.context(format!("coturn on {addr} (log: {})", coturn.log_path.display()))?;
        Ok(coturn)
    }

    /// [`Coturn::start`] for a browser test: the repository's configuration found through the
    /// test environment, the log in `stage`'s artifacts.
    #[allow(dead_code, reason = "each test binary compiles the stack; deploy.rs has no Stage")]
    pub async fn start_for(stage: &Stage, ports: &Ports, secret: &str) -> Result<Coturn> {
        let deploy = DeployPaths::from_env().context("reading the test environment")?;
        Coturn::start(&deploy.repo, ports, secret, &stage.artifacts_dir()).await
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything coturn has logged so far.
    pub fn log(&self) -> Result<String> {
        std::fs::read_to_string(&self.log_path).context(format!("reading {}", self.log_path.display()))
    }

    /// Runs `turnutils_uclient ARGS… -p PORT 127.0.0.1`; its output goes to `<artifacts>/<name>.log`.
    /// Returns whether it succeeded and its output.
    pub async fn uclient(&self, name: &str, args: &[&str]) -> Result<(bool, String)> {
        let mut command = Command::new("turnutils_uclient");
        command
            .args(args)
            .args(["-p", &self.addr.port().to_string(), "127.0.0.1"])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(UCLIENT_LIMIT, command.output())
            .await
            .map_err(|_| Failure::new(format!("turnutils_uclient ({name}) ran over {} s", UCLIENT_LIMIT.as_secs())))?
            .context("running turnutils_uclient (Debian: apt-get install coturn)")?;
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let path = self.artifacts.join(format!("{}.log", e2e::artifact_file_name(name)));
        std::fs::write(&path, &text).context(format!("writing {}", path.display()))?;
        Ok((output.status.success(), text))
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let addr = self.addr;
        let child = &mut self.child;
        let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.context("binding a STUN client")?;
        let socket = &socket;
        // Probe n's transaction id is `[n; 12]` (at most START_LIMIT / 100 ms = 150 probes, so no
        // wrap). A loaded machine can answer after a probe's 300 ms, and the next probe then reads
        // that answer: a success for any probe sent so far means coturn is up, or every probe
        // could read its predecessor's answer until the limit (seen here at a load average above 30).
        let mut attempt: u8 = 0;
        poll("coturn answers a STUN Binding request", START_LIMIT, Duration::from_millis(100), || {
            let exited = child.try_wait();
            attempt = attempt.wrapping_add(1);
            let (transaction, sent) = ([attempt; 12], attempt);
            let answers_ours = move |answer: &[u8]| (1..=sent).any(|n| is_binding_success(answer, [n; 12]));
            async move {
                if let Some(status) = exited.context("checking on turnserver")? {
                    return Err(Failure::new(format!("turnserver exited ({status})")));
                }
                socket.send_to(&binding_request(transaction), addr).await.context("sending a Binding request")?;
                let mut buf = [0u8; 512];
                match tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await {
                    Ok(Ok((n, _))) if answers_ours(&buf[..n]) => Ok(Probe::Ready(())),
                    Ok(Ok((n, _))) => {
                        Ok(Probe::NotYet(format!("an answer of {n} bytes that is not a Binding success")))
                    }
                    Ok(Err(e)) => Ok(Probe::NotYet(format!("receive failed: {e}"))),
                    Err(_) => Ok(Probe::NotYet("no answer".to_owned())),
                }
            }
        })
        .await
    }
}
