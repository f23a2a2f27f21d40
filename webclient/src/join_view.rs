//! The DOM of everything around the call (with [`crate::ui`], the code that touches the page):
//! the pre-join screen (camera preview, microphone level, camera/microphone/speaker choice, the
//! optional name, the permission hint, **Join**), the call's device menu, and the stage's
//! camera-and-microphone panel with **Try again** and the reasons of disabled controls. Its
//! listeners only send events; they are removed on drop.

use std::cell::Cell;
use std::rc::Rc;

use web_sys::{
    Document, HtmlButtonElement, HtmlElement, HtmlInputElement, HtmlMeterElement, HtmlOptionElement, HtmlSelectElement,
    HtmlVideoElement, MediaStream,
};

use crate::browser::{element, get, sleep, window};
use crate::devices::{options, Device, Kind};
use crate::error::WebError;
use crate::event::{Event, Sender};
use crate::listener::Listener;
use crate::media_help::Panel;
use crate::next_step::Step;
use crate::probe::LevelMeter;

/// Where the display name is remembered (the call's state message reads it from there too).
pub const NAME_KEY: &str = "connect.name";
/// The longest display name kept: a name, not a message.
pub const NAME_MAX_CHARS: usize = 40;
/// The level meter's refresh: smooth enough to follow speech (as the pre-call check's).
const METER_EVERY_MS: u32 = 100;

pub struct JoinView {
    section: HtmlElement,
    video: HtmlVideoElement,
    meter: HtmlMeterElement,
    hint: HtmlElement,
    name: HtmlInputElement,
    join: HtmlButtonElement,
    devices: HtmlElement,
    settings: HtmlElement,
    selects: [HtmlSelectElement; 3],
    speaker_row: HtmlElement,
    remote: HtmlVideoElement,
    panel: HtmlElement,
    panel_title: HtmlElement,
    panel_help: HtmlElement,
    panel_retry: HtmlButtonElement,
    new_call: HtmlButtonElement,
    retry: HtmlButtonElement,
    link_texts: [HtmlElement; 2],
    qr_codes: [HtmlElement; 2],
    share_buttons: [HtmlButtonElement; 2],
    invite: HtmlButtonElement,
    invite_panel: HtmlElement,
    /// The link the texts and QR codes show, so a render that does not change it costs nothing.
    shown_link: std::cell::RefCell<Option<String>>,
    document: Document,
    /// Set to false to stop the running level meter (its task checks it every tick).
    meter_alive: Option<Rc<Cell<bool>>>,
    _listeners: Vec<Listener>,
}

impl JoinView {
    pub fn new(tx: &Sender) -> Result<JoinView, WebError> {
        let document = window()?.document().ok_or_else(|| WebError::missing("document"))?;
        let select = |kind: Kind| element::<HtmlSelectElement>(&document, kind.select_id());
        let mut view = JoinView {
            section: element(&document, "prejoin")?,
            video: element(&document, "prejoin-video")?,
            meter: element(&document, "prejoin-level")?,
            hint: element(&document, "permission-hint")?,
            name: element(&document, "display-name")?,
            join: element(&document, "join-button")?,
            devices: element(&document, "devices")?,
            settings: element(&document, "device-settings")?,
            selects: [select(Kind::Camera)?, select(Kind::Microphone)?, select(Kind::Speaker)?],
            speaker_row: element(&document, "speaker-row")?,
            remote: element(&document, "remote-video")?,
            panel: element(&document, "media-panel")?,
            panel_title: element(&document, "media-panel-title")?,
            panel_help: element(&document, "media-panel-help")?,
            panel_retry: element(&document, "media-retry")?,
            new_call: element(&document, "new-call")?,
            retry: element(&document, "retry-button")?,
            link_texts: [element(&document, "call-link-text")?, element(&document, "invite-link")?],
            qr_codes: [element(&document, "qr-code")?, element(&document, "invite-qr")?],
            share_buttons: [element(&document, "share-link")?, element(&document, "invite-share")?],
            invite: element(&document, "invite-button")?,
            invite_panel: element(&document, "invite-panel")?,
            shown_link: std::cell::RefCell::new(None),
            document: document.clone(),
            meter_alive: None,
            _listeners: Vec::new(),
        };
        let send = |event: fn() -> Event| {
            let tx = tx.clone();
            move |e: web_sys::Event| {
                e.prevent_default();
                let _ = tx.unbounded_send(event());
            }
        };
        let mut listeners = vec![
            Listener::new(&view.join, "click", send(|| Event::JoinPressed)),
            Listener::new(&view.selects[0], "change", send(|| Event::DeviceChosen(Kind::Camera))),
            Listener::new(&view.selects[1], "change", send(|| Event::DeviceChosen(Kind::Microphone))),
            Listener::new(&view.selects[2], "change", send(|| Event::DeviceChosen(Kind::Speaker))),
            Listener::new(&view.panel_retry, "click", send(|| Event::MediaRetry)),
            Listener::new(&view.new_call, "click", send(|| Event::StartCall)),
            Listener::new(&view.invite, "click", send(|| Event::Invite)),
            Listener::new(&view.share_buttons[0], "click", send(|| Event::ShareLink)),
            Listener::new(&view.share_buttons[1], "click", send(|| Event::ShareLink)),
        ];
        if let Ok(media) = window()?.navigator().media_devices() {
            listeners.push(Listener::new(&media, "devicechange", send(|| Event::DevicesChanged)));
        }
        if let Some(name) = crate::trust::remembered(NAME_KEY).filter(|n| !n.is_empty()) {
            view.name.set_value(&name);
        }
        view.speaker_row.set_hidden(!crate::media::speaker_supported());
        for button in &view.share_buttons {
            button.set_hidden(!share_supported());
        }
        view._listeners = listeners;
        Ok(view)
    }

