//! The call screen's DOM beyond the basic controls of [`crate::ui`]: the two tiles (placeholder
//! and name tag instead of black video), the view controls (move, hide, swap, full screen,
//! picture in picture), the timer and quality indicator, the chat sheet and its unread badge,
//! the shortcuts list, "Tap to hear", and the page's key and lifecycle events. Kept apart from
//! `ui` so each stays small; like it, it only renders what the app decides and forwards events.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{
    Document, Element, EventTarget, HtmlButtonElement, HtmlDialogElement, HtmlElement, HtmlVideoElement, KeyboardEvent,
};

use crate::browser::{element, get, get_bool, window};
use crate::error::WebError;
use crate::event::{Event, ScreenEvent, Sender};
use crate::layout::View;
use crate::listener::Listener;
use crate::peer_state::{PeerState, Tile};
use crate::quality::Quality;
use crate::shortcuts::{self, Press, Shortcut};

/// One tile's parts: the tile, its placeholder and its name tag.
struct TileView {
    tile: HtmlElement,
    placeholder: HtmlElement,
    initial: HtmlElement,
    note: HtmlElement,
    tag: HtmlElement,
    mic_mark: HtmlElement,
    name: HtmlElement,
}

impl TileView {
    fn new(document: &Document, side: &str) -> Result<TileView, WebError> {
        let get = |part: &str| element::<HtmlElement>(document, &format!("{side}-{part}"));
        Ok(TileView {
            tile: get("tile")?,
            placeholder: get("placeholder")?,
            initial: get("initial")?,
            note: get("camera-note")?,
            tag: get("tag")?,
            mic_mark: get("mic-mark")?,
            name: get("name")?,
        })
    }

    fn show(&self, tile: Option<&Tile>) {
        let Some(tile) = tile else {
            self.placeholder.set_hidden(true);
            self.tag.set_hidden(true);
            return;
        };
        self.placeholder.set_hidden(tile.placeholder.is_none());
        self.initial.set_text_content(Some(&tile.initial.to_string()));
        self.note.set_text_content(tile.placeholder);
        self.tag.set_hidden(false);
        self.name.set_text_content(Some(&tile.label));
        self.mic_mark.set_hidden(tile.mic_mark.is_none());
        if let Some(words) = tile.mic_mark {
            let _ = self.mic_mark.set_attribute("aria-label", words);
        }
    }
}

pub struct CallView {
    document: Document,
    body: HtmlElement,
    call: HtmlElement,
    remote: TileView,
    local: TileView,
    remote_video: HtmlVideoElement,
    hide: HtmlButtonElement,
    swap: HtmlButtonElement,
    fullscreen: HtmlButtonElement,
    pip: HtmlButtonElement,
    timer: HtmlElement,
    quality: HtmlButtonElement,
    stats: HtmlElement,
    chat_toggle: HtmlButtonElement,
    unread: HtmlElement,
    unread_words: HtmlElement,
    chat_input: HtmlElement,
    shortcuts: HtmlDialogElement,
    tap_to_hear: HtmlButtonElement,
    announce: HtmlElement,
    /// Something on the page has had keyboard focus (a press, a click, Tab): only then is focus
    /// that falls to the body "lost" and put back (see [`CallView::rescue_focus`]).
    had_focus: Rc<Cell<bool>>,
    _listeners: Vec<Listener>,
}

