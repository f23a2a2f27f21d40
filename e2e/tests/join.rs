//! Before and around the call, between real headless Chromium peers: the pre-join screen of the
//! person who opens a link (preview, microphone level, device lists, name, **Join**), switching a
//! device mid-call without renegotiating (chosen, or taken again when a camera is unplugged), the link shown while the starter's camera prompt is
//! still open, a full room answered before any camera request, and a refused camera explained on
//! the stage with **Try again**. Screenshots at desktop and phone size.
//!
//! Ignored by plain `cargo test`, like call.rs: the `browser` step of `cargo xtask test` runs them
//! inside a loopback-only network namespace.

// Shared with call.rs and the other scenarios; these use only part of it.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::{
    check, connected_with_media, frames_advancing, poll, press_start_call, start_waiting, Browser, Probe, Result, Stage,
};
use serde_json::{json, Value};

/// A state change driven by signaling on loopback: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);

/// Counts the page's `getUserMedia` calls in `window.__gum`, and holds each one until the test
/// calls `window.__gumRelease()` (a permission prompt the person has not answered yet) or, with
/// `window.__gumRefuse`, rejects it as a refusal. Installed before the page's own scripts.
const JS_GUM_CONTROL: &str = r#"
(() => {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const original = devices.getUserMedia.bind(devices);
  const gum = window.__gum = { calls: 0, settled: 0, hold: false, waiting: [] };
  window.__gumRelease = () => { gum.hold = false; gum.waiting.splice(0).forEach(go => go()); };
  devices.getUserMedia = constraints => {
    gum.calls += 1;
    const run = () => window.__gumRefuse
      ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError'))
      : original(constraints);
    const result = gum.hold ? new Promise(go => gum.waiting.push(go)).then(run) : run();
    return result.finally(() => { gum.settled += 1; });
  };
})();
"#;

/// `window.__gum`'s counts.
const JS_GUM_COUNTS: &str = "const g = window.__gum; return g ? {calls: g.calls, settled: g.settled} : null;";

/// The options of the three device lists, and what the lists say is chosen.
const JS_DEVICE_LISTS: &str = "const read = id => { const s = document.getElementById(id); \
      return {value: s.value, options: Array.from(s.options).map(o => ({id: o.value, label: o.textContent}))}; }; \
    return {camera: read('camera-select'), mic: read('mic-select'), speaker: read('speaker-select')};";

/// Chooses the option `arguments[1]` in the list `arguments[0]` as a person does (a `change`).
const JS_CHOOSE: &str = "const s = document.getElementById(arguments[0]); s.value = arguments[1]; \
    s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;";

/// The labels of the tracks a video element shows, and the ids of the received ones.
const JS_TRACKS: &str = "const v = document.getElementById(arguments[0]); const s = v && v.srcObject; \
    if (!s) return null; return s.getTracks().map(t => ({kind: t.kind, id: t.id, label: t.label, state: t.readyState}));";

/// How many cameras the call's Devices menu offers.
const JS_MENU_CAMERAS: &str = "return document.querySelectorAll('#device-settings #camera-select option').length;";

/// Whether an element is shown (not hidden, and laid out).
const JS_SHOWN: &str =
    "const e = document.getElementById(arguments[0]); return !!e && !e.hidden && e.getClientRects().length > 0;";

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_link_opens_the_prejoin_screen_and_a_device_switch_keeps_the_call() {
    let mut stage = Stage::start("prejoin").await;
    let outcome = prejoin(&mut stage).await;
    stage.finish(outcome).await;
}

