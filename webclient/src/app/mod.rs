//! The app: one async loop owns all call state and handles one [`Event`] at a time. Browser
//! callbacks (UI, WebSocket, RTCPeerConnection, timers) only send events into it, so there is no
//! shared mutable state and every async step (set a description, answer) finishes before the
//! next event is looked at — which is also what perfect negotiation assumes.

mod check;
mod connect;
mod controls;
mod join;
mod peer;
mod screen;
mod trust;

use futures_channel::mpsc;
use futures_util::StreamExt as _;
use shared::{IceServer, PeerId, RoomId, Signal};

use crate::browser::{self, log, sleep};
use crate::call::Call;
use crate::error::WebError;
use crate::event::{Event, Sender};
use crate::join_view::JoinView;
use crate::link::{room_id_from, signaling_url, Params};
use crate::media::{Choice, LocalMedia};
use crate::privacy::{self, Availability};
use crate::renewal::Renewal;
use crate::signaling::Signaling;
use crate::state::{Facts, Media, Phase, Problem};
use crate::trust_view::TrustView;
use crate::ui::Ui;

/// Server close code: another connection took this seat with our resume token (another tab or
/// device, or someone else holding the token).
const CLOSE_REPLACED: u16 = shared::close::REPLACED;
/// How long a `disconnected` media path may take to recover by itself before an ICE restart.
const ICE_GRACE_MS: u32 = 2_500;
/// Failed first connections to the signaling server before the page says it cannot reach it.
const UNREACHABLE_AFTER: u32 = 2;
/// ICE restarts without success, after a call that had connected lost its path, before saying
/// there is no path. (Before the first connection the deadline allows one: see `deadline`.)
const MAX_RESTARTS: u32 = 3;

pub async fn run() {
    let (tx, mut rx) = mpsc::unbounded();
    let mut app = match App::new(tx.clone()) {
        Ok(app) => app,
        Err(e) => return log(&format!("Connect cannot start: {e}")),
    };
    app.start().await;
    spawn_ticker(tx);
    while let Some(event) = rx.next().await {
        app.handle(event).await;
    }
}

/// App-lifetime timer: a `Tick` each second, for as long as the page lives.
fn spawn_ticker(tx: Sender) {
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            sleep(1_000).await;
            if tx.unbounded_send(Event::Tick).is_err() {
                return;
            }
        }
    });
}

fn after(ms: u32, tx: &Sender, event: Event) {
    let tx = tx.clone();
    wasm_bindgen_futures::spawn_local(async move {
        sleep(ms).await;
        let _ = tx.unbounded_send(event);
    });
}

struct App {
    tx: Sender,
    ui: Ui,
    params: Params,
    base_url: String,
    signaling_url: String,
    facts: Facts,
    room: Option<RoomId>,
    me: Option<PeerId>,
    other: Option<PeerId>,
    ice_servers: Vec<IceServer>,
    /// When to renew `ice_servers`' TURN credentials.
    renewal: Renewal,
    /// Renewals answered so far, shown as `data-ice-renewals` for tests.
    ice_renewals: u32,
    media: Option<LocalMedia>,
    ws: Option<Signaling>,
    ws_generation: u32,
    reconnect_attempt: u32,
    call: Option<Call>,
    call_generation: u32,
    screen: Option<controls::Screen>,
    muted: bool,
    camera_off: bool,
    /// Successful copies of the link, so only the last one's timer resets the button.
    copies: u32,
    trust: TrustView,
    /// The person's privacy-mode setting (remembered); whether it applies needs a relay.
    privacy_wanted: bool,
    availability: Availability,
    /// The verification code shown and the hashed input it came from (hashed again only on change).
    verified: Option<(Vec<u8>, String)>,
    /// The pre-join screen, the device menu and the camera-and-microphone panel.
    view: JoinView,
    /// This visit to the room goes through the pre-join screen (a link opened, not yet joined).
    entering: bool,
    /// The pre-join screen's camera and microphone, which become `media` on **Join**.
    preview: Option<LocalMedia>,
    /// Camera and microphone requests so far: an answer for an older one is stopped, unused.
    media_generation: u32,
    /// A request is waiting for the browser (its permission prompt may be open).
    media_pending: bool,
    /// A call to start (with this politeness) once the camera and microphone are decided.
    wants_call: Option<bool>,
    /// The other person's signals that came before the camera and microphone were decided.
    held: Vec<(PeerId, Signal)>,
    /// The camera and microphone the person chose.
    choice: Choice,
    /// The speaker the person chose, where the browser can set one.
    speaker: Option<String>,
    /// The state last rendered: a screen's next step takes focus when the screen appears.
    shown: std::cell::Cell<Option<crate::state::CallState>>,
    /// The call screen: peer state, tiles, layout, chat sheet, timer, wake lock.
    call_screen: screen::CallScreen,
}