impl CallView {
    pub fn new(tx: &Sender) -> Result<CallView, WebError> {
        let document = window()?.document().ok_or_else(|| WebError::missing("document"))?;
        let button = |id| element::<HtmlButtonElement>(&document, id);
        let target = |id| element::<EventTarget>(&document, id);
        let view = CallView {
            body: document.body().ok_or_else(|| WebError::missing("body"))?,
            call: element(&document, "call")?,
            remote: TileView::new(&document, "remote")?,
            local: TileView::new(&document, "local")?,
            remote_video: element(&document, "remote-video")?,
            hide: button("self-view-hide")?,
            swap: button("swap-views")?,
            fullscreen: button("fullscreen")?,
            pip: button("picture-in-picture")?,
            timer: element(&document, "call-timer")?,
            quality: button("call-quality")?,
            stats: element(&document, "call-stats")?,
            chat_toggle: button("chat-toggle")?,
            unread: element(&document, "chat-unread")?,
            unread_words: element(&document, "chat-unread-words")?,
            chat_input: element(&document, "chat-input")?,
            shortcuts: element(&document, "shortcuts")?,
            tap_to_hear: button("tap-to-hear")?,
            announce: element(&document, "announce")?,
            had_focus: Rc::new(Cell::new(false)),
            _listeners: Vec::new(),
            document: document.clone(),
        };
        view.fill_shortcuts();
        view.pip.set_hidden(!get_bool(&document, "pictureInPictureEnabled").unwrap_or(false));
        let on = |target: &EventTarget, kind: &'static str, event: ScreenEvent| {
            let tx = tx.clone();
            Listener::new(target, kind, move |_: web_sys::Event| {
                let _ = tx.unbounded_send(Event::Screen(event.clone()));
            })
        };
        let win: EventTarget = window()?.into();
        let doc: &EventTarget = &document;
        let mut listeners = vec![
            on(&target("self-view-move")?, "click", ScreenEvent::MoveSelfView),
            on(&view.hide, "click", ScreenEvent::HideSelfView),
            on(&view.swap, "click", ScreenEvent::SwapViews),
            on(&view.fullscreen, "click", ScreenEvent::Fullscreen),
            on(&view.pip, "click", ScreenEvent::PictureInPicture),
            on(&view.quality, "click", ScreenEvent::ToggleStats),
            on(&view.chat_toggle, "click", ScreenEvent::ToggleChat),
            on(&target("chat-close")?, "click", ScreenEvent::CloseChat),
            on(&target("shortcuts-button")?, "click", ScreenEvent::Help),
            on(&view.tap_to_hear, "click", ScreenEvent::TapToHear),
            on(doc, "fullscreenchange", ScreenEvent::FullscreenChanged),
            on(&view.remote_video, "leavepictureinpicture", ScreenEvent::PictureInPictureChanged),
            on(&view.remote_video, "enterpictureinpicture", ScreenEvent::PictureInPictureChanged),
            on(doc, "visibilitychange", ScreenEvent::VisibilityChanged),
            on(&win, "pagehide", ScreenEvent::PageHide),
        ];
        let tx_show = tx.clone();
        listeners.push(Listener::new(&win, "pageshow", move |e: web_sys::Event| {
            if get_bool(&e, "persisted").unwrap_or(false) {
                let _ = tx_show.unbounded_send(Event::Screen(ScreenEvent::PageShowPersisted));
            }
        }));
        let had_focus = view.had_focus.clone();
        listeners.push(Listener::new(doc, "focusin", move |_: web_sys::Event| had_focus.set(true)));
        let tx_keys = tx.clone();
        listeners.push(Listener::new(doc, "keydown", move |e: KeyboardEvent| {
            if let Some(event) = key_event(&e) {
                // Escape keeps its own meaning too (closing the dialog, leaving full screen).
                if e.key() != "Escape" {
                    e.prevent_default();
                }
                let _ = tx_keys.unbounded_send(event);
            }
        }));
        Ok(CallView { _listeners: listeners, ..view })
    }

    /// The list behind "?", from [`shortcuts::LIST`].
    fn fill_shortcuts(&self) {
        let Ok(list) = element::<Element>(&self.document, "shortcuts-list") else { return };
        for (key, what) in shortcuts::LIST {
            let (Ok(dt), Ok(kbd), Ok(dd)) = (
                self.document.create_element("dt"),
                self.document.create_element("kbd"),
                self.document.create_element("dd"),
            ) else {
                return;
            };
            kbd.set_text_content(Some(key));
            dd.set_text_content(Some(what));
            let _ = dt.append_child(&kbd);
            let _ = list.append_child(&dt);
            let _ = list.append_child(&dd);
        }
    }

    /// The other person's tile and `data-peer-*` (absent while nobody is there).
    pub fn show_peer(&self, state: Option<&PeerState>, tile: Option<&Tile>) {
        self.remote.show(tile);
        self.body_attr("data-peer-mic", state.map(|s| s.mic.as_str()));
        self.body_attr("data-peer-camera", state.map(|s| s.shown_camera().as_str()));
        self.body_attr("data-peer-screen", state.map(|s| if s.screen { "true" } else { "false" }));
    }

    /// This person's own tile and `data-self-*` (absent without devices asked for yet).
    pub fn show_self(&self, state: Option<&PeerState>, tile: Option<&Tile>) {
        self.local.show(tile);
        self.body_attr("data-self-mic", state.map(|s| s.mic.as_str()));
        self.body_attr("data-self-camera", state.map(|s| s.shown_camera().as_str()));
    }

    fn body_attr(&self, name: &str, value: Option<&str>) {
        match value {
            Some(value) => drop(self.body.set_attribute(name, value)),
            None => drop(self.body.remove_attribute(name)),
        }
    }

    /// The stage's arrangement: who is big, where the small tile sits, whether it shows.
    pub fn arrange(&self, view: View) {
        let (big, small) = if view.swapped { (&self.local, &self.remote) } else { (&self.remote, &self.local) };
        for (tile, role, other) in [(&big.tile, "big", "small"), (&small.tile, "small", "big")] {
            let classes = tile.class_list();
            let _ = classes.remove_1(other);
            let _ = classes.add_1(role);
        }
        let _ = big.tile.remove_attribute("data-corner");
        let _ = small.tile.set_attribute("data-corner", view.corner.as_str());
        big.tile.set_hidden(false);
        small.tile.set_hidden(!view.small_tile_shown());
        pressed(&self.hide, view.self_hidden && !view.swapped);
        self.hide.set_disabled(view.swapped);
        pressed(&self.swap, view.swapped);
        self.body_attr(
            "data-self-view",
            Some(if view.swapped {
                "big"
            } else if view.self_hidden {
                "hidden"
            } else {
                view.corner.as_str()
            }),
        );
    }

    /// The timer's text, or none to hide it.
    pub fn show_timer(&self, text: Option<&str>) {
        self.timer.set_hidden(text.is_none());
        if let Some(text) = text {
            self.timer.set_text_content(Some(text));
        }
    }

    /// The three bars, or none to hide them (no path yet).
    pub fn show_quality(&self, quality: Option<Quality>) {
        self.quality.set_hidden(quality.is_none());
        if let Some(quality) = quality {
            let _ = self.quality.set_attribute("data-quality", quality.as_str());
            let _ = self.quality.set_attribute("aria-label", quality.words());
        }
    }

    /// The technical line under the indicator, shown on demand.
    pub fn show_stats(&self, open: bool) {
        self.stats.set_hidden(!open);
        let _ = self.quality.set_attribute("aria-expanded", if open { "true" } else { "false" });
    }

    /// The chat panel open or closed (`data-chat` on the body), and the unread badge.
    pub fn show_chat(&self, open: bool, unread: u32) {
        self.body_attr("data-chat", Some(if open { "open" } else { "closed" }));
        let _ = self.chat_toggle.set_attribute("aria-expanded", if open { "true" } else { "false" });
        self.unread.set_hidden(unread == 0);
        self.unread.set_text_content(Some(&unread.min(99).to_string()));
        let words = match unread {
            0 => String::new(),
            1 => "1 unread message".to_owned(),
            n => format!("{n} unread messages"),
        };
        self.unread_words.set_text_content(Some(&words));
    }

    pub fn focus_chat_input(&self) {
        let _ = self.chat_input.focus();
    }

    pub fn focus_chat_toggle(&self) {
        let _ = self.chat_toggle.focus();
    }

    /// Phone-sized screens start with the chat closed (it opens as a sheet over the video).
    pub fn is_narrow(&self) -> bool {
        window().ok().and_then(|w| w.match_media("(max-width: 720px)").ok().flatten()).is_some_and(|m| m.matches())
    }

    pub fn toggle_shortcuts(&self) {
        if self.shortcuts.open() {
            self.shortcuts.close();
        } else {
            let _ = self.shortcuts.show_modal();
        }
    }

    /// Closes the list if it is open; whether it was.
    pub fn close_shortcuts(&self) -> bool {
        let open = self.shortcuts.open();
        if open {
            self.shortcuts.close();
        }
        open
    }

    /// Full screen for the whole call section (video and controls), or back.
    pub fn toggle_fullscreen(&self) {
        if self.document.fullscreen_element().is_some() {
            self.document.exit_fullscreen();
        } else if let Err(e) = self.call.request_fullscreen() {
            crate::browser::log(&format!("no full screen: {}", WebError::from(e)));
        }
    }

    /// Leaves full screen if the page is in it; whether it was. Chromium leaves it on Escape by
    /// itself, before the page sees the key, but only where its window handles the key (not
    /// headless, not for a key sent through DevTools): the page's Escape does it everywhere.
    pub fn leave_fullscreen(&self) -> bool {
        let full = self.document.fullscreen_element().is_some();
        if full {
            self.document.exit_fullscreen();
        }
        full
    }

    pub fn fullscreen_changed(&self) {
        pressed(&self.fullscreen, self.document.fullscreen_element().is_some());
    }

    /// Opens the other person's video in the browser's picture-in-picture window, or closes it.
    pub async fn toggle_pip(&self) -> Result<(), WebError> {
        let promise = if get(&self.document, "pictureInPictureElement").is_some() {
            call_method(&self.document, "exitPictureInPicture")?
        } else {
            call_method(&self.remote_video, "requestPictureInPicture")?
        };
        crate::browser::wait(promise).await?;
        self.pip_changed();
        Ok(())
    }

    pub fn pip_changed(&self) {
        pressed(&self.pip, get(&self.document, "pictureInPictureElement").is_some());
    }

    /// Plays the other person's video with sound; `Err` when the browser refuses (autoplay).
    pub fn play_remote(&self) -> impl std::future::Future<Output = Result<(), WebError>> + 'static {
        let played = self.remote_video.play();
        async move { crate::browser::wait(played?).await.map(drop) }
    }

    /// Silences (or un-silences) the other person's video element; whether it was silenced.
    pub fn mute_remote(&self, muted: bool) -> bool {
        let was = self.remote_video.muted();
        self.remote_video.set_muted(muted);
        was
    }

    pub fn show_tap_to_hear(&self, shown: bool) {
        self.tap_to_hear.set_hidden(!shown);
    }

    /// Says `text` to screen readers through the polite `#announce` region.
    pub fn announce(&self, text: &str) {
        self.announce.set_text_content(Some(text));
    }

    /// `data-wake-lock` on the body: `held`, `released`, `refused` or `unsupported`.
    pub fn show_wake_lock(&self, state: &str) {
        self.body_attr("data-wake-lock", Some(state));
    }

    pub fn set_title(&self, title: &str) {
        self.document.set_title(title);
    }

    pub fn page_hidden(&self) -> bool {
        self.document.hidden()
    }

    /// Focuses the element `id` if focus was somewhere and is now nowhere (on the body, or on an
    /// element the last change hid), and the element can take it. A page nobody has focused
    /// (opened from a link, nothing pressed yet) is left alone.
    pub fn rescue_focus(&self, id: &str) {
        if !self.had_focus.get() {
            return;
        }
        let lost = match self.document.active_element() {
            None => true,
            Some(active) => active.is_same_node(Some(&self.body)) || active.get_client_rects().length() == 0,
        };
        if !lost {
            return;
        }
        if let Ok(target) = element::<HtmlElement>(&self.document, id) {
            let usable = target.get_client_rects().length() > 0
                && !target.dyn_ref::<HtmlButtonElement>().is_some_and(HtmlButtonElement::disabled);
            if usable {
                let _ = target.focus();
            }
        }
    }
}