async fn prejoin(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    let link = start_call(&a, &stage.server.base_url()).await?;

    b.goto(&link).await?;
    b.wait_for_state("prejoin", STATE_LIMIT).await?;
    // The preview plays, and the level meter moves with the fake microphone's beeps.
    poll("b: the preview plays", STATE_LIMIT, Duration::from_millis(100), || async {
        let sample = b.video("prejoin-video").await?;
        Ok(if sample.width > 0 { Probe::Ready(()) } else { Probe::NotYet(format!("{sample:?}")) })
    })
    .await?;
    poll("b: the microphone level moves", STATE_LIMIT, Duration::from_millis(50), || async {
        let level = b.js("return document.getElementById('prejoin-level').value;", vec![]).await?;
        Ok(if level.as_f64().unwrap_or(0.0) > 0.0 { Probe::Ready(()) } else { Probe::NotYet(format!("{level}")) })
    })
    .await?;
    // The lists name the fake devices (labels come with the permission).
    let lists = poll("b: the device lists name the devices", STATE_LIMIT, Duration::from_millis(200), || async {
        let lists = b.js(JS_DEVICE_LISTS, vec![]).await?;
        let named = |kind: &str| {
            lists[kind]["options"].as_array().is_some_and(|o| !o.is_empty() && o.iter().all(|o| o["label"] != ""))
        };
        Ok(if named("camera") && named("mic") { Probe::Ready(lists.clone()) } else { Probe::NotYet(lists.to_string()) })
    })
    .await?;
    println!("b's device lists: {lists}");
    let focused = b.js("return document.activeElement && document.activeElement.id;", vec![]).await?;
    check(focused == json!("join-button"), || format!("the pre-join screen focuses {focused}, not Join"))?;
    b.screenshot("b-prejoin-desktop").await?;
    check(a.state().await? == "connecting" || a.state().await? == "waiting", || "A's state while B gets ready".into())?;

    b.type_into("display-name", "Ada Lovelace").await?;
    b.press_join(STATE_LIMIT).await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await?;
    let stored = b.js("return localStorage.getItem('connect.name');", vec![]).await?;
    check(stored == json!("Ada Lovelace"), || format!("the name is remembered as {stored}"))?;
    b.screenshot("b-connected-after-join").await?;
    // Both people's device menus hold the lists, the starter's too (it never saw the pre-join screen).
    for browser in [&a, &b] {
        let count = browser.js(JS_MENU_CAMERAS, vec![]).await?;
        check(count.as_u64().unwrap_or(0) > 0, || format!("{}: the Devices menu lists no camera", browser.name()))?;
    }

    switch_microphone(&a, &b, &lists).await?;
    camera_unplugged(&a, &b).await?;
    Ok(())
}

/// Ends B's camera track as an unplugged camera does and fires `devicechange`.
const JS_UNPLUG_CAMERA: &str = "const s = document.getElementById('local-video').srcObject; \
    const t = s && s.getVideoTracks()[0]; if (!t) return null; t.stop(); \
    navigator.mediaDevices.dispatchEvent(new Event('devicechange')); return t.id;";

/// B's camera goes away mid-call (its track ends, the browser fires `devicechange`): B takes the
/// chosen camera again and sends it on the same sender, so A keeps receiving the same video
/// track, with pictures moving, and nothing is renegotiated.
async fn camera_unplugged(a: &Browser, b: &Browser) -> Result<()> {
    let received_before = track(a, "remote-video", "video").await?;
    let unplugged = b.js(JS_UNPLUG_CAMERA, vec![]).await?;
    check(unplugged.is_string(), || "b: no camera track to unplug".to_owned())?;
    poll("b: a new camera track is sent", STATE_LIMIT, Duration::from_millis(100), || async {
        let sent = track(b, "local-video", "video").await?;
        Ok(if sent["id"] != unplugged && sent["state"] == "live" {
            Probe::Ready(())
        } else {
            Probe::NotYet(sent.to_string())
        })
    })
    .await?;
    let kept = call_kept(a, b, "video", &received_before, "after the camera came back").await?;
    println!("b's camera came back after an unplug; A kept video track {kept}");
    b.screenshot("b-camera-back-after-unplug").await?;
    Ok(())
}

