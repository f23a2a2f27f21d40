//! The connection deadline as a pure state machine: events and the time in, actions out.
//!
//! One attempt gets [`ATTEMPT_MS`] after offer/answer to reach `connected`. When it fails — the
//! time runs out, the browser says `failed`, or both sides finished gathering and one of them has
//! no candidate at all, so nothing can ever be paired — the call gets exactly one ICE restart, and
//! when the second attempt fails too the page gives up. Both pages run this, and the one that gives
//! up first tells the other (`connect_failed`), so neither waits on a browser that may stay in
//! `checking` forever (Chromium does when the remote side never signals end-of-candidates).
//!
//! Budget (docs/CONNECTIVITY.md): the second person's page loads, joins and negotiates in 1–3 s,
//! then at most two attempts of 10 s each: error on both pages in about 23 s, under the 30 s
//! promised. A relayed path on loopback connects in well under a second after offer/answer, so
//! 10 s leaves room for a TURN-over-TLS allocation across a slow network.

/// How long one attempt may take from offer/answer (or from the restart) to `connected`.
pub const ATTEMPT_MS: f64 = 10_000.0;

/// Page load, join and offer/answer of the second person, generously (1–3 s measured).
const SETUP_MS: f64 = 3_000.0;
/// The app checks the clock once a second.
const TICK_MS: f64 = 1_000.0;
// Two attempts and the setup fit the 30 s promised, checked when the constants change.
const _: () = assert!(SETUP_MS + 2.0 * (ATTEMPT_MS + TICK_MS) <= 30_000.0);

/// What happened to the call, with the page's clock (`performance.now()`-like milliseconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    /// An offer/answer exchange completed: the attempt's clock starts if it has not.
    Negotiated { now: f64 },
    /// The connection reached `connected`.
    Connected,
    /// The browser reports `connectionState: failed`.
    Failed { now: f64 },
    /// Time passes (the app's one-second tick).
    Tick { now: f64 },
    /// We gathered a candidate.
    LocalCandidate,
    /// Our gathering is complete (the browser's null candidate).
    LocalDone { now: f64 },
    /// The other side sent a candidate.
    RemoteCandidate,
    /// The other side's gathering is complete (`end_of_candidates`).
    RemoteDone { now: f64 },
    /// The other side restarted ICE (an offer with new ICE credentials): that is our restart too.
    RemoteRestarted { now: f64 },
}

/// What the app must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// Restart ICE (the one restart this call gets).
    RestartIce,
    /// Stop: show the error and tell the other page.
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The first attempt.
    First,
    /// After the one restart.
    Second,
    Connected,
    GaveUp,
}

/// One call's connection attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempts {
    stage: Stage,
    /// When the current attempt's clock started; `None` until offer/answer.
    started: Option<f64>,
    /// When the first attempt's clock started, kept across the restart.
    first_started: Option<f64>,
    local_candidates: u32,
    remote_candidates: u32,
    local_done: bool,
    remote_done: bool,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts::new()
    }
}

impl Attempts {
    pub fn new() -> Self {
        Attempts {
            stage: Stage::First,
            started: None,
            first_started: None,
            local_candidates: 0,
            remote_candidates: 0,
            local_done: false,
            remote_done: false,
        }
    }

    /// Whether the call has connected at least once (the deadline no longer applies).
    pub fn connected(&self) -> bool {
        self.stage == Stage::Connected
    }

    pub fn gave_up(&self) -> bool {
        self.stage == Stage::GaveUp
    }

    /// How long this call has been trying since its first offer/answer; `None` before it.
    pub fn trying_for(&self, now: f64) -> Option<f64> {
        self.first_started.map(|started| now - started)
    }

    /// Whether the one restart has been used.
    pub fn restarted(&self) -> bool {
        self.stage == Stage::Second
    }

