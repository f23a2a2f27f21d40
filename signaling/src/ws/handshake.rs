//! The opening handshake, server side (RFC 6455 §4.2): validate the upgrade request, compute the
//! accept key, and build the `101` — or the precise refusal.
//!
//! Sans-IO: takes a parsed [`Request`], returns a decision. The connection code writes it out.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use thiserror::Error;

use crate::http1::request::Request;
use crate::http1::response::Response;

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Which `Origin`s may open a WebSocket (§10.2: the server decides; browsers always send it).
///
/// A browser lets any page open a WebSocket to any server and sends the page's origin along: the
/// server is the one to refuse a page on another site (cross-site WebSocket hijacking). Requests
/// without `Origin` come from non-browser clients, which could forge any header anyway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OriginPolicy {
    /// The default: a page on the host it connects to. `Origin`'s host and port must be the
    /// request's `Host` (the port is compared only when `Host` names one: a proxy such as nginx
    /// with `proxy_set_header Host $host` passes the name alone). Requests without `Origin` pass.
    #[default]
    SameHost,
    /// Any origin, and requests without one (`--allowed-origins '*'`).
    Any,
    /// Only these serialized origins (`scheme://host[:port]`), compared ASCII case-insensitively.
    /// A request without `Origin` is refused too: only non-browser clients omit it.
    List(Vec<String>),
}

impl OriginPolicy {
    /// Parses a comma-separated list; `*` means any, an empty list the same host.
    pub fn parse(list: &str) -> OriginPolicy {
        let origins: Vec<String> =
            list.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect();
        if origins.iter().any(|o| o == "*") {
            OriginPolicy::Any
        } else if origins.is_empty() {
            OriginPolicy::SameHost
        } else {
            OriginPolicy::List(origins)
        }
    }

    /// Whether a request with this `Origin` (and this `Host`) may open a WebSocket.
    pub fn allows(&self, origin: Option<&[u8]>, host: Option<&[u8]>) -> bool {
        match (self, origin) {
            (OriginPolicy::Any, _) | (OriginPolicy::SameHost, None) => true,
            (OriginPolicy::SameHost, Some(origin)) => host.is_some_and(|host| same_host(origin, host)),
            (OriginPolicy::List(_), None) => false,
            (OriginPolicy::List(list), Some(origin)) => list.iter().any(|o| o.as_bytes().eq_ignore_ascii_case(origin)),
        }
    }
}

/// Whether the serialized origin `scheme://host[:port]` names the host (and port, if any) of the
/// `Host` header. An opaque origin (`null`) or one that does not parse names no host.
fn same_host(origin: &[u8], host: &[u8]) -> bool {
    let (Ok(origin), Ok(host)) = (std::str::from_utf8(origin), std::str::from_utf8(host)) else { return false };
    let Some((scheme, authority)) = origin.trim().split_once("://") else { return false };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return false,
    };
    let (Some((origin_host, origin_port)), Some((host_name, host_port))) =
        (split_authority(authority), split_authority(host.trim()))
    else {
        return false;
    };
    let origin_port = origin_port.unwrap_or(default_port);
    origin_host.eq_ignore_ascii_case(host_name) && host_port.is_none_or(|port| port == origin_port)
}

/// `host[:port]` (the host may be a bracketed IPv6 literal) into its parts; `None` if malformed.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let end = rest.find(']')?;
            let port = &rest[end + 1..];
            (&authority[..end + 2], if port.is_empty() { None } else { Some(port.strip_prefix(':')?) })
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() || host.contains(['/', '@', ':']) && !host.starts_with('[') {
        return None;
    }
    match port {
        Some(port) => Some((host, Some(port.parse().ok()?))),
        None => Some((host, None)),
    }
}