/// B chooses another microphone mid-call: B's outgoing audio track is the new device's, A's
/// received audio track is the same one as before (replaced, not renegotiated into a new
/// transceiver), and the call stays connected with pictures moving both ways.
async fn switch_microphone(a: &Browser, b: &Browser, lists: &Value) -> Result<()> {
    let options = lists["mic"]["options"].as_array().cloned().unwrap_or_default();
    let current = lists["mic"]["value"].as_str().unwrap_or_default().to_owned();
    let other = options.iter().find(|o| o["id"] != current.as_str() && o["id"] != "default");
    let Some(other) = other else {
        return Err(harness::Failure::new(format!("only one microphone to choose from: {options:?}")));
    };
    let (id, label) = (other["id"].as_str().unwrap_or_default(), other["label"].as_str().unwrap_or_default());
    let received_before = track(a, "remote-video", "audio").await?;
    b.click("device-settings").await.ok(); // opens the menu (a <details>), as a person would
    b.js(JS_CHOOSE, vec![json!("mic-select"), json!(id)]).await?;
    poll("b: the new microphone is sent", STATE_LIMIT, Duration::from_millis(100), || async {
        let sent = track(b, "local-video", "audio").await?;
        Ok(if sent["label"] == label { Probe::Ready(()) } else { Probe::NotYet(sent.to_string()) })
    })
    .await?;
    println!("b switched its microphone to {label:?}");
    call_kept(a, b, "audio", &received_before, "after the switch").await?;
    b.screenshot("b-device-menu-after-switch").await?;
    Ok(())
}

/// After B changed a device (`after`): both still connected, pictures moving both ways, and A
/// still receives the same live `kind` track as `before` (replaced on B's sender, not
/// renegotiated into a new transceiver). Returns the track's id.
async fn call_kept(a: &Browser, b: &Browser, kind: &str, before: &Value, after: &str) -> Result<Value> {
    for browser in [a, b] {
        let state = browser.state().await?;
        check(state == "connected", || format!("{}: state `{state}` {after}", browser.name()))?;
    }
    frames_advancing(&[a, b]).await?;
    let received = track(a, "remote-video", kind).await?;
    check(received["id"] == before["id"] && received["state"] == "live", || {
        format!("A's received {kind} changed from {before} to {received}: renegotiated?")
    })?;
    Ok(received["id"].clone())
}

