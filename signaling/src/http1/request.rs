//! Sans-IO parsing of an HTTP/1.1 request head with `httparse`, bounded before anything is kept.
//!
//! Both plain HTTP (health, metrics, static files) and the WebSocket opening handshake start here:
//! the connection buffers bytes until the head is complete, then routes on the parsed [`Request`].

use thiserror::Error;

/// Most headers a request may carry; more is treated like an oversized head (431).
pub const MAX_HEADERS: usize = 64;

/// A parsed request head. Header names keep their original spelling; look them up with
/// [`Request::header`], which compares case-insensitively (RFC 9110 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The minor version: 0 for HTTP/1.0 (answered, then closed; never upgraded), 1 for HTTP/1.1.
    pub version: u8,
    /// The raw request target as sent (origin-form, e.g. `/ws?x=1`), not yet percent-decoded.
    pub target: String,
    pub headers: Headers,
}

/// A request's header fields in one buffer, names and values back to back, with where each
/// ends: two allocations for all of them instead of two per field. Every connection's handshake
/// has five or more fields, and a burst of joins spent ~14 allocations per connection here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    bytes: Vec<u8>,
    /// Per field, in order: where its name ends and where its value ends in `bytes` (a name
    /// starts where the field before ended).
    ends: Vec<(usize, usize)>,
}

impl Headers {
    /// Room for `fields` fields of `bytes` bytes in all, names and values.
    pub fn with_capacity(fields: usize, bytes: usize) -> Self {
        Headers { bytes: Vec::with_capacity(bytes), ends: Vec::with_capacity(fields) }
    }

    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        self.bytes.extend_from_slice(name);
        let name_end = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.ends.push((name_end, self.bytes.len()));
    }

    /// Every field as (name, value), in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|&(_, end)| end));
        starts
            .zip(&self.ends)
            .map(|(start, &(name_end, end))| (&self.bytes[start..name_end], &self.bytes[name_end..end]))
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(fields: I) -> Self {
        let mut headers = Headers::default();
        for (name, value) in fields {
            headers.push(name.as_ref(), value.as_ref());
        }
        headers
    }
}

/// Why a request head was refused; each maps to one HTTP status.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The bytes are not an HTTP/1.x request (→ 400).
    #[error("malformed HTTP request")]
    Malformed,
    /// Neither HTTP/1.0 nor HTTP/1.1 (→ 505).
    #[error("unsupported HTTP version")]
    Version,
    /// The head exceeded the byte or header-count limit (→ 431).
    #[error("request header fields too large")]
    TooLarge,
}

impl RequestError {
    pub fn status(self) -> u16 {
        match self {
            RequestError::Malformed => 400,
            RequestError::Version => 505,
            RequestError::TooLarge => 431,
        }
    }

    /// Short label used in logs and as the `reason` of the handshake-failure metric.
    pub fn reason(self) -> &'static str {
        match self {
            RequestError::Malformed => "malformed_request",
            RequestError::Version => "http_version",
            RequestError::TooLarge => "header_too_large",
        }
    }
}