    pub fn set_visible(&self, visible: bool) {
        self.section.set_hidden(!visible);
    }

    /// The name typed, trimmed and bounded; remembered for the next call (or forgotten if empty).
    pub fn take_name(&self) -> Option<String> {
        let name: String = self.name.value().trim().chars().take(NAME_MAX_CHARS).collect();
        crate::trust::remember(NAME_KEY, &name);
        (!name.is_empty()).then_some(name)
    }

    /// Moves focus to **Join** (the screen just appeared).
    pub fn focus_join(&self) {
        let _ = self.join.focus();
    }

    /// The hint under the preview: what to do while the browser's prompt is open, or `None`.
    pub fn set_hint(&self, text: Option<&str>) {
        self.hint.set_text_content(text);
        self.hint.set_hidden(text.is_none());
    }

    /// The preview and its live level meter (the meter stops when the preview changes).
    pub fn show_preview(&mut self, stream: Option<&MediaStream>) {
        self.video.set_src_object(stream);
        // No camera to show: the hint says why instead of an empty box.
        self.video.set_hidden(stream.is_some_and(|s| s.get_video_tracks().length() == 0));
        if let Some(alive) = self.meter_alive.take() {
            alive.set(false);
        }
        self.meter.set_value(0.0);
        let Some(stream) = stream.filter(|s| s.get_audio_tracks().length() > 0) else { return };
        match LevelMeter::new(stream) {
            Ok(meter) => {
                let alive = Rc::new(Cell::new(true));
                self.meter_alive = Some(alive.clone());
                let element = self.meter.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    while alive.get() {
                        element.set_value(meter.level());
                        sleep(METER_EVERY_MS).await;
                    }
                });
            }
            Err(e) => crate::browser::log(&format!("no level meter: {e}")),
        }
    }

    /// Fills the three lists, keeping each current choice selected where it still exists.
    pub fn set_devices(&self, devices: &[Device], in_use: [Option<String>; 3]) {
        for ((kind, select), current) in Kind::ALL.iter().zip(&self.selects).zip(in_use) {
            let current = current.or_else(|| self.chosen(*kind));
            select.set_inner_html("");
            let choices = options(devices, *kind);
            for (id, label) in &choices {
                if let Ok(option) = self.document.create_element("option") {
                    let option: HtmlOptionElement = wasm_bindgen::JsCast::unchecked_into(option);
                    option.set_value(id);
                    option.set_text(label);
                    option.set_selected(current.as_deref() == Some(id.as_str()));
                    let _ = select.append_child(&option);
                }
            }
            select.set_disabled(choices.len() < 2);
            // No such device (or no permission to list it): no empty list to puzzle over.
            if let Some(row) =
                select.parent_element().and_then(|p| wasm_bindgen::JsCast::dyn_into::<HtmlElement>(p).ok())
            {
                let unsupported = *kind == Kind::Speaker && !crate::media::speaker_supported();
                row.set_hidden(choices.is_empty() || unsupported);
            }
        }
    }

    /// The device chosen in the list of `kind`, if any.
    pub fn chosen(&self, kind: Kind) -> Option<String> {
        let select = &self.selects[Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)];
        Some(select.value()).filter(|v| !v.is_empty())
    }

    /// The link to share as whole text and as a QR code (made here, in Rust).
    pub fn set_link(&self, link: Option<&str>) {
        if self.shown_link.borrow().as_deref() == link {
            return;
        }
        *self.shown_link.borrow_mut() = link.map(str::to_owned);
        let svg = link.and_then(|l| crate::qr::Qr::encode(l.as_bytes()).ok()).map(|qr| qr.to_svg());
        for text in &self.link_texts {
            text.set_text_content(link);
        }
        for code in &self.qr_codes {
            code.set_inner_html(svg.as_deref().unwrap_or(""));
        }
    }

    /// Opens or closes the Invite panel; `None` toggles.
    pub fn show_invite(&self, open: Option<bool>) {
        let open = open.unwrap_or(self.invite_panel.hidden());
        self.invite_panel.set_hidden(!open);
        let _ = self.invite.set_attribute("aria-expanded", if open { "true" } else { "false" });
    }

    /// Selects the Invite panel's link, if the panel is open, for copying by hand when the
    /// clipboard was refused (mid-call the lobby's `#call-link` is hidden). `getSelection`
    /// through `Reflect`, like the share sheet: no web-sys feature for one call.
    pub fn select_invite_link(&self) {
        if self.invite_panel.hidden() {
            return;
        }
        let Ok(window) = window() else { return };
        let method = |target: &wasm_bindgen::JsValue, name| {
            get(target, name).and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok())
        };
        let selection = method(&window, "getSelection").and_then(|f| f.call0(&window).ok());
        if let Some((selection, select)) = selection.and_then(|s| method(&s, "selectAllChildren").map(|f| (s, f))) {
            let _ = select.call1(&selection, &self.link_texts[1]);
        }
    }

    /// The next steps a screen offers beside its own buttons (see [`crate::next_step`]).
    pub fn show_next_steps(&self, steps: &[Step]) {
        self.new_call.set_hidden(!steps.contains(&Step::NewCall));
        if steps.contains(&Step::Retry) {
            self.retry.set_hidden(false);
        }
    }

    /// Moves keyboard focus to the button with this id (a screen's next step), unless the
    /// person is typing somewhere (a chat line is not interrupted by the other person leaving).
    pub fn focus(&self, id: &str) {
        let typing = self
            .document
            .active_element()
            .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if typing {
            return;
        }
        if let Some(element) = self.document.get_element_by_id(id) {
            if let Ok(element) = wasm_bindgen::JsCast::dyn_into::<HtmlElement>(element) {
                let _ = element.focus();
            }
        }
    }

    /// Plays the other person through the speaker `device`.
    pub async fn set_speaker(&self, device: &str) -> Result<(), WebError> {
        crate::media::set_speaker(&self.remote, device).await
    }

    /// The stage's camera-and-microphone panel, or none.
    pub fn set_panel(&self, panel: Option<&Panel>) {
        self.panel.set_hidden(panel.is_none());
        self.panel_title.set_text_content(panel.map(|p| p.title));
        self.panel_help.set_text_content(panel.map(|p| p.help.as_str()));
        self.panel_retry.set_hidden(!panel.is_some_and(|p| p.retry));
    }

    /// A control's reason for being disabled, as its tooltip and accessible description (the
    /// text lives in `#<why>`), or no reason.
    pub fn explain(&self, control: &str, why: &str, reason: Option<&str>) {
        let (Some(control), Some(note)) =
            (self.document.get_element_by_id(control), self.document.get_element_by_id(why))
        else {
            return;
        };
        note.set_text_content(reason);
        match reason {
            Some(reason) => {
                let _ = control.set_attribute("title", reason);
                let _ = control.set_attribute("aria-describedby", why);
            }
            None => {
                // Only our own tooltip goes: the button may have one of its own.
                if control.get_attribute("title").is_some_and(|t| t.starts_with("Unavailable")) {
                    let _ = control.remove_attribute("title");
                }
                if control.get_attribute("aria-describedby").as_deref() == Some(why) {
                    let _ = control.remove_attribute("aria-describedby");
                }
            }
        }
    }

    /// The device lists leave the pre-join screen for the call's device menu.
    pub fn move_devices_to_call(&mut self) {
        let _ = self.settings.append_child(&self.devices);
        if let Some(alive) = self.meter_alive.take() {
            alive.set(false);
        }
        self.video.set_src_object(None);
    }
}

/// Whether the browser has a share sheet (`navigator.share`: phones, Safari, some desktops).
pub fn share_supported() -> bool {
    window().is_ok_and(|w| js_sys::Reflect::has(&w.navigator(), &"share".into()).unwrap_or(false))
}

/// Opens the browser's share sheet with the link.
pub async fn share(link: &str) -> Result<(), WebError> {
    let navigator = window()?.navigator();
    let share = js_sys::Reflect::get(&navigator, &"share".into())?;
    let share = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&share)
        .ok_or_else(|| WebError::missing("navigator.share"))?;
    let data = js_sys::Object::new();
    js_sys::Reflect::set(&data, &"title".into(), &"Join my call".into())?;
    js_sys::Reflect::set(&data, &"url".into(), &link.into())?;
    let promise: js_sys::Promise = wasm_bindgen::JsCast::dyn_into(share.call1(&navigator, &data)?)?;
    crate::browser::wait(promise).await.map(drop)
}

impl Drop for JoinView {
    fn drop(&mut self) {
        if let Some(alive) = &self.meter_alive {
            alive.set(false);
        }
    }
}
