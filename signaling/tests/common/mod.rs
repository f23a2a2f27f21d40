//! Shared test harness: a real server on 127.0.0.1:0, raw-socket helpers for hostile clients,
//! and an independent well-behaved client (tokio-tungstenite) to prove others are unaffected.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use signaling::metrics::Metrics;
use signaling::ws::frame::{write_frame, FrameHeader, OpCode};
use signaling::{ServerConfig, Service};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as TMessage;

/// Upper bound for any single wait in a test: generous, so only a real hang trips it.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

pub async fn start<S: Service>(config: ServerConfig, service: S) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let metrics = Arc::new(Metrics::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(signaling::run(listener, Arc::new(config), metrics.clone(), Arc::new(service), async {
        let _ = stopped.await;
    }));
    TestServer { addr, metrics, stop: Some(stop), task }
}

/// The echo service with the default configuration, upgrading on `/ws`.
pub async fn start_echo(config: ServerConfig) -> TestServer {
    start(config, signaling::echo::Echo).await
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Triggers graceful shutdown and waits for the server to finish it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        timeout(WAIT, &mut self.task).await.expect("server stops in time").expect("server task");
    }

    pub fn metrics_text(&self) -> String {
        self.metrics.render()
    }

    /// Waits (bounded) until the metrics contain `line`: they are recorded when a session has
    /// fully ended, which may be just after the client saw the end.
    pub async fn wait_for_metric(&self, line: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.metrics_text().contains(line) {
            assert!(tokio::time::Instant::now() < deadline, "metric {line:?} never appeared:\n{}", self.metrics_text());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A well-behaved client (an independent implementation) round-trips a text message.
pub async fn assert_echo_works(url: &str) {
    let (mut ws, _) = timeout(WAIT, tokio_tungstenite::connect_async(url)).await.expect("connect in time").expect("connect");
    ws.send(TMessage::text("still fine")).await.expect("send");
    let reply = timeout(WAIT, ws.next()).await.expect("reply in time").expect("a reply").expect("ok reply");
    assert_eq!(reply, TMessage::text("still fine"));
    ws.close(None).await.expect("close");
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("tcp connect")
}

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

pub fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Sends a valid upgrade on a raw socket and consumes the `101` response head.
pub async fn raw_websocket(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = connect(addr).await;
    stream.write_all(upgrade_request(path, "").as_bytes()).await.expect("write upgrade");
    let head = read_http_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "expected 101, got {head:?}");
    stream
}

/// Reads an HTTP response head byte by byte (tests only) up to the blank line.
pub async fn read_http_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = timeout(WAIT, stream.read(&mut byte)).await.expect("response in time").expect("read");
        if n == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The status code of a response head.
pub fn status_of(head: &str) -> u16 {
    head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Sends `request` on a fresh connection and returns the response head.
pub async fn http_head(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.expect("write request");
    read_http_head(&mut stream).await
}

/// A masked client frame.
pub fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, fin, opcode, Some([0x3a, 0x91, 0x07, 0xc4]), payload);
    out
}

/// Reads one server frame: (header, payload). `None` on EOF or reset.
pub async fn read_frame(stream: &mut TcpStream) -> Option<(FrameHeader, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Ok(Some((header, len))) = FrameHeader::parse(&buf) {
            let total = len + header.payload_len as usize;
            while buf.len() < total {
                read_more(stream, &mut buf).await?;
            }
            return Some((header, buf[len..total].to_vec()));
        }
        read_more(stream, &mut buf).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 4096];
    match timeout(WAIT, stream.read(&mut chunk)).await.expect("server answers in time") {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}

/// Reads frames until a close frame; returns its code (`None` for an empty close body).
/// Panics if the connection ends without one.
pub async fn expect_close(stream: &mut TcpStream) -> Option<u16> {
    loop {
        let (header, payload) = read_frame(stream).await.expect("a close frame before EOF");
        if header.opcode == OpCode::Close {
            return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
}

/// After the server's close frame, the server ends the TCP connection (bounded wait).
pub async fn expect_eof(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    loop {
        match timeout(WAIT, stream.read(&mut sink)).await.expect("server closes TCP in time") {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
