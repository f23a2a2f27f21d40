//! HTTP/1.1 responses with their headers, as nginx sends them: enough to check caching, security
//! and encoding headers, and to undo `Transfer-Encoding: chunked` (nginx's gzip output).

/// A response: status, headers in order (names as sent), and the raw body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Parses a whole response read until the server closed the connection; `None` if it is not one.
    pub fn parse(raw: &[u8]) -> Option<Response> {
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..head_end]).ok()?;
        let mut lines = head.split("\r\n");
        let mut status_line = lines.next()?.split_whitespace();
        if !status_line.next()?.starts_with("HTTP/1.") {
            return None;
        }
        let status = status_line.next()?.parse().ok()?;
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':')?;
                Some((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Response { status, headers, body: raw[head_end + 4..].to_vec() })
    }

    /// Every value of header `name` (case-insensitive), joined with ", " as RFC 9110 §5.3 allows;
    /// `None` if the header is absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> =
            self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The body with any chunked transfer coding removed; `None` if the chunks are malformed.
    pub fn decoded_body(&self) -> Option<Vec<u8>> {
        match self.header("transfer-encoding") {
            Some(coding) if coding.eq_ignore_ascii_case("chunked") => decode_chunked(&self.body),
            _ => Some(self.body.clone()),
        }
    }
}

/// The payload of a chunked body (RFC 9112 §7.1): hex size lines, each followed by that many bytes
/// and CRLF, up to the zero-size last chunk. Chunk extensions and trailers are ignored.
pub fn decode_chunked(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        let chunk = body.get(..size)?;
        out.extend_from_slice(chunk);
        body = body.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

/// The `max-age` of a `Cache-Control` value, in seconds.
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse().ok()).flatten()
    })
}

/// Whether a comma-separated header value has this directive (e.g. `immutable`), ignoring case.
pub fn has_directive(value: &str, directive: &str) -> bool {
    value.split(',').any(|d| d.split('=').next().unwrap_or("").trim().eq_ignore_ascii_case(directive))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GZIP_WASM: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/wasm\r\n\
        Transfer-Encoding: chunked\r\nVary: Accept-Encoding\r\nX-A: 1\r\nx-a: 2\r\n\
        Cache-Control: public, max-age=31536000, immutable\r\nContent-Encoding: gzip\r\n\r\n\
        3\r\n\x1f\x8b\x08\r\na;ext=1\r\n0123456789\r\n0\r\n\r\n";

    #[test]
    fn heads_are_parsed_with_every_header() {
        let response = Response::parse(GZIP_WASM).expect("a response");
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type").as_deref(), Some("application/wasm"));
        assert_eq!(response.header("X-A").as_deref(), Some("1, 2"));
        assert_eq!(response.header("Content-Length"), None);
        assert_eq!(response.decoded_body().as_deref(), Some(&b"\x1f\x8b\x080123456789"[..]));
    }

    #[test]
    fn non_responses_are_refused() {
        assert_eq!(Response::parse(b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(Response::parse(b"SSH-2.0-x\r\n\r\n"), None);
        assert_eq!(Response::parse(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"), None);
        let plain = Response::parse(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno").expect("a response");
        assert_eq!((plain.status, plain.decoded_body().as_deref()), (404, Some(&b"no"[..])));
    }

    #[test]
    fn malformed_chunks_are_refused() {
        assert_eq!(decode_chunked(b"0\r\n\r\n"), Some(Vec::new()));
        assert_eq!(decode_chunked(b"5\r\nabc"), None, "truncated chunk");
        assert_eq!(decode_chunked(b"3\r\nabcX\r\n0\r\n\r\n"), None, "chunk longer than its size");
        assert_eq!(decode_chunked(b"zz\r\n"), None, "size not hex");
        assert_eq!(decode_chunked(b"3\r\nabc\r\n"), None, "no last chunk");
    }

    #[test]
    fn cache_control_directives() {
        let value = "public, max-age=31536000, immutable";
        assert_eq!(max_age(value), Some(31_536_000));
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("s-maxage=5, MAX-AGE=\"60\""), Some(60));
        assert!(has_directive(value, "immutable"));
        assert!(has_directive("No-Cache", "no-cache"));
        assert!(!has_directive("no-cache-ish", "no-cache"));
    }
}
