//! The call's controls as the person using them sees them, between two real headless Chromium
//! peers: turning the camera off and on again and sharing the screen (what the other person's
//! video shows), and the "Copy link" button (what lands on the clipboard, and that the other
//! person gets in with it).
//!
//! Ignored by plain `cargo test`, like call.rs: the `browser` step of `cargo xtask test` runs them
//! inside a loopback-only network namespace.

// Shared with call.rs and the other scenarios; these use only part of it.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::browser::controls::{Picture, TrackState};
use harness::{
    check, connected_with_media, frames_advancing, poll, start_waiting, Browser, Probe, Result, Stage, MEDIA_LIMIT,
};

/// A state change driven by signaling on loopback: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);
/// Between two looks at a moving picture: Chromium's fake camera turns its pac-man and counts
/// frames at 20–30 fps, so a fraction of a second changes part of the frame.
const MOTION_WINDOW: Duration = Duration::from_millis(700);
/// The share of a frame that must change over [`MOTION_WINDOW`] for the picture to count as live.
/// Measured here: 4–15 % of a 64×48 frame of the fake camera changes in that time; a frozen frame 0 %.
const MOTION_SHARE: f64 = 0.01;
/// A black picture must still be black this long after it first was: not one transitional frame.
const STAYS_BLACK: Duration = Duration::from_millis(1500);

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn turning_the_camera_off_shows_black_to_the_other_person_and_on_again_brings_the_picture_back() {
    let mut stage = Stage::start("camera").await;
    let outcome = camera(&mut stage).await;
    stage.finish(outcome).await;
}

/// A starts a call, B opens its link; both connected, each seeing the other's picture move.
async fn in_a_call(stage: &mut Stage) -> Result<(Browser, Browser)> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    let link = start_call(&a, &stage.server.base_url()).await?;
    b.join_by_link(&link, STATE_LIMIT).await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await?;
    frames_advancing(&[&a, &b]).await?;
    Ok((a, b))
}

async fn camera(stage: &mut Stage) -> Result<()> {
    let (a, b) = in_a_call(stage).await?;

    // Before: the camera is on and B sees A's picture move.
    camera_button(&a, false).await?;
    camera_track(&a, true).await?;
    let live = moving_picture(&b, "remote-video").await?;
    println!("camera on: B sees {live}");
    b.screenshot("b-sees-a-camera-on").await?;

    a.click("toggle-camera").await?;
    camera_button(&a, true).await?;
    camera_track(&a, false).await?;
    // A's own preview and B's view of A both go black; the call itself goes on.
    let own = a.wait_for_picture("local-video", "black", Picture::is_black, MEDIA_LIMIT).await?;
    let seen = stays_black(&b, "remote-video").await?;
    println!("camera off: A's preview {own}; B sees {seen}");
    b.wait_remote_video_playing(MEDIA_LIMIT).await?;
    let state = b.state().await?;
    check(state == "connected", || format!("B: state `{state}` after A turned the camera off"))?;
    a.screenshot("a-camera-off").await?;
    b.screenshot("b-sees-a-camera-off").await?;

    a.click("toggle-camera").await?;
    camera_button(&a, false).await?;
    camera_track(&a, true).await?;
    let own = moving_picture(&a, "local-video").await?;
    let back = moving_picture(&b, "remote-video").await?;
    frames_advancing(&[&b]).await?;
    println!("camera on again: A's preview {own}; B sees {back}");
    a.screenshot("a-camera-on-again").await?;
    b.screenshot("b-sees-a-camera-on-again").await?;
    Ok(())
}

/// `#toggle-camera` shows whether the camera is off: `aria-pressed` for assistive technology and
/// a label naming what the next press does.
async fn camera_button(a: &Browser, off: bool) -> Result<()> {
    let (pressed, label) = if off { ("true", "Camera on") } else { ("false", "Camera off") };
    a.wait_for_attr("toggle-camera", "aria-pressed", pressed, STATE_LIMIT).await?;
    a.wait_for_text("toggle-camera", label, STATE_LIMIT).await
}

/// The camera track A shows itself (and sends) is enabled or not, and never stopped: turning the
/// camera on again must not need a new permission prompt.
async fn camera_track(a: &Browser, enabled: bool) -> Result<()> {
    let tracks = a.video_tracks("local-video").await?;
    let expected = camera_tracks(enabled);
    check(tracks == expected, || format!("A: #local-video tracks {tracks:?}, expected {expected:?}"))
}

