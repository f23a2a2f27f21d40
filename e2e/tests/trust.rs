//! Trusting the call without trusting the server: the verification code (`#verification-code`)
//! both pages show, which follows the DTLS transport (a reload, a separate call), and privacy
//! mode (`#privacy-mode`), which keeps this side's host and server-reflexive addresses from the
//! other person by gathering relay candidates only (coturn on loopback, as in `connectivity.rs`).
//! Headless Chromium on loopback, like `call.rs`.

#[allow(dead_code, reason = "each test binary compiles the whole harness; this one uses part of it")]
mod harness;
#[allow(dead_code, reason = "each test binary compiles the whole stack; this one uses part of it")]
mod stack;

use std::time::Duration;

use harness::{check, connected_with_media, poll, press_start_call, Browser, Probe, Result, Stage};
use stack::coturn::{run_secret, Coturn, Ports};

/// A state change driven by signaling on loopback: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);
/// Recovering from a reload includes the client's reconnect backoff.
const RECOVERY_LIMIT: Duration = Duration::from_secs(20);
/// The code is refreshed once a second from the stats; an ICE restart takes a few more.
const CODE_LIMIT: Duration = Duration::from_secs(10);
const POLL_EVERY: Duration = Duration::from_millis(200);

/// The text of `#verification-code` (null when the element is absent), the call state, and the
/// page's evidence about the code on `#verification` (`data-code-source`, `-wait`, `-stats`).
const JS_CODE: &str = "const done = arguments[arguments.length - 1]; \
    const e = document.getElementById('verification-code'); \
    const v = document.getElementById('verification'); \
    done({code: e ? e.textContent : null, state: document.body ? document.body.dataset.callState : null, \
      source: v && v.dataset.codeSource, wait: v && v.dataset.codeWait, stats: v && v.dataset.codeStats});";

/// Chromium's stale certificate stats, made to happen every time (see `webclient/src/certificates.rs`):
/// run before the page, it makes every `getStats()` report look like one gathered while the DTLS
/// handshake was finishing — the transport names no remote certificate and that entry is absent.
const JS_STALE_CERTIFICATE_STATS: &str = "(() => { \
    const original = RTCPeerConnection.prototype.getStats; \
    RTCPeerConnection.prototype.getStats = async function (...args) { \
      const report = await original.apply(this, args); \
      const remote = new Set(); \
      report.forEach(s => { if (s.type === 'transport' && s.remoteCertificateId) remote.add(s.remoteCertificateId); }); \
      const stale = new Map(); \
      report.forEach((s, id) => { \
        if (remote.has(id)) return; \
        if (s.type === 'transport') { const t = Object.assign({}, s); delete t.remoteCertificateId; stale.set(id, t); } \
        else stale.set(id, s); \
      }); \
      return stale; \
    }; \
  })();";

/// `#privacy-mode`'s state and the remembered setting.
const JS_PRIVACY: &str = "const done = arguments[arguments.length - 1]; \
    const e = document.getElementById('privacy-mode'); \
    done({exists: !!e, checked: !!e && e.checked, disabled: !!e && e.disabled, \
      stored: localStorage.getItem('connect.privacy-mode')});";

/// The reason shown beside a disabled `#privacy-mode`, if shown.
const JS_PRIVACY_NOTE: &str = "const done = arguments[arguments.length - 1]; \
    const e = document.getElementById('privacy-note'); done(e && !e.hidden ? e.textContent : null);";

/// The status line people read under the call.
const JS_STATS_LINE: &str = "const done = arguments[arguments.length - 1]; \
    done(document.getElementById('call-stats').textContent);";

/// One look at a page's verification code and the page's evidence about it.
struct Seen {
    code: Option<String>,
    /// Where the two fingerprints came from, e.g. `stats/stats` (only with a code).
    source: Option<String>,
    /// Everything read, for messages: state, code, source or why none, what the stats named.
    shown: String,
}

async fn seen(browser: &Browser) -> Result<Seen> {
    let value = browser.js_async(JS_CODE).await?;
    let text = |key: &str| value[key].as_str().map(str::to_owned);
    let shown = format!(
        "state {:?}, code {:?}, source {:?}, waiting for {:?}, stats {:?}",
        text("state"),
        text("code"),
        text("source"),
        text("wait"),
        text("stats")
    );
    Ok(Seen { code: text("code"), source: text("source"), shown })
}

async fn code(browser: &Browser) -> Result<Option<String>> {
    Ok(seen(browser).await?.code)
}

