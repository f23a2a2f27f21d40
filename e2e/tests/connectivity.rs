//! When no media path exists both pages say so, with the reason, within the deadline; the page
//! that gives up tells the other (`connect_failed`); and the pre-call check (`/?check`) shows
//! each transport's result. Headless Chromium on loopback, like `call.rs`.
//!
//! Making a direct path impossible on loopback: both pages use `?ice=relay` (relay candidates
//! only), and the only relay configured is a TURN URL on a port where nothing listens, over UDP
//! and TCP. No candidate can be gathered, so the attempt fails exactly as behind a network
//! that blocks everything but the signaling server. (The NAT cases live in `nat.rs`.)

#[allow(dead_code, reason = "each test binary compiles the whole harness; this one uses part of it")]
mod harness;
#[allow(dead_code, reason = "each test binary compiles the whole stack; this one uses part of it")]
mod stack;

use std::cell::Cell;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use harness::{check, poll, press_start_call, start_waiting, Browser, Context as _, Failure, Probe, Result, Stage};
use serde_json::{json, Value};
use shared::{ClientMessage, FailureReason, PeerId, RoomId, ServerMessage, Signal};
use stack::coturn::{run_secret, Coturn, Ports};
use stack::nginx::Nginx;
use tokio_tungstenite::tungstenite::Message;

use e2e::deploy::DeployPaths;
use e2e::Paths;

/// A state change driven by signaling on loopback: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);
/// Bound on waiting for `error`: twice the 30 s the client promises, so a slow CI machine
/// still passes and the printed time shows how close to the promise it was.
const FAILURE_LIMIT: Duration = Duration::from_secs(60);
/// The check's rows: each ICE probe gives up after 10 s.
const CHECK_LIMIT: Duration = Duration::from_secs(30);

/// The rows and results of the check page, as `[[data-check, data-result, data-ms, hint], …]`.
const JS_CHECK_ROWS: &str = "const done = arguments[arguments.length - 1]; \
    done([...document.querySelectorAll('#check-rows [data-check]')].map(e => [e.dataset.check, \
      e.dataset.result, e.dataset.ms || '', (e.querySelector('.check-hint') || {}).textContent || '']));";

/// Whether the error screen keeps the preview (a live camera stream, shown) and the link, and
/// offers a visible Try again.
const JS_ERROR_SCREEN: &str = "const done = arguments[arguments.length - 1]; \
    const shown = id => { const e = document.getElementById(id); return !!e && e.offsetWidth > 0 && e.offsetHeight > 0; }; \
    const v = document.getElementById('local-video'); \
    done({preview: shown('local-video') && !!v.srcObject && v.srcObject.getVideoTracks().some(t => t.readyState === 'live'), \
      link: shown('call-link') ? document.getElementById('call-link').value : '', \
      retry: shown('retry-button') ? document.getElementById('retry-button').textContent.trim() : '', \
      details: (document.getElementById('error-details-text') || {}).textContent || '', \
      message: (document.getElementById('message') || {}).textContent || ''});";

/// Opens the error screen's "Details for support" disclosure.
const JS_OPEN_DETAILS: &str = "const done = arguments[arguments.length - 1]; \
    const d = document.getElementById('error-details'); if (d) { d.open = true; } done(!!d);";

/// `<body data-error>`, or null.
const JS_DATA_ERROR: &str =
    "const done = arguments[arguments.length - 1]; done(document.body.getAttribute('data-error'));";

/// `#mic-level`'s value.
const JS_MIC_LEVEL: &str =
    "const done = arguments[arguments.length - 1]; const m = document.getElementById('mic-level'); done(m ? m.value : null);";

/// A loopback port with nothing listening on it over UDP or TCP (bound, then released).
fn dead_port() -> Result<u16> {
    (0..20)
        .find_map(|_| {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
            let port = udp.local_addr().ok()?.port();
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).ok().map(|_| port)
        })
        .ok_or_else(|| Failure::new("no loopback port free for both UDP and TCP"))
}

