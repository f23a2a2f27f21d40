//! One headless browser session (Chromium or Firefox) over WebDriver, and the page's DOM contract
//! as typed helpers: call state, the call link, videos, controls, chat, status and stats.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::driver::{BrowserKind, Driver};
use super::{check, poll, Context as _, Failure, Probe, Result};
use e2e::Paths;

#[allow(dead_code, reason = "each test binary compiles the harness; only controls.rs uses this module")]
pub mod controls;
#[allow(dead_code, reason = "each test binary compiles the harness; not every test audits or injects")]
pub mod page_tools;
#[allow(dead_code, reason = "each test binary compiles the harness; only call_screen.rs uses this module")]
pub mod screen;

/// Starting Chromium and opening a session takes 1–3 s here; generous for a loaded CI machine.
const SESSION_LIMIT: Duration = Duration::from_secs(30);
/// How often DOM conditions are re-checked while waiting.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// How long `currentTime` is watched to decide that a video plays.
const PLAYBACK_WINDOW: Duration = Duration::from_millis(500);

/// `document.body.dataset.callState`, or "" before the body exists.
const JS_STATE: &str = "return document.body ? (document.body.dataset.callState || '') : '';";
/// A video element's playback facts, or null if the element is missing.
const JS_VIDEO: &str = "const v = document.getElementById(arguments[0]); if (!v) return null; \
    return {width: v.videoWidth, height: v.videoHeight, time: v.currentTime, paused: v.paused, ready: v.readyState};";
/// Whether the first remote frame was decoded: the stats say so, or the video has a size.
const JS_FIRST_FRAME: &str = "const s = document.getElementById('call-stats'); \
    const v = document.getElementById('remote-video'); \
    return {frames: s ? Number(s.dataset.framesDecoded || 0) : 0, width: v ? v.videoWidth : 0};";
/// An element's attribute, null when absent; undefined elements also give null.
const JS_ATTR: &str =
    "const e = document.getElementById(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;";
/// An input's current value (not its attribute).
const JS_VALUE: &str = "const e = document.getElementById(arguments[0]); return e ? e.value : null;";
const JS_TEXT: &str = "const e = document.getElementById(arguments[0]); return e ? e.textContent.trim() : null;";
const JS_DISABLED: &str = "const e = document.getElementById(arguments[0]); return e ? e.disabled : null;";
const JS_CHAT_LOG: &str =
    "return Array.from(document.querySelectorAll('#chat-log li')).map(li => li.textContent.trim());";
/// Every data attribute of `#call-stats`, for failure reports.
const JS_STATS: &str =
    "const s = document.getElementById('call-stats'); return s ? Object.assign({}, s.dataset) : null;";

/// A snapshot of a `<video>` element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoSample {
    pub width: u64,
    pub height: u64,
    pub time: f64,
    pub paused: bool,
}

/// Where a session's console messages can be read.
#[derive(Clone)]
enum Console {
    /// chromedriver's log endpoint (collected under `goog:loggingPrefs`).
    Chromedriver,
    /// Firefox prints them to its stdout, which is this geckodriver log.
    DriverLog(PathBuf),
}

/// One browser; clones share the session.
#[derive(Clone)]
pub struct Browser {
    name: String,
    kind: BrowserKind,
    client: Client,
    artifacts: PathBuf,
    console: Console,
}

