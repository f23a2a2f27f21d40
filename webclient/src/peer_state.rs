//! What each page tells the other about itself over the call's data channel — microphone,
//! camera, screen sharing, display name — so a black or silent picture always says why. Pure:
//! the message (versioned, additive), telling it apart from a chat line, and what a tile shows.
//!
//! The channel carried only chat lines (plain text) before; a control message is a JSON object
//! whose text starts with the exact bytes [`CONTROL_PREFIX`]. A chat line that happens to start
//! that way is sent with a leading space, which the receiving side trims off again.
//!
//! Reading the JSON itself is left to the caller ([`Fields`]): the page uses the browser's
//! `JSON.parse`, which costs the bundle nothing where a serde deserializer cost 3.8 KB gzipped;
//! the tests here use serde_json.

use serde::Serialize;

/// The start of every control message's text; nothing else on the channel starts so.
pub const CONTROL_PREFIX: &str = "{\"v\":";
/// The message version this page speaks; a higher one is ignored (a newer page must stay
/// readable by this one through fields it adds, not a new version).
pub const VERSION: u32 = 1;
/// A control message longer than this is ignored unread: a state message is ~100 bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Characters of a display name shown; a longer one is cut.
pub const MAX_NAME_CHARS: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mic {
    On,
    Muted,
    /// No microphone (none found, or refused).
    None,
}

impl Mic {
    fn parse(text: &str) -> Option<Mic> {
        [Mic::On, Mic::Muted, Mic::None].into_iter().find(|m| m.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mic::On => "on",
            Mic::Muted => "muted",
            Mic::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Camera {
    On,
    Off,
    /// No camera (none found, or refused).
    None,
}

impl Camera {
    fn parse(text: &str) -> Option<Camera> {
        [Camera::On, Camera::Off, Camera::None].into_iter().find(|c| c.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Camera::On => "on",
            Camera::Off => "off",
            Camera::None => "none",
        }
    }
}

/// One side's state as it sends it: `{"v":1,"type":"state","mic":…,"camera":…,"screen":…,"name":…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerState {
    pub mic: Mic,
    pub camera: Camera,
    /// Sharing a screen: the video shows it, whatever the camera does.
    pub screen: bool,
    pub name: Option<String>,
}

/// The wire form; field order makes the text start with [`CONTROL_PREFIX`].
#[derive(Serialize)]
struct Outgoing<'a> {
    v: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    mic: Mic,
    camera: Camera,
    screen: bool,
    name: Option<&'a str>,
}

/// The fields of a control message as a JSON reader found them: a field that is absent, `null`
/// or of another JSON type is `None`. The fields this page does not know are not read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    pub v: Option<f64>,
    pub kind: Option<String>,
    pub mic: Option<String>,
    pub camera: Option<String>,
    pub screen: Option<bool>,
    pub name: Option<String>,
}

impl PeerState {
    /// The message text to send.
    pub fn to_message(&self) -> String {
        let message = Outgoing {
            v: VERSION,
            kind: "state",
            mic: self.mic,
            camera: self.camera,
            screen: self.screen,
            name: self.name.as_deref(),
        };
        // Serializing plain enums, bools and strings cannot fail.
        serde_json::to_string(&message).unwrap_or_default()
    }

    /// This page's own state, from its devices and switches.
    pub fn own(audio: bool, muted: bool, video: bool, camera_off: bool, screen: bool, name: Option<String>) -> Self {
        PeerState {
            mic: match (audio, muted) {
                (false, _) => Mic::None,
                (true, true) => Mic::Muted,
                (true, false) => Mic::On,
            },
            camera: match (video, camera_off) {
                (false, _) => Camera::None,
                (true, true) => Camera::Off,
                (true, false) => Camera::On,
            },
            screen,
            name: name.as_deref().and_then(clean_name),
        }
    }

    /// The state as the page shows it: the camera counts as on while a screen is shared,
    /// since the picture is live either way.
    pub fn shown_camera(&self) -> Camera {
        if self.screen {
            Camera::On
        } else {
            self.camera
        }
    }
}

