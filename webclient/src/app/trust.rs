//! The verification code and privacy mode in the app loop: which ICE policy a call gets, the
//! setting changing during a call, and the code refreshed from the connection's stats.

use super::App;
use crate::browser::log;
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

    /// Once a second in a call: the candidate facts for `#call-stats` and, once connected, the
    /// verification code of the certificates the transport uses now.
    pub(super) async fn refresh_trust(&mut self, report: &js_sys::Map) {
        let Some(call) = &self.call else { return };
        let (pc, generation, remote) = (call.peer_connection().clone(), call.generation, call.evidence.remote);
        let records = trust::records(report);
        self.trust.set_candidates(verify::selected_local_kind(&records), &remote);
        // The certificates the transport reports; where the stats do not name both (a browser
        // without certificate stats, or a report where the transport does not name its remote
        // certificate — seen once in Chromium in the browser test, leaving one page without a
        // code), the descriptions name the certificates in use: the DTLS stack of a connected
        // call has checked the remote certificate against them (RFC 5763).
        let pair = verify::fingerprints(&records).or_else(|| {
            pc.local_description()
                .and_then(|d| verify::sdp_fingerprint(&d.sdp()))
                .zip(pc.remote_description().and_then(|d| verify::sdp_fingerprint(&d.sdp())))
        });
        let input = match pair.map(|(local, remote)| verify::canonical_input(&local, &remote)) {
            Some(Ok(input)) if self.facts.media == Media::Connected => input,
            Some(Err(e)) => {
                log(match e {
                    verify::VerifyError::SameCertificate => "no verification code: one certificate on both ends",
                    _ => "no verification code: unusable certificate fingerprints",
                });
                return self.trust.show_code(None);
            }
            _ => return self.trust.show_code(None),
        };
        let code = match &self.verified {
            Some((known, code)) if *known == input => code.clone(),
            _ => match trust::sha256(&input).await {
                Ok(digest) => verify::code(&digest),
                Err(e) => return log(&format!("cannot hash the fingerprints: {e}")),
            },
        };
        // The call may have been replaced or dropped while the browser worked.
        if !self.is_current_call(generation) || self.facts.media != Media::Connected {
            return;
        }
        self.trust.show_code(Some(&code));
        if self.verified.as_ref().is_some_and(|(_, old)| *old != code) {
            self.ui.note("The verification code changed (a new connection): compare it again.");
        }
        self.verified = Some((input, code));
    }
}
