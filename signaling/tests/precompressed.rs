//! `--web-root` sends the stored encodings `cargo xtask web` writes beside each asset
//! (`<name>.br`, `<name>.gz`), chosen by `Accept-Encoding`, over the wire of the real server:
//! `Content-Encoding`, `Vary`, the length of the bytes sent, and 304 per encoding by `ETag`. A
//! client that does not ask gets the file as it is, and the stored files are never served by
//! their own names.

mod common;

use std::io;

use common::*;
use signaling::http::static_files::WebRoot;
use signaling::{HttpConfig, ServerConfig};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt as _;

const JS_NAME: &str = "webclient-1a2b3c4d5e6f7890.js";
const JS: &str = "export default function init() { return 'the file as it is'; }\n";
/// Stand-ins for the compressed bytes: the server never looks inside, so distinct bytes show
/// which file went out.
const JS_GZ: &[u8] = b"\x1f\x8b gzip stand-in";
const JS_BR: &[u8] = b"brotli stand-in";

async fn start() -> io::Result<(TempDir, TestServer)> {
    let dir = tempfile::tempdir()?;
    let www = dir.path().join("www");
    std::fs::create_dir(&www)?;
    std::fs::write(www.join("index.html"), "<!doctype html><title>Connect</title>")?;
    std::fs::write(www.join("index.html.gz"), "index gzip stand-in")?;
    std::fs::write(www.join(JS_NAME), JS)?;
    std::fs::write(www.join(format!("{JS_NAME}.gz")), JS_GZ)?;
    std::fs::write(www.join(format!("{JS_NAME}.br")), JS_BR)?;
    let root = WebRoot::new(&www)?;
    let config =
        ServerConfig { http: HttpConfig { web_root: Some(root), ..HttpConfig::default() }, ..ServerConfig::default() };
    Ok((dir, start_echo(config).await))
}

fn get(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n")
}

#[tokio::test]
async fn browsers_get_brotli_and_others_what_they_ask_for() -> io::Result<()> {
    let (_dir, server) = start().await?;
    let js = format!("/{JS_NAME}");
    let cases: [(&str, Option<&str>, &[u8]); 6] = [
        ("Accept-Encoding: gzip, deflate, br, zstd\r\n", Some("br"), JS_BR),
        ("Accept-Encoding: gzip, deflate\r\n", Some("gzip"), JS_GZ),
        ("Accept-Encoding: br;q=0.1, gzip, identity;q=0.5\r\n", Some("gzip"), JS_GZ),
        ("", None, JS.as_bytes()),
        ("Accept-Encoding: identity\r\n", None, JS.as_bytes()),
        ("Accept-Encoding: gzip;q=0, br;q=0\r\n", None, JS.as_bytes()),
    ];
    for (headers, encoding, body) in cases {
        let response = http_request(server.addr, &get(&js, headers)).await;
        assert_eq!(response.status, 200, "{headers:?}: {}", response.head);
        assert_eq!(response.header("Content-Encoding"), encoding, "{headers:?}");
        assert_eq!(response.body, body, "{headers:?}");
        assert_eq!(response.header("Content-Length"), Some(body.len().to_string().as_str()), "{headers:?}");
        assert_eq!(response.header("Vary"), Some("Accept-Encoding"), "{headers:?}");
        assert_eq!(response.header("Content-Type"), Some("text/javascript; charset=utf-8"), "{headers:?}");
        assert_eq!(response.header("Cache-Control"), Some("public, max-age=31536000, immutable"));
    }
    let index = http_request(server.addr, &get("/", "Accept-Encoding: br, gzip\r\n")).await;
    assert_eq!((index.header("Content-Encoding"), index.body_text()), (Some("gzip"), "index gzip stand-in".into()));
    let refused = http_request(server.addr, &get(&js, "Accept-Encoding: identity;q=0, deflate\r\n")).await;
    assert_eq!(refused.status, 406, "{}", refused.head);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn stored_encodings_are_not_served_by_their_own_names() -> io::Result<()> {
    let (_dir, server) = start().await?;
    for path in [format!("/{JS_NAME}.gz"), format!("/{JS_NAME}.br"), "/index.html.gz".to_owned()] {
        let response = http_request(server.addr, &get(&path, "Accept-Encoding: gzip, br\r\n")).await;
        assert_eq!(response.status, 404, "{path}: {}", response.head);
    }
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn each_encoding_revalidates_with_its_own_etag() -> io::Result<()> {
    let (_dir, server) = start().await?;
    let js = format!("/{JS_NAME}");
    let br = http_request(server.addr, &get(&js, "Accept-Encoding: br\r\n")).await;
    let gz = http_request(server.addr, &get(&js, "Accept-Encoding: gzip\r\n")).await;
    let (br_tag, gz_tag) = (br.header("ETag").expect("an ETag"), gz.header("ETag").expect("an ETag"));
    assert_ne!(br_tag, gz_tag);

    // Same encoding, same tag: 304 with the validators and Vary, and no body.
    let request = get(&js, &format!("Accept-Encoding: br\r\nIf-None-Match: {br_tag}\r\nConnection: close\r\n"));
    let mut stream = connect(server.addr).await;
    stream.write_all(request.as_bytes()).await?;
    let raw = String::from_utf8_lossy(&read_until_eof(&mut stream).await).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete head");
    assert!(head.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{head}");
    assert_eq!(header_of(&format!("{head}\r\n"), "ETag"), Some(br_tag));
    assert_eq!(header_of(&format!("{head}\r\n"), "Vary"), Some("Accept-Encoding"));
    assert_eq!(header_of(&format!("{head}\r\n"), "Content-Length"), None, "not the length of a 200");
    assert_eq!(body, "");

    // The brotli tag does not confirm the gzip bytes a gzip-only client would get.
    let other =
        http_request(server.addr, &get(&js, &format!("Accept-Encoding: gzip\r\nIf-None-Match: {br_tag}\r\n"))).await;
    assert_eq!((other.status, other.body.as_slice()), (200, JS_GZ));
    server.shutdown().await;
    Ok(())
}
