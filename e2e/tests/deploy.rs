//! The deployment files, proven natively (there is no Docker engine in CI): Debian's nginx runs
//! the repository's nginx configuration in front of the signaling server, Debian's coturn runs the
//! repository's `turn/turnserver.conf`, and two headless Chromium peers call each other through
//! both with `ice=relay`, so the media can only flow through coturn with the signaling server's
//! credentials. Only addresses, ports and paths differ from the containers (see `e2e::nginx` and
//! `e2e::coturn`).
//!
//! Ignored by plain `cargo test`, like `call.rs`: the `browser` step of `cargo xtask test` runs them
//! in a loopback-only network namespace with `CONNECT_CSP_SNIPPET` set.

// Shared with call.rs; these scenarios use only part of it.
#[allow(dead_code)]
mod harness;
mod stack;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harness::server::Signaling;
use harness::{check, poll, Browser, Context as _, Failure, Probe, Result, Stage};
use stack::coturn::{run_secret, Coturn, Ports};
use stack::nginx::Nginx;
use stack::{environment, print_tail, report, request, tail};

use e2e::coturn::{accepted, allocations, forbidden, split_username, unauthorized, usage};
use e2e::deploy::{asset_path, csp_directive, joined_peers, permissions_policy, DeployPaths};
use e2e::http::{has_directive, max_age, Response};
use e2e::Paths;
use shared::PeerId;
use signaling::ice::IceConfig;

/// A state change driven by signaling on loopback: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);
/// Media checks once the call is up.
const MEDIA_LIMIT: Duration = Duration::from_secs(10);
/// "Cache for a long time": hashed assets must be cacheable for at least 30 days.
const LONG_MAX_AGE: u64 = 30 * 24 * 3600;
/// The signaling server's default `--turn-ttl-secs`, which the relayed call runs with.
const TURN_TTL: u64 = signaling::ice::DEFAULT_TURN_TTL.as_secs();
/// Media each peer's allocation must have relayed, each way, by the time the call ends: the fake
/// camera's video over the few seconds of checks is hundreds of kilobytes, while ICE checks and
/// keepalives alone stay at a few hundred bytes.
const MIN_RELAYED_BYTES: u64 = 50_000;
/// coturn logs an allocation's traffic when the browser releases it after hanging up.
const RELEASE_LIMIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// nginx, without a browser

/// The repository's nginx config in front of the signaling server: the page and its assets with
/// the security and caching headers the deployment promises, and the proxied endpoints.
#[tokio::test]
#[ignore = "needs nginx and a built dist/: run by `cargo xtask test` (browser step)"]
async fn nginx_serves_the_client_with_its_headers_and_proxies_signaling() {
    const NAME: &str = "nginx_headers";
    let (paths, deploy, artifacts) = environment(NAME);
    let mut logs = Vec::new();
    let outcome = async {
        let server = Signaling::start(&paths, NAME, Vec::new()).await?;
        logs.push(server.log_path().to_path_buf());
        let nginx = Nginx::start(&deploy, &paths.dist, server.addr(), &artifacts).await?;
        logs.push(nginx.log_path().to_path_buf());
        nginx_checks(&nginx).await?;
        stored_encodings(&nginx, &paths.dist).await
    }
    .await;
    report(NAME, outcome, &logs, &artifacts);
}

