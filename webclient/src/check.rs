//! The pre-call check's rules (`/?check`): which row each ICE server URL belongs to, what a
//! row's result means for a person, and the microphone level from audio samples. Pure; the
//! browser side is [`crate::probe`] and the DOM side [`crate::check_view`].

use shared::IceServer;

/// The rows, in page order; `as_str` is the contract's `data-check` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Camera,
    Microphone,
    Signaling,
    Stun,
    TurnUdp,
    TurnTcp,
    TurnTls,
}

impl Row {
    pub const ALL: [Row; 7] =
        [Row::Camera, Row::Microphone, Row::Signaling, Row::Stun, Row::TurnUdp, Row::TurnTcp, Row::TurnTls];

    pub fn as_str(self) -> &'static str {
        match self {
            Row::Camera => "camera",
            Row::Microphone => "microphone",
            Row::Signaling => "signaling",
            Row::Stun => "stun",
            Row::TurnUdp => "turn-udp",
            Row::TurnTcp => "turn-tcp",
            Row::TurnTls => "turn-tls",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Row::Camera => "Camera",
            Row::Microphone => "Microphone",
            Row::Signaling => "Call server",
            Row::Stun => "Public address (STUN)",
            Row::TurnUdp => "Relay over UDP",
            Row::TurnTcp => "Relay over TCP",
            Row::TurnTls => "Relay over TLS",
        }
    }

    /// The candidate type that proves this ICE row works: `srflx` for STUN, `relay` for TURN.
    pub fn wanted_candidate(self) -> Option<&'static str> {
        match self {
            Row::Stun => Some("srflx"),
            Row::TurnUdp | Row::TurnTcp | Row::TurnTls => Some("relay"),
            _ => None,
        }
    }
}

/// The contract's `data-result` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Running,
    Pass,
    Fail,
    /// The server configures nothing for this row.
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The row an ICE server URL tests: by scheme (RFC 7064, RFC 7065) and `transport`. A `turn:`
/// URL without `transport` is UDP (RFC 7065 §3.1); `turns:` is TLS over TCP.
pub fn row_of(url: &str) -> Option<Row> {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once(':')?;
    let transport =
        rest.split_once('?').and_then(|(_, query)| query.split('&').find_map(|pair| pair.strip_prefix("transport=")));
    match (scheme, transport) {
        ("stun" | "stuns", _) => Some(Row::Stun),
        ("turn", None | Some("udp")) => Some(Row::TurnUdp),
        ("turn", Some("tcp")) => Some(Row::TurnTcp),
        ("turns", None | Some("tcp")) => Some(Row::TurnTls),
        _ => None,
    }
}

/// One ICE probe: a row and the server entry holding only that row's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub row: Row,
    pub server: IceServer,
}

/// The probes for the ICE rows, the first URL of each row; rows with no URL are skipped.
pub fn probes(servers: &[IceServer]) -> Vec<Probe> {
    let mut probes: Vec<Probe> = Vec::new();
    for server in servers {
        for url in &server.urls {
            let Some(row) = row_of(url) else { continue };
            if probes.iter().any(|p| p.row == row) {
                continue;
            }
            let server = IceServer { urls: vec![url.clone()], ..server.clone() };
            probes.push(Probe { row, server });
        }
    }
    // In the rows' order, by lookup rather than `sort_by_key`: a sort links ~3 KB of generic
    // sorting code into the wasm for a list of at most five.
    Row::ALL.iter().filter_map(|row| probes.iter().find(|p| p.row == *row).cloned()).collect()
}

