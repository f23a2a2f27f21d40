//! The status line's figures from `getStats()`: round-trip time, the incoming video's size and
//! frame rate, and whether the media path is direct or relayed through TURN.
//!
//! The browser glue turns the stats report into [`Stat`] records; the summary is pure.

/// The few stats entries the summary needs, as read from an `RTCStatsReport`.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    /// `type: "transport"`: names the selected candidate pair.
    Transport { selected_pair: Option<String> },
    /// `type: "candidate-pair"`.
    Pair { id: String, local: String, remote: String, nominated: bool, succeeded: bool, rtt_secs: Option<f64> },
    /// `type: "local-candidate"` / `"remote-candidate"`: `candidateType` is host, srflx, prflx or relay.
    Candidate { id: String, relay: bool },
    /// `type: "inbound-rtp"`, `kind: "video"`.
    InboundVideo { width: Option<u32>, height: Option<u32>, fps: Option<f64>, frames_decoded: u64 },
}

/// How many candidate pairs the ICE agent formed, and how many of them succeeded: the "pairs
/// tried" of a failure's details.
pub fn pair_counts(stats: &[Stat]) -> (u32, u32) {
    stats.iter().fold((0, 0), |(all, ok), stat| match stat {
        Stat::Pair { succeeded, .. } => (all + 1, ok + u32::from(*succeeded)),
        _ => (all, ok),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Direct,
    Relay,
}

impl Path {
    pub fn as_str(self) -> &'static str {
        match self {
            Path::Direct => "direct",
            Path::Relay => "relay",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub rtt_ms: Option<u32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
    pub frames_decoded: u64,
    pub path: Option<Path>,
    /// This side is relay-only (privacy mode): the badge says "relayed (private)".
    pub private: bool,
}

impl Summary {
    /// Frames per second to the nearest whole number: pages show no fractions, and integer
    /// formatting needs none of the float formatting machinery in the bundle.
    pub fn whole_fps(&self) -> Option<u32> {
        self.fps.map(|f| f.round() as u32)
    }

    /// One line for people, e.g. `RTT 3 ms · 640×480 @ 30 fps · direct`.
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(rtt) = self.rtt_ms {
            parts.push(format!("RTT {rtt} ms"));
        }
        if let (Some(w), Some(h)) = (self.width, self.height) {
            let fps = self.whole_fps().map(|f| format!(" @ {f} fps")).unwrap_or_default();
            parts.push(format!("{w}×{h}{fps}"));
        }
        if let Some(path) = self.path {
            parts.push(match path {
                Path::Direct => "direct".to_owned(),
                Path::Relay => crate::privacy::relay_badge(self.private).to_owned(),
            });
        }
        parts.join(" · ")
    }
}

pub fn summarize(stats: &[Stat]) -> Summary {
    let mut summary = Summary::default();
    let selected_id = stats.iter().find_map(|s| match s {
        Stat::Transport { selected_pair: Some(id) } => Some(id.as_str()),
        _ => None,
    });
    // Firefox has no transport stats: fall back to the nominated, succeeded pair.
    let pair = stats.iter().find(|s| match s {
        Stat::Pair { id, .. } if Some(id.as_str()) == selected_id => true,
        Stat::Pair { nominated: true, succeeded: true, .. } => selected_id.is_none(),
        _ => false,
    });
    if let Some(Stat::Pair { local, remote, rtt_secs, .. }) = pair {
        summary.rtt_ms = rtt_secs.map(|s| (s * 1000.0).round() as u32);
        let is_relay = |cid: &str| stats.iter().any(|s| matches!(s, Stat::Candidate { id, relay: true } if id == cid));
        summary.path = Some(if is_relay(local) || is_relay(remote) { Path::Relay } else { Path::Direct });
    }
    for stat in stats {
        if let Stat::InboundVideo { width, height, fps, frames_decoded } = stat {
            if *frames_decoded >= summary.frames_decoded {
                (summary.width, summary.height, summary.fps) = (*width, *height, *fps);
                summary.frames_decoded = *frames_decoded;
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(id: &str, local: &str, remote: &str, rtt: f64) -> Stat {
        Stat::Pair {
            id: id.into(),
            local: local.into(),
            remote: remote.into(),
            nominated: true,
            succeeded: true,
            rtt_secs: Some(rtt),
        }
    }

    #[test]
    fn direct_path_with_video() {
        let stats = vec![
            Stat::Transport { selected_pair: Some("P1".into()) },
            pair("P0", "L0", "R0", 0.5),
            pair("P1", "L1", "R1", 0.0034),
            Stat::Candidate { id: "L1".into(), relay: false },
            Stat::Candidate { id: "R1".into(), relay: false },
            Stat::InboundVideo { width: Some(640), height: Some(480), fps: Some(29.7), frames_decoded: 120 },
        ];
        let s = summarize(&stats);
        assert_eq!(s.rtt_ms, Some(3));
        assert_eq!(s.path, Some(Path::Direct));
        assert_eq!((s.width, s.height, s.frames_decoded), (Some(640), Some(480), 120));
        assert_eq!(s.line(), "RTT 3 ms · 640×480 @ 30 fps · direct");
    }

    #[test]
    fn a_relay_candidate_on_either_end_makes_the_path_relayed() {
        let stats = vec![pair("P", "L", "R", 0.01), Stat::Candidate { id: "R".into(), relay: true }];
        assert_eq!(summarize(&stats).path, Some(Path::Relay));
    }

    #[test]
    fn a_private_relayed_path_says_so() {
        let stats = vec![pair("P", "L", "R", 0.01), Stat::Candidate { id: "L".into(), relay: true }];
        let private = Summary { private: true, ..summarize(&stats) };
        assert_eq!(private.line(), "RTT 10 ms · relayed (private)");
        assert_eq!(summarize(&stats).line(), "RTT 10 ms · relayed via TURN");
    }

    #[test]
    fn nothing_selected_yet_is_an_empty_summary() {
        let stats = vec![Stat::Transport { selected_pair: None }];
        assert_eq!(summarize(&stats), Summary::default());
        assert_eq!(Summary::default().line(), "");
    }

    #[test]
    fn pairs_are_counted_with_their_successes() {
        let pair = |succeeded| Stat::Pair {
            id: "p".into(),
            local: "l".into(),
            remote: "r".into(),
            nominated: false,
            succeeded,
            rtt_secs: None,
        };
        let stats = [pair(false), Stat::Candidate { id: "c".into(), relay: true }, pair(true), pair(false)];
        assert_eq!(pair_counts(&stats), (3, 1));
        assert_eq!(pair_counts(&[]), (0, 0));
    }
}
