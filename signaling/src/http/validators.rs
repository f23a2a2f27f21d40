//! Entity tags for static files and `If-None-Match` (RFC 9110 §8.8.3, §13.1.2), pure.
//!
//! The tag is made from the metadata of the file actually sent, so each stored encoding of an
//! asset (the file, its `.gz`, its `.br`) has a tag of its own: a cache holding the gzip bytes
//! never gets a 304 that would confirm them to a client that asked for brotli, and vice versa.

use std::time::{SystemTime, UNIX_EPOCH};

/// Most entity tags read from `If-None-Match`; a browser sends one.
const MAX_TAGS: usize = 16;

/// `"<length hex>-<mtime ns hex>[-<coding>]"`: changes whenever a deploy replaces the file.
pub fn etag(len: u64, modified: Option<SystemTime>, coding: Option<&str>) -> String {
    let nanos = modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    match coding {
        Some(coding) => format!("\"{len:x}-{nanos:x}-{coding}\""),
        None => format!("\"{len:x}-{nanos:x}\""),
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, §13.1.2: a `W/` prefix on either side
/// is ignored) or is `*`; then the answer is 304. Unreadable values match nothing.
pub fn none_match<'a>(values: impl IntoIterator<Item = &'a [u8]>, etag: &str) -> bool {
    let ours = opaque(etag);
    values
        .into_iter()
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .take(MAX_TAGS)
        .map(str::trim)
        .any(|tag| tag == "*" || (!tag.is_empty() && opaque(tag) == ours))
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn each_encoding_and_each_version_has_its_own_tag() {
        let plain = etag(1000, at(1), None);
        assert_eq!(plain, "\"3e8-3b9aca00\"");
        assert_eq!(etag(1000, at(1), Some("br")), "\"3e8-3b9aca00-br\"");
        assert_ne!(etag(1000, at(1), Some("gzip")), etag(1000, at(1), Some("br")));
        assert_ne!(etag(1000, at(2), None), plain, "a new deploy, same length");
        assert_eq!(etag(5, None, None), "\"5-0\"");
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let tag = "\"3e8-1-br\"";
        assert!(none_match([&b"\"3e8-1-br\""[..]], tag));
        assert!(none_match([&b"W/\"3e8-1-br\""[..]], tag));
        assert!(none_match([&b"\"x\", \"3e8-1-br\""[..]], tag));
        assert!(none_match([&b"\"x\""[..], b"\"3e8-1-br\""], tag), "several fields form one list");
        assert!(none_match([&b"*"[..]], tag));
        assert!(!none_match([&b"\"3e8-1-gzip\""[..]], tag), "another encoding's tag");
        assert!(!none_match([&b"\"3e8-1\""[..]], tag));
        assert!(!none_match([&b""[..]], tag));
        assert!(!none_match(std::iter::empty(), tag));
        assert!(!none_match([&b"\xff"[..]], tag));
        let many = format!("{}{tag}", "\"x\",".repeat(MAX_TAGS));
        assert!(!none_match([many.as_bytes()], tag), "tags past the bound are not read");
    }
}