impl Request {
    /// Parses a request head from the start of `buf`.
    ///
    /// Returns `Ok(None)` while the head is incomplete and still within `max_head` bytes,
    /// `Ok(Some((request, head_len)))` once complete. Bytes after `head_len` belong to the
    /// next protocol (a client may pipeline its first WebSocket frame behind the handshake).
    pub fn parse(buf: &[u8], max_head: usize) -> Result<Option<(Request, usize)>, RequestError> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut slots);
        let status = match req.parse(buf) {
            Ok(status) => status,
            Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooLarge),
            Err(httparse::Error::Version) => return Err(RequestError::Version),
            Err(_) => return Err(RequestError::Malformed),
        };
        let head_len = match status {
            httparse::Status::Partial if buf.len() > max_head => return Err(RequestError::TooLarge),
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(n) if n > max_head => return Err(RequestError::TooLarge),
            httparse::Status::Complete(n) => n,
        };
        let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
            return Err(RequestError::Malformed);
        };
        let bytes = req.headers.iter().map(|h| h.name.len() + h.value.len()).sum();
        let mut headers = Headers::with_capacity(req.headers.len(), bytes);
        for field in req.headers.iter() {
            headers.push(field.name.as_bytes(), field.value);
        }
        let request = Request { method: method.to_owned(), version, target: target.to_owned(), headers };
        Ok(Some((request, head_len)))
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// All values of headers named `name`, in order (a header may be repeated, RFC 9110 §5.3).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// Whether any comma-separated token of any `name` header equals `token`, ignoring ASCII case
    /// and optional whitespace. `Connection: keep-alive, Upgrade` contains the token `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers_named(name)
            .any(|value| value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes())))
    }

    /// The path part of the target, without the query string.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target.as_str(), |(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 8192;

    #[test]
    fn parses_a_complete_head_and_reports_its_length() {
        let raw = b"GET /ws?a=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nEXTRA";
        let (req, n) = Request::parse(raw, MAX).unwrap().unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/ws?a=1");
        assert_eq!(req.path(), "/ws");
        assert_eq!(&raw[n..], b"EXTRA");
        assert_eq!(req.header("UPGRADE"), Some(&b"websocket"[..]));
    }

    #[test]
    fn incomplete_head_needs_more() {
        assert_eq!(Request::parse(b"GET / HTTP/1.1\r\nHost: x\r\n", MAX), Ok(None));
    }

    #[test]
    fn oversized_head_is_refused_before_completion() {
        let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', 100));
        assert_eq!(Request::parse(&raw, 64), Err(RequestError::TooLarge));
    }

    #[test]
    fn too_many_headers_is_too_large() {
        let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..(MAX_HEADERS + 1) {
            raw.extend(format!("X-{i}: y\r\n").bytes());
        }
        raw.extend(b"\r\n");
        assert_eq!(Request::parse(&raw, 1 << 20), Err(RequestError::TooLarge));
    }

    #[test]
    fn not_http_is_malformed() {
        assert_eq!(Request::parse(b"\x16\x03\x01\x02\x00\x01", MAX), Err(RequestError::Malformed));
    }

    #[test]
    fn http_1_0_is_parsed_and_other_versions_are_refused() {
        let (req, _) = Request::parse(b"GET / HTTP/1.0\r\n\r\n", MAX).unwrap().unwrap();
        assert_eq!(req.version, 0);
        assert_eq!(Request::parse(b"GET / HTTP/1.2\r\n\r\n", MAX), Err(RequestError::Version));
        assert_eq!(Request::parse(b"GET / HTTP/2.0\r\n\r\n", MAX), Err(RequestError::Version));
    }

    #[test]
    fn fields_keep_their_order_spelling_and_repeats() {
        let raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: \r\nEmpty:\r\nX-A: 3\r\n\r\n";
        let (req, _) = Request::parse(raw, MAX).unwrap().unwrap();
        let fields: Vec<(&[u8], &[u8])> = req.headers.iter().collect();
        let want: [(&[u8], &[u8]); 5] =
            [(b"Host", b"x"), (b"X-A", b"1"), (b"x-a", b""), (b"Empty", b""), (b"X-A", b"3")];
        assert_eq!(fields, want);
        assert_eq!(req.headers, want.into_iter().collect::<Headers>());
        assert_eq!(req.headers_named("x-A").collect::<Vec<_>>(), [&b"1"[..], b"", b"3"]);
        assert_eq!(req.header("EMPTY"), Some(&b""[..]));
        assert_eq!(req.header("missing"), None);
        assert_eq!((req.headers.len(), Headers::default().is_empty()), (5, true));
    }

    #[test]
    fn token_lists_are_case_insensitive_and_trimmed() {
        let raw = b"GET / HTTP/1.1\r\nconnection: keep-alive,  UPGRADE \r\n\r\n";
        let (req, _) = Request::parse(raw, MAX).unwrap().unwrap();
        assert!(req.has_token("Connection", "upgrade"));
        assert!(!req.has_token("Connection", "close"));
    }
}
