//! The connection deadline in the app: feeds each call's [`Attempts`] what the browser and the
//! other page report, restarts ICE once when it says so, and gives up with a reason — shown on
//! this page (`data-error`) and sent to the other (`connect_failed`) so both stop waiting.

use shared::{FailureReason, Signal};

use super::App;
use crate::browser::log;
use crate::deadline::{ice_ufrag, Action, Input, ATTEMPT_MS};
use crate::diagnosis::{classify, details, is_turn_url, Evidence};
use crate::negotiation::Kind;
use crate::state::{Media, Phase, Problem};
use crate::stats::pair_counts;

/// The page's clock for the deadline, in milliseconds.
pub(super) fn now() -> f64 {
    js_sys::Date::now()
}

impl App {
    /// Feeds the current call's deadline and does what it decides.
    pub(super) async fn attempt(&mut self, input: Input) {
        let Some(call) = &mut self.call else { return };
        match call.attempts.on(input) {
            Action::Nothing => {}
            Action::RestartIce => {
                log("not connected in time: restarting ICE once");
                call.restart_ice();
            }
            Action::GiveUp => self.give_up(None).await,
        }
    }

    /// A candidate or end-of-candidates we gathered, counted before it is sent.
    pub(super) async fn local_signal(&mut self, signal: Signal) {
        let input = match (&signal, &mut self.call) {
            (Signal::Candidate { candidate, .. }, Some(call)) => {
                call.evidence.local.add(candidate);
                Some(Input::LocalCandidate)
            }
            (Signal::EndOfCandidates, Some(call)) => {
                call.evidence.local_done = true;
                Some(Input::LocalDone { now: now() })
            }
            _ => None,
        };
        // Sent first, so the other page hears our end-of-candidates before any `connect_failed`.
        self.signal(signal);
        if let Some(input) = input {
            self.attempt(input).await;
        }
    }

    /// Before applying a remote description: an offer with new ICE credentials is the other
    /// side's ICE restart, which is this call's one restart too.
    pub(super) async fn before_description(&mut self, kind: Kind, sdp: &str) {
        let Some(call) = &mut self.call else { return };
        if kind != Kind::Offer {
            return;
        }
        let ufrag = ice_ufrag(sdp).map(str::to_owned);
        let restarted = call.remote_ufrag.is_some() && ufrag.is_some() && call.remote_ufrag != ufrag;
        call.remote_ufrag = ufrag;
        if restarted {
            self.attempt(Input::RemoteRestarted { now: now() }).await;
        }
    }

    /// The other side's `end_of_candidates`: handed to the ICE agent, and counted.
    pub(super) async fn remote_end_of_candidates(&mut self) {
        let Some(call) = &mut self.call else { return };
        if let Err(e) = call.add_end_of_candidates().await {
            log(&format!("end-of-candidates: {e}"));
        }
        call.evidence.remote_done = true;
        self.attempt(Input::RemoteDone { now: now() }).await;
    }

    /// The other page gave up: so does this one, unless media already flows here.
    pub(super) async fn remote_gave_up(&mut self, reason: FailureReason) {
        let connected = self.call.as_ref().is_some_and(|c| c.attempts.connected());
        if connected || matches!(self.facts.media, Media::Failed(_)) {
            return;
        }
        self.give_up(Some(reason)).await;
    }

    /// Ends the attempt: says why on this page, and tells the other page unless it told us.
    pub(super) async fn give_up(&mut self, theirs: Option<FailureReason>) {
        let mut evidence = match &self.call {
            Some(call) => {
                let mut evidence = call.evidence.clone();
                evidence.tried_long = call.attempts.trying_for(now()).is_some_and(|ms| ms >= ATTEMPT_MS);
                if let Ok(stats) = call.stats().await {
                    (evidence.pairs, evidence.pairs_succeeded) = pair_counts(&stats);
                }
                evidence
            }
            None => Evidence {
                turn_configured: self.ice_servers.iter().flat_map(|s| &s.urls).any(|u| is_turn_url(u)),
                relay_only: self.params.force_relay,
                ..Evidence::default()
            },
        };
        evidence.remote_reason = theirs;
        let reason = classify(&evidence);
        let text = details(reason, &evidence);
        log(&format!("no connection to the other person:\n{text}"));
        if theirs.is_none() {
            self.signal(Signal::ConnectFailed { reason });
        }
        self.end_call();
        self.facts.media = Media::Failed(reason);
        self.ui.set_failure_details(Some(&text));
        self.render();
    }

    /// **Try again**: a fresh connection, offered by this page; the other page answers it with a
    /// fresh connection of its own, whatever state it is in.
    pub(super) fn retry(&mut self) {
        if self.facts.phase == Phase::Failed(Problem::ServerUnreachable) {
            // The server: now, instead of at the next backoff.
            self.reconnect_attempt = 0;
            return self.connect_signaling();
        }
        self.ui.set_failure_details(None);
        self.facts.media = Media::None;
        if self.other.is_some() {
            self.new_call(self.polite());
        }
        self.render();
    }
}
