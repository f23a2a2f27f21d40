//! HTTP/1.1 responses: status, headers and a body, serialized into the connection's write buffer.
//!
//! Every response this server sends (health, metrics, static files, handshake refusals) is built
//! here, so `Connection: close`, `Content-Length` and the reason phrases stay consistent.

use std::borrow::Cow;
use std::fmt::Write as _;

/// What follows the head. Files are streamed from disk rather than held in memory.
#[derive(Debug)]
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// A file opened for reading and its length; HEAD requests send the length without the file.
    File(tokio::fs::File, u64),
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Names are static for the headers this server writes itself; owned for those an operator's
    /// web root brings (its security headers, read once at start-up).
    pub headers: Vec<(Cow<'static, str>, String)>,
    pub body: Body,
    /// HEAD: send `Content-Length` of the body but not the body itself (RFC 9110 §9.3.2).
    pub head_only: bool,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response { status, headers: Vec::new(), body: Body::Empty, head_only: false }
    }

    /// A short `text/plain` response, used for health and for every error status.
    pub fn text(status: u16, text: &str) -> Self {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(Body::Bytes(format!("{text}\n").into_bytes()))
    }

    pub fn header(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Whether a header of this name (ASCII case-insensitive) is already set.
    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    pub fn content_length(&self) -> u64 {
        match &self.body {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File(_, len) => *len,
        }
    }

    /// The status line and headers, ending with the blank line. `Content-Length` is added unless
    /// this is a `101 Switching Protocols`, which has no body by definition, or a `304 Not
    /// Modified`, where it would have to be the length of the 200 not sent (RFC 9110 §8.6).
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut head = String::with_capacity(256);
        let _ = write!(head, "HTTP/1.1 {} {}\r\n", self.status, reason_phrase(self.status));
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if self.status != 101 && self.status != 304 {
            let _ = write!(head, "Content-Length: {}\r\n", self.content_length());
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// Reason phrases for the statuses this server emits (RFC 9110 §15, RFC 6585 §5).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_response_has_length_and_type() {
        let r = Response::text(404, "not found").header("Connection", "close");
        let head = String::from_utf8(r.head_bytes()).unwrap();
        assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(head.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(head.contains("Content-Length: 10\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
    }

    #[test]
    fn switching_protocols_has_no_content_length() {
        let head = String::from_utf8(Response::new(101).head_bytes()).unwrap();
        assert_eq!(head, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
    }
}
