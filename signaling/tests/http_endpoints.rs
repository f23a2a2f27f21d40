//! Plain HTTP on the WebSocket port, spoken over raw TCP against the real server: health, metrics,
//! static files (and every way out of the web root), routing statuses, keep-alive and versions.

mod common;

use std::io;
use std::time::{Duration, Instant};

use common::*;
use signaling::http::static_files::WebRoot;
use signaling::{HttpConfig, ServerConfig};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt as _;

const INDEX_HTML: &str = "<!doctype html><title>Connect</title><h1>Connect</h1>\n";
const WASM_NAME: &str = "webclient-1a2b3c4d5e6f7890_bg.wasm";
const WASM: &[u8] = b"\0asm\x01\0\0\0";
const JS_NAME: &str = "webclient-1a2b3c4d5e6f7890.js";
const JS: &str = "export default function init() {}\n";
const SECRET: &str = "top secret: not for the web";

/// `dir/www` is the web root; `dir/secret` lies beside it, one `..` away, and (on unix)
/// `www/leak.txt` is a symlink to it.
fn site() -> io::Result<(TempDir, WebRoot)> {
    let dir = tempfile::tempdir()?;
    let www = dir.path().join("www");
    std::fs::create_dir(&www)?;
    std::fs::write(www.join("index.html"), INDEX_HTML)?;
    std::fs::write(www.join(WASM_NAME), WASM)?;
    std::fs::write(www.join(JS_NAME), JS)?;
    std::fs::write(dir.path().join("secret"), SECRET)?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("secret"), www.join("leak.txt"))?;
    let root = WebRoot::new(&www)?;
    Ok((dir, root))
}

/// The echo server with `site()` as its web root. Keep the `TempDir` alive for the test.
async fn start_with_site() -> io::Result<(TempDir, TestServer)> {
    let (dir, root) = site()?;
    let server = start_echo(ServerConfig {
        http: HttpConfig { web_root: Some(root), ..HttpConfig::default() },
        ..ServerConfig::default()
    })
    .await;
    Ok((dir, server))
}

fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

fn request(method: &str, path: &str, extra: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n")
}

/// Sends `request` (which should ask for `Connection: close`), reads one response without its
/// body, and returns it with every byte the server sent after the head before closing.
async fn head_and_rest(server: &TestServer, request: &str) -> (HttpResponse, Vec<u8>) {
    let mut stream = connect(server.addr).await;
    stream.write_all(request.as_bytes()).await.expect("write request");
    let response = read_response(&mut stream, true).await;
    let rest = read_until_eof(&mut stream).await;
    (response, rest)
}

// ---------------------------------------------------------------------------------------------
// Health

#[tokio::test]
async fn get_healthz_is_200_ok() {
    let server = start_echo(ServerConfig::default()).await;
    let response = http_get(server.addr, "/healthz").await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.body_text().trim_end(), "ok");
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    server.shutdown().await;
}

#[tokio::test]
async fn head_healthz_has_content_length_but_no_body() {
    let server = start_echo(ServerConfig::default()).await;
    let (response, rest) = head_and_rest(&server, &request("HEAD", "/healthz", "Connection: close\r\n")).await;
    assert_eq!(response.status, 200, "{}", response.head);
    let get = http_get(server.addr, "/healthz").await;
    assert_eq!(response.header("Content-Length"), Some(get.body.len().to_string().as_str()));
    assert_eq!(rest, b"", "a HEAD response carries no body bytes");
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Metrics

const FAMILIES: [&str; 8] = [
    "signaling_connections_open",
    "signaling_connections_total",
    "signaling_messages_in_total",
    "signaling_messages_out_total",
    "signaling_bytes_in_total",
    "signaling_bytes_out_total",
    "signaling_handshake_failures_total",
    "signaling_ws_closes_total",
];

/// Checks one sample line of the Prometheus text format: `name{label="value",...} number`.
fn check_sample(line: &str) -> Result<&str, String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let name_end = line.find(|c: char| !is_name_char(c)).ok_or("no value after the name")?;
    let (name, rest) = line.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("bad metric name {name:?}"));
    }
    let rest = match rest.strip_prefix('{') {
        Some(labels) => {
            let (labels, rest) = labels.split_once('}').ok_or("unclosed label set")?;
            for pair in labels.split(',') {
                let (key, value) = pair.split_once('=').ok_or(format!("label without '=': {pair:?}"))?;
                let key_ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
                if !key_ok || !quoted || value[1..value.len() - 1].contains('"') {
                    return Err(format!("bad label {pair:?}"));
                }
            }
            rest
        }
        None => rest,
    };
    let value = rest.strip_prefix(' ').ok_or("no single space before the value")?;
    value.parse::<f64>().map_err(|e| format!("value {value:?}: {e}"))?;
    Ok(name)
}

