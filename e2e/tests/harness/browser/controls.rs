//! What the controls scenarios look at: a video's picture, a stream's tracks, texts, the
//! clipboard and permissions; and ending a screen capture as the browser would. A child of
//! `browser` so it may use the session's private parts.

use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{json, Value};

use super::{Browser, JS_TEXT, POLL_EVERY};
use crate::harness::{poll, Context as _, Failure, Probe, Result};

/// A `<video>` element's current frame, scaled to [`PICTURE_SIZE`] in a canvas, as luma bytes;
/// null while the element has no frame.
const JS_PICTURE: &str = "const v = document.getElementById(arguments[0]); \
    if (!v || !v.videoWidth) return null; \
    const [w, h] = arguments[1]; const c = document.createElement('canvas'); c.width = w; c.height = h; \
    const g = c.getContext('2d', {willReadFrequently: true}); g.drawImage(v, 0, 0, w, h); \
    const d = g.getImageData(0, 0, w, h).data; const luma = new Array(w * h); \
    for (let i = 0; i < w * h; i++) { \
      luma[i] = Math.round(0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2]); } \
    return {width: v.videoWidth, height: v.videoHeight, luma};";
/// The video tracks of a `<video>` element's `srcObject`; null without a stream. `surface` is
/// what a screen capture captures (`getSettings().displaySurface`); a camera has none.
const JS_VIDEO_TRACKS: &str = "const v = document.getElementById(arguments[0]); \
    const s = v && v.srcObject; if (!s || !s.getVideoTracks) return null; \
    return s.getVideoTracks().map(t => \
      ({enabled: t.enabled, state: t.readyState, surface: t.getSettings().displaySurface || null}));";
/// Ends the screen capture a `<video>` shows as the browser does when the person presses its own
/// "Stop sharing" bar: the track ends and `ended` fires. A page's own `stop()` fires no `ended`
/// (Media Capture and Streams, `stop()`), and headless Chromium has no bar that WebDriver could
/// press, so the script does both halves itself. An error text when there is no capture to end.
const JS_END_CAPTURE: &str = "const v = document.getElementById(arguments[0]); \
    const s = v && v.srcObject; const tracks = s && s.getVideoTracks ? s.getVideoTracks() : []; \
    const t = tracks.find(t => t.getSettings().displaySurface && t.readyState === 'live'); \
    if (!t) return 'no live screen capture in #' + arguments[0]; \
    t.stop(); t.dispatchEvent(new Event('ended')); return null;";
/// An input's selection as `[start, end]`; null without such an input.
const JS_SELECTION: &str = "const e = document.getElementById(arguments[0]); \
    return e && typeof e.selectionStart === 'number' ? [e.selectionStart, e.selectionEnd] : null;";
/// `navigator.clipboard.readText()`, or `{error}` when the browser refuses.
const JS_CLIPBOARD_READ: &str = "const done = arguments[arguments.length - 1]; \
    navigator.clipboard.readText().then(text => done({text}), e => done({error: e.name + ': ' + e.message}));";
/// `navigator.clipboard.writeText(arguments[0])`; `{error}` when the browser refuses.
const JS_CLIPBOARD_WRITE: &str = "const done = arguments[arguments.length - 1]; \
    navigator.clipboard.writeText(arguments[0]).then(() => done({}), e => done({error: e.name + ': ' + e.message}));";

/// Frames are compared at this size: enough to see a picture, small enough to move as JSON.
pub const PICTURE_SIZE: (u32, u32) = (64, 48);
/// Luma (0–255) above which a pixel counts as lit. Measured here: a disabled camera's frames
/// decode to luma 0 at both ends; Chromium's fake camera (green, brighter shapes) averages 85–95.
const LIT: u8 = 32;

/// One frame of a `<video>`, downscaled to [`PICTURE_SIZE`], as luma.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// The video's own frame size (not the downscaled one).
    pub width: u64,
    pub height: u64,
    luma: Vec<u8>,
}

impl Picture {
    pub fn new(width: u64, height: u64, luma: Vec<u8>) -> Picture {
        Picture { width, height, luma }
    }

    /// Width over height of the video's own frame; 0 without a size. A picture's shape survives
    /// the sender scaling it down, unlike its size.
    pub fn aspect(&self) -> f64 {
        if self.height == 0 {
            0.0
        } else {
            self.width as f64 / self.height as f64
        }
    }

