//! The page's URL: what it asks for (`room`, `ice=relay`, `signaling`), the signaling URL derived
//! from it, the link to share, and room ids made from random bytes. Pure: strings in, strings out.
//!
//! `signaling=` is honoured only when it names the page's own host, and never travels in the
//! link to share: a link carrying `?signaling=wss://elsewhere` would otherwise send both people's
//! session descriptions (their addresses, their keys' fingerprints) to a stranger's server.

use shared::RoomId;

/// What the page's query string asks for (a contract: these parameter names never change).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params {
    /// `room=<id>`: join this room. `Err` holds the raw value of an invalid id.
    pub room: Option<Result<RoomId, String>>,
    /// `ice=relay`: force `iceTransportPolicy: "relay"` (to test TURN).
    pub force_relay: bool,
    /// `signaling=<ws-or-wss-url>`: a signaling URL other than `/ws` on the page's host; used only
    /// if it is on the page's own host (see [`signaling_url`]).
    pub signaling: Option<String>,
    /// `check`: show the pre-call connection check instead of the landing page.
    pub check: bool,
}

impl Params {
    /// Parses `location.search` (with or without the leading `?`).
    pub fn parse(search: &str) -> Params {
        let mut params = Params::default();
        for pair in search.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key {
                "room" => params.room = Some(RoomId::try_from(value.as_str()).map_err(|_| value)),
                "ice" => params.force_relay = value == "relay",
                "check" => params.check = true,
                "signaling" if value.starts_with("ws://") || value.starts_with("wss://") => {
                    params.signaling = Some(value)
                }
                _ => {}
            }
        }
        params
    }

    /// The query string of the pre-call check. Like the link to share, it never carries a
    /// `signaling=` override (see [`signaling_url`]).
    pub fn check_query(&self) -> String {
        "?check".to_owned()
    }

    /// The query string for `room`, keeping `ice=relay` so both ends use the same setup. Never
    /// `signaling=`: whoever opens the link talks to the server of the page the link opens.
    pub fn query_for(&self, room: &RoomId) -> String {
        let mut query = format!("?room={}", room.as_str());
        if self.force_relay {
            query.push_str("&ice=relay");
        }
        query
    }
}

/// The signaling URL to use: `requested` if it is on the page's own host (same host and port,
/// compared without case), otherwise `/ws` on the page's host. The second value is the refused
/// request, for the page to say it ignored it.
pub fn signaling_url<'a>(requested: Option<&'a str>, protocol: &str, host: &str) -> (String, Option<&'a str>) {
    let default = default_signaling_url(protocol, host);
    match requested {
        Some(url) if authority(url).is_some_and(|a| a.eq_ignore_ascii_case(host)) => (url.to_owned(), None),
        Some(url) => (default, Some(url)),
        None => (default, None),
    }
}

/// The `host[:port]` of a `ws://` or `wss://` URL; `None` for anything else or a URL with user
/// information (`ws://page.example@elsewhere/`, which names `elsewhere`).
fn authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("wss://").or_else(|| url.strip_prefix("ws://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    (!authority.is_empty() && !authority.contains(['@', '\\'])).then_some(authority)
}

/// `ws://host/ws` for a page served over http, `wss://host/ws` over https (browsers block
/// insecure WebSockets from secure pages).
pub fn default_signaling_url(protocol: &str, host: &str) -> String {
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}/ws")
}