async fn nginx_checks(nginx: &Nginx) -> Result<()> {
    let addr = nginx.addr();
    let page = request(addr, "/", &[]).await?;
    let html = String::from_utf8_lossy(&page.body).into_owned();
    check(page.status == 200 && html.contains("id=\"start-call\""), || {
        format!("GET / answered {} without the client's page", page.status)
    })?;
    check(page.header("server").as_deref() == Some("nginx"), || {
        format!("Server: {:?} shows a version", page.header("server"))
    })?;
    page_headers("/", &page)?;
    page_headers("/index.html", &request(addr, "/index.html", &[]).await?)?;

    let wasm = asset_path(&html, ".wasm").ok_or_else(|| Failure::new("index.html references no .wasm"))?;
    let plain = request(addr, &wasm, &[]).await?;
    let body = plain.decoded_body().unwrap_or_default();
    check(plain.status == 200 && body.starts_with(b"\0asm"), || {
        format!("GET {wasm}: {}, not WebAssembly", plain.status)
    })?;
    expect_header(&wasm, &plain, "content-type", |v| v == "application/wasm")?;
    immutable(&wasm, &plain)?;
    let gzipped = request(addr, &wasm, &[("Accept-Encoding", "gzip")]).await?;
    expect_header(&wasm, &gzipped, "content-encoding", |v| v == "gzip")?;
    expect_header(&wasm, &gzipped, "vary", |v| has_directive(v, "accept-encoding"))?;
    let compressed = gzipped.decoded_body().ok_or_else(|| Failure::new(format!("{wasm}: malformed chunks")))?;
    check(compressed.starts_with(&[0x1f, 0x8b]) && compressed.len() < body.len(), || {
        format!("{wasm} with gzip: {} bytes, not a smaller gzip stream than {}", compressed.len(), body.len())
    })?;
    println!("{wasm}: {} bytes, {} gzipped", body.len(), compressed.len());

    let script = asset_path(&html, ".js").ok_or_else(|| Failure::new("index.html references no .js"))?;
    let js = request(addr, &script, &[]).await?;
    expect_header(&script, &js, "content-type", |v| v.contains("javascript"))?;
    immutable(&script, &js)?;

    let health = request(addr, "/healthz", &[]).await?;
    check(health.status == 200, || format!("GET /healthz through nginx answered {}", health.status))?;
    let mut metrics_from = vec![addr];
    metrics_from.extend(nginx.ipv6_addr());
    for from in metrics_from {
        // Loopback: allowed by nginx.conf's `geo $metrics_allowed`, and by the server.
        let metrics = request(from, "/metrics", &[]).await?;
        let text = String::from_utf8_lossy(&metrics.body);
        check(metrics.status == 200 && text.contains("signaling_connections_total"), || {
            format!("GET /metrics via {from} answered {}: {text:.200}", metrics.status)
        })?;
    }
    websocket_through_nginx(addr).await?;

    let missing = request(addr, "/no-such-file", &[]).await?;
    check(missing.status == 404, || format!("GET /no-such-file answered {}", missing.status))?;
    expect_header("/no-such-file", &missing, "x-content-type-options", |v| v == "nosniff")
}

/// nginx sends the encodings `cargo xtask web` stored — brotli to a browser that takes it, gzip
/// to one that takes only gzip — byte for byte the same as the built-in server sends, with the
/// file's own type, and never a stored file by its own name.
async fn stored_encodings(nginx: &Nginx, dist: &Path) -> Result<()> {
    let addr = nginx.addr();
    let html = String::from_utf8_lossy(&request(addr, "/", &[]).await?.body).into_owned();
    let wasm = asset_path(&html, ".wasm").ok_or_else(|| Failure::new("index.html references no .wasm"))?;
    let script = asset_path(&html, ".js").ok_or_else(|| Failure::new("index.html references no .js"))?;
    for (path, file) in [
        ("/", "index.html"),
        (wasm.as_str(), wasm.trim_start_matches('/')),
        (script.as_str(), script.trim_start_matches('/')),
    ] {
        let plain = request(addr, path, &[]).await?;
        let content_type = plain.header("content-type").unwrap_or_default();
        check(plain.header("content-encoding").is_none(), || format!("{path}: encoded without Accept-Encoding"))?;
        // What Chromium and Firefox send; then a client that takes gzip only.
        for (accept, coding, suffix) in [("gzip, deflate, br, zstd", "br", "br"), ("gzip, deflate", "gzip", "gz")] {
            let stored_path = dist.join(format!("{file}.{suffix}"));
            let stored = std::fs::read(&stored_path).context(format!("reading {}", stored_path.display()))?;
            let response = request(addr, path, &[("Accept-Encoding", accept)]).await?;
            expect_header(path, &response, "content-encoding", |v| v == coding)?;
            expect_header(path, &response, "vary", |v| has_directive(v, "accept-encoding"))?;
            expect_header(path, &response, "content-type", |v| v == content_type)?;
            let body = response.decoded_body().ok_or_else(|| Failure::new(format!("{path}: malformed chunks")))?;
            check(body == stored, || {
                format!(
                    "{path}: nginx sent {} {coding} bytes, not the stored {} ({})",
                    body.len(),
                    stored.len(),
                    stored_path.display()
                )
            })?;
            let by_name = request(addr, &format!("/{file}.{suffix}"), &[]).await?;
            check(by_name.status == 404, || format!("GET /{file}.{suffix} answered {}", by_name.status))?;
            println!("{path} ({content_type}): nginx sends the stored {coding} encoding ({} bytes)", stored.len());
        }
    }
    Ok(())
}

