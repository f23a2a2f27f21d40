//! Chromium and Firefox calling each other through the real signaling server and the project's
//! page: each browser starting the call once and the other joining by its link, chat both ways,
//! a reload of the Firefox side, and a call with `?ice=relay` whose media can only flow through
//! Debian's coturn running the repository's `turn/turnserver.conf`.
//!
//! Media is judged by the page's reading of getStats (`inbound-rtp` `framesDecoded`, shown as
//! `#call-stats[data-frames-decoded]`) advancing: Firefox's `<video>` frame counters stay 0 for
//! live streams, so the video element's own playback is checked in Chromium only.
//!
//! Ignored by plain `cargo test`, like `call.rs`: the `browser` step of `cargo xtask test` runs them
//! in a loopback-only network namespace.

#[allow(dead_code, reason = "each test binary compiles the whole harness; this one uses part of it")]
mod harness;
// By path rather than through `stack/mod.rs`, so nginx and Redis are not compiled in.
#[allow(dead_code, reason = "only the coturn start and its log are used here")]
#[path = "stack/coturn.rs"]
mod coturn;

use std::time::{Duration, Instant};

use coturn::{run_secret, Coturn, Ports};
use e2e::coturn::{allocations, split_username};
use e2e::deploy::joined_peers;
use harness::{check, poll, press_start_call, Browser, BrowserKind, Context as _, Probe, Result, Stage, MEDIA_LIMIT};

/// A state change driven by signaling on loopback: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);
/// Coming back from a reload includes loading the wasm again and the client's rejoin.
const RECOVERY_LIMIT: Duration = Duration::from_secs(20);

/// Both directions in one stage: the second call reuses the two sessions, as two people who call
/// each other again would.
#[tokio::test]
#[ignore = "needs Chromium, Firefox, their drivers and a built dist/: run by `cargo xtask test` (browser step)"]
async fn chromium_and_firefox_call_each_other_both_ways_chat_and_survive_a_reload() {
    let mut stage = Stage::start("cross_browser").await;
    let outcome = both_ways(&mut stage).await;
    stage.finish(outcome).await;
}

async fn both_ways(stage: &mut Stage) -> Result<()> {
    let started = Instant::now();
    let chromium = stage.open_browser("chromium").await?;
    let firefox = stage.open_firefox("firefox").await?;
    mark(started, "Chromium and Firefox sessions open");
    let page = stage.server.base_url();

    call(&chromium, &firefox, &page, "direct", started).await?;
    let reloaded = Instant::now();
    firefox.reload().await?;
    firefox.wait_for_state("connected", RECOVERY_LIMIT).await?;
    media_flows(&[&chromium, &firefox]).await.context("after Firefox reloaded")?;
    mark(started, format!("Firefox reloaded and is back in the call after {} ms", reloaded.elapsed().as_millis()));
    firefox.screenshot("firefox-after-reload").await?;
    chromium.screenshot("chromium-after-firefox-reload").await?;
    hang_up(&chromium, &firefox).await?;
    mark(started, "Chromium hung up; Firefox shows `peer-left`");

    call(&firefox, &chromium, &page, "direct", started).await?;
    hang_up(&firefox, &chromium).await?;
    mark(started, "Firefox hung up; Chromium shows `peer-left`");
    Ok(())
}

/// Firefox starts a call on `?ice=relay` and Chromium joins: both report a relayed path, media
/// flows, and coturn allocated for exactly the two peers the signaling server seated.
#[tokio::test]
#[ignore = "needs Chromium, Firefox, their drivers, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn chromium_and_firefox_call_through_coturn_with_ice_relay() {
    const NAME: &str = "cross_browser_relay";
    let ports = Ports::pick().unwrap_or_else(|e| panic!("{NAME}: {e}"));
    let secret = run_secret();
    let mut stage = Stage::start_with(NAME, ports.signaling_args(&secret)).await;
    let (coturn, outcome) = match Coturn::start_for(&stage, &ports, &secret).await {
        Ok(coturn) => {
            let outcome = relayed(&mut stage, &coturn).await;
            (Some(coturn), outcome)
        }
        Err(e) => (None, Err(e)),
    };
    if let (Err(_), Some(coturn)) = (&outcome, &coturn) {
        eprintln!("----- coturn log: {}", coturn.log_path().display());
    }
    stage.finish(outcome).await;
}

async fn relayed(stage: &mut Stage, coturn: &Coturn) -> Result<()> {
    let started = Instant::now();
    let firefox = stage.open_firefox("firefox").await?;
    let chromium = stage.open_browser("chromium").await?;
    let page = format!("{}?ice=relay", stage.server.base_url());
    call(&firefox, &chromium, &page, "relay", started).await?;

    let server_log = std::fs::read_to_string(stage.server.log_path()).context("reading the signaling log")?;
    let peers = joined_peers(&server_log);
    check(peers.len() == 2, || format!("the signaling server seated {peers:?}, not two peers"))?;
    let mut granted = allocations(&coturn.log()?);
    // One user may hold several allocations (one per component and ICE server): list each once.
    granted.sort_unstable();
    granted.dedup();
    for peer in &peers {
        check(granted.iter().any(|user| split_username(user).is_some_and(|(_, id)| id == peer)), || {
            format!("coturn allocated nothing for peer {peer}; it did for {granted:?}")
        })?;
    }
    mark(started, format!("coturn allocated for both seated peers: {granted:?}"));
    hang_up(&firefox, &chromium).await
}