async fn data_error(browser: &Browser) -> Result<Option<String>> {
    Ok(browser.js_async(JS_DATA_ERROR).await?.as_str().map(str::to_owned))
}

/// The server's shortest credential lifetime (`--turn-ttl-secs` accepts 60 and up).
const SHORT_TTL_SECS: u64 = 60;
/// The page renews at 3/4 of the lifetime (45 s); generous for a loaded machine.
const RENEWAL_LIMIT: Duration = Duration::from_secs(90);

/// With short TURN credentials, both pages of a connected call ask for fresh ICE servers
/// before the credentials expire (`data-ice-renewals` counts the answers), hand them to the
/// running RTCPeerConnection, and the call carries on.
#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_page_renews_its_turn_credentials_before_they_expire() {
    let port = dead_port().unwrap_or_else(|e| panic!("{e}"));
    let args = vec![
        "--turn-urls".to_owned(),
        format!("turn:127.0.0.1:{port}?transport=udp"),
        "--turn-secret".to_owned(),
        "e2e-renewal".to_owned(),
        "--turn-ttl-secs".to_owned(),
        SHORT_TTL_SECS.to_string(),
    ];
    let mut stage = Stage::start_with("ice_renewal", args).await;
    let outcome = renewal(&mut stage).await;
    stage.finish(outcome).await;
}

async fn renewal(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    a.goto(&stage.server.base_url()).await?;
    press_start_call(&a, STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    for browser in [&a, &b] {
        browser.wait_for_state("connected", STATE_LIMIT).await?;
        let before = browser.attr_of_body("data-ice-renewals").await?;
        check(before.is_none(), || format!("{}: renewed at once ({before:?})", browser.name()))?;
    }
    let started = Instant::now();
    poll("both pages renew their ICE servers", RENEWAL_LIMIT, Duration::from_millis(500), || async {
        let counts = (a.attr_of_body("data-ice-renewals").await?, b.attr_of_body("data-ice-renewals").await?);
        match counts {
            (Some(_), Some(_)) => Ok(Probe::Ready(())),
            other => Ok(Probe::NotYet(format!("data-ice-renewals {other:?}"))),
        }
    })
    .await?;
    println!(
        "both pages renewed {:.0} s after connecting (lifetime {SHORT_TTL_SECS} s)",
        started.elapsed().as_secs_f64()
    );
    for browser in [&a, &b] {
        let errors: Vec<String> =
            browser.console_log().await?.into_iter().filter(|l| l.contains("cannot renew")).collect();
        check(errors.is_empty(), || format!("{}: {errors:?}", browser.name()))?;
        check(browser.state().await? == "connected", || format!("{}: the call did not carry on", browser.name()))?;
        browser.wait_frames_advancing(STATE_LIMIT).await?;
        browser.screenshot("renewed").await?;
    }
    Ok(())
}

/// Both pages of a call whose only relay is dead end in `error` with `turn-unreachable`, each
/// within the deadline (the times are printed), keep the preview and the link, offer Try again,
/// and Try again starts a fresh attempt on both pages.
#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn with_no_possible_path_both_pages_show_the_reason_within_the_deadline() {
    let port = dead_port().unwrap_or_else(|e| panic!("{e}"));
    let args = vec![
        "--turn-urls".to_owned(),
        format!("turn:127.0.0.1:{port}?transport=udp,turn:127.0.0.1:{port}?transport=tcp"),
        "--turn-secret".to_owned(),
        "e2e-dead-relay".to_owned(),
    ];
    let mut stage = Stage::start_with("no_path", args).await;
    let outcome = no_path(&mut stage).await;
    stage.finish(outcome).await;
}

