//! A person without camera or microphone still joins: the page says so in plain words, and the
//! call works receive-only — they see the other person, and chat works both ways.

// This short scenario uses a part of the harness; the rest is compiled for nothing here.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::{check, connected_with_media, poll, press_start_call, Browser, Probe, Result, Stage};

const STATE_LIMIT: Duration = Duration::from_secs(15);

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_person_without_camera_or_microphone_joins_receive_only() {
    let mut stage = Stage::start("no-devices").await;
    let outcome = scenario(&mut stage).await;
    stage.finish(outcome).await;
}

async fn scenario(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser_without_devices("b-no-devices").await?;
    a.goto(&stage.server.base_url()).await?;
    press_start_call(&a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    // B sends nothing, so only B's remote video can be checked for media.
    connected_with_media(&[&b], STATE_LIMIT).await?;
    a.wait_for_state("connected", STATE_LIMIT).await?;
    said_no_devices(&b).await?;
    for (control, what) in [("toggle-mic", "mute"), ("toggle-camera", "camera")] {
        let disabled = b.attr(control, "disabled").await?.is_some();
        check(disabled, || format!("B has no devices, yet its {what} button is enabled"))?;
        // It says why: a tooltip, and the same words as its accessible description.
        let title = b.attr(control, "title").await?.unwrap_or_default();
        let described = b.attr(control, "aria-describedby").await?.unwrap_or_default();
        let why = b.js(JS_TEXT_OF, vec![serde_json::json!(described)]).await?;
        check(title.contains("no ") && why.as_str() == Some(title.as_str()), || {
            format!("B's {what} button does not say why it is disabled: title {title:?}, description {why}")
        })?;
    }
    said_on_the_stage(&b).await?;
    // Sharing a screen needs no camera.
    let screen_disabled = b.attr("share-screen", "disabled").await?.is_some();
    check(!screen_disabled, || "B has no camera, and screen sharing is disabled".into())?;
    no_devices_shown(&a, &b).await?;
    a.send_chat("can you see me?", STATE_LIMIT).await?;
    b.wait_for_chat("can you see me?", STATE_LIMIT).await?;
    b.send_chat("yes, but I have no camera", STATE_LIMIT).await?;
    a.wait_for_chat("yes, but I have no camera", STATE_LIMIT).await?;
    b.screenshot("b-receive-only").await?;
    Ok(())
}

/// The text of the element whose id is the first argument.
const JS_TEXT_OF: &str = "const e = document.getElementById(arguments[0]); return e ? e.textContent : null;";

/// The stage's panel says what happened and offers Try again.
async fn said_on_the_stage(b: &Browser) -> Result<()> {
    let panel = b.js(JS_TEXT_OF, vec![serde_json::json!("media-panel-title")]).await?;
    let hidden = b.attr("media-panel", "hidden").await?.is_some();
    let retry_hidden = b.attr("media-retry", "hidden").await?.is_some();
    check(!hidden && !retry_hidden && panel.as_str().is_some_and(|t| t.contains("No camera or microphone")), || {
        format!("B's stage does not say it found no devices: panel {panel}, hidden {hidden}, Try again hidden {retry_hidden}")
    })
}

async fn said_no_devices(b: &Browser) -> Result<()> {
    let log = b.chat_log().await?;
    check(log.iter().any(|line| line.contains("No camera or microphone found")), || {
        format!("B's page does not say it found no camera or microphone; chat log: {log:?}")
    })
}

/// Both pages say B has neither device: A's tile of B reads "No camera" with the no-microphone
/// mark instead of black and silence (`data-peer-*` = `none`), and B's own tile says the same.
async fn no_devices_shown(a: &Browser, b: &Browser) -> Result<()> {
    for (browser, prefix, side) in [(a, "data-peer", "remote"), (b, "data-self", "local")] {
        let what = format!("{}: {prefix}-mic/camera none, #{side}-placeholder \"No camera\"", browser.name());
        poll(&what, STATE_LIMIT, Duration::from_millis(100), || async {
            let mic = browser.attr_of_body(&format!("{prefix}-mic")).await?;
            let camera = browser.attr_of_body(&format!("{prefix}-camera")).await?;
            let shown = browser.js(JS_PLACEHOLDER, vec![serde_json::json!(side)]).await?;
            let ready = mic.as_deref() == Some("none")
                && camera.as_deref() == Some("none")
                && shown == serde_json::json!(["No camera", "No microphone"]);
            Ok(if ready {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("mic {mic:?}, camera {camera:?}, tile {shown}"))
            })
        })
        .await?;
    }
    a.screenshot("a-sees-b-without-devices").await?;
    Ok(())
}

/// A tile's placeholder text and its microphone mark's name, each only if shown.
const JS_PLACEHOLDER: &str = "const side = arguments[0]; \
    const shown = e => e && !e.hidden && e.getClientRects().length > 0; \
    const p = document.getElementById(side + '-placeholder'); \
    const m = document.getElementById(side + '-mic-mark'); \
    return [shown(p) ? document.getElementById(side + '-camera-note').textContent : null, \
      shown(m) ? m.getAttribute('aria-label') : null];";