/// Waits until the video with this id shows a picture that moves; returns the later frame.
async fn moving_picture(browser: &Browser, id: &str) -> Result<Picture> {
    let what = format!("{}: #{id} shows a moving picture", browser.name());
    poll(&what, MEDIA_LIMIT, Duration::from_millis(100), || async {
        let before = browser.picture(id).await?;
        tokio::time::sleep(MOTION_WINDOW).await;
        let after = browser.picture(id).await?;
        let moved = after.changed_share(&before);
        let seen = format!("{after}, {:.2}% changed", 100.0 * moved);
        if before.shows_a_picture() && after.shows_a_picture() && moved >= MOTION_SHARE {
            println!("{what}: {seen}");
            Ok(Probe::Ready(after))
        } else {
            Ok(Probe::NotYet(seen))
        }
    })
    .await
}

/// Waits until the video with this id is black, and checks it still is [`STAYS_BLACK`] later.
async fn stays_black(browser: &Browser, id: &str) -> Result<Picture> {
    browser.wait_for_picture(id, "black", Picture::is_black, MEDIA_LIMIT).await?;
    tokio::time::sleep(STAYS_BLACK).await;
    let later = browser.picture(id).await?;
    check(later.is_black(), || format!("{}: #{id} was black, then showed {later}", browser.name()))?;
    Ok(later)
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn sharing_the_screen_shows_it_to_the_other_person_and_stopping_brings_the_camera_back() {
    let mut stage = Stage::start("share-screen").await;
    let outcome = share_screen(&mut stage).await;
    stage.finish(outcome).await;
}

/// A shares, B watches. The capture is Chromium's fake screen: `--use-fake-ui-for-media-stream`
/// answers getDisplayMedia's picker with it, and `--use-fake-device-for-media-stream` paints it
/// like the fake camera (green, a turning pac-man, a timer) but 16:9 where the camera is 4:3. So
/// the frame's shape, which survives the encoder scaling it, tells B's screen from B's camera.
async fn share_screen(stage: &mut Stage) -> Result<()> {
    let (a, b) = in_a_call(stage).await?;

    // Before: B sees A's camera; A's preview is the camera.
    share_button(&a, false).await?;
    camera_track(&a, true).await?;
    let camera = moving_picture(&b, "remote-video").await?;
    println!("camera: B sees {camera}");

    // The click comes through WebDriver: getDisplayMedia needs the user activation it gives.
    a.click("share-screen").await?;
    share_button(&a, true).await?;
    let screen = screen_track(&a).await?;
    println!("sharing: A's preview shows {screen:?}");
    preview_style(&a, "screen", false).await?;
    // Were the fake screen shaped like the camera, nothing below could tell them apart.
    let own = moving_shape(&a, "local-video", "the screen, not the camera's shape", |p| !p.same_shape(&camera)).await?;
    let seen = shaped_like(&b, &own, "A's screen").await?;
    println!("sharing: A's preview {own}; B sees {seen}");
    let state = b.state().await?;
    check(state == "connected", || format!("B: state `{state}` while A shares the screen"))?;
    a.screenshot("a-shares-the-screen").await?;
    b.screenshot("b-sees-a-screen").await?;

    a.click("share-screen").await?;
    camera_is_back(&a, &b, &camera, "A stopped sharing").await?;
    a.screenshot("a-stopped-sharing").await?;
    b.screenshot("b-sees-a-camera-again").await?;

    // The capture can also end outside the page (the browser's own "Stop sharing" bar, a
    // closed window): the button and what B sees follow the same way.
    a.click("share-screen").await?;
    share_button(&a, true).await?;
    screen_track(&a).await?;
    shaped_like(&b, &own, "A's screen, shared again").await?;
    a.end_screen_capture("local-video").await?;
    camera_is_back(&a, &b, &camera, "the browser ended A's capture").await?;
    b.screenshot("b-sees-a-camera-after-the-capture-ended").await?;
    Ok(())
}

/// `#share-screen` offers sharing, or says sharing is on: `aria-pressed` for assistive
/// technology and a label naming what the next press does. Enabled either way: the browser
/// has getDisplayMedia and A has a camera to switch back to.
async fn share_button(a: &Browser, sharing: bool) -> Result<()> {
    let (pressed, label) = if sharing { ("true", "Stop sharing") } else { ("false", "Share screen") };
    a.wait_for_attr("share-screen", "aria-pressed", pressed, STATE_LIMIT).await?;
    a.wait_for_text("share-screen", label, STATE_LIMIT).await?;
    let disabled = a.attr("share-screen", "disabled").await?;
    check(disabled.is_none(), || format!("A: #share-screen is disabled (sharing: {sharing})"))
}

/// What A's preview holds when it shows the camera: its one track, live, on or off.
fn camera_tracks(enabled: bool) -> [TrackState; 1] {
    [TrackState { enabled, ready_state: "live".to_owned(), surface: None }]
}

/// A's preview shows one live screen capture, not the camera.
async fn screen_track(a: &Browser) -> Result<TrackState> {
    let what = "A: #local-video shows a live screen capture";
    poll(what, STATE_LIMIT, Duration::from_millis(100), || async {
        match a.video_tracks("local-video").await?.as_slice() {
            [track] if track.surface.is_some() && track.enabled && track.ready_state == "live" => {
                Ok(Probe::Ready(track.clone()))
            }
            tracks => Ok(Probe::NotYet(format!("tracks {tracks:?}"))),
        }
    })
    .await
}

/// The computed `transform` of A's preview.
const JS_PREVIEW_TRANSFORM: &str = "const v = document.getElementById('local-video'); \
    arguments[arguments.length - 1](v ? getComputedStyle(v).transform : null);";

/// A's preview says what it shows (`data-source`, and its label), and is mirrored only for the
/// camera: a shared screen's text must read the right way round.
async fn preview_style(a: &Browser, source: &str, mirrored: bool) -> Result<()> {
    let marked = a.attr("local-video", "data-source").await?;
    check(marked.as_deref() == Some(source), || format!("A: #local-video data-source {marked:?}, expected {source}"))?;
    let transform = a.js_async(JS_PREVIEW_TRANSFORM).await?;
    // A mirror is `matrix(-1, 0, 0, 1, 0, 0)`; none is `none`.
    let is_mirrored = transform.as_str().is_some_and(|t| t.starts_with("matrix(-1"));
    check(is_mirrored == mirrored, || format!("A: #local-video ({source}) has transform {transform}"))
}

/// After sharing ends (`why`): the button offers sharing again, A's preview is the camera, live
/// and on, and B's picture has the camera's shape again and moves.
async fn camera_is_back(a: &Browser, b: &Browser, camera: &Picture, why: &str) -> Result<()> {
    share_button(a, false).await?;
    poll(&format!("A: #local-video shows the camera after {why}"), STATE_LIMIT, Duration::from_millis(100), || async {
        let tracks = a.video_tracks("local-video").await?;
        let expected = camera_tracks(true);
        Ok(if tracks == expected { Probe::Ready(()) } else { Probe::NotYet(format!("tracks {tracks:?}")) })
    })
    .await?;
    preview_style(a, "camera", true).await?;
    let seen = shaped_like(b, camera, &format!("A's camera after {why}")).await?;
    frames_advancing(&[b]).await?;
    println!("{why}: B sees {seen}");
    Ok(())
}

/// Waits until B's remote video shows a moving picture of `model`'s shape (`what` names it).
async fn shaped_like(b: &Browser, model: &Picture, what: &str) -> Result<Picture> {
    let what = format!("{what} ({:.3} wide per high)", model.aspect());
    moving_shape(b, "remote-video", &what, |picture| picture.same_shape(model)).await
}

/// Waits until the video with this id shows a moving picture whose shape is `wanted`
/// (described by `what`); returns it.
async fn moving_shape(browser: &Browser, id: &str, what: &str, wanted: impl Fn(&Picture) -> bool) -> Result<Picture> {
    let what = format!("{}: #{id} shows {what}", browser.name());
    poll(&what, MEDIA_LIMIT, Duration::from_millis(100), || async {
        let picture = moving_picture(browser, id).await?;
        if wanted(&picture) {
            Ok(Probe::Ready(picture))
        } else {
            Ok(Probe::NotYet(format!("{picture} ({:.3} wide per high)", picture.aspect())))
        }
    })
    .await
}

/// What the page puts on the clipboard before the button is pressed, so the test can tell.
const NOT_COPIED: &str = "e2e: nothing copied yet";

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn copy_link_puts_the_room_link_on_the_clipboard_and_the_other_person_joins_with_it() {
    let mut stage = Stage::start("copy-link").await;
    let outcome = copy_link(&mut stage).await;
    stage.finish(outcome).await;
}

async fn copy_link(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let link = start_call(&a, &stage.server.base_url()).await?;
    let address = a.url().await?;
    check(link == address, || format!("#call-link shows {link:?}, the address bar {address:?}"))?;

    // Reading the clipboard back is the test's doing and would prompt: granted as a person would.
    // Writing it from the button's click needs no permission in Chromium.
    a.set_permission("clipboard-read", "granted").await?;
    a.write_clipboard(NOT_COPIED).await?;
    let before = a.read_clipboard().await?;
    check(before == NOT_COPIED, || format!("the clipboard holds {before:?} before the click"))?;
    a.wait_for_text("copy-link", "Copy link", STATE_LIMIT).await?;

    a.click("copy-link").await?;
    a.wait_for_text("copy-link", "Copied", STATE_LIMIT).await?;
    let copied = a.read_clipboard().await?;
    check(copied == link, || format!("the clipboard holds {copied:?}, the page's link is {link:?}"))?;
    println!("copied: {copied}");
    a.screenshot("a-link-copied").await?;
    // The label is a moment's confirmation: it offers to copy again by itself.
    a.wait_for_text("copy-link", "Copy link", STATE_LIMIT).await?;

    copy_refused(&a, &link).await?;

    // The copied text is the way in: B opens it and the two are in one call.
    let b = stage.open_browser("b").await?;
    b.join_by_link(&copied, STATE_LIMIT).await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await?;
    b.screenshot("b-joined-with-the-copied-link").await?;
    Ok(())
}

/// When the browser refuses the clipboard, the button does not claim success and the link is
/// selected, so the person can copy it by hand.
async fn copy_refused(a: &Browser, link: &str) -> Result<()> {
    a.write_clipboard(NOT_COPIED).await?;
    a.set_permission("clipboard-write", "denied").await?;
    let all = (0, link.chars().count() as u64);
    let selected = a.selection("call-link").await?;
    check(selected != all, || format!("#call-link is selected already: {selected:?}"))?;

    a.click("copy-link").await?;
    a.wait_for_text("copy-link", "Copy link", STATE_LIMIT).await?;
    poll("a: the link selected for copying by hand", STATE_LIMIT, Duration::from_millis(100), || async {
        match a.selection("call-link").await? {
            selected if selected == all => Ok(Probe::Ready(())),
            selected => Ok(Probe::NotYet(format!("#call-link selection {selected:?} of {all:?}"))),
        }
    })
    .await?;
    let held = a.read_clipboard().await?;
    check(held == NOT_COPIED, || format!("a refused copy still changed the clipboard to {held:?}"))?;
    a.screenshot("a-copy-refused").await?;
    Ok(())
}

/// A opens `/` and starts a call; returns the link to share (`#call-link`) once A waits.
async fn start_call(a: &Browser, base_url: &str) -> Result<String> {
    a.goto(base_url).await?;
    let link = start_waiting(a, STATE_LIMIT).await?;
    let room = link.strip_prefix(base_url).and_then(|query| query.strip_prefix("?room="));
    check(room.is_some_and(|room| room.len() == 16), || {
        format!("#call-link {link:?} is not {base_url}?room=<16-character id>")
    })?;
    Ok(link)
}

#[test]
fn pictures_are_told_apart() {
    let size = (harness::browser::controls::PICTURE_SIZE.0 * harness::browser::controls::PICTURE_SIZE.1) as usize;
    let black = Picture::new(640, 480, vec![1; size]);
    assert!(black.is_black() && !black.shows_a_picture());
    let green = Picture::new(640, 480, vec![80; size]);
    assert!(green.shows_a_picture() && !green.is_black());
    assert_eq!(green.changed_share(&green), 0.0);
    let mut moved = vec![80; size];
    moved[..size / 10].fill(200);
    let moved = Picture::new(640, 480, moved);
    assert!((moved.changed_share(&green) - 0.1).abs() < 0.01);
    // A dark frame with a few bright specks is not black.
    let mut specks = vec![0; size];
    specks[..size / 20].fill(255);
    assert!(!Picture::new(640, 480, specks).is_black());
}

#[test]
fn frames_are_told_apart_by_shape_at_any_size() {
    let picture = |width, height| Picture::new(width, height, Vec::new());
    let (camera, screen) = (picture(640, 480), picture(800, 450));
    assert!(!screen.same_shape(&camera));
    // Scaled down by the sender, with sizes rounded to even numbers.
    assert!(picture(266, 150).same_shape(&screen) && picture(320, 240).same_shape(&camera));
    assert!(!picture(0, 0).same_shape(&picture(0, 0)));
}
