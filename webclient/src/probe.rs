//! The pre-call check's browser side: one `ice_config` round trip over a WebSocket of its own,
//! one RTCPeerConnection per ICE server URL that gathers until the wanted candidate type shows
//! up, and the microphone's level through an `AnalyserNode`. Every wait is bounded.

use std::cell::RefCell;

use futures_channel::mpsc;
use futures_util::future::{select, Either};
use futures_util::StreamExt as _;
use shared::{ClientMessage, IceServer, ServerMessage};
use web_sys::{
    AnalyserNode, AudioContext, MediaStream, MessageEvent, RtcPeerConnection, RtcPeerConnectionIceEvent, WebSocket,
};

use crate::browser::{get_f64, get_string, sleep, wait};
use crate::call::configuration;
use crate::diagnosis::candidate_type;
use crate::error::WebError;
use crate::listener::Listener;

/// What one probe saw, in the order it happened.
enum Seen {
    Candidate(String),
    /// Gathering complete.
    Done,
    /// `icecandidateerror`: code and text.
    Error(u16, String),
    /// A WebSocket message, or its end.
    Message(String),
    Closed,
}

type Inbox = mpsc::UnboundedReceiver<Seen>;

/// Waits for the first item `accept` turns into a result, until `limit_ms`; `None` on timeout or
/// when the source ends.
async fn first<T>(inbox: &mut Inbox, limit_ms: u32, mut accept: impl FnMut(Seen) -> Option<T>) -> Option<T> {
    let mut timeout = Box::pin(sleep(limit_ms));
    loop {
        match select(inbox.next(), timeout).await {
            Either::Left((Some(seen), rest)) => {
                if let Some(result) = accept(seen) {
                    return Some(result);
                }
                timeout = rest;
            }
            Either::Left((None, _)) | Either::Right(_) => return None,
        }
    }
}

/// Asks the signaling server for its ICE servers without joining a room.
pub async fn ice_config(url: &str, limit_ms: u32) -> Result<Vec<IceServer>, String> {
    let socket = WebSocket::new(url).map_err(|e| WebError::from(e).to_string())?;
    let (tx, mut inbox) = mpsc::unbounded();
    let on_open = {
        let sender = socket.clone();
        Listener::new(&socket, "open", move |_: web_sys::Event| {
            let _ = sender.send_with_str(&ClientMessage::IceConfig.to_json());
        })
    };
    let on_message = {
        let tx = tx.clone();
        Listener::new(&socket, "message", move |m: MessageEvent| {
            if let Some(text) = m.data().as_string() {
                let _ = tx.unbounded_send(Seen::Message(text));
            }
        })
    };
    let on_close = Listener::new(&socket, "close", move |_: web_sys::Event| {
        let _ = tx.unbounded_send(Seen::Closed);
    });
    let answer = first(&mut inbox, limit_ms, |seen| match seen {
        Seen::Message(text) => match crate::json::server_message(&text) {
            Ok(ServerMessage::IceConfig { ice_servers }) => Some(Ok(ice_servers)),
            Ok(ServerMessage::Error { message, .. }) => Some(Err(format!("the server refused: {message}"))),
            _ => None,
        },
        Seen::Closed => Some(Err("the connection was closed".to_owned())),
        _ => None,
    })
    .await;
    drop((on_open, on_message, on_close));
    let _ = socket.close();
    answer.unwrap_or_else(|| Err(format!("no answer within {} s", limit_ms / 1000)))
}

/// Gathers candidates with `server` alone (relay-only for TURN) until one of type `wanted`
/// appears. `Err` says what was seen instead.
pub async fn gather(server: &IceServer, relay_only: bool, wanted: &str, limit_ms: u32) -> Result<(), String> {
    let pc = RtcPeerConnection::new_with_configuration(&configuration(std::slice::from_ref(server), relay_only))
        .map_err(|e| WebError::from(e).to_string())?;
    let (tx, mut inbox) = mpsc::unbounded();
    let on_candidate = {
        let tx = tx.clone();
        Listener::new(&pc, "icecandidate", move |e: RtcPeerConnectionIceEvent| {
            let seen = match e.candidate() {
                Some(c) if !c.candidate().is_empty() => Seen::Candidate(c.candidate()),
                _ => Seen::Done,
            };
            let _ = tx.unbounded_send(seen);
        })
    };
    let on_error = Listener::new(&pc, "icecandidateerror", move |e: web_sys::Event| {
        let code = get_f64(&e, "errorCode").map_or(0, |c| c.clamp(0.0, 65535.0) as u16);
        let _ = tx.unbounded_send(Seen::Error(code, get_string(&e, "errorText").unwrap_or_default()));
    });
    // A data channel gives the offer something to gather for.
    let _channel = pc.create_data_channel("probe");
    let started = async {
        let offer = wait(pc.create_offer()).await?;
        let init = web_sys::RtcSessionDescriptionInit::new(web_sys::RtcSdpType::Offer);
        init.set_sdp(&get_string(&offer, "sdp").unwrap_or_default());
        wait(pc.set_local_description(&init)).await
    };
    let result = match started.await {
        Err(e) => Err(e.to_string()),
        Ok(_) => {
            // Bounded: the browser reports at most a few errors per URL and interface.
            let errors = RefCell::new(Vec::<String>::new());
            let found = first(&mut inbox, limit_ms, |seen| match seen {
                Seen::Candidate(c) if candidate_type(&c) == Some(wanted) => Some(Ok(())),
                Seen::Done => Some(Err(())),
                Seen::Error(code, text) => {
                    let mut errors = errors.borrow_mut();
                    if errors.len() < 4 {
                        errors.push(format!("error {code}: {text}"));
                    }
                    None
                }
                _ => None,
            })
            .await;
            let errors = errors.into_inner();
            match found {
                Some(Ok(())) => Ok(()),
                // Chromium drops a reflexive address equal to a host address: no NAT looks the same.
                Some(Err(())) if errors.is_empty() && wanted == "srflx" => {
                    Err("the STUN server gave no address other than this device's own".to_owned())
                }
                Some(Err(())) if errors.is_empty() => Err(format!("no {wanted} candidate")),
                None if errors.is_empty() => Err(format!("no {wanted} candidate within {} s", limit_ms / 1000)),
                _ => Err(errors.join("; ")),
            }
        }
    };
    drop((on_candidate, on_error));
    pc.close();
    result
}

/// The microphone's loudness, sampled on demand.
pub struct LevelMeter {
    context: AudioContext,
    analyser: AnalyserNode,
    samples: RefCell<Vec<u8>>,
}

impl LevelMeter {
    pub fn new(stream: &MediaStream) -> Result<LevelMeter, WebError> {
        let context = AudioContext::new()?;
        let source = context.create_media_stream_source(stream)?;
        let analyser = context.create_analyser()?;
        analyser.set_fft_size(512);
        source.connect_with_audio_node(&analyser)?;
        let samples = RefCell::new(vec![128u8; 512]);
        Ok(LevelMeter { context, analyser, samples })
    }

    /// 0 (silence) to 1.
    pub fn level(&self) -> f64 {
        let mut samples = self.samples.borrow_mut();
        self.analyser.get_byte_time_domain_data(&mut samples);
        crate::check::level(&samples)
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        let _ = self.context.close();
    }
}
