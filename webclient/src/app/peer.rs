//! The room and the call: the signaling connection (join, reconnect with backoff), the server's
//! messages, the other person's arrival and departure, and the RTCPeerConnection's negotiation,
//! state and stats.

use shared::{ClientMessage, ErrorCode, IceServer, PeerId, ResumeToken, ServerMessage, Signal};
use web_sys::RtcPeerConnectionState;

use super::connect::now;
use super::{after, resume_key, App, Event, CLOSE_REPLACED, ICE_GRACE_MS, MAX_RESTARTS, UNREACHABLE_AFTER};
use crate::browser::{self, log};
use crate::call::{read_stats, Call};
use crate::deadline::Input;
use crate::error::WebError;
use crate::negotiation::{is_polite, on_arrival, sdp_session_id, Arrival, Kind, Seen};
use crate::renewal::Renewal;
use crate::retry::backoff_ms;
use crate::signaling::Signaling;
use crate::state::{Link, Media, Peer, Phase, Problem};
use crate::stats::{summarize, Summary};

/// What the page says when the other person's seat is taken over by a new connection.
const PEER_RESUMED_NOTE: &str =
    "The other person reconnected. If they did not just reload their page, it may be someone else: compare the verification code.";

impl App {
    pub(super) fn connect_signaling(&mut self) {
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

    pub(super) fn schedule_reconnect(&mut self) {
        let delay = backoff_ms(self.reconnect_attempt, browser::random_fraction());
        self.reconnect_attempt += 1;
        after(delay, &self.tx, Event::Reconnect(self.ws_generation));
    }

    pub(super) fn send(&self, message: &ClientMessage) {
        if let Some(ws) = &self.ws {
            if let Err(e) = ws.send(message) {
                log(&format!("send failed: {e}"));
            }
        }
    }

    pub(super) fn signal(&self, data: Signal) {
        if let Some(to) = &self.other {
            self.send(&ClientMessage::Signal { to: to.clone(), data });
        }
    }

    pub(super) fn join(&mut self) {
        let Some(room) = self.room.clone() else { return };
        let resume = browser::stored(&resume_key(&room)).map(ResumeToken::new);
        self.send(&ClientMessage::Join { room, resume });
    }

    pub(super) async fn on_server(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Joined { room, peer_id, peers, resume_token, ice_servers, .. } => {
                browser::store(&resume_key(&room), resume_token.as_str());
                self.me = Some(peer_id);
                self.renewal = Renewal::for_servers(&ice_servers, now());
                self.ice_servers = ice_servers;
                self.on_ice_servers();
                self.reconnect_attempt = 0;
                self.facts.phase = if self.entering { Phase::PreJoin } else { Phase::InCall };
                self.facts.link = Link::Joined;
                if let Some(other) = peers.into_iter().next() {
                    self.peer_arrived(other, Seen::Listed);
                } else if self.facts.media != Media::Connected {
                    // Alone, and no call survives from before: wait for the other person.
                    if self.facts.peer == Peer::Present {
                        self.facts.peer = Peer::NotYet;
                    }
                }
                self.render();
                if self.entering {
                    self.prejoin_shown();
                }
            }
            ServerMessage::PeerJoined { peer_id } => {
                self.peer_arrived(peer_id, Seen::Arrived);
                self.render();
            }
            // Their seat has a new connection: a reload of their page, or someone else with their
            // link and resume token. Only they can tell which; the verification code changes too.
            ServerMessage::PeerResumed { peer_id } => {
                if self.other.as_ref() == Some(&peer_id) {
                    self.ui.note(PEER_RESUMED_NOTE);
                }
            }
            ServerMessage::PeerLeft { peer_id } => {
                if self.other.as_ref() == Some(&peer_id) {
                    self.other = None;
                    self.end_call();
                    self.held.clear();
                    self.facts.peer = Peer::Left;
                    self.ui.note("The other person left.");
                    self.render();
                }
            }
            ServerMessage::Signal { from, data } => self.signal_or_hold(from, data).await,
            ServerMessage::Error { code, message } => self.on_error(code, &message),
            // The renewal's answer (the pre-call check asks on a connection of its own).
            ServerMessage::IceConfig { ice_servers } => self.renewed_ice_servers(ice_servers),
        }
    }

