//! The call screen as the two people see it, between real headless Chromium peers on a desktop
//! and an emulated phone: each side's microphone and camera state reaching the other's tile
//! (a placeholder that says "Camera off" instead of black video, a muted mark, the name), the
//! controls and layout, and the page's lifecycle.
//!
//! Ignored by plain `cargo test`, like call.rs: the `browser` step of `cargo xtask test` runs them
//! inside a loopback-only network namespace.

// Shared with call.rs and the other scenarios; these use only part of it.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::{
    check, connected_with_media, poll, press_start_call, start_and_join, start_waiting, Browser, Probe, Result, Stage,
};
use serde_json::{json, Value};

/// A state change driven by signaling or the data channel on loopback: well under a second.
const STATE_LIMIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// What a person sees of an element: whether it is rendered, its text, and whether it is the
/// topmost thing at its own centre (not covered by something else).
const JS_SEEN: &str = "const e = document.getElementById(arguments[0]); \
    if (!e) return null; const r = e.getBoundingClientRect(); \
    const shown = !e.hidden && e.getClientRects().length > 0 && r.width > 0 && r.height > 0; \
    const top = shown ? document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) : null; \
    return {shown, text: e.textContent.trim(), on_top: !!top && (top === e || e.contains(top)), \
      label: e.getAttribute('aria-label'), rect: [r.left, r.top, r.width, r.height]};";

/// An element as a person sees it (see [`JS_SEEN`]).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    shown: bool,
    text: String,
    on_top: bool,
    label: Option<String>,
    rect: [f64; 4],
}

async fn seen(browser: &Browser, id: &str) -> Result<Seen> {
    let value = browser.js(JS_SEEN, vec![json!(id)]).await?;
    let rect = value.get("rect").and_then(Value::as_array).cloned().unwrap_or_default();
    let at = |i: usize| rect.get(i).and_then(Value::as_f64).unwrap_or(0.0);
    Ok(Seen {
        shown: value.get("shown").and_then(Value::as_bool).unwrap_or(false),
        text: value.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
        on_top: value.get("on_top").and_then(Value::as_bool).unwrap_or(false),
        label: value.get("label").and_then(Value::as_str).map(str::to_owned),
        rect: [at(0), at(1), at(2), at(3)],
    })
}

/// Waits until the body attribute `name` is `expected` (`None`: absent).
async fn body_attr(browser: &Browser, name: &str, expected: Option<&str>) -> Result<()> {
    let what = format!("{}: <body {name}={expected:?}>", browser.name());
    poll(&what, STATE_LIMIT, POLL, || async {
        let value = browser.attr_of_body(name).await?;
        Ok(if value.as_deref() == expected { Probe::Ready(()) } else { Probe::NotYet(format!("{value:?}")) })
    })
    .await
}

/// Waits until `#id` is shown on top with text containing `text`, or is not shown (`None`).
async fn shows(browser: &Browser, id: &str, text: Option<&str>) -> Result<Seen> {
    let what = format!("{}: #{id} {}", browser.name(), text.map_or("hidden".to_owned(), |t| format!("shows {t:?}")));
    poll(&what, STATE_LIMIT, POLL, || async {
        let seen = seen(browser, id).await?;
        let ready = match text {
            Some(text) => seen.shown && seen.on_top && seen.text.contains(text),
            None => !seen.shown,
        };
        Ok(if ready { Probe::Ready(seen) } else { Probe::NotYet(format!("{seen:?}")) })
    })
    .await
}

/// Whether the muted mark of `side` (`remote`/`local`) is shown with this accessible name.
async fn mic_mark(browser: &Browser, side: &str, label: Option<&str>) -> Result<()> {
    let id = format!("{side}-mic-mark");
    let what = format!("{}: #{id} {label:?}", browser.name());
    poll(&what, STATE_LIMIT, POLL, || async {
        let seen = seen(browser, &id).await?;
        let ready = match label {
            Some(label) => seen.shown && seen.label.as_deref() == Some(label),
            None => !seen.shown,
        };
        Ok(if ready { Probe::Ready(()) } else { Probe::NotYet(format!("{seen:?}")) })
    })
    .await
}

