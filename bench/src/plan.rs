//! How big each scenario is in a quick and in a full run. Every scenario is bounded in
//! connections, messages and seconds.

use std::time::Duration;

use crate::load::echo::EchoPlan;
use crate::load::relay::{Pacing, RelayPlan};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Small sizes, one repetition: proves everything runs and nothing is lost.
    Quick,
    /// The sizes of the report, three repetitions.
    Full,
}

/// The two signal sizes: an ICE candidate padded to 256 B, and a 4 KiB message (an SDP is
/// 5–12 KB; 4 KiB shows how cost grows with size).
pub const SMALL: usize = 256;
pub const LARGE: usize = 4096;
/// The two echo sizes: a tiny message, and one big enough that copying dominates.
pub const ECHO_SMALL: usize = 64;
pub const ECHO_LARGE: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Sizes {
    pub repetitions: usize,
    pub rooms: usize,
    /// Closed-loop relay messages in all, per size.
    pub closed_small: u64,
    pub closed_large: u64,
    /// Messages in flight per direction in the closed loop.
    pub window: u32,
    /// The paced relay: total messages per second, for this long.
    pub paced_per_sec: f64,
    pub paced_secs: f64,
    /// Paced runs per repetition and size, each on a fresh server: a p99 of a fraction of a
    /// millisecond is easily moved by one stray scheduling delay, so it gets more samples.
    pub paced_rounds: usize,
    pub join_sequential: usize,
    pub join_burst: usize,
    /// Bursts per repetition, each on fresh connections to the same server: a burst's tail is
    /// noisy (it depends on how the server's and the generator's schedulers meet), so each one
    /// is a sample of its own.
    pub bursts: usize,
    pub idle: usize,
    pub echo_connections: usize,
    pub echo_small: u64,
    pub echo_large: u64,
    /// Browser calls; the figure is their median.
    pub browser_runs: usize,
}

impl Sizes {
    pub fn for_mode(mode: Mode) -> Sizes {
        match mode {
            Mode::Quick => Sizes {
                repetitions: 1,
                rooms: 10,
                closed_small: 4_000,
                closed_large: 2_000,
                window: 8,
                paced_per_sec: 2_000.0,
                paced_secs: 1.0,
                paced_rounds: 1,
                join_sequential: 100,
                join_burst: 1_000,
                bursts: 1,
                idle: 1_000,
                echo_connections: 16,
                echo_small: 2_000,
                echo_large: 500,
                browser_runs: 1,
            },
            Mode::Full => Sizes {
                repetitions: 3,
                rooms: 50,
                closed_small: 100_000,
                closed_large: 40_000,
                window: 8,
                paced_per_sec: 2_000.0,
                paced_secs: 4.0,
                paced_rounds: 3,
                join_sequential: 1_000,
                join_burst: 10_000,
                bursts: 5,
                idle: 10_000,
                echo_connections: 32,
                echo_small: 40_000,
                echo_large: 10_000,
                browser_runs: 5,
            },
        }
    }

    /// The most connections any scenario holds at once (file descriptor limits follow).
    pub fn max_connections(&self) -> usize {
        self.join_burst.max(self.idle).max(self.join_sequential).max(2 * self.rooms).max(self.echo_connections)
    }

    pub fn closed(&self, size: usize) -> RelayPlan {
        let messages = if size == SMALL { self.closed_small } else { self.closed_large };
        let pacing = Pacing::Closed { window: self.window };
        RelayPlan { rooms: self.rooms, size, messages, pacing, max_time: Duration::from_secs(60) }
    }

    pub fn paced(&self, size: usize) -> RelayPlan {
        let messages = (self.paced_per_sec * self.paced_secs) as u64;
        let pacing = Pacing::Paced { per_sec: self.paced_per_sec };
        // The deadline only guards against a generator that cannot keep the pace.
        let max_time = Duration::from_secs_f64(self.paced_secs * 2.0 + 5.0);
        RelayPlan { rooms: self.rooms, size, messages, pacing, max_time }
    }

    pub fn echo(&self, size: usize) -> EchoPlan {
        let messages = if size == ECHO_SMALL { self.echo_small } else { self.echo_large };
        EchoPlan { connections: self.echo_connections, size, messages }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_runs_hold_ten_thousand_and_quick_a_thousand() {
        assert_eq!(Sizes::for_mode(Mode::Full).max_connections(), 10_000);
        assert_eq!(Sizes::for_mode(Mode::Quick).max_connections(), 1_000);
        assert_eq!(Sizes::for_mode(Mode::Quick).repetitions, 1);
        assert_eq!(Sizes::for_mode(Mode::Full).paced(SMALL).messages, 8_000);
    }
}
