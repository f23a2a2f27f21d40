//! Calls across real NATs: each headless Chromium behind its own home router (nftables masquerade
//! in a network namespace of its own), the signaling server, coturn (the repository's
//! `turn/turnserver.conf`) and, for TURN over TLS, nginx (the repository's `nginx/` with
//! docker-compose.tls.yml's templates) on a "public" namespace, all on a simulated internet of
//! documentation addresses (see `e2e::netns` for the map). Each case prints the time from the
//! second person opening the link to the first remote frame.
//!
//! Ignored by plain `cargo test`: they need root, `ip netns`, nft, Chromium, coturn, nginx and a
//! built `dist/`. The `browser` step of `cargo xtask test` runs them, except the two written
//! ahead of the web client's issue-14 work (giving up with `data-error`, the pre-call check),
//! which it skips by name until that work lands (`PENDING` in xtask/src/test/browser.rs). Every
//! namespace and process is removed when a case ends, passed or failed.
//!
//! Lab facts: the page on the public address is plain HTTP, made a secure context for Chromium
//! with `--unsafely-treat-insecure-origin-as-secure`; the TLS case's test CA is trusted with
//! `--ignore-certificate-errors-spki-list`, which Chromium honours for TURN over TLS as well as
//! for the page and its WebSocket.

#[allow(dead_code)]
mod harness;
mod netns;
#[allow(dead_code)]
mod stack;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use harness::{check, poll, press_start_call, Browser, Context as _, Failure, Probe, Result};
use netns::certs::TestCerts;
use netns::Network;

use e2e::deploy::DeployPaths;
use e2e::netns::{allowed_peer_args, Egress, Mapping, Scenario, HOME_A, HOME_B, PUBLIC_ADDR};
use e2e::nginx::{Layout, TlsLayout};
use e2e::Paths;

/// The signaling server's port on the public address (its namespace is ours alone).
const SIGNALING_PORT: u16 = 8000;
/// coturn's ports, as in turn/turnserver.conf and .env.example.
const TURN_PORT: u16 = 3478;
const TURN_TLS_PORT: u16 = 5349;
/// nginx's plain HTTP port in the web image (connect.conf).
const NGINX_HTTP_PORT: u16 = 8080;
/// nginx's stream port (connect-tls.stream-template), published as 443.
const NGINX_TLS_PORT: u16 = 8443;
/// The page's name and the TURN name of the TLS case (`PUBLIC_HOST`, `TURN_HOST`).
const PUBLIC_HOST: &str = "call.connect.test";
const TURN_HOST: &str = "turn.connect.test";
/// The realm coturn and the signaling server agree on.
const REALM: &str = "connect.test";

/// Servers in the public namespace start in well under a second.
const START_LIMIT: Duration = Duration::from_secs(15);
/// A state change driven by signaling: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);
/// The promise: connected (or told why) within 30 s of the second person opening the link.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);
/// A blocked connect is dropped silently by a router: the probe waits this long for nothing.
const BLOCKED_PROBE: Duration = Duration::from_secs(2);
/// Media checks once the call is up.
const MEDIA_LIMIT: Duration = Duration::from_secs(10);

/// How the browsers reach coturn in a relayed case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// Whatever the browser picks (UDP where it can).
    Any,
    /// TURN over TCP: the routers dropped the browsers' UDP, and both homes opened TCP to coturn.
    Tcp,
    /// TURN over TLS: coturn logged TLS allocations for both people.
    Tls,
}

/// What a case proves once the call is up.
struct Expect {
    /// `#call-stats[data-path]` on both pages.
    path: &'static str,
    /// `Some` for a relayed call: coturn allocated for both people, over this transport.
    relay: Option<Transport>,
}

#[tokio::test]
#[ignore = "needs root, ip netns, nft, Chromium, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn endpoint_independent_nats_connect_directly() {
    let scenario = Scenario {
        mapping: Mapping::EndpointIndependent,
        egress: Egress::Everything,
        no_udp_between_homes: false,
        https_on_443: false,
    };
    call_case("nat_direct", scenario, Expect { path: "direct", relay: None }).await;
}

#[tokio::test]
#[ignore = "needs root, ip netns, nft, Chromium, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn symmetric_nats_without_direct_udp_connect_through_the_relay() {
    let scenario = Scenario {
        mapping: Mapping::Symmetric,
        egress: Egress::Everything,
        no_udp_between_homes: true,
        https_on_443: false,
    };
    call_case("nat_symmetric", scenario, Expect { path: "relay", relay: Some(Transport::Any) }).await;
}