    /// The other person is in the room: `joined` listed them, `peer_joined` announced them, or
    /// a signal came from them. [`on_arrival`] decides whether a connected call carries on, we
    /// offer on a fresh connection, or we wait for their offer.
    pub(super) fn peer_arrived(&mut self, peer: PeerId, seen: Seen) {
        self.other = Some(peer);
        self.facts.peer = Peer::Present;
        let polite = self.polite();
        let connected = self.call.as_ref().is_some_and(|c| c.connection_state() == RtcPeerConnectionState::Connected);
        match on_arrival(seen, connected) {
            Arrival::Keep => {
                if let Some(call) = &mut self.call {
                    call.set_polite(polite);
                }
            }
            Arrival::Offer => self.new_call(polite),
            Arrival::AwaitOffer => self.end_call(),
        }
    }

    /// Our role in perfect negotiation, from the two peer ids.
    pub(super) fn polite(&self) -> bool {
        self.me.as_ref().zip(self.other.as_ref()).is_some_and(|(me, other)| is_polite(me, other))
    }

    pub(super) fn new_call(&mut self, polite: bool) {
        self.end_call();
        let Some(media) = &self.media else {
            // Made once the camera and microphone are decided (see `join`).
            self.wants_call = Some(polite);
            return;
        };
        self.call_generation += 1;
        match Call::new(self.call_generation, &self.ice_servers, self.relay_only(), polite, media, &self.tx) {
            Ok(call) => {
                self.call = Some(call);
                self.facts.media = Media::Connecting;
            }
            Err(e) => log(&format!("cannot create the peer connection: {e}")),
        }
    }

    pub(super) fn end_call(&mut self) {
        if self.call.take().is_some() {
            self.ui.show_remote(None);
            self.ui.set_chat_enabled(false);
            self.ui.set_stats(None);
        }
        self.wants_call = None;
        self.facts.media = Media::None;
    }

    pub(super) async fn on_signal(&mut self, from: PeerId, data: Signal) {
        if self.other.as_ref() != Some(&from) {
            // A signal is only relayed within our room: whoever sends it is the other person,
            // possibly with a new id after a server restart.
            self.peer_arrived(from, Seen::Signalled);
        }
        let result = match data {
            Signal::Offer { sdp } => self.on_description(Kind::Offer, &sdp).await,
            Signal::Answer { sdp } => self.on_description(Kind::Answer, &sdp).await,
            Signal::Candidate { candidate, sdp_mid, sdp_m_line_index } => match &mut self.call {
                Some(call) => {
                    call.evidence.remote.add(&candidate);
                    let added = call.add_candidate(&candidate, sdp_mid.as_deref(), sdp_m_line_index).await;
                    self.attempt(Input::RemoteCandidate).await;
                    added
                }
                None => Ok(()),
            },
            Signal::EndOfCandidates => {
                self.remote_end_of_candidates().await;
                Ok(())
            }
            Signal::ConnectFailed { reason } => {
                self.remote_gave_up(reason).await;
                Ok(())
            }
        };
        if let Err(e) = result {
            log(&format!("signal failed: {e}"));
        }
        self.render();
    }

    pub(super) async fn on_description(&mut self, kind: Kind, sdp: &str) -> Result<(), WebError> {
        // An offer from a new connection of the other side (they reloaded) needs a new one here.
        let remote = self.call.as_ref().and_then(Call::remote_session);
        let from_new_session = kind == Kind::Offer && remote.is_some() && remote.as_deref() != sdp_session_id(sdp);
        if from_new_session || self.call.is_none() {
            self.new_call(self.polite());
        }
        self.before_description(kind, sdp).await;
        let Some(call) = &mut self.call else { return Ok(()) };
        let answer = call.apply(kind, sdp).await?;
        let negotiated = answer.is_some() || kind == Kind::Answer;
        if let Some(answer) = answer {
            self.signal(Signal::Answer { sdp: answer });
        }
        if negotiated {
            // Offer/answer done: the attempt's clock starts (if it has not).
            self.attempt(Input::Negotiated { now: now() }).await;
        }
        Ok(())
    }

    pub(super) async fn negotiate(&mut self) {
        let Some(call) = &mut self.call else { return };
        match call.make_offer().await {
            Ok(sdp) => self.signal(Signal::Offer { sdp }),
            Err(e) => log(&format!("offer failed: {e}")),
        }
    }