/// The page's headers: a CSP that allows WebAssembly and the inline loader by hash only, camera,
/// microphone and screen capture for this origin only, and revalidation on every load.
fn page_headers(path: &str, page: &Response) -> Result<()> {
    let policy = page.header("content-security-policy").unwrap_or_default();
    let scripts = csp_directive(&policy, "script-src").unwrap_or_default();
    check(scripts.contains(&"'wasm-unsafe-eval'") && scripts.iter().any(|s| s.starts_with("'sha256-")), || {
        format!("{path}: script-src {scripts:?} lacks 'wasm-unsafe-eval' or a sha256 source (CSP {policy:?})")
    })?;
    check(!policy.contains("'unsafe-inline'") && !policy.contains("'unsafe-eval'"), || {
        format!("{path}: the CSP allows unsafe code: {policy:?}")
    })?;
    let permissions = page.header("permissions-policy").unwrap_or_default();
    for feature in ["camera", "microphone", "display-capture"] {
        check(permissions_policy(&permissions, feature) == Some("(self)"), || {
            format!("{path}: Permissions-Policy {permissions:?} does not give {feature} to this origin")
        })?;
    }
    expect_header(path, page, "cache-control", |v| has_directive(v, "no-cache"))?;
    expect_header(path, page, "x-content-type-options", |v| v == "nosniff")?;
    expect_header(path, page, "x-frame-options", |v| v == "DENY")
}

/// A content-hashed asset: cached for a long time and never revalidated.
fn immutable(path: &str, response: &Response) -> Result<()> {
    expect_header(path, response, "cache-control", |v| {
        has_directive(v, "immutable") && max_age(v).is_some_and(|age| age >= LONG_MAX_AGE)
    })
}

fn expect_header(path: &str, response: &Response, name: &str, ok: impl Fn(&str) -> bool) -> Result<()> {
    let value = response.header(name);
    check(value.as_deref().is_some_and(ok), || format!("{path}: unexpected {name}: {value:?}"))
}