impl Browser {
    /// Opens a session of the browser `driver` drives: Chromium with the flags of
    /// [`e2e::chromium_args`] (without the fake camera and microphone unless `devices`) and
    /// `profile` as its fresh user-data-dir, or Firefox with [`e2e::firefox::PREFS`] in a fresh
    /// profile geckodriver creates (always with fake devices); screenshots and logs go to `artifacts`.
    pub async fn open(
        name: &str,
        driver: &Driver,
        paths: &Paths,
        profile: &Path,
        artifacts: PathBuf,
        devices: bool,
    ) -> Result<Browser> {
        std::fs::create_dir_all(profile).context(format!("creating {}", profile.display()))?;
        match driver.kind() {
            BrowserKind::Chromium => {
                let args =
                    if devices { e2e::chromium_args(profile) } else { e2e::chromium_args_without_devices(profile) };
                Browser::open_with_args(name, &driver.url(), &paths.chromium, args, artifacts).await
            }
            BrowserKind::Firefox if devices => {
                let console = Console::DriverLog(driver.log_path().to_path_buf());
                let capabilities = firefox_capabilities(paths);
                let browser =
                    Browser::connect(name, &driver.url(), BrowserKind::Firefox, capabilities, artifacts, console)
                        .await?;
                // Chromium gets its size from `--window-size`; Firefox over WebDriver's window rect.
                let (width, height) = e2e::WINDOW_SIZE;
                browser.client.set_window_size(width, height).await.context(format!("{name}: sizing the window"))?;
                Ok(browser)
            }
            BrowserKind::Firefox => Err(Failure::new("Firefox sessions always have the fake devices")),
        }
    }

    /// A Chromium session emulating a phone ([`PHONE`]: its viewport, pixel ratio, touch and a
    /// mobile user agent, through chromedriver's `mobileEmulation`), with the fake devices.
    pub async fn open_phone(
        name: &str,
        driver: &Driver,
        paths: &Paths,
        profile: &Path,
        artifacts: PathBuf,
    ) -> Result<Browser> {
        if driver.kind() != BrowserKind::Chromium {
            return Err(Failure::new("phone emulation is a Chromium session"));
        }
        std::fs::create_dir_all(profile).context(format!("creating {}", profile.display()))?;
        let mut capabilities = chromium_capabilities(&paths.chromium, e2e::chromium_args(profile));
        capabilities["goog:chromeOptions"]["mobileEmulation"] = PHONE.emulation();
        Browser::connect(name, &driver.url(), BrowserKind::Chromium, capabilities, artifacts, Console::Chromedriver)
            .await
    }

    /// A session of `chromium` with exactly `args`, through the chromedriver at `driver_url`
    /// (which may run in another network namespace: see `tests/nat.rs`).
    pub async fn open_with_args(
        name: &str,
        driver_url: &str,
        chromium: &Path,
        args: Vec<String>,
        artifacts: PathBuf,
    ) -> Result<Browser> {
        let capabilities = chromium_capabilities(chromium, args);
        Browser::connect(name, driver_url, BrowserKind::Chromium, capabilities, artifacts, Console::Chromedriver).await
    }

    /// A new WebDriver session with `capabilities` at `driver_url`.
    async fn connect(
        name: &str,
        driver_url: &str,
        kind: BrowserKind,
        capabilities: Value,
        artifacts: PathBuf,
        console: Console,
    ) -> Result<Browser> {
        let Value::Object(capabilities) = capabilities else {
            return Err(Failure::new("capabilities must be a JSON object"));
        };
        let what = format!("opening browser session {name} via {driver_url}");
        let mut builder = ClientBuilder::native();
        builder.capabilities(capabilities);
        let client = tokio::time::timeout(SESSION_LIMIT, builder.connect(driver_url))
            .await
            .map_err(|_| Failure::new(format!("{what}: no session within {} s", SESSION_LIMIT.as_secs())))?
            .context(&what)?;
        Ok(Browser { name: name.to_owned(), kind, client, artifacts, console })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    #[allow(dead_code, reason = "each test binary compiles the harness; only cross_browser.rs uses this")]
    pub fn kind(&self) -> BrowserKind {
        self.kind
    }

    /// Ends the WebDriver session, which quits this browser.
    pub async fn close(self) -> Result<()> {
        self.client.close().await.context(format!("closing session {}", self.name))
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client.goto(url).await.context(format!("{}: opening {url}", self.name))
    }

    /// Reloads the page, as the browser's reload button does.
    pub async fn reload(&self) -> Result<()> {
        self.client.refresh().await.context(format!("{}: reloading", self.name))
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client.execute(script, args).await.context(format!("{}: running a script", self.name))
    }

    async fn js_string(&self, script: &str, args: Vec<Value>) -> Result<Option<String>> {
        Ok(self.js(script, args).await?.as_str().map(str::to_owned))
    }

    /// `<body data-call-state>`.
    pub async fn state(&self) -> Result<String> {
        Ok(self.js_string(JS_STATE, vec![]).await?.unwrap_or_default())
    }

    /// Waits until the call state is `expected`; returns how long that took.
    pub async fn wait_for_state(&self, expected: &str, limit: Duration) -> Result<Duration> {
        let started = Instant::now();
        let what = format!("{}: call state `{expected}`", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            let state = self.state().await?;
            if state == expected {
                return Ok(Probe::Ready(()));
            }
            let status = self.status_text().await.unwrap_or_default();
            Ok(Probe::NotYet(format!("state `{state}`, status {status:?}")))
        })
        .await?;
        Ok(started.elapsed())
    }