async fn no_path(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    a.goto(&format!("{}?ice=relay", stage.server.base_url())).await?;
    let link = start_waiting(&a, STATE_LIMIT).await?;
    check(link.contains("ice=relay"), || format!("the link {link:?} lost ice=relay"))?;

    let opened = Instant::now();
    b.join_by_link(&link, STATE_LIMIT).await?;
    // When each page first showed `error`, seen by polling both.
    let (a_took, b_took) = (Cell::new(None), Cell::new(None));
    poll("both pages reach `error`", FAILURE_LIMIT, Duration::from_millis(100), || async {
        for (browser, took) in [(&a, &a_took), (&b, &b_took)] {
            if took.get().is_none() && browser.state().await? == "error" {
                took.set(Some(opened.elapsed()));
            }
        }
        match (a_took.get(), b_took.get()) {
            (Some(_), Some(_)) => Ok(Probe::Ready(())),
            _ => Ok(Probe::NotYet(format!("A `{}`, B `{}`", a.state().await?, b.state().await?))),
        }
    })
    .await?;
    for (browser, took) in [(&a, &a_took), (&b, &b_took)] {
        let took = took.get().map_or(0.0, |t: Duration| t.as_secs_f64());
        println!("{}: `error` {took:.1} s after the second person opened the link", browser.name());
    }

    for browser in [&a, &b] {
        let reason = data_error(browser).await?;
        check(reason.as_deref() == Some("turn-unreachable"), || {
            format!("{}: data-error {reason:?}, expected turn-unreachable", browser.name())
        })?;
        let screen = browser.js_async(JS_ERROR_SCREEN).await?;
        println!("{}: error screen {screen}", browser.name());
        check(screen["preview"] == json!(true), || format!("{}: the camera preview is gone", browser.name()))?;
        check(screen["link"].as_str().is_some_and(|l| l.contains("room=")), || {
            format!("{}: the link is not shown: {screen}", browser.name())
        })?;
        check(screen["retry"] == json!("Try again"), || format!("{}: no visible Try again: {screen}", browser.name()))?;
        let details = screen["details"].as_str().unwrap_or_default();
        check(details.contains("data-error: turn-unreachable") && details.contains("TURN configured: yes"), || {
            format!("{}: the details say {details:?}", browser.name())
        })?;
        browser.screenshot(&format!("{}-error", browser.name())).await?;
    }

    // Try again: a fresh attempt on this page, and the other page answers it with one of its own.
    a.click("retry-button").await?;
    for browser in [&a, &b] {
        browser.wait_for_state("connecting", STATE_LIMIT).await?;
        let reason = data_error(browser).await?;
        check(reason.is_none(), || format!("{}: data-error {reason:?} stays after Try again", browser.name()))?;
    }
    a.screenshot("a-retrying").await?;
    Ok(())
}

/// coturn refuses the credentials the signaling server hands out (the two were given different
/// secrets, the classic deployment mistake): both pages say `turn-auth`, from the 401 their
/// browsers report, and the details show it.
#[tokio::test]
#[ignore = "needs Chromium, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn refused_relay_credentials_are_named_on_both_pages() {
    const NAME: &str = "turn_auth";
    let ports = Ports::pick().unwrap_or_else(|e| panic!("{NAME}: {e}"));
    let coturn_secret = run_secret();
    let mut stage = Stage::start_with(NAME, ports.signaling_args("not-the-secret-coturn-has")).await;
    let outcome = match Coturn::start_for(&stage, &ports, &coturn_secret).await {
        Ok(coturn) => {
            let outcome = refused_credentials(&mut stage).await;
            drop(coturn);
            outcome
        }
        Err(e) => Err(e),
    };
    stage.finish(outcome).await;
}

