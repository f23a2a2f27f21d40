//! The call screen in the app loop: the state both pages tell each other over the data channel
//! (and show on their tiles), the stage's arrangement, the chat sheet and unread count, the
//! timer, title and focus after each render, the screen wake lock, "Tap to hear", and the
//! devices released when the page goes away.

use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::MediaStream;

use super::connect::now;
use super::App;
use crate::browser::{get, get_bool, get_f64, get_string, log, window};
use crate::call_view::CallView;
use crate::error::WebError;
use crate::event::{Event, ScreenEvent, Sender};
use crate::layout::{self, View};
use crate::peer_state::{self, change_sentence, tile, Fields, Incoming, PeerState};
use crate::quality::quality;
use crate::state::{CallState, Peer};
use crate::stats::Summary;
use crate::ui::Author;

/// Where `webclient` keeps the person's display name (the pre-join screen writes it).
pub(super) const NAME_KEY: &str = "connect.name";

/// The screen wake lock while in a call.
enum Wake {
    /// Not held and not asked for.
    Idle,
    Requesting,
    /// Held: the `WakeLockSentinel`, released when the call ends.
    Held(JsValue),
    /// Refused for this call (the browser's policy, a hidden page, low battery).
    Refused,
}

pub(super) struct CallScreen {
    view: CallView,
    layout: View,
    chat_open: bool,
    unread: u32,
    stats_open: bool,
    /// When the call first connected (the timer's zero), while it lasts.
    connected_since: Option<f64>,
    last_state: Option<CallState>,
    /// What the other person last told us, while they are here.
    peer: Option<PeerState>,
    /// What we last sent on the current call's channel (sent again on a new channel).
    sent: Option<PeerState>,
    wake: Wake,
}

impl CallScreen {
    pub(super) fn new(tx: &Sender) -> Result<CallScreen, WebError> {
        let view = CallView::new(tx)?;
        let chat_open = !view.is_narrow();
        view.show_chat(chat_open, 0);
        view.show_stats(false);
        view.arrange(View::default());
        Ok(CallScreen {
            view,
            layout: View::default(),
            chat_open,
            unread: 0,
            stats_open: false,
            connected_since: None,
            last_state: None,
            peer: None,
            sent: None,
            wake: Wake::Idle,
        })
    }
}

impl App {
    /// This page's own state, from its devices and switches; `None` before devices were asked for.
    fn own_state(&self) -> Option<PeerState> {
        let media = self.media.as_ref()?;
        let name = crate::trust::remembered(NAME_KEY);
        Some(PeerState::own(
            media.audio.is_some(),
            self.muted,
            media.video.is_some(),
            self.camera_off,
            self.screen.is_some(),
            name,
        ))
    }

    /// After any change of devices or switches: the self tile, and the other page told.
    pub(super) fn own_state_changed(&mut self) {
        let own = self.own_state();
        let own_tile = own.as_ref().map(|state| {
            let mut own_tile = tile(state, "You");
            own_tile.label = "You".to_owned();
            own_tile
        });
        self.call_screen.view.show_self(own.as_ref(), own_tile.as_ref());
        self.send_own_state();
    }

    /// Sends our state on the call's channel if it is open and the state is news to it.
    fn send_own_state(&mut self) {
        let Some(own) = self.own_state() else { return };
        let Some(call) = self.call.as_ref().filter(|c| c.chat_open()) else { return };
        if self.call_screen.sent.as_ref() == Some(&own) {
            return;
        }
        match call.send_chat(&own.to_message()) {
            Ok(()) => self.call_screen.sent = Some(own),
            Err(e) => log(&format!("state not sent: {e}")),
        }
    }

    /// The channel opened (a new one each call) or closed: chat usable, and our state sent.
    pub(super) fn channel_open(&mut self, open: bool) {
        self.ui.set_chat_enabled(open);
        self.call_screen.sent = None;
        if open {
            self.send_own_state();
        }
    }

    /// A message on the data channel: a chat line or the other person's state.
    pub(super) fn channel_message(&mut self, text: &str) {
        match peer_state::classify(text, js_fields) {
            Incoming::Chat(text) => {
                self.ui.append_chat(Author::Them, &text);
                if !self.call_screen.chat_open {
                    self.call_screen.unread = self.call_screen.unread.saturating_add(1);
                    self.show_chat();
                }
            }
            Incoming::State(state) => {
                if let Some(sentence) = change_sentence(self.call_screen.peer.as_ref(), &state) {
                    self.call_screen.view.announce(&sentence);
                }
                self.ui.set_them_name(state.name.as_deref().unwrap_or("The other person"));
                self.call_screen.peer = Some(state);
                self.show_peer();
            }
            Incoming::Ignored => {}
        }
    }

    fn show_peer(&self) {
        let state = self.call_screen.peer.as_ref();
        let peer_tile = state.map(|s| tile(s, "The other person"));
        self.call_screen.view.show_peer(state, peer_tile.as_ref());
    }

