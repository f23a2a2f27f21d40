//! The person's devices as choices: the camera, microphone and speaker lists the pre-join screen
//! and the call's device menu show, what each option is called, and which device to switch to
//! when the one in use goes away. Pure; the browser side is [`crate::media`].

/// What a device is for (`MediaDeviceInfo.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Camera,
    Microphone,
    Speaker,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Camera, Kind::Microphone, Kind::Speaker];

    /// From `MediaDeviceInfo.kind`.
    pub fn from_browser(kind: &str) -> Option<Kind> {
        match kind {
            "videoinput" => Some(Kind::Camera),
            "audioinput" => Some(Kind::Microphone),
            "audiooutput" => Some(Kind::Speaker),
            _ => None,
        }
    }

    /// The id of the `<select>` that offers this kind.
    pub fn select_id(self) -> &'static str {
        match self {
            Kind::Camera => "camera-select",
            Kind::Microphone => "mic-select",
            Kind::Speaker => "speaker-select",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Camera => "Camera",
            Kind::Microphone => "Microphone",
            Kind::Speaker => "Speaker",
        }
    }
}

/// One device as `enumerateDevices` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub kind: Kind,
    pub id: String,
    pub label: String,
}

/// The most devices of one kind offered: more is a hostile or broken browser, not a person.
pub const MAX_PER_KIND: usize = 16;

/// The options for one kind, in the browser's order, each with a name a person can read:
/// browsers give no labels before camera or microphone permission, so those are numbered.
pub fn options(devices: &[Device], kind: Kind) -> Vec<(String, String)> {
    devices
        .iter()
        .filter(|d| d.kind == kind && !d.id.is_empty())
        .take(MAX_PER_KIND)
        .enumerate()
        .map(|(i, d)| {
            let label = d.label.trim();
            let label = if label.is_empty() { format!("{} {}", kind.noun(), i + 1) } else { label.to_owned() };
            (d.id.clone(), label)
        })
        .collect()
}

/// The device to use for `kind`: the chosen one while it is still there, else none (the
/// browser's default) — e.g. after a headset was unplugged.
pub fn still_there(devices: &[Device], kind: Kind, chosen: Option<&str>) -> Option<String> {
    let chosen = chosen?;
    devices.iter().any(|d| d.kind == kind && d.id == chosen).then(|| chosen.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(kind: Kind, id: &str, label: &str) -> Device {
        Device { kind, id: id.into(), label: label.into() }
    }

    #[test]
    fn browser_kinds() {
        assert_eq!(Kind::from_browser("videoinput"), Some(Kind::Camera));
        assert_eq!(Kind::from_browser("audioinput"), Some(Kind::Microphone));
        assert_eq!(Kind::from_browser("audiooutput"), Some(Kind::Speaker));
        assert_eq!(Kind::from_browser("hologram"), None);
    }

    #[test]
    fn options_keep_labels_and_number_the_unnamed() {
        let devices = [
            device(Kind::Microphone, "default", "Default - Headset"),
            device(Kind::Camera, "c1", ""),
            device(Kind::Microphone, "m2", "Built-in"),
            device(Kind::Camera, "c2", "  "),
            device(Kind::Camera, "", "no id: not choosable"),
        ];
        assert_eq!(
            options(&devices, Kind::Camera),
            [("c1".to_owned(), "Camera 1".to_owned()), ("c2".to_owned(), "Camera 2".to_owned())]
        );
        assert_eq!(
            options(&devices, Kind::Microphone),
            [("default".to_owned(), "Default - Headset".to_owned()), ("m2".to_owned(), "Built-in".to_owned())]
        );
        assert!(options(&devices, Kind::Speaker).is_empty());
    }

    #[test]
    fn options_are_bounded() {
        let many: Vec<Device> = (0..100).map(|i| device(Kind::Camera, &format!("c{i}"), "")).collect();
        assert_eq!(options(&many, Kind::Camera).len(), MAX_PER_KIND);
    }

    #[test]
    fn an_unplugged_choice_falls_back_to_the_default() {
        let devices = [device(Kind::Microphone, "m1", "Built-in"), device(Kind::Camera, "m2", "same id, other kind")];
        assert_eq!(still_there(&devices, Kind::Microphone, Some("m1")).as_deref(), Some("m1"));
        assert_eq!(still_there(&devices, Kind::Microphone, Some("m2")), None);
        assert_eq!(still_there(&devices, Kind::Microphone, None), None);
    }
}
