//! The only module that touches the DOM: it renders the app's state and turns clicks and
//! key presses into [`Event`]s. Listeners are owned here and removed when the UI is dropped.

use std::cell::RefCell;

use web_sys::{
    Document, HtmlButtonElement, HtmlElement, HtmlFormElement, HtmlInputElement, HtmlVideoElement, MediaStream,
};

use crate::browser::{element, window};
use crate::chat;
use crate::error::WebError;
use crate::event::{Event, Sender};
use crate::listener::Listener;
use crate::state::{CallState, Facts};
use crate::stats::Summary;

/// Who wrote a chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Me,
    Them,
    System,
}

pub struct Ui {
    document: Document,
    body: HtmlElement,
    lobby: HtmlElement,
    call: HtmlElement,
    status: HtmlElement,
    notice: HtmlElement,
    message: HtmlElement,
    share: HtmlElement,
    link: HtmlInputElement,
    /// "Copy link" under the link while waiting, and in the Invite panel during the call.
    copy: [HtmlButtonElement; 2],
    rejoin: HtmlButtonElement,
    retry: HtmlButtonElement,
    details: HtmlElement,
    details_text: HtmlElement,
    local_video: HtmlVideoElement,
    remote_video: HtmlVideoElement,
    mic: HtmlButtonElement,
    camera: HtmlButtonElement,
    screen: HtmlButtonElement,
    hang_up: HtmlButtonElement,
    chat_log: HtmlElement,
    chat_input: HtmlInputElement,
    chat_send: HtmlButtonElement,
    stats: HtmlElement,
    /// How chat lines from the other person are attributed for screen readers.
    them: RefCell<String>,
    _listeners: Vec<Listener>,
}