/// What arrived on the data channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A chat line, cleaned for display (see [`crate::chat::incoming`]).
    Chat(String),
    State(PeerState),
    /// A blank line, an unknown or newer control message, or an unreadable one.
    Ignored,
}

/// Tells a control message from a chat line and reads it; `read` parses the JSON object (`None`
/// if the text is not one).
pub fn classify(text: &str, read: impl FnOnce(&str) -> Option<Fields>) -> Incoming {
    if !text.starts_with(CONTROL_PREFIX) {
        return crate::chat::incoming(text).map_or(Incoming::Ignored, Incoming::Chat);
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return Incoming::Ignored;
    }
    let Some(fields) = read(text) else { return Incoming::Ignored };
    if fields.v != Some(f64::from(VERSION)) || fields.kind.as_deref() != Some("state") {
        return Incoming::Ignored;
    }
    match (fields.mic.as_deref().and_then(Mic::parse), fields.camera.as_deref().and_then(Camera::parse)) {
        (Some(mic), Some(camera)) => Incoming::State(PeerState {
            mic,
            camera,
            screen: fields.screen.unwrap_or(false),
            name: fields.name.as_deref().and_then(clean_name),
        }),
        // An unknown value of a known field makes the message unreadable, not a guess.
        _ => Incoming::Ignored,
    }
}

/// The text to send for a chat line (already [`crate::chat::outgoing`]): unchanged, unless it
/// would read as a control message.
pub fn chat_wire(text: &str) -> String {
    if text.starts_with(CONTROL_PREFIX) {
        format!(" {text}")
    } else {
        text.to_owned()
    }
}

/// A display name fit to show: cleaned like a chat line, on one line, bounded; none if blank.
pub fn clean_name(name: &str) -> Option<String> {
    let one_line: String = name.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    let cleaned = crate::chat::incoming(&one_line)?;
    Some(cleaned.chars().take(MAX_NAME_CHARS).collect::<String>().trim_end().to_owned())
}

/// What a tile shows over (or instead of) its video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    /// Who it is: the display name, or the fallback ("The other person", "You").
    pub label: String,
    /// The large letter of the placeholder.
    pub initial: char,
    /// Instead of the video: "Camera off" or "No camera"; `None` while the video is live.
    pub placeholder: Option<&'static str>,
    /// The muted-microphone mark: "Microphone muted" or "No microphone".
    pub mic_mark: Option<&'static str>,
}

/// The tile of a person in `state`, called `fallback` when they gave no name.
pub fn tile(state: &PeerState, fallback: &str) -> Tile {
    let label = state.name.clone().unwrap_or_else(|| fallback.to_owned());
    // ASCII case only: Unicode's case tables would weigh more than the rest of this module.
    let initial = state
        .name
        .as_deref()
        .and_then(|n| n.chars().find(|c| !c.is_whitespace() && !c.is_ascii_punctuation()))
        .map_or('?', |c| c.to_ascii_uppercase());
    let placeholder = match state.shown_camera() {
        Camera::On => None,
        Camera::Off => Some("Camera off"),
        Camera::None => Some("No camera"),
    };
    let mic_mark = match state.mic {
        Mic::On => None,
        Mic::Muted => Some("Microphone muted"),
        Mic::None => Some("No microphone"),
    };
    Tile { label, initial, placeholder, mic_mark }
}