#[tokio::test]
#[ignore = "needs root, ip netns, nft, Chromium, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn udp_blocked_at_both_homes_connects_through_turn_over_tcp() {
    let scenario = Scenario {
        mapping: Mapping::EndpointIndependent,
        egress: Egress::NoUdp,
        no_udp_between_homes: false,
        https_on_443: false,
    };
    call_case("nat_udp_blocked", scenario, Expect { path: "relay", relay: Some(Transport::Tcp) }).await;
}

#[tokio::test]
#[ignore = "needs root, ip netns, nft, Chromium, coturn, nginx and a built dist/: run by `cargo xtask test` (browser step)"]
async fn only_tcp_443_connects_through_turn_over_tls_on_the_443_multiplexer() {
    let scenario = Scenario {
        mapping: Mapping::EndpointIndependent,
        egress: Egress::TcpPorts(vec![443]),
        no_udp_between_homes: false,
        https_on_443: true,
    };
    call_case("nat_only_443", scenario, Expect { path: "relay", relay: Some(Transport::Tls) }).await;
}

/// The contract of `docs/CONNECTIVITY.md`: `data-error`, the `connect_failed` signal and the
/// deadline, so both pages give up, with the reason, within 30 s of the link being opened.
#[tokio::test]
#[ignore = "needs root, ip netns, nft, Chromium, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn nothing_but_signaling_reachable_both_pages_say_why() {
    let scenario = Scenario {
        mapping: Mapping::EndpointIndependent,
        egress: Egress::TcpPorts(vec![SIGNALING_PORT]),
        no_udp_between_homes: false,
        https_on_443: false,
    };
    const NAME: &str = "nat_no_path";
    let mut lab = match Lab::start(NAME, &scenario).await {
        Ok(lab) => lab,
        Err(e) => panic!("{NAME}: could not set up the network and servers: {e}"),
    };
    let outcome = both_pages_give_up(&mut lab, &scenario).await;
    lab.finish(NAME, outcome).await;
}

/// The relay is configured but unreachable from either home, and no direct path exists: both
/// pages end in `error` with `data-error="turn-unreachable"`, keep the Try again button, and the
/// test prints how long each took from the second person opening the link.
async fn both_pages_give_up(lab: &mut Lab, scenario: &Scenario) -> Result<()> {
    network_behaves_as_described(lab, scenario).await?;
    let a = lab.open_browser("a", &HOME_A).await?;
    let b = lab.open_browser("b", &HOME_B).await?;
    a.goto(&lab.page).await?;
    press_start_call(&a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    let opened = Instant::now();
    b.join_by_link(&link, STATE_LIMIT).await?;
    // A bound on the wait, not a timing assertion: the promise is 30 s; a loaded machine gets slack.
    let limit = CONNECT_LIMIT + Duration::from_secs(15);
    let mut gave_up = Vec::new();
    for browser in [&b, &a] {
        browser.wait_for_state("error", limit.saturating_sub(opened.elapsed())).await?;
        gave_up.push((browser.name().to_owned(), opened.elapsed()));
    }
    for browser in [&a, &b] {
        let error = browser.attr_of_body("data-error").await?;
        check(error.as_deref() == Some("turn-unreachable"), || {
            format!("{}: data-error {error:?}, expected \"turn-unreachable\"", browser.name())
        })?;
        check(browser.attr("retry-button", "id").await?.is_some(), || format!("{}: no #retry-button", browser.name()))?;
        browser.screenshot(&format!("{}-error", browser.name())).await?;
    }
    for (name, took) in gave_up {
        println!("nat_no_path: {name} reached `error` {} ms after the link was opened", took.as_millis());
    }
    Ok(())
}

/// The pre-call check's contract (`/?check`, `data-check`, `data-result`) behind a network that
/// drops UDP.
#[tokio::test]
#[ignore = "needs root, ip netns, nft, Chromium, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn precall_check_behind_a_udp_blocking_nat_fails_udp_and_passes_tcp() {
    let scenario = Scenario {
        mapping: Mapping::EndpointIndependent,
        egress: Egress::NoUdp,
        no_udp_between_homes: false,
        https_on_443: false,
    };
    const NAME: &str = "nat_check_udp_blocked";
    let mut lab = match Lab::start(NAME, &scenario).await {
        Ok(lab) => lab,
        Err(e) => panic!("{NAME}: could not set up the network and servers: {e}"),
    };
    let outcome = precall_check(&mut lab).await;
    lab.finish(NAME, outcome).await;
}