    /// Whether both frames have the same shape, allowing for the even sizes encoders round to
    /// (800×450 scaled to 1/3 is 266×150: 1.773 against 1.778).
    pub fn same_shape(&self, other: &Picture) -> bool {
        self.aspect() > 0.0 && (self.aspect() - other.aspect()).abs() < 0.03
    }

    /// Mean luma, 0–255.
    pub fn mean(&self) -> f64 {
        if self.luma.is_empty() {
            return 0.0;
        }
        self.luma.iter().map(|&l| f64::from(l)).sum::<f64>() / self.luma.len() as f64
    }

    /// The share of pixels brighter than [`LIT`], 0–1.
    pub fn lit_share(&self) -> f64 {
        share(self.luma.iter().filter(|&&l| l > LIT).count(), self.luma.len())
    }

    /// Black as a disabled camera track sends it: dark on average and (almost) no lit pixel.
    pub fn is_black(&self) -> bool {
        self.mean() < 8.0 && self.lit_share() < 0.01
    }

    /// A picture: most of the frame lit (the fake camera fills it; a person's room does too).
    pub fn shows_a_picture(&self) -> bool {
        self.mean() > 30.0 && self.lit_share() > 0.5
    }

    /// The share of pixels whose luma differs by more than 16 from `other`'s, 0–1: how much of
    /// the picture moved between two frames.
    pub fn changed_share(&self, other: &Picture) -> f64 {
        if self.luma.len() != other.luma.len() {
            return 1.0;
        }
        let changed = self.luma.iter().zip(&other.luma).filter(|(a, b)| a.abs_diff(**b) > 16).count();
        share(changed, self.luma.len())
    }
}

impl std::fmt::Display for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (mean, lit) = (self.mean(), 100.0 * self.lit_share());
        write!(f, "{}x{} frame, mean luma {mean:.1}, {lit:.1}% lit", self.width, self.height)
    }
}

fn share(count: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    }
}

/// A `MediaStreamTrack`'s switches as the page sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackState {
    /// `track.enabled`: false when muted/turned off (a disabled video track sends black frames).
    pub enabled: bool,
    /// `track.readyState`: `live`, or `ended` once stopped.
    pub ready_state: String,
    /// What a screen capture captures (`monitor`, `window`, `browser`); `None` for a camera.
    pub surface: Option<String>,
}

/// Helpers for the controls scenarios: pictures, tracks, texts, the clipboard and permissions.
impl Browser {
    /// The trimmed text of `#id`; `None` if there is no such element.
    pub async fn text(&self, id: &str) -> Result<Option<String>> {
        self.js_string(JS_TEXT, vec![json!(id)]).await
    }

