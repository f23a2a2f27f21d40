//! Any bytes as an HTTP request head, then the WebSocket upgrade checks on whatever parses.
//!
//! Nothing here may panic; a parsed head must stay the same however many bytes follow it, and an
//! accepted upgrade must answer with `base64(SHA-1(key ++ GUID))`: 28 characters of base64.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use signaling::http1::request::Request;
use signaling::ws::handshake::{accept_key, switching_protocols, validate, OriginPolicy};

/// The server's default head limit is of this order; small enough that the fuzzer reaches it.
const MAX_HEAD: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let parsed = match Request::parse(data, MAX_HEAD) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            assert!(data.len() <= MAX_HEAD, "an incomplete head past the limit must be refused");
            return;
        }
        Err(e) => {
            let _ = (e.status(), e.reason());
            return;
        }
    };
    let (request, head_len) = &parsed;
    assert!(*head_len <= data.len() && *head_len <= MAX_HEAD);
    // Bytes after the head (a pipelined first frame) never change it.
    assert_eq!(Request::parse(&data[..*head_len], MAX_HEAD), Ok(Some(parsed.clone())));
    let _ = (request.path(), request.has_token("Connection", "upgrade"));

    let listed = OriginPolicy::List(vec!["https://call.example".to_owned(), "http://localhost:8080".to_owned()]);
    let any = validate(request, &OriginPolicy::Any);
    match validate(request, &listed) {
        // A list only ever refuses more than `Any` does.
        Ok(accept) => assert_eq!(any.as_ref(), Ok(&accept)),
        Err(e) => {
            let _ = (e.status(), e.reason(), e.response().head_bytes());
        }
    }
    match any {
        Ok(accept) => {
            assert_eq!(accept.len(), 28, "{accept:?}");
            let (body, pad) = accept.split_at(27);
            assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'), "{accept:?}");
            assert_eq!(pad, "=", "20 bytes of SHA-1 leave one padding character");
            let key = request.header("Sec-WebSocket-Key").map(<[u8]>::trim_ascii).unwrap_or_default();
            assert_eq!(accept, accept_key(key));
            let _ = switching_protocols(&accept).head_bytes();
        }
        Err(e) => {
            let _ = (e.status(), e.reason(), e.response().head_bytes());
        }
    }
});