/// The upgrade through `location = /ws`, with the key and accept value of RFC 6455 §1.3; without
/// an upgrade the signaling server's own 426 comes back, so the proxying is nginx's, not a 404.
async fn websocket_through_nginx(addr: std::net::SocketAddr) -> Result<()> {
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    let switched = request(addr, "/ws", &upgrade).await?;
    check(switched.status == 101, || format!("the WebSocket upgrade through nginx answered {}", switched.status))?;
    expect_header("/ws", &switched, "sec-websocket-accept", |v| v == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")?;
    let plain = request(addr, "/ws", &[]).await?;
    check(plain.status == 426, || format!("GET /ws without an upgrade answered {}", plain.status))
}

// ---------------------------------------------------------------------------------------------
// coturn, without a browser

/// coturn with the repository's file accepts exactly the credentials the signaling server issues
/// (the same code, `IceConfig::servers_for`), refuses wrong and expired ones, and relays to no
/// address of the file's denied ranges other than the one loopback address the test allows back.
#[tokio::test]
#[ignore = "needs coturn: run by `cargo xtask test` (browser step)"]
async fn coturn_accepts_signaling_credentials_and_refuses_others() {
    const NAME: &str = "coturn_credentials";
    let (_paths, deploy, artifacts) = environment(NAME);
    let mut logs = Vec::new();
    let outcome = async {
        let ports = Ports::pick()?;
        let secret = run_secret();
        let coturn = Coturn::start(&deploy.repo, &ports, &secret, &artifacts).await?;
        logs.push(coturn.log_path().to_path_buf());
        coturn_checks(&coturn, &secret).await
    }
    .await;
    report(NAME, outcome, &logs, &artifacts);
}

/// One join's credentials cannot hold more relay ports than the file's `user-quota`, however many
/// allocations they ask for and however they are re-issued (another expiry, the same peer id):
/// coturn answers the rest 486 Allocation Quota Reached, and another caller still gets a relay.
#[tokio::test]
#[ignore = "needs coturn: run by `cargo xtask test` (browser step)"]
async fn coturn_holds_one_peer_to_its_quota_and_still_serves_others() {
    const NAME: &str = "coturn_quota";
    let (_paths, deploy, artifacts) = environment(NAME);
    let mut logs = Vec::new();
    let outcome = async {
        let conf =
            std::fs::read_to_string(deploy.repo.join("turn/turnserver.conf")).context("reading turnserver.conf")?;
        let quota = conf_value(&conf, "user-quota")
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| Failure::new("turn/turnserver.conf sets no numeric user-quota"))?;
        let ports = Ports::pick()?;
        let secret = run_secret();
        let coturn = Coturn::start(&deploy.repo, &ports, &secret, &artifacts).await?;
        logs.push(coturn.log_path().to_path_buf());
        quota_checks(&coturn, &secret, quota).await
    }
    .await;
    report(NAME, outcome, &logs, &artifacts);
}

async fn quota_checks(coturn: &Coturn, secret: &str, quota: usize) -> Result<()> {
    let now = SystemTime::now();
    // -y: two allocations per client; -c: no RTCP ones; -m: clients. Twice the quota in all.
    let clients = quota.to_string();
    let (user, password) = credentials(coturn, secret, "hoarder", now)?;
    let (_, output) = coturn
        .uclient("uclient-hoarder", &["-y", "-c", "-m", &clients, "-n", "1", "-u", &user, "-w", &password])
        .await?;
    // The same peer id with a later expiry: what asking the signaling server again would give.
    let (again, again_password) = credentials(coturn, secret, "hoarder", now + Duration::from_secs(60))?;
    let (_, _) =
        coturn.uclient("uclient-hoarder-again", &["-y", "-c", "-n", "1", "-u", &again, "-w", &again_password]).await?;
    let log = coturn.log()?;
    let granted = allocations(&log).iter().filter(|u| u.ends_with(":hoarder")).count();
    let refused = quota_refusals(&log, &user) + quota_refusals(&log, &again);
    println!("hoarder: {granted} allocations granted, {refused} refused with 486 (quota {quota})");
    check(granted > 0 && granted <= quota, || {
        format!("one peer id got {granted} allocations; the quota is {quota}:\n{}", tail(&output, 10))
    })?;
    check(refused > 0, || format!("coturn refused none of {user}'s allocations beyond the quota with 486"))?;

    let (user, password) = credentials(coturn, secret, "bystander", now)?;
    let (ok, output) = coturn.uclient("uclient-bystander", &["-y", "-n", "1", "-u", &user, "-w", &password]).await?;
    let log = coturn.log()?;
    check(ok && allocations(&log).contains(&user), || {
        format!("a caller with fresh credentials got no relay after the hoarder:\n{}", tail(&output, 10))
    })
}

