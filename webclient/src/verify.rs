//! The verification code both people read to each other: six digits derived from the two DTLS
//! certificates the call's transport actually uses (from `getStats` where it names them, see
//! [`crate::certificates`]). A server in the middle has to terminate DTLS on both sides, so each side would see
//! a different certificate pair and therefore, almost surely, a different code.
//!
//! Pure: two fingerprints come in, canonical bytes go out to be hashed (SHA-256, by the
//! browser's `crypto.subtle` in the page, by any implementation in tests), and the digest
//! becomes the code. Both sides compute the same bytes because the two fingerprints are sorted.

/// Tells this input apart from any other use of the same fingerprints, and versions the rule.
const DOMAIN: &str = "connect verification code v1";
/// Longest fingerprint accepted: SHA-512 is 64 bytes, 191 characters as colon-separated hex.
const MAX_FINGERPRINT: usize = 191;
/// Longest hash name accepted (`sha-256`, `sha-384`, `sha-512`, …).
const MAX_ALGORITHM: usize = 16;
/// Digits in the code: 10^6 possible codes (see the README for why six digits).
const DIGITS: u32 = 6;

/// The stats entries the code and the privacy checks need, as read from an `RTCStatsReport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `type: "transport"`: the certificates its DTLS handshake used, the selected pair and the
    /// DTLS state (evidence when a certificate is missing: see [`crate::certificates`]).
    Transport {
        local_certificate: Option<String>,
        remote_certificate: Option<String>,
        selected_pair: Option<String>,
        dtls_state: Option<String>,
    },
    /// `type: "certificate"`.
    Certificate { id: String, algorithm: String, fingerprint: String },
    /// `type: "candidate-pair"`: which local candidate it uses.
    Pair { id: String, local: String },
    /// `type: "local-candidate"`: `candidateType` is host, srflx, prflx or relay.
    LocalCandidate { id: String, kind: String },
}

/// Why no code can be shown for the certificates found.
/// (No `Display`: the page only logs that no code could be made; the variants are for tests.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    BadAlgorithm,
    BadFingerprint,
    SameCertificate,
}

/// One certificate's fingerprint, e.g. `sha-256` and `AB:CD:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub algorithm: String,
    pub value: String,
}

impl Fingerprint {
    pub fn new(algorithm: &str, value: &str) -> Self {
        Fingerprint { algorithm: algorithm.to_owned(), value: value.to_owned() }
    }

    /// `sha-256 AB:CD:…`: lower-case hash name, upper-case hex, checked and bounded.
    fn canonical(&self) -> Result<String, VerifyError> {
        let algorithm = self.algorithm.to_ascii_lowercase();
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-';
        if algorithm.is_empty() || algorithm.len() > MAX_ALGORITHM || !algorithm.chars().all(plain) {
            return Err(VerifyError::BadAlgorithm);
        }
        let value = self.value.to_ascii_uppercase();
        let hex_pairs = value.split(':').all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()));
        if value.len() > MAX_FINGERPRINT || !hex_pairs {
            return Err(VerifyError::BadFingerprint);
        }
        Ok(format!("{algorithm} {value}"))
    }
}

/// The first `a=fingerprint:<hash> <hex>` of a session description (RFC 8122 §5). Used where the
/// stats do not name a certificate ([`crate::certificates`]): a DTLS stack refuses a remote
/// certificate that does not match the remote description's fingerprint (RFC 5763), so for an
/// established connection the two descriptions name the certificates in use.
pub fn sdp_fingerprint(sdp: &str) -> Option<Fingerprint> {
    sdp.lines().find_map(|line| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (algorithm, value) = line.strip_prefix("a=fingerprint:")?.split_once(' ')?;
        Some(Fingerprint::new(algorithm, value))
    })
}

/// The bytes to hash: a label, then the two canonical fingerprints sorted, one per line. The
/// same on both sides, since each side's local certificate is the other's remote one.
pub fn canonical_input(local: &Fingerprint, remote: &Fingerprint) -> Result<Vec<u8>, VerifyError> {
    let (mut a, mut b) = (local.canonical()?, remote.canonical()?);
    if a == b {
        return Err(VerifyError::SameCertificate);
    }
    if b < a {
        std::mem::swap(&mut a, &mut b);
    }
    Ok(format!("{DOMAIN}\n{a}\n{b}\n").into_bytes())
}

/// Six digits from the digest's first four bytes, shown as two groups of three (`042 917`),
/// which people read aloud more easily. The modulo bias is below 2^-12 per code and harmless.
pub fn code(digest: &[u8; 32]) -> String {
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 10u32.pow(DIGITS);
    format!("{:03} {:03}", n / 1000, n % 1000)
}

