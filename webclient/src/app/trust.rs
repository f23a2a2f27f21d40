//! The verification code and privacy mode in the app loop: which ICE policy a call gets, the
//! setting changing during a call, and the code refreshed from the connection's stats.

use super::App;
use crate::browser::log;
use crate::certificates::{self, Descriptions};
use crate::privacy::{self, Availability};
use crate::state::Media;
use crate::{trust, verify};

impl App {
    /// The ICE policy for a new call (see [`privacy::relay_only`]).
    pub(super) fn relay_only(&self) -> bool {
        privacy::relay_only(self.privacy_wanted, self.params.force_relay, self.availability)
    }

    /// The server said which ICE servers it offers: privacy mode is possible only with a relay.
    pub(super) fn on_ice_servers(&mut self) {
        self.availability = Availability::of(&self.ice_servers);
        self.trust.set_privacy(self.privacy_wanted, self.availability);
    }

    /// The checkbox changed: remember it, and move a running call to the new policy by an ICE
    /// restart (the address already sent before the switch cannot be taken back; the README says so).
    pub(super) fn privacy_toggled(&mut self) {
        self.privacy_wanted = self.trust.privacy_wanted();
        trust::remember(privacy::STORAGE_KEY, if self.privacy_wanted { privacy::ON } else { privacy::OFF });
        let relay_only = self.relay_only();
        if let Some(call) = &mut self.call {
            if call.evidence.relay_only != relay_only {
                match call.set_relay_only(relay_only) {
                    Ok(()) => self.ui.note(if relay_only {
                        "Privacy mode on: reconnecting through the relay."
                    } else {
                        "Privacy mode off: reconnecting by the best path."
                    }),
                    Err(e) => log(&format!("cannot change the ICE policy: {e}")),
                }
            }
        }
    }

    /// The connection just became `connected`: the code now rather than at the next tick.
    pub(super) async fn verify_now(&mut self) {
        let Some(call) = &self.call else { return };
        match call.report().await {
            Ok(report) => self.refresh_trust(&report).await,
            Err(e) => log(&format!("stats: {e}")),
        }
    }

    /// Once a second in a call, and when it becomes `connected`: the candidate facts for
    /// `#call-stats` and the verification code of the certificates the connection uses now
    /// ([`certificates::choose`]: the stats where they name them, else the descriptions), with
    /// the evidence on `#verification`. Every refresh decides afresh, so a code that could not be
    /// made yet is retried at the next one; hashing is skipped while the input stays the same.
    pub(super) async fn refresh_trust(&mut self, report: &js_sys::Map) {
        let Some(call) = &self.call else { return };
        let (pc, generation, remote) = (call.peer_connection().clone(), call.generation, call.evidence.remote);
        let records = trust::records(report);
        self.trust.set_candidates(verify::selected_local_kind(&records), &remote);
        let descriptions = Descriptions {
            local: pc.local_description().and_then(|d| verify::sdp_fingerprint(&d.sdp())),
            remote: pc.remote_description().and_then(|d| verify::sdp_fingerprint(&d.sdp())),
        };
        let stats = certificates::stats_evidence(&records);
        let chosen = match certificates::choose(self.facts.media == Media::Connected, &records, descriptions) {
            Ok(chosen) => chosen,
            Err(wait) => {
                self.code_evidence(None, Some(wait.as_str()), &stats);
                return self.trust.show_code(None);
            }
        };
        let code = match &self.verified {
            Some((known, code)) if *known == chosen.input => code.clone(),
            _ => match trust::sha256(&chosen.input).await {
                Ok(digest) => verify::code(&digest),
                Err(e) => return log(&format!("cannot hash the fingerprints: {e}")),
            },
        };
        // The call may have been replaced or dropped while the browser worked.
        if !self.is_current_call(generation) || self.facts.media != Media::Connected {
            return;
        }
        self.trust.show_code(Some(&code));
        self.code_evidence(Some(&chosen.source()), None, &stats);
        if self.verified.as_ref().is_some_and(|(_, old)| *old != code) {
            self.ui.note("The verification code changed (a new connection): compare it again.");
        }
        self.verified = Some((chosen.input, code));
    }

    /// Puts the code's evidence on the page and, when it changed, in the console.
    fn code_evidence(&self, source: Option<&str>, wait: Option<&str>, stats: &str) {
        if self.trust.set_code_evidence(source, wait, stats) {
            let what = match (source, wait) {
                (Some(source), _) => format!("from {source}"),
                (None, Some(wait)) => format!("none yet ({wait})"),
                (None, None) => "none".to_owned(),
            };
            log(&format!("verification code {what}; stats: {stats}"));
        }
    }
}