/// Requests of `username` coturn refused because of a quota (`486 Allocation Quota Reached`).
fn quota_refusals(log: &str, username: &str) -> usize {
    let needle = format!("user <{username}>: incoming packet ALLOCATE processed, error 486");
    log.lines().filter(|line| line.contains(&needle)).count()
}

/// The value of `key=value` in a coturn configuration file, ignoring comments.
fn conf_value<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
    conf.lines().filter(|line| !line.trim_start().starts_with('#')).find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim())
    })
}

async fn coturn_checks(coturn: &Coturn, secret: &str) -> Result<()> {
    let now = SystemTime::now();
    let (user, password) = credentials(coturn, secret, "uclient-good", now)?;
    let (ok, output) = coturn.uclient("uclient-good", &["-y", "-n", "5", "-u", &user, "-w", &password]).await?;
    let log = coturn.log()?;
    check(ok && allocations(&log).contains(&user), || {
        format!("turnutils_uclient with the signaling server's credentials failed:\n{}", tail(&output, 10))
    })?;
    check(accepted(&log, &user, "CHANNEL_BIND") > 0, || format!("no channel bound for {user}"))?;
    println!("coturn relayed for {user}: {}", tail(&output, 4).replace('\n', " | "));

    let (user, _) = credentials(coturn, secret, "uclient-wrong-password", now)?;
    unauthorized_client(coturn, "uclient-wrong-password", &user, "not-the-credential").await?;
    let two_days_ago = now - Duration::from_secs(2 * TURN_TTL);
    let (user, password) = credentials(coturn, secret, "uclient-expired", two_days_ago)?;
    unauthorized_client(coturn, "uclient-expired", &user, &password).await?;

    // turnserver.conf's denied-peer-ip: a private network, and loopback beyond the test's 127.0.0.1.
    for (name, peer) in [("uclient-private-peer", "10.1.2.3"), ("uclient-loopback-peer", "127.0.0.2")] {
        let (user, password) = credentials(coturn, secret, name, now)?;
        let (ok, _) =
            coturn.uclient(name, &["-n", "1", "-e", peer, "-r", "3480", "-u", &user, "-w", &password]).await?;
        let log = coturn.log()?;
        let refusals = forbidden(&log).into_iter().filter(|line| line.contains(&user)).count();
        check(!ok && refusals > 0, || format!("a relay to {peer} was not refused with 403 (uclient ok: {ok})"))?;
    }
    Ok(())
}

/// The TURN username and credential the signaling server would hand peer `id` at `now`.
fn credentials(coturn: &Coturn, secret: &str, id: &str, now: SystemTime) -> Result<(String, String)> {
    let ice = IceConfig {
        stun_urls: Vec::new(),
        turn_urls: vec![format!("turn:127.0.0.1:{}?transport=udp", coturn.port())],
        turn_secret: Some(secret.to_owned()),
        turn_ttl: Duration::from_secs(TURN_TTL),
    };
    let servers = ice.servers_for(&PeerId::new(id), now);
    servers
        .into_iter()
        .find_map(|server| Some((server.username?, server.credential?)))
        .ok_or_else(|| Failure::new("IceConfig issued no TURN credentials"))
}

/// coturn turns `user` with `password` down as 401 Unauthorized and allocates nothing for it.
async fn unauthorized_client(coturn: &Coturn, name: &str, user: &str, password: &str) -> Result<()> {
    let (ok, output) = coturn.uclient(name, &["-y", "-n", "1", "-u", user, "-w", password]).await?;
    let log = coturn.log()?;
    let granted = allocations(&log).iter().any(|u| u == user);
    check(!ok && !granted && unauthorized(&log, user) > 0, || {
        format!(
            "{name}: coturn did not refuse {user} with 401 (uclient ok: {ok}, allocated: {granted}):\n{}",
            tail(&output, 10)
        )
    })
}

// ---------------------------------------------------------------------------------------------
// The relayed call

