//! The call screen's remaining tools, each as a person uses it between a desktop and an
//! emulated phone: a shared screen said on both tiles, the Invite panel's Copy button, the F and
//! C keys, picture in picture, and the screen wake lock asked for again when the page comes back
//! into view. call_screen.rs covers the tiles, layout, focus and contrast; this file what it left.
//!
//! Ignored by plain `cargo test`, like call.rs: the `browser` step of `cargo xtask test` runs them
//! inside a loopback-only network namespace.

// Shared with call.rs and the other scenarios; these use only part of it.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::{check, connected_with_media, poll, start_and_join, Browser, Probe, Result, Stage};
use serde_json::{json, Value};

/// A state change driven by signaling or the data channel on loopback: well under a second.
const STATE_LIMIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// Whether `#id` is rendered and the topmost thing at its own centre, and its text.
const JS_SEEN: &str = "const e = document.getElementById(arguments[0]); \
    if (!e) return null; const r = e.getBoundingClientRect(); \
    const shown = e.getClientRects().length > 0 && r.width > 0 && r.height > 0; \
    const top = shown ? document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) : null; \
    return {shown, on_top: !!top && (top === e || e.contains(top)), text: e.textContent.trim()};";

/// Waits until `#id` is shown, on top, saying `text`; or until it is not shown (`None`).
async fn shows(browser: &Browser, id: &str, text: Option<&str>) -> Result<()> {
    let what = format!("{}: #{id} {}", browser.name(), text.map_or("hidden".to_owned(), |t| format!("shows {t:?}")));
    poll(&what, STATE_LIMIT, POLL, || async {
        let seen = browser.js(JS_SEEN, vec![json!(id)]).await?;
        let shown = seen["shown"] == json!(true);
        let ready = match text {
            Some(text) => shown && seen["on_top"] == json!(true) && seen["text"] == json!(text),
            None => !shown,
        };
        Ok(if ready { Probe::Ready(()) } else { Probe::NotYet(format!("{seen}")) })
    })
    .await
}

/// Waits until the script `expression` (a JS expression) gives `expected`.
async fn js_is(browser: &Browser, expression: &str, expected: Value) -> Result<()> {
    let what = format!("{}: `{expression}` is {expected}", browser.name());
    let script = format!("return {expression};");
    poll(&what, STATE_LIMIT, POLL, || async {
        let value = browser.js(&script, vec![]).await?;
        Ok(if value == expected { Probe::Ready(()) } else { Probe::NotYet(format!("{value}")) })
    })
    .await
}

/// Waits until the body attribute `name` is `expected`.
async fn body_attr(browser: &Browser, name: &str, expected: &str) -> Result<()> {
    let what = format!("{}: <body {name}={expected:?}>", browser.name());
    poll(&what, STATE_LIMIT, POLL, || async {
        let value = browser.attr_of_body(name).await?;
        Ok(if value.as_deref() == Some(expected) { Probe::Ready(()) } else { Probe::NotYet(format!("{value:?}")) })
    })
    .await
}