async fn refused_credentials(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    a.goto(&format!("{}?ice=relay", stage.server.base_url())).await?;
    press_start_call(&a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    let opened = Instant::now();
    b.join_by_link(&link, STATE_LIMIT).await?;
    for browser in [&b, &a] {
        browser.wait_for_state("error", FAILURE_LIMIT).await?;
        println!("{}: `error` by {:.1} s after the link was opened", browser.name(), opened.elapsed().as_secs_f64());
    }
    for browser in [&a, &b] {
        let reason = data_error(browser).await?;
        let screen = browser.js_async(JS_ERROR_SCREEN).await?;
        check(reason.as_deref() == Some("turn-auth"), || {
            format!("{}: data-error {reason:?}, expected turn-auth; screen {screen}", browser.name())
        })?;
        let details = screen["details"].as_str().unwrap_or_default();
        check(details.contains("candidate error 401"), || format!("{}: the details say {details:?}", browser.name()))?;
        // Opened as a person asked by support would, so the screenshot shows the evidence.
        browser.js_async(JS_OPEN_DETAILS).await?;
        browser.screenshot(&format!("{}-turn-auth", browser.name())).await?;
    }
    Ok(())
}

/// The other page giving up (`connect_failed`) puts this one in `error` with the reason it
/// sent, though this page itself never tried: the other person here is a plain WebSocket client.
#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn connect_failed_from_the_other_page_ends_the_wait_on_this_one() {
    let mut stage = Stage::start("connect_failed").await;
    let outcome = told_by_the_other(&mut stage).await;
    stage.finish(outcome).await;
}

async fn told_by_the_other(stage: &mut Stage) -> Result<()> {
    let (a, room) = waiting_room(stage).await?;
    let (mut ws, joined) = ws_join(stage, room, None).await?;
    let peer: PeerId = joined.peers.into_iter().next().ok_or_else(|| Failure::new("joined lists nobody"))?;
    a.wait_for_state("connecting", STATE_LIMIT).await?;
    let gave_up = ClientMessage::Signal { to: peer, data: Signal::ConnectFailed { reason: FailureReason::TurnAuth } };
    ws.send(Message::text(gave_up.to_json())).await.context("sending connect_failed")?;
    let sent = Instant::now();
    a.wait_for_state("error", STATE_LIMIT).await?;
    println!("a: `error` {} ms after connect_failed was sent", sent.elapsed().as_millis());
    let reason = data_error(&a).await?;
    check(reason.as_deref() == Some("turn-auth"), || format!("data-error {reason:?}, expected turn-auth"))?;
    let status = a.status_text().await?;
    check(status == "Could not connect", || format!("#status {status:?}"))?;
    let screen = a.js_async(JS_ERROR_SCREEN).await?;
    check(screen["details"].as_str().is_some_and(|d| d.contains("the other page gave up with: turn-auth")), || {
        format!("the details do not name the other page's reason: {screen}")
    })?;
    a.screenshot("a-told").await?;
    let _ = ws.close(None).await;
    Ok(())
}

/// The other person's seat taken over while their connection is still open (a reload the server
/// had not noticed yet, or someone else with their resume token): the page tells its user, once,
/// in the chat's system lines. Then the page's own seat, taken with the token it stored: it stops,
/// says it was opened elsewhere, and offers a new call. The other person and the takers are plain
/// WebSocket clients.
#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn the_page_says_when_the_other_persons_seat_is_taken_over() {
    let mut stage = Stage::start("peer_resumed").await;
    let outcome = seat_taken_over(&mut stage).await;
    stage.finish(outcome).await;
}

