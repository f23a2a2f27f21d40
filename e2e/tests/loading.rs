//! Before the app runs: an invite link shows "Opening the call…" (not the start page's button,
//! which does nothing until the wasm has loaded), and a browser without WebAssembly or WebRTC
//! says it cannot make the call instead of "Loading…" forever or a start page that cannot work. The app's loading is held back by a
//! script run before the page's own, which makes WebAssembly instantiation wait for the test.

// This short scenario uses a part of the harness; the rest is compiled for nothing here.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::{check, poll, Browser, Probe, Result, Stage};

const LIMIT: Duration = Duration::from_secs(15);
const ROOM: &str = "?room=Loading-test-0001";

/// Holds every WebAssembly instantiation until the test calls `window.__releaseWasm()`.
const HOLD_WASM: &str = r#"
(() => {
  let release; const gate = new Promise(r => { release = r; });
  window.__releaseWasm = () => release();
  for (const name of ['instantiateStreaming', 'instantiate']) {
    const original = WebAssembly[name];
    WebAssembly[name] = function (...args) { return gate.then(() => original.apply(WebAssembly, args)); };
  }
})();
"#;

/// What the page shows before the app: `data-boot`, the boot message if displayed, whether the
/// lobby (with "Start a call") is displayed, and the header's status.
const JS_BOOT: &str = "const b = document.getElementById('boot'); const l = document.getElementById('lobby'); \
    return {boot: document.body.getAttribute('data-boot'), \
      message: b && b.offsetParent !== null ? b.textContent.replace(/\\s+/g, ' ').trim() : null, \
      lobby: !!l && l.offsetParent !== null, \
      status: document.getElementById('status').textContent.trim()};";

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn an_invite_link_says_it_is_opening_the_call_until_the_app_runs() {
    let mut stage = Stage::start("loading-invite").await;
    let outcome = invite(&mut stage).await;
    stage.finish(outcome).await;
}

async fn invite(stage: &mut Stage) -> Result<()> {
    let desktop = stage.open_browser("desktop").await?;
    let phone = stage.open_phone("phone").await?;
    for page in [&desktop, &phone] {
        page.before_page_scripts(HOLD_WASM).await?;
        page.goto(&format!("{}{ROOM}", stage.server.base_url())).await?;
        let seen = page.js(JS_BOOT, vec![]).await?;
        check(seen["boot"] == "opening" && seen["message"] == "Opening the call…" && seen["lobby"] == false, || {
            format!("{}: before the app runs the invite page shows {seen}", page.name())
        })?;
        check(seen["status"] == "Opening the call…", || format!("{}: status {}", page.name(), seen["status"]))?;
        page.screenshot(&format!("{}-opening-the-call", page.name())).await?;
        page.js("window.__releaseWasm();", vec![]).await?;
        app_took_over(page).await?;
        page.screenshot(&format!("{}-after-the-app-started", page.name())).await?;
    }
    Ok(())
}

/// The app ran: `data-boot` is gone and the page left the start page's `idle`.
async fn app_took_over(page: &Browser) -> Result<()> {
    poll(&format!("{}: the app takes over", page.name()), LIMIT, Duration::from_millis(100), || async {
        let seen = page.js(JS_BOOT, vec![]).await?;
        let state = page.state().await?;
        if seen["boot"].is_null() && seen["message"].is_null() && state != "idle" {
            Ok(Probe::Ready(()))
        } else {
            Ok(Probe::NotYet(format!("{seen}, state {state:?}")))
        }
    })
    .await
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_browser_without_webassembly_is_told_so() {
    let mut stage = Stage::start("loading-no-wasm").await;
    let outcome = no_wasm(&mut stage).await;
    stage.finish(outcome).await;
}

async fn no_wasm(stage: &mut Stage) -> Result<()> {
    let desktop = stage.open_browser("desktop").await?;
    let phone = stage.open_phone("phone").await?;
    for page in [&desktop, &phone] {
        page.before_page_scripts("delete window.WebAssembly;").await?;
        for (label, query) in [("start", ""), ("invite", ROOM)] {
            page.goto(&format!("{}{query}", stage.server.base_url())).await?;
            // Give the loader time to fail: the message must not be replaced by anything else.
            tokio::time::sleep(Duration::from_millis(500)).await;
            told_unsupported(page, "WebAssembly", label).await?;
            page.screenshot(&format!("{}-no-webassembly-{label}", page.name())).await?;
        }
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_browser_without_webrtc_is_told_so_and_the_app_leaves_the_message_up() {
    let mut stage = Stage::start("loading-no-webrtc").await;
    let outcome = no_webrtc(&mut stage).await;
    stage.finish(outcome).await;
}

/// Records when the app has started (trunk's event after the wasm's start function ran).
const NOTE_STARTED: &str = "addEventListener('TrunkApplicationStarted', () => { window.__appStarted = true; });";

async fn no_webrtc(stage: &mut Stage) -> Result<()> {
    let desktop = stage.open_browser("desktop").await?;
    let phone = stage.open_phone("phone").await?;
    for page in [&desktop, &phone] {
        page.before_page_scripts(&format!("delete window.RTCPeerConnection; {NOTE_STARTED}")).await?;
        for (label, query) in [("start", ""), ("invite", ROOM)] {
            page.goto(&format!("{}{query}", stage.server.base_url())).await?;
            // WebAssembly is there, so the app runs: it must leave the message up.
            poll(&format!("{}: the app starts", page.name()), LIMIT, Duration::from_millis(100), || async {
                let started = page.js("return window.__appStarted === true;", vec![]).await?;
                Ok(if started == true { Probe::Ready(()) } else { Probe::NotYet("not yet".into()) })
            })
            .await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            told_unsupported(page, "WebRTC", label).await?;
            page.screenshot(&format!("{}-no-webrtc-{label}", page.name())).await?;
        }
    }
    Ok(())
}

/// The page says the browser cannot make the call for lack of `missing`, and shows nothing else.
async fn told_unsupported(page: &Browser, missing: &str, label: &str) -> Result<()> {
    let seen = page.js(JS_BOOT, vec![]).await?;
    let message = seen["message"].as_str().unwrap_or_default();
    check(
        seen["boot"] == "unsupported"
            && message.starts_with("This browser cannot make the call.")
            && message.contains(missing)
            && seen["lobby"] == false
            && seen["status"] != "Loading…",
        || format!("{} ({label}): without {missing} the page shows {seen}", page.name()),
    )
}
