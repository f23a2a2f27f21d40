//! What the stage's camera-and-microphone panel says: while the browser's permission prompt is
//! open, and when the camera or microphone was refused or is missing — what happened, how to
//! allow it in *this* browser, and what still works. And why a disabled control is disabled.
//! Pure: the words are chosen from the user agent, so they are tested without a browser.

use crate::media::Missing;

/// The browser families whose permission settings differ for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Chrome, Edge, Chromium, Opera, Brave, Samsung Internet.
    Chromium,
    Firefox,
    Safari,
    Other,
}

/// The family of a `navigator.userAgent`. Order matters: Chromium's UA also says "Safari", and
/// iOS browsers are all Safari underneath (they say "CriOS"/"FxiOS" but use Safari's settings).
pub fn family(user_agent: &str) -> Family {
    let ios = user_agent.contains("iPhone") || user_agent.contains("iPad");
    if ios {
        Family::Safari
    } else if user_agent.contains("Firefox/") {
        Family::Firefox
    } else if user_agent.contains("Chrome/") || user_agent.contains("Chromium/") {
        Family::Chromium
    } else if user_agent.contains("Safari/") {
        Family::Safari
    } else {
        Family::Other
    }
}

/// The panel's content: a title, what to do, and whether **Try again** is offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    pub title: &'static str,
    pub help: String,
    pub retry: bool,
}

/// While `getUserMedia` waits for the person's answer.
pub fn asking() -> Panel {
    Panel {
        title: "Your browser is asking to use your camera and microphone",
        help: "Choose Allow in the browser's prompt near the address bar to be seen and heard.".into(),
        retry: false,
    }
}

/// How to allow the camera and microphone again after a refusal, in this browser.
fn how_to_allow(family: Family) -> &'static str {
    match family {
        Family::Chromium => {
            "Click the camera icon (or the settings icon) at the left of the address bar, choose Allow \
             for Camera and Microphone, then press Try again."
        }
        Family::Firefox => {
            "Click the crossed-out camera icon in the address bar, remove the Blocked permissions, then \
             press Try again."
        }
        Family::Safari => {
            "Open Settings for this website (Safari menu, or the aA button on an iPhone), set Camera and \
             Microphone to Allow, then press Try again."
        }
        Family::Other => {
            "Allow the camera and microphone for this site in your browser's settings, then press Try again."
        }
    }
}

/// The panel for what kept the devices away.
pub fn missing(what: Missing, family: Family) -> Panel {
    match what {
        Missing::Refused => Panel {
            title: "Camera and microphone are blocked",
            help: format!(
                "You can see and hear the other person, but they cannot see or hear you. {}",
                how_to_allow(family)
            ),
            retry: true,
        },
        Missing::NoDevices => Panel {
            title: "No camera or microphone found",
            help: "You can see and hear the other person and share your screen. Connect a headset or a camera, \
                   then press Try again."
                .into(),
            retry: true,
        },
        Missing::NoCamera => Panel {
            title: "No camera found",
            help: "The other person hears you but cannot see you. Connect a camera, then press Try again.".into(),
            retry: true,
        },
    }
}

/// Why the microphone or camera button is disabled (its tooltip and accessible description).
pub fn disabled_reason(what: Option<Missing>, audio: bool) -> &'static str {
    match (what, audio) {
        (Some(Missing::Refused), true) => "Unavailable: microphone access was refused",
        (Some(Missing::Refused), false) => "Unavailable: camera access was refused",
        (Some(Missing::NoCamera), false) => "Unavailable: no camera was found",
        (_, true) => "Unavailable: no microphone was found",
        (_, false) => "Unavailable: no camera was found",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_from_real_user_agents() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";
        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
        let chrome_ios = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1";
        assert_eq!(family(chrome), Family::Chromium);
        assert_eq!(family(firefox), Family::Firefox);
        assert_eq!(family(safari), Family::Safari);
        assert_eq!(family(chrome_ios), Family::Safari);
        assert_eq!(family("curl/8.0"), Family::Other);
    }

    #[test]
    fn a_refusal_says_what_happened_how_to_allow_and_offers_try_again() {
        let panel = missing(Missing::Refused, Family::Firefox);
        assert!(panel.title.contains("blocked"));
        assert!(panel.help.contains("cannot see or hear you"));
        assert!(panel.help.contains("crossed-out camera icon"));
        assert!(panel.retry);
        assert!(missing(Missing::Refused, Family::Chromium).help.contains("left of the address bar"));
        assert!(missing(Missing::Refused, Family::Safari).help.contains("Settings for this website"));
    }

    #[test]
    fn missing_devices_say_what_still_works() {
        assert!(missing(Missing::NoDevices, Family::Chromium).help.contains("share your screen"));
        assert!(missing(Missing::NoCamera, Family::Chromium).help.contains("hears you"));
        assert!(!asking().retry);
    }

    #[test]
    fn disabled_controls_say_why() {
        assert!(disabled_reason(Some(Missing::Refused), true).contains("microphone access was refused"));
        assert!(disabled_reason(Some(Missing::NoCamera), false).contains("no camera"));
        assert!(disabled_reason(Some(Missing::NoDevices), true).contains("no microphone"));
        assert!(disabled_reason(None, false).contains("no camera"));
    }
}