fn resume_key(room: &RoomId) -> String {
    format!("connect.resume.{}", room.as_str())
}

impl App {
    fn new(tx: Sender) -> Result<App, WebError> {
        let ui = Ui::new(&tx)?;
        let location = browser::location()?;
        let params = Params::parse(&location.search);
        let (signaling_url, ignored) = signaling_url(params.signaling.as_deref(), &location.protocol, &location.host);
        if let Some(url) = ignored {
            ui.note(&format!("Ignored the link's signaling server {url}: only this page's own server is used."));
        }
        let trust = TrustView::new()?;
        let view = JoinView::new(&tx)?;
        let call_screen = screen::CallScreen::new(&tx)?;
        let privacy_wanted = privacy::remembered(crate::trust::remembered(privacy::STORAGE_KEY).as_deref());
        trust.set_privacy(privacy_wanted, Availability::Unknown);
        Ok(App {
            tx,
            ui,
            params,
            base_url: location.base,
            signaling_url,
            facts: Facts::lobby(),
            room: None,
            me: None,
            other: None,
            ice_servers: Vec::new(),
            renewal: Renewal::default(),
            ice_renewals: 0,
            media: None,
            ws: None,
            ws_generation: 0,
            reconnect_attempt: 0,
            call: None,
            call_generation: 0,
            screen: None,
            muted: false,
            camera_off: false,
            copies: 0,
            trust,
            privacy_wanted,
            availability: Availability::Unknown,
            verified: None,
            view,
            entering: false,
            preview: None,
            media_generation: 0,
            media_pending: false,
            wants_call: None,
            held: Vec::new(),
            choice: Choice::default(),
            speaker: None,
            shown: std::cell::Cell::new(None),
            call_screen,
        })
    }

    fn link(&self) -> Option<String> {
        self.room.as_ref().map(|room| format!("{}{}", self.base_url, self.params.query_for(room)))
    }

    fn render(&mut self) {
        self.ui.render(&self.facts, self.link().as_deref());
        let state = self.facts.state();
        self.view.set_visible(state == crate::state::CallState::Prejoin);
        self.view.set_link(self.link().as_deref());
        let (steps, focus) = crate::next_step::next_steps(&self.facts);
        self.view.show_next_steps(&steps);
        if self.shown.replace(Some(state)) != Some(state) {
            if let Some(step) = focus {
                self.view.focus(step.id());
            }
        }
        if self.facts.media != Media::Connected {
            self.trust.show_code(None);
        }
        self.render_screen();
    }

    async fn start(&mut self) {
        if self.ui.unsupported() {
            return log("this browser cannot make the call: the page says why");
        }
        self.ui.take_down_loading_screen();
        self.ui.set_sharing(false, false);
        if self.params.check {
            return self.run_check();
        }
        match self.params.room.clone() {
            None => self.render(),
            Some(Ok(room)) => self.open_link(room).await,
            Some(Err(_)) => {
                self.facts = Facts { phase: Phase::Failed(Problem::BadLink), ..Facts::joining() };
                self.render();
            }
        }
    }