/// Every sample line is well formed and belongs to a family declared by a `# TYPE` line above it.
fn assert_prometheus_text(text: &str) {
    let mut declared = Vec::new();
    for line in text.lines() {
        if let Some(decl) = line.strip_prefix("# TYPE ") {
            let (name, kind) = decl.split_once(' ').unwrap_or((decl, ""));
            assert!(["counter", "gauge"].contains(&kind), "unknown type in {line:?}");
            declared.push(name.to_owned());
        } else if line.starts_with('#') {
            assert!(line.starts_with("# HELP "), "comment neither HELP nor TYPE: {line:?}");
        } else {
            let name = check_sample(line).unwrap_or_else(|e| panic!("{e}: {line:?}\n{text}"));
            assert!(declared.iter().any(|d| d == name), "sample before its # TYPE: {line:?}");
        }
    }
}

async fn metrics_text(server: &TestServer) -> String {
    let response = http_get(server.addr, "/metrics").await;
    assert_eq!(response.status, 200, "{}", response.head);
    String::from_utf8(response.body).expect("metrics are UTF-8")
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_every_family() {
    let server = start_echo(ServerConfig::default()).await;
    let response = http_get(server.addr, "/metrics").await;
    assert_eq!(response.status, 200, "{}", response.head);
    let content_type = response.header("Content-Type").expect("a Content-Type");
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.body_text();
    for family in FAMILIES {
        assert!(text.contains(&format!("\n# TYPE {family} ")), "family {family} missing:\n{text}");
    }
    // Our own connection is open while the metrics are rendered.
    assert!(!text.contains("\nsignaling_connections_open 0\n"), "{text}");
    assert_prometheus_text(&text);
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_handshake_shows_up_with_its_reason() {
    let server = start_echo(ServerConfig::default()).await;
    let line = "signaling_handshake_failures_total{reason=\"version\"} 1\n";
    assert!(!metrics_text(&server).await.contains(line));
    let wrong_version = format!(
        "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n\r\n"
    );
    let refused = http_request(server.addr, &wrong_version).await;
    assert_eq!(refused.status, 426, "{}", refused.head);
    assert_eq!(refused.header("Sec-WebSocket-Version"), Some("13"));
    let text = metrics_text(&server).await;
    assert!(text.contains(line), "{text}");
    assert_prometheus_text(&text);
    server.shutdown().await;
}

#[tokio::test]
async fn a_websocket_close_shows_up_with_code_and_initiator() {
    let server = start_echo(ServerConfig::default()).await;
    assert_echo_works(&server.url("/ws")).await;
    // That client closes with an empty close frame: code 1005, "no status received" (RFC 6455 §7.1.5).
    // Recorded when the session has fully ended, which may be just after the client saw the end.
    let line = "signaling_ws_closes_total{code=\"1005\",initiator=\"peer\"} 1\n";
    let deadline = Instant::now() + WAIT;
    let text = loop {
        let text = metrics_text(&server).await;
        if text.contains(line) {
            break text;
        }
        assert!(Instant::now() < deadline, "{line:?} never appeared:\n{text}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(text.contains("signaling_messages_in_total 1\n"), "{text}");
    assert!(text.contains("signaling_messages_out_total 1\n"), "{text}");
    assert_prometheus_text(&text);
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Static files

#[tokio::test]
async fn root_serves_index_html() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    let response = http_get(server.addr, "/").await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.body_text(), INDEX_HTML);
    assert_eq!(response.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert_eq!(response.header("Cache-Control"), Some("no-cache"));
    assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(http_get(server.addr, "/index.html").await.body_text(), INDEX_HTML);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn wasm_is_served_as_application_wasm() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    let response = http_get(server.addr, &format!("/{WASM_NAME}")).await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.header("Content-Type"), Some("application/wasm"));
    assert_eq!(response.body, WASM);
    // A content-hashed name may be cached for good.
    assert_eq!(response.header("Cache-Control"), Some("public, max-age=31536000, immutable"));
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn js_is_served_as_javascript() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    let response = http_get(server.addr, &format!("/{JS_NAME}")).await;
    assert_eq!(response.status, 200, "{}", response.head);
    let content_type = response.header("Content-Type").expect("a Content-Type");
    assert!(content_type.starts_with("text/javascript"), "{content_type}");
    assert_eq!(response.body_text(), JS);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn head_of_a_file_sends_its_headers_without_the_body() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    let (head, rest) = head_and_rest(&server, &request("HEAD", "/", "Connection: close\r\n")).await;
    assert_eq!(head.status, 200, "{}", head.head);
    assert_eq!(head.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert_eq!(head.header("Content-Length"), Some(INDEX_HTML.len().to_string().as_str()));
    assert_eq!(rest, b"", "a HEAD response carries no body bytes");
    let (missing, rest) = head_and_rest(&server, &request("HEAD", "/missing", "Connection: close\r\n")).await;
    assert_eq!(missing.status, 404, "{}", missing.head);
    assert_eq!(rest, b"", "not even for an error status");
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn missing_file_is_404() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    for path in ["/missing", "/missing.js", "/sub/missing.html"] {
        let response = http_get(server.addr, path).await;
        assert_eq!(response.status, 404, "{path}: {}", response.head);
    }
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn paths_out_of_the_web_root_are_404() -> io::Result<()> {
    let (dir, server) = start_with_site().await?;
    assert!(dir.path().join("secret").is_file(), "the fixture has a secret to leak");
    let mut escapes = vec!["/../secret", "/%2e%2e/secret", "/%2E%2E/secret", "/..%2fsecret", "/x/../../secret"];
    if cfg!(unix) {
        escapes.push("/leak.txt"); // a symlink to ../secret
    }
    for path in escapes {
        let response = http_get(server.addr, path).await;
        assert_eq!(response.status, 404, "{path}: {}", response.head);
        assert!(!response.body_text().contains(SECRET), "{path} leaked the secret");
    }
    server.shutdown().await;
    Ok(())
}

/// Dotfiles an operator keeps beside the built client (`.env`, `.git/`) are never served.
#[tokio::test]
async fn hidden_files_under_the_web_root_are_404() -> io::Result<()> {
    let (dir, server) = start_with_site().await?;
    let www = dir.path().join("www");
    std::fs::write(www.join(".env"), "TURN_SECRET=do-not-serve")?;
    std::fs::create_dir_all(www.join(".git"))?;
    std::fs::write(www.join(".git").join("config"), "[core]")?;
    for path in ["/.env", "/.git/config", "/%2eenv", "/sub/../.env"] {
        let response = http_get(server.addr, path).await;
        assert_eq!(response.status, 404, "{path}: {}", response.head);
        assert!(!response.body_text().contains("do-not-serve"), "{path}");
    }
    assert_eq!(http_get(server.addr, "/").await.status, 200, "the site itself is still served");
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn without_a_web_root_everything_else_is_404() {
    let server = start_echo(ServerConfig::default()).await;
    for path in ["/", "/index.html", "/nope"] {
        let response = http_get(server.addr, path).await;
        assert_eq!(response.status, 404, "{path}: {}", response.head);
    }
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Routing statuses

#[tokio::test]
async fn websocket_path_without_upgrade_is_426() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    let response = http_get(server.addr, "/ws").await;
    assert_eq!(response.status, 426, "{}", response.head);
    assert_eq!(response.header("Upgrade"), Some("websocket"));
    assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"));
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unknown_path_is_404() {
    let server = start_echo(ServerConfig::default()).await;
    let response = http_get(server.addr, "/no/such/endpoint").await;
    assert_eq!(response.status, 404, "{}", response.head);
    // An upgrade on another path than the WebSocket one is not found either.
    let upgrade = http_request(server.addr, &upgrade_request("/elsewhere", "")).await;
    assert_eq!(upgrade.status, 404, "{}", upgrade.head);
    server.shutdown().await;
}

#[tokio::test]
async fn other_methods_are_405_with_allow() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    for (method, path) in [("POST", "/healthz"), ("DELETE", "/"), ("PUT", "/x"), ("OPTIONS", "/metrics")] {
        let response = http_request(server.addr, &request(method, path, "")).await;
        assert_eq!(response.status, 405, "{method} {path}: {}", response.head);
        assert_eq!(response.header("Allow"), Some("GET, HEAD"), "{method} {path}");
    }
    server.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Connection management

#[tokio::test]
async fn keep_alive_answers_two_requests_on_one_connection() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    let mut stream = connect(server.addr).await;
    stream.write_all(get_request("/healthz").as_bytes()).await?;
    let first = read_response(&mut stream, false).await;
    assert_eq!((first.status, first.body_text().trim_end()), (200, "ok"), "{}", first.head);
    assert_ne!(first.header("Connection"), Some("close"));
    stream.write_all(get_request("/").as_bytes()).await?;
    let second = read_response(&mut stream, false).await;
    assert_eq!(second.status, 200, "{}", second.head);
    assert_eq!(second.body_text(), INDEX_HTML);
    drop(stream);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn connection_close_is_honoured_after_the_response() {
    let server = start_echo(ServerConfig::default()).await;
    let mut stream = connect(server.addr).await;
    stream.write_all(request("GET", "/healthz", "Connection: close\r\n").as_bytes()).await.expect("write");
    let response = read_response(&mut stream, false).await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(read_until_eof(&mut stream).await, b"", "the server closes after the response");
    server.shutdown().await;
}

/// A request smuggled behind a second `Content-Length` is never answered: whichever length a
/// proxy in front believed, a request announcing a body (by any of its length headers) gets its
/// one response and the connection closes, so the hidden request is not read as the next one.
#[tokio::test]
async fn a_request_hidden_behind_a_second_content_length_is_not_answered() {
    let server = start_echo(ServerConfig::default()).await;
    let hidden = get_request("/metrics");
    let smuggling = format!(
        "GET /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{hidden}",
        hidden.len()
    );
    let mut stream = connect(server.addr).await;
    stream.write_all(smuggling.as_bytes()).await.expect("write");
    let response = read_response(&mut stream, false).await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(read_until_eof(&mut stream).await, b"", "no second response: the hidden request is not served");
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() -> io::Result<()> {
    let (_dir, server) = start_with_site().await?;
    let mut stream = connect(server.addr).await;
    let both = format!("{}{}", get_request("/healthz"), get_request("/"));
    stream.write_all(both.as_bytes()).await?;
    let first = read_response(&mut stream, false).await;
    assert_eq!((first.status, first.body_text().trim_end()), (200, "ok"), "{}", first.head);
    let second = read_response(&mut stream, false).await;
    assert_eq!(second.status, 200, "{}", second.head);
    assert_eq!(second.body_text(), INDEX_HTML);
    drop(stream);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn an_idle_keep_alive_connection_does_not_delay_shutdown() {
    let server = start_echo(ServerConfig::default()).await;
    let mut idle = connect(server.addr).await;
    idle.write_all(get_request("/healthz").as_bytes()).await.expect("write");
    assert_eq!(read_response(&mut idle, false).await.status, 200);
    let started = Instant::now();
    server.shutdown().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "shutdown took {took:?} with one idle keep-alive connection");
    assert_eq!(read_until_eof(&mut idle).await, b"");
}

// ---------------------------------------------------------------------------------------------
// HTTP versions

/// HTTP/1.0 clients (load balancer health checks, `ab`, nginx's default upstream protocol) are
/// answered, and the connection is closed after the response; only the upgrade needs HTTP/1.1.
#[tokio::test]
async fn http_1_0_is_answered_and_the_connection_closes() {
    let server = start_echo(ServerConfig::default()).await;
    let mut stream = connect(server.addr).await;
    stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").await.expect("write");
    let response = read_response(&mut stream, false).await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(read_until_eof(&mut stream).await, b"");
    let upgrade = http_request(server.addr, &upgrade_request("/ws", "").replace("HTTP/1.1", "HTTP/1.0")).await;
    assert_eq!(upgrade.status, 400, "{}", upgrade.head);
    assert!(metrics_text(&server).await.contains("signaling_handshake_failures_total{reason=\"http_version\"} 1\n"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_http_version_is_505() {
    let server = start_echo(ServerConfig::default()).await;
    let response = http_request(server.addr, "GET /healthz HTTP/1.2\r\nHost: test\r\n\r\n").await;
    assert_eq!(response.status, 505, "{}", response.head);
    server.shutdown().await;
}