/// `data-result` of the pre-call check's row `data-check=NAME`, or null without the row.
const JS_CHECK_RESULT: &str = "const done = arguments[arguments.length - 1]; \
    const row = document.querySelector('[data-check=\"' + arguments[0] + '\"]'); \
    done(row ? row.getAttribute('data-result') : null);";

async fn precall_check(lab: &mut Lab) -> Result<()> {
    let a = lab.open_browser("a", &HOME_A).await?;
    a.goto(&format!("{}?check", lab.page)).await?;
    // UDP is dropped at the router: no server-reflexive address and no relay over UDP; TCP
    // reaches coturn; this server offers no TURN over TLS.
    let expectations = [("stun", "fail"), ("turn-udp", "fail"), ("turn-tcp", "pass"), ("turn-tls", "skipped")];
    for (check_name, expected) in expectations {
        let what = format!("a: [data-check={check_name}] {expected}");
        poll(&what, CONNECT_LIMIT, Duration::from_millis(200), || async {
            let value = a.js_async_with(JS_CHECK_RESULT, vec![serde_json::json!(check_name)]).await?;
            match value.as_str() {
                Some(result) if result == expected => Ok(Probe::Ready(())),
                Some(result) if result != "running" => {
                    Err(Failure::new(format!("{check_name} ended `{result}`, expected `{expected}`")))
                }
                other => Ok(Probe::NotYet(format!("data-result {other:?}"))),
            }
        })
        .await?;
    }
    a.screenshot("a-check").await?;
    Ok(())
}

/// Everything one case runs: the network (dropped last: it kills the processes and deletes the
/// namespaces), the browsers and where their traces go.
struct Lab {
    network: Network,
    browsers: Vec<Browser>,
    artifacts: PathBuf,
    paths: Paths,
    deploy: DeployPaths,
    /// The page A opens.
    page: String,
    /// Chromium flags beyond the harness's: secure origin, certificate trust.
    extra_args: Vec<String>,
    /// Chromium profiles; removed on drop.
    profiles: tempfile::TempDir,
}

impl Lab {
    async fn start(name: &str, scenario: &Scenario) -> Result<Lab> {
        let paths = Paths::from_env().context("reading the test environment")?;
        let deploy = DeployPaths::from_env().context("reading the test environment")?;
        let artifacts = paths.artifacts.join(name);
        // Logs are appended to: an earlier run's lines must not pass for this run's.
        if artifacts.exists() {
            std::fs::remove_dir_all(&artifacts).context(format!("emptying {}", artifacts.display()))?;
        }
        std::fs::create_dir_all(&artifacts).context(format!("creating {}", artifacts.display()))?;
        let profiles = tempfile::Builder::new().prefix("e2e-nat-profiles-").tempdir().context("creating profiles")?;
        let network = Network::build(scenario, &artifacts)?;
        let mut lab = Lab {
            network,
            browsers: Vec::new(),
            artifacts,
            paths,
            deploy,
            page: String::new(),
            extra_args: Vec::new(),
            profiles,
        };
        lab.start_servers(scenario.https_on_443).await?;
        Ok(lab)
    }

    fn log(&self, name: &str) -> PathBuf {
        self.artifacts.join(format!("{name}.log"))
    }

