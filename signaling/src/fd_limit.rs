//! Open files: the soft `RLIMIT_NOFILE` raised to the hard one at start, and the connection cap
//! kept under it. Every connection is a file descriptor; with a soft limit of 256 (still the
//! default on some systems) the server used to stall near 250 connections — `accept` failing,
//! the backlog unanswered — instead of refusing cleanly. Under the limit, the cap's `503` answers.

/// Descriptors kept for everything that is not a client connection: the listener, the runtime's
/// epoll and wake-up descriptors, Redis, static files being served, logs. Generous on purpose.
pub const SPARE_DESCRIPTORS: u64 = 64;

/// What the limits came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The soft limit to set, if it should change.
    pub raise_to: Option<u64>,
    /// The most connections the descriptors allow (`None`: no limit known).
    pub max_connections: Option<u64>,
}

/// The soft limit goes up to the hard one (`None` is unlimited); connections get what is left
/// after [`SPARE_DESCRIPTORS`] and the accept loop's plain-HTTP `reserve`.
pub fn plan(soft: Option<u64>, hard: Option<u64>, reserve: u64) -> Plan {
    let raise_to = match (soft, hard) {
        (Some(soft), Some(hard)) if hard > soft => Some(hard),
        (Some(_), None) => None, // an unlimited hard limit: raising to "unlimited" is refused by Linux
        _ => None,
    };
    let effective = raise_to.or(soft);
    let max_connections = effective.map(|n| n.saturating_sub(SPARE_DESCRIPTORS + reserve).max(1));
    Plan { raise_to, max_connections }
}

/// Raises this process's soft limit as [`plan`] says; returns the plan as it turned out (if the
/// raise is refused, the connections fit the soft limit as it is).
#[cfg(unix)]
pub fn raise(reserve: u64) -> Plan {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limits = getrlimit(Resource::Nofile);
    let wanted = plan(limits.current, limits.maximum, reserve);
    match wanted.raise_to {
        Some(to) if setrlimit(Resource::Nofile, Rlimit { current: Some(to), maximum: limits.maximum }).is_ok() => {
            wanted
        }
        Some(_) => plan(limits.current, limits.current, reserve),
        None => wanted,
    }
}

#[cfg(not(unix))]
pub fn raise(_reserve: u64) -> Plan {
    Plan { raise_to: None, max_connections: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_goes_up_to_the_hard_one_and_connections_fit_under_it() {
        assert_eq!(plan(Some(256), Some(4096), 16), Plan { raise_to: Some(4096), max_connections: Some(4016) });
        assert_eq!(plan(Some(256), Some(256), 16), Plan { raise_to: None, max_connections: Some(176) });
        assert_eq!(plan(Some(1024), None, 16), Plan { raise_to: None, max_connections: Some(944) });
        assert_eq!(plan(None, None, 16), Plan { raise_to: None, max_connections: None });
        assert_eq!(plan(Some(10), Some(10), 16).max_connections, Some(1), "never zero");
    }
}