/// A page (`a`) that started a call and waits in it, and the call's room.
async fn waiting_room(stage: &mut Stage) -> Result<(Browser, RoomId)> {
    let a = stage.open_browser("a").await?;
    a.goto(&stage.server.base_url()).await?;
    press_start_call(&a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    let room = link.split_once("room=").map(|(_, r)| r.split('&').next().unwrap_or(r)).unwrap_or_default();
    let room = RoomId::try_from(room).context(format!("the room of {link}"))?;
    Ok((a, room))
}

type WsClient = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What `joined` told a plain WebSocket client.
struct Joined {
    peers: Vec<PeerId>,
    resume_token: shared::ResumeToken,
}

/// A plain WebSocket client that joined `room` (resuming with `resume`), and its `joined`.
async fn ws_join(stage: &Stage, room: RoomId, resume: Option<shared::ResumeToken>) -> Result<(WsClient, Joined)> {
    let url = format!("ws://{}/ws", stage.server.addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.context(format!("connecting {url}"))?;
    let join = ClientMessage::Join { room, resume }.to_json();
    ws.send(Message::text(join)).await.context("sending join")?;
    let first = tokio::time::timeout(STATE_LIMIT, ws.next()).await.context("waiting for joined")?;
    let joined = match first {
        Some(Ok(Message::Text(text))) => match ServerMessage::parse(text.as_str()) {
            Ok(ServerMessage::Joined { peers, resume_token, .. }) => Joined { peers, resume_token },
            other => return Err(Failure::new(format!("expected joined, got {other:?}"))),
        },
        other => return Err(Failure::new(format!("expected joined, got {other:?}"))),
    };
    Ok((ws, joined))
}

async fn seat_taken_over(stage: &mut Stage) -> Result<()> {
    let (a, room) = waiting_room(stage).await?;
    let (mut other, joined) = ws_join(stage, room.clone(), None).await?;
    let token = joined.resume_token;
    a.wait_for_state("connecting", STATE_LIMIT).await?;

    // The taker resumes with the other person's token while the other person is still connected.
    let (mut taker, rejoined) = ws_join(stage, room.clone(), Some(token.clone())).await?;
    check(rejoined.resume_token != token, || "the resume kept the token".to_owned())?;
    a.wait_for_chat("The other person reconnected", STATE_LIMIT).await?;
    let log = a.chat_log().await?;
    let notices = log.iter().filter(|line| line.contains("The other person reconnected")).count();
    check(notices == 1, || format!("{notices} notices in the chat log {log:?}"))?;
    a.screenshot("a-seat-taken-over").await?;

    let key = format!("connect.resume.{}", room.as_str());
    let stored = a.js("return sessionStorage.getItem(arguments[0]);", vec![json!(key)]).await?;
    let own = stored.as_str().ok_or_else(|| Failure::new(format!("no resume token stored under {key}: {stored}")))?;
    let (mut own_taker, _) = ws_join(stage, room, Some(shared::ResumeToken::new(own))).await?;
    a.wait_for_state("error", STATE_LIMIT).await?;
    a.wait_for_text_containing("message", "open in another tab or on another device", STATE_LIMIT).await?;
    let focused = a.js("return document.activeElement && document.activeElement.id;", vec![]).await?;
    check(focused == "new-call", || format!("after the seat was taken, focus is on {focused}"))?;
    a.screenshot("a-own-seat-taken").await?;
    for ws in [&mut other, &mut taker, &mut own_taker] {
        let _ = ws.close(None).await;
    }
    Ok(())
}

/// The pre-call check from the landing page's button, served by nginx with the repository's
/// configuration and headers (CSP included), against coturn on loopback offering TURN over
/// UDP and TCP: camera, microphone (its meter moves), signaling and both TURN rows pass,
/// TLS is skipped (not offered). STUN's result is printed: on loopback the reflexive address
/// equals the host address, which Chromium does not report as a separate candidate.
#[tokio::test]
#[ignore = "needs Chromium, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn the_connection_check_shows_each_transport() {
    const NAME: &str = "connection_check";
    let ports = Ports::pick().unwrap_or_else(|e| panic!("{NAME}: {e}"));
    let secret = run_secret();
    let port = ports.listening;
    let args = vec![
        "--turn-urls".to_owned(),
        format!("turn:127.0.0.1:{port}?transport=udp,turn:127.0.0.1:{port}?transport=tcp"),
        "--turn-secret".to_owned(),
        secret.clone(),
        "--stun-urls".to_owned(),
        format!("stun:127.0.0.1:{port}"),
    ];
    let mut stage = Stage::start_with(NAME, args).await;
    let outcome = match start_stack(&stage, &ports, &secret).await {
        Ok((coturn, nginx)) => {
            let outcome = connection_check(&mut stage, &nginx.base_url()).await;
            drop((coturn, nginx));
            outcome
        }
        Err(e) => Err(e),
    };
    stage.finish(outcome).await;
}

async fn start_stack(stage: &Stage, ports: &Ports, secret: &str) -> Result<(Coturn, Nginx)> {
    let paths = Paths::from_env().context("reading the test environment")?;
    let deploy = DeployPaths::from_env().context("reading the test environment")?;
    let artifacts = stage.artifacts_dir();
    let coturn = Coturn::start(&deploy.repo, ports, secret, &artifacts).await?;
    let nginx = Nginx::start(&deploy, &paths.dist, stage.server.addr(), &artifacts).await?;
    Ok((coturn, nginx))
}

async fn connection_check(stage: &mut Stage, base_url: &str) -> Result<()> {
    let a = stage.open_browser("a").await?;
    a.goto(base_url).await?;
    poll("the check page opens from the landing page", STATE_LIMIT, Duration::from_millis(300), || async {
        let rows = a.js_async(JS_CHECK_ROWS).await?;
        if rows.as_array().is_some_and(|r| !r.is_empty()) {
            return Ok(Probe::Ready(()));
        }
        a.click("check-button").await?;
        Ok(Probe::NotYet("no check rows yet".into()))
    })
    .await?;
    let url = a.js_async("arguments[arguments.length - 1](location.search)").await?;
    check(url.as_str().is_some_and(|s| s.starts_with("?check")), || format!("the address is {url}, not ?check"))?;

    let rows = poll("every check row has a result", CHECK_LIMIT, Duration::from_millis(200), || async {
        let rows = a.js_async(JS_CHECK_ROWS).await?;
        let list = rows.as_array().cloned().unwrap_or_default();
        let running = list.iter().filter(|r| r[1] == json!("running")).count();
        if running == 0 && list.len() == 7 {
            Ok(Probe::Ready(list))
        } else {
            Ok(Probe::NotYet(format!("{running} of {} rows running: {rows}", list.len())))
        }
    })
    .await?;
    let result = |name: &str| -> Option<String> {
        rows.iter().find(|r| r[0] == json!(name)).and_then(|r| r[1].as_str()).map(str::to_owned)
    };
    for row in &rows {
        println!("check {:<10} {:<8} {:>6} ms  {}", text(&row[0]), text(&row[1]), text(&row[2]), text(&row[3]));
    }
    for (name, expected) in [
        ("camera", "pass"),
        ("microphone", "pass"),
        ("signaling", "pass"),
        ("turn-udp", "pass"),
        ("turn-tcp", "pass"),
        ("turn-tls", "skipped"),
    ] {
        let got = result(name);
        check(got.as_deref() == Some(expected), || format!("check row {name}: {got:?}, expected {expected}"))?;
    }
    let stun = result("stun");
    check(matches!(stun.as_deref(), Some("pass" | "fail")), || format!("check row stun: {stun:?}"))?;

    poll("the microphone meter moves", STATE_LIMIT, Duration::from_millis(100), || async {
        let level = a.js_async(JS_MIC_LEVEL).await?;
        match level.as_f64() {
            Some(level) if level > 0.0 => Ok(Probe::Ready(())),
            _ => Ok(Probe::NotYet(format!("#mic-level {level}"))),
        }
    })
    .await?;
    a.screenshot("check").await?;
    let console = a.console_log().await?;
    let refused: Vec<&String> =
        console.iter().filter(|l| l.contains("Content Security Policy") || l.contains("Refused to")).collect();
    check(refused.is_empty(), || format!("the browser refused something under nginx's headers: {refused:#?}"))?;

    // The same page straight from its address, as a support person would send it.
    a.goto(&format!("{base_url}?check")).await?;
    poll("/?check runs the check", STATE_LIMIT, Duration::from_millis(200), || async {
        let rows = a.js_async(JS_CHECK_ROWS).await?;
        let signaling = rows.as_array().and_then(|r| r.iter().find(|r| r[0] == json!("signaling")).cloned());
        match signaling {
            Some(row) if row[1] == json!("pass") => Ok(Probe::Ready(())),
            _ => Ok(Probe::NotYet(format!("rows {rows}"))),
        }
    })
    .await
}

fn text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}