fn pressed(button: &HtmlButtonElement, on: bool) {
    let _ = button.set_attribute("aria-pressed", if on { "true" } else { "false" });
}

/// Calls a method that has no web-sys binding here (picture in picture) and returns its promise.
fn call_method(target: &wasm_bindgen::JsValue, name: &str) -> Result<js_sys::Promise, WebError> {
    let method =
        get(target, name).and_then(|f| f.dyn_into::<js_sys::Function>().ok()).ok_or_else(|| WebError::missing(name))?;
    Ok(method.call0(target)?.dyn_into::<js_sys::Promise>()?)
}

/// The app event a key press means (see [`shortcuts::shortcut`]).
fn key_event(e: &KeyboardEvent) -> Option<Event> {
    let typing = e.target().and_then(|t| t.dyn_into::<Element>().ok()).is_some_and(|el| {
        matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
            || el.dyn_ref::<HtmlElement>().is_some_and(HtmlElement::is_content_editable)
    });
    let key = e.key();
    let press = Press { key: &key, modifier: e.ctrl_key() || e.alt_key() || e.meta_key(), typing, repeat: e.repeat() };
    Some(match shortcuts::shortcut(press)? {
        Shortcut::ToggleMic => Event::ToggleMic,
        Shortcut::ToggleCamera => Event::ToggleCamera,
        Shortcut::ToggleChat => Event::Screen(ScreenEvent::ToggleChat),
        Shortcut::Fullscreen => Event::Screen(ScreenEvent::Fullscreen),
        Shortcut::Help => Event::Screen(ScreenEvent::Help),
        Shortcut::Close => Event::Screen(ScreenEvent::Escape),
    })
}
