//! ICE servers for `joined`: STUN URLs as configured, and TURN URLs with short-lived credentials
//! in the TURN REST API scheme that coturn's `use-auth-secret` verifies.
//!
//! The credential is derived from a secret shared with the TURN server, so nothing is stored or
//! synchronised: username `"<unix-expiry>:<peer-id>"`, password
//! `base64(HMAC-SHA1(secret, username))`. coturn recomputes it and checks the expiry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use shared::{IceServer, PeerId};

/// How long issued TURN credentials stay valid by default: 15 minutes.
///
/// coturn checks a credential's expiry when an allocation is created; an allocation that exists
/// keeps being refreshed with it after expiry, so a relayed call longer than this is not cut. The
/// TTL therefore bounds only how long a copied credential can open *new* allocations, and short is
/// better — but the page must hold a valid one whenever ICE gathers (the call starts, or an ICE
/// restart after a network change): it asks for fresh servers (`ice_config`) after three quarters
/// of the lifetime, so 15 minutes means one small request every ~11 minutes per page, and a
/// credential taken from a page is useless for new allocations a quarter of an hour later.
pub const DEFAULT_TURN_TTL: Duration = Duration::from_secs(900);

#[derive(Clone, Default)]
pub struct IceConfig {
    pub stun_urls: Vec<String>,
    pub turn_urls: Vec<String>,
    /// The secret shared with coturn (`static-auth-secret`); required when TURN URLs are set.
    pub turn_secret: Option<String>,
    /// How long issued credentials stay valid (see [`DEFAULT_TURN_TTL`]).
    pub turn_ttl: Duration,
}

impl std::fmt::Debug for IceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceConfig")
            .field("stun_urls", &self.stun_urls)
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &self.turn_secret.as_ref().map(|_| "<redacted>"))
            .field("turn_ttl", &self.turn_ttl)
            .finish()
    }
}

impl IceConfig {
    /// The list for one peer's `joined`, with TURN credentials valid from `now` for the TTL.
    pub fn servers_for(&self, peer: &PeerId, now: SystemTime) -> Vec<IceServer> {
        let mut servers = Vec::with_capacity(2);
        if !self.stun_urls.is_empty() {
            servers.push(IceServer { urls: self.stun_urls.clone(), username: None, credential: None });
        }
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let expiry = now.duration_since(UNIX_EPOCH).unwrap_or_default().saturating_add(self.turn_ttl).as_secs();
            let username = format!("{expiry}:{}", peer.as_str());
            let credential = turn_credential(secret.as_bytes(), &username);
            servers.push(IceServer::turn(self.turn_urls.clone(), username, credential));
        }
        servers
    }
}

/// `base64(HMAC-SHA1(secret, username))`.
pub fn turn_credential(secret: &[u8], username: &str) -> String {
    // HMAC accepts keys of any length (RFC 2104 §2), so this constructor cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(username.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_matches_a_known_vector() {
        // printf '%s' '1700000000:AAECAwQFBgcICQoL' | openssl dgst -sha1 -hmac 'connect-test-secret' -binary | base64
        assert_eq!(
            turn_credential(b"connect-test-secret", "1700000000:AAECAwQFBgcICQoL"),
            "w9F+pnY2JMHcAiL1Tq0wG2RkV/E="
        );
        // RFC 2202 test case 2 (HMAC-SHA1, key "Jefe"), base64 of effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
        assert_eq!(turn_credential(b"Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    }

    #[test]
    fn servers_for_a_peer() {
        let config = IceConfig {
            stun_urls: vec!["stun:turn.example:3478".into()],
            turn_urls: vec!["turn:turn.example:3478?transport=udp".into()],
            turn_secret: Some("connect-test-secret".into()),
            turn_ttl: Duration::from_secs(3600),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_699_996_400);
        let servers = config.servers_for(&PeerId::new("AAECAwQFBgcICQoL"), now);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, ["stun:turn.example:3478"]);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].username.as_deref(), Some("1700000000:AAECAwQFBgcICQoL"));
        assert_eq!(servers[1].credential.as_deref(), Some("w9F+pnY2JMHcAiL1Tq0wG2RkV/E="));
    }

    #[test]
    fn the_default_ttl_is_short_and_sets_the_expiry() {
        // Short enough that a leaked credential stops opening allocations within minutes, long
        // enough that the page's refresh (at 3/4 of the lifetime) is rare.
        assert!(DEFAULT_TURN_TTL >= Duration::from_secs(600) && DEFAULT_TURN_TTL <= Duration::from_secs(1200));
        let config = IceConfig {
            turn_urls: vec!["turn:t".into()],
            turn_secret: Some("s".into()),
            turn_ttl: DEFAULT_TURN_TTL,
            ..IceConfig::default()
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let servers = config.servers_for(&PeerId::new("p"), now);
        assert_eq!(servers[0].username.as_deref(), Some("1700000900:p"));
    }

    #[test]
    fn no_secret_no_turn_and_nothing_configured_is_empty() {
        let config = IceConfig { turn_urls: vec!["turn:x".into()], ..IceConfig::default() };
        assert!(config.servers_for(&PeerId::new("p"), SystemTime::now()).is_empty());
        assert!(format!("{:?}", IceConfig { turn_secret: Some("s3cret".into()), ..IceConfig::default() })
            .contains("<redacted>"));
    }
}
