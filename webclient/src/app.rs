//! The app: one async loop owns all call state and handles one [`Event`] at a time. Browser
//! callbacks (UI, WebSocket, RTCPeerConnection, timers) only send events into it, so there is no
//! shared mutable state and every async step (set a description, answer) finishes before the
//! next event is looked at — which is also what perfect negotiation assumes.

use futures_channel::mpsc;
use futures_util::StreamExt as _;
use shared::{ClientMessage, ErrorCode, IceServer, PeerId, ResumeToken, RoomId, ServerMessage, Signal};
use web_sys::{MediaStream, MediaStreamTrack, RtcPeerConnectionState};

use crate::browser::{self, log, sleep};
use crate::call::Call;
use crate::chat;
use crate::error::WebError;
use crate::link::{default_signaling_url, room_id_from, Params};
use crate::media::{self, LocalMedia};
use crate::negotiation::{is_polite, sdp_session_id, Kind};
use crate::retry::backoff_ms;
use crate::signaling::Signaling;
use crate::state::{Facts, Link, Media, Peer, Phase, Problem};
use crate::stats::summarize;
use crate::ui::{Author, Ui};

/// Events come from browser callbacks, which cannot wait; they arrive at human and network
/// rates, so an unbounded queue inside the page is the right tool here.
pub type Sender = mpsc::UnboundedSender<Event>;

pub enum Event {
    StartCall,
    CopyLink,
    Rejoin,
    HangUp,
    ToggleMic,
    ToggleCamera,
    ShareScreen,
    ScreenShareEnded,
    ChatSubmit,
    Online,
    /// Once a second while in a call: refresh the stats line.
    Tick,
    Reconnect(u32),
    /// A few seconds after the media path went `disconnected`: restart ICE if it is still down.
    IceCheck(u32),
    SignalingOpen(u32),
    SignalingMessage(u32, String),
    SignalingClosed(u32, u16),
    NegotiationNeeded(u32),
    LocalSignal(u32, Signal),
    RemoteStream(u32, MediaStream),
    ConnectionState(u32),
    ChatOpen(u32, bool),
    ChatMessage(u32, String),
}

/// Server close code: another connection took this seat with our resume token (another tab).
const CLOSE_REPLACED: u16 = 4001;
/// How long a `disconnected` media path may take to recover by itself before an ICE restart.
const ICE_GRACE_MS: u32 = 2_500;
/// Failed first connections to the signaling server before the page says it cannot reach it.
const UNREACHABLE_AFTER: u32 = 2;
/// ICE restarts without success before saying there is no path.
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
    media: Option<LocalMedia>,
    ws: Option<Signaling>,
    ws_generation: u32,
    reconnect_attempt: u32,
    call: Option<Call>,
    call_generation: u32,
    screen: Option<MediaStreamTrack>,
    muted: bool,
    camera_off: bool,
}

fn resume_key(room: &RoomId) -> String {
    format!("connect.resume.{}", room.as_str())
}

