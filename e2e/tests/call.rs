//! A 1:1 call between two real headless Chromium peers through the real signaling server, driven
//! only through the page's DOM contract (see `index.html`): the acceptance test of the web client.
//!
//! Ignored by plain `cargo test`: they need Chromium, chromedriver and a built `dist/`. The
//! `browser` step of `cargo xtask test` builds everything and runs them inside a network namespace
//! that has nothing but loopback, so ICE cannot wander onto a real interface.

mod harness;

use std::time::{Duration, Instant};

use harness::{
    check, connected_with_media, frames_advancing, poll, start_waiting, Browser, Context as _, Failure, Probe, Result,
    Stage, MEDIA_LIMIT,
};

/// A state change driven by signaling on loopback: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);
/// Recovering from a reload or a server restart includes the client's reconnect backoff.
const RECOVERY_LIMIT: Duration = Duration::from_secs(20);
/// How long the signaling server stays down in the restart scenario.
const SERVER_DOWNTIME: Duration = Duration::from_secs(3);

/// Prints each step with the seconds since the test started, so a CI log reads as a timeline.
struct Timeline(Instant);

impl Timeline {
    fn start() -> Self {
        Timeline(Instant::now())
    }

    fn mark(&self, what: impl std::fmt::Display) {
        println!("[{:6.1} s] {what}", self.0.elapsed().as_secs_f64());
    }
}

/// The harness itself: the server serves the built client and its health, and comes back on the
/// same port after a kill. No browser; pinpoints a broken `dist/` or binary before the slow tests.
#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn signaling_serves_the_built_client_and_restarts_on_its_port() {
    let mut stage = Stage::start("serves_client").await;
    let outcome = serves_client(&mut stage).await;
    stage.finish(outcome).await;
}

async fn serves_client(stage: &mut Stage) -> Result<()> {
    let (status, _) = stage.server.get("/healthz").await?;
    check(status == 200, || format!("GET /healthz answered {status}"))?;

    let (status, page) = stage.server.get("/").await?;
    let page = String::from_utf8_lossy(&page).into_owned();
    check(status == 200, || format!("GET / answered {status}"))?;
    for needle in ["id=\"start-call\"", "data-call-state", "id=\"remote-video\""] {
        check(page.contains(needle), || format!("GET / lacks {needle}: is dist/ the trunk build of index.html?"))?;
    }
    // trunk links the hashed wasm from index.html; it must be served, as WebAssembly.
    let wasm = wasm_path(&page).ok_or_else(|| Failure::new("index.html references no .wasm file"))?;
    let (status, body) = stage.server.get(&wasm).await?;
    check(status == 200 && body.starts_with(b"\0asm"), || format!("GET {wasm}: {status}, not WebAssembly"))?;

    let addr = stage.server.addr();
    stage.server.restart().await?;
    check(stage.server.addr() == addr, || format!("restarted on {} instead of {addr}", stage.server.addr()))?;
    let (status, _) = stage.server.get("/healthz").await?;
    check(status == 200, || format!("GET /healthz after the restart answered {status}"))
}

/// The first `/….wasm` path referenced by the page trunk built.
fn wasm_path(page: &str) -> Option<String> {
    let end = page.find(".wasm")? + ".wasm".len();
    let start = page[..end].rfind(['"', '\''])? + 1;
    let path = page[start..end].trim_start_matches("./");
    Some(if path.starts_with('/') { path.to_owned() } else { format!("/{path}") })
}

/// A getUserMedia call with the fake devices: the kinds of the tracks, sorted, or an error string.
const JS_FAKE_MEDIA: &str = "const done = arguments[arguments.length - 1]; \
    navigator.mediaDevices.getUserMedia({audio: true, video: true}).then(s => { \
      const kinds = s.getTracks().map(t => t.kind).sort(); s.getTracks().forEach(t => t.stop()); done(kinds); \
    }).catch(e => done('error: ' + e.name + ': ' + e.message));";

/// The host candidates one RTCPeerConnection gathers with no ICE servers configured.
const JS_HOST_CANDIDATES: &str = "const done = arguments[arguments.length - 1]; \
    const pc = new RTCPeerConnection(); const found = []; pc.createDataChannel('probe'); \
    pc.onicecandidate = e => { if (e.candidate) { found.push(e.candidate.candidate); } \
      else { pc.close(); done(found); } }; \
    pc.createOffer().then(o => pc.setLocalDescription(o)).catch(e => done('error: ' + e));";

/// The environment, not the client: headless Chromium starts in the namespace, has a fake camera
/// and microphone, and gathers ICE candidates on loopback (`--allow-loopback-in-peer-connection`).
#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn headless_chromium_has_fake_media_and_loopback_candidates() {
    let mut stage = Stage::start("environment").await;
    let outcome = environment(&mut stage).await;
    stage.finish(outcome).await;
}