/// The deployment end to end: the page from nginx, signaling through nginx's `/ws`, and media
/// only through coturn (`ice=relay`), with the signaling server's TURN credentials.
#[tokio::test]
#[ignore = "needs Chromium, nginx, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn relayed_call_through_nginx_and_coturn() {
    const NAME: &str = "relayed_call";
    let ports = Ports::pick().unwrap_or_else(|e| panic!("{NAME}: {e}"));
    let secret = run_secret();
    let mut stage = Stage::start_with(NAME, ports.signaling_args(&secret)).await;
    let (stack, outcome) = match Stack::start(&stage, &ports, &secret).await {
        Ok(stack) => {
            let outcome = relayed_call(&mut stage, &stack).await;
            (Some(stack), outcome)
        }
        Err(e) => (None, Err(e)),
    };
    if let (Err(_), Some(stack)) = (&outcome, &stack) {
        print_tail("coturn", stack.coturn.log_path());
        print_tail("nginx", stack.nginx.log_path());
    }
    stage.finish(outcome).await;
}

/// coturn and nginx of one test, alive until the browsers are closed.
struct Stack {
    coturn: Coturn,
    nginx: Nginx,
}

impl Stack {
    async fn start(stage: &Stage, ports: &Ports, secret: &str) -> Result<Stack> {
        let paths = Paths::from_env().context("reading the test environment")?;
        let deploy = DeployPaths::from_env().context("reading the test environment")?;
        let artifacts = stage.artifacts_dir();
        let coturn = Coturn::start(&deploy.repo, ports, secret, &artifacts).await?;
        let nginx = Nginx::start(&deploy, &paths.dist, stage.server.addr(), &artifacts).await?;
        Ok(Stack { coturn, nginx })
    }
}

async fn relayed_call(stage: &mut Stage, stack: &Stack) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    let page = format!("{}?ice=relay", stack.nginx.base_url());
    let link = start_call(&a, &page).await?;
    check(link.starts_with(&stack.nginx.base_url()) && link.contains("ice=relay"), || {
        format!("#call-link {link:?} does not keep nginx's origin and ice=relay")
    })?;

    let opened = Instant::now();
    b.join_by_link(&link, STATE_LIMIT).await?;
    poll("b: first remote frame", STATE_LIMIT, Duration::from_millis(50), || b.first_remote_frame()).await?;
    let first_frame = opened.elapsed();
    for browser in [&a, &b] {
        browser.wait_for_state("connected", STATE_LIMIT).await?;
    }
    let connected = opened.elapsed();
    for browser in [&a, &b] {
        browser.wait_remote_video_playing(MEDIA_LIMIT).await?;
        // The client's reading of getStats: a relay candidate on the selected pair.
        browser.wait_for_attr("call-stats", "data-path", "relay", MEDIA_LIMIT).await?;
        browser.wait_frames_advancing(MEDIA_LIMIT).await?;
        let sample = browser.check_remote_video_size().await?;
        let rtt = browser.attr("call-stats", "data-rtt-ms").await?;
        println!(
            "{}: connected via relay, remote video {}x{}, rtt {rtt:?} ms",
            browser.name(),
            sample.width,
            sample.height
        );
        browser.screenshot(&format!("{}-relay", browser.name())).await?;
    }
    println!(
        "relayed call: link opened → first remote frame {} ms, → both connected {} ms",
        first_frame.as_millis(),
        connected.as_millis()
    );
    for browser in [&a, &b] {
        no_policy_violations(browser, &stage.artifacts_dir()).await?;
    }
    let users = allocations_of_joined_peers(stage, &stack.coturn)?;

    a.click("hang-up").await?;
    b.wait_for_state("peer-left", STATE_LIMIT).await?;
    relayed_bytes(&stack.coturn, &users).await
}