/// The type of the local candidate of the transport's selected pair (`relay` when private).
pub fn selected_local_kind(records: &[Record]) -> Option<&str> {
    let selected = records.iter().find_map(|r| match r {
        Record::Transport { selected_pair: Some(pair), .. } => Some(pair.as_str()),
        _ => None,
    })?;
    let local = records.iter().find_map(|r| match r {
        Record::Pair { id, local } if id == selected => Some(local.as_str()),
        _ => None,
    })?;
    records.iter().find_map(|r| match r {
        Record::LocalCandidate { id, kind } if id == local => Some(kind.as_str()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use super::*;

    const A: &str = "5D:1C:0A:9E:77:42:B3:6F:10:2E:D4:88:C1:3A:F0:59:AB:CD:EF:01:23:45:67:89:9A:BC:DE:F0:11:22:33:44";
    const B: &str = "E2:0B:7C:91:4D:3F:A6:58:C0:1D:2E:3F:40:51:62:73:84:95:A6:B7:C8:D9:EA:FB:0C:1D:2E:3F:40:51:62:73";
    const C: &str = "01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20";

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    fn code_for(local: &str, remote: &str) -> String {
        let input = canonical_input(&Fingerprint::new("sha-256", local), &Fingerprint::new("sha-256", remote));
        code(&sha256(&input.expect("valid fixture fingerprints")))
    }

    #[test]
    fn fixed_pairs_give_fixed_codes() {
        // Pinned (and checked independently with Python's hashlib): changing the derivation
        // would make two versions of the page disagree.
        assert_eq!(code_for(A, B), "609 777");
        assert_eq!(code_for(A, C), "778 056");
    }

    #[test]
    fn both_sides_compute_the_same_code() {
        assert_eq!(code_for(A, B), code_for(B, A));
        assert_eq!(code_for(A, C), code_for(C, A));
    }

    #[test]
    fn different_pairs_give_different_codes() {
        // A server in the middle: each side sees the attacker's certificate instead of the other's.
        assert_ne!(code_for(A, B), code_for(A, C));
        assert_ne!(code_for(A, C), code_for(C, B));
    }

    #[test]
    fn the_input_is_the_label_and_the_sorted_canonical_fingerprints() {
        let local = Fingerprint::new("SHA-256", "e2:0b");
        let remote = Fingerprint::new("sha-256", "5D:1C");
        let input = canonical_input(&local, &remote).expect("valid");
        assert_eq!(input, b"connect verification code v1\nsha-256 5D:1C\nsha-256 E2:0B\n");
        // Case as a browser might report it does not change the code.
        assert_eq!(
            input,
            canonical_input(&Fingerprint::new("sha-256", "5d:1c"), &Fingerprint::new("sha-256", "E2:0B"))
                .expect("valid")
        );
    }

    #[test]
    fn bad_or_identical_fingerprints_give_no_code() {
        let good = Fingerprint::new("sha-256", A);
        let bad_hex = Fingerprint::new("sha-256", "ZZ:00");
        let no_colons = Fingerprint::new("sha-256", "ABCD");
        let long = Fingerprint::new("sha-256", &["AB"; 100].join(":"));
        let bad_algorithm = Fingerprint::new("sha 256\n", A);
        assert_eq!(canonical_input(&good, &bad_hex), Err(VerifyError::BadFingerprint));
        assert_eq!(canonical_input(&no_colons, &good), Err(VerifyError::BadFingerprint));
        assert_eq!(canonical_input(&good, &long), Err(VerifyError::BadFingerprint));
        assert_eq!(canonical_input(&bad_algorithm, &good), Err(VerifyError::BadAlgorithm));
        assert_eq!(canonical_input(&good, &good.clone()), Err(VerifyError::SameCertificate));
    }

    #[test]
    fn codes_are_six_digits_in_two_groups() {
        assert_eq!(code(&[0; 32]), "000 000");
        assert_eq!(code(&[0xff; 32]), "967 295"); // 4294967295 mod 10^6
        let mut digest = [0; 32];
        digest[3] = 42;
        assert_eq!(code(&digest), "000 042");
    }

    fn transport(local: &str, remote: &str) -> Record {
        Record::Transport {
            local_certificate: Some(local.into()),
            remote_certificate: Some(remote.into()),
            selected_pair: Some("P1".into()),
            dtls_state: Some("connected".into()),
        }
    }

    #[test]
    fn a_description_names_its_fingerprint() {
        let sdp = format!("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 {A}\r\na=setup:actpass\r\n");
        let found = sdp_fingerprint(&sdp).expect("the line is there");
        assert_eq!(found, Fingerprint::new("sha-256", A));
        // The same certificate read from the SDP or from the stats gives the same code.
        let from_stats = canonical_input(&Fingerprint::new("sha-256", A), &Fingerprint::new("sha-256", B));
        assert_eq!(canonical_input(&found, &Fingerprint::new("sha-256", B)), from_stats);
        assert_eq!(sdp_fingerprint("v=0\r\na=setup:active\r\n"), None);
    }

    #[test]
    fn the_selected_local_candidate_type_is_found_through_the_pair() {
        let records = vec![
            transport("L", "R"),
            Record::Pair { id: "P0".into(), local: "host1".into() },
            Record::Pair { id: "P1".into(), local: "relay1".into() },
            Record::LocalCandidate { id: "host1".into(), kind: "host".into() },
            Record::LocalCandidate { id: "relay1".into(), kind: "relay".into() },
        ];
        assert_eq!(selected_local_kind(&records), Some("relay"));
        assert_eq!(selected_local_kind(&records[1..]), None);
    }
}