/// `starter` opens `page` and starts a call, `joiner` opens the link it shows; then both are
/// connected over a `path` (`direct` or `relay`) path with media flowing, and chat goes both ways.
async fn call(starter: &Browser, joiner: &Browser, page: &str, path: &str, started: Instant) -> Result<()> {
    let (from, to) = (starter.name(), joiner.name());
    starter.goto(page).await?;
    press_start_call(starter, STATE_LIMIT).await?;
    starter.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = starter.call_link(STATE_LIMIT).await?;
    check(link.contains("room=") && (!page.contains("ice=relay") || link.contains("ice=relay")), || {
        format!("{from}: #call-link {link:?} is not a link to {page} with a room")
    })?;

    let opened = Instant::now();
    joiner.join_by_link(&link, STATE_LIMIT).await?;
    poll(&format!("{to}: first remote frame"), STATE_LIMIT, Duration::from_millis(50), || joiner.first_remote_frame())
        .await?;
    let first_frame = opened.elapsed();
    for browser in [starter, joiner] {
        browser.wait_for_state("connected", STATE_LIMIT).await?;
    }
    media_flows(&[starter, joiner]).await?;
    for browser in [starter, joiner] {
        browser.wait_for_attr("call-stats", "data-path", path, MEDIA_LIMIT).await?;
    }
    mark(
        started,
        format!("{from} started, {to} joined: first frame {} ms after the link opened", first_frame.as_millis()),
    );

    let (hello, reply) = (format!("hello from {from}"), format!("hello from {to}"));
    starter.send_chat(&hello, STATE_LIMIT).await?;
    joiner.wait_for_chat(&hello, STATE_LIMIT).await?;
    joiner.send_chat(&reply, STATE_LIMIT).await?;
    starter.wait_for_chat(&reply, STATE_LIMIT).await?;
    mark(started, "chat delivered both ways");
    let code = same_verification_code(starter, joiner).await?;
    mark(started, format!("both pages show the verification code {code}"));
    for browser in [starter, joiner] {
        let frames = browser.frames_decoded().await?.unwrap_or_default();
        let rtt = browser.attr("call-stats", "data-rtt-ms").await?;
        mark(started, format!("{}: {path} path, {frames} frames decoded, rtt {rtt:?} ms", browser.name()));
        browser.screenshot(&format!("{}-{from}-started-{path}", browser.name())).await?;
    }
    Ok(())
}

/// Media flows into every browser now: the page's getStats reading of decoded frames grows, and
/// in Chromium the remote `<video>` also plays at a real size.
async fn media_flows(browsers: &[&Browser]) -> Result<()> {
    for browser in browsers {
        browser.wait_frames_advancing(MEDIA_LIMIT).await?;
        if browser.kind() == BrowserKind::Chromium {
            browser.wait_remote_video_playing(MEDIA_LIMIT).await?;
            browser.check_remote_video_size().await?;
        }
    }
    Ok(())
}

/// The text of `#verification-code`, or null when the element is absent.
const JS_CODE: &str = "const done = arguments[arguments.length - 1]; \
    const e = document.getElementById('verification-code'); done(e ? e.textContent : null);";

/// Both pages show the same verification code: Chromium derives it from its certificate stats,
/// Firefox (which has none) from the fingerprints of the two descriptions.
async fn same_verification_code(a: &Browser, b: &Browser) -> Result<String> {
    poll("both pages show the same verification code", STATE_LIMIT, Duration::from_millis(200), || async {
        let (ca, cb) = (a.js_async(JS_CODE).await?, b.js_async(JS_CODE).await?);
        match (ca.as_str(), cb.as_str()) {
            (Some(x), Some(y)) if x == y => Ok(Probe::Ready(x.to_owned())),
            _ => Ok(Probe::NotYet(format!("{}: {ca}, {}: {cb}", a.name(), b.name()))),
        }
    })
    .await
}

/// `leaver` hangs up; `stayer` sees the other person leave.
async fn hang_up(leaver: &Browser, stayer: &Browser) -> Result<()> {
    leaver.click("hang-up").await?;
    stayer.wait_for_state("peer-left", STATE_LIMIT).await.context(format!("after {} hung up", leaver.name()))?;
    Ok(())
}

/// Prints a step with the seconds since the test started, so a CI log reads as a timeline.
fn mark(started: Instant, what: impl std::fmt::Display) {
    println!("[{:6.1} s] {what}", started.elapsed().as_secs_f64());
}