    /// The `#status` line the user reads.
    pub async fn status_text(&self) -> Result<String> {
        Ok(self.js_string(JS_TEXT, vec![json!("status")]).await?.unwrap_or_default())
    }

    /// An attribute of the element with this id; `None` if absent.
    pub async fn attr(&self, id: &str, name: &str) -> Result<Option<String>> {
        self.js_string(JS_ATTR, vec![json!(id), json!(name)]).await
    }

    /// The value of `#call-link` once it holds a link to share.
    pub async fn call_link(&self, limit: Duration) -> Result<String> {
        let what = format!("{}: a link in #call-link", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            match self.js_string(JS_VALUE, vec![json!("call-link")]).await? {
                Some(link) if link.starts_with("http") => Ok(Probe::Ready(link)),
                other => Ok(Probe::NotYet(format!("value {other:?}"))),
            }
        })
        .await
    }

    /// Opens a call link as the person it was sent to: the pre-join screen, then **Join**.
    pub async fn join_by_link(&self, link: &str, limit: Duration) -> Result<()> {
        self.goto(link).await?;
        self.press_join(limit).await
    }

    /// Waits for the pre-join screen and presses `#join-button` until the page leaves it.
    pub async fn press_join(&self, limit: Duration) -> Result<()> {
        self.wait_for_state("prejoin", limit).await?;
        let what = format!("{}: #join-button joins", self.name);
        poll(&what, limit, Duration::from_millis(300), || async {
            let state = self.state().await?;
            if state != "prejoin" {
                return Ok(Probe::Ready(()));
            }
            self.click("join-button").await?;
            Ok(Probe::NotYet(format!("state `{state}`")))
        })
        .await
    }

    /// Types `text` into the input with this id, as a person does.
    #[allow(dead_code, reason = "each test binary compiles the harness; only join.rs uses this")]
    pub async fn type_into(&self, id: &str, text: &str) -> Result<()> {
        let what = format!("{}: typing into #{id}", self.name);
        let input = self.client.find(Locator::Id(id)).await.context(&what)?;
        input.clear().await.context(&what)?;
        input.send_keys(text).await.context(&what)
    }

    /// Waits until the text of the element with this id contains `needle`.
    #[allow(dead_code, reason = "each test binary compiles the harness; only join.rs uses this")]
    pub async fn wait_for_text_containing(&self, id: &str, needle: &str, limit: Duration) -> Result<()> {
        let what = format!("{}: #{id} saying {needle:?}", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            let text = self.js_string(JS_TEXT, vec![json!(id)]).await?.unwrap_or_default();
            Ok(if text.contains(needle) { Probe::Ready(()) } else { Probe::NotYet(format!("text {text:?}")) })
        })
        .await
    }

    /// Runs `source` in every document this Chromium session opens from now on, before the
    /// page's own scripts: chromedriver's CDP bridge to `Page.addScriptToEvaluateOnNewDocument`.
    /// A test can make the browser misbehave the way a real one was seen to, or hold a prompt.
    #[allow(dead_code, reason = "each test binary compiles the harness; join.rs, trust.rs and loading.rs use this")]
    pub async fn before_page_scripts(&self, source: &str) -> Result<()> {
        if self.kind != BrowserKind::Chromium {
            return Err(Failure::new("scripts before the page are a Chromium (CDP) feature"));
        }
        let command = Cdp { cmd: "Page.addScriptToEvaluateOnNewDocument", params: json!({ "source": source }) };
        self.client.issue_cmd(command).await.context(format!("{}: adding a script before the page", self.name))?;
        Ok(())
    }

    /// Clicks the element with this id as a user would (it must be visible and not covered).
    pub async fn click(&self, id: &str) -> Result<()> {
        let what = format!("{}: clicking #{id}", self.name);
        let element = self.client.find(Locator::Id(id)).await.context(&what)?;
        element.click().await.context(&what)
    }

    /// A snapshot of the video element with this id.
    pub async fn video(&self, id: &str) -> Result<VideoSample> {
        let value = self.js(JS_VIDEO, vec![json!(id)]).await?;
        let number = |key: &str| value.get(key).and_then(Value::as_f64);
        match (number("width"), number("height"), number("time")) {
            (Some(width), Some(height), Some(time)) => Ok(VideoSample {
                width: width as u64,
                height: height as u64,
                time,
                paused: value.get("paused").and_then(Value::as_bool).unwrap_or(true),
            }),
            _ => Err(Failure::new(format!("{}: no video #{id} (got {value})", self.name))),
        }
    }

    /// Whether `#remote-video` plays: it has a frame size and `currentTime` advances over
    /// [`PLAYBACK_WINDOW`]. Ready with the later sample.
    pub async fn remote_video_playing(&self) -> Result<Probe<VideoSample>> {
        let before = self.video("remote-video").await?;
        tokio::time::sleep(PLAYBACK_WINDOW).await;
        let after = self.video("remote-video").await?;
        if after.width > 0 && after.time > before.time {
            Ok(Probe::Ready(after))
        } else {
            Ok(Probe::NotYet(format!("remote video {before:?} then {after:?}")))
        }
    }

    pub async fn wait_remote_video_playing(&self, limit: Duration) -> Result<VideoSample> {
        let what = format!("{}: remote video playing", self.name);
        poll(&what, limit, POLL_EVERY, || self.remote_video_playing()).await
    }

    /// `#call-stats[data-frames-decoded]`, `None` until the client has stats.
    pub async fn frames_decoded(&self) -> Result<Option<f64>> {
        Ok(self.attr("call-stats", "data-frames-decoded").await?.and_then(|v| v.trim().parse().ok()))
    }

    /// Waits until `data-frames-decoded` grows between two readings a second apart: the remote
    /// track is being decoded now, not just a frozen last frame (stats refresh about once a second).
    pub async fn wait_frames_advancing(&self, limit: Duration) -> Result<f64> {
        let what = format!("{}: #call-stats[data-frames-decoded] growing", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            let before = self.frames_decoded().await?;
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let after = self.frames_decoded().await?;
            match (before, after) {
                (Some(before), Some(after)) if after > before => Ok(Probe::Ready(after)),
                _ => Ok(Probe::NotYet(format!("frames decoded {before:?} then {after:?}"))),
            }
        })
        .await
    }

    /// Runs an asynchronous script: its last argument is the callback that delivers the result.
    pub async fn js_async(&self, script: &str) -> Result<Value> {
        self.js_async_with(script, vec![]).await
    }

    /// [`Browser::js_async`] with `args` before the callback.
    pub async fn js_async_with(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client.execute_async(script, args).await.context(format!("{}: running an async script", self.name))
    }

    /// An attribute of `<body>` (e.g. `data-error`); `None` if absent.
    #[allow(dead_code, reason = "each test binary compiles the harness; only nat.rs uses this")]
    pub async fn attr_of_body(&self, name: &str) -> Result<Option<String>> {
        let script = "return document.body ? document.body.getAttribute(arguments[0]) : null;";
        self.js_string(script, vec![json!(name)]).await
    }

    pub async fn title(&self) -> Result<String> {
        self.client.title().await.context(format!("{}: reading the title", self.name))
    }

    /// Whether a remote frame has been decoded: `#call-stats[data-frames-decoded] > 0` or the
    /// remote video has a size. One quick probe, for tight polling.
    pub async fn first_remote_frame(&self) -> Result<Probe<()>> {
        let value = self.js(JS_FIRST_FRAME, vec![]).await?;
        let frames = value.get("frames").and_then(Value::as_f64).unwrap_or(0.0);
        let width = value.get("width").and_then(Value::as_f64).unwrap_or(0.0);
        if frames > 0.0 || width > 0.0 {
            Ok(Probe::Ready(()))
        } else {
            Ok(Probe::NotYet(format!("frames decoded {frames}, video width {width}")))
        }
    }

    /// Types `text` into `#chat-input` (once it is enabled) and submits `#chat-form` with `#chat-send`.
    pub async fn send_chat(&self, text: &str, limit: Duration) -> Result<()> {
        let what = format!("{}: #chat-input enabled", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            match self.js(JS_DISABLED, vec![json!("chat-input")]).await? {
                Value::Bool(false) => Ok(Probe::Ready(())),
                disabled => Ok(Probe::NotYet(format!("disabled: {disabled}"))),
            }
        })
        .await?;
        let what = format!("{}: typing a chat message", self.name);
        let input = self.client.find(Locator::Id("chat-input")).await.context(&what)?;
        input.clear().await.context(&what)?;
        input.send_keys(text).await.context(&what)?;
        self.click("chat-send").await
    }

    /// The text of every `#chat-log li`, oldest first.
    pub async fn chat_log(&self) -> Result<Vec<String>> {
        let value = self.js(JS_CHAT_LOG, vec![]).await?;
        let items = value.as_array().ok_or_else(|| Failure::new(format!("{}: #chat-log is not a list", self.name)))?;
        Ok(items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
    }

    /// Waits until some `#chat-log` entry contains `text`.
    pub async fn wait_for_chat(&self, text: &str, limit: Duration) -> Result<()> {
        let what = format!("{}: {text:?} in #chat-log", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            let log = self.chat_log().await?;
            if log.iter().any(|entry| entry.contains(text)) {
                Ok(Probe::Ready(()))
            } else {
                Ok(Probe::NotYet(format!("chat log {log:?}")))
            }
        })
        .await
    }

    /// Saves a PNG of the page as `<artifacts>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self.client.screenshot().await.context(format!("{}: taking screenshot {name}", self.name))?;
        let path = self.artifacts.join(format!("{}.png", e2e::artifact_file_name(name)));
        std::fs::write(&path, png).context(format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The page's console messages: for Chromium those since the last call (chromedriver's log
    /// endpoint drains them), for Firefox all of them so far (from geckodriver's log).
    pub async fn console_log(&self) -> Result<Vec<String>> {
        if let Console::DriverLog(path) = &self.console {
            let log = std::fs::read_to_string(path).context(format!("{}: reading {}", self.name, path.display()))?;
            return Ok(e2e::firefox::console_lines(&log));
        }
        let entries = self.client.issue_cmd(BrowserLog).await.context(format!("{}: reading the console", self.name))?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .map(|e| {
                let level = e.get("level").and_then(Value::as_str).unwrap_or("?");
                let message = e.get("message").and_then(Value::as_str).unwrap_or("");
                format!("{level} {message}")
            })
            .collect())
    }

    /// For a failure report: a screenshot, the page's state, status, stats and console. Never
    /// fails; whatever cannot be read is reported as such.
    pub async fn dump_diagnostics(&self, label: &str) {
        let name = &self.name;
        eprintln!("----- browser {name}:");
        match self.screenshot(&format!("{name}-{label}")).await {
            Ok(path) => eprintln!("    screenshot: {}", path.display()),
            Err(e) => eprintln!("    screenshot: {e}"),
        }
        match self.client.current_url().await {
            Ok(url) => eprintln!("    url: {url}"),
            Err(e) => eprintln!("    url: {e}"),
        }
        eprintln!("    call state: {}", shown(self.state().await));
        eprintln!("    #status: {}", shown(self.status_text().await));
        eprintln!("    #call-stats: {}", shown(self.js(JS_STATS, vec![]).await));
        eprintln!("    #remote-video: {}", shown(self.video("remote-video").await));
        eprintln!("    #chat-log: {}", shown(self.chat_log().await));
        match self.console_log().await {
            Ok(lines) => {
                let path = self.artifacts.join(format!("{}-console.log", e2e::artifact_file_name(name)));
                let _ = std::fs::write(&path, lines.join("\n"));
                eprintln!("    console ({} messages, all in {}):", lines.len(), path.display());
                for line in lines.iter().skip(lines.len().saturating_sub(30)) {
                    eprintln!("      {line}");
                }
            }
            Err(e) => eprintln!("    console: {e}"),
        }
    }

    /// Fails unless attribute `name` of `#id` becomes `expected` within `limit`.
    pub async fn wait_for_attr(&self, id: &str, name: &str, expected: &str, limit: Duration) -> Result<()> {
        let what = format!("{}: #{id}[{name}=\"{expected}\"]", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            let value = self.attr(id, name).await?;
            if value.as_deref() == Some(expected) {
                Ok(Probe::Ready(()))
            } else {
                Ok(Probe::NotYet(format!("{name}={value:?}")))
            }
        })
        .await
    }

    /// Fails unless the remote video is decoding frames of a real size.
    pub async fn check_remote_video_size(&self) -> Result<VideoSample> {
        let sample = self.video("remote-video").await?;
        check(sample.width > 0 && sample.height > 0, || {
            format!("{}: remote video has no size: {sample:?}", self.name)
        })?;
        Ok(sample)
    }
}

