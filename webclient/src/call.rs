//! One RTCPeerConnection to the other person: tracks, the chat channel, perfect negotiation, ICE
//! restarts and stats. Its callbacks only forward events (tagged with the call's generation) to
//! the app loop; every decision is made there or in [`crate::negotiation`].

use shared::{IceServer, Signal};
use wasm_bindgen::prelude::*;
use web_sys::{
    MediaStream, MediaStreamTrack, MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelInit,
    RtcIceCandidateInit, RtcIceServer, RtcIceTransportPolicy, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcRtpSender, RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
    RtcSignalingState, RtcTrackEvent,
};

use crate::browser::{get, get_bool, get_f64, get_string, wait};
use crate::chat;
use crate::deadline::Attempts;
use crate::diagnosis::{is_turn_url, CandidateError, Evidence};
use crate::error::WebError;
use crate::event::{Event, Sender};
use crate::listener::Listener;
use crate::media::LocalMedia;
use crate::negotiation::{sdp_session_id, Decision, Kind, Negotiator};
use crate::stats::Stat;

pub struct Call {
    pub generation: u32,
    pc: RtcPeerConnection,
    chat: RtcDataChannel,
    negotiator: Negotiator,
    video_sender: Option<RtcRtpSender>,
    /// Where the microphone goes: switched to another microphone without renegotiating.
    audio_sender: Option<RtcRtpSender>,
    /// ICE restarts since the connection was last `connected`.
    pub restarts: u32,
    pub ever_connected: bool,
    /// The deadline of the first connection: one restart, then give up.
    pub attempts: Attempts,
    /// What the browser reported, for saying why if it never connects.
    pub evidence: Evidence,
    /// The other side's ICE username fragment: a new one in an offer is an ICE restart.
    pub remote_ufrag: Option<String>,
    /// The callbacks, owned by the call and removed when it is dropped.
    _listeners: [Listener; 8],
}

pub(crate) fn configuration(ice_servers: &[IceServer], force_relay: bool) -> RtcConfiguration {
    let servers = js_sys::Array::new();
    for server in ice_servers {
        let entry = RtcIceServer::new();
        let urls: js_sys::Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
        entry.set_urls(&urls);
        if let Some(username) = &server.username {
            entry.set_username(username);
        }
        if let Some(credential) = &server.credential {
            entry.set_credential(credential);
        }
        servers.push(&entry);
    }
    let config = RtcConfiguration::new();
    config.set_ice_servers(&servers);
    if force_relay {
        config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
    }
    config
}

impl Call {
    pub fn new(
        generation: u32,
        ice_servers: &[IceServer],
        force_relay: bool,
        polite: bool,
        media: &LocalMedia,
        tx: &Sender,
    ) -> Result<Call, WebError> {
        let pc = RtcPeerConnection::new_with_configuration(&configuration(ice_servers, force_relay))?;
        let emit = |tx: &Sender| {
            let tx = tx.clone();
            move |event: Event| {
                let _ = tx.unbounded_send(event);
            }
        };
        // Send what we have; receive audio and video either way, so a person without a camera
        // still sees the other.
        let mut audio_sender = None;
        match &media.audio {
            Some(track) => audio_sender = Some(pc.add_track_0(track, &media.stream)),
            None => drop(pc.add_transceiver_with_str_and_init("audio", &recv_only())),
        }
        let video_sender = Some(match &media.video {
            Some(track) => pc.add_track_0(track, &media.stream),
            // Without a camera the video line still may send: a shared screen goes out on it
            // with `replaceTrack`, without renegotiating.
            None => pc.add_transceiver_with_str("video").sender(),
        });
        let chat_init = RtcDataChannelInit::new();
        chat_init.set_negotiated(true);
        chat_init.set_id(chat::CHANNEL_ID);
        let chat = pc.create_data_channel_with_data_channel_dict(chat::LABEL, &chat_init);

        let negotiation = {
            let emit = emit(tx);
            Listener::new(&pc, "negotiationneeded", move |_: web_sys::Event| emit(Event::NegotiationNeeded(generation)))
        };
        let candidate = {
            let emit = emit(tx);
            Listener::new(&pc, "icecandidate", move |e: RtcPeerConnectionIceEvent| {
                let signal = match e.candidate() {
                    Some(c) if !c.candidate().is_empty() => Signal::Candidate {
                        candidate: c.candidate(),
                        sdp_mid: c.sdp_mid(),
                        sdp_m_line_index: c.sdp_m_line_index(),
                    },
                    _ => Signal::EndOfCandidates,
                };
                emit(Event::LocalSignal(generation, signal));
            })
        };
        // `icecandidateerror` (RTCPeerConnectionIceErrorEvent): read by name, it has no web-sys
        // binding in the version pinned here.
        let candidate_error = {
            let emit = emit(tx);
            Listener::new(&pc, "icecandidateerror", move |e: web_sys::Event| {
                emit(Event::CandidateError(generation, read_candidate_error(&e)));
            })
        };
        let track = {
            let emit = emit(tx);
            Listener::new(&pc, "track", move |e: RtcTrackEvent| {
                let stream = e.streams().get(0).dyn_into::<MediaStream>().ok().or_else(|| {
                    let stream = MediaStream::new().ok()?;
                    stream.add_track(&e.track());
                    Some(stream)
                });
                if let Some(stream) = stream {
                    emit(Event::RemoteStream(generation, stream));
                }
            })
        };
        let state = {
            let emit = emit(tx);
            Listener::new(&pc, "connectionstatechange", move |_: web_sys::Event| {
                emit(Event::ConnectionState(generation))
            })
        };
        let chat_open = {
            let emit = emit(tx);
            Listener::new(&chat, "open", move |_: web_sys::Event| emit(Event::ChatOpen(generation, true)))
        };
        let chat_close = {
            let emit = emit(tx);
            Listener::new(&chat, "close", move |_: web_sys::Event| emit(Event::ChatOpen(generation, false)))
        };
        let chat_message = {
            let emit = emit(tx);
            Listener::new(&chat, "message", move |m: MessageEvent| {
                if let Some(text) = m.data().as_string() {
                    emit(Event::ChatMessage(generation, text));
                }
            })
        };
        Ok(Call {
            generation,
            pc,
            chat,
            negotiator: Negotiator::new(polite),
            video_sender,
            audio_sender,
            restarts: 0,
            ever_connected: false,
            attempts: Attempts::new(),
            evidence: Evidence {
                turn_configured: ice_servers.iter().flat_map(|s| &s.urls).any(|u| is_turn_url(u)),
                relay_only: force_relay,
                ..Evidence::default()
            },
            remote_ufrag: None,
            _listeners: [negotiation, candidate, candidate_error, track, state, chat_open, chat_close, chat_message],
        })
    }