/// A room id from 12 random bytes: 96 bits (the issue asks for at least 72), as 16 URL-safe
/// characters, valid by construction for `RoomId`.
pub fn room_id_from(bytes: [u8; 12]) -> RoomId {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = String::with_capacity(16);
    for chunk in bytes.chunks(3) {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            id.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    RoomId::try_from(id).unwrap_or_else(|_| unreachable!("16 characters of the URL-safe alphabet"))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' => bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
            _ => None,
        };
        match (bytes[i], decoded) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_parameters() {
        let p = Params::parse("?room=abc_DEF-123&ice=relay&signaling=ws%3A%2F%2F127.0.0.1%3A9000%2Fws&x=1");
        assert_eq!(p.room, Some(Ok(RoomId::try_from("abc_DEF-123").unwrap())));
        assert!(p.force_relay);
        assert_eq!(p.signaling.as_deref(), Some("ws://127.0.0.1:9000/ws"));
        assert_eq!(Params::parse(""), Params::default());
        assert!(!Params::parse("?ice=all").force_relay);
    }

    #[test]
    fn the_check_page_is_asked_for_with_or_without_a_value() {
        assert!(Params::parse("?check").check);
        assert!(Params::parse("?check=1&signaling=ws%3A%2F%2Fh%2Fws").check);
        assert!(!Params::parse("?room=r1").check);
        let p = Params::parse("?check&signaling=ws%3A%2F%2Fh%3A1%2Fws");
        assert_eq!(Params::parse(&p.check_query()), Params { check: true, ..Params::default() });
        assert_eq!(Params::default().check_query(), "?check");
    }

    #[test]
    fn a_bad_room_is_reported_not_dropped() {
        assert_eq!(Params::parse("?room=no%20spaces").room, Some(Err("no spaces".into())));
        assert_eq!(Params::parse("?room=").room, Some(Err(String::new())));
    }

    #[test]
    fn only_websocket_urls_override_signaling() {
        assert_eq!(Params::parse("?signaling=javascript:alert(1)").signaling, None);
        assert_eq!(Params::parse("?signaling=wss://x.example/ws").signaling.as_deref(), Some("wss://x.example/ws"));
    }

    #[test]
    fn the_shared_link_keeps_room_and_relay_but_never_a_signaling_url() {
        let p = Params { force_relay: true, signaling: Some("ws://h:1/ws?a=b".into()), ..Params::default() };
        let room = RoomId::try_from("r1").unwrap();
        let query = p.query_for(&room);
        let back = Params::parse(&query);
        assert_eq!(back.room, Some(Ok(room)));
        assert!(back.force_relay);
        assert_eq!(back.signaling, None, "{query}");
        assert_eq!(Params::default().query_for(&RoomId::try_from("r1").unwrap()), "?room=r1");
    }

    #[test]
    fn a_signaling_url_is_used_only_on_the_pages_own_host() {
        let page = "call.example.org";
        let own = "wss://Call.Example.org/ws2";
        assert_eq!(signaling_url(Some(own), "https:", page), (own.to_owned(), None));
        let default = "wss://call.example.org/ws".to_owned();
        for elsewhere in [
            "wss://elsewhere.example/ws",
            "wss://call.example.org.evil.example/ws",
            "wss://call.example.org:444/ws",
            "wss://call.example.org@evil.example/ws",
            "wss:///ws",
        ] {
            assert_eq!(
                signaling_url(Some(elsewhere), "https:", page),
                (default.clone(), Some(elsewhere)),
                "{elsewhere}"
            );
        }
        assert_eq!(signaling_url(None, "https:", page), (default, None));
        assert_eq!(signaling_url(Some("ws://127.0.0.1:8080/ws"), "http:", "127.0.0.1:8080").1, None);
    }

    #[test]
    fn signaling_url_follows_the_page_scheme() {
        assert_eq!(default_signaling_url("http:", "127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
        assert_eq!(default_signaling_url("https:", "call.example.org"), "wss://call.example.org/ws");
    }

    #[test]
    fn room_ids_are_16_url_safe_characters_from_96_bits() {
        let a = room_id_from([0; 12]);
        assert_eq!(a.as_str(), "AAAAAAAAAAAAAAAA");
        let b = room_id_from([0xFF; 12]);
        assert_eq!(b.as_str(), "________________");
        let c = room_id_from([0xfb, 0xef, 0xbe, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(c.as_str().len(), 16);
        assert!(c.as_str().starts_with("----"));
        assert_ne!(room_id_from([1; 12]), room_id_from([2; 12]));
    }
}