/// The `kind` track (`audio` or `video`) a video element shows.
async fn track(browser: &Browser, video: &str, kind: &str) -> Result<Value> {
    let tracks = browser.js(JS_TRACKS, vec![json!(video)]).await?;
    let found = tracks.as_array().and_then(|t| t.iter().find(|t| t["kind"] == kind).cloned());
    found.ok_or_else(|| harness::Failure::new(format!("{}: #{video} has no {kind} track: {tracks}", browser.name())))
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn the_link_comes_before_the_camera_prompt_is_answered_and_a_full_room_asks_for_no_camera() {
    let mut stage = Stage::start("link-before-prompt").await;
    let outcome = link_before_prompt(&mut stage).await;
    stage.finish(outcome).await;
}

async fn link_before_prompt(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    a.before_page_scripts(JS_GUM_CONTROL).await?;
    a.before_page_scripts("window.__gum && (window.__gum.hold = true);").await?;
    let link = start_call(&a, &stage.server.base_url()).await?;
    let counts = a.js(JS_GUM_COUNTS, vec![]).await?;
    check(counts == json!({"calls": 1, "settled": 0}), || {
        format!("A has its link while the camera request should be unanswered, but getUserMedia: {counts}")
    })?;
    a.wait_for_text_containing("media-panel", "asking", STATE_LIMIT).await?;
    a.screenshot("a-waiting-while-the-prompt-is-open").await?;
    a.js("window.__gumRelease();", vec![]).await?;
    poll("a: the camera preview plays once allowed", STATE_LIMIT, Duration::from_millis(100), || async {
        let sample = a.video("local-video").await?;
        Ok(if sample.width > 0 { Probe::Ready(()) } else { Probe::NotYet(format!("{sample:?}")) })
    })
    .await?;
    let panel = a.js(JS_SHOWN, vec![json!("media-panel")]).await?;
    check(panel == json!(false), || "the permission panel stays after the answer".into())?;
    link_is_shared_whole_and_as_a_qr_code(&a, &link).await?;

    let b = stage.open_browser("b").await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await?;
    invite_during_the_call(&a, &link).await?;

    let c = stage.open_browser("c").await?;
    c.before_page_scripts(JS_GUM_CONTROL).await?;
    c.goto(&link).await?;
    c.wait_for_state("full", STATE_LIMIT).await?;
    let counts = c.js(JS_GUM_COUNTS, vec![]).await?;
    check(counts == json!({"calls": 0, "settled": 0}), || format!("the third person was asked for media: {counts}"))?;
    c.screenshot("c-full-without-a-camera-request").await?;
    focused(&c, "new-call").await?;
    stage.close_browser(&c).await?;

    let phone = stage.open_phone("phone").await?;
    phone.before_page_scripts(JS_GUM_CONTROL).await?;
    phone.goto(&link).await?;
    phone.wait_for_state("full", STATE_LIMIT).await?;
    focused(&phone, "new-call").await?;
    phone.screenshot("phone-full").await?;
    // "Start a new call" is the way on: a new room, and its link at once.
    phone.click("new-call").await?;
    phone.wait_for_state("waiting", STATE_LIMIT).await?;
    let new_link = phone.call_link(STATE_LIMIT).await?;
    check(new_link != link, || "Start a new call gave the full room's link again".into())?;
    let whole = phone.js(JS_SHOWN, vec![json!("call-link-text")]).await?;
    let text = phone.text("call-link-text").await?.unwrap_or_default();
    check(whole == json!(true) && text == new_link, || format!("the phone shows {text:?}, not the whole link"))?;
    phone.screenshot("phone-waiting-whole-link").await?;
    Ok(())
}

/// The waiting screen shows the whole link as text where an input would cut it, and a QR code
/// of it (an inline SVG made by the page).
async fn link_is_shared_whole_and_as_a_qr_code(a: &Browser, link: &str) -> Result<()> {
    let text = a.text("call-link-text").await?.unwrap_or_default();
    check(text == link, || format!("#call-link-text says {text:?}, not {link:?}"))?;
    let svg = a
        .js("const s = document.querySelector('#qr-code svg'); return s ? s.getAttribute('viewBox') : null;", vec![])
        .await?;
    // Version 4 (33 modules) or so for a link of this length, plus the quiet zone of 8.
    let side = svg.as_str().and_then(|v| v.split(' ').nth(2)).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    check((29..=49).contains(&side), || format!("no QR code of the link on the waiting screen: viewBox {svg}"))?;
    let shown = a.js(JS_SHOWN, vec![json!("qr-code")]).await?;
    check(shown == json!(true), || "the QR code is hidden on a desktop".into())?;
    a.screenshot("a-waiting-with-qr-code").await.map(drop)
}

/// During the call the link stays one click away: **Invite** opens it with its QR code.
async fn invite_during_the_call(a: &Browser, link: &str) -> Result<()> {
    a.click("invite-button").await?;
    a.wait_for_attr("invite-button", "aria-expanded", "true", STATE_LIMIT).await?;
    let text = a.text("invite-link").await?.unwrap_or_default();
    let qr = a.js("return !!document.querySelector('#invite-qr svg');", vec![]).await?;
    check(text == link && qr == json!(true), || format!("the Invite panel shows {text:?}, QR code {qr}"))?;
    a.screenshot("a-invite-during-the-call").await?;
    a.click("invite-button").await?;
    a.wait_for_attr("invite-button", "aria-expanded", "false", STATE_LIMIT).await
}

/// Fails unless keyboard focus is on the button with this id.
async fn focused(browser: &Browser, id: &str) -> Result<()> {
    let what = format!("{}: focus on #{id}", browser.name());
    poll(&what, STATE_LIMIT, Duration::from_millis(100), || async {
        let active = browser.js("return document.activeElement && document.activeElement.id;", vec![]).await?;
        Ok(if active == json!(id) { Probe::Ready(()) } else { Probe::NotYet(format!("focus on {active}")) })
    })
    .await
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn every_screen_that_ends_the_call_offers_the_next_step_and_takes_focus() {
    let mut stage = Stage::start("next-steps").await;
    let outcome = next_steps(&mut stage).await;
    stage.finish(outcome).await;
}

async fn next_steps(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    let link = start_call(&a, &stage.server.base_url()).await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await?;

    a.click("hang-up").await?;
    a.wait_for_state("ended", STATE_LIMIT).await?;
    focused(&a, "rejoin").await?;
    check(a.js(JS_SHOWN, vec![json!("new-call")]).await? == json!(true), || {
        "no Start a new call after hanging up".into()
    })?;
    a.screenshot("a-ended").await?;
    b.wait_for_state("peer-left", STATE_LIMIT).await?;
    focused(&b, "copy-link").await?;
    b.screenshot("b-peer-left").await?;

    let base = stage.server.base_url();
    a.goto(&format!("{base}?room=not*a*room")).await?;
    a.wait_for_state("error", STATE_LIMIT).await?;
    focused(&a, "new-call").await?;
    a.screenshot("a-bad-link").await?;
    let phone = stage.open_phone("phone").await?;
    phone.goto(&format!("{base}?room=not*a*room")).await?;
    phone.wait_for_state("error", STATE_LIMIT).await?;
    focused(&phone, "new-call").await?;
    phone.screenshot("phone-bad-link").await?;

    // The server is gone: the page says so, offers Try again, and Try again gets in once it is back.
    phone.goto(&base).await?;
    stage.server.kill().await?;
    press_start_call(&phone, STATE_LIMIT).await?;
    phone.wait_for_state("error", Duration::from_secs(30)).await?;
    focused(&phone, "retry-button").await?;
    phone.screenshot("phone-server-unreachable").await?;
    stage.server.restart().await?;
    phone.click("retry-button").await?;
    phone.wait_for_state("waiting", STATE_LIMIT).await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_phone_joins_through_the_prejoin_screen_and_a_refused_camera_is_explained_with_try_again() {
    let mut stage = Stage::start("prejoin-phone").await;
    let outcome = phone_and_refusal(&mut stage).await;
    stage.finish(outcome).await;
}

async fn phone_and_refusal(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let phone = stage.open_phone("phone").await?;
    phone.before_page_scripts(JS_GUM_CONTROL).await?;
    phone.before_page_scripts("window.__gumRefuse = true;").await?;
    let link = start_call(&a, &stage.server.base_url()).await?;
    phone.goto(&link).await?;
    phone.wait_for_state("prejoin", STATE_LIMIT).await?;
    phone.wait_for_text_containing("permission-hint", "blocked", STATE_LIMIT).await?;
    phone.screenshot("phone-prejoin-refused").await?;
    phone.press_join(STATE_LIMIT).await?;
    a.wait_for_state("connected", STATE_LIMIT).await?;
    phone.wait_for_state("connected", STATE_LIMIT).await?;
    phone.wait_for_text_containing("media-panel", "blocked", STATE_LIMIT).await?;
    let help = phone.text("media-panel-help").await?.unwrap_or_default();
    check(help.contains("left of the address bar") && help.contains("Try again"), || {
        format!("the panel does not say how to allow the camera in Chromium: {help:?}")
    })?;
    for (control, why) in [("toggle-mic", "mic-why"), ("toggle-camera", "camera-why")] {
        let described = phone.attr(control, "aria-describedby").await?;
        let title = phone.attr(control, "title").await?.unwrap_or_default();
        check(described.as_deref() == Some(why) && title.contains("refused"), || {
            format!("#{control} does not say why it is disabled: title {title:?}, described by {described:?}")
        })?;
    }
    phone.screenshot("phone-call-refused").await?;

    // The person allows the camera and presses Try again: the other side sees them.
    phone.js("window.__gumRefuse = false;", vec![]).await?;
    phone.click("media-retry").await?;
    connected_with_media(&[&a, &phone], STATE_LIMIT).await?;
    poll("a: sees the phone's picture", STATE_LIMIT, Duration::from_millis(200), || async {
        let shown = phone.js(JS_SHOWN, vec![json!("media-panel")]).await?;
        let sample = a.video("remote-video").await?;
        Ok(if sample.width > 0 && shown == json!(false) {
            Probe::Ready(())
        } else {
            Probe::NotYet(format!("{sample:?}, panel shown {shown}"))
        })
    })
    .await?;
    frames_advancing(&[&a, &phone]).await?;
    phone.screenshot("phone-call-after-try-again").await?;
    Ok(())
}

/// A opens `/` and starts a call; returns the link once A waits for the other person.
async fn start_call(a: &Browser, base_url: &str) -> Result<String> {
    a.goto(base_url).await?;
    start_waiting(a, STATE_LIMIT).await
}