    /// New ICE servers (fresh TURN credentials) for the next gathering; the transport policy is
    /// the one the call was created with, which `setConfiguration` may not change.
    pub fn set_ice_servers(&self, ice_servers: &[IceServer], force_relay: bool) -> Result<(), WebError> {
        self.pc.set_configuration_with_configuration(&configuration(ice_servers, force_relay))?;
        Ok(())
    }

    pub fn set_polite(&mut self, polite: bool) {
        if self.negotiator.polite() != polite {
            self.negotiator = Negotiator::new(polite);
        }
    }

    pub fn connection_state(&self) -> web_sys::RtcPeerConnectionState {
        self.pc.connection_state()
    }

    /// `negotiationneeded`: make an offer and return its SDP to send.
    pub async fn make_offer(&mut self) -> Result<String, WebError> {
        self.negotiator.start_offer();
        let result = self.offer().await;
        self.negotiator.finish_offer();
        result
    }

    async fn offer(&mut self) -> Result<String, WebError> {
        let offer = wait(self.pc.create_offer()).await?;
        let sdp = get_string(&offer, "sdp").unwrap_or_default();
        let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        init.set_sdp(&sdp);
        wait(self.pc.set_local_description(&init)).await?;
        Ok(self.local_sdp().unwrap_or(sdp))
    }

    fn local_sdp(&self) -> Option<String> {
        self.pc.local_description().map(|d| d.sdp())
    }

    /// The session id of the other side's current description: which of its connections this is.
    pub fn remote_session(&self) -> Option<String> {
        let sdp = self.pc.remote_description()?.sdp();
        sdp_session_id(&sdp).map(str::to_owned)
    }

    /// A remote offer or answer. Returns the answer's SDP to send back, if one is due.
    pub async fn apply(&mut self, kind: Kind, sdp: &str) -> Result<Option<String>, WebError> {
        let stable = self.pc.signaling_state() == RtcSignalingState::Stable;
        let answer = match self.negotiator.on_description(kind, stable) {
            Decision::Ignore => return Ok(None),
            Decision::Apply { answer } => answer,
        };
        let init =
            RtcSessionDescriptionInit::new(if kind == Kind::Offer { RtcSdpType::Offer } else { RtcSdpType::Answer });
        init.set_sdp(sdp);
        let applied = wait(self.pc.set_remote_description(&init)).await;
        self.negotiator.applied();
        applied?;
        if !answer {
            return Ok(None);
        }
        let created = wait(self.pc.create_answer()).await?;
        let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        init.set_sdp(&get_string(&created, "sdp").unwrap_or_default());
        wait(self.pc.set_local_description(&init)).await?;
        Ok(self.local_sdp())
    }

