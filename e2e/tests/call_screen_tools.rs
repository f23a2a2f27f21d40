//! The call screen's remaining tools, each as a person uses it between a desktop and an
//! emulated phone: a shared screen said on both tiles, and the Invite panel's Copy button.
//! call_screen.rs covers the tiles, layout, focus and contrast; this file what it left.
//!
//! Ignored by plain `cargo test`, like call.rs: the `browser` step of `cargo xtask test` runs them
//! inside a loopback-only network namespace.

// Shared with call.rs and the other scenarios; these use only part of it.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::{check, connected_with_media, poll, press_start_call, Browser, Probe, Result, Stage};
use serde_json::json;

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
    press_start_call(a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    connected_with_media(&[a, b], STATE_LIMIT).await
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
    Ok(())
}
