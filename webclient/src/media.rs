//! The local camera and microphone, with the fallbacks a real person needs: no camera → audio
//! only; refused or no devices → receive only. The devices the person chose (pre-join screen,
//! device menu), the list to choose from, one track of a chosen device for a switch mid-call,
//! the speaker where the browser can set one, and screen sharing where the browser has it.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DisplayMediaStreamConstraints, MediaStream, MediaStreamConstraints, MediaStreamTrack};

use crate::browser::{get_string, wait, window};
use crate::devices::{Device, Kind};
use crate::error::WebError;

pub struct LocalMedia {
    pub stream: MediaStream,
    pub audio: Option<MediaStreamTrack>,
    pub video: Option<MediaStreamTrack>,
    /// Why something is missing, for the status line.
    pub note: Option<String>,
    /// What kept the camera or microphone away, for the panel on the stage.
    pub problem: Option<Missing>,
}

/// Why the page has less than a camera and a microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The person or the browser's settings refused permission.
    Refused,
    /// No camera and no microphone were found (or they would not start).
    NoDevices,
    /// A microphone but no camera.
    NoCamera,
}

/// The devices the person picked; `None` lets the browser choose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    pub camera: Option<String>,
    pub microphone: Option<String>,
}

/// `true`, or `{deviceId: {ideal: id}}` for a chosen device (ideal, so a device unplugged since
/// falls back to another instead of failing).
fn wanted(device: Option<&str>, strength: &str) -> JsValue {
    let Some(id) = device else { return JsValue::TRUE };
    let exact = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&exact, &strength.into(), &id.into());
    let track = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&track, &"deviceId".into(), &exact);
    track.into()
}

impl LocalMedia {
    pub fn stop(&self) {
        for track in self.audio.iter().chain(self.video.iter()) {
            track.stop();
        }
    }
}

async fn user_media(audio: JsValue, video: JsValue) -> Result<MediaStream, WebError> {
    let devices = window()?.navigator().media_devices()?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    constraints.set_video(&video);
    let stream = wait(devices.get_user_media_with_constraints(&constraints)?).await?;
    stream.dyn_into::<MediaStream>().map_err(WebError::from)
}

/// Camera and microphone if possible, else the microphone alone, else nothing.
pub async fn acquire() -> Result<LocalMedia, WebError> {
    acquire_chosen(&Choice::default()).await
}

/// [`acquire`] with the person's chosen devices.
pub async fn acquire_chosen(choice: &Choice) -> Result<LocalMedia, WebError> {
    let mic = || wanted(choice.microphone.as_deref(), "ideal");
    let camera = wanted(choice.camera.as_deref(), "ideal");
    let (stream, note, problem) = match user_media(mic(), camera).await {
        Ok(stream) => (Some(stream), None, None),
        Err(e) if e.is_denied() => (None, Some("Camera and microphone access was refused: you can see and hear the other person, but they cannot see or hear you."), Some(Missing::Refused)),
        Err(_) => match user_media(mic(), JsValue::FALSE).await {
            Ok(stream) => (Some(stream), Some("No camera found: audio only."), Some(Missing::NoCamera)),
            Err(e) if e.is_denied() => (None, Some("Microphone access was refused: you can see and hear the other person, but they cannot hear you."), Some(Missing::Refused)),
            Err(_) => (None, Some("No camera or microphone found: you can see and hear the other person only."), Some(Missing::NoDevices)),
        },
    };
    let stream = match stream {
        Some(stream) => stream,
        None => MediaStream::new()?,
    };
    let first = |tracks: js_sys::Array| tracks.get(0).dyn_into::<MediaStreamTrack>().ok();
    let audio = first(stream.get_audio_tracks());
    let video = first(stream.get_video_tracks());
    Ok(LocalMedia { stream, audio, video, note: note.map(str::to_owned), problem })
}

/// One new track from exactly this device, to switch to it mid-call.
pub async fn track_from(kind: Kind, device: &str) -> Result<MediaStreamTrack, WebError> {
    let (audio, video) = match kind {
        Kind::Microphone => (wanted(Some(device), "exact"), JsValue::FALSE),
        Kind::Camera => (JsValue::FALSE, wanted(Some(device), "exact")),
        Kind::Speaker => return Err(WebError::new("TypeError", "a speaker gives no track")),
    };
    let stream = user_media(audio, video).await?;
    let tracks = if kind == Kind::Camera { stream.get_video_tracks() } else { stream.get_audio_tracks() };
    tracks.get(0).dyn_into::<MediaStreamTrack>().map_err(WebError::from)
}

/// The cameras, microphones and speakers the browser lists (labels only after a permission).
pub async fn devices() -> Result<Vec<Device>, WebError> {
    let list = wait(window()?.navigator().media_devices()?.enumerate_devices()?).await?;
    let list: js_sys::Array = list.dyn_into()?;
    Ok(list
        .iter()
        .take(3 * crate::devices::MAX_PER_KIND + 8)
        .filter_map(|info| {
            let kind = Kind::from_browser(&get_string(&info, "kind")?)?;
            let id = get_string(&info, "deviceId").unwrap_or_default();
            Some(Device { kind, id, label: get_string(&info, "label").unwrap_or_default() })
        })
        .collect())
}

/// The id of the device a track comes from.
pub fn device_of(track: &MediaStreamTrack) -> Option<String> {
    let settings = js_sys::Reflect::get(track, &"getSettings".into()).ok()?;
    let settings = settings.dyn_ref::<js_sys::Function>()?.call0(track).ok()?;
    get_string(&settings, "deviceId")
}

/// Whether the browser can play a call through a chosen speaker (`setSinkId`; Chromium and
/// Firefox on desktops, not Safari or most phones).
pub fn speaker_supported() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("video").ok())
        .is_some_and(|v| js_sys::Reflect::has(&v, &"setSinkId".into()).unwrap_or(false))
}

/// Plays `element` through the speaker `device`.
pub async fn set_speaker(element: &web_sys::HtmlMediaElement, device: &str) -> Result<(), WebError> {
    let set = js_sys::Reflect::get(element, &"setSinkId".into())?;
    let set = set.dyn_ref::<js_sys::Function>().ok_or_else(|| WebError::missing("setSinkId"))?;
    let promise: js_sys::Promise = set.call1(element, &device.into())?.dyn_into()?;
    wait(promise).await.map(drop)
}

/// Whether the browser can share a screen (desktop browsers; not most phones).
pub fn screen_supported() -> bool {
    window()
        .ok()
        .and_then(|w| w.navigator().media_devices().ok())
        .is_some_and(|d| js_sys::Reflect::has(&d, &"getDisplayMedia".into()).unwrap_or(false))
}

/// Asks the person to pick a screen or window; its video track.
pub async fn screen() -> Result<MediaStreamTrack, WebError> {
    let devices = window()?.navigator().media_devices()?;
    let constraints = DisplayMediaStreamConstraints::new();
    constraints.set_video(&true.into());
    let stream: MediaStream = wait(devices.get_display_media_with_constraints(&constraints)?).await?.dyn_into()?;
    stream.get_video_tracks().get(0).dyn_into::<MediaStreamTrack>().map_err(WebError::from)
}