impl Ui {
    pub fn new(tx: &Sender) -> Result<Ui, WebError> {
        let document = window()?.document().ok_or_else(|| WebError::missing("document"))?;
        let body = document.body().ok_or_else(|| WebError::missing("body"))?;
        let get_button = |id| element::<HtmlButtonElement>(&document, id);
        let form: HtmlFormElement = element(&document, "chat-form")?;
        let ui = Ui {
            body,
            lobby: element(&document, "lobby")?,
            call: element(&document, "call")?,
            status: element(&document, "status")?,
            notice: element(&document, "notice")?,
            message: element(&document, "message")?,
            share: element(&document, "share")?,
            link: element(&document, "call-link")?,
            copy: [get_button("copy-link")?, get_button("invite-copy")?],
            rejoin: get_button("rejoin")?,
            retry: get_button("retry-button")?,
            details: element(&document, "error-details")?,
            details_text: element(&document, "error-details-text")?,
            local_video: element(&document, "local-video")?,
            remote_video: element(&document, "remote-video")?,
            mic: get_button("toggle-mic")?,
            camera: get_button("toggle-camera")?,
            screen: get_button("share-screen")?,
            hang_up: get_button("hang-up")?,
            chat_log: element(&document, "chat-log")?,
            chat_input: element(&document, "chat-input")?,
            chat_send: get_button("chat-send")?,
            stats: element(&document, "call-stats")?,
            them: RefCell::new("The other person".to_owned()),
            _listeners: Vec::new(),
            document: document.clone(),
        };
        let start: HtmlButtonElement = get_button("start-call")?;
        let check: HtmlButtonElement = get_button("check-button")?;
        let privacy: HtmlInputElement = element(&document, "privacy-mode")?;
        let on = |target: &web_sys::EventTarget, kind: &'static str, event: fn() -> Event| {
            let tx = tx.clone();
            Listener::new(target, kind, move |e: web_sys::Event| {
                e.prevent_default();
                let _ = tx.unbounded_send(event());
            })
        };
        let mut listeners = vec![
            on(&start, "click", || Event::StartCall),
            on(&ui.copy[0], "click", || Event::CopyLink),
            on(&ui.copy[1], "click", || Event::CopyLink),
            on(&ui.rejoin, "click", || Event::Rejoin),
            on(&ui.retry, "click", || Event::Retry),
            on(&check, "click", || Event::OpenCheck),
            on(&ui.mic, "click", || Event::ToggleMic),
            on(&ui.camera, "click", || Event::ToggleCamera),
            on(&ui.screen, "click", || Event::ShareScreen),
            on(&ui.hang_up, "click", || Event::HangUp),
            on(&form, "submit", || Event::ChatSubmit),
            on(&privacy, "change", || Event::PrivacyToggled),
        ];
        let win: web_sys::EventTarget = window()?.into();
        listeners.push(on(&win, "online", || Event::Online));
        Ok(Ui { _listeners: listeners, ..ui })
    }

    /// `data-ice-renewals` on the body: how many times the page renewed its TURN credentials.
    pub fn set_ice_renewals(&self, count: u32) {
        let _ = self.body.set_attribute("data-ice-renewals", &count.to_string());
    }

    /// Shows the state: `data-call-state`, which section is visible, the notice and the link.
    /// The page's loader found the browser lacking (no WebRTC: the wasm itself loaded) and says
    /// so; the app must leave that message up and start nothing.
    pub fn unsupported(&self) -> bool {
        self.body.get_attribute("data-boot").as_deref() == Some("unsupported")
    }

    /// The app runs: the page's loading screen (index.html's `data-boot`) gives way now, before
    /// the first screen is drawn, not at trunk's start event (which comes after it), so a
    /// screen's next step is visible when it takes focus.
    pub fn take_down_loading_screen(&self) {
        let _ = self.body.remove_attribute("data-boot");
        if let Some(boot) = self.document.get_element_by_id("boot") {
            let _ = boot.set_attribute("hidden", "");
        }
    }

    pub fn render(&self, facts: &Facts, link: Option<&str>) {
        let state = facts.state();
        let _ = self.body.set_attribute("data-call-state", state.as_str());
        let failure = facts.failure();
        match failure {
            Some(reason) => drop(self.body.set_attribute("data-error", reason.as_str())),
            None => drop(self.body.remove_attribute("data-error")),
        }
        self.retry.set_hidden(failure.is_none());
        self.details.set_hidden(failure.is_none());
        self.lobby.set_hidden(state != CallState::Idle);
        self.call.set_hidden(matches!(state, CallState::Idle | CallState::Prejoin));
        let message = facts.message();
        let covers = facts.message_covers_video();
        self.notice.set_hidden(!covers);
        self.message.set_text_content(message.as_deref().filter(|_| covers));
        self.share.set_hidden(!(facts.show_link() && link.is_some()));
        if let Some(link) = link {
            self.link.set_value(link);
        }
        self.rejoin.set_hidden(!matches!(state, CallState::Ended));
        let in_call = !matches!(state, CallState::Idle | CallState::Ended | CallState::Full | CallState::Error);
        self.hang_up.set_disabled(!in_call);
        if let (Some(text), false) = (&message, covers) {
            return self.set_status(text);
        }
        self.set_status(match state {
            CallState::Idle => "Ready",
            CallState::Joining => "Joining…",
            CallState::Prejoin => "Ready to join",
            CallState::Waiting => "Waiting for the other person",
            CallState::Connecting => "Connecting…",
            CallState::Connected => "Connected",
            CallState::Reconnecting => "Reconnecting…",
            CallState::PeerLeft => "The other person left",
            CallState::Ended => "Call ended",
            CallState::Full => "Call full",
            CallState::Error if failure.is_some() => "Could not connect",
            CallState::Error => "Problem",
        });
    }

    /// The polite status line: written only when its words change, since every write of a live
    /// region may be read out again, and the page renders on every signaling message.
    fn set_status(&self, text: &str) {
        if self.status.text_content().as_deref() != Some(text) {
            self.status.set_text_content(Some(text));
        }
    }

    /// The failure's evidence for support, in the error screen's disclosure.
    pub fn set_failure_details(&self, text: Option<&str>) {
        self.details_text.set_text_content(text);
    }

    /// Hides the landing page and the call: the pre-call check has the page.
    pub fn hide_call_and_lobby(&self) {
        self.lobby.set_hidden(true);
        self.call.set_hidden(true);
    }

    /// The camera preview: mirrored (by the stylesheet), as people expect to see themselves.
    pub fn show_local(&self, stream: Option<&MediaStream>) {
        self.preview(stream, "camera", "Your camera");
    }

    /// The screen being shared, in the preview's place: not mirrored, so its text reads the
    /// right way round, and shown whole rather than cropped to the camera's shape.
    pub fn show_local_screen(&self, stream: &MediaStream) {
        self.preview(Some(stream), "screen", "Your shared screen");
    }

    /// The preview's stream, what it shows (`data-source`, which the stylesheet reads) and its label.
    fn preview(&self, stream: Option<&MediaStream>, source: &str, label: &str) {
        self.local_video.set_src_object(stream);
        let _ = self.local_video.set_attribute("data-source", source);
        let _ = self.local_video.set_attribute("aria-label", label);
    }

    pub fn show_remote(&self, stream: Option<&MediaStream>) {
        self.remote_video.set_src_object(stream);
    }

    pub fn set_mic(&self, muted: bool, available: bool) {
        toggle(&self.mic, muted, if muted { "Unmute" } else { "Mute" }, available);
        let _ =
            self.local_video.set_attribute("data-audio-enabled", if muted || !available { "false" } else { "true" });
    }

    pub fn set_camera(&self, off: bool, available: bool) {
        toggle(&self.camera, off, if off { "Camera on" } else { "Camera off" }, available);
    }

    pub fn set_sharing(&self, sharing: bool, available: bool) {
        toggle(&self.screen, sharing, if sharing { "Stop sharing" } else { "Share screen" }, available);
    }

    pub fn set_chat_enabled(&self, enabled: bool) {
        self.chat_input.set_disabled(!enabled);
        self.chat_send.set_disabled(!enabled);
    }

    pub fn take_chat_input(&self) -> String {
        let text = self.chat_input.value();
        self.chat_input.set_value("");
        text
    }

    pub fn append_chat(&self, author: Author, text: &str) {
        let Ok(item) = self.document.create_element("li") else { return };
        item.set_class_name(match author {
            Author::Me => "mine",
            Author::Them => "theirs",
            Author::System => "system",
        });
        // Who said it, for screen readers; the bubbles' sides say it to the eye.
        let who = match author {
            Author::Me => "You".to_owned(),
            Author::Them => self.them.borrow().clone(),
            Author::System => "Note".to_owned(),
        };
        if let Ok(label) = self.document.create_element("span") {
            label.set_class_name("who");
            label.set_text_content(Some(&format!("{who}: ")));
            let _ = item.append_child(&label);
        }
        let _ = item.append_with_str_1(text);
        let _ = self.chat_log.append_child(&item);
        // A flood from the other side costs bounded memory: the oldest lines go first.
        while self.chat_log.child_element_count() > chat::MAX_LINES {
            match self.chat_log.first_element_child() {
                Some(oldest) => oldest.remove(),
                None => break,
            }
        }
        self.chat_log.set_scroll_top(self.chat_log.scroll_height());
    }

    /// The status line's figures, and the same figures as `data-*` attributes for tests.
    pub fn set_stats(&self, summary: Option<&Summary>) {
        let set = |name: &str, value: Option<String>| match value {
            Some(value) => drop(self.stats.set_attribute(name, &value)),
            None => drop(self.stats.remove_attribute(name)),
        };
        let summary = summary.cloned().unwrap_or_default();
        set("data-path", summary.path.map(|p| p.as_str().to_owned()));
        set("data-rtt-ms", summary.rtt_ms.map(|v| v.to_string()));
        set("data-width", summary.width.map(|v| v.to_string()));
        set("data-height", summary.height.map(|v| v.to_string()));
        set("data-fps", summary.whole_fps().map(|v| v.to_string()));
        set("data-frames-decoded", Some(summary.frames_decoded.to_string()));
        set("data-private", Some(summary.private.to_string()));
        self.stats.set_text_content(Some(&summary.line()));
    }

    /// The copy buttons' label: "Copied" right after a copy, else "Copy link".
    pub fn show_copied(&self, copied: bool) {
        for copy in &self.copy {
            copy.set_text_content(Some(if copied { "Copied" } else { "Copy link" }));
        }
    }

    pub fn select_link(&self) {
        self.link.select();
    }

    /// The other person's display name, for attributing their chat lines.
    pub fn set_them_name(&self, name: &str) {
        name.clone_into(&mut self.them.borrow_mut());
    }

    pub fn note(&self, text: &str) {
        self.append_chat(Author::System, text);
    }
}

/// A toggle button: its accessible name stays fixed (`aria-label` in `index.html`) and
/// `aria-pressed` says its state; the tooltip names what the next press does.
fn toggle(button: &HtmlButtonElement, pressed: bool, tip: &str, available: bool) {
    let _ = button.set_attribute("aria-pressed", if pressed { "true" } else { "false" });
    match button.query_selector(".tip") {
        Ok(Some(tip_element)) => tip_element.set_text_content(Some(tip)),
        _ => button.set_text_content(Some(tip)),
    }
    button.set_disabled(!available);
}