async fn environment(stage: &mut Stage) -> Result<()> {
    let browser = stage.open_browser("env").await?;
    browser.goto("data:text/html,<title>e2e-probe</title><p>ok</p>").await?;
    let title = browser.title().await?;
    check(title == "e2e-probe", || format!("data: page title {title:?}"))?;

    // getUserMedia needs a secure context; http://127.0.0.1 is one, a data: URL is not.
    browser.goto(&format!("{}healthz", stage.server.base_url())).await?;
    let kinds = browser.js_async(JS_FAKE_MEDIA).await?;
    check(kinds == serde_json::json!(["audio", "video"]), || format!("fake media devices gave {kinds}"))?;

    let candidates = browser.js_async(JS_HOST_CANDIDATES).await?;
    let count = candidates.as_array().map_or(0, Vec::len);
    check(count > 0, || format!("no ICE candidates on loopback: {candidates}"))?;
    println!("loopback ICE candidates: {candidates}");

    // The emulated phone the layout tests use: its viewport, touch and a mobile user agent.
    let phone = stage.open_phone("env-phone").await?;
    // The page itself: a phone lays out a page without a viewport meta tag 980 px wide.
    phone.goto(&stage.server.base_url()).await?;
    let seen = phone.js(JS_PHONE, vec![]).await?;
    let expected = serde_json::json!({"width": 390, "height": 844, "touch": true, "mobile": true});
    check(seen == expected, || format!("the emulated phone looks like {seen}, expected {expected}"))?;
    Ok(())
}

/// What a page sees of the device it runs on.
const JS_PHONE: &str = "return {width: window.innerWidth, height: window.innerHeight, \
    touch: navigator.maxTouchPoints > 0, mobile: /Mobile/.test(navigator.userAgent)};";

/// The whole call, in one session of the server and two browsers, because each step starts
/// from where the previous one left the call.
#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn two_people_call_chat_mute_reload_and_survive_a_server_restart() {
    let mut stage = Stage::start("call").await;
    let outcome = call(&mut stage).await;
    stage.finish(outcome).await;
}

async fn call(stage: &mut Stage) -> Result<()> {
    let time = Timeline::start();
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    time.mark("two browser sessions open");

    let link = start_call(&a, &stage.server.base_url()).await?;
    time.mark(format!("A started a call and waits; link {link}"));
    join_by_link(&a, &b, &link, &time).await?;

    a.send_chat("hello from A", STATE_LIMIT).await?;
    b.wait_for_chat("hello from A", STATE_LIMIT).await?;
    b.send_chat("hello from B", STATE_LIMIT).await?;
    a.wait_for_chat("hello from B", STATE_LIMIT).await?;
    time.mark("chat delivered both ways");
    chat_flood_is_bounded_and_direction_overrides_dropped(&a, &b).await?;
    time.mark("a chat flood from A: B keeps the newest lines only");

    a.click("toggle-mic").await?;
    a.wait_for_attr("toggle-mic", "aria-pressed", "true", STATE_LIMIT).await?;
    a.wait_for_attr("local-video", "data-audio-enabled", "false", STATE_LIMIT).await?;
    time.mark("A muted: button pressed, outgoing audio track disabled");

    third_person_finds_the_room_full(stage, &link).await?;
    for browser in [&a, &b] {
        let state = browser.state().await?;
        check(state == "connected", || {
            format!("{}: state `{state}` after a third person tried to join", browser.name())
        })?;
    }
    time.mark("a third person got `full`; the call went on");

    let reloaded = Instant::now();
    b.reload().await?;
    b.wait_for_state("connected", RECOVERY_LIMIT).await?;
    connected_with_media(&[&a, &b], RECOVERY_LIMIT).await?;
    frames_advancing(&[&a, &b]).await?;
    time.mark(format!("B reloaded and is back in the call after {} ms", reloaded.elapsed().as_millis()));
    b.screenshot("b-after-reload").await?;

    survive_a_server_restart(stage, &a, &b, &time).await?;

    a.click("hang-up").await?;
    b.wait_for_state("peer-left", STATE_LIMIT).await?;
    b.screenshot("b-peer-left").await?;
    time.mark(format!("A hung up (A shows `{}`); B shows `peer-left`", a.state().await?));
    Ok(())
}

/// B opens A's link: prints how long until B decodes A's first frame, then both are `connected`
/// with playing video over a direct path.
async fn join_by_link(a: &Browser, b: &Browser, link: &str, time: &Timeline) -> Result<()> {
    let opened = Instant::now();
    b.join_by_link(link, STATE_LIMIT).await?;
    poll("b: first remote frame", STATE_LIMIT, Duration::from_millis(50), || b.first_remote_frame()).await?;
    println!("link opened → first remote frame: {} ms", opened.elapsed().as_millis());
    connected_with_media(&[a, b], STATE_LIMIT).await?;
    for browser in [a, b] {
        let sample = browser.check_remote_video_size().await?;
        let path = browser.attr("call-stats", "data-path").await?;
        let rtt = browser.attr("call-stats", "data-rtt-ms").await?;
        let (name, width, height) = (browser.name(), sample.width, sample.height);
        time.mark(format!("{name}: connected, remote video {width}x{height}, path {path:?}, rtt {rtt:?} ms"));
        browser.screenshot(&format!("{name}-connected")).await?;
    }
    // Two browsers on one machine with no TURN configured can only be connected directly.
    for browser in [a, b] {
        browser.wait_for_attr("call-stats", "data-path", "direct", MEDIA_LIMIT).await?;
    }
    Ok(())
}