    /// coturn and the signaling server, and with `tls` nginx in front of both on 443.
    async fn start_servers(&mut self, tls: bool) -> Result<()> {
        let public = self.network.names().public();
        let state = self.profiles.path().join("coturn");
        std::fs::create_dir_all(&state).context("creating coturn's state dir")?;
        let secret = format!("nat-{:x}", std::process::id());
        let certs = if tls {
            Some(TestCerts::generate(&self.artifacts.join("certs"), &[PUBLIC_HOST, TURN_HOST])?)
        } else {
            None
        };

        let mut coturn = vec![
            "turnserver".to_owned(),
            "-c".to_owned(),
            self.deploy.repo.join("turn/turnserver.conf").display().to_string(),
            format!("--listening-ip={PUBLIC_ADDR}"),
            format!("--relay-ip={PUBLIC_ADDR}"),
            format!("--listening-port={TURN_PORT}"),
            // The relay range is the file's (min-port, max-port), as in production: coturn has
            // the public namespace to itself, so nothing else can hold those ports.
            format!("--static-auth-secret={secret}"),
            format!("--realm={REALM}"),
            format!("--userdb={}", state.join("turndb").display()),
            format!("--pidfile={}", state.join("turnserver.pid").display()),
            "--log-file=stdout".to_owned(),
            "--verbose".to_owned(),
        ];
        // turnserver.conf denies every documentation range; the test's own are its internet.
        coturn.extend(allowed_peer_args());
        match &certs {
            // As docker-compose.tls.yml passes them.
            Some(certs) => coturn.extend([
                format!("--tls-listening-port={TURN_TLS_PORT}"),
                format!("--cert={}", certs.fullchain().display()),
                format!("--pkey={}", certs.privkey().display()),
            ]),
            None => coturn.push("--no-tls".to_owned()),
        }
        self.network.spawn(&public, &coturn, &[], &self.log("coturn"))?;

        let mut turn_urls = vec![
            format!("turn:{PUBLIC_ADDR}:{TURN_PORT}?transport=udp"),
            format!("turn:{PUBLIC_ADDR}:{TURN_PORT}?transport=tcp"),
        ];
        if tls {
            turn_urls.push(format!("turns:{TURN_HOST}:443?transport=tcp"));
        }
        let signaling = vec![
            self.paths.signaling_bin.display().to_string(),
            "--listen".to_owned(),
            format!("{PUBLIC_ADDR}:{SIGNALING_PORT}"),
            "--web-root".to_owned(),
            self.paths.dist.display().to_string(),
            "--stun-urls".to_owned(),
            format!("stun:{PUBLIC_ADDR}:{TURN_PORT}"),
            "--turn-urls".to_owned(),
            turn_urls.join(","),
            "--turn-secret".to_owned(),
            secret.clone(),
        ];
        self.network.spawn(
            &public,
            &signaling,
            &[("RUST_LOG", "info,signaling::peers=debug"), ("NO_COLOR", "1")],
            &self.log("signaling"),
        )?;

        let signaling_addr = SocketAddr::from((PUBLIC_ADDR, SIGNALING_PORT));
        self.network.probe(&public, signaling_addr, START_LIMIT).await.context("the signaling server")?;
        self.network.probe(&public, SocketAddr::from((PUBLIC_ADDR, TURN_PORT)), START_LIMIT).await.context("coturn")?;
        match &certs {
            Some(certs) => {
                self.start_nginx(certs, signaling_addr).await?;
                self.page = format!("https://{PUBLIC_HOST}/");
                self.extra_args.push(format!("--ignore-certificate-errors-spki-list={}", certs.spki_list));
                for home in [HOME_A, HOME_B] {
                    let ns = self.network.names().home(&home);
                    self.network.set_hosts(&ns, &[PUBLIC_HOST, TURN_HOST])?;
                }
            }
            None => {
                self.page = format!("http://{signaling_addr}/");
                // Headless Chromium treats only localhost as secure: without this the camera is blocked.
                self.extra_args.push(format!("--unsafely-treat-insecure-origin-as-secure=http://{signaling_addr}"));
            }
        }
        Ok(())
    }

