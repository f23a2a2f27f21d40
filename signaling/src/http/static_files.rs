//! The static file server for `--web-root`: request targets resolved to regular files inside one root.
//!
//! The target is percent-decoded and reduced to plain path segments by pure functions before any
//! I/O ([`RequestPath::parse`]); the file found is then canonicalized and must still lie under the
//! canonical root, so a symlink cannot lead out either. Every way out of the root answers 404, the
//! same as a missing file, so probing reveals nothing.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tokio::fs;

use super::encoding::{ranked, AcceptEncoding, Coding, STORED_SUFFIXES};
use super::mime::{cache_control, content_type, is_compressible};
use super::validators::{etag, none_match};
use crate::http1::request::Request;
use crate::http1::response::{reason_phrase, Body, Response};

/// The file served for `/` and for any directory.
pub const INDEX: &str = "index.html";

/// The security headers `cargo xtask web` writes beside the built client (the CSP with the hash of
/// trunk's inline loader, and the rest), generated from the same list as nginx's: `Name: value`
/// lines, `#` comments. Hidden, so never served itself.
pub const SECURITY_HEADERS_FILE: &str = ".security-headers";

/// A canonicalized web root directory, and the security headers every response from it carries.
#[derive(Debug, Clone)]
pub struct WebRoot {
    path: PathBuf,
    headers: Vec<(String, String)>,
}

impl WebRoot {
    /// Canonicalizes `dir` once at startup; every served path is compared against the result.
    /// Reads [`SECURITY_HEADERS_FILE`] if the directory has one (a malformed one is an error: a
    /// page served without its CSP must not look like a success).
    pub fn new(dir: &Path) -> io::Result<WebRoot> {
        let path = std::fs::canonicalize(dir)?;
        if !path.is_dir() {
            let message = format!("web root {} is not a directory", path.display());
            return Err(io::Error::new(io::ErrorKind::NotADirectory, message));
        }
        let headers = match std::fs::read_to_string(path.join(SECURITY_HEADERS_FILE)) {
            Ok(text) => parse_headers(&text).map_err(|line| {
                let message = format!("{SECURITY_HEADERS_FILE} in {}: malformed line {line:?}", path.display());
                io::Error::new(io::ErrorKind::InvalidData, message)
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::warn!(web_root = %path.display(), "no {SECURITY_HEADERS_FILE}: pages go out without a CSP (build with `cargo xtask web`)");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        Ok(WebRoot { path, headers })
    }

    /// The headers read from [`SECURITY_HEADERS_FILE`].
    pub fn security_headers(&self) -> &[(String, String)] {
        &self.headers
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Why a request target names nothing we may serve, found without touching the disk.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// A `%` not followed by two hex digits (→ 400).
    #[error("invalid percent-escape")]
    BadEscape,
    /// The decoded path is not UTF-8; every name we serve is (→ 400).
    #[error("decoded path is not UTF-8")]
    NotUtf8,
    /// A decoded NUL or backslash: never in a name we serve, and a separator on Windows (→ 404).
    #[error("NUL or backslash in path")]
    ForbiddenByte,
    /// A `..` that would climb above the root (→ 404, like a missing file).
    #[error("path climbs above the web root")]
    Escape,
    /// A segment starting with `.` (`/.env`, `/.git/config`): hidden files are an operator's
    /// secrets or tooling, never part of the built client (→ 404, as nginx is configured to).
    #[error("hidden file or directory")]
    Hidden,
}

impl PathError {
    pub fn status(self) -> u16 {
        match self {
            PathError::BadEscape | PathError::NotUtf8 => 400,
            PathError::ForbiddenByte | PathError::Escape | PathError::Hidden => 404,
        }
    }
}

/// Decodes `%XX` escapes once (RFC 3986 §2.1, either case); `+` stays `+` in a path.
pub fn percent_decode(input: &str) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let (Some(hi), Some(lo)) = (hex_digit(bytes.next()), hex_digit(bytes.next())) else {
            return Err(PathError::BadEscape);
        };
        out.push((hi << 4) | lo);
    }
    Ok(out)
}

fn hex_digit(b: Option<u8>) -> Option<u8> {
    match b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A request target reduced to plain segments under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPath {
    /// Never empty, `.` or `..`; never containing `/`, `\` or NUL. Empty for the root itself.
    pub segments: Vec<String>,
    /// The path ended in `/` (or `.`/`..`): only a directory's index may answer it.
    pub trailing_slash: bool,
}

impl RequestPath {
    /// Drops the query and fragment, percent-decodes, then resolves `.` and `..` lexically.
    ///
    /// Decoding comes first, so `%2F` separates segments and `%2e%2e` is `..`: the same rules then
    /// apply to every spelling. A leading `/` is optional: every target is taken from the root.
    pub fn parse(target: &str) -> Result<RequestPath, PathError> {
        let raw = target.split(['?', '#']).next().unwrap_or_default();
        let decoded = String::from_utf8(percent_decode(raw)?).map_err(|_| PathError::NotUtf8)?;
        if decoded.contains(['\0', '\\']) {
            return Err(PathError::ForbiddenByte);
        }
        let mut segments = Vec::new();
        for segment in decoded.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    segments.pop().ok_or(PathError::Escape)?;
                }
                hidden if hidden.starts_with('.') => return Err(PathError::Hidden),
                _ => segments.push(segment.to_owned()),
            }
        }
        let trailing_slash = matches!(decoded.rsplit('/').next(), Some("" | "." | ".."));
        Ok(RequestPath { segments, trailing_slash })
    }
}