    /// Feeds one input; returns what to do.
    pub fn on(&mut self, input: Input) -> Action {
        if matches!(self.stage, Stage::Connected | Stage::GaveUp) {
            return Action::Nothing;
        }
        match input {
            Input::Negotiated { now } => {
                self.started.get_or_insert(now);
                self.first_started.get_or_insert(now);
                Action::Nothing
            }
            Input::Connected => {
                self.stage = Stage::Connected;
                Action::Nothing
            }
            Input::Failed { now } => self.fail(now),
            Input::Tick { now } => match self.started {
                Some(started) if now - started >= ATTEMPT_MS => self.fail(now),
                _ => Action::Nothing,
            },
            Input::LocalCandidate => {
                self.local_candidates = self.local_candidates.saturating_add(1);
                Action::Nothing
            }
            Input::RemoteCandidate => {
                self.remote_candidates = self.remote_candidates.saturating_add(1);
                Action::Nothing
            }
            Input::LocalDone { now } => {
                self.local_done = true;
                self.check_pairable(now)
            }
            Input::RemoteDone { now } => {
                self.remote_done = true;
                self.check_pairable(now)
            }
            Input::RemoteRestarted { now } => {
                if self.stage == Stage::First {
                    self.begin_second(now);
                }
                Action::Nothing
            }
        }
    }

    /// Both sides finished gathering and one has nothing: no pair can ever form.
    fn check_pairable(&mut self, now: f64) -> Action {
        let hopeless =
            self.local_done && self.remote_done && (self.local_candidates == 0 || self.remote_candidates == 0);
        if hopeless {
            self.fail(now)
        } else {
            Action::Nothing
        }
    }

    fn fail(&mut self, now: f64) -> Action {
        match self.stage {
            Stage::First => {
                self.begin_second(now);
                Action::RestartIce
            }
            Stage::Second => {
                self.stage = Stage::GaveUp;
                Action::GiveUp
            }
            Stage::Connected | Stage::GaveUp => Action::Nothing,
        }
    }

    /// The restart: a fresh clock and fresh gathering on both sides.
    fn begin_second(&mut self, now: f64) {
        let first_started = self.first_started.or(Some(now));
        *self = Attempts { stage: Stage::Second, started: Some(now), first_started, ..Attempts::new() };
    }
}