    /// Waits until the text of `#id` is `expected`.
    pub async fn wait_for_text(&self, id: &str, expected: &str, limit: Duration) -> Result<()> {
        let what = format!("{}: #{id} says {expected:?}", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            match self.text(id).await? {
                Some(text) if text == expected => Ok(Probe::Ready(())),
                other => Ok(Probe::NotYet(format!("text {other:?}"))),
            }
        })
        .await
    }

    /// The selected part of the input `#id` as character offsets `(start, end)`.
    pub async fn selection(&self, id: &str) -> Result<(u64, u64)> {
        let value = self.js(JS_SELECTION, vec![json!(id)]).await?;
        match value.as_array().map(|a| (a.first().and_then(Value::as_u64), a.get(1).and_then(Value::as_u64))) {
            Some((Some(start), Some(end))) => Ok((start, end)),
            _ => Err(Failure::new(format!("{}: #{id} is no input with a selection (got {value})", self.name))),
        }
    }

    /// The address in the address bar (after any `history.pushState`).
    pub async fn url(&self) -> Result<String> {
        let url = self.client.current_url().await.context(format!("{}: reading the URL", self.name))?;
        Ok(url.to_string())
    }

    /// The current frame of the `<video>` with this id; an error while it has none.
    pub async fn picture(&self, id: &str) -> Result<Picture> {
        let size = json!([PICTURE_SIZE.0, PICTURE_SIZE.1]);
        let value = self.js(JS_PICTURE, vec![json!(id), size]).await?;
        let number = |key: &str| value.get(key).and_then(Value::as_u64);
        let luma: Option<Vec<u8>> = value
            .get("luma")
            .and_then(Value::as_array)
            .map(|values| values.iter().filter_map(Value::as_u64).map(|l| l.min(255) as u8).collect());
        match (number("width"), number("height"), luma) {
            (Some(width), Some(height), Some(luma)) if luma.len() == (PICTURE_SIZE.0 * PICTURE_SIZE.1) as usize => {
                Ok(Picture::new(width, height, luma))
            }
            _ => Err(Failure::new(format!("{}: #{id} has no frame to draw", self.name))),
        }
    }

    /// Waits until the frame of `#id` satisfies `wanted` (described by `what`); returns it.
    pub async fn wait_for_picture(
        &self,
        id: &str,
        what: &str,
        wanted: fn(&Picture) -> bool,
        limit: Duration,
    ) -> Result<Picture> {
        let what = format!("{}: #{id} {what}", self.name);
        poll(&what, limit, POLL_EVERY, || async {
            let picture = self.picture(id).await?;
            if wanted(&picture) {
                Ok(Probe::Ready(picture))
            } else {
                Ok(Probe::NotYet(picture.to_string()))
            }
        })
        .await
    }

    /// The video tracks the `<video>` with this id shows (its `srcObject`); empty without a stream.
    pub async fn video_tracks(&self, id: &str) -> Result<Vec<TrackState>> {
        let value = self.js(JS_VIDEO_TRACKS, vec![json!(id)]).await?;
        let tracks = value.as_array().cloned().unwrap_or_default();
        Ok(tracks
            .iter()
            .map(|t| TrackState {
                enabled: t.get("enabled").and_then(Value::as_bool).unwrap_or(false),
                ready_state: t.get("state").and_then(Value::as_str).unwrap_or("").to_owned(),
                surface: t.get("surface").and_then(Value::as_str).map(str::to_owned),
            })
            .collect())
    }

    /// Ends the screen capture the `<video>` with this id shows, as the browser does when the
    /// capture ends outside the page (see [`JS_END_CAPTURE`]); fails if it shows none.
    pub async fn end_screen_capture(&self, id: &str) -> Result<()> {
        match self.js(JS_END_CAPTURE, vec![json!(id)]).await? {
            Value::Null => Ok(()),
            other => Err(Failure::new(format!("{}: ending the screen capture: {other}", self.name))),
        }
    }

    /// Grants (`"granted"`) or refuses (`"denied"`) a permission such as `clipboard-read` to the
    /// current page's origin, as a person answering the prompt would: WebDriver's Set Permission
    /// extension, which chromedriver implements.
    pub async fn set_permission(&self, name: &str, state: &str) -> Result<()> {
        let command = SetPermission { name: name.to_owned(), state: state.to_owned() };
        self.client.issue_cmd(command).await.context(format!("{}: setting permission {name} to {state}", self.name))?;
        Ok(())
    }

    /// The clipboard's text, read by the page (needs `clipboard-read`, see [`Self::set_permission`]).
    pub async fn read_clipboard(&self) -> Result<String> {
        let value = self.clipboard(JS_CLIPBOARD_READ, vec![]).await?;
        value
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Failure::new(format!("{}: reading the clipboard gave {value}", self.name)))
    }

    /// Puts `text` on the clipboard from the page.
    pub async fn write_clipboard(&self, text: &str) -> Result<()> {
        self.clipboard(JS_CLIPBOARD_WRITE, vec![json!(text)]).await.map(drop)
    }

    async fn clipboard(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let what = format!("{}: using the clipboard", self.name);
        let value = self.client.execute_async(script, args).await.context(&what)?;
        match value.get("error").and_then(Value::as_str) {
            Some(error) => Err(Failure::new(format!("{what}: the page was refused: {error}"))),
            None => Ok(value),
        }
    }
}

/// WebDriver's `POST /session/{id}/permissions` (the Permissions spec's automation extension):
/// sets a permission's state for the current origin without a prompt.
#[derive(Debug)]
struct SetPermission {
    name: String,
    state: String,
}

impl WebDriverCompatibleCommand for SetPermission {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/permissions", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "descriptor": { "name": self.name }, "state": self.state });
        (http::Method::POST, Some(body.to_string()))
    }
}
