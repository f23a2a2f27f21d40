//! Debian's nginx with the repository's configuration (see `e2e::nginx` for what is substituted),
//! from a prefix directory of its own; checked with `nginx -t` first, killed on drop with its workers.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::request;
use crate::harness::driver::{free_local_addr, kill_process_tree};
use crate::harness::{poll, Context as _, Failure, Probe, Result};
use e2e::deploy::DeployPaths;
use e2e::nginx::{plan, plan_tls, rewrite, Layout, TlsLayout};

/// nginx starts in milliseconds; generous for a loaded CI machine.
const START_LIMIT: Duration = Duration::from_secs(15);

pub struct Nginx {
    child: Child,
    addr: SocketAddr,
    ipv6: bool,
    log_path: PathBuf,
    /// Configuration, pid file and temp directories; removed on drop (a copy of the configuration
    /// stays in the artifacts).
    _prefix: tempfile::TempDir,
}

impl Nginx {
    /// Lays out the repository's files under a fresh prefix, proxying to `upstream` and serving
    /// `dist`, checks them with `nginx -t`, starts nginx and waits until `/healthz` answers through
    /// it. Logs (and the `nginx -t` output) go to `<artifacts>/nginx.log`, the configuration as
    /// run to `<artifacts>/nginx/`.
    pub async fn start(deploy: &DeployPaths, dist: &Path, upstream: SocketAddr, artifacts: &Path) -> Result<Nginx> {
        let prefix = tempfile::Builder::new().prefix("e2e-nginx-").tempdir().context("creating nginx's prefix")?;
        // Workers run as `nobody` when started by root: they must reach the temp directories.
        std::fs::set_permissions(prefix.path(), std::fs::Permissions::from_mode(0o755))
            .context("opening nginx's prefix to its workers")?;
        let port = free_local_addr()?.port();
        let ipv6 = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
        let layout = Layout { prefix: prefix.path().to_path_buf(), dist: dist.to_path_buf(), upstream, port, ipv6 };
        write_config(deploy, &layout, None, &artifacts.join("nginx"))?;

        let log_path = artifacts.join("nginx.log");
        let checked = nginx_command(prefix.path(), &["-t"]).output().await.context("running `nginx -t`")?;
        let check_output = String::from_utf8_lossy(&checked.stderr).into_owned();
        std::fs::write(&log_path, format!("$ nginx -t\n{check_output}\n")).context("writing nginx.log")?;
        if !checked.status.success() {
            return Err(Failure::new(format!("`nginx -t` refused the repository's config:\n{check_output}")));
        }

        let log = std::fs::OpenOptions::new().append(true).open(&log_path).context("opening nginx.log")?;
        let log_err = log.try_clone().context("duplicating the nginx log handle")?;
        let mut command = nginx_command(prefix.path(), &["-g", "daemon off;"]);
        command.stdin(Stdio::null()).stdout(log).stderr(log_err).kill_on_drop(true);
        let child = command.spawn().context("starting nginx (Debian: apt-get install nginx)")?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut nginx = Nginx { child, addr, ipv6, log_path, _prefix: prefix };
        nginx.wait_ready().await.context(format!("nginx on {addr} (log: {})", nginx.log_path.display()))?;
        Ok(nginx)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `[::1]:PORT` when the `[::]` listen of connect.conf is active.
    pub fn ipv6_addr(&self) -> Option<SocketAddr> {
        self.ipv6.then(|| SocketAddr::from((Ipv6Addr::LOCALHOST, self.addr.port())))
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let addr = self.addr;
        let child = &mut self.child;
        poll("nginx proxies /healthz", START_LIMIT, Duration::from_millis(100), || {
            let exited = child.try_wait();
            async move {
                if let Some(status) = exited.context("checking on nginx")? {
                    return Err(Failure::new(format!("nginx exited ({status})")));
                }
                let response = request(addr, "/healthz", &[]).await?;
                match response.status {
                    200 => Ok(Probe::Ready(())),
                    status => Ok(Probe::NotYet(format!("/healthz answered {status}"))),
                }
            }
        })
        .await
    }
}

impl Drop for Nginx {
    /// The master and its workers: killing only the master would leave workers holding the port.
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            kill_process_tree(pid);
        }
    }
}

fn nginx_command(prefix: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("nginx");
    // `-e stderr`: the log of start-up, before nginx.conf's own error_log applies.
    command.arg("-p").arg(prefix).args(["-c", "nginx.conf", "-e", "stderr"]).args(args);
    command
}

/// Writes the rewritten repository files (with `tls`, also docker-compose.tls.yml's templates)
/// and the generated CSP snippet under the prefix, and a copy of each into `copy_dir` for whoever
/// reads the artifacts.
pub fn write_config(deploy: &DeployPaths, layout: &Layout, tls: Option<&TlsLayout>, copy_dir: &Path) -> Result<()> {
    let snippets_dir = deploy.repo.join("nginx/snippets");
    let mut snippets: Vec<String> = std::fs::read_dir(&snippets_dir)
        .context(format!("listing {}", snippets_dir.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".conf"))
        .collect();
    snippets.sort();
    for dir in ["conf.d", "snippets", "stream-conf.d"] {
        for root in [layout.prefix.as_path(), copy_dir] {
            std::fs::create_dir_all(root.join(dir)).context(format!("creating {}", root.join(dir).display()))?;
        }
    }
    let mut files = plan(layout, &snippets);
    files.extend(tls.map(|tls| plan_tls(layout, tls)).unwrap_or_default());
    for file in files {
        let source = deploy.repo.join(&file.source);
        let text = std::fs::read_to_string(&source).context(format!("reading {}", source.display()))?;
        let rewritten = rewrite(&file.source.display().to_string(), &text, &file.rewrites).context("nginx config")?;
        for root in [layout.prefix.as_path(), copy_dir] {
            let dest = root.join(&file.dest);
            std::fs::write(&dest, &rewritten).context(format!("writing {}", dest.display()))?;
        }
    }
    // The web image copies the generated snippet beside the others (nginx/Dockerfile).
    for root in [layout.prefix.as_path(), copy_dir] {
        let dest = root.join("snippets/connect-csp.conf");
        std::fs::copy(&deploy.csp_snippet, &dest).context(format!(
            "copying {} to {}",
            deploy.csp_snippet.display(),
            dest.display()
        ))?;
    }
    Ok(())
}
