//! Connect's browser peer, in Rust compiled to WebAssembly.
//!
//! Layout:
//! - [`app`]: the one async loop that owns the call state; every callback sends it an [`event`];
//! - [`state`]: the call state shown to people and tests, derived from the app's facts (pure);
//! - [`negotiation`]: perfect negotiation as pure decisions;
//! - [`deadline`]: the connection deadline (one ICE restart, then give up) as a state machine;
//! - [`diagnosis`]: why a call found no path (`data-error`), from what the browser reported;
//! - [`check`]: the pre-call check's rows and rules (pure);
//! - [`link`]: URL parameters, the share link and room ids (pure);
//! - [`peer_state`]: microphone, camera, screen and name told to the other page (pure);
//! - [`layout`]: the stage's arrangement, the timer, the title and focus (pure);
//! - [`quality`]: the three-bar connection indicator (pure); [`shortcuts`]: keys (pure);
//! - [`stats`]: the status line from `getStats` (pure summary);
//! - [`verify`]: the verification code from the transport's two certificates (pure);
//!   [`certificates`]: which two, each refresh, and why none yet (pure);
//! - [`privacy`]: privacy mode's ICE policy and words (pure); [`trust`]: their browser side;
//! - [`renewal`]: when to ask for fresh TURN credentials (pure);
//! - [`retry`]: reconnect backoff (pure); [`chat`]: chat text rules (pure) and channel constants;
//! - [`signaling`], [`call`], [`media`]: the WebSocket, the RTCPeerConnection, camera and screen;
//!   [`json`]: the server's messages read with the browser's `JSON.parse`;
//! - [`devices`]: device lists and choices (pure); [`media_help`]: the words for a refused or
//!   missing camera or microphone (pure); [`join_view`]: the pre-join screen and device menu;
//! - [`qr`]: the call link's QR code, hand-written (pure); [`next_step`]: what each screen that
//!   ends the call offers next, and focuses (pure);
//! - [`probe`]: the check's browser side (an `ice_config` round trip, one-URL gathering, the
//!   microphone level);
//! - [`ui`], [`call_view`], [`check_view`] and [`trust_view`]: the only modules that touch the DOM; [`browser`]:
//!   window helpers; [`listener`]: browser callbacks that are removed on drop; [`error`].
//!
//! The pure modules are tested with plain `cargo test`; the glue is exercised by the browser test.

pub mod app;
pub mod browser;
pub mod call;
pub mod call_view;
pub mod certificates;
pub mod chat;
pub mod check;
pub mod check_view;
pub mod deadline;
pub mod devices;
pub mod diagnosis;
pub mod error;
pub mod event;
pub mod join_view;
pub mod json;
pub mod layout;
pub mod link;
pub mod listener;
pub mod media;
pub mod media_help;
pub mod negotiation;
pub mod next_step;
pub mod peer_state;
pub mod privacy;
pub mod probe;
pub mod qr;
pub mod quality;
pub mod renewal;
pub mod retry;
pub mod shortcuts;
pub mod signaling;
pub mod state;
pub mod stats;
pub mod trust;
pub mod trust_view;
pub mod ui;
pub mod verify;

/// Runs when the module is instantiated: hands the page to the app loop.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(app::run());
}