    /// Enter the room: the signaling connection and the camera and microphone at once, neither
    /// waiting for the other, so the link shows while the browser's prompt is still open.
    async fn begin(&mut self, room: RoomId) {
        browser::store(&join::entered_key(&room), "1");
        self.room = Some(room);
        self.entering = false;
        self.facts = Facts::joining();
        // Straight in (Start a call, Rejoin, a reload): the device lists belong to the call.
        self.view.move_devices_to_call();
        self.render();
        if self.media.is_none() && !self.media_pending {
            self.request_media();
        }
        self.refresh_controls();
        self.connect_signaling();
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::StartCall => self.start_call().await,
            Event::CopyLink => self.copy_link().await,
            Event::CopiedShown(copy) if copy == self.copies => self.ui.show_copied(false),
            Event::Rejoin => {
                if let Some(room) = self.room.clone() {
                    self.begin(room).await;
                }
            }
            Event::HangUp => self.hang_up(),
            Event::ToggleMic => self.toggle_mic(),
            Event::ToggleCamera => self.toggle_camera(),
            Event::ShareScreen => self.toggle_screen().await,
            Event::ScreenShareEnded => self.stop_screen().await,
            Event::ChatSubmit => self.send_chat(),
            Event::Online => self.online(),
            Event::Tick => {
                self.show_timer();
                self.renew_ice_servers();
                self.refresh_stats().await;
            }
            Event::Reconnect(generation) if generation == self.ws_generation && self.wants_signaling() => {
                self.connect_signaling();
            }
            Event::IceCheck(generation) => self.ice_check(generation),
            Event::RetryJoin(generation) if generation == self.ws_generation && self.ws.is_some() => self.join(),
            Event::SignalingOpen(generation) if generation == self.ws_generation => self.join(),
            Event::SignalingMessage(generation, text) if generation == self.ws_generation => {
                match crate::json::server_message(&text) {
                    Ok(message) => self.on_server(message).await,
                    Err(e) => log(&format!("unreadable server message: {e}")),
                }
            }
            Event::SignalingClosed(generation, code) if generation == self.ws_generation => self.signaling_lost(code),
            Event::NegotiationNeeded(generation) if self.is_current_call(generation) => self.negotiate().await,
            Event::LocalSignal(generation, signal) if self.is_current_call(generation) => {
                self.local_signal(signal).await
            }
            Event::RemoteStream(generation, stream) if self.is_current_call(generation) => {
                self.remote_stream(generation, &stream);
            }
            Event::ConnectionState(generation) if self.is_current_call(generation) => self.media_state().await,
            Event::CandidateError(generation, error) if self.is_current_call(generation) => {
                if let Some(call) = &mut self.call {
                    call.evidence.error(error);
                }
            }
            Event::Retry => self.retry(),
            Event::OpenCheck => self.open_check(),
            Event::PrivacyToggled => self.privacy_toggled(),
            Event::JoinPressed => self.join_pressed().await,
            Event::MediaReady(generation, result) => self.media_ready(generation, result).await,
            Event::PermissionSlow(generation) => self.permission_slow(generation),
            Event::DeviceChosen(kind) => self.device_chosen(kind).await,
            Event::DevicesChanged => self.devices_changed().await,
            Event::MediaRetry => self.media_retry(),
            Event::Invite => self.view.show_invite(None),
            Event::ShareLink => {
                if let Some(link) = self.link() {
                    // A cancelled sheet rejects too: nothing to tell the person.
                    if let Err(e) = crate::join_view::share(&link).await {
                        log(&format!("share sheet: {e}"));
                    }
                }
            }
            Event::ChatOpen(generation, open) if self.is_current_call(generation) => self.channel_open(open),
            Event::ChatMessage(generation, text) if self.is_current_call(generation) => self.channel_message(&text),
            Event::Screen(event) => self.on_screen(event).await,
            // Events of a replaced socket or call.
            _ => {}
        }
    }

    fn is_current_call(&self, generation: u32) -> bool {
        self.call.as_ref().is_some_and(|c| c.generation == generation)
    }

    async fn start_call(&mut self) {
        let room = match browser::random_bytes::<12>() {
            Ok(bytes) => room_id_from(bytes),
            Err(e) => return log(&format!("no random source: {e}")),
        };
        if let Err(e) = browser::push_url(&self.params.query_for(&room)) {
            log(&format!("cannot update the address bar: {e}"));
        }
        self.begin(room).await;
    }
}