/// Waits until both pages show the same code, different from every code in `not`; returns it
/// and where each page took its fingerprints from. On timeout the message carries both pages'
/// evidence (and the stage's report their consoles, where the page logs each change of it).
async fn same_code(a: &Browser, b: &Browser, not: &[&str]) -> Result<String> {
    let (code, sources) = poll("both pages show the same, new verification code", CODE_LIMIT, POLL_EVERY, || async {
        let (sa, sb) = (seen(a).await?, seen(b).await?);
        match (&sa.code, &sb.code) {
            (Some(x), Some(y)) if x == y && !not.contains(&x.as_str()) => {
                Ok(Probe::Ready((x.clone(), (sa.source, sb.source))))
            }
            _ => Ok(Probe::NotYet(format!(
                "{}: {}; {}: {}; earlier codes {not:?}",
                a.name(),
                sa.shown,
                b.name(),
                sb.shown
            ))),
        }
    })
    .await?;
    println!("code {code}: {} took it from {:?}, {} from {:?}", a.name(), sources.0, b.name(), sources.1);
    Ok(code)
}

fn six_digits(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.iter().all(char::is_ascii_digit)
}

/// A starts a call from `/`, B opens the link; both end up connected.
async fn call(a: &Browser, b: &Browser, base_url: &str) -> Result<()> {
    a.goto(base_url).await?;
    press_start_call(a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    check(code(a).await?.is_none(), || "#verification-code exists while A waits alone".into())?;
    let link = a.call_link(STATE_LIMIT).await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    connected_with_media(&[a, b], STATE_LIMIT).await
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn both_pages_show_one_code_that_follows_the_connection() {
    let mut stage = Stage::start("verification_code").await;
    let outcome = verification(&mut stage).await;
    stage.finish(outcome).await;
}

async fn verification(stage: &mut Stage) -> Result<()> {
    let base_url = stage.server.base_url();
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    call(&a, &b, &base_url).await?;
    let first = same_code(&a, &b, &[]).await?;
    check(six_digits(&first), || format!("code {first:?} is not six digits"))?;
    println!("first call: both pages show {first}");
    // This server offers no TURN: privacy mode cannot work here, and the page says why.
    let privacy = a.js_async(JS_PRIVACY).await?;
    let note = a.js_async(JS_PRIVACY_NOTE).await?;
    check(privacy["disabled"] == true && note.as_str().is_some_and(|n| n.contains("TURN")), || {
        format!("without TURN #privacy-mode is {privacy} with note {note}: expected disabled with the reason")
    })?;
    a.screenshot("a-code").await?;
    b.screenshot("b-code").await?;

    // A reload makes a new RTCPeerConnection on both sides (new certificates, new DTLS).
    b.reload().await?;
    connected_with_media(&[&a, &b], RECOVERY_LIMIT).await?;
    let reloaded = same_code(&a, &b, &[&first]).await?;
    println!("after B reloaded: both pages show {reloaded}");
    a.screenshot("a-code-after-reload").await?;

    a.click("hang-up").await?;
    b.wait_for_state("peer-left", STATE_LIMIT).await?;
    let ended = seen(&b).await?;
    check(ended.code.is_none(), || "#verification-code outlives the call on B".into())?;
    check(ended.source.is_none(), || format!("B's code evidence outlives the call: {}", ended.shown))?;
    stage.close_browser(&a).await?;
    stage.close_browser(&b).await?;

    // A separate call between two other pages has other certificates, so another code.
    let c = stage.open_browser("c").await?;
    let d = stage.open_browser("d").await?;
    call(&c, &d, &base_url).await?;
    let separate = same_code(&c, &d, &[&first, &reloaded]).await?;
    println!("a separate call: both pages show {separate}");
    c.screenshot("c-code-separate-call").await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium, coturn and a built dist/: run by `cargo xtask test` (browser step)"]
async fn privacy_mode_sends_the_other_person_relay_candidates_only() {
    const NAME: &str = "privacy_mode";
    let ports = Ports::pick().unwrap_or_else(|e| panic!("{NAME}: {e}"));
    let secret = run_secret();
    let mut stage = Stage::start_with(NAME, ports.signaling_args(&secret)).await;
    let outcome = match Coturn::start_for(&stage, &ports, &secret).await {
        Ok(coturn) => {
            let outcome = privacy(&mut stage).await;
            drop(coturn);
            outcome
        }
        Err(e) => Err(e),
    };
    stage.finish(outcome).await;
}

/// `#call-stats[data-remote-candidates]` as (host, srflx, relay) counts.
async fn remote_candidates(browser: &Browser) -> Result<Option<(u32, u32, u32)>> {
    let Some(text) = browser.attr("call-stats", "data-remote-candidates").await? else { return Ok(None) };
    let count =
        |kind: &str| text.split_whitespace().find_map(|w| w.strip_prefix(kind)?.strip_prefix(':')?.parse::<u32>().ok());
    Ok(count("host").zip(count("srflx")).zip(count("relay")).map(|((h, s), r)| (h, s, r)))
}

async fn privacy(stage: &mut Stage) -> Result<()> {
    let base_url = stage.server.base_url();
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;

    // A turns privacy mode on from the start page; it is remembered for the next visit.
    a.goto(&base_url).await?;
    poll("A turns privacy mode on", STATE_LIMIT, POLL_EVERY, || async {
        let state = a.js_async(JS_PRIVACY).await?;
        if state["checked"] == true && state["stored"] == "on" {
            return Ok(Probe::Ready(()));
        }
        if state["exists"] == true && state["disabled"] == false && a.state().await? == "idle" {
            a.click("privacy-mode").await?;
        }
        Ok(Probe::NotYet(format!("{state}")))
    })
    .await?;
    a.reload().await?;
    let remembered = poll("privacy mode remembered", STATE_LIMIT, POLL_EVERY, || async {
        let state = a.js_async(JS_PRIVACY).await?;
        match state["checked"].as_bool() {
            Some(true) if a.state().await? == "idle" => Ok(Probe::Ready(state)),
            _ => Ok(Probe::NotYet(format!("{state}"))),
        }
    })
    .await?;
    println!("A after a reload of the start page: {remembered}");
    a.screenshot("a-privacy-on-start-page").await?;

    call(&a, &b, &base_url).await?;
    a.wait_for_attr("call-stats", "data-local-candidate", "relay", STATE_LIMIT).await?;
    a.wait_for_attr("call-stats", "data-private", "true", STATE_LIMIT).await?;
    let badge = poll("A's badge says private", STATE_LIMIT, POLL_EVERY, || async {
        let line = a.js_async(JS_STATS_LINE).await?;
        let line = line.as_str().unwrap_or_default().to_owned();
        Ok(if line.contains("relayed (private)") { Probe::Ready(line) } else { Probe::NotYet(line) })
    })
    .await?;
    println!("A: selected local candidate relay; badge {badge:?}");

    let first = same_code(&a, &b, &[]).await?;
    println!("verification code over the relay: {first}");
    // What B's page received through the server from A during the whole private phase (read
    // last, after the code): relay candidates, nothing else.
    let from_a = remote_candidates(&b).await?;
    check(matches!(from_a, Some((0, 0, relay)) if relay > 0), || {
        format!("B received from A (host, srflx, relay) = {from_a:?}: expected relay only")
    })?;
    // The control: B is not private, so A received B's host candidates (the capture works).
    let from_b = remote_candidates(&a).await?;
    check(matches!(from_b, Some((host, _, _)) if host > 0), || {
        format!("A received from B (host, srflx, relay) = {from_b:?}: expected B's host candidates")
    })?;
    println!("candidates received: by B from A {from_a:?}, by A from B {from_b:?}");
    a.screenshot("a-private-call").await?;
    b.screenshot("b-private-call").await?;

    // Switching it off during the call restarts ICE under the default policy: A's path goes direct.
    a.click("privacy-mode").await?;
    a.wait_for_attr("call-stats", "data-local-candidate", "host", RECOVERY_LIMIT).await?;
    a.wait_for_attr("call-stats", "data-private", "false", STATE_LIMIT).await?;
    // B's page refreshes its counts once a second.
    let after = poll("B receives A's host candidates after privacy is off", STATE_LIMIT, POLL_EVERY, || async {
        Ok(match remote_candidates(&b).await? {
            Some((host, srflx, relay)) if host > 0 => Probe::Ready((host, srflx, relay)),
            other => Probe::NotYet(format!("(host, srflx, relay) = {other:?}")),
        })
    })
    .await?;
    println!("A turned privacy off mid-call: selected local candidate host; B now has {after:?}");
    a.screenshot("a-privacy-off-mid-call").await?;
    let state = a.js_async(JS_PRIVACY).await?;
    check(state["stored"] == "off", || format!("the setting was not remembered as off: {state}"))?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn the_code_appears_when_the_stats_never_name_the_remote_certificate() {
    let mut stage = Stage::start("verification_code_stale_stats").await;
    let outcome = stale_stats(&mut stage).await;
    stage.finish(outcome).await;
}

/// A's browser reports what Chromium reports after a `getStats` raced the DTLS handshake: the
/// transport never names the remote certificate. A still shows the code B shows, taking the
/// remote fingerprint from the remote description, and says so.
async fn stale_stats(stage: &mut Stage) -> Result<()> {
    let base_url = stage.server.base_url();
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    a.before_page_scripts(JS_STALE_CERTIFICATE_STATS).await?;
    call(&a, &b, &base_url).await?;
    let first = same_code(&a, &b, &[]).await?;
    let seen_a = seen(&a).await?;
    check(seen_a.source.as_deref() == Some("stats/description"), || {
        format!("A's stats never name the remote certificate, yet A shows {}", seen_a.shown)
    })?;
    check(seen_a.shown.contains("remote=no"), || format!("A's stats evidence: {}", seen_a.shown))?;
    println!("with stale stats on A: both pages show {first}; A: {}", seen_a.shown);
    a.screenshot("a-code-stale-stats").await?;
    Ok(())
}

#[test]
fn six_digit_codes_are_recognised() {
    assert!(six_digits("012 345"));
    assert!(!six_digits("12 345"));
    assert!(!six_digits("abc def"));
}