    /// The repository's nginx files with docker-compose.tls.yml's templates, as the web image
    /// renders them, in front of the signaling server and coturn's TLS listener.
    async fn start_nginx(&mut self, certs: &TestCerts, signaling: SocketAddr) -> Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        let prefix = self.profiles.path().join("nginx");
        std::fs::create_dir_all(&prefix).context("creating nginx's prefix")?;
        // Workers run as `nobody` when started by root: they must reach the temp directories.
        for dir in [self.profiles.path(), prefix.as_path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).context("opening nginx's prefix")?;
        }
        let layout = Layout {
            prefix: prefix.clone(),
            dist: self.paths.dist.clone(),
            upstream: signaling,
            port: NGINX_HTTP_PORT,
            ipv6: false,
        };
        let tls = TlsLayout {
            public_host: PUBLIC_HOST.to_owned(),
            turn_host: TURN_HOST.to_owned(),
            certs: certs.dir.clone(),
            turn_tls: SocketAddr::from((PUBLIC_ADDR, TURN_TLS_PORT)),
        };
        stack::nginx::write_config(&self.deploy, &layout, Some(&tls), &self.artifacts.join("nginx"))?;
        let public = self.network.names().public();
        let nginx = |extra: &[&str]| {
            let mut argv = vec!["nginx".to_owned(), "-p".to_owned(), prefix.display().to_string()];
            argv.extend(["-c", "nginx.conf", "-e", "stderr"].map(str::to_owned));
            argv.extend(extra.iter().map(|s| s.to_string()));
            argv
        };
        let test = nginx(&["-t"]);
        let test: Vec<&str> = test.iter().map(String::as_str).collect();
        self.network.output(&public, &test).context("`nginx -t` on the repository's TLS configuration")?;
        self.network.spawn(&public, &nginx(&["-g", "daemon off;"]), &[], &self.log("nginx"))?;
        self.network.probe(&public, SocketAddr::from((PUBLIC_ADDR, NGINX_TLS_PORT)), START_LIMIT).await.context("nginx")
    }

    /// A browser behind home router `home`'s NAT, with its own chromedriver.
    async fn open_browser(&mut self, name: &str, home: &e2e::netns::Home) -> Result<Browser> {
        let ns = self.network.names().home(home);
        let driver = self
            .network
            .chromedriver(&ns, &self.paths.chromedriver, &self.log(&format!("chromedriver-{name}")))
            .await?;
        let profile = self.profiles.path().join(name);
        std::fs::create_dir_all(&profile).context(format!("creating {}", profile.display()))?;
        let mut args = e2e::chromium_args(&profile);
        args.extend(self.extra_args.iter().cloned());
        let browser =
            Browser::open_with_args(name, &driver, &self.paths.chromium, args, self.artifacts.clone()).await?;
        self.browsers.push(browser.clone());
        Ok(browser)
    }

    /// On failure: each page's screenshot, state and console, and the servers' last log lines;
    /// then every session is closed and the network torn down, and the failure becomes a panic.
    async fn finish(mut self, name: &str, outcome: Result<()>) {
        if let Err(failure) = &outcome {
            eprintln!("\n===== {name} FAILED: {failure}\n");
            for browser in &self.browsers {
                browser.dump_diagnostics("failure").await;
            }
            for log in ["signaling", "coturn", "nginx"] {
                let path = self.log(log);
                if path.exists() {
                    stack::print_tail(log, &path);
                }
            }
        }
        for browser in std::mem::take(&mut self.browsers) {
            let _ = browser.close().await;
        }
        self.network.teardown();
        if let Err(failure) = outcome {
            panic!("{name}: {failure} (screenshots and logs in {})", self.artifacts.display());
        }
        println!("{name}: artifacts in {}", self.artifacts.display());
    }
}

/// Sets up `scenario`, places a call from A to B and checks it as `expect` says.
async fn call_case(name: &'static str, scenario: Scenario, expect: Expect) {
    let mut lab = match Lab::start(name, &scenario).await {
        Ok(lab) => lab,
        Err(e) => panic!("{name}: could not set up the network and servers: {e}"),
    };
    let outcome = call(&mut lab, name, &scenario, &expect).await;
    lab.finish(name, outcome).await;
}