/// A opens `/` and starts a call; returns the link to share once A waits for the other person.
async fn start_call(a: &Browser, base_url: &str) -> Result<String> {
    a.goto(base_url).await?;
    let link = start_waiting(a, STATE_LIMIT).await?;
    check(link.starts_with(base_url) && link.contains("room="), || {
        format!("#call-link {link:?} is not a link to {base_url}?room=…")
    })?;
    a.screenshot("a-waiting").await?;
    Ok(link)
}

async fn third_person_finds_the_room_full(stage: &mut Stage, link: &str) -> Result<()> {
    let c = stage.open_browser("c").await?;
    c.goto(link).await?;
    c.wait_for_state("full", STATE_LIMIT).await?;
    c.screenshot("c-full").await?;
    // Closed at once, so it neither retries the join nor takes CPU from the call.
    stage.close_browser(&c).await
}

/// Kills the signaling server mid-call: media keeps flowing peer to peer while it is down, and
/// both clients rejoin the restarted server (same port, empty rooms) and are `connected` again.
async fn survive_a_server_restart(stage: &mut Stage, a: &Browser, b: &Browser, time: &Timeline) -> Result<()> {
    stage.server.kill().await?;
    let down = Instant::now();
    time.mark("signaling server killed");
    for browser in [a, b] {
        browser.wait_remote_video_playing(SERVER_DOWNTIME).await.context("while the server is down")?;
    }
    frames_advancing(&[a, b]).await.context("while the server is down")?;
    let states = format!("A `{}`, B `{}`", a.state().await?, b.state().await?);
    time.mark(format!("server down: media still flowing both ways; states {states}"));
    if let Some(rest) = SERVER_DOWNTIME.checked_sub(down.elapsed()) {
        tokio::time::sleep(rest).await;
    }

    stage.server.restart().await?;
    let back = Instant::now();
    time.mark(format!(
        "signaling server restarted on {} after {} ms down",
        stage.server.addr(),
        down.elapsed().as_millis()
    ));
    // The fresh server knows no rooms: two seats taken again means both clients rejoined it.
    let server = &stage.server;
    poll("both clients rejoin the restarted server", RECOVERY_LIMIT, Duration::from_millis(200), || async {
        match server.metric("signaling_peers_joined").await? {
            Some(peers) if peers >= 2.0 => Ok(Probe::Ready(())),
            peers => Ok(Probe::NotYet(format!("signaling_peers_joined {peers:?}"))),
        }
    })
    .await?;
    connected_with_media(&[a, b], RECOVERY_LIMIT).await?;
    frames_advancing(&[a, b]).await?;
    time.mark(format!("both rejoined and connected {} ms after the restart", back.elapsed().as_millis()));
    Ok(())
}

#[test]
fn wasm_path_is_found_in_trunk_output() {
    let page = r#"<link rel="preload" href="/webclient-1a2b_bg.wasm" crossorigin type="application/wasm" as="fetch">"#;
    assert_eq!(wasm_path(page).as_deref(), Some("/webclient-1a2b_bg.wasm"));
    assert_eq!(wasm_path("init('./x_bg.wasm')").as_deref(), Some("/x_bg.wasm"));
    assert_eq!(wasm_path("<p>no module</p>"), None);
}

/// Submits the chat form `count` times, yielding to the page between submits so the app sends
/// each line before the input changes again.
const JS_CHAT_FLOOD: &str = r#"
const done = arguments[arguments.length - 1];
const input = document.getElementById('chat-input');
const form = document.getElementById('chat-form');
(async () => {
  for (let i = 0; i < 600; i++) {
    input.value = 'flood ' + i;
    form.requestSubmit();
    await new Promise(r => setTimeout(r, 0));
  }
  input.value = 'file\u202Efdp.exe';
  form.requestSubmit();
  done(true);
})();
"#;

/// The other side keeps a bounded chat log (the newest lines) and shows no bidirectional
/// override a sender put in.
async fn chat_flood_is_bounded_and_direction_overrides_dropped(a: &Browser, b: &Browser) -> Result<()> {
    a.js_async(JS_CHAT_FLOOD).await?;
    b.wait_for_chat("filefdp.exe", STATE_LIMIT).await?;
    let log = b.chat_log().await?;
    check(log.len() <= 500, || format!("B's chat log holds {} lines, more than 500", log.len()))?;
    check(log.iter().any(|l| l.contains("flood 599")), || "the newest flood line is kept".into())?;
    check(!log.iter().any(|l| l.ends_with("flood 0")), || "the oldest flood line was dropped".into())?;
    check(!log.iter().any(|l| l.contains('\u{202E}')), || "no override character is shown".into())
}
