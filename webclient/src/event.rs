//! What the app loop hears: every browser callback (UI, WebSocket, RTCPeerConnection, timers)
//! becomes one [`Event`] sent through a [`Sender`]. A leaf module of its own so the modules that
//! own those callbacks (`call`, `signaling`, `ui`) depend on it and not on the app that uses them.

use futures_channel::mpsc;
use shared::Signal;
use web_sys::MediaStream;

use crate::devices::Kind;
use crate::diagnosis::CandidateError;
use crate::error::WebError;
use crate::media::LocalMedia;

/// Events come from browser callbacks, which cannot wait; they arrive at human and network
/// rates, so an unbounded queue inside the page is the right tool here.
pub type Sender = mpsc::UnboundedSender<Event>;

pub enum Event {
    StartCall,
    CopyLink,
    /// A while after a copy: the button says "Copy link" again, unless a later copy is shown.
    CopiedShown(u32),
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
    /// Send `join` again on the current signaling connection (the server was unavailable).
    RetryJoin(u32),
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
    /// `icecandidateerror` on the call of that generation.
    CandidateError(u32, CandidateError),
    /// **Try again** after a connection failure.
    Retry,
    /// "Test my connection" on the landing page.
    OpenCheck,
    /// The privacy-mode checkbox changed.
    PrivacyToggled,
    /// **Join** on the pre-join screen.
    JoinPressed,
    /// The camera and microphone request of that generation finished (granted, refused or none).
    MediaReady(u32, Result<LocalMedia, WebError>),
    /// The request of that generation is still open a moment later: the browser is asking.
    PermissionSlow(u32),
    /// A device list's choice changed.
    DeviceChosen(Kind),
    /// A device was plugged in or out (`devicechange`).
    DevicesChanged,
    /// **Try again** on the stage's camera and microphone panel.
    MediaRetry,
    /// **Invite** in the call's header: the link, its QR code and the share sheet.
    Invite,
    /// **Share…**: the browser's share sheet with the link.
    ShareLink,
}