    pub async fn add_candidate(
        &self,
        candidate: &str,
        sdp_mid: Option<&str>,
        sdp_m_line_index: Option<u16>,
    ) -> Result<(), WebError> {
        let init = RtcIceCandidateInit::new(candidate);
        init.set_sdp_mid(sdp_mid);
        init.set_sdp_m_line_index(sdp_m_line_index);
        match wait(self.pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))).await {
            Err(_) if self.negotiator.candidate_error_expected() => Ok(()),
            other => other.map(drop),
        }
    }

    /// The other side's `end_of_candidates`: an empty candidate tells the ICE agent no more are
    /// coming, so it can declare `failed` once every pair has failed instead of waiting on
    /// (Chromium otherwise may stay in `checking`).
    pub async fn add_end_of_candidates(&self) -> Result<(), WebError> {
        let init = RtcIceCandidateInit::new("");
        match wait(self.pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))).await {
            Err(_) if self.negotiator.candidate_error_expected() => Ok(()),
            other => other.map(drop),
        }
    }

    /// Starts an ICE restart: the browser fires `negotiationneeded` and the next offer carries
    /// new ICE credentials.
    pub fn restart_ice(&mut self) {
        self.restarts += 1;
        // `restartIce()` has no web-sys binding yet; every current browser has the method.
        let restart = js_sys::Reflect::get(&self.pc, &JsValue::from_str("restartIce"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match restart {
            Some(restart) => drop(restart.call0(&self.pc)),
            None => crate::browser::log("this browser cannot restart ICE"),
        }
    }

    /// For reading stats beyond the summary (the verification code's certificates).
    pub fn peer_connection(&self) -> &RtcPeerConnection {
        &self.pc
    }

    /// Privacy mode switched during the call: the new ICE policy, then an ICE restart so the
    /// candidates gathered under it replace the old path.
    pub fn set_relay_only(&mut self, relay_only: bool) -> Result<(), WebError> {
        crate::trust::set_relay_only(&self.pc, relay_only)?;
        self.evidence.relay_only = relay_only;
        self.restart_ice();
        Ok(())
    }

    pub fn send_chat(&self, text: &str) -> Result<(), WebError> {
        self.chat.send_with_str(text).map_err(WebError::from)
    }

    pub fn chat_open(&self) -> bool {
        self.chat.ready_state() == web_sys::RtcDataChannelState::Open
    }

    /// Sends `track` instead of the camera (screen sharing), or the camera again.
    /// Sends another microphone's track in place of the current one (no renegotiation).
    pub async fn replace_audio(&self, track: &MediaStreamTrack) -> Result<(), WebError> {
        match &self.audio_sender {
            Some(sender) => wait(sender.replace_track(Some(track))).await.map(drop),
            None => Err(WebError::missing("audio sender (no microphone)")),
        }
    }

    pub async fn replace_video(&self, track: Option<&MediaStreamTrack>) -> Result<(), WebError> {
        match &self.video_sender {
            Some(sender) => wait(sender.replace_track(track)).await.map(drop),
            None => Err(WebError::missing("video sender (no camera)")),
        }
    }

    pub async fn stats(&self) -> Result<Vec<Stat>, WebError> {
        Ok(read_stats(&self.report().await?))
    }

    /// The raw `getStats()` report, for readers beyond [`read_stats`] (see [`crate::trust`]).
    pub async fn report(&self) -> Result<js_sys::Map, WebError> {
        Ok(wait(self.pc.get_stats()).await?.unchecked_into())
    }
}

pub fn read_stats(report: &js_sys::Map) -> Vec<Stat> {
    let mut stats = Vec::new();
    report.for_each(&mut |value, _key| {
        if let Some(stat) = read_stat(&value) {
            stats.push(stat);
        }
    });
    stats
}

fn read_candidate_error(e: &web_sys::Event) -> CandidateError {
    CandidateError {
        code: get_f64(e, "errorCode").map_or(0, |c| c.clamp(0.0, f64::from(u16::MAX)) as u16),
        url: get_string(e, "url").unwrap_or_default().chars().take(200).collect(),
        text: get_string(e, "errorText").unwrap_or_default().chars().take(200).collect(),
    }
}

fn recv_only() -> RtcRtpTransceiverInit {
    let init = RtcRtpTransceiverInit::new();
    init.set_direction(RtcRtpTransceiverDirection::Recvonly);
    init
}

fn read_stat(value: &JsValue) -> Option<Stat> {
    let id = || get_string(value, "id").unwrap_or_default();
    Some(match get_string(value, "type")?.as_str() {
        "transport" => Stat::Transport { selected_pair: get_string(value, "selectedCandidatePairId") },
        "candidate-pair" => Stat::Pair {
            id: id(),
            local: get_string(value, "localCandidateId").unwrap_or_default(),
            remote: get_string(value, "remoteCandidateId").unwrap_or_default(),
            nominated: get_bool(value, "nominated").unwrap_or(false),
            succeeded: get_string(value, "state").as_deref() == Some("succeeded"),
            rtt_secs: get_f64(value, "currentRoundTripTime"),
        },
        "local-candidate" | "remote-candidate" => {
            Stat::Candidate { id: id(), relay: get_string(value, "candidateType").as_deref() == Some("relay") }
        }
        "inbound-rtp" if get_string(value, "kind").as_deref() == Some("video") => Stat::InboundVideo {
            width: get_f64(value, "frameWidth").map(|v| v as u32),
            height: get_f64(value, "frameHeight").map(|v| v as u32),
            fps: get_f64(value, "framesPerSecond"),
            frames_decoded: get(value, "framesDecoded").and_then(|v| v.as_f64()).map_or(0, |v| v as u64),
        },
        _ => return None,
    })
}

impl Drop for Call {
    fn drop(&mut self) {
        // The listeners are removed right after, before the browser can dispatch what closing
        // causes.
        self.chat.close();
        self.pc.close();
    }
}