/// A sentence for screen readers when the other person's state changes (`None` if nothing
/// they would hear about changed).
pub fn change_sentence(before: Option<&PeerState>, after: &PeerState) -> Option<String> {
    let who = after.name.as_deref().unwrap_or("The other person");
    let mut parts = Vec::new();
    if before.map(|b| b.mic) != Some(after.mic) {
        match (before.map(|b| b.mic), after.mic) {
            (_, Mic::Muted) => parts.push("muted their microphone"),
            (Some(Mic::Muted), Mic::On) => parts.push("unmuted their microphone"),
            (_, Mic::None) => parts.push("has no microphone"),
            _ => {}
        }
    }
    if before.map(PeerState::shown_camera) != Some(after.shown_camera()) {
        match (before.map(PeerState::shown_camera), after.shown_camera()) {
            (_, Camera::Off) => parts.push("turned their camera off"),
            (Some(Camera::Off), Camera::On) => parts.push("turned their camera on"),
            (_, Camera::None) => parts.push("has no camera"),
            _ => {}
        }
    }
    if before.map(|b| b.screen) != Some(after.screen) && (before.is_some() || after.screen) {
        parts.push(if after.screen { "is sharing their screen" } else { "stopped sharing their screen" });
    }
    if parts.is_empty() {
        None
    } else {
        Some(format!("{who} {}.", parts.join(" and ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JSON reader for the tests, as the page's `JSON.parse` and [`Fields`] read it.
    fn read(text: &str) -> Option<Fields> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let object = value.as_object()?;
        let string = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        Some(Fields {
            v: object.get("v").and_then(serde_json::Value::as_f64),
            kind: string("type"),
            mic: string("mic"),
            camera: string("camera"),
            screen: object.get("screen").and_then(serde_json::Value::as_bool),
            name: string("name"),
        })
    }

    fn classify(text: &str) -> Incoming {
        super::classify(text, read)
    }

    fn state(mic: Mic, camera: Camera, screen: bool, name: Option<&str>) -> PeerState {
        PeerState { mic, camera, screen, name: name.map(str::to_owned) }
    }

    #[test]
    fn the_message_is_the_contract_json() {
        let s = state(Mic::Muted, Camera::Off, false, Some("Ada"));
        assert_eq!(
            s.to_message(),
            r#"{"v":1,"type":"state","mic":"muted","camera":"off","screen":false,"name":"Ada"}"#
        );
        let none = state(Mic::None, Camera::None, true, None);
        assert_eq!(
            none.to_message(),
            r#"{"v":1,"type":"state","mic":"none","camera":"none","screen":true,"name":null}"#
        );
        assert!(s.to_message().starts_with(CONTROL_PREFIX));
    }

    #[test]
    fn a_state_message_round_trips() {
        for s in [
            state(Mic::On, Camera::On, false, None),
            state(Mic::Muted, Camera::Off, true, Some("Grace Hopper")),
            state(Mic::None, Camera::None, false, Some("李")),
        ] {
            assert_eq!(classify(&s.to_message()), Incoming::State(s.clone()));
        }
    }

    #[test]
    fn later_fields_are_ignored_and_later_versions_and_types_are_not_read() {
        let extra = r#"{"v":1,"type":"state","mic":"on","camera":"off","screen":false,"name":null,"hand":true}"#;
        assert_eq!(classify(extra), Incoming::State(state(Mic::On, Camera::Off, false, None)));
        let v2 = r#"{"v":2,"type":"state","mic":"on","camera":"off","screen":false,"name":null}"#;
        assert_eq!(classify(v2), Incoming::Ignored);
        assert_eq!(classify(r#"{"v":1,"type":"reaction","emoji":"x"}"#), Incoming::Ignored);
        // An unknown value of a known field makes the message unreadable, not a guess.
        assert_eq!(classify(r#"{"v":1,"type":"state","mic":"loud","camera":"on"}"#), Incoming::Ignored);
        assert_eq!(classify(r#"{"v":1,"type":"state""#), Incoming::Ignored);
        assert_eq!(classify(r#"{"v":"1","type":"state","mic":"on","camera":"on"}"#), Incoming::Ignored);
        assert_eq!(classify(r#"{"v":1.5,"type":"state","mic":"on","camera":"on"}"#), Incoming::Ignored);
        assert_eq!(classify(r#"{"v":1,"type":"state","camera":"on"}"#), Incoming::Ignored);
        assert_eq!(
            classify(r#"{"v":1,"type":"state","mic":"on","camera":"on"}"#),
            Incoming::State(state(Mic::On, Camera::On, false, None))
        );
        let huge = format!(r#"{{"v":1,"type":"state","mic":"on","camera":"on","name":"{}"}}"#, "a".repeat(2000));
        assert_eq!(classify(&huge), Incoming::Ignored);
    }

    #[test]
    fn chat_lines_stay_chat_even_when_they_look_like_json() {
        assert_eq!(classify("hello"), Incoming::Chat("hello".into()));
        assert_eq!(classify("   "), Incoming::Ignored);
        assert_eq!(classify(r#"{"a":1}"#), Incoming::Chat(r#"{"a":1}"#.into()));
        // Someone types a state message into the chat: it arrives as the text they typed.
        let typed = r#"{"v":1,"type":"state","mic":"muted","camera":"off"}"#;
        assert_eq!(chat_wire("hi"), "hi");
        assert_eq!(classify(&chat_wire(typed)), Incoming::Chat(typed.into()));
    }

    #[test]
    fn own_state_follows_devices_and_switches() {
        let own = |a, m, v, c, s| PeerState::own(a, m, v, c, s, Some(" Ada ".into()));
        assert_eq!(own(true, false, true, false, false), state(Mic::On, Camera::On, false, Some("Ada")));
        assert_eq!(own(true, true, true, true, false), state(Mic::Muted, Camera::Off, false, Some("Ada")));
        // Without a device, its switch does not matter.
        assert_eq!(own(false, true, false, true, true), state(Mic::None, Camera::None, true, Some("Ada")));
        assert_eq!(PeerState::own(true, false, true, false, false, Some("\n".into())).name, None);
    }

    #[test]
    fn names_are_cleaned_and_bounded() {
        assert_eq!(clean_name("  Ada \n Lovelace "), Some("Ada   Lovelace".into()));
        assert_eq!(clean_name("\u{202E}evil"), Some("evil".into()));
        assert_eq!(clean_name(" \t "), None);
        assert_eq!(clean_name(&"x".repeat(100)).map(|n| n.chars().count()), Some(MAX_NAME_CHARS));
        let spoof = r#"{"v":1,"type":"state","mic":"on","camera":"on","screen":false,"name":"a\u202Eb"}"#;
        assert_eq!(classify(spoof), Incoming::State(state(Mic::On, Camera::On, false, Some("ab"))));
    }

    #[test]
    fn a_tile_says_why_there_is_no_picture_or_sound() {
        let live = tile(&state(Mic::On, Camera::On, false, Some("ada")), "The other person");
        assert_eq!((live.placeholder, live.mic_mark, live.initial), (None, None, 'A'));
        assert_eq!(live.label, "ada");
        let off = tile(&state(Mic::Muted, Camera::Off, false, None), "The other person");
        assert_eq!(off.placeholder, Some("Camera off"));
        assert_eq!(off.mic_mark, Some("Microphone muted"));
        assert_eq!((off.label.as_str(), off.initial), ("The other person", '?'));
        let none = tile(&state(Mic::None, Camera::None, false, Some("  ")), "You");
        assert_eq!((none.placeholder, none.mic_mark), (Some("No camera"), Some("No microphone")));
        // A shared screen is a live picture even with the camera off.
        assert_eq!(tile(&state(Mic::On, Camera::Off, true, None), "x").placeholder, None);
        assert_eq!(tile(&state(Mic::On, Camera::On, false, Some("\"zoë\"")), "x").initial, 'Z');
        assert_eq!(tile(&state(Mic::On, Camera::On, false, Some("élan")), "x").initial, 'é');
    }

    #[test]
    fn changes_are_put_in_words() {
        let on = state(Mic::On, Camera::On, false, Some("Ada"));
        assert_eq!(change_sentence(Some(&on), &on), None);
        assert_eq!(change_sentence(None, &on), None);
        let muted = state(Mic::Muted, Camera::Off, false, Some("Ada"));
        assert_eq!(
            change_sentence(Some(&on), &muted).as_deref(),
            Some("Ada muted their microphone and turned their camera off.")
        );
        assert_eq!(
            change_sentence(Some(&muted), &on).as_deref(),
            Some("Ada unmuted their microphone and turned their camera on.")
        );
        let none = state(Mic::None, Camera::None, false, None);
        assert_eq!(
            change_sentence(None, &none).as_deref(),
            Some("The other person has no microphone and has no camera.")
        );
        let sharing = state(Mic::On, Camera::On, true, Some("Ada"));
        assert_eq!(change_sentence(Some(&on), &sharing).as_deref(), Some("Ada is sharing their screen."));
        assert_eq!(change_sentence(Some(&sharing), &on).as_deref(), Some("Ada stopped sharing their screen."));
    }
}
