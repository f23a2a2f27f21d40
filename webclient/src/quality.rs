//! The connection quality indicator: three bars a person reads at a glance, from the same
//! `getStats()` summary as the technical line (which stays one press away). Pure.

use crate::stats::Summary;

/// Round trip above which conversation starts to feel laggy (ITU-T G.114 puts the limit of
/// natural conversation near 150 ms one way; this is the round trip the ICE pair measures).
const GOOD_RTT_MS: u32 = 300;
/// Round trip above which people talk over each other.
const FAIR_RTT_MS: u32 = 800;
/// Frame rates below these look choppy, then like a slide show.
const GOOD_FPS: f64 = 15.0;
const FAIR_FPS: f64 = 7.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Poor,
    Fair,
    Good,
}

impl Quality {
    /// How many of the three bars are lit.
    pub fn bars(self) -> u8 {
        match self {
            Quality::Poor => 1,
            Quality::Fair => 2,
            Quality::Good => 3,
        }
    }

    /// `data-quality` on the indicator.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Poor => "poor",
            Quality::Fair => "fair",
            Quality::Good => "good",
        }
    }

    /// The indicator's accessible name.
    pub fn words(self) -> &'static str {
        match self {
            Quality::Poor => "Connection: poor",
            Quality::Fair => "Connection: fair",
            Quality::Good => "Connection: good",
        }
    }
}

/// The quality of the path the summary describes; `None` before a path is selected. Video that
/// is not coming (camera off, no camera) does not count against the path: only the frame rate of
/// video that arrives is judged.
pub fn quality(summary: &Summary) -> Option<Quality> {
    let rtt = summary.rtt_ms?;
    let by_rtt = if rtt <= GOOD_RTT_MS {
        Quality::Good
    } else if rtt <= FAIR_RTT_MS {
        Quality::Fair
    } else {
        Quality::Poor
    };
    let by_fps = match summary.fps {
        Some(fps) if summary.frames_decoded > 0 && fps < FAIR_FPS => Quality::Poor,
        Some(fps) if summary.frames_decoded > 0 && fps < GOOD_FPS => Quality::Fair,
        _ => Quality::Good,
    };
    Some(by_rtt.min(by_fps))
}

impl PartialOrd for Quality {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quality {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bars().cmp(&other.bars())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(rtt: Option<u32>, fps: Option<f64>, frames: u64) -> Summary {
        Summary { rtt_ms: rtt, fps, frames_decoded: frames, ..Summary::default() }
    }

    #[test]
    fn no_path_no_bars() {
        assert_eq!(quality(&Summary::default()), None);
        assert_eq!(quality(&summary(None, Some(30.0), 100)), None);
    }

    #[test]
    fn round_trip_sets_the_ceiling() {
        assert_eq!(quality(&summary(Some(3), Some(30.0), 100)), Some(Quality::Good));
        assert_eq!(quality(&summary(Some(300), Some(30.0), 100)), Some(Quality::Good));
        assert_eq!(quality(&summary(Some(301), Some(30.0), 100)), Some(Quality::Fair));
        assert_eq!(quality(&summary(Some(801), Some(30.0), 100)), Some(Quality::Poor));
    }

    #[test]
    fn choppy_video_lowers_it_but_absent_video_does_not() {
        assert_eq!(quality(&summary(Some(10), Some(10.0), 100)), Some(Quality::Fair));
        assert_eq!(quality(&summary(Some(10), Some(3.0), 100)), Some(Quality::Poor));
        // The other person's camera is off: no frames, no verdict on video.
        assert_eq!(quality(&summary(Some(10), None, 0)), Some(Quality::Good));
        assert_eq!(quality(&summary(Some(10), Some(0.0), 0)), Some(Quality::Good));
        assert_eq!(quality(&summary(Some(500), Some(3.0), 100)), Some(Quality::Poor));
    }

    #[test]
    fn bars_and_words() {
        assert_eq!([Quality::Poor, Quality::Fair, Quality::Good].map(Quality::bars), [1, 2, 3]);
        assert_eq!(Quality::Fair.as_str(), "fair");
        assert_eq!(Quality::Good.words(), "Connection: good");
    }
}
