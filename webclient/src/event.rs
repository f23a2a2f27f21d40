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
    /// The call screen's own controls and the page's lifecycle (see `app::screen`).
    Screen(ScreenEvent),
}

/// What the call screen hears besides the call controls: how the stage is arranged, the chat
/// sheet, the shortcuts list, and the page going away or coming back.
#[derive(Debug, Clone, PartialEq)]
pub enum ScreenEvent {
    MoveSelfView,
    HideSelfView,
    SwapViews,
    Fullscreen,
    /// The browser entered or left full screen (the button, Esc, or the browser's own UI).
    FullscreenChanged,
    PictureInPicture,
    /// The browser's picture-in-picture window opened or closed.
    PictureInPictureChanged,
    /// The quality indicator: show or hide the technical line.
    ToggleStats,
    ToggleChat,
    CloseChat,
    /// "?": the list of shortcuts.
    Help,
    /// Escape: close the list, or the chat sheet.
    Escape,
    /// "Tap to hear": play the other person's sound after the browser blocked autoplay.
    TapToHear,
    /// The remote video's `play()` was refused (autoplay with sound blocked), for that call.
    AutoplayBlocked(u32),
    /// The screen wake lock: held (the sentinel), or refused with the browser's reason.
    WakeLock(Result<wasm_bindgen::JsValue, String>),
    /// `visibilitychange`: the page was hidden or shown again.
    VisibilityChanged,
    /// `pagehide`: the person leaves the page (or it goes into the back/forward cache).
    PageHide,
    /// `pageshow` from the back/forward cache: the devices were released on the way out.
    PageShowPersisted,
}
