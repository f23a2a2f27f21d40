//! What a served file is and how long a browser may keep it: `Content-Type` and `Cache-Control` from its name.

/// `Cache-Control` for a name that changes whenever its content does (trunk's hashed assets):
/// a year, and `immutable` so browsers skip revalidation even on reload (RFC 8246).
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `Cache-Control` for everything else: revalidate on every use, so a new deploy is seen at once.
/// `index.html` must be this: it names the hashed assets of the build it belongs to.
pub const CACHE_REVALIDATE: &str = "no-cache";

/// Fewest hex digits taken as a content hash. Trunk writes a 64-bit seahash as unpadded hex, so a
/// hash with a leading zero nibble has 15 and is served `no-cache`: slower, never stale.
const MIN_HASH_DIGITS: usize = 16;

/// Extensions we know, compared ASCII case-insensitively. Text types carry their charset so a
/// browser never guesses one; `.wasm` must be `application/wasm` for `instantiateStreaming`.
const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("ico", "image/x-icon"),
    ("webp", "image/webp"),
    ("woff2", "font/woff2"),
    ("txt", "text/plain; charset=utf-8"),
];

/// The `Content-Type` for a file name; unknown extensions are opaque bytes (and `nosniff` keeps
/// browsers from reinterpreting them).
pub fn content_type(name: &str) -> &'static str {
    let ext = extension(name);
    TYPES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(ext))
        .map_or("application/octet-stream", |&(_, mime)| mime)
}

/// Whether `cargo xtask web` may store `.gz` and `.br` encodings of a file of this name: text
/// and wasm (the same list as its `precompress.rs`); images and fonts are compressed already.
pub fn is_compressible(name: &str) -> bool {
    const COMPRESSIBLE: &[&str] =
        &["html", "htm", "js", "mjs", "css", "wasm", "json", "map", "webmanifest", "svg", "txt"];
    COMPRESSIBLE.iter().any(|e| e.eq_ignore_ascii_case(extension(name)))
}

/// The `Cache-Control` for a file name: immutable only for content-hashed names that are not HTML.
pub fn cache_control(name: &str) -> &'static str {
    let html = ["html", "htm"].iter().any(|e| e.eq_ignore_ascii_case(extension(name)));
    if !html && is_content_hashed(name) {
        CACHE_IMMUTABLE
    } else {
        CACHE_REVALIDATE
    }
}

/// Whether a name looks like trunk's hashed output: `<name>-<hex hash>[_suffix].<ext>`, e.g.
/// `webclient-1a2b3c4d5e6f7890.js` and its module `webclient-1a2b3c4d5e6f7890_bg.wasm`.
pub fn is_content_hashed(name: &str) -> bool {
    let stem = name.split_once('.').map_or(name, |(stem, _)| stem);
    let Some((base, tail)) = stem.rsplit_once('-') else {
        return false;
    };
    // Trunk appends `_bg` to the wasm-bindgen module and `_loader` to a worker's shim.
    let hash = tail.split_once('_').map_or(tail, |(hash, _)| hash);
    !base.is_empty() && hash.len() >= MIN_HASH_DIGITS && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The text after the last `.`, or `""`.
fn extension(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(_, ext)| ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_extension_ignoring_case() {
        assert_eq!(content_type("webclient-1a2b3c4d5e6f7890_bg.wasm"), "application/wasm");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("APP.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("worker.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("app.js.map"), "application/json");
        assert_eq!(content_type("logo.svg"), "image/svg+xml");
        assert_eq!(content_type("photo.JPG"), "image/jpeg");
        assert_eq!(content_type("favicon.ico"), "image/x-icon");
        assert_eq!(content_type("font.woff2"), "font/woff2");
        assert_eq!(content_type("robots.txt"), "text/plain; charset=utf-8");
    }

    #[test]
    fn unknown_or_missing_extension_is_octet_stream() {
        assert_eq!(content_type("archive.tar.zst"), "application/octet-stream");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
        assert_eq!(content_type("html"), "application/octet-stream");
    }

    #[test]
    fn trunk_hashed_names_are_recognised() {
        assert!(is_content_hashed("webclient-1a2b3c4d5e6f7890.wasm"));
        assert!(is_content_hashed("webclient-1a2b3c4d5e6f7890_bg.wasm"));
        assert!(is_content_hashed("web-client-1A2B3C4D5E6F7890ab.js"));
        assert!(is_content_hashed("webclient-1a2b3c4d5e6f7890.js.map"));
    }

    #[test]
    fn other_names_are_not_hashed() {
        assert!(!is_content_hashed("webclient.wasm"));
        assert!(!is_content_hashed("webclient-1a2b3c4d5e6f789.wasm")); // 15 digits
        assert!(!is_content_hashed("webclient-1a2b3c4d5e6f789g.wasm")); // not hex
        assert!(!is_content_hashed("-1a2b3c4d5e6f7890.wasm")); // no name
        assert!(!is_content_hashed("jquery-3.7.1.min.js"));
        assert!(!is_content_hashed("1a2b3c4d5e6f7890.js"));
    }

    #[test]
    fn text_and_wasm_may_have_stored_encodings() {
        for name in ["index.html", "app-1a2b3c4d5e6f7890_bg.wasm", "app.JS", "style.css", "favicon.svg"] {
            assert!(is_compressible(name), "{name}");
        }
        for name in ["photo.png", "font.woff2", "index.html.gz", "app.wasm.br", "LICENSE"] {
            assert!(!is_compressible(name), "{name}");
        }
    }

    #[test]
    fn only_hashed_non_html_is_immutable() {
        assert_eq!(cache_control("webclient-1a2b3c4d5e6f7890_bg.wasm"), CACHE_IMMUTABLE);
        assert_eq!(cache_control("styles-00ff00ff00ff00ff.css"), CACHE_IMMUTABLE);
        assert_eq!(cache_control("index.html"), CACHE_REVALIDATE);
        assert_eq!(cache_control("page-1a2b3c4d5e6f7890.html"), CACHE_REVALIDATE);
        assert_eq!(cache_control("favicon.ico"), CACHE_REVALIDATE);
    }
}