async fn call(lab: &mut Lab, name: &str, scenario: &Scenario, expect: &Expect) -> Result<()> {
    network_behaves_as_described(lab, scenario).await?;
    let a = lab.open_browser("a", &HOME_A).await?;
    let b = lab.open_browser("b", &HOME_B).await?;
    a.goto(&lab.page).await?;
    press_start_call(&a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    check(!link.contains("ice=relay"), || format!("the link {link:?} forces the relay; the case must not"))?;

    let opened = Instant::now();
    b.join_by_link(&link, STATE_LIMIT).await?;
    poll("b: first remote frame", CONNECT_LIMIT, Duration::from_millis(50), || b.first_remote_frame()).await?;
    let first_frame = opened.elapsed();
    for browser in [&a, &b] {
        browser.wait_for_state("connected", CONNECT_LIMIT.saturating_sub(opened.elapsed())).await?;
    }
    for browser in [&a, &b] {
        browser.wait_remote_video_playing(MEDIA_LIMIT).await?;
        browser.wait_for_attr("call-stats", "data-path", expect.path, MEDIA_LIMIT).await?;
        browser.wait_frames_advancing(MEDIA_LIMIT).await?;
        browser.screenshot(&format!("{}-connected", browser.name())).await?;
    }
    println!(
        "{name}: link opened → first remote frame {} ms, path {} (link {link})",
        first_frame.as_millis(),
        expect.path
    );
    if let Some(transport) = expect.relay {
        relayed_over(lab, transport)?;
    }
    if scenario.https_on_443 {
        nginx_sees_the_homes(lab)?;
    }
    Ok(())
}

/// Through the stream proxy's PROXY protocol header, nginx's HTTPS server logs each request with
/// the home router's public address, never the proxy's own loopback address; and `/metrics`,
/// allowed from loopback and private networks only, is refused to a client over 443.
fn nginx_sees_the_homes(lab: &Lab) -> Result<()> {
    let log = std::fs::read_to_string(lab.log("nginx")).context("reading nginx's log")?;
    let clients: Vec<&str> =
        log.lines().filter(|line| line.contains("\"GET ")).filter_map(|line| line.split_whitespace().next()).collect();
    let homes = [HOME_A.wan.to_string(), HOME_B.wan.to_string()];
    check(!clients.is_empty() && clients.iter().all(|client| homes.iter().any(|home| home == client)), || {
        format!("nginx logged requests from {clients:?}, expected only the homes {homes:?}")
    })?;
    for home in &homes {
        check(clients.contains(&home.as_str()), || format!("nginx logged no request from {home}"))?;
    }
    // So the loopback-only /metrics rule holds for HTTPS clients too, while /healthz answers.
    let ns = lab.network.names().home(&HOME_A);
    let ca = lab.artifacts.join("certs/ca.pem").display().to_string();
    for (path, expected) in [("/metrics", "403"), ("/healthz", "200")] {
        let url = format!("https://{PUBLIC_HOST}{path}");
        let argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--cacert", &ca, &url];
        let status = lab.network.output(&ns, &argv)?;
        check(status == expected, || format!("GET {url} from home A answered {status}, expected {expected}"))?;
    }
    Ok(())
}

/// Before any browser: the routers let through what the scenario says and nothing more, seen
/// from each home with a plain TCP connect.
async fn network_behaves_as_described(lab: &Lab, scenario: &Scenario) -> Result<()> {
    let signaling = SocketAddr::from((PUBLIC_ADDR, SIGNALING_PORT));
    let turn_tcp = SocketAddr::from((PUBLIC_ADDR, TURN_PORT));
    for home in [HOME_A, HOME_B] {
        let ns = lab.network.names().home(&home);
        match &scenario.egress {
            // Not coturn: a probe's TCP connection there would pass for a browser's in its log.
            Egress::Everything | Egress::NoUdp => lab.network.probe(&ns, signaling, START_LIMIT).await?,
            Egress::TcpPorts(ports) => {
                for port in ports {
                    lab.network.probe(&ns, SocketAddr::from((PUBLIC_ADDR, *port)), START_LIMIT).await?;
                }
                if !ports.contains(&TURN_PORT) {
                    lab.network.unreachable(&ns, turn_tcp, BLOCKED_PROBE).await?;
                }
            }
        }
    }
    Ok(())
}

/// coturn allocated a relay for both people the signaling server seated, reached over `transport`.
fn relayed_over(lab: &Lab, transport: Transport) -> Result<()> {
    let coturn = std::fs::read_to_string(lab.log("coturn")).context("reading coturn's log")?;
    let signaling = std::fs::read_to_string(lab.log("signaling")).context("reading the signaling log")?;
    let peers = e2e::deploy::joined_peers(&signaling);
    check(peers.len() >= 2, || format!("the signaling server seated {peers:?}, not two people"))?;
    for peer in &peers {
        // TURN REST usernames are `<expiry>:<peer id>` (see signaling/src/ice.rs).
        let allocations: Vec<&str> = coturn
            .lines()
            .filter(|line| line.contains(": new, realm=<") && line.contains(&format!(":{peer}>")))
            .collect();
        check(!allocations.is_empty(), || format!("coturn allocated nothing for {peer}"))?;
        if transport == Transport::Tls {
            check(allocations.iter().any(|line| line.contains("method=TLS")), || {
                format!("no TLS allocation for {peer}: {allocations:#?}")
            })?;
        }
    }
    if transport == Transport::Tcp {
        for home in [HOME_A, HOME_B] {
            let ns = lab.network.names().router(&home);
            let listing = lab.network.output(&ns, &["nft", "list", "ruleset"])?;
            let dropped = e2e::netns::dropped_udp_packets(&listing);
            check(dropped.is_some_and(|n| n > 0), || {
                format!("{ns} dropped no UDP ({dropped:?}): did the browser try?")
            })?;
            let connected = format!("tcp or tls connected to: {}:", home.wan);
            check(coturn.contains(&connected), || format!("no TCP connection to coturn from {}", home.wan))?;
        }
    }
    Ok(())
}
