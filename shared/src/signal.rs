//! The WebRTC payload relayed between peers. The server forwards it without looking
//! inside, so it is a type of its own, shared by `ClientMessage::Signal` and
//! `ServerMessage::Signal`.

use serde::{Deserialize, Serialize};

use crate::failure::FailureReason;

/// One step of WebRTC negotiation, tagged by `kind`.
///
/// Field names follow the browser's `RTCSessionDescriptionInit` and `RTCIceCandidateInit`
/// in snake_case, so the client maps them one to one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// `{"kind":"offer","sdp":"…"}`: a session description offer.
    Offer {
        /// The SDP text.
        sdp: String,
    },
    /// `{"kind":"answer","sdp":"…"}`: the answer to an offer.
    Answer {
        /// The SDP text.
        sdp: String,
    },
    /// `{"kind":"candidate","candidate":"…","sdp_mid":"0","sdp_m_line_index":0}`: one
    /// trickled ICE candidate.
    Candidate {
        /// The `candidate:` attribute line, as the browser's `RTCIceCandidate.candidate`.
        candidate: String,
        /// The media stream id the candidate belongs to. Omitted when `None`; absent or
        /// `null` both read as `None`, because browsers report either.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// The index of the m-line the candidate belongs to (`unsigned short` in WebRTC).
        /// Omitted when `None`; absent or `null` both read as `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_m_line_index: Option<u16>,
    },
    /// `{"kind":"end_of_candidates"}`: the sender has gathered all its candidates.
    EndOfCandidates,
    /// `{"kind":"connect_failed","reason":"no-path"}`: the sender gave up connecting (its deadline
    /// passed after one ICE restart) and tells the other page, which then stops waiting too.
    ConnectFailed {
        /// Why, as the sender judged it; also its page's `data-error`.
        reason: FailureReason,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_golden, parse};

    #[test]
    fn offer_golden() {
        assert_golden(&Signal::Offer { sdp: "v=0\r\n".into() }, r#"{"kind":"offer","sdp":"v=0\r\n"}"#);
    }

    #[test]
    fn answer_golden() {
        assert_golden(&Signal::Answer { sdp: "v=0\r\n".into() }, r#"{"kind":"answer","sdp":"v=0\r\n"}"#);
    }

    #[test]
    fn candidate_with_optional_fields_golden() {
        assert_golden(
            &Signal::Candidate {
                candidate: "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            },
            r#"{"kind":"candidate","candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host","sdp_mid":"0","sdp_m_line_index":0}"#,
        );
    }

    #[test]
    fn candidate_without_optional_fields_golden() {
        assert_golden(
            &Signal::Candidate { candidate: "candidate:1".into(), sdp_mid: None, sdp_m_line_index: None },
            r#"{"kind":"candidate","candidate":"candidate:1"}"#,
        );
    }

    #[test]
    fn candidate_accepts_null_optional_fields() {
        let expected = Signal::Candidate { candidate: "candidate:1".into(), sdp_mid: None, sdp_m_line_index: None };
        let json = r#"{"kind":"candidate","candidate":"candidate:1","sdp_mid":null,"sdp_m_line_index":null}"#;
        assert_eq!(parse::<Signal>(json), Ok(expected));
    }

    #[test]
    fn candidate_accepts_one_optional_field() {
        let json = r#"{"kind":"candidate","candidate":"c","sdp_m_line_index":3}"#;
        let expected = Signal::Candidate { candidate: "c".into(), sdp_mid: None, sdp_m_line_index: Some(3) };
        assert_eq!(parse::<Signal>(json), Ok(expected));
    }

    #[test]
    fn candidate_rejects_out_of_range_m_line_index() {
        let json = r#"{"kind":"candidate","candidate":"c","sdp_m_line_index":65536}"#;
        assert!(parse::<Signal>(json).is_err());
        let json = r#"{"kind":"candidate","candidate":"c","sdp_m_line_index":-1}"#;
        assert!(parse::<Signal>(json).is_err());
    }

    #[test]
    fn end_of_candidates_golden() {
        assert_golden(&Signal::EndOfCandidates, r#"{"kind":"end_of_candidates"}"#);
    }

    #[test]
    fn connect_failed_golden() {
        for reason in FailureReason::ALL {
            let json = format!(r#"{{"kind":"connect_failed","reason":"{}"}}"#, reason.as_str());
            assert_golden(&Signal::ConnectFailed { reason }, &json);
        }
    }

    #[test]
    fn connect_failed_needs_a_reason_and_reads_a_newer_one() {
        assert!(parse::<Signal>(r#"{"kind":"connect_failed"}"#).is_err());
        let newer = parse::<Signal>(r#"{"kind":"connect_failed","reason":"captive-portal","at":3}"#);
        assert_eq!(newer, Ok(Signal::ConnectFailed { reason: FailureReason::Unknown }));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json = r#"{"kind":"offer","sdp":"v=0","usernameFragment":"x","extra":{"a":[1]}}"#;
        assert_eq!(parse::<Signal>(json), Ok(Signal::Offer { sdp: "v=0".into() }));
        let json = r#"{"kind":"end_of_candidates","extra":true}"#;
        assert_eq!(parse::<Signal>(json), Ok(Signal::EndOfCandidates));
    }

    #[test]
    fn unknown_kind_and_missing_sdp_are_rejected() {
        assert!(parse::<Signal>(r#"{"kind":"pranswer","sdp":"v=0"}"#).is_err());
        assert!(parse::<Signal>(r#"{"kind":"offer"}"#).is_err());
        assert!(parse::<Signal>(r#"{"sdp":"v=0"}"#).is_err());
    }
}
