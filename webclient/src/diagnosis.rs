//! Why a call found no path, judged from what the browser reported: `icecandidateerror` codes
//! and URLs, the candidate types each side gathered, the pairs tried (getStats) and the other
//! page's own verdict. Pure, so every rule is tested without a browser; the result is the
//! contract's `data-error` value, a sentence for people and a details text for support.

use shared::FailureReason;

/// The most candidate errors kept: a browser reports one per server URL and interface.
const MAX_ERRORS: usize = 16;

/// One `icecandidateerror` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateError {
    /// STUN error code: 300–699 from the server, 701 when it could not be reached.
    pub code: u16,
    pub url: String,
    pub text: String,
}

impl CandidateError {
    /// A TURN server refused the credentials: 401 Unauthorized (wrong or expired credential)
    /// or 403 Forbidden, on a `turn:`/`turns:` URL.
    fn is_auth(&self) -> bool {
        matches!(self.code, 401 | 403) && is_turn_url(&self.url)
    }
}

/// How many candidates of each type one side has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gathered {
    pub host: u32,
    pub srflx: u32,
    pub relay: u32,
}

impl Gathered {
    /// Counts the candidate line's `typ` (prflx counts as srflx: both are reflexive).
    pub fn add(&mut self, candidate: &str) {
        let slot = match candidate_type(candidate) {
            Some("host") => &mut self.host,
            Some("srflx" | "prflx") => &mut self.srflx,
            Some("relay") => &mut self.relay,
            _ => return,
        };
        *slot = slot.saturating_add(1);
    }

    pub fn total(&self) -> u32 {
        self.host.saturating_add(self.srflx).saturating_add(self.relay)
    }
}

/// The `typ` of an ICE candidate line (RFC 8839 §5.1): `host`, `srflx`, `prflx` or `relay`.
pub fn candidate_type(candidate: &str) -> Option<&str> {
    let mut words = candidate.split_ascii_whitespace();
    words.find(|w| *w == "typ")?;
    words.next()
}

/// Whether an ICE server URL is a TURN one (`turn:` or `turns:`, RFC 7065).
pub fn is_turn_url(url: &str) -> bool {
    let url = url.to_ascii_lowercase();
    url.starts_with("turn:") || url.starts_with("turns:")
}

/// Everything one page knows about an attempt that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The server handed out at least one TURN URL.
    pub turn_configured: bool,
    /// `iceTransportPolicy: "relay"` (`?ice=relay`).
    pub relay_only: bool,
    pub errors: Vec<CandidateError>,
    pub local: Gathered,
    /// Our gathering is complete.
    pub local_done: bool,
    pub remote: Gathered,
    /// The other side said `end_of_candidates`.
    pub remote_done: bool,
    /// Candidate pairs in the last getStats, and how many of them succeeded.
    pub pairs: u32,
    pub pairs_succeeded: u32,
    /// The other page gave up first and said why.
    pub remote_reason: Option<FailureReason>,
    /// This page tried for a whole attempt: a browser that reports nothing in that time (no
    /// candidate, no error, gathering never complete) is evidence too.
    pub tried_long: bool,
}

impl Evidence {
    /// Records an `icecandidateerror`, keeping the first [`MAX_ERRORS`].
    pub fn error(&mut self, error: CandidateError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(error);
        }
    }

    /// Whether this page has anything of its own to judge by: it gathered, or tried to.
    fn has_own(&self) -> bool {
        self.local_done || self.local.total() > 0 || !self.errors.is_empty() || self.tried_long
    }
}

/// The cause, from this page's evidence; the other page's reason when this one has none (it
/// had not started gathering when the other gave up).
pub fn classify(e: &Evidence) -> FailureReason {
    if !e.has_own() {
        return match e.remote_reason {
            Some(FailureReason::Unknown) | None => FailureReason::NoPath,
            Some(reason) => reason,
        };
    }
    if e.turn_configured && e.local.relay == 0 {
        return if e.errors.iter().any(CandidateError::is_auth) {
            FailureReason::TurnAuth
        } else {
            FailureReason::TurnUnreachable
        };
    }
    if !e.turn_configured {
        return FailureReason::NoRelay;
    }
    let they_said_blocked = matches!(e.remote_reason, Some(FailureReason::TurnAuth | FailureReason::TurnUnreachable));
    if they_said_blocked || (e.remote_done && e.remote.relay == 0) {
        return FailureReason::PeerUnreachable;
    }
    FailureReason::NoPath
}

