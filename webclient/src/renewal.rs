//! When to ask the server for fresh TURN credentials (`ice_config`), as pure logic.
//!
//! The server's credentials expire after `--turn-ttl-secs` (15 minutes by default); coturn keeps
//! an allocation made in time alive past the expiry, but any new gathering (a call that starts
//! after a long wait, an ICE restart after a network change) needs a valid credential. So the
//! page asks again after three quarters of the lifetime and hands the answer to the
//! RTCPeerConnection (`setConfiguration`), which uses it for its next gathering.
//!
//! The expiry is read from the TURN username (`"<unix-expiry>:<id>"`, the TURN REST scheme) and is
//! in the server's clock; the lifetime is measured against the page's clock when the servers
//! arrived, and clamped, so a skewed clock costs at worst one request per [`MIN_LIFETIME_MS`]
//! times three quarters, never a storm.

use shared::IceServer;

/// The shortest lifetime assumed (the server's `--turn-ttl-secs` minimum is 60 s): also what a
/// clock far ahead of the server's turns into.
pub const MIN_LIFETIME_MS: f64 = 60_000.0;
/// The longest lifetime assumed: a day, the old default.
pub const MAX_LIFETIME_MS: f64 = 86_400_000.0;
/// Without an answer after this long (the socket was replaced, the server was busy), ask again.
pub const RETRY_MS: f64 = 10_000.0;

/// The earliest expiry (unix seconds) among the TURN servers' usernames, if any carries one.
pub fn earliest_expiry(servers: &[IceServer]) -> Option<u64> {
    servers
        .iter()
        .filter_map(|server| server.username.as_deref())
        .filter_map(|username| username.split_once(':')?.0.parse::<u64>().ok())
        .min()
}

/// The page's renewal schedule for one set of servers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Renewal {
    /// When to ask (page clock, ms); `None`: nothing expires (no TURN), never ask.
    renew_at: Option<f64>,
    /// When the last request went out, if its answer has not come.
    asked_at: Option<f64>,
}

impl Renewal {
    /// A schedule for `servers`, received at `now_ms` (page clock, ms since the epoch).
    pub fn for_servers(servers: &[IceServer], now_ms: f64) -> Renewal {
        let renew_at = earliest_expiry(servers).map(|expiry| {
            let lifetime = (expiry as f64 * 1000.0 - now_ms).clamp(MIN_LIFETIME_MS, MAX_LIFETIME_MS);
            now_ms + lifetime * 0.75
        });
        Renewal { renew_at, asked_at: None }
    }

    /// Whether to send `ice_config` now; records the request when it says yes.
    pub fn ask(&mut self, now_ms: f64) -> bool {
        let due = self.renew_at.is_some_and(|at| now_ms >= at);
        let waiting = self.asked_at.is_some_and(|asked| now_ms - asked < RETRY_MS);
        if due && !waiting {
            self.asked_at = Some(now_ms);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: f64 = 1_700_000_000_000.0;

    fn servers(ttl_secs: u64) -> Vec<IceServer> {
        let expiry = 1_700_000_000 + ttl_secs;
        vec![IceServer::stun("stun:t:3478"), IceServer::turn(vec!["turn:t:3478".into()], format!("{expiry}:peer"), "c")]
    }

    #[test]
    fn expiry_comes_from_the_turn_username() {
        assert_eq!(earliest_expiry(&servers(900)), Some(1_700_000_900));
        assert_eq!(earliest_expiry(&[IceServer::stun("stun:t")]), None);
        let odd = IceServer::turn(vec!["turn:t".into()], "static-user", "c");
        assert_eq!(earliest_expiry(&[odd]), None, "a username without an expiry never expires");
    }

    #[test]
    fn asks_after_three_quarters_of_the_default_lifetime_then_waits_for_the_answer() {
        let mut renewal = Renewal::for_servers(&servers(900), NOW_MS);
        assert!(!renewal.ask(NOW_MS));
        assert!(!renewal.ask(NOW_MS + 674_000.0));
        assert!(renewal.ask(NOW_MS + 675_000.0), "due at 675 s of 900 s");
        assert!(!renewal.ask(NOW_MS + 676_000.0), "one request in flight");
        assert!(renewal.ask(NOW_MS + 685_000.0), "no answer for 10 s: ask again");
    }

    #[test]
    fn without_turn_it_never_asks() {
        let mut renewal = Renewal::for_servers(&[IceServer::stun("stun:t")], NOW_MS);
        assert!(!renewal.ask(NOW_MS + MAX_LIFETIME_MS * 2.0));
        assert!(!Renewal::default().ask(NOW_MS));
    }

    #[test]
    fn a_skewed_clock_is_clamped() {
        // The page's clock an hour ahead of the server's: the credential looks expired already.
        let mut ahead = Renewal::for_servers(&servers(900), NOW_MS + 3_600_000.0);
        assert!(!ahead.ask(NOW_MS + 3_600_000.0 + 44_000.0));
        assert!(ahead.ask(NOW_MS + 3_600_000.0 + 45_000.0), "3/4 of the 60 s floor");
        // A year behind: asks after 3/4 of a day, not of a year.
        let mut behind = Renewal::for_servers(&servers(900), NOW_MS - 31_536_000_000.0);
        assert!(behind.ask(NOW_MS - 31_536_000_000.0 + MAX_LIFETIME_MS * 0.75));
    }
}
