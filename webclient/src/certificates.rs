//! Which two certificates a verification code is made of, each refresh, and why there is no code
//! yet when there is none. Pure: the stats records and the two descriptions' fingerprints come in.
//!
//! Why not the stats alone: Chromium caches a transport's certificate stats, and a `getStats`
//! that gathers them while the DTLS handshake is finishing caches "no remote certificate". Every
//! later report of that connection then has `dtlsState: "connected"` and no `remoteCertificateId`
//! until the next negotiation clears the cache (Chromium 156, pairs of connections in one page
//! with `getStats` polled through the handshake: 7 of 16 kept it for the 6 s watched, until an
//! ICE restart renegotiated; a single `getStats` before the handshake began did not).
//! Polled once a second, a page lands in that window now and then, and a page that waited for the
//! stats never showed a code. So each side is taken from the stats when they name it, else from
//! the session description: once connected, the DTLS stack has accepted only the remote
//! certificate the remote description names (RFC 5763 §5), and the local description names the
//! page's own. Both give the same canonical fingerprint, hence the same code.

use crate::verify::{canonical_input, Fingerprint, Record, VerifyError};

/// Where one side's fingerprint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A `certificate` entry the transport names: what its DTLS handshake used.
    Stats,
    /// The `a=fingerprint` of the local or remote session description.
    Description,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Stats => "stats",
            Origin::Description => "description",
        }
    }
}

/// The fingerprints of the two session descriptions, when there are descriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptions {
    pub local: Option<Fingerprint>,
    pub remote: Option<Fingerprint>,
}

/// The bytes to hash for the code, and where each side came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub input: Vec<u8>,
    pub local: Origin,
    pub remote: Origin,
}

impl Chosen {
    /// `local/remote` origins, e.g. `stats/description`: shown on the page for tests and support.
    pub fn source(&self) -> String {
        format!("{}/{}", self.local.as_str(), self.remote.as_str())
    }
}

/// Why no code is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// The connection is not (or no longer) `connected`: its certificates are not settled.
    NotConnected,
    /// Neither the stats nor the local description name this page's certificate.
    NoLocal,
    /// Neither the stats nor the remote description name the other side's certificate.
    NoRemote,
    /// A fingerprint is malformed, or both sides have the same one.
    Unusable(VerifyError),
}

impl Wait {
    /// A word for the page's `data-code-wait`, for tests and support.
    pub fn as_str(&self) -> &'static str {
        match self {
            Wait::NotConnected => "not-connected",
            Wait::NoLocal => "no-local-certificate",
            Wait::NoRemote => "no-remote-certificate",
            Wait::Unusable(VerifyError::SameCertificate) => "same-certificate",
            Wait::Unusable(_) => "unusable-fingerprint",
        }
    }
}

/// The code's input for a connection in the state `connected`, from `records` (one `getStats`
/// report) and the descriptions. Called on every refresh, so a report that lacks a certificate
/// now and names it later moves that side back to the stats without changing the code.
pub fn choose(connected: bool, records: &[Record], descriptions: Descriptions) -> Result<Chosen, Wait> {
    if !connected {
        return Err(Wait::NotConnected);
    }
    let (stats_local, stats_remote) = from_stats(records);
    let (local, local_origin) = pick(stats_local, descriptions.local).ok_or(Wait::NoLocal)?;
    let (remote, remote_origin) = pick(stats_remote, descriptions.remote).ok_or(Wait::NoRemote)?;
    let input = canonical_input(&local, &remote).map_err(Wait::Unusable)?;
    Ok(Chosen { input, local: local_origin, remote: remote_origin })
}

fn pick(stats: Option<Fingerprint>, description: Option<Fingerprint>) -> Option<(Fingerprint, Origin)> {
    stats.map(|f| (f, Origin::Stats)).or_else(|| description.map(|f| (f, Origin::Description)))
}

/// The transport that counts: with BUNDLE there is one; otherwise the first that names both
/// certificates, else the first that names any.
fn transport(records: &[Record]) -> Option<&Record> {
    let names = |r: &&Record, both: bool| match r {
        Record::Transport { local_certificate, remote_certificate, .. } => {
            if both {
                local_certificate.is_some() && remote_certificate.is_some()
            } else {
                local_certificate.is_some() || remote_certificate.is_some()
            }
        }
        _ => false,
    };
    records.iter().find(|r| names(r, true)).or_else(|| records.iter().find(|r| names(r, false)))
}

/// The local and remote fingerprints the chosen transport names, each if its entry is listed.
fn from_stats(records: &[Record]) -> (Option<Fingerprint>, Option<Fingerprint>) {
    let certificate = |wanted: &Option<String>| {
        let wanted = wanted.as_deref()?;
        records.iter().find_map(|r| match r {
            Record::Certificate { id, algorithm, fingerprint } if id == wanted => {
                Some(Fingerprint::new(algorithm, fingerprint))
            }
            _ => None,
        })
    };
    match transport(records) {
        Some(Record::Transport { local_certificate, remote_certificate, .. }) => {
            (certificate(local_certificate), certificate(remote_certificate))
        }
        _ => (None, None),
    }
}