/// What the person reads, and what to try.
pub fn sentence(reason: FailureReason) -> &'static str {
    match reason {
        FailureReason::TurnAuth => {
            "The relay server refused its credentials. Try again; if it keeps happening, tell whoever runs this call service."
        }
        FailureReason::TurnUnreachable => {
            "The relay server cannot be reached from your network (a firewall or VPN may block it). Try another network, such as your phone's hotspot."
        }
        FailureReason::NoRelay => {
            "No direct connection worked, and this call service has no relay server for such networks. Try another network."
        }
        FailureReason::PeerUnreachable => {
            "The other person's network blocks the connection. They could try another network, such as a phone's hotspot."
        }
        FailureReason::NoPath | FailureReason::Unknown => {
            "No network path to the other person was found. Try again, or try another network."
        }
    }
}

/// A few lines for support: the verdict and the evidence behind it.
pub fn details(reason: FailureReason, e: &Evidence) -> String {
    let kinds = |g: &Gathered| format!("host {}, srflx {}, relay {}", g.host, g.srflx, g.relay);
    let mut lines = vec![
        format!("data-error: {}", reason.as_str()),
        format!("TURN configured: {}; relay only: {}", yes(e.turn_configured), yes(e.relay_only)),
        format!("our candidates: {}{}", kinds(&e.local), if e.local_done { " (complete)" } else { "" }),
        format!("their candidates: {}{}", kinds(&e.remote), if e.remote_done { " (complete)" } else { "" }),
        format!("pairs tried: {}, succeeded: {}", e.pairs, e.pairs_succeeded),
        format!("tried for a whole attempt: {}", yes(e.tried_long)),
    ];
    if let Some(theirs) = e.remote_reason {
        lines.push(format!("the other page gave up with: {}", theirs.as_str()));
    }
    lines.extend(e.errors.iter().map(|err| format!("candidate error {} at {}: {}", err.code, err.url, err.text)));
    lines.join("\n")
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gathered(host: u32, srflx: u32, relay: u32) -> Gathered {
        Gathered { host, srflx, relay }
    }

    fn error(code: u16, url: &str) -> CandidateError {
        CandidateError { code, url: url.into(), text: "x".into() }
    }

    #[test]
    fn candidate_types_are_read_from_the_line() {
        let line = "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 10.0.0.2 rport 46154";
        assert_eq!(candidate_type(line), Some("srflx"));
        assert_eq!(candidate_type("candidate:1 1 udp 1 127.0.0.1 5000 typ host generation 0"), Some("host"));
        assert_eq!(candidate_type("candidate:1 1 udp 1 127.0.0.1 5000"), None);
        let mut g = Gathered::default();
        for line in [line, "a typ relay", "a typ prflx", "a typ host", "a typ nonsense", ""] {
            g.add(line);
        }
        assert_eq!(g, gathered(1, 2, 1));
    }

    #[test]
    fn refused_credentials_are_turn_auth() {
        let mut e = Evidence { turn_configured: true, local: gathered(2, 0, 0), ..Evidence::default() };
        e.error(error(701, "stun:turn.example:3478"));
        e.error(error(401, "turn:turn.example:3478?transport=udp"));
        assert_eq!(classify(&e), FailureReason::TurnAuth);
        // 401 from a STUN URL is not about TURN credentials.
        let stun_only = Evidence { errors: vec![error(401, "stun:x")], ..e.clone() };
        assert_eq!(classify(&stun_only), FailureReason::TurnUnreachable);
    }

    #[test]
    fn no_relay_candidate_with_turn_configured_is_turn_unreachable() {
        let e = Evidence {
            turn_configured: true,
            relay_only: true,
            errors: vec![error(701, "turn:127.0.0.1:9?transport=udp")],
            ..Evidence::default()
        };
        assert_eq!(classify(&e), FailureReason::TurnUnreachable);
        // Gathering finished with nothing and no error reported.
        let silent = Evidence { turn_configured: true, local_done: true, ..Evidence::default() };
        assert_eq!(classify(&silent), FailureReason::TurnUnreachable);
        // Or never finished in a whole attempt (Chromium may keep retrying a silent relay), even
        // when the other page gave up first with a vaguer reason.
        let stuck = Evidence {
            turn_configured: true,
            tried_long: true,
            remote_reason: Some(FailureReason::NoPath),
            ..Evidence::default()
        };
        assert_eq!(classify(&stuck), FailureReason::TurnUnreachable);
    }

    #[test]
    fn without_turn_a_failed_direct_path_is_no_relay() {
        let e = Evidence { local: gathered(1, 1, 0), remote: gathered(1, 1, 0), pairs: 4, ..Evidence::default() };
        assert_eq!(classify(&e), FailureReason::NoRelay);
    }

    #[test]
    fn our_relay_and_their_none_is_peer_unreachable() {
        let ours = Evidence { turn_configured: true, local: gathered(1, 0, 1), ..Evidence::default() };
        let they_said = Evidence { remote_reason: Some(FailureReason::TurnUnreachable), ..ours.clone() };
        assert_eq!(classify(&they_said), FailureReason::PeerUnreachable);
        let they_said_auth = Evidence { remote_reason: Some(FailureReason::TurnAuth), ..ours.clone() };
        assert_eq!(classify(&they_said_auth), FailureReason::PeerUnreachable);
        let their_candidates = Evidence { remote: gathered(2, 0, 0), remote_done: true, ..ours.clone() };
        assert_eq!(classify(&their_candidates), FailureReason::PeerUnreachable);
        // Their gathering is not over: we cannot tell yet.
        let unfinished = Evidence { remote: gathered(2, 0, 0), ..ours };
        assert_eq!(classify(&unfinished), FailureReason::NoPath);
    }

    #[test]
    fn relays_on_both_sides_and_no_pair_is_no_path() {
        let e = Evidence {
            turn_configured: true,
            local: gathered(1, 1, 1),
            remote: gathered(1, 1, 1),
            remote_done: true,
            pairs: 9,
            ..Evidence::default()
        };
        assert_eq!(classify(&e), FailureReason::NoPath);
    }

    #[test]
    fn with_nothing_of_its_own_a_page_repeats_the_other_pages_reason() {
        for reason in FailureReason::ALL {
            // Even with TURN configured: we never gathered, so we cannot judge our relay.
            let e = Evidence { turn_configured: true, remote_reason: Some(reason), ..Evidence::default() };
            assert_eq!(classify(&e), reason);
        }
        let newer = Evidence { remote_reason: Some(FailureReason::Unknown), ..Evidence::default() };
        assert_eq!(classify(&newer), FailureReason::NoPath, "data-error stays within the contract");
    }

    #[test]
    fn errors_are_bounded() {
        let mut e = Evidence::default();
        for _ in 0..100 {
            e.error(error(701, "turn:x"));
        }
        assert_eq!(e.errors.len(), MAX_ERRORS);
    }

    #[test]
    fn every_reason_has_words_and_details_show_the_evidence() {
        for reason in FailureReason::ALL {
            assert!(sentence(reason).ends_with('.'), "{reason:?}");
        }
        let e = Evidence {
            turn_configured: true,
            errors: vec![error(701, "turn:127.0.0.1:9?transport=udp")],
            remote_reason: Some(FailureReason::NoPath),
            ..Evidence::default()
        };
        let text = details(FailureReason::TurnUnreachable, &e);
        assert!(text.starts_with("data-error: turn-unreachable\n"), "{text}");
        assert!(text.contains("candidate error 701 at turn:127.0.0.1:9?transport=udp"), "{text}");
        assert!(text.contains("the other page gave up with: no-path"), "{text}");
        assert!(text.contains("our candidates: host 0, srflx 0, relay 0"), "{text}");
    }
}