/// Why a request got no file; each maps to one status.
#[derive(Debug, Error)]
enum ServeError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("no such file")]
    NotFound,
    #[error("not a regular file")]
    NotFile,
    /// A symlink inside the root leads outside it: the operator's doing, hence a warning.
    #[error("resolves outside the web root, to {0}")]
    Outside(PathBuf),
    #[error("permission denied")]
    Denied,
    #[error("I/O error: {0}")]
    Io(io::Error),
}

impl ServeError {
    fn from_io(err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename => {
                ServeError::NotFound
            }
            io::ErrorKind::PermissionDenied => ServeError::Denied,
            _ => ServeError::Io(err),
        }
    }

    fn status(&self) -> u16 {
        match self {
            ServeError::Path(err) => err.status(),
            ServeError::NotFound | ServeError::NotFile | ServeError::Outside(_) => 404,
            ServeError::Denied => 403,
            ServeError::Io(_) => 500,
        }
    }
}

/// `Name: value` lines (blank lines and `#` comments skipped) into pairs; the first bad line is
/// the error. Names are RFC 9110 tokens; values have no control characters, so nothing read here
/// can end the head early or add a header of its own.
fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let is_token = |name: &str| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let mut headers = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let Some((name, value)) = line.split_once(':') else { return Err(line.to_owned()) };
        let (name, value) = (name.trim(), value.trim());
        if !is_token(name) || value.chars().any(char::is_control) {
            return Err(line.to_owned());
        }
        headers.push((name.to_owned(), value.to_owned()));
    }
    Ok(headers)
}

/// What a request says about the representation it wants, beyond its target.
#[derive(Debug, Clone, Default)]
pub struct Negotiation {
    /// `None` when the request has no `Accept-Encoding`: then only the file as it is is sent.
    pub accept_encoding: Option<AcceptEncoding>,
    /// The `If-None-Match` values, joined.
    pub if_none_match: Vec<Vec<u8>>,
}

impl Negotiation {
    pub fn of(request: &Request) -> Negotiation {
        let mut accept = request.headers_named("Accept-Encoding").peekable();
        let accept_encoding = accept.peek().is_some().then(|| AcceptEncoding::parse(accept));
        let if_none_match = request.headers_named("If-None-Match").take(16).map(<[u8]>::to_vec).collect();
        Negotiation { accept_encoding, if_none_match }
    }
}

/// Serves GET or HEAD for a raw request target (e.g. `/app-1a2b.wasm?v=1`). The caller has checked
/// the method. HEAD gets the same status, headers and `Content-Length`, with `head_only` set.
pub async fn serve(root: &WebRoot, head_only: bool, target: &str) -> Response {
    serve_negotiated(root, head_only, target, &Negotiation::default()).await
}