/// `localStorage['connect.name']`, where the page keeps the person's display name.
async fn set_name(browser: &Browser, name: &str) -> Result<()> {
    browser.js("localStorage.setItem('connect.name', arguments[0]); return null;", vec![json!(name)]).await.map(drop)
}

/// A (desktop, named "Ada") starts a call; B (`b`) opens its link; both connected with media.
async fn in_a_call(stage: &mut Stage, a: &Browser, b: &Browser) -> Result<()> {
    a.goto(&stage.server.base_url()).await?;
    set_name(a, "Ada").await?;
    start_and_join(a, b, STATE_LIMIT).await
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn muting_and_turning_the_camera_off_show_on_the_other_persons_tile_desktop_and_phone() {
    let mut stage = Stage::start("peer-state").await;
    let outcome = peer_state(&mut stage).await;
    stage.finish(outcome).await;
}

async fn peer_state(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a-desktop").await?;
    let b = stage.open_phone("b-phone").await?;
    in_a_call(stage, &a, &b).await?;

    // Both live: every state is `on`, no placeholder, no mark; B's tag names Ada.
    for (browser, prefix) in [(&a, "data-peer"), (&b, "data-peer"), (&a, "data-self"), (&b, "data-self")] {
        body_attr(browser, &format!("{prefix}-mic"), Some("on")).await?;
        body_attr(browser, &format!("{prefix}-camera"), Some("on")).await?;
    }
    shows(&b, "remote-placeholder", None).await?;
    mic_mark(&b, "remote", None).await?;
    shows(&b, "remote-tag", Some("Ada")).await?;
    shows(&a, "remote-tag", Some("The other person")).await?;
    a.screenshot("a-desktop-both-live").await?;
    b.screenshot("b-phone-both-live").await?;

    // A turns the camera off and mutes: B's tile says so instead of showing black and silence.
    a.click("toggle-camera").await?;
    a.click("toggle-mic").await?;
    body_attr(&b, "data-peer-camera", Some("off")).await?;
    body_attr(&b, "data-peer-mic", Some("muted")).await?;
    let placeholder = shows(&b, "remote-placeholder", Some("Camera off")).await?;
    shows(&b, "remote-initial", Some("A")).await?;
    mic_mark(&b, "remote", Some("Microphone muted")).await?;
    println!("B sees A's tile: {placeholder:?}");
    // A sees the same about itself, on its self-view.
    body_attr(&a, "data-self-camera", Some("off")).await?;
    body_attr(&a, "data-self-mic", Some("muted")).await?;
    shows(&a, "local-placeholder", Some("Camera off")).await?;
    mic_mark(&a, "local", Some("Microphone muted")).await?;
    let state = b.state().await?;
    check(state == "connected", || format!("B: state `{state}` after A's camera went off"))?;
    a.screenshot("a-desktop-camera-off-muted").await?;
    b.screenshot("b-phone-sees-a-camera-off-muted").await?;

    // The phone does the same; the desktop sees it.
    b.click("toggle-camera").await?;
    body_attr(&a, "data-peer-camera", Some("off")).await?;
    shows(&a, "remote-placeholder", Some("Camera off")).await?;
    mic_mark(&a, "remote", None).await?;
    a.screenshot("a-desktop-sees-b-camera-off").await?;
    b.screenshot("b-phone-camera-off").await?;

    // Back on: the placeholders go and the pictures are there again.
    a.click("toggle-camera").await?;
    a.click("toggle-mic").await?;
    b.click("toggle-camera").await?;
    for browser in [&a, &b] {
        body_attr(browser, "data-peer-camera", Some("on")).await?;
        body_attr(browser, "data-peer-mic", Some("on")).await?;
        shows(browser, "remote-placeholder", None).await?;
        shows(browser, "local-placeholder", None).await?;
    }
    mic_mark(&b, "remote", None).await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await?;
    a.screenshot("a-desktop-back-on").await?;

    // A hangs up: nobody is there any more, so B's page states nothing about them.
    a.click("hang-up").await?;
    b.wait_for_state("peer-left", STATE_LIMIT).await?;
    body_attr(&b, "data-peer-mic", None).await?;
    body_attr(&b, "data-peer-camera", None).await?;
    Ok(())
}

/// The rectangles of the toolbar's shown buttons, in order, as `(id, [left, top, width, height])`.
const JS_TOOLBAR: &str = "return Array.from(document.querySelectorAll('.controls button')) \
    .filter(b => b.getClientRects().length > 0) \
    .map(b => { const r = b.getBoundingClientRect(); return [b.id, [r.left, r.top, r.width, r.height]]; });";

async fn toolbar(browser: &Browser) -> Result<Vec<(String, [f64; 4])>> {
    let value = browser.js(JS_TOOLBAR, vec![]).await?;
    let rows = value.as_array().cloned().unwrap_or_default();
    Ok(rows
        .iter()
        .map(|row| {
            let id = row.get(0).and_then(Value::as_str).unwrap_or_default().to_owned();
            let r: Vec<f64> = row
                .get(1)
                .and_then(Value::as_array)
                .map_or(Vec::new(), |r| r.iter().filter_map(Value::as_f64).collect());
            (id, [0, 1, 2, 3].map(|i| r.get(i).copied().unwrap_or(0.0)))
        })
        .collect())
}

/// Waits until `#id`'s attribute `name` is `expected` (`None`: absent).
async fn attr_is(browser: &Browser, id: &str, name: &str, expected: Option<&str>) -> Result<()> {
    let what = format!("{}: #{id}[{name}={expected:?}]", browser.name());
    poll(&what, STATE_LIMIT, POLL, || async {
        let value = browser.attr(id, name).await?;
        Ok(if value.as_deref() == expected { Probe::Ready(()) } else { Probe::NotYet(format!("{value:?}")) })
    })
    .await
}

/// Waits until `#id` has the class `name`.
async fn has_class(browser: &Browser, id: &str, name: &str) -> Result<()> {
    let what = format!("{}: #{id}.{name}", browser.name());
    poll(&what, STATE_LIMIT, POLL, || async {
        let script = "const e = document.getElementById(arguments[0]); return e ? e.className : null;";
        let classes = browser.js(script, vec![json!(id)]).await?;
        let has = classes.as_str().is_some_and(|c| c.split_whitespace().any(|c| c == name));
        Ok(if has { Probe::Ready(()) } else { Probe::NotYet(format!("class {classes}")) })
    })
    .await
}

/// Waits until the focused element is `#id`.
async fn focus_on(browser: &Browser, id: &str) -> Result<()> {
    let what = format!("{}: focus on #{id}", browser.name());
    poll(&what, STATE_LIMIT, POLL, || async {
        let focused = browser.focused_id().await?;
        Ok(if focused.as_deref() == Some(id) {
            Probe::Ready(())
        } else {
            Probe::NotYet(format!("focus on {focused:?}"))
        })
    })
    .await
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn on_a_phone_the_video_gets_the_screen_controls_stay_in_one_row_and_chat_opens_as_a_sheet() {
    let mut stage = Stage::start("phone-layout").await;
    let outcome = phone_layout(&mut stage).await;
    stage.finish(outcome).await;
}

async fn phone_layout(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a-desktop").await?;
    let b = stage.open_phone("b-phone").await?;
    in_a_call(stage, &a, &b).await?;

    // One row of fixed-size buttons inside the screen; Hang up does not move when toggles change.
    let row = toolbar(&b).await?;
    println!("B's toolbar: {row:?}");
    let top = row.first().map_or(0.0, |(_, r)| r[1]);
    check(row.len() >= 4 && row.iter().all(|(_, r)| (r[1] - top).abs() < 1.0), || format!("not one row: {row:?}"))?;
    check(row.iter().all(|(_, r)| r[0] >= 0.0 && r[0] + r[2] <= 390.0), || format!("outside the screen: {row:?}"))?;
    let stage_rect = seen(&b, "remote-tile").await?.rect;
    check(stage_rect[3] >= 0.5 * 844.0, || format!("the video has only {stage_rect:?} of the 390×844 screen"))?;
    let hang_up = seen(&b, "hang-up").await?.rect;
    for id in ["toggle-mic", "toggle-camera"] {
        b.click(id).await?;
        attr_is(&b, id, "aria-pressed", Some("true")).await?;
    }
    // Toggles keep their name; the state is in aria-pressed (and the icon is struck through).
    attr_is(&b, "toggle-mic", "aria-label", Some("Mute microphone")).await?;
    attr_is(&b, "toggle-camera", "aria-label", Some("Turn camera off")).await?;
    let moved = seen(&b, "hang-up").await?.rect;
    check(moved == hang_up, || format!("Hang up moved from {hang_up:?} to {moved:?}"))?;
    b.screenshot("b-phone-muted-camera-off").await?;
    for id in ["toggle-mic", "toggle-camera"] {
        b.click(id).await?;
        attr_is(&b, id, "aria-pressed", Some("false")).await?;
    }

    // The chat is a closed sheet; a message lights the badge; opening it focuses the input.
    body_attr(&b, "data-chat", Some("closed")).await?;
    shows(&b, "chat-panel", None).await?;
    a.send_chat("hello phone", STATE_LIMIT).await?;
    shows(&b, "chat-unread", Some("1")).await?;
    b.screenshot("b-phone-unread-badge").await?;
    b.click("chat-toggle").await?;
    body_attr(&b, "data-chat", Some("open")).await?;
    shows(&b, "chat-panel", Some("hello phone")).await?;
    shows(&b, "chat-unread", None).await?;
    focus_on(&b, "chat-input").await?;
    // Each line says who wrote it, for screen readers.
    b.wait_for_chat("Ada: hello phone", STATE_LIMIT).await?;
    b.screenshot("b-phone-chat-sheet").await?;
    b.click("chat-close").await?;
    body_attr(&b, "data-chat", Some("closed")).await?;
    focus_on(&b, "chat-toggle").await?;

    // The self-view: to another corner, hidden and back, swapped with the other person.
    b.click("self-view-move").await?;
    attr_is(&b, "local-tile", "data-corner", Some("bottom-left")).await?;
    let small = seen(&b, "local-tile").await?.rect;
    check(small[0] + small[2] < 390.0 / 2.0 + 1.0, || format!("the self-view is not on the left: {small:?}"))?;
    // The other person's name tag gives way: still readable, not under the self-view.
    shows(&b, "remote-tag", Some("Ada")).await?;
    b.click("self-view-hide").await?;
    shows(&b, "local-tile", None).await?;
    attr_is(&b, "self-view-hide", "aria-pressed", Some("true")).await?;
    b.screenshot("b-phone-self-view-hidden").await?;
    b.click("self-view-hide").await?;
    let back = seen(&b, "local-tile").await?;
    check(back.shown, || "the self-view did not come back".to_owned())?;
    b.click("swap-views").await?;
    has_class(&b, "local-tile", "big").await?;
    has_class(&b, "remote-tile", "small").await?;
    let (big, little) = (seen(&b, "local-tile").await?.rect, seen(&b, "remote-tile").await?.rect);
    check(big[2] > 2.0 * little[2], || format!("swapped, yet self {big:?} and other {little:?}"))?;
    shows(&b, "local-tag", Some("You")).await?;
    b.screenshot("b-phone-swapped").await?;
    b.click("swap-views").await?;
    has_class(&b, "remote-tile", "big").await?;
    has_class(&b, "local-tile", "small").await?;

    // The timer, the quality bars and, on demand, the technical line; the title says the state.
    let timer = shows(&b, "call-timer", Some(":")).await?;
    let digits = timer.text.split(':').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
    check(digits, || format!("the timer shows {:?}", timer.text))?;
    let quality = b.attr("call-quality", "data-quality").await?;
    check(matches!(quality.as_deref(), Some("good" | "fair" | "poor")), || format!("quality {quality:?}"))?;
    let label = b.attr("call-quality", "aria-label").await?;
    check(label.as_deref().is_some_and(|l| l.starts_with("Connection: ")), || format!("quality named {label:?}"))?;
    shows(&b, "call-stats", None).await?;
    b.click("call-quality").await?;
    shows(&b, "call-stats", Some("RTT")).await?;
    attr_is(&b, "call-quality", "aria-expanded", Some("true")).await?;
    b.screenshot("b-phone-technical-line").await?;
    let title = b.title().await?;
    check(title.starts_with("In a call"), || format!("title {title:?}"))?;
    println!("phone: timer {:?}, quality {quality:?}, title {title:?}", timer.text);
    Ok(())
}

/// Each listed element's text colour and the background it sits on, as `[r, g, b]` in 0–255:
/// the first opaque background up the tree, with translucent ones composited over it.
const JS_COLOURS: &str = "const parse = c => (c.match(/[\\d.]+/g) || []).map(Number); \
    return arguments[0].map(id => { const e = document.getElementById(id); \
      if (!e || e.getClientRects().length === 0) return [id, null]; \
      const fg = parse(getComputedStyle(e).color); const layers = []; \
      for (let n = e; n; n = n.parentElement) { const b = parse(getComputedStyle(n).backgroundColor); \
        const a = b.length > 3 ? b[3] : 1; if (a > 0) { layers.push([b[0], b[1], b[2], a]); if (a >= 1) break; } } \
      let bg = [0, 0, 0]; if (layers.length && layers[layers.length - 1][3] >= 1) bg = layers.pop().slice(0, 3); \
      else bg = [255, 255, 255]; \
      for (const l of layers.reverse()) bg = bg.map((c, i) => l[i] * l[3] + c * (1 - l[3])); \
      const fa = fg.length > 3 ? fg[3] : 1; const f = fg.slice(0, 3).map((c, i) => c * fa + bg[i] * (1 - fa)); \
      return [id, [f, bg]]; });";

/// WCAG 2.x contrast ratio of two sRGB colours.
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let luminance = |c: [f64; 3]| {
        let lin = |v: f64| {
            let v = v / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The text of the call screen that must read at 4.5:1 or better (WCAG 2.2 AA).
const CONTRAST_IDS: [&str; 9] = [
    "status",
    "hang-up",
    "toggle-mic",
    "toggle-camera",
    "chat-toggle",
    "chat-send",
    "remote-name",
    "call-timer",
    "chat-log",
];

async fn contrast_of(browser: &Browser) -> Result<Vec<(String, f64)>> {
    let value = browser.js(JS_COLOURS, vec![json!(CONTRAST_IDS)]).await?;
    let mut ratios = Vec::new();
    for row in value.as_array().cloned().unwrap_or_default() {
        let id = row.get(0).and_then(Value::as_str).unwrap_or_default().to_owned();
        let colour = |i: usize| -> Option<[f64; 3]> {
            let c = row.get(1)?.get(i)?.as_array()?;
            Some([c.first()?.as_f64()?, c.get(1)?.as_f64()?, c.get(2)?.as_f64()?])
        };
        match (colour(0), colour(1)) {
            (Some(fg), Some(bg)) => ratios.push((id, contrast(fg, bg))),
            _ => return Err(harness::Failure::new(format!("{}: #{id} is not shown to measure", browser.name()))),
        }
    }
    Ok(ratios)
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn keyboard_focus_shortcuts_contrast_and_devices_released_on_leaving() {
    let mut stage = Stage::start("keyboard-contrast").await;
    let outcome = keyboard_contrast(&mut stage).await;
    stage.finish(outcome).await;
}

async fn keyboard_contrast(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    // Start a call: the pressed button disappears, focus goes to the link's Copy button.
    in_a_call_with(stage, &a, &b, |a| async move { focus_on(&a, "copy-link").await }).await?;
    let title = a.title().await?;
    check(title.starts_with("In a call"), || format!("A's title {title:?}"))?;

    // Shortcuts: M and V switch, typing in the chat does not, ? lists them, Escape closes the list.
    a.press_key('m').await?;
    attr_is(&a, "toggle-mic", "aria-pressed", Some("true")).await?;
    body_attr(&b, "data-peer-mic", Some("muted")).await?;
    a.press_key('M').await?;
    attr_is(&a, "toggle-mic", "aria-pressed", Some("false")).await?;
    a.press_key('v').await?;
    attr_is(&a, "toggle-camera", "aria-pressed", Some("true")).await?;
    a.press_key('v').await?;
    attr_is(&a, "toggle-camera", "aria-pressed", Some("false")).await?;
    a.send_chat("mv mv", STATE_LIMIT).await?;
    b.wait_for_chat("mv mv", STATE_LIMIT).await?;
    for id in ["toggle-mic", "toggle-camera"] {
        attr_is(&a, id, "aria-pressed", Some("false")).await?;
    }
    a.click("toggle-mic").await?; // focus out of the chat input, onto the toolbar
    a.click("toggle-mic").await?;
    a.press_key('?').await?;
    attr_is(&a, "shortcuts", "open", Some("")).await?;
    shows(&a, "shortcuts-list", Some("Mute or unmute the microphone")).await?;
    a.screenshot("a-shortcuts").await?;
    a.press_key(fantoccini::key::Key::Escape.into()).await?;
    attr_is(&a, "shortcuts", "open", None).await?;

    // Full screen holds the whole call, controls included; pressed again, it ends.
    a.click("fullscreen").await?;
    attr_is(&a, "fullscreen", "aria-pressed", Some("true")).await?;
    let full = a.js("return document.fullscreenElement && document.fullscreenElement.id;", vec![]).await?;
    check(full == json!("call"), || format!("full screen element {full}"))?;
    a.click("fullscreen").await?;
    attr_is(&a, "fullscreen", "aria-pressed", Some("false")).await?;

    // Contrast of the call screen's text in both themes.
    for theme in ["light", "dark"] {
        a.emulate_media("prefers-color-scheme", theme).await?;
        let ratios = contrast_of(&a).await?;
        println!("{theme} theme contrast: {ratios:?}");
        let low: Vec<_> = ratios.iter().filter(|(_, r)| *r < 4.5).collect();
        check(low.is_empty(), || format!("{theme} theme: below 4.5:1: {low:?}"))?;
        a.screenshot(&format!("a-{theme}-theme")).await?;
    }

    // Motion only for those who have not asked for less: the chat sheet's and tooltips' transitions.
    for (motion, expected) in [("no-preference", "0.15s"), ("reduce", "0s")] {
        a.emulate_media("prefers-reduced-motion", motion).await?;
        let script = "return getComputedStyle(document.querySelector('#toggle-mic .tip')).transitionDuration;";
        let duration = a.js(script, vec![]).await?;
        check(duration == json!(expected), || {
            format!("prefers-reduced-motion: {motion}: a tooltip fades in {duration}")
        })?;
    }

    // B leaves the page: its camera and microphone stop at once.
    b.js(JS_KEEP_TRACKS, vec![]).await?;
    b.js("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false})); return null;", vec![]).await?;
    tracks_ended(&b).await?;
    // A hangs up: focus goes to Rejoin, and A's devices stop too.
    a.js(JS_KEEP_TRACKS, vec![]).await?;
    a.click("hang-up").await?;
    a.wait_for_state("ended", STATE_LIMIT).await?;
    tracks_ended(&a).await?;
    focus_on(&a, "rejoin").await?;
    shows(&a, "local-tile", None).await?;
    a.screenshot("a-ended-focus-on-rejoin").await?;
    Ok(())
}

/// Keeps the self-view's tracks where the test can look at them after the page lets go.
const JS_KEEP_TRACKS: &str = "const s = document.getElementById('local-video').srcObject; \
    window.e2eTracks = s ? s.getTracks() : []; return window.e2eTracks.length;";

/// Every kept track is `ended`: the device is released, not just muted or hidden.
async fn tracks_ended(browser: &Browser) -> Result<()> {
    let what = format!("{}: camera and microphone tracks ended", browser.name());
    poll(&what, STATE_LIMIT, POLL, || async {
        let states =
            browser.js("return (window.e2eTracks || []).map(t => t.kind + ':' + t.readyState);", vec![]).await?;
        let all = states.as_array().cloned().unwrap_or_default();
        let ended = all.len() == 2 && all.iter().all(|s| s.as_str().is_some_and(|s| s.ends_with(":ended")));
        Ok(if ended { Probe::Ready(()) } else { Probe::NotYet(format!("{states}")) })
    })
    .await
}

/// [`in_a_call`], checking `while_waiting` on A before B opens the link.
async fn in_a_call_with<F, Fut>(stage: &mut Stage, a: &Browser, b: &Browser, while_waiting: F) -> Result<()>
where
    F: FnOnce(Browser) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    a.goto(&stage.server.base_url()).await?;
    set_name(a, "Ada").await?;
    let link = start_waiting(a, STATE_LIMIT).await?;
    while_waiting(a.clone()).await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    connected_with_media(&[a, b], STATE_LIMIT).await
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn when_the_browser_blocks_sound_tap_to_hear_plays_it_and_the_screen_stays_awake() {
    let mut stage = Stage::start("tap-to-hear").await;
    let outcome = tap_to_hear(&mut stage).await;
    stage.finish(outcome).await;
}

/// The remote video's playback as the page sees it.
const JS_REMOTE_PLAYBACK: &str = "const v = document.getElementById('remote-video'); \
    return {paused: v.paused, muted: v.muted, audio: v.srcObject ? v.srcObject.getAudioTracks().length : 0};";

async fn tap_to_hear(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    // B has no camera or microphone, opens the link and touches nothing: under a phone's
    // autoplay policy the page may not play A's sound yet.
    let b = stage.open_browser_with_autoplay_policy("b-autoplay-policy", false).await?;
    a.goto(&stage.server.base_url()).await?;
    press_start_call(&a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    b.wait_for_state("connected", STATE_LIMIT).await?;
    // Join was a click, which lets the page play sound; after a reload the page goes straight
    // back into the call with no gesture, as a phone does when it wakes the tab.
    b.reload().await?;
    b.wait_for_state("connected", STATE_LIMIT).await?;
    let button = shows(&b, "tap-to-hear", Some("Tap to hear")).await?;
    let before = b.js(JS_REMOTE_PLAYBACK, vec![]).await?;
    println!("B before the tap: {before}, button {button:?}");
    // The picture plays without sound meanwhile; the sound waits for the tap.
    check(before["muted"] == json!(true) && before["audio"] == json!(1), || format!("B's remote video: {before}"))?;
    b.wait_remote_video_playing(STATE_LIMIT).await?;
    b.screenshot("b-tap-to-hear").await?;
    b.click("tap-to-hear").await?;
    shows(&b, "tap-to-hear", None).await?;
    b.wait_remote_video_playing(STATE_LIMIT).await?;
    let after = b.js(JS_REMOTE_PLAYBACK, vec![]).await?;
    check(after["paused"] == json!(false) && after["muted"] == json!(false), || format!("after the tap: {after}"))?;
    b.screenshot("b-hears").await?;

    // A, who pressed Start a call, never needed the button; A's page holds a screen wake lock.
    shows(&a, "tap-to-hear", None).await?;
    for browser in [&a, &b] {
        let lock = browser.attr_of_body("data-wake-lock").await?;
        println!("{}: data-wake-lock {lock:?}", browser.name());
    }
    body_attr(&a, "data-wake-lock", Some("held")).await?;
    a.click("hang-up").await?;
    body_attr(&a, "data-wake-lock", Some("released")).await?;
    Ok(())
}
