//! The local camera and microphone, with the fallbacks a real person needs: no camera → audio
//! only; refused or no devices → receive only. And screen sharing where the browser has it.

use wasm_bindgen::JsCast;
use web_sys::{DisplayMediaStreamConstraints, MediaStream, MediaStreamConstraints, MediaStreamTrack};

use crate::browser::{wait, window};
use crate::error::WebError;

pub struct LocalMedia {
    pub stream: MediaStream,
    pub audio: Option<MediaStreamTrack>,
    pub video: Option<MediaStreamTrack>,
    /// Why something is missing, for the status line.
    pub note: Option<String>,
}

impl LocalMedia {
    pub fn stop(&self) {
        for track in self.audio.iter().chain(self.video.iter()) {
            track.stop();
        }
    }
}

async fn user_media(audio: bool, video: bool) -> Result<MediaStream, WebError> {
    let devices = window()?.navigator().media_devices()?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio.into());
    constraints.set_video(&video.into());
    let stream = wait(devices.get_user_media_with_constraints(&constraints)?).await?;
    stream.dyn_into::<MediaStream>().map_err(WebError::from)
}

/// Camera and microphone if possible, else the microphone alone, else nothing.
pub async fn acquire() -> Result<LocalMedia, WebError> {
    let (stream, note) = match user_media(true, true).await {
        Ok(stream) => (Some(stream), None),
        Err(e) if e.is_denied() => (None, Some("Camera and microphone access was refused: you can see and hear the other person, but they cannot see or hear you.")),
        Err(_) => match user_media(true, false).await {
            Ok(stream) => (Some(stream), Some("No camera found: audio only.")),
            Err(_) => (None, Some("No camera or microphone found: you can see and hear the other person only.")),
        },
    };
    let stream = match stream {
        Some(stream) => stream,
        None => MediaStream::new()?,
    };
    let first = |tracks: js_sys::Array| tracks.get(0).dyn_into::<MediaStreamTrack>().ok();
    let audio = first(stream.get_audio_tracks());
    let video = first(stream.get_video_tracks());
    Ok(LocalMedia { stream, audio, video, note: note.map(str::to_owned) })
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