/// Why an upgrade request was refused; each cause has its status.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    #[error("the opening handshake must be a GET")]
    Method,
    #[error("the opening handshake needs HTTP/1.1")]
    HttpVersion,
    #[error("no `Upgrade: websocket`")]
    NotUpgrade,
    #[error("`Connection` does not contain the `Upgrade` token")]
    ConnectionHeader,
    #[error("missing `Host` header")]
    MissingHost,
    #[error("unsupported `Sec-WebSocket-Version`; only 13 is spoken")]
    Version,
    #[error("missing `Sec-WebSocket-Key`")]
    MissingKey,
    #[error("`Sec-WebSocket-Key` is not base64 of 16 bytes")]
    BadKey,
    #[error("origin not allowed")]
    Origin,
}

impl HandshakeError {
    pub fn status(self) -> u16 {
        match self {
            HandshakeError::Method => 405,
            HandshakeError::NotUpgrade | HandshakeError::Version => 426,
            HandshakeError::Origin => 403,
            _ => 400,
        }
    }

    /// A short label for logs and the `reason` of the handshake-failure metric.
    pub fn reason(self) -> &'static str {
        match self {
            HandshakeError::Method => "method",
            HandshakeError::HttpVersion => "http_version",
            HandshakeError::NotUpgrade => "not_upgrade",
            HandshakeError::ConnectionHeader => "connection_header",
            HandshakeError::MissingHost => "missing_host",
            HandshakeError::Version => "version",
            HandshakeError::MissingKey => "missing_key",
            HandshakeError::BadKey => "bad_key",
            HandshakeError::Origin => "origin",
        }
    }

    /// The refusal to send. A wrong version names the one we speak (§4.2.2 step 4).
    pub fn response(self) -> Response {
        let response = Response::text(self.status(), &self.to_string());
        match self {
            HandshakeError::Version => response.header("Sec-WebSocket-Version", "13"),
            HandshakeError::NotUpgrade => response.header("Upgrade", "websocket"),
            HandshakeError::Method => response.header("Allow", "GET"),
            _ => response,
        }
    }
}

/// Checks an upgrade request (§4.2.1) and returns the `Sec-WebSocket-Accept` value.
pub fn validate(request: &Request, origins: &OriginPolicy) -> Result<String, HandshakeError> {
    if !request.has_token("Upgrade", "websocket") {
        return Err(HandshakeError::NotUpgrade);
    }
    if request.method != "GET" {
        return Err(HandshakeError::Method);
    }
    if request.version != 1 {
        return Err(HandshakeError::HttpVersion); // §4.2.1: "HTTP/1.1 or higher"
    }
    if !request.has_token("Connection", "upgrade") {
        return Err(HandshakeError::ConnectionHeader);
    }
    if request.header("Host").is_none() {
        return Err(HandshakeError::MissingHost);
    }
    if request.header("Sec-WebSocket-Version").map(<[u8]>::trim_ascii) != Some(b"13") {
        return Err(HandshakeError::Version);
    }
    let key = request.header("Sec-WebSocket-Key").ok_or(HandshakeError::MissingKey)?.trim_ascii();
    match BASE64.decode(key) {
        Ok(nonce) if nonce.len() == 16 => {}
        _ => return Err(HandshakeError::BadKey),
    }
    if !origins.allows(request.header("Origin"), request.header("Host")) {
        return Err(HandshakeError::Origin);
    }
    Ok(accept_key(key))
}

/// `base64(SHA-1(key ++ GUID))` (§4.2.2 step 5.4).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    BASE64.encode(sha.finalize())
}