/// A opens `page` and starts a call; returns the link to share once A waits.
async fn start_call(a: &Browser, page: &str) -> Result<String> {
    a.goto(page).await?;
    // The button does something only once the client's wasm has loaded: click until the state moves.
    poll("a: #start-call starts a call", STATE_LIMIT, Duration::from_millis(300), || async {
        let state = a.state().await?;
        if state != "idle" {
            return Ok(Probe::Ready(()));
        }
        a.click("start-call").await?;
        Ok(Probe::NotYet(format!("state `{state}`, status {:?}", a.status_text().await?)))
    })
    .await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    a.call_link(STATE_LIMIT).await
}

/// The page ran under nginx's headers without the browser refusing anything (a blocked wasm
/// compile, inline script or WebSocket shows up as a console message).
async fn no_policy_violations(browser: &Browser, artifacts: &Path) -> Result<()> {
    let console = browser.console_log().await?;
    let path = artifacts.join(format!("{}-console.log", browser.name()));
    std::fs::write(&path, console.join("\n")).context(format!("writing {}", path.display()))?;
    let refused: Vec<&String> = console
        .iter()
        .filter(|line| {
            line.contains("Content Security Policy")
                || line.contains("Refused to")
                || line.contains("Permissions policy")
        })
        .collect();
    check(refused.is_empty(), || format!("{}: the browser refused something: {refused:#?}", browser.name()))
}

/// Both peers the signaling server seated got a TURN allocation under the username it issued
/// them (`<expiry>:<peer id>`, expiring one TTL from now) and a permission towards the other.
fn allocations_of_joined_peers(stage: &Stage, coturn: &Coturn) -> Result<Vec<String>> {
    let server_log = std::fs::read_to_string(stage.server.log_path()).context("reading the signaling log")?;
    let peers = joined_peers(&server_log);
    check(peers.len() == 2, || format!("the signaling server seated {peers:?}, not two peers"))?;
    let log = coturn.log()?;
    let granted = allocations(&log);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut users = Vec::new();
    for peer in &peers {
        let user = granted
            .iter()
            .find(|user| split_username(user).is_some_and(|(_, id)| id == peer))
            .ok_or_else(|| Failure::new(format!("coturn allocated nothing for peer {peer}; it did for {granted:?}")))?;
        let (expiry, _) = split_username(user).unwrap_or_default();
        check(expiry > now + TURN_TTL - 120 && expiry <= now + TURN_TTL, || {
            format!("{user}: expiry {expiry} is not one TTL ({TURN_TTL} s) after now ({now})")
        })?;
        check(accepted(&log, user, "CREATE_PERMISSION") > 0, || format!("coturn gave {user} no permission"))?;
        users.push(user.clone());
    }
    let refusals = forbidden(&log);
    check(refusals.is_empty(), || format!("coturn refused peers: {refusals:#?}"))?;
    println!("coturn allocations for the joined peers: {users:?}");
    Ok(users)
}

/// After hanging up, coturn logs each released allocation's traffic with its peer: the media,
/// both ways, for each user.
async fn relayed_bytes(coturn: &Coturn, users: &[String]) -> Result<()> {
    let relayed = poll("coturn logs the relayed media", RELEASE_LIMIT, Duration::from_millis(250), || async {
        let log = usage(&coturn.log()?);
        let per_user: Vec<(&String, u64, u64)> = users
            .iter()
            .map(|user| {
                let mine = log.iter().filter(|u| u.peer && &u.username == user);
                let (received, sent) = mine.fold((0, 0), |(r, s), u| (r + u.received_bytes, s + u.sent_bytes));
                (user, received, sent)
            })
            .collect();
        if per_user.iter().all(|&(_, received, sent)| received.min(sent) >= MIN_RELAYED_BYTES) {
            Ok(Probe::Ready(per_user.iter().map(|&(u, r, s)| (u.clone(), r, s)).collect::<Vec<_>>()))
        } else {
            Ok(Probe::NotYet(format!("(user, bytes from the peer, bytes to it) so far: {per_user:?}")))
        }
    })
    .await?;
    for (user, received, sent) in relayed {
        println!("coturn relayed for {user}: {received} bytes from the peer, {sent} bytes to it");
    }
    Ok(())
}