/// Chromium at `chromium` with exactly `args`.
fn chromium_capabilities(chromium: &Path, args: Vec<String>) -> Value {
    json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": args,
        },
        // Keeps the page's console messages for the failure report (see `console_log`).
        "goog:loggingPrefs": { "browser": "ALL" },
    })
}

/// An emulated phone: the viewport the UX review used (a 390×844 CSS-pixel phone).
pub struct Phone {
    pub width: u32,
    pub height: u32,
    pub pixel_ratio: f64,
    pub user_agent: &'static str,
}

/// The phone of [`Browser::open_phone`].
pub const PHONE: Phone = Phone {
    width: 390,
    height: 844,
    pixel_ratio: 3.0,
    user_agent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/120.0.0.0 Mobile Safari/537.36",
};

impl Phone {
    /// chromedriver's `mobileEmulation` capability for this phone.
    fn emulation(&self) -> Value {
        json!({
            "deviceMetrics": {
                "width": self.width,
                "height": self.height,
                "pixelRatio": self.pixel_ratio,
                "mobile": true,
                "touch": true,
            },
            "userAgent": self.user_agent,
        })
    }
}

/// Firefox: headless, with the preferences of [`e2e::firefox::PREFS`].
fn firefox_capabilities(paths: &Paths) -> Value {
    let prefs: serde_json::Map<String, Value> = e2e::firefox::PREFS
        .iter()
        .map(|(name, value)| {
            let value = match *value {
                e2e::firefox::Pref::Bool(b) => json!(b),
                e2e::firefox::Pref::Int(i) => json!(i),
            };
            ((*name).to_owned(), value)
        })
        .collect();
    json!({
        "browserName": "firefox",
        "moz:firefoxOptions": {
            "binary": paths.firefox,
            "args": e2e::firefox::FIREFOX_ARGS,
            "prefs": prefs,
        },
    })
}

fn shown<T: std::fmt::Debug>(result: Result<T>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!("(unreadable: {e})"),
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: one Chrome DevTools Protocol command.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// chromedriver's `POST /session/{id}/se/log` with `{"type":"browser"}`: the console messages
/// collected under `goog:loggingPrefs` (not part of W3C WebDriver, so not in fantoccini).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}