    fn show_chat(&self) {
        self.call_screen.view.show_chat(self.call_screen.chat_open, self.call_screen.unread);
    }

    fn set_chat_open(&mut self, open: bool) {
        let screen = &mut self.call_screen;
        screen.chat_open = open;
        if open {
            screen.unread = 0;
        }
        self.show_chat();
        if open {
            self.call_screen.view.focus_chat_input();
        } else {
            self.call_screen.view.focus_chat_toggle();
        }
    }

    /// The other person's stream: shown and played; a refusal to play with sound (autoplay
    /// policy) comes back as [`ScreenEvent::AutoplayBlocked`]. Played in a task of its own: the
    /// promise settles only once media flows, which needs this loop to go on.
    pub(super) fn remote_stream(&mut self, generation: u32, stream: &MediaStream) {
        self.ui.show_remote(Some(stream));
        self.call_screen.view.show_tap_to_hear(false);
        self.play_remote(generation);
    }

    fn play_remote(&self, generation: u32) {
        let play = self.call_screen.view.play_remote();
        let tx = self.tx.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = play.await {
                if e.name == "NotAllowedError" {
                    let _ = tx.unbounded_send(Event::Screen(ScreenEvent::AutoplayBlocked(generation)));
                }
            }
        });
    }

    /// After each render: peer and self tiles, timer, quality, title, focus and wake lock.
    pub(super) fn render_screen(&mut self) {
        let state = self.facts.state();
        if self.other.is_none() || self.facts.peer != Peer::Present {
            if self.call_screen.peer.take().is_some() {
                self.ui.set_them_name("The other person");
            }
            self.show_peer();
        }
        if self.call.is_none() {
            self.call_screen.view.show_quality(None);
            self.call_screen.view.show_tap_to_hear(false);
        }
        match state {
            CallState::Connected => {
                self.call_screen.connected_since.get_or_insert_with(now);
            }
            CallState::Connecting | CallState::Reconnecting => {}
            _ => self.call_screen.connected_since = None,
        }
        self.show_timer();
        if self.call_screen.last_state != Some(state) {
            // The first screen is where the page opened: focus stays where the browser put it.
            let changed = self.call_screen.last_state.replace(state).is_some();
            self.call_screen.view.set_title(layout::title(state));
            let link_shown = self.facts.show_link() && self.room.is_some();
            if let Some(id) = layout::focus_target(state, link_shown).filter(|_| changed) {
                self.call_screen.view.rescue_focus(id);
            }
        }
        self.keep_awake(matches!(state, CallState::Connecting | CallState::Connected | CallState::Reconnecting));
    }

    /// Each second: the timer.
    pub(super) fn show_timer(&self) {
        let text = self.call_screen.connected_since.map(|since| layout::elapsed(now() - since));
        self.call_screen.view.show_timer(text.as_deref());
    }

    /// The quality bars from the summary the status line shows.
    pub(super) fn show_quality(&self, summary: &Summary) {
        self.call_screen.view.show_quality(quality(summary));
    }

    /// Holds the screen wake lock while `wanted` and the page is visible; lets it go otherwise.
    fn keep_awake(&mut self, wanted: bool) {
        let wanted = wanted && !self.call_screen.view.page_hidden();
        match (&self.call_screen.wake, wanted) {
            (Wake::Idle, true) => {
                self.call_screen.wake = Wake::Requesting;
                request_wake_lock(&self.tx);
            }
            (Wake::Held(sentinel), false) => {
                if let Some(release) = get(sentinel, "release").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) {
                    let _ = release.call0(sentinel);
                }
                self.call_screen.wake = Wake::Idle;
                self.call_screen.view.show_wake_lock("released");
            }
            (Wake::Refused, false) => self.call_screen.wake = Wake::Idle,
            _ => {}
        }
    }

    pub(super) async fn on_screen(&mut self, event: ScreenEvent) {
        match event {
            ScreenEvent::MoveSelfView => self.rearrange(|layout| layout.corner = layout.corner.next()),
            ScreenEvent::HideSelfView => self.rearrange(|layout| layout.self_hidden = !layout.self_hidden),
            ScreenEvent::SwapViews => self.rearrange(|layout| layout.swapped = !layout.swapped),
            ScreenEvent::Fullscreen => self.call_screen.view.toggle_fullscreen(),
            ScreenEvent::FullscreenChanged => self.call_screen.view.fullscreen_changed(),
            ScreenEvent::PictureInPicture => {
                if let Err(e) = self.call_screen.view.toggle_pip().await {
                    log(&format!("picture in picture: {e}"));
                }
            }
            ScreenEvent::PictureInPictureChanged => self.call_screen.view.pip_changed(),
            ScreenEvent::ToggleStats => {
                let screen = &mut self.call_screen;
                screen.stats_open = !screen.stats_open;
                screen.view.show_stats(screen.stats_open);
            }
            ScreenEvent::ToggleChat => self.set_chat_open(!self.call_screen.chat_open),
            ScreenEvent::CloseChat => self.set_chat_open(false),
            ScreenEvent::Help => self.call_screen.view.toggle_shortcuts(),
            ScreenEvent::Escape => {
                let screen = &self.call_screen;
                let closed = screen.view.close_shortcuts() || screen.view.leave_fullscreen();
                if !closed && screen.chat_open && screen.view.is_narrow() {
                    self.set_chat_open(false);
                }
            }
            ScreenEvent::TapToHear => {
                self.call_screen.view.show_tap_to_hear(false);
                self.call_screen.view.mute_remote(false);
                let generation = self.call.as_ref().map_or(0, |c| c.generation);
                self.play_remote(generation);
            }
            ScreenEvent::AutoplayBlocked(generation) => {
                // The picture may always play without sound: show it, and offer the sound.
                if self.is_current_call(generation) {
                    self.call_screen.view.show_tap_to_hear(true);
                    if !self.call_screen.view.mute_remote(true) {
                        self.play_remote(generation);
                    }
                }
            }
            ScreenEvent::WakeLock(result) => self.wake_lock_answer(result),
            ScreenEvent::VisibilityChanged => {
                // The browser lets a wake lock go when the page is hidden; ask again on return.
                let screen = &mut self.call_screen;
                if screen.view.page_hidden() && matches!(screen.wake, Wake::Held(_)) {
                    screen.wake = Wake::Idle;
                    screen.view.show_wake_lock("released");
                }
                self.render_screen();
            }
            ScreenEvent::PageHide => self.release_devices(),
            ScreenEvent::PageShowPersisted => {
                if let Ok(window) = window() {
                    let _ = window.location().reload();
                }
            }
        }
    }

    fn rearrange(&mut self, change: impl FnOnce(&mut View)) {
        change(&mut self.call_screen.layout);
        self.call_screen.view.arrange(self.call_screen.layout);
    }

    fn wake_lock_answer(&mut self, result: Result<JsValue, String>) {
        let in_call =
            matches!(self.facts.state(), CallState::Connecting | CallState::Connected | CallState::Reconnecting);
        let screen = &mut self.call_screen;
        match result {
            Ok(sentinel) if in_call && matches!(screen.wake, Wake::Requesting) => {
                screen.wake = Wake::Held(sentinel);
                screen.view.show_wake_lock("held");
            }
            Ok(sentinel) => {
                // The call ended while the browser answered.
                if let Some(release) = get(&sentinel, "release").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) {
                    let _ = release.call0(&sentinel);
                }
                screen.wake = Wake::Idle;
            }
            Err(why) => {
                log(&format!("no screen wake lock: {why}"));
                screen.wake = Wake::Refused;
                screen.view.show_wake_lock(if why == "unsupported" { "unsupported" } else { "refused" });
            }
        }
    }

    /// The person leaves the page: camera, microphone and any shared screen are stopped now,
    /// not whenever the browser gets to it.
    fn release_devices(&mut self) {
        if let Some(media) = &self.media {
            media.stop();
        }
        if let Some(screen) = self.screen.take() {
            screen.stop();
        }
    }
}

