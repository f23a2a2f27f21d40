//! Why a call could not connect: the reason one page sends the other in
//! [`Signal::ConnectFailed`](crate::Signal::ConnectFailed), and the value the web client shows as
//! `<body data-error>` (a contract for tests and support, so the names never change).

use serde::{Deserialize, Serialize};

/// The cause of a connection that found no media path, as the page that gave up judged it.
///
/// A reason this build does not know (a newer client's) reads as [`FailureReason::Unknown`], so a
/// `connect_failed` from a newer peer is still relayed and still ends the call attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureReason {
    /// The relay (TURN) server refused the credentials (401/403 while gathering).
    TurnAuth,
    /// A relay is configured but no relay candidate could be gathered (a blocked network).
    TurnUnreachable,
    /// No relay is configured and no direct path worked.
    NoRelay,
    /// This side gathered a relay candidate but the other side could not.
    PeerUnreachable,
    /// Candidates on both sides, and no pair of them succeeded.
    NoPath,
    /// A reason from a newer client; shown as `no-path`'s words.
    #[serde(other)]
    Unknown,
}

impl FailureReason {
    /// Every reason a client sends, in contract order.
    pub const ALL: [FailureReason; 5] = [
        FailureReason::TurnAuth,
        FailureReason::TurnUnreachable,
        FailureReason::NoRelay,
        FailureReason::PeerUnreachable,
        FailureReason::NoPath,
    ];

    /// The reason of a wire name; a name this build does not know is
    /// [`FailureReason::Unknown`], as with the derive.
    pub fn from_wire(name: &str) -> Self {
        Self::ALL.into_iter().find(|reason| reason.as_str() == name).unwrap_or(Self::Unknown)
    }

    /// The wire name, which is also the `data-error` value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::TurnAuth => "turn-auth",
            FailureReason::TurnUnreachable => "turn-unreachable",
            FailureReason::NoRelay => "no-relay",
            FailureReason::PeerUnreachable => "peer-unreachable",
            FailureReason::NoPath => "no-path",
            FailureReason::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_golden, parse};

    #[test]
    fn wire_names_are_the_data_error_values() {
        let names: Vec<&str> = FailureReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["turn-auth", "turn-unreachable", "no-relay", "peer-unreachable", "no-path"]);
        for reason in FailureReason::ALL {
            assert_golden(&reason, &format!("\"{}\"", reason.as_str()));
            assert_eq!(FailureReason::from_wire(reason.as_str()), reason);
        }
    }

    #[test]
    fn an_unknown_reason_is_read_not_refused() {
        assert_eq!(parse::<FailureReason>(r#""dns-blocked""#), Ok(FailureReason::Unknown));
        assert!(parse::<FailureReason>("3").is_err());
        assert_eq!(FailureReason::from_wire("dns-blocked"), FailureReason::Unknown);
    }
}
