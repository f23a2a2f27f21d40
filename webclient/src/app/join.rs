//! Around the call: opening a link (the seat first, so a full room is said before any camera
//! prompt; then the pre-join screen), the camera and microphone request that never holds up the
//! link or the seat, **Join**, device choice and switches mid-call (`replaceTrack`, no
//! renegotiation), and the stage's camera-and-microphone panel.

use shared::{PeerId, RoomId, Signal};

use super::{after, App, Event};
use crate::browser::{self, log, window};
use crate::devices::Kind;
use crate::error::WebError;
use crate::media::{self, Choice, LocalMedia};
use crate::media_help::{self, family};
use crate::state::{Facts, Phase};

/// How long a camera request may take before the page says the browser is asking: a granted
/// or remembered permission answers well within it, so the hint does not flash.
const PERMISSION_HINT_MS: u32 = 400;
/// Signals held while the camera and microphone are being decided: an offer and its candidates
/// fit many times over; more is dropped (the other side's connection deadline then retries).
const MAX_HELD_SIGNALS: usize = 256;

/// Set (per tab) once the person is in a room: a reload goes straight back in, not through the
/// pre-join screen again.
pub(super) fn entered_key(room: &RoomId) -> String {
    format!("connect.entered.{}", room.as_str())
}

fn user_agent() -> String {
    window().ok().and_then(|w| w.navigator().user_agent().ok()).unwrap_or_default()
}

impl App {
    /// A room link opened: straight back in if this tab was in the call (a reload), else the
    /// seat first, then the pre-join screen.
    pub(super) async fn open_link(&mut self, room: RoomId) {
        if browser::stored(&entered_key(&room)).is_some() {
            return self.begin(room).await;
        }
        self.room = Some(room);
        self.entering = true;
        self.facts = Facts { phase: Phase::PreJoin, ..Facts::joining() };
        self.render();
        self.connect_signaling();
    }

    /// `joined` while entering: the pre-join screen shows; its preview is asked for once.
    pub(super) fn prejoin_shown(&mut self) {
        if self.preview.is_none() && !self.media_pending {
            self.request_media();
            self.view.focus_join();
        }
    }