/// What a row's result means for the person, and what to try when it failed.
pub fn hint(row: Row, outcome: Outcome) -> &'static str {
    match (row, outcome) {
        (_, Outcome::Running) => "Checking…",
        (_, Outcome::Skipped) => "Not offered by this call service.",
        (Row::Camera, Outcome::Pass) => "Your camera works.",
        (Row::Camera, Outcome::Fail) => {
            "No camera: allow it in the browser's address bar, or close other apps using it."
        }
        (Row::Microphone, Outcome::Pass) => "Your microphone works: speak and watch the meter move.",
        (Row::Microphone, Outcome::Fail) => "No microphone: allow it in the browser's address bar, or plug one in.",
        (Row::Signaling, Outcome::Pass) => "The call server answers.",
        (Row::Signaling, Outcome::Fail) => "Cannot reach the call server: check your internet connection or proxy.",
        (Row::Stun, Outcome::Pass) => "Your public address was found: direct calls can work.",
        (Row::Stun, Outcome::Fail) => {
            "No public address was reported: either this network has no NAT (fine), or it blocks UDP and calls need a relay."
        }
        (Row::TurnUdp, Outcome::Pass) => "The relay works over UDP: calls work from this network.",
        (Row::TurnUdp, Outcome::Fail) => "The relay cannot be reached over UDP: this network may block UDP.",
        (Row::TurnTcp, Outcome::Pass) => "The relay works over TCP: calls work even where UDP is blocked.",
        (Row::TurnTcp, Outcome::Fail) => "The relay cannot be reached over TCP: a firewall may block its port.",
        (Row::TurnTls, Outcome::Pass) => "The relay works over TLS on port 443: calls work on strict networks.",
        (Row::TurnTls, Outcome::Fail) => "The relay cannot be reached over TLS: this network may inspect or block it.",
    }
}

/// The loudness of one block of `AnalyserNode.getByteTimeDomainData` samples (128 = silence),
/// as 0–1: the RMS amplitude, scaled so ordinary speech fills most of the meter.
pub fn level(samples: &[u8]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|s| (f64::from(*s) - 128.0) / 128.0).map(|v| v * v).sum();
    let rms = (sum / samples.len() as f64).sqrt();
    (rms * 4.0).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_rows_by_scheme_and_transport() {
        assert_eq!(row_of("stun:turn.example.org:3478"), Some(Row::Stun));
        assert_eq!(row_of("turn:turn.example.org:3478?transport=udp"), Some(Row::TurnUdp));
        assert_eq!(row_of("turn:turn.example.org:3478"), Some(Row::TurnUdp));
        assert_eq!(row_of("turn:turn.example.org:3478?transport=tcp"), Some(Row::TurnTcp));
        assert_eq!(row_of("turns:turn.example.org:443?transport=tcp"), Some(Row::TurnTls));
        assert_eq!(row_of("TURNS:turn.example.org"), Some(Row::TurnTls));
        assert_eq!(row_of("turns:t:443?transport=udp"), None, "DTLS is not offered by browsers");
        assert_eq!(row_of("http://x"), None);
        assert_eq!(row_of("nonsense"), None);
    }

    #[test]
    fn one_probe_per_configured_row_with_its_credentials() {
        let turn = IceServer::turn(
            vec![
                "turns:t:443?transport=tcp".into(),
                "turn:t:3478?transport=udp".into(),
                "turn:t:3478?transport=tcp".into(),
                "turn:t2:3478?transport=udp".into(),
            ],
            "u",
            "c",
        );
        let probes = probes(&[IceServer::stun("stun:t:3478"), turn]);
        let rows: Vec<Row> = probes.iter().map(|p| p.row).collect();
        assert_eq!(rows, [Row::Stun, Row::TurnUdp, Row::TurnTcp, Row::TurnTls]);
        assert_eq!(probes[1].server.urls, ["turn:t:3478?transport=udp"], "the first URL of the row only");
        assert_eq!(probes[1].server.username.as_deref(), Some("u"));
        assert_eq!(probes[0].server.credential, None);
        // Nothing configured: no probes, every ICE row is skipped.
        assert!(super::probes(&[]).is_empty());
    }

    #[test]
    fn contract_names() {
        let names: Vec<&str> = Row::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["camera", "microphone", "signaling", "stun", "turn-udp", "turn-tcp", "turn-tls"]);
        let results: Vec<&str> =
            [Outcome::Running, Outcome::Pass, Outcome::Fail, Outcome::Skipped].iter().map(|o| o.as_str()).collect();
        assert_eq!(results, ["running", "pass", "fail", "skipped"]);
    }

    #[test]
    fn every_failure_has_a_hint_that_differs_from_success() {
        for row in Row::ALL {
            assert_ne!(hint(row, Outcome::Pass), hint(row, Outcome::Fail), "{row:?}");
        }
    }

    #[test]
    fn silence_is_zero_and_loud_is_one() {
        assert_eq!(level(&[]), 0.0);
        assert_eq!(level(&[128; 64]), 0.0);
        assert_eq!(level(&[0, 255].repeat(32)), 1.0);
        let quiet = level(&[120, 136].repeat(32));
        assert!(quiet > 0.0 && quiet < 0.5, "{quiet}");
    }
}