    pub(super) fn on_error(&mut self, code: ErrorCode, message: &str) {
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
            // The server is up but its room store is not (a multi-node deployment that lost
            // Redis): ask again after a backoff, on the same connection.
            ErrorCode::Unavailable if self.facts.link != Link::Joined => {
                let delay = backoff_ms(self.reconnect_attempt.max(2), browser::random_fraction());
                self.reconnect_attempt += 1;
                after(delay, &self.tx, Event::RetryJoin(self.ws_generation));
            }
            _ => {}
        }
        self.render();
    }

    /// In a call, or still trying to reach the server for one.
    pub(super) fn wants_signaling(&self) -> bool {
        matches!(self.facts.phase, Phase::InCall | Phase::PreJoin | Phase::Failed(Problem::ServerUnreachable))
    }

    pub(super) fn signaling_lost(&mut self, code: u16) {
        self.ws = None;
        if !self.wants_signaling() {
            return;
        }
        if code == CLOSE_REPLACED {
            self.facts.phase = Phase::Failed(Problem::OpenedElsewhere);
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

    pub(super) async fn media_state(&mut self) {
        let Some(call) = &mut self.call else { return };
        let generation = call.generation;
        match call.connection_state() {
            RtcPeerConnectionState::Connected => {
                call.restarts = 0;
                call.ever_connected = true;
                call.attempts.on(Input::Connected);
                self.facts.media = Media::Connected;
            }
            RtcPeerConnectionState::Disconnected => {
                self.facts.media = if call.ever_connected { Media::Interrupted } else { Media::Connecting };
                after(ICE_GRACE_MS, &self.tx, Event::IceCheck(generation));
            }
            // Never connected: the deadline decides (one restart, then give up).
            RtcPeerConnectionState::Failed if !call.ever_connected => {
                self.facts.media = Media::Connecting;
                self.attempt(Input::Failed { now: now() }).await;
            }
            RtcPeerConnectionState::Failed => {
                if call.restarts >= MAX_RESTARTS {
                    return self.give_up(None).await;
                }
                self.facts.media = Media::Interrupted;
                call.restart_ice();
            }
            RtcPeerConnectionState::Closed => self.facts.media = Media::None,
            _ => {
                if self.facts.media != Media::Interrupted {
                    self.facts.media = Media::Connecting;
                }
            }
        }
        self.render();
        if self.facts.media == Media::Connected {
            self.verify_now().await;
        }
    }

    /// A connection that dropped after having worked: restart ICE if it is still down. Before
    /// the first connection the deadline owns restarts.
    pub(super) fn ice_check(&mut self, generation: u32) {
        let Some(call) = &mut self.call else { return };
        let down = call.connection_state() == RtcPeerConnectionState::Disconnected;
        if call.generation == generation && call.ever_connected && down {
            call.restart_ice();
        }
    }

    /// The browser says the network is back: restart ICE now instead of waiting ~30 s for the
    /// old path to time out, and reconnect signaling at once.
    pub(super) fn online(&mut self) {
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

    /// Each second: ask for fresh TURN credentials once the current ones are three quarters
    /// through their lifetime, while joined (see `renewal`).
    pub(super) fn renew_ice_servers(&mut self) {
        if self.facts.link == Link::Joined && self.renewal.ask(now()) {
            self.send(&ClientMessage::IceConfig);
        }
    }

    /// Fresh servers: kept for the next call, and given to the current one for its next
    /// gathering (an ICE restart); allocations it holds carry on, coturn keeps them past expiry.
    fn renewed_ice_servers(&mut self, ice_servers: Vec<IceServer>) {
        self.renewal = Renewal::for_servers(&ice_servers, now());
        self.ice_servers = ice_servers;
        if let Some(call) = &self.call {
            if let Err(e) = call.set_ice_servers(&self.ice_servers, self.params.force_relay) {
                log(&format!("cannot renew the ICE servers: {e}"));
            }
        }
        self.ice_renewals += 1;
        self.ui.set_ice_renewals(self.ice_renewals);
    }

    pub(super) async fn refresh_stats(&mut self) {
        self.attempt(Input::Tick { now: now() }).await;
        let Some(call) = &self.call else { return };
        match call.report().await {
            Ok(report) => {
                let private = call.evidence.relay_only;
                let summary = Summary { private, ..summarize(&read_stats(&report)) };
                self.ui.set_stats(Some(&summary));
                self.show_quality(&summary);
                self.refresh_trust(&report).await;
            }
            Err(e) => log(&format!("stats: {e}")),
        }
    }
}