/// A (desktop) starts a call; B opens its link; both connected with media.
async fn in_a_call(stage: &mut Stage, a: &Browser, b: &Browser) -> Result<()> {
    a.goto(&stage.server.base_url()).await?;
    start_and_join(a, b, STATE_LIMIT).await
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_shared_screen_is_said_on_both_tiles_and_the_words_go_when_sharing_stops() {
    let mut stage = Stage::start("screen-note").await;
    let outcome = screen_note(&mut stage).await;
    stage.finish(outcome).await;
}

/// One side shares (Chromium's fake screen answers the picker, see controls.rs), the other
/// watches; then the other way round, so each size shows both notes.
async fn screen_note(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a-desktop").await?;
    let b = stage.open_phone("b-phone").await?;
    in_a_call(stage, &a, &b).await?;
    for browser in [&a, &b] {
        shows(browser, "remote-screen-note", None).await?;
        shows(browser, "local-screen-note", None).await?;
    }

    for (sharer, watcher, size) in [(&a, &b, "desktop"), (&b, &a, "phone")] {
        sharer.click("share-screen").await?;
        sharer.wait_for_attr("share-screen", "aria-pressed", "true", STATE_LIMIT).await?;
        body_attr(watcher, "data-peer-screen", "true").await?;
        shows(watcher, "remote-screen-note", Some("Sharing their screen")).await?;
        shows(sharer, "local-screen-note", Some("You are sharing your screen")).await?;
        // Only the tile showing the screen says so.
        shows(watcher, "local-screen-note", None).await?;
        shows(sharer, "remote-screen-note", None).await?;
        sharer.screenshot(&format!("{}-shares-its-screen", sharer.name())).await?;
        watcher.screenshot(&format!("{}-sees-the-{size}-share", watcher.name())).await?;

        sharer.click("share-screen").await?;
        sharer.wait_for_attr("share-screen", "aria-pressed", "false", STATE_LIMIT).await?;
        body_attr(watcher, "data-peer-screen", "false").await?;
        shows(watcher, "remote-screen-note", None).await?;
        shows(sharer, "local-screen-note", None).await?;
        watcher.screenshot(&format!("{}-after-the-{size}-share", watcher.name())).await?;
    }
    connected_with_media(&[&a, &b], STATE_LIMIT).await
}

/// What the page puts on the clipboard before Copy is pressed, so the test can tell.
const NOT_COPIED: &str = "e2e: nothing copied yet";

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn the_invite_panel_copies_the_link_during_the_call_desktop_and_phone() {
    let mut stage = Stage::start("invite-copy").await;
    let outcome = invite_copy(&mut stage).await;
    stage.finish(outcome).await;
}

async fn invite_copy(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a-desktop").await?;
    let b = stage.open_phone("b-phone").await?;
    in_a_call(stage, &a, &b).await?;
    let link = a.call_link(STATE_LIMIT).await?;

    for browser in [&a, &b] {
        // Reading the clipboard back is the test's doing: granted as a person would.
        browser.set_permission("clipboard-read", "granted").await?;
        browser.write_clipboard(NOT_COPIED).await?;
        shows(browser, "invite-copy", None).await?;
        browser.click("invite-button").await?;
        browser.wait_for_attr("invite-button", "aria-expanded", "true", STATE_LIMIT).await?;
        shows(browser, "invite-copy", Some("Copy link")).await?;
        browser.screenshot(&format!("{}-invite-panel", browser.name())).await?;

        browser.click("invite-copy").await?;
        browser.wait_for_text("invite-copy", "Copied", STATE_LIMIT).await?;
        let copied = browser.read_clipboard().await?;
        let shown = browser.call_link(STATE_LIMIT).await?;
        check(copied == shown && shown == link, || {
            format!("{}: the clipboard holds {copied:?}, #call-link {shown:?}, A's link {link:?}", browser.name())
        })?;
        browser.screenshot(&format!("{}-invite-copied", browser.name())).await?;
        // A moment's confirmation: it offers to copy again by itself; the call goes on.
        browser.wait_for_text("invite-copy", "Copy link", STATE_LIMIT).await?;
        browser.click("invite-button").await?;
        shows(browser, "invite-copy", None).await?;
        let state = browser.state().await?;
        check(state == "connected", || format!("{}: state `{state}` after copying", browser.name()))?;
    }
    invite_copy_refused(&a, &link).await
}

/// When the browser refuses the clipboard, the panel's button does not claim success and the
/// link in the panel is selected, so the person can copy it by hand.
async fn invite_copy_refused(a: &Browser, link: &str) -> Result<()> {
    a.write_clipboard(NOT_COPIED).await?;
    a.set_permission("clipboard-write", "denied").await?;
    a.click("invite-button").await?;
    shows(a, "invite-copy", Some("Copy link")).await?;
    js_is(a, "window.getSelection().toString() === ''", json!(true)).await?;
    a.click("invite-copy").await?;
    js_is(a, "window.getSelection().toString()", json!(link)).await?;
    a.wait_for_text("invite-copy", "Copy link", STATE_LIMIT).await?;
    let held = a.read_clipboard().await?;
    check(held == NOT_COPIED, || format!("a refused copy still changed the clipboard to {held:?}"))?;
    a.screenshot("a-desktop-invite-copy-refused").await.map(drop)
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn f_and_c_keys_picture_in_picture_and_the_wake_lock_after_the_page_is_hidden() {
    let mut stage = Stage::start("keys-pip-wake").await;
    let outcome = keys_pip_wake(&mut stage).await;
    stage.finish(outcome).await;
}

/// Before the page's own scripts: counts the page's `navigator.wakeLock.request` calls, and lets
/// the test say the page is hidden or shown again (`e2eVisibility(hidden)`), as a phone does when
/// its screen goes off or another app comes to the front.
const WAKE_LOCK_PROBE: &str = "window.e2eWakeLocks = 0; \
    if (window.WakeLock) { const request = WakeLock.prototype.request; \
      WakeLock.prototype.request = function (type) { window.e2eWakeLocks += 1; return request.call(this, type); }; } \
    window.e2eVisibility = hidden => { \
      if (hidden) { Object.defineProperty(document, 'hidden', {value: true, configurable: true}); \
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true}); } \
      else { delete document.hidden; delete document.visibilityState; } \
      document.dispatchEvent(new Event('visibilitychange')); };";

async fn keys_pip_wake(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a-desktop").await?;
    let b = stage.open_phone("b-phone").await?;
    a.before_page_scripts(WAKE_LOCK_PROBE).await?;
    in_a_call(stage, &a, &b).await?;

    // F: the whole call section goes full screen; F again, or Escape, leaves it.
    for leave in [fantoccini::key::Key::Escape.into(), 'F'] {
        a.press_key('f').await?;
        js_is(&a, "document.fullscreenElement && document.fullscreenElement.id", json!("call")).await?;
        a.wait_for_attr("fullscreen", "aria-pressed", "true", STATE_LIMIT).await?;
        // On the page's background, not the browser's black backdrop: the text under the stage
        // (the verification code, the chat) keeps its contrast.
        let background = "getComputedStyle(document.getElementById('call')).backgroundColor";
        js_is(&a, &format!("{background} === getComputedStyle(document.body).backgroundColor"), json!(true)).await?;
        a.screenshot("a-desktop-full-screen").await?;
        a.press_key(leave).await?;
        js_is(&a, "document.fullscreenElement", Value::Null).await?;
        a.wait_for_attr("fullscreen", "aria-pressed", "false", STATE_LIMIT).await?;
    }

    // The same on the phone, where the stage and the controls fill the screen.
    b.press_key('f').await?;
    js_is(&b, "document.fullscreenElement && document.fullscreenElement.id", json!("call")).await?;
    b.screenshot("b-phone-full-screen").await?;
    b.press_key(fantoccini::key::Key::Escape.into()).await?;
    js_is(&b, "document.fullscreenElement", Value::Null).await?;

    // C on the desktop: the chat panel beside the stage closes and opens again, focus in it.
    body_attr(&a, "data-chat", "open").await?;
    a.press_key('c').await?;
    body_attr(&a, "data-chat", "closed").await?;
    shows(&a, "chat-panel", None).await?;
    a.screenshot("a-desktop-chat-closed-by-key").await?;
    a.press_key('C').await?;
    body_attr(&a, "data-chat", "open").await?;
    js_is(&a, "document.activeElement.id", json!("chat-input")).await?;

    // C on the phone: the chat sheet opens with the focus in its input, where "c" is a letter;
    // Escape closes it; C opens it again and, once the focus is out of the input, closes it.
    body_attr(&b, "data-chat", "closed").await?;
    b.press_key('c').await?;
    body_attr(&b, "data-chat", "open").await?;
    js_is(&b, "document.activeElement.id", json!("chat-input")).await?;
    b.press_key('c').await?;
    js_is(&b, "document.getElementById('chat-input').value", json!("c")).await?;
    body_attr(&b, "data-chat", "open").await?;
    b.screenshot("b-phone-chat-by-key").await?;
    b.press_key(fantoccini::key::Key::Escape.into()).await?;
    body_attr(&b, "data-chat", "closed").await?;
    js_is(&b, "document.activeElement.id", json!("chat-toggle")).await?;
    b.press_key('C').await?;
    body_attr(&b, "data-chat", "open").await?;
    b.js("document.activeElement.blur(); return null;", vec![]).await?;
    b.press_key('c').await?;
    body_attr(&b, "data-chat", "closed").await?;
    shows(&b, "chat-panel", None).await?;

    picture_in_picture(&a).await?;

    // The wake lock: asked for once in the call; let go while the page is hidden; asked for
    // again when it shows, since the browser drops a lock when its page is hidden.
    body_attr(&a, "data-wake-lock", "held").await?;
    js_is(&a, "window.e2eWakeLocks", json!(1)).await?;
    a.js("window.e2eVisibility(true); return null;", vec![]).await?;
    body_attr(&a, "data-wake-lock", "released").await?;
    js_is(&a, "window.e2eWakeLocks", json!(1)).await?;
    a.js("window.e2eVisibility(false); return null;", vec![]).await?;
    js_is(&a, "window.e2eWakeLocks", json!(2)).await?;
    body_attr(&a, "data-wake-lock", "held").await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await
}

/// The picture-in-picture button opens the other person's video in the browser's floating
/// window and closes it again. Headless Chromium has the API; were it refused, the button must
/// not claim it open and the call must go on.
async fn picture_in_picture(a: &Browser) -> Result<()> {
    let enabled = a.js("return document.pictureInPictureEnabled === true;", vec![]).await?;
    println!("A: document.pictureInPictureEnabled {enabled}");
    if enabled != json!(true) {
        // The button is only offered where the browser has the feature.
        return shows(a, "picture-in-picture", None).await;
    }
    a.click("picture-in-picture").await?;
    let what = "A: picture in picture opened or refused";
    let opened = poll(what, STATE_LIMIT, POLL, || async {
        let element = a.js("return document.pictureInPictureElement && document.pictureInPictureElement.id;", vec![]);
        let pressed = a.attr("picture-in-picture", "aria-pressed").await?;
        match (element.await?, pressed.as_deref()) {
            (Value::String(id), Some("true")) if id == "remote-video" => Ok(Probe::Ready(true)),
            (Value::Null, Some("false")) if a.console_log().await?.iter().any(|l| l.contains("picture in picture")) => {
                Ok(Probe::Ready(false))
            }
            (element, pressed) => Ok(Probe::NotYet(format!("element {element}, aria-pressed {pressed:?}"))),
        }
    })
    .await?;
    println!("A: picture in picture {}", if opened { "opened" } else { "refused" });
    a.screenshot("a-desktop-picture-in-picture").await?;
    if opened {
        a.click("picture-in-picture").await?;
        js_is(a, "document.pictureInPictureElement", Value::Null).await?;
        a.wait_for_attr("picture-in-picture", "aria-pressed", "false", STATE_LIMIT).await?;
    }
    let state = a.state().await?;
    check(state == "connected", || format!("A: state `{state}` after picture in picture"))
}