/// What the stats said about the transport's certificates, for the page's `data-code-stats`:
/// e.g. `dtls=connected local=yes remote=no certificates=1`, or `no-transport certificates=0`.
pub fn stats_evidence(records: &[Record]) -> String {
    let certificates = records.iter().filter(|r| matches!(r, Record::Certificate { .. })).count();
    let yes = |named: bool| if named { "yes" } else { "no" };
    match transport(records).or_else(|| records.iter().find(|r| matches!(r, Record::Transport { .. }))) {
        Some(Record::Transport { local_certificate, remote_certificate, dtls_state, .. }) => format!(
            "dtls={} local={} remote={} certificates={certificates}",
            dtls_state.as_deref().unwrap_or("?"),
            yes(local_certificate.is_some()),
            yes(remote_certificate.is_some()),
        ),
        _ => format!("no-transport certificates={certificates}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "5D:1C:0A:9E:77:42:B3:6F:10:2E:D4:88:C1:3A:F0:59:AB:CD:EF:01:23:45:67:89:9A:BC:DE:F0:11:22:33:44";
    const B: &str = "E2:0B:7C:91:4D:3F:A6:58:C0:1D:2E:3F:40:51:62:73:84:95:A6:B7:C8:D9:EA:FB:0C:1D:2E:3F:40:51:62:73";
    const C: &str = "01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20";

    fn fp(value: &str) -> Fingerprint {
        Fingerprint::new("sha-256", value)
    }

    fn transport(local: Option<&str>, remote: Option<&str>) -> Record {
        Record::Transport {
            local_certificate: local.map(Into::into),
            remote_certificate: remote.map(Into::into),
            selected_pair: Some("P1".into()),
            dtls_state: Some("connected".into()),
        }
    }

    fn certificate(id: &str, fingerprint: &str) -> Record {
        Record::Certificate { id: id.into(), algorithm: "sha-256".into(), fingerprint: fingerprint.into() }
    }

    fn descriptions(local: &str, remote: &str) -> Descriptions {
        Descriptions { local: Some(fp(local)), remote: Some(fp(remote)) }
    }

    /// What a complete Chromium report lists: the transport naming both certificates.
    fn complete(local: &str, remote: &str) -> Vec<Record> {
        vec![transport(Some("CL"), Some("CR")), certificate("CL", local), certificate("CR", remote)]
    }

    /// Chromium's cached stats after a report gathered mid-handshake: no remote certificate.
    fn stale(local: &str) -> Vec<Record> {
        vec![transport(Some("CL"), None), certificate("CL", local)]
    }

    fn expected(local: &str, remote: &str) -> Vec<u8> {
        canonical_input(&fp(local), &fp(remote)).expect("valid fixtures")
    }

    #[test]
    fn complete_stats_are_used_even_when_the_descriptions_say_otherwise() {
        // The stats name what the handshake used; the descriptions only what was claimed.
        let chosen = choose(true, &complete(A, B), descriptions(A, C)).expect("a code");
        assert_eq!(chosen.input, expected(A, B));
        assert_eq!(chosen.source(), "stats/stats");
    }

    #[test]
    fn stats_without_the_remote_certificate_take_it_from_the_remote_description() {
        let chosen = choose(true, &stale(A), descriptions(A, B)).expect("a code despite the stale stats");
        assert_eq!(chosen.source(), "stats/description");
        // The same code as from complete stats: the other page, with complete stats, agrees.
        assert_eq!(chosen.input, choose(true, &complete(A, B), Descriptions::default()).expect("a code").input);
        assert_eq!(chosen.input, choose(true, &complete(B, A), Descriptions::default()).expect("a code").input);
    }

    #[test]
    fn a_browser_without_certificate_stats_uses_both_descriptions() {
        let chosen = choose(true, &[], descriptions(B, A)).expect("a code");
        assert_eq!((chosen.source(), chosen.input), ("description/description".to_owned(), expected(A, B)));
        // A transport that names certificates whose entries are missing counts as naming none.
        let dangling = [transport(Some("CL"), Some("CR"))];
        assert_eq!(choose(true, &dangling, descriptions(A, B)).expect("a code").source(), "description/description");
    }

    #[test]
    fn no_code_until_connected_whatever_the_stats_say() {
        assert_eq!(choose(false, &complete(A, B), descriptions(A, B)), Err(Wait::NotConnected));
    }

    #[test]
    fn no_code_without_a_fingerprint_for_each_side() {
        let only_local = Descriptions { local: Some(fp(A)), remote: None };
        assert_eq!(choose(true, &[], only_local), Err(Wait::NoRemote));
        assert_eq!(choose(true, &stale(A), Descriptions::default()), Err(Wait::NoRemote));
        assert_eq!(choose(true, &[], Descriptions::default()), Err(Wait::NoLocal));
    }

    #[test]
    fn unusable_or_identical_fingerprints_give_no_code() {
        let same = choose(true, &[], descriptions(A, A));
        assert_eq!(same, Err(Wait::Unusable(VerifyError::SameCertificate)));
        assert_eq!(Wait::Unusable(VerifyError::SameCertificate).as_str(), "same-certificate");
        let bad = choose(true, &[], descriptions(A, "ZZ"));
        assert_eq!(bad, Err(Wait::Unusable(VerifyError::BadFingerprint)));
    }

    #[test]
    fn the_transport_naming_both_certificates_counts() {
        let mut records = vec![
            // Without BUNDLE, a transport still in its handshake may come first.
            transport(Some("CX"), None),
            certificate("CX", C),
            certificate("C-unused", C),
        ];
        records.extend(complete(A, B));
        let chosen = choose(true, &records, Descriptions::default()).expect("a code");
        assert_eq!(chosen.input, expected(A, B));
    }

    #[test]
    fn the_evidence_says_what_the_transport_named() {
        assert_eq!(stats_evidence(&complete(A, B)), "dtls=connected local=yes remote=yes certificates=2");
        assert_eq!(stats_evidence(&stale(A)), "dtls=connected local=yes remote=no certificates=1");
        assert_eq!(stats_evidence(&[certificate("CL", A)]), "no-transport certificates=1");
        let before = Record::Transport {
            local_certificate: None,
            remote_certificate: None,
            selected_pair: None,
            dtls_state: None,
        };
        assert_eq!(stats_evidence(&[before]), "dtls=? local=no remote=no certificates=0");
    }
}