/// The `a=ice-ufrag:` of a description: a new one in an offer means the other side restarted ICE.
pub fn ice_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines().find_map(|line| line.trim_end().strip_prefix("a=ice-ufrag:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiated_at(now: f64) -> Attempts {
        let mut a = Attempts::new();
        assert_eq!(a.on(Input::Negotiated { now }), Action::Nothing);
        a
    }

    #[test]
    fn nothing_happens_before_offer_answer_however_long_it_takes() {
        let mut a = Attempts::new();
        assert_eq!(a.on(Input::Tick { now: 1e9 }), Action::Nothing);
    }

    #[test]
    fn a_silent_attempt_is_restarted_once_then_given_up() {
        let mut a = negotiated_at(1_000.0);
        assert_eq!(a.on(Input::Tick { now: 10_999.0 }), Action::Nothing);
        assert_eq!(a.on(Input::Tick { now: 11_000.0 }), Action::RestartIce);
        assert!(a.restarted());
        // The second attempt's clock starts at the restart, not at the first offer/answer.
        assert_eq!(a.on(Input::Tick { now: 20_999.0 }), Action::Nothing);
        assert_eq!(a.on(Input::Tick { now: 21_000.0 }), Action::GiveUp);
        assert!(a.gave_up());
        assert_eq!(a.on(Input::Tick { now: 99_000.0 }), Action::Nothing, "gives up once");
        assert_eq!(a.trying_for(21_000.0), Some(20_000.0), "counted from the first offer/answer");
        assert_eq!(Attempts::new().trying_for(5.0), None);
    }

    #[test]
    fn connecting_in_time_ends_the_deadline() {
        let mut a = negotiated_at(0.0);
        assert_eq!(a.on(Input::Tick { now: 9_000.0 }), Action::Nothing);
        assert_eq!(a.on(Input::Connected), Action::Nothing);
        assert!(a.connected());
        assert_eq!(a.on(Input::Tick { now: 60_000.0 }), Action::Nothing);
        assert_eq!(a.on(Input::Failed { now: 60_000.0 }), Action::Nothing);
    }

    #[test]
    fn a_connection_after_the_restart_counts() {
        let mut a = negotiated_at(0.0);
        assert_eq!(a.on(Input::Failed { now: 500.0 }), Action::RestartIce);
        assert_eq!(a.on(Input::Connected), Action::Nothing);
        assert_eq!(a.on(Input::Tick { now: 50_000.0 }), Action::Nothing);
        assert!(!a.gave_up());
    }

    #[test]
    fn browser_failure_skips_the_wait() {
        let mut a = negotiated_at(0.0);
        assert_eq!(a.on(Input::Failed { now: 2_000.0 }), Action::RestartIce);
        assert_eq!(a.on(Input::Failed { now: 3_000.0 }), Action::GiveUp);
    }

    #[test]
    fn end_of_candidates_with_nothing_to_pair_fails_the_attempt_at_once() {
        let mut a = negotiated_at(0.0);
        assert_eq!(a.on(Input::RemoteCandidate), Action::Nothing);
        assert_eq!(a.on(Input::RemoteDone { now: 100.0 }), Action::Nothing);
        // We gathered nothing (a dead relay with relay-only policy): no pair can form.
        assert_eq!(a.on(Input::LocalDone { now: 900.0 }), Action::RestartIce);
        // After the restart both sides gather afresh; the old counts do not carry over.
        assert_eq!(a.on(Input::LocalCandidate), Action::Nothing);
        assert_eq!(a.on(Input::LocalDone { now: 1_500.0 }), Action::Nothing);
        assert_eq!(a.on(Input::RemoteDone { now: 1_600.0 }), Action::GiveUp, "the other side has nothing");
    }

    #[test]
    fn candidates_on_both_sides_wait_for_the_browser_or_the_clock() {
        let mut a = negotiated_at(0.0);
        for input in [Input::LocalCandidate, Input::RemoteCandidate] {
            assert_eq!(a.on(input), Action::Nothing);
        }
        assert_eq!(a.on(Input::LocalDone { now: 10.0 }), Action::Nothing);
        assert_eq!(a.on(Input::RemoteDone { now: 20.0 }), Action::Nothing);
        assert_eq!(a.on(Input::Tick { now: ATTEMPT_MS }), Action::RestartIce);
    }

    #[test]
    fn the_other_sides_restart_is_ours_too() {
        let mut a = negotiated_at(0.0);
        assert_eq!(a.on(Input::RemoteRestarted { now: 8_000.0 }), Action::Nothing);
        assert!(a.restarted());
        // No second restart of our own: the next failure gives up.
        assert_eq!(a.on(Input::Tick { now: 17_999.0 }), Action::Nothing);
        assert_eq!(a.on(Input::Tick { now: 18_000.0 }), Action::GiveUp);
        // A further remote restart does not buy more time.
        let mut b = negotiated_at(0.0);
        assert_eq!(b.on(Input::Failed { now: 1.0 }), Action::RestartIce);
        assert_eq!(b.on(Input::RemoteRestarted { now: 9_000.0 }), Action::Nothing);
        assert_eq!(b.on(Input::Tick { now: ATTEMPT_MS + 1.0 }), Action::GiveUp);
    }

    #[test]
    fn ufrag_is_read_from_the_description() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:8hhY\r\na=ice-pwd:x\r\n";
        assert_eq!(ice_ufrag(sdp), Some("8hhY"));
        assert_eq!(ice_ufrag("v=0\r\n"), None);
    }
}