/// [`serve`], choosing among the stored encodings of the file by `Accept-Encoding` and answering
/// 304 when `If-None-Match` names the tag of the encoding chosen.
pub async fn serve_negotiated(root: &WebRoot, head_only: bool, target: &str, negotiation: &Negotiation) -> Response {
    let mut response = match respond(root, target, negotiation).await {
        Ok(response) => response,
        Err(err) => {
            match &err {
                ServeError::Outside(_) | ServeError::Denied | ServeError::Io(_) => {
                    tracing::warn!(uri = ?target, error = %err, "static file not served");
                }
                _ => tracing::debug!(uri = ?target, error = %err, "static file not served"),
            }
            let status = err.status();
            Response::text(status, reason_phrase(status))
        }
    };
    // Like nginx's `add_header … always`: on every status, errors included. A header this
    // server already set (nosniff on files) is not repeated.
    for (name, value) in &root.headers {
        if !response.has_header(name) {
            response = response.header(name.clone(), value.clone());
        }
    }
    // RFC 9110 §9.3.2: a HEAD response carries no content, errors included.
    response.head_only = head_only;
    response
}

async fn respond(root: &WebRoot, target: &str, negotiation: &Negotiation) -> Result<Response, ServeError> {
    let request = RequestPath::parse(target)?;
    // A stored encoding is only ever sent with its `Content-Encoding`, never by its own name
    // (where it would go out as opaque bytes to a client that did not ask for it).
    if request.segments.last().is_some_and(|name| is_stored_variant(name)) {
        return Err(ServeError::NotFound);
    }
    let (path, name) = resolve(root, &request).await?;
    let compressible = is_compressible(&name);
    let codings = if compressible { ranked(negotiation.accept_encoding.as_ref()) } else { vec![Coding::Identity] };
    let Some((coding, file)) = open_best(root, &path, &codings).await? else {
        // Even the file as it is was refused (`identity;q=0`) and no stored encoding fits.
        return Ok(Response::text(406, reason_phrase(406)).header("Vary", "Accept-Encoding"));
    };
    // The length announced is that of the file opened, even if the path changed since `resolve`.
    let meta = file.metadata().await.map_err(ServeError::from_io)?;
    if !meta.is_file() {
        return Err(ServeError::NotFile);
    }
    let tag = etag(meta.len(), meta.modified().ok(), coding.content_encoding());
    // Type and caching follow the name in the URL, which is what the browser caches, not the name
    // a symlink points to: `latest.js -> app-<hash>.js` must not be immutable.
    let mut response = if none_match(negotiation.if_none_match.iter().map(Vec::as_slice), &tag) {
        Response::new(304)
    } else {
        Response::new(200)
            .header("Content-Type", content_type(&name))
            .header("X-Content-Type-Options", "nosniff")
            .body(Body::File(file, meta.len()))
    };
    response = response.header("Cache-Control", cache_control(&name)).header("ETag", tag);
    if let Some(encoding) = coding.content_encoding() {
        response = response.header("Content-Encoding", encoding);
    }
    // Caches must key on Accept-Encoding for every type that may have stored encodings (RFC
    // 9110 §12.5.5), whichever one this answer carries.
    if compressible {
        response = response.header("Vary", "Accept-Encoding");
    }
    Ok(response)
}

/// `app.js.gz`, `index.html.br`: a name `cargo xtask web` gives a stored encoding.
fn is_stored_variant(name: &str) -> bool {
    STORED_SUFFIXES.iter().any(|suffix| name.len() > suffix.len() && name.ends_with(suffix))
}

/// The first of `codings` stored for the file at `path` (canonical, inside the root), opened.
/// A stored encoding must itself be a regular file inside the root; a missing one is skipped.
async fn open_best(root: &WebRoot, path: &Path, codings: &[Coding]) -> Result<Option<(Coding, fs::File)>, ServeError> {
    for &coding in codings {
        let Some(suffix) = coding.suffix() else {
            return Ok(Some((coding, fs::File::open(path).await.map_err(ServeError::from_io)?)));
        };
        let mut variant = path.as_os_str().to_owned();
        variant.push(suffix);
        let Ok(variant) = inside_root(root, Path::new(&variant)).await else { continue };
        match fs::metadata(&variant).await {
            Ok(meta) if meta.is_file() => {}
            _ => continue,
        }
        if let Ok(file) = fs::File::open(&variant).await {
            return Ok(Some((coding, file)));
        }
    }
    Ok(None)
}