    /// Asks for the camera and microphone without waiting for the answer: the result comes back
    /// as [`Event::MediaReady`], so the link and the seat never wait for a permission prompt.
    pub(super) fn request_media(&mut self) {
        self.media_generation += 1;
        self.media_pending = true;
        let generation = self.media_generation;
        let choice = self.choice.clone();
        let tx = self.tx.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = media::acquire_chosen(&choice).await;
            let _ = tx.unbounded_send(Event::MediaReady(generation, result));
        });
        after(PERMISSION_HINT_MS, &self.tx, Event::PermissionSlow(generation));
    }

    /// The request is still open: the browser is showing its prompt.
    pub(super) fn permission_slow(&mut self, generation: u32) {
        if generation != self.media_generation || !self.media_pending {
            return;
        }
        let asking = media_help::asking();
        if self.facts.phase == Phase::PreJoin {
            self.view.set_hint(Some(&format!("{}. {}", asking.title, asking.help)));
        } else {
            self.view.set_panel(Some(&asking));
        }
    }

    pub(super) async fn media_ready(&mut self, generation: u32, result: Result<LocalMedia, WebError>) {
        let local = match result {
            Ok(local) => local,
            Err(e) => match web_sys::MediaStream::new() {
                // Only a browser without MediaStream gets here: go on receive-only.
                Ok(stream) => LocalMedia { stream, audio: None, video: None, note: Some(e.to_string()), problem: None },
                Err(_) => return log(&format!("no local media: {e}")),
            },
        };
        if generation != self.media_generation {
            return local.stop(); // asked for by a screen that is gone
        }
        self.media_pending = false;
        if self.facts.phase == Phase::PreJoin {
            let problem = local.problem.map(|m| media_help::missing(m, family(&user_agent())));
            self.view.set_hint(problem.map(|p| format!("{}. {}", p.title, p.help)).as_deref());
            self.view.show_preview(Some(&local.stream));
            self.preview = Some(local);
            self.refresh_devices().await;
            return;
        }
        self.use_media(local).await;
    }

    /// The camera and microphone (or their absence) are decided: the call may start, with what
    /// was held for it.
    async fn use_media(&mut self, local: LocalMedia) {
        if let Some(note) = &local.note {
            self.ui.note(note);
        }
        let panel = local.problem.map(|m| media_help::missing(m, family(&user_agent())));
        self.view.set_panel(panel.as_ref());
        if self.screen.is_none() {
            self.ui.show_local(Some(&local.stream));
        }
        self.media = Some(local);
        self.refresh_controls();
        self.refresh_devices().await;
        if let Some(polite) = self.wants_call.take() {
            self.new_call(polite);
        }
        for (from, signal) in std::mem::take(&mut self.held) {
            self.on_signal(from, signal).await;
        }
        self.render();
    }

    /// A signal from the other person: handled now, or held until this page has decided its
    /// camera and microphone (the answer must carry them).
    pub(super) async fn signal_or_hold(&mut self, from: PeerId, data: Signal) {
        if self.media.is_some() {
            return self.on_signal(from, data).await;
        }
        if self.held.len() < MAX_HELD_SIGNALS {
            self.held.push((from, data));
        }
    }

    /// **Join** on the pre-join screen: the name is remembered, the preview becomes the call's
    /// media, and the call starts.
    pub(super) async fn join_pressed(&mut self) {
        if self.facts.phase != Phase::PreJoin {
            return;
        }
        let _name = self.view.take_name();
        if let Some(room) = &self.room {
            browser::store(&entered_key(room), "1");
        }
        self.entering = false;
        self.facts.phase = Phase::InCall;
        self.view.move_devices_to_call();
        self.view.set_hint(None);
        match self.preview.take() {
            Some(local) => self.use_media(local).await,
            None => {
                self.render();
                if !self.media_pending {
                    self.request_media();
                }
            }
        }
    }

    /// Fills the device lists, marking the devices in use.
    pub(super) async fn refresh_devices(&mut self) {
        let devices = match media::devices().await {
            Ok(devices) => devices,
            Err(e) => return log(&format!("cannot list the devices: {e}")),
        };
        let local = self.media.as_ref().or(self.preview.as_ref());
        let camera = local.and_then(|m| m.video.as_ref()).and_then(media::device_of);
        let microphone = local.and_then(|m| m.audio.as_ref()).and_then(media::device_of);
        self.view.set_devices(&devices, [camera, microphone, self.speaker.clone()]);
    }

    /// A device was plugged in or out: fresh lists, and a track whose device went away is
    /// replaced by the browser's default one.
    pub(super) async fn devices_changed(&mut self) {
        self.refresh_devices().await;
        let Some(local) = &self.media else { return };
        let ended = |track: Option<&web_sys::MediaStreamTrack>| {
            track.is_some_and(|t| t.ready_state() == web_sys::MediaStreamTrackState::Ended)
        };
        let gone: Vec<Kind> =
            [(Kind::Camera, ended(local.video.as_ref())), (Kind::Microphone, ended(local.audio.as_ref()))]
                .into_iter()
                .filter_map(|(kind, gone)| gone.then_some(kind))
                .collect();
        for kind in gone {
            if let Some(device) = self.view.chosen(kind) {
                self.switch_device(kind, &device).await;
            }
        }
    }

    /// A choice in a device list.
    pub(super) async fn device_chosen(&mut self, kind: Kind) {
        let Some(device) = self.view.chosen(kind) else { return };
        if kind == Kind::Speaker {
            self.speaker = Some(device.clone());
            if let Err(e) = self.view.set_speaker(&device).await {
                self.ui.note(&format!("Could not switch the speaker: {e}"));
            }
            return;
        }
        self.choice = Choice { camera: self.view.chosen(Kind::Camera), microphone: self.view.chosen(Kind::Microphone) };
        if self.facts.phase == Phase::PreJoin {
            // A new preview: the old tracks stop first (a phone opens one camera at a time).
            if let Some(old) = self.preview.take() {
                old.stop();
            }
            self.view.show_preview(None);
            self.request_media();
            return;
        }
        self.switch_device(kind, &device).await;
    }

    /// Sends another camera or microphone in place of the current one, without renegotiating.
    async fn switch_device(&mut self, kind: Kind, device: &str) {
        let Some(local) = &self.media else { return };
        let old = if kind == Kind::Camera { local.video.clone() } else { local.audio.clone() };
        // Nothing was granted of this kind: **Try again** on the panel asks again.
        let Some(old) = old else { return };
        let live = old.ready_state() == web_sys::MediaStreamTrackState::Live;
        if live && media::device_of(&old).as_deref() == Some(device) {
            return;
        }
        let track = match media::track_from(kind, device).await {
            Ok(track) => track,
            Err(e) => return self.ui.note(&format!("Could not switch to that device: {e}")),
        };
        track.set_enabled(if kind == Kind::Camera { !self.camera_off } else { !self.muted });
        if let Some(call) = &self.call {
            let sent = match kind {
                Kind::Camera if self.screen.is_some() => Ok(()), // the screen stays on the line
                Kind::Camera => call.replace_video(Some(&track)).await,
                _ => call.replace_audio(&track).await,
            };
            if let Err(e) = sent {
                log(&format!("cannot send the new device: {e}"));
            }
        }
        let Some(local) = &mut self.media else { return };
        local.stream.remove_track(&old);
        local.stream.add_track(&track);
        old.stop();
        if kind == Kind::Camera {
            local.video = Some(track);
        } else {
            local.audio = Some(track);
        }
        if self.screen.is_none() {
            self.ui.show_local(self.media.as_ref().map(|m| &m.stream));
        }
        self.refresh_controls();
    }

    /// **Try again** on the stage's panel: ask for the camera and microphone again, then start
    /// a fresh connection that carries them.
    pub(super) fn media_retry(&mut self) {
        if let Some(old) = self.media.take() {
            old.stop();
        }
        self.view.set_panel(None);
        if self.other.is_some() {
            self.end_call();
            self.wants_call = Some(self.polite());
        }
        self.request_media();
    }

    /// Why the microphone, camera and screen buttons are disabled, where they are.
    pub(super) fn explain_controls(&self) {
        let Some(local) = &self.media else {
            for (control, why) in
                [("toggle-mic", "mic-why"), ("toggle-camera", "camera-why"), ("share-screen", "screen-why")]
            {
                self.view.explain(control, why, None);
            }
            return;
        };
        let problem = local.problem;
        let mic = local.audio.is_none().then(|| media_help::disabled_reason(problem, true));
        let camera = local.video.is_none().then(|| media_help::disabled_reason(problem, false));
        let screen = (!media::screen_supported()).then_some("Unavailable: this browser cannot share a screen");
        self.view.explain("toggle-mic", "mic-why", mic);
        self.view.explain("toggle-camera", "camera-why", camera);
        self.view.explain("share-screen", "screen-why", screen);
    }

    /// Leaving the room: the preview and anything asked for or held go too.
    pub(super) fn forget_media_requests(&mut self) {
        self.media_generation += 1;
        self.media_pending = false;
        self.wants_call = None;
        self.held.clear();
        if let Some(preview) = self.preview.take() {
            preview.stop();
        }
        self.view.set_panel(None);
    }
}