/// The `101 Switching Protocols` response. No subprotocol or extension is selected, so the
/// client may use neither (§4.2.2): RSV bits stay zero.
pub fn switching_protocols(accept: &str) -> Response {
    Response::new(101)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", accept.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &str) -> Request {
        let raw = format!("GET /ws HTTP/1.1\r\nHost: example.com\r\n{extra}\r\n");
        Request::parse(raw.as_bytes(), 8192).unwrap().unwrap().0
    }

    const GOOD: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

    #[test]
    fn rfc_accept_key_example() {
        // RFC 6455 §1.3.
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn accepts_the_rfc_request_with_any_header_case_and_token_lists() {
        assert_eq!(validate(&request(GOOD), &OriginPolicy::Any).unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let odd = "upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n";
        assert!(validate(&request(odd), &OriginPolicy::Any).is_ok());
    }

    #[test]
    fn each_defect_has_its_status() {
        let cases = [
            (GOOD.replace("Upgrade: websocket\r\n", ""), HandshakeError::NotUpgrade, 426),
            (GOOD.replace("Connection: Upgrade", "Connection: close"), HandshakeError::ConnectionHeader, 400),
            (GOOD.replace("Version: 13", "Version: 8"), HandshakeError::Version, 426),
            (GOOD.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), HandshakeError::MissingKey, 400),
            (GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="), HandshakeError::BadKey, 400),
            (GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "not base64!"), HandshakeError::BadKey, 400),
        ];
        for (headers, want, status) in cases {
            assert_eq!(validate(&request(&headers), &OriginPolicy::Any), Err(want), "{headers}");
            assert_eq!(want.status(), status);
        }
        let version = String::from_utf8(HandshakeError::Version.response().head_bytes()).unwrap();
        assert!(version.contains("Sec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn http_1_0_upgrade_is_refused() {
        let raw = format!("GET /ws HTTP/1.0\r\nHost: x\r\n{GOOD}\r\n");
        let req = Request::parse(raw.as_bytes(), 8192).unwrap().unwrap().0;
        assert_eq!(validate(&req, &OriginPolicy::Any), Err(HandshakeError::HttpVersion));
        assert_eq!(HandshakeError::HttpVersion.status(), 400);
    }

    #[test]
    fn post_upgrade_is_method_not_allowed() {
        let raw = format!("POST /ws HTTP/1.1\r\nHost: x\r\n{GOOD}\r\n");
        let req = Request::parse(raw.as_bytes(), 8192).unwrap().unwrap().0;
        assert_eq!(validate(&req, &OriginPolicy::Any), Err(HandshakeError::Method));
    }

    #[test]
    fn origin_policy() {
        let policy = OriginPolicy::parse("https://call.example, http://localhost:8080/");
        let with = |o: &str| request(&format!("{GOOD}Origin: {o}\r\n"));
        assert!(validate(&with("https://CALL.example"), &policy).is_ok());
        assert!(validate(&with("http://localhost:8080"), &policy).is_ok());
        assert_eq!(validate(&with("https://evil.example"), &policy), Err(HandshakeError::Origin));
        assert_eq!(validate(&request(GOOD), &policy), Err(HandshakeError::Origin));
        assert_eq!(OriginPolicy::parse(""), OriginPolicy::SameHost);
        assert_eq!(OriginPolicy::parse("*"), OriginPolicy::Any);
        assert_eq!(OriginPolicy::parse("https://a.example, *"), OriginPolicy::Any);
    }

    #[test]
    fn same_host_by_default() {
        let policy = OriginPolicy::default();
        let allows = |origin: &str, host: &str| policy.allows(Some(origin.as_bytes()), Some(host.as_bytes()));
        assert!(allows("https://call.example", "call.example"));
        assert!(allows("https://CALL.example", "call.EXAMPLE:443"));
        assert!(allows("http://call.example", "call.example:80"));
        assert!(allows("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(allows("http://[::1]:8080", "[::1]:8080"));
        assert!(allows("https://call.example:8443", "call.example"), "a proxy passed the name alone");
        assert!(!allows("https://evil.example", "call.example"));
        assert!(!allows("https://call.example.evil.example", "call.example"));
        assert!(!allows("http://127.0.0.1:9999", "127.0.0.1:8080"), "another port on the same host");
        assert!(!allows("https://call.example", "call.example:80"));
        assert!(!allows("null", "call.example"), "an opaque origin");
        assert!(!allows("file://", "call.example"));
        assert!(!allows("https://call.example", "call.example:x"));
        assert!(!allows("https://user@call.example", "call.example"));
        assert!(policy.allows(None, Some(b"call.example")), "non-browser clients send no Origin");
        assert!(!policy.allows(Some(b"https://call.example"), None));
        let with = |o: &str| request(&format!("{GOOD}Origin: {o}\r\n"));
        assert!(validate(&with("http://example.com"), &policy).is_ok());
        assert_eq!(validate(&with("https://evil.example"), &policy), Err(HandshakeError::Origin));
    }
}
