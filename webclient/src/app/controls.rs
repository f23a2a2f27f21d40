//! What the person does in a call: microphone, camera, screen sharing, chat, copying the link,
//! hanging up.

use shared::ClientMessage;
use web_sys::{MediaStream, MediaStreamTrack};

use super::{after, resume_key, App, Event};
use crate::browser::{self, log};
use crate::chat;
use crate::listener::Listener;
use crate::media;
use crate::state::{Link, Peer, Phase};
use crate::ui::Author;

/// How long the copy button says "Copied" before it offers to copy again.
const COPIED_SHOWN_MS: u32 = 2_000;

/// A screen being shared, with the listener that reports when the browser ends it (the person
/// pressed the browser's own "Stop sharing").
pub(super) struct Screen {
    track: MediaStreamTrack,
    _on_ended: Listener,
}

impl Screen {
    pub(super) fn stop(&self) {
        self.track.stop();
    }
}

impl App {
    pub(super) fn refresh_controls(&mut self) {
        let has_audio = self.media.as_ref().is_some_and(|m| m.audio.is_some());
        let has_video = self.media.as_ref().is_some_and(|m| m.video.is_some());
        self.ui.set_mic(self.muted, has_audio);
        self.ui.set_camera(self.camera_off, has_video);
        // A shared screen needs no camera: it goes out on the video line either way.
        self.ui.set_sharing(self.screen.is_some(), self.media.is_some() && media::screen_supported());
        self.explain_controls();
        self.own_state_changed();
    }

    pub(super) fn hang_up(&mut self) {
        if !self.wants_signaling() {
            return;
        }
        self.send(&ClientMessage::Leave);
        self.facts.phase = Phase::Ended;
        self.leave_room(true);
        self.render();
    }

    /// Stops signaling, the call and the devices. `forget_seat` drops the resume token: after an
    /// explicit hang-up a rejoin is a new arrival.
    pub(super) fn leave_room(&mut self, forget_seat: bool) {
        self.ws_generation += 1; // stale callbacks and pending reconnects are ignored
        self.ws = None;
        self.end_call();
        self.other = None;
        self.facts.peer = Peer::NotYet;
        self.facts.link = Link::Connecting;
        if let Some(media) = self.media.take() {
            media.stop();
        }
        self.forget_media_requests();
        if let Some(screen) = self.screen.take() {
            screen.track.stop();
        }
        self.ui.show_local(None);
        if forget_seat {
            if let Some(room) = &self.room {
                browser::forget(&resume_key(room));
                browser::forget(&super::join::entered_key(room));
            }
        }
        self.refresh_controls();
    }

    pub(super) fn toggle_mic(&mut self) {
        let Some(track) = self.media.as_ref().and_then(|m| m.audio.as_ref()) else { return };
        self.muted = !self.muted;
        track.set_enabled(!self.muted);
        self.refresh_controls();
    }

    pub(super) fn toggle_camera(&mut self) {
        let Some(track) = self.media.as_ref().and_then(|m| m.video.as_ref()) else { return };
        self.camera_off = !self.camera_off;
        track.set_enabled(!self.camera_off);
        self.refresh_controls();
    }

    pub(super) async fn toggle_screen(&mut self) {
        if self.screen.is_some() {
            return self.stop_screen().await;
        }
        let track = match media::screen().await {
            Ok(track) => track,
            Err(e) => return log(&format!("screen sharing not started: {e}")),
        };
        let ended = self.tx.clone();
        // Owned with the track: removed when the share stops, whether or not it ever ends.
        let on_ended = Listener::new(&track, "ended", move |_: web_sys::Event| {
            let _ = ended.unbounded_send(Event::ScreenShareEnded);
        });
        if let Some(call) = &self.call {
            if let Err(e) = call.replace_video(Some(&track)).await {
                log(&format!("cannot send the screen: {e}"));
            }
        }
        if let Ok(preview) = MediaStream::new() {
            preview.add_track(&track);
            self.ui.show_local_screen(&preview);
        }
        self.screen = Some(Screen { track, _on_ended: on_ended });
        self.refresh_controls();
    }

    pub(super) async fn stop_screen(&mut self) {
        let Some(screen) = self.screen.take() else { return };
        screen.track.stop();
        let camera = self.media.as_ref().and_then(|m| m.video.clone());
        if let Some(call) = &self.call {
            if let Err(e) = call.replace_video(camera.as_ref()).await {
                log(&format!("cannot switch back to the camera: {e}"));
            }
        }
        self.ui.show_local(self.media.as_ref().map(|m| &m.stream));
        self.refresh_controls();
    }

    pub(super) fn send_chat(&mut self) {
        let Some(text) = chat::outgoing(&self.ui.take_chat_input()) else { return };
        match &self.call {
            Some(call) if call.chat_open() => match call.send_chat(&crate::peer_state::chat_wire(&text)) {
                Ok(()) => self.ui.append_chat(Author::Me, &text),
                Err(e) => self.ui.note(&format!("Message not sent: {e}")),
            },
            _ => self.ui.note("Message not sent: the other person is not connected."),
        }
    }

    pub(super) async fn copy_link(&mut self) {
        let Some(link) = self.link() else { return };
        let copied = match browser::window() {
            Ok(window) => browser::wait(window.navigator().clipboard().write_text(&link)).await.is_ok(),
            Err(_) => false,
        };
        self.ui.show_copied(copied);
        if copied {
            self.copies += 1;
            after(COPIED_SHOWN_MS, &self.tx, Event::CopiedShown(self.copies));
        } else {
            // The person can copy by hand.
            self.ui.select_link();
            self.view.select_invite_link();
        }
    }
}