impl App {
    fn new(tx: Sender) -> Result<App, WebError> {
        let ui = Ui::new(&tx)?;
        let location = browser::location()?;
        let params = Params::parse(&location.search);
        let signaling_url =
            params.signaling.clone().unwrap_or_else(|| default_signaling_url(&location.protocol, &location.host));
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
            media: None,
            ws: None,
            ws_generation: 0,
            reconnect_attempt: 0,
            call: None,
            call_generation: 0,
            screen: None,
            muted: false,
            camera_off: false,
        })
    }

    fn link(&self) -> Option<String> {
        self.room.as_ref().map(|room| format!("{}{}", self.base_url, self.params.query_for(room)))
    }

    fn render(&self) {
        self.ui.render(&self.facts, self.link().as_deref());
    }

    async fn start(&mut self) {
        self.ui.set_sharing(false, false);
        match self.params.room.clone() {
            None => self.render(),
            Some(Ok(room)) => self.begin(room).await,
            Some(Err(_)) => {
                self.facts = Facts { phase: Phase::Failed(Problem::BadLink), ..Facts::joining() };
                self.render();
            }
        }
    }

    /// Enter the room: camera and microphone first (the prompt comes while we connect), then
    /// the signaling connection.
    async fn begin(&mut self, room: RoomId) {
        self.room = Some(room);
        self.facts = Facts::joining();
        self.render();
        if self.media.is_none() {
            match media::acquire().await {
                Ok(local) => {
                    if let Some(note) = &local.note {
                        self.ui.note(note);
                    }
                    self.ui.show_local(Some(&local.stream));
                    self.media = Some(local);
                }
                Err(e) => log(&format!("no local media: {e}")),
            }
        }
        self.refresh_controls();
        self.connect_signaling();
    }

    fn refresh_controls(&self) {
        let has_audio = self.media.as_ref().is_some_and(|m| m.audio.is_some());
        let has_video = self.media.as_ref().is_some_and(|m| m.video.is_some());
        self.ui.set_mic(self.muted, has_audio);
        self.ui.set_camera(self.camera_off, has_video);
        self.ui.set_sharing(self.screen.is_some(), has_video && media::screen_supported());
    }

    fn connect_signaling(&mut self) {
        self.ws_generation += 1;
        self.ws = None;
        match Signaling::open(&self.signaling_url, self.ws_generation, &self.tx) {
            Ok(ws) => self.ws = Some(ws),
            Err(e) => {
                log(&format!("cannot open the signaling connection: {e}"));
                self.schedule_reconnect();
            }
        }
    }

    fn schedule_reconnect(&mut self) {
        let delay = backoff_ms(self.reconnect_attempt, browser::random_fraction());
        self.reconnect_attempt += 1;
        after(delay, &self.tx, Event::Reconnect(self.ws_generation));
    }

    fn send(&self, message: &ClientMessage) {
        if let Some(ws) = &self.ws {
            if let Err(e) = ws.send(message) {
                log(&format!("send failed: {e}"));
            }
        }
    }

    fn signal(&self, data: Signal) {
        if let Some(to) = &self.other {
            self.send(&ClientMessage::Signal { to: to.clone(), data });
        }
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::StartCall => self.start_call().await,
            Event::CopyLink => self.copy_link().await,
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
            Event::Tick => self.refresh_stats().await,
            Event::Reconnect(generation) if generation == self.ws_generation && self.wants_signaling() => {
                self.connect_signaling();
            }
            Event::IceCheck(generation) => self.ice_check(generation),
            Event::SignalingOpen(generation) if generation == self.ws_generation => self.join(),
            Event::SignalingMessage(generation, text) if generation == self.ws_generation => {
                match ServerMessage::parse(&text) {
                    Ok(message) => self.on_server(message).await,
                    Err(e) => log(&format!("unreadable server message: {e}")),
                }
            }
            Event::SignalingClosed(generation, code) if generation == self.ws_generation => self.signaling_lost(code),
            Event::NegotiationNeeded(generation) if self.is_current_call(generation) => self.negotiate().await,
            Event::LocalSignal(generation, signal) if self.is_current_call(generation) => self.signal(signal),
            Event::RemoteStream(generation, stream) if self.is_current_call(generation) => {
                self.ui.show_remote(Some(&stream));
            }
            Event::ConnectionState(generation) if self.is_current_call(generation) => self.media_state(),
            Event::ChatOpen(generation, open) if self.is_current_call(generation) => self.ui.set_chat_enabled(open),
            Event::ChatMessage(generation, text) if self.is_current_call(generation) => {
                if let Some(text) = chat::incoming(&text) {
                    self.ui.append_chat(Author::Them, &text);
                }
            }
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

    fn join(&mut self) {
        let Some(room) = self.room.clone() else { return };
        let resume = browser::stored(&resume_key(&room)).map(ResumeToken::new);
        self.send(&ClientMessage::Join { room, resume });
    }

    async fn on_server(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Joined { room, peer_id, peers, resume_token, ice_servers, .. } => {
                browser::store(&resume_key(&room), resume_token.as_str());
                self.me = Some(peer_id);
                self.ice_servers = ice_servers;
                self.reconnect_attempt = 0;
                self.facts.phase = Phase::InCall;
                self.facts.link = Link::Joined;
                if let Some(other) = peers.into_iter().next() {
                    self.peer_arrived(other, true);
                } else if self.facts.media != Media::Connected {
                    // Alone, and no call survives from before: wait for the other person.
                    if self.facts.peer == Peer::Present {
                        self.facts.peer = Peer::NotYet;
                    }
                }
                self.render();
            }
            ServerMessage::PeerJoined { peer_id } => {
                self.peer_arrived(peer_id, false);
                self.render();
            }
            ServerMessage::PeerLeft { peer_id } => {
                if self.other.as_ref() == Some(&peer_id) {
                    self.other = None;
                    self.end_call();
                    self.facts.peer = Peer::Left;
                    self.ui.note("The other person left.");
                    self.render();
                }
            }
            ServerMessage::Signal { from, data } => self.on_signal(from, data).await,
            ServerMessage::Error { code, message } => self.on_error(code, &message),
        }
    }

    /// The other person is in the room (`joined` listed them, or `peer_joined`). If a call is
    /// still connected — both came back after a server restart, with new ids — it carries on;
    /// otherwise a fresh connection starts.
    fn peer_arrived(&mut self, peer: PeerId, we_are_newcomer: bool) {
        self.other = Some(peer.clone());
        self.facts.peer = Peer::Present;
        let polite = self.me.as_ref().is_some_and(|me| is_polite(me, &peer));
        let alive = self.call.as_ref().is_some_and(|c| c.connection_state() == RtcPeerConnectionState::Connected);
        if alive {
            if let Some(call) = &mut self.call {
                call.set_polite(polite);
            }
            return;
        }
        self.new_call(polite);
        let _ = we_are_newcomer; // both sides negotiate; perfect negotiation settles who offers
    }

    fn new_call(&mut self, polite: bool) {
        self.end_call();
        let Some(media) = &self.media else { return };
        self.call_generation += 1;
        match Call::new(self.call_generation, &self.ice_servers, self.params.force_relay, polite, media, &self.tx) {
            Ok(call) => {
                self.call = Some(call);
                self.facts.media = Media::Connecting;
            }
            Err(e) => log(&format!("cannot create the peer connection: {e}")),
        }
    }

    fn end_call(&mut self) {
        if self.call.take().is_some() {
            self.ui.show_remote(None);
            self.ui.set_chat_enabled(false);
            self.ui.set_stats(None);
        }
        self.facts.media = Media::None;
    }

    async fn on_signal(&mut self, from: PeerId, data: Signal) {
        if self.other.as_ref() != Some(&from) {
            // A signal is only relayed within our room: whoever sends it is the other person,
            // possibly with a new id after a server restart.
            self.peer_arrived(from, false);
        }
        let result = match data {
            Signal::Offer { sdp } => self.on_description(Kind::Offer, &sdp).await,
            Signal::Answer { sdp } => self.on_description(Kind::Answer, &sdp).await,
            Signal::Candidate { candidate, sdp_mid, sdp_m_line_index } => match &self.call {
                Some(call) => call.add_candidate(&candidate, sdp_mid.as_deref(), sdp_m_line_index).await,
                None => Ok(()),
            },
            Signal::EndOfCandidates => Ok(()),
        };
        if let Err(e) = result {
            log(&format!("signal failed: {e}"));
        }
        self.render();
    }

    async fn on_description(&mut self, kind: Kind, sdp: &str) -> Result<(), WebError> {
        // An offer from a new connection of the other side (they reloaded) needs a new one here.
        let remote = self.call.as_ref().and_then(Call::remote_session);
        if kind == Kind::Offer && remote.is_some() && remote.as_deref() != sdp_session_id(sdp) {
            let polite = self.call.as_ref().is_some_and(|_| {
                self.me.as_ref().zip(self.other.as_ref()).is_some_and(|(me, other)| is_polite(me, other))
            });
            self.new_call(polite);
        }
        if self.call.is_none() {
            let polite = self.me.as_ref().zip(self.other.as_ref()).is_some_and(|(me, other)| is_polite(me, other));
            self.new_call(polite);
        }
        let Some(call) = &mut self.call else { return Ok(()) };
        if let Some(answer) = call.apply(kind, sdp).await? {
            self.signal(Signal::Answer { sdp: answer });
        }
        Ok(())
    }

    async fn negotiate(&mut self) {
        let Some(call) = &mut self.call else { return };
        match call.make_offer().await {
            Ok(sdp) => self.signal(Signal::Offer { sdp }),
            Err(e) => log(&format!("offer failed: {e}")),
        }
    }

    fn on_error(&mut self, code: ErrorCode, message: &str) {
        log(&format!("server error {}: {message}", code.as_str()));
        match code {
            ErrorCode::RoomFull => {
                self.facts.phase = Phase::Full;
                self.leave_room(false);
            }
            ErrorCode::InvalidRoom => {
                self.facts.phase = Phase::Failed(Problem::BadLink);
                self.leave_room(false);
            }
            _ => {}
        }
        self.render();
    }

    /// In a call, or still trying to reach the server for one.
    fn wants_signaling(&self) -> bool {
        matches!(self.facts.phase, Phase::InCall | Phase::Failed(Problem::ServerUnreachable))
    }

    fn signaling_lost(&mut self, code: u16) {
        self.ws = None;
        if !self.wants_signaling() {
            return;
        }
        if code == CLOSE_REPLACED {
            self.facts.phase = Phase::Failed(Problem::Refused("this call was opened again in another tab".into()));
            self.leave_room(false);
        } else {
            if self.facts.link == Link::Joined {
                self.facts.link = Link::Lost;
            }
            // Never reached the server at all after a few tries: say so (and keep trying).
            if self.facts.link == Link::Connecting && self.reconnect_attempt >= UNREACHABLE_AFTER {
                self.facts.phase = Phase::Failed(Problem::ServerUnreachable);
            }
            self.schedule_reconnect();
        }
        self.render();
    }

    fn media_state(&mut self) {
        let Some(call) = &mut self.call else { return };
        let generation = call.generation;
        match call.connection_state() {
            RtcPeerConnectionState::Connected => {
                call.restarts = 0;
                call.ever_connected = true;
                self.facts.media = Media::Connected;
            }
            RtcPeerConnectionState::Disconnected => {
                self.facts.media = if call.ever_connected { Media::Interrupted } else { Media::Connecting };
                after(ICE_GRACE_MS, &self.tx, Event::IceCheck(generation));
            }
            RtcPeerConnectionState::Failed => {
                if call.restarts >= MAX_RESTARTS {
                    self.facts.media = Media::NoPath;
                } else {
                    self.facts.media = if call.ever_connected { Media::Interrupted } else { Media::Connecting };
                    call.restart_ice();
                }
            }
            RtcPeerConnectionState::Closed => self.facts.media = Media::None,
            _ => {
                if self.facts.media != Media::Interrupted {
                    self.facts.media = Media::Connecting;
                }
            }
        }
        self.render();
    }

    fn ice_check(&mut self, generation: u32) {
        let Some(call) = &mut self.call else { return };
        if call.generation == generation && call.connection_state() == RtcPeerConnectionState::Disconnected {
            call.restart_ice();
        }
    }

    /// The browser says the network is back: restart ICE now instead of waiting ~30 s for the
    /// old path to time out, and reconnect signaling at once.
    fn online(&mut self) {
        if let Some(call) = &mut self.call {
            if call.connection_state() != RtcPeerConnectionState::Connected {
                call.restart_ice();
            }
        }
        if self.wants_signaling() && self.ws.is_none() {
            self.reconnect_attempt = 0;
            self.connect_signaling();
        }
    }

    async fn refresh_stats(&mut self) {
        let Some(call) = &self.call else { return };
        match call.stats().await {
            Ok(stats) => self.ui.set_stats(Some(&summarize(&stats))),
            Err(e) => log(&format!("stats: {e}")),
        }
    }

    fn hang_up(&mut self) {
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
    fn leave_room(&mut self, forget_seat: bool) {
        self.ws_generation += 1; // stale callbacks and pending reconnects are ignored
        self.ws = None;
        self.end_call();
        self.other = None;
        self.facts.peer = Peer::NotYet;
        self.facts.link = Link::Connecting;
        if let Some(media) = self.media.take() {
            media.stop();
        }
        if let Some(screen) = self.screen.take() {
            screen.stop();
        }
        self.ui.show_local(None);
        if forget_seat {
            if let Some(room) = &self.room {
                browser::forget(&resume_key(room));
            }
        }
        self.refresh_controls();
    }

    fn toggle_mic(&mut self) {
        let Some(track) = self.media.as_ref().and_then(|m| m.audio.as_ref()) else { return };
        self.muted = !self.muted;
        track.set_enabled(!self.muted);
        self.refresh_controls();
    }

    fn toggle_camera(&mut self) {
        let Some(track) = self.media.as_ref().and_then(|m| m.video.as_ref()) else { return };
        self.camera_off = !self.camera_off;
        track.set_enabled(!self.camera_off);
        self.refresh_controls();
    }

    async fn toggle_screen(&mut self) {
        if self.screen.is_some() {
            return self.stop_screen().await;
        }
        let track = match media::screen().await {
            Ok(track) => track,
            Err(e) => return log(&format!("screen sharing not started: {e}")),
        };
        let ended = self.tx.clone();
        let on_ended = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = ended.unbounded_send(Event::ScreenShareEnded);
        });
        track.set_onended(Some(wasm_bindgen::JsCast::unchecked_ref(&on_ended)));
        if let Some(call) = &self.call {
            if let Err(e) = call.replace_video(Some(&track)).await {
                log(&format!("cannot send the screen: {e}"));
            }
        }
        if let Ok(preview) = MediaStream::new() {
            preview.add_track(&track);
            self.ui.show_local(Some(&preview));
        }
        self.screen = Some(track);
        self.refresh_controls();
    }

    async fn stop_screen(&mut self) {
        let Some(screen) = self.screen.take() else { return };
        screen.set_onended(None);
        screen.stop();
        let camera = self.media.as_ref().and_then(|m| m.video.clone());
        if let Some(call) = &self.call {
            if let Err(e) = call.replace_video(camera.as_ref()).await {
                log(&format!("cannot switch back to the camera: {e}"));
            }
        }
        self.ui.show_local(self.media.as_ref().map(|m| &m.stream));
        self.refresh_controls();
    }

    fn send_chat(&mut self) {
        let Some(text) = chat::outgoing(&self.ui.take_chat_input()) else { return };
        match &self.call {
            Some(call) if call.chat_open() => match call.send_chat(&text) {
                Ok(()) => self.ui.append_chat(Author::Me, &text),
                Err(e) => self.ui.note(&format!("Message not sent: {e}")),
            },
            _ => self.ui.note("Message not sent: the other person is not connected."),
        }
    }

    async fn copy_link(&self) {
        let Some(link) = self.link() else { return };
        let copied = match browser::window() {
            Ok(window) => browser::wait(window.navigator().clipboard().write_text(&link)).await.is_ok(),
            Err(_) => false,
        };
        self.ui.copied(copied);
    }
}