/// The canonical path of the regular file a request names (a directory's index in its place), and
/// the name that file has in the URL.
async fn resolve(root: &WebRoot, request: &RequestPath) -> Result<(PathBuf, String), ServeError> {
    let mut path = root.path.clone();
    path.extend(&request.segments);
    let path = inside_root(root, &path).await?;
    // `metadata` before `open`: opening a FIFO would block until a writer appears.
    let meta = fs::metadata(&path).await.map_err(ServeError::from_io)?;
    if meta.is_dir() {
        let index = inside_root(root, &path.join(INDEX)).await?;
        let meta = fs::metadata(&index).await.map_err(ServeError::from_io)?;
        return if meta.is_file() { Ok((index, INDEX.to_owned())) } else { Err(ServeError::NotFile) };
    }
    match request.segments.last() {
        Some(name) if meta.is_file() && !request.trailing_slash => Ok((path, name.clone())),
        _ => Err(ServeError::NotFile),
    }
}

/// Resolves every symlink in `path` and requires the result to lie under the root, and not in a
/// hidden file or directory there (a symlink may lead to one that the URL did not name).
async fn inside_root(root: &WebRoot, path: &Path) -> Result<PathBuf, ServeError> {
    let canonical = fs::canonicalize(path).await.map_err(ServeError::from_io)?;
    let Ok(relative) = canonical.strip_prefix(&root.path) else {
        return Err(ServeError::Outside(canonical));
    };
    if relative.components().any(|c| c.as_os_str().as_encoded_bytes().starts_with(b".")) {
        return Err(ServeError::Path(PathError::Hidden));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::mime::{CACHE_IMMUTABLE, CACHE_REVALIDATE};
    use tokio::io::AsyncReadExt;

    const HASHED: &str = "webclient-1a2b3c4d5e6f7890_bg.wasm";

    /// The segments joined by `/` (no segment contains one), and whether a slash ended the path.
    fn parsed(target: &str) -> Result<(String, bool), PathError> {
        RequestPath::parse(target).map(|p| (p.segments.join("/"), p.trailing_slash))
    }

    fn segments(target: &str) -> Result<String, PathError> {
        parsed(target).map(|(segments, _)| segments)
    }

    #[test]
    fn decodes_escapes_in_either_case_once() {
        assert_eq!(percent_decode("/a%20b%2Fc%2fd"), Ok(b"/a b/c/d".to_vec()));
        assert_eq!(percent_decode("%2e%2E%ff"), Ok(b"..\xff".to_vec()));
        assert_eq!(percent_decode("%252e+"), Ok(b"%2e+".to_vec()));
    }

    #[test]
    fn invalid_escapes_are_rejected() {
        for bad in ["%zz", "%2", "%", "/a%g1", "%%41"] {
            assert_eq!(percent_decode(bad), Err(PathError::BadEscape), "{bad}");
        }
    }

    #[test]
    fn targets_become_plain_segments() {
        assert_eq!(parsed("/"), Ok((String::new(), true)));
        assert_eq!(parsed("/sub"), Ok(("sub".into(), false)));
        assert_eq!(parsed("/sub/?x"), Ok(("sub".into(), true)));
        assert_eq!(parsed("/sub/x/.."), Ok(("sub".into(), true)));
        assert_eq!(parsed("/a//./b?q=/../..#x"), Ok(("a/b".into(), false)));
        assert_eq!(segments("/a/../b%2Fc"), Ok("b/c".into()));
        assert_eq!(segments("/a%2e%2e/%2e"), Ok("a..".into()));
        assert_eq!(segments("/%252e%252e/x"), Ok("%2e%2e/x".into()));
    }

    #[test]
    fn climbing_above_the_root_is_an_escape() {
        for bad in ["/../etc/passwd", "/%2e%2e/secret", "/a/%2E%2E/%2e%2e/secret", "..%2fsecret"] {
            assert_eq!(segments(bad), Err(PathError::Escape), "{bad}");
        }
    }

    #[test]
    fn nul_backslash_and_bad_utf8_are_refused() {
        assert_eq!(segments("/a%00.html"), Err(PathError::ForbiddenByte));
        assert_eq!(segments("/..%5csecret"), Err(PathError::ForbiddenByte));
        assert_eq!(segments("/%c3%28"), Err(PathError::NotUtf8));
        assert_eq!(segments("/%zz"), Err(PathError::BadEscape));
    }

    /// `dir/www` is the root; `dir/secret` sits beside it, one `..` away.
    fn site() -> io::Result<(tempfile::TempDir, WebRoot)> {
        let dir = tempfile::tempdir()?;
        let www = dir.path().join("www");
        std::fs::create_dir_all(www.join("sub"))?;
        std::fs::create_dir_all(www.join("empty"))?;
        std::fs::write(www.join(INDEX), "<h1>home</h1>")?;
        std::fs::write(www.join("sub").join(INDEX), "<h1>sub</h1>")?;
        std::fs::write(www.join("sub").join("notes.txt"), "nested")?;
        std::fs::write(www.join(HASHED), b"\0asm\x01\0\0\0")?;
        std::fs::write(www.join("favicon.ico"), "icon")?;
        std::fs::write(dir.path().join("secret"), "top secret")?;
        let root = WebRoot::new(&www)?;
        Ok((dir, root))
    }

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// Status and body, reading a file body to its end.
    async fn get(root: &WebRoot, target: &str) -> io::Result<(u16, Vec<u8>)> {
        let response = serve(root, false, target).await;
        let mut body = Vec::new();
        match response.body {
            Body::File(mut file, len) => {
                file.read_to_end(&mut body).await?;
                assert_eq!(body.len() as u64, len);
            }
            Body::Bytes(bytes) => body = bytes,
            Body::Empty => {}
        }
        Ok((response.status, body))
    }

    #[test]
    fn web_root_must_be_a_directory() -> io::Result<()> {
        let (dir, root) = site()?;
        assert_eq!(root.path(), std::fs::canonicalize(dir.path().join("www"))?);
        assert!(WebRoot::new(&root.path().join(INDEX)).is_err());
        assert!(WebRoot::new(&dir.path().join("missing")).is_err());
        Ok(())
    }

    #[tokio::test]
    async fn index_is_served_at_root_and_for_directories() -> io::Result<()> {
        let (_dir, root) = site()?;
        assert_eq!(get(&root, "/").await?, (200, b"<h1>home</h1>".to_vec()));
        assert_eq!(get(&root, "/?utm=x#top").await?, (200, b"<h1>home</h1>".to_vec()));
        assert_eq!(get(&root, "/sub/").await?, (200, b"<h1>sub</h1>".to_vec()));
        assert_eq!(get(&root, "/sub").await?, (200, b"<h1>sub</h1>".to_vec()));
        assert_eq!(get(&root, "/empty/").await?.0, 404);
        let response = serve(&root, false, "/").await;
        assert_eq!(header(&response, "Content-Type"), Some("text/html; charset=utf-8"));
        assert_eq!(header(&response, "Cache-Control"), Some(CACHE_REVALIDATE));
        assert_eq!(header(&response, "X-Content-Type-Options"), Some("nosniff"));
        Ok(())
    }

    #[tokio::test]
    async fn nested_files_are_served_and_missing_ones_are_404() -> io::Result<()> {
        let (_dir, root) = site()?;
        assert_eq!(get(&root, "/sub/notes.txt").await?, (200, b"nested".to_vec()));
        assert_eq!(get(&root, "/sub/../sub/notes%2etxt").await?, (200, b"nested".to_vec()));
        assert_eq!(get(&root, "/sub/notes.txt/").await?.0, 404);
        assert_eq!(get(&root, "/nope.js").await?.0, 404);
        assert_eq!(get(&root, "/nope/deeper.js").await?.0, 404);
        assert_eq!(get(&root, "/sub/notes.txt/x").await?.0, 404);
        Ok(())
    }

    #[tokio::test]
    async fn head_has_the_headers_and_length_of_get() -> io::Result<()> {
        let (_dir, root) = site()?;
        let get = serve(&root, false, "/sub/notes.txt").await;
        let head = serve(&root, true, "/sub/notes.txt").await;
        assert!(head.head_only && !get.head_only);
        assert_eq!(head.status, 200);
        assert_eq!(head.content_length(), 6);
        assert_eq!(head.head_bytes(), get.head_bytes());
        assert!(serve(&root, true, "/missing").await.head_only);
        Ok(())
    }

    #[tokio::test]
    async fn escapes_are_404_however_spelled() -> io::Result<()> {
        let (_dir, root) = site()?;
        for target in [
            "/../secret",
            "/../etc/passwd",
            "/%2e%2e/secret",
            "/a/%2E%2E/%2e%2e/secret",
            "..%2fsecret",
            "/..%2fsecret",
            "/..%5csecret",
            "/index.html%00.txt",
        ] {
            assert_eq!(get(&root, target).await?, (404, b"Not Found\n".to_vec()), "{target}");
        }
        Ok(())
    }

    #[test]
    fn security_headers_are_read_strictly() {
        let text = "# generated\n\nContent-Security-Policy: default-src 'self'; img-src data:\nX-Frame-Options:DENY\n";
        assert_eq!(
            parse_headers(text),
            Ok(vec![
                ("Content-Security-Policy".to_owned(), "default-src 'self'; img-src data:".to_owned()),
                ("X-Frame-Options".to_owned(), "DENY".to_owned()),
            ])
        );
        for bad in ["no colon here", "Bad Name: x", ": empty name", "X: a\u{7}b"] {
            assert_eq!(parse_headers(bad), Err(bad.to_owned()), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn every_response_from_the_root_carries_its_security_headers() -> io::Result<()> {
        let (dir, _) = site()?;
        let www = dir.path().join("www");
        std::fs::write(
            www.join(SECURITY_HEADERS_FILE),
            "Content-Security-Policy: default-src 'self'\nX-Content-Type-Options: nosniff\n",
        )?;
        let root = WebRoot::new(&www)?;
        for target in ["/", "/missing", "/.security-headers"] {
            let response = serve(&root, false, target).await;
            assert_eq!(header(&response, "Content-Security-Policy"), Some("default-src 'self'"), "{target}");
            let nosniff = response.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("X-Content-Type-Options"));
            assert_eq!(nosniff.count(), 1, "{target}: set once");
        }
        assert_eq!(serve(&root, false, "/.security-headers").await.status, 404, "the file itself is hidden");
        std::fs::write(www.join(SECURITY_HEADERS_FILE), "Content-Security-Policy\n")?;
        assert_eq!(WebRoot::new(&www).map_err(|e| e.kind()).err(), Some(io::ErrorKind::InvalidData));
        Ok(())
    }

    #[test]
    fn hidden_segments_are_refused_however_spelled() {
        for target in ["/.env", "/.git/config", "/sub/.hidden", "/%2eenv", "/a/../.env", "/.well-known/x"] {
            assert_eq!(parsed(target), Err(PathError::Hidden), "{target}");
        }
        assert!(parsed("/app.v1.js").is_ok(), "a dot inside a name is fine");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_to_hidden_files_are_404() -> io::Result<()> {
        use std::os::unix::fs::symlink;
        let (_dir, root) = site()?;
        std::fs::write(root.path().join(".env"), "SECRET=1")?;
        symlink(root.path().join(".env"), root.path().join("env.txt"))?;
        assert_eq!(get(&root, "/env.txt").await?.0, 404);
        Ok(())
    }

    #[tokio::test]
    async fn malformed_escapes_are_400() -> io::Result<()> {
        let (_dir, root) = site()?;
        assert_eq!(get(&root, "/%zz").await?.0, 400);
        assert_eq!(get(&root, "/index.html%2").await?.0, 400);
        Ok(())
    }

    #[tokio::test]
    async fn wasm_is_typed_and_hashed_assets_are_immutable() -> io::Result<()> {
        let (_dir, root) = site()?;
        let response = serve(&root, false, &format!("/{HASHED}?v=1")).await;
        assert_eq!(response.status, 200);
        assert_eq!(header(&response, "Content-Type"), Some("application/wasm"));
        assert_eq!(header(&response, "Cache-Control"), Some(CACHE_IMMUTABLE));
        let icon = serve(&root, false, "/favicon.ico").await;
        assert_eq!(header(&icon, "Content-Type"), Some("image/x-icon"));
        assert_eq!(header(&icon, "Cache-Control"), Some(CACHE_REVALIDATE));
        Ok(())
    }

    /// `app.js` with a gzip and a brotli copy beside it (distinct bytes, to tell them apart),
    /// `plain.css` with none, `logo.png` with a `.gz` that must never be used.
    fn precompressed_site() -> io::Result<(tempfile::TempDir, WebRoot)> {
        let (dir, root) = site()?;
        let www = root.path().to_owned();
        std::fs::write(www.join("app.js"), "console.log('identity')")?;
        std::fs::write(www.join("app.js.gz"), "GZ")?;
        std::fs::write(www.join("app.js.br"), "BROTLI")?;
        std::fs::write(www.join("index.html.gz"), "GZ-INDEX")?;
        std::fs::write(www.join("plain.css"), "p{}")?;
        std::fs::write(www.join("logo.png"), "PNG")?;
        std::fs::write(www.join("logo.png.gz"), "NO")?;
        Ok((dir, root))
    }

    fn asking(accept: Option<&str>, if_none_match: Option<&str>) -> Negotiation {
        Negotiation {
            accept_encoding: accept.map(|a| AcceptEncoding::parse([a.as_bytes()])),
            if_none_match: if_none_match.map(|t| vec![t.as_bytes().to_vec()]).unwrap_or_default(),
        }
    }

    /// Status, Content-Encoding, Vary and body.
    async fn fetch(
        root: &WebRoot,
        target: &str,
        negotiation: &Negotiation,
    ) -> io::Result<(u16, Option<String>, Option<String>, Vec<u8>)> {
        let response = serve_negotiated(root, false, target, negotiation).await;
        let encoding = header(&response, "Content-Encoding").map(str::to_owned);
        let vary = header(&response, "Vary").map(str::to_owned);
        let mut body = Vec::new();
        match response.body {
            Body::File(mut file, len) => {
                file.read_to_end(&mut body).await?;
                assert_eq!(body.len() as u64, len, "Content-Length is the length of the bytes sent");
            }
            Body::Bytes(bytes) => body = bytes,
            Body::Empty => {}
        }
        Ok((response.status, encoding, vary, body))
    }

    #[tokio::test]
    async fn stored_encodings_follow_accept_encoding() -> io::Result<()> {
        let (_dir, root) = precompressed_site()?;
        let vary = Some("Accept-Encoding".to_owned());
        let br = (200, Some("br".to_owned()), vary.clone(), b"BROTLI".to_vec());
        let gz = (200, Some("gzip".to_owned()), vary.clone(), b"GZ".to_vec());
        let plain = (200, None, vary.clone(), b"console.log('identity')".to_vec());
        let js = "/app.js";
        assert_eq!(fetch(&root, js, &asking(Some("gzip, deflate, br, zstd"), None)).await?, br);
        assert_eq!(fetch(&root, js, &asking(Some("gzip, deflate"), None)).await?, gz);
        assert_eq!(fetch(&root, js, &asking(Some("br;q=0.5, gzip"), None)).await?, gz);
        assert_eq!(fetch(&root, js, &asking(None, None)).await?, plain, "no header: as it is");
        assert_eq!(fetch(&root, js, &asking(Some("identity"), None)).await?, plain);
        assert_eq!(fetch(&root, js, &asking(Some("br;q=0, gzip;q=0"), None)).await?, plain);
        assert_eq!(fetch(&root, js, &asking(Some("br, identity;q=0"), None)).await?, br);
        let index = fetch(&root, "/", &asking(Some("br, gzip"), None)).await?;
        assert_eq!(index, (200, Some("gzip".to_owned()), vary.clone(), b"GZ-INDEX".to_vec()), "brotli missing");
        let response = serve_negotiated(&root, false, js, &asking(Some("br"), None)).await;
        assert_eq!(header(&response, "Content-Type"), Some("text/javascript; charset=utf-8"), "the file's type");
        Ok(())
    }

    #[tokio::test]
    async fn stored_encodings_are_never_sent_by_their_own_name() -> io::Result<()> {
        let (_dir, root) = precompressed_site()?;
        for target in ["/app.js.gz", "/app.js.br", "/index.html.gz", "/logo.png.gz"] {
            assert_eq!(fetch(&root, target, &asking(Some("gzip, br"), None)).await?.0, 404, "{target}");
            assert_eq!(fetch(&root, target, &asking(None, None)).await?.0, 404, "{target}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn images_are_sent_as_they_are_without_vary() -> io::Result<()> {
        let (_dir, root) = precompressed_site()?;
        let png = fetch(&root, "/logo.png", &asking(Some("gzip, br"), None)).await?;
        assert_eq!(png, (200, None, None, b"PNG".to_vec()));
        let css = fetch(&root, "/plain.css", &asking(Some("gzip, br"), None)).await?;
        assert_eq!(css, (200, None, Some("Accept-Encoding".to_owned()), b"p{}".to_vec()));
        Ok(())
    }

    #[tokio::test]
    async fn refusing_every_stored_encoding_is_406() -> io::Result<()> {
        let (_dir, root) = precompressed_site()?;
        assert_eq!(fetch(&root, "/plain.css", &asking(Some("br, identity;q=0"), None)).await?.0, 406);
        assert_eq!(fetch(&root, "/app.js", &asking(Some("*;q=0"), None)).await?.0, 406);
        Ok(())
    }

    #[tokio::test]
    async fn each_encoding_revalidates_with_its_own_etag() -> io::Result<()> {
        let (_dir, root) = precompressed_site()?;
        let tag_of = |r: &Response| header(r, "ETag").map(str::to_owned).unwrap_or_default();
        let br = tag_of(&serve_negotiated(&root, false, "/app.js", &asking(Some("br"), None)).await);
        let gz = tag_of(&serve_negotiated(&root, false, "/app.js", &asking(Some("gzip"), None)).await);
        let plain = tag_of(&serve_negotiated(&root, false, "/app.js", &asking(None, None)).await);
        assert!(br.ends_with("-br\"") && gz.ends_with("-gzip\""), "{br} {gz}");
        assert!(br != gz && gz != plain && br != plain);

        let not_modified = serve_negotiated(&root, false, "/app.js", &asking(Some("br"), Some(&br))).await;
        assert_eq!(not_modified.status, 304);
        assert_eq!(header(&not_modified, "ETag"), Some(br.as_str()));
        assert_eq!(header(&not_modified, "Vary"), Some("Accept-Encoding"));
        assert_eq!(header(&not_modified, "Content-Encoding"), Some("br"));
        let head = String::from_utf8_lossy(&not_modified.head_bytes()).into_owned();
        assert!(!head.contains("Content-Length"), "{head}");
        // The brotli tag does not confirm the gzip bytes, nor the file as it is.
        assert_eq!(serve_negotiated(&root, false, "/app.js", &asking(Some("gzip"), Some(&br))).await.status, 200);
        assert_eq!(serve_negotiated(&root, false, "/app.js", &asking(None, Some(&br))).await.status, 200);
        assert_eq!(serve_negotiated(&root, false, "/app.js", &asking(None, Some(&plain))).await.status, 304);
        assert_eq!(serve_negotiated(&root, false, "/", &asking(None, Some("*"))).await.status, 304);
        Ok(())
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_are_followed_only_inside_the_root() -> io::Result<()> {
        use std::os::unix::fs::symlink;
        let (dir, root) = site()?;
        symlink(dir.path().join("secret"), root.path().join("leak.txt"))?;
        symlink(dir.path(), root.path().join("up"))?;
        symlink(root.path().join("sub/notes.txt"), root.path().join("alias.txt"))?;
        symlink(root.path().join(HASHED), root.path().join("latest.wasm"))?;
        assert_eq!(get(&root, "/leak.txt").await?.0, 404);
        assert_eq!(get(&root, "/up/secret").await?.0, 404);
        assert_eq!(get(&root, "/alias.txt").await?, (200, b"nested".to_vec()));
        let latest = serve(&root, false, "/latest.wasm").await;
        assert_eq!(latest.status, 200);
        assert_eq!(header(&latest, "Cache-Control"), Some(CACHE_REVALIDATE));
        Ok(())
    }
}