/// A control message's fields, read by the browser's `JSON.parse` (see [`peer_state::Fields`]).
fn js_fields(text: &str) -> Option<Fields> {
    let value = js_sys::JSON::parse(text).ok().filter(JsValue::is_object)?;
    Some(Fields {
        v: get_f64(&value, "v"),
        kind: get_string(&value, "type"),
        mic: get_string(&value, "mic"),
        camera: get_string(&value, "camera"),
        screen: get_bool(&value, "screen"),
        name: get_string(&value, "name"),
    })
}

/// Asks for the screen wake lock (`navigator.wakeLock.request("screen")`, no web-sys binding
/// without unstable APIs); the answer comes back as [`ScreenEvent::WakeLock`].
fn request_wake_lock(tx: &Sender) {
    let tx = tx.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let answer = async {
            let navigator = window().map_err(|e| e.to_string())?.navigator();
            let lock = get(&navigator, "wakeLock").ok_or_else(|| "unsupported".to_owned())?;
            let request = get(&lock, "request")
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .ok_or_else(|| "unsupported".to_owned())?;
            let promise = request
                .call1(&lock, &JsValue::from_str("screen"))
                .map_err(|e| WebError::from(e).to_string())?
                .dyn_into::<js_sys::Promise>()
                .map_err(|_| "no promise".to_owned())?;
            crate::browser::wait(promise).await.map_err(|e| e.to_string())
        };
        let _ = tx.unbounded_send(Event::Screen(ScreenEvent::WakeLock(answer.await)));
    });
}
