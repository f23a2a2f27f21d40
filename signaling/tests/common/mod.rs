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
    let (mut ws, _) =
        timeout(WAIT, tokio_tungstenite::connect_async(url)).await.expect("connect in time").expect("connect");
    ws.send(TMessage::text("still fine")).await.expect("send");
    let reply = timeout(WAIT, ws.next()).await.expect("reply in time").expect("a reply").expect("ok reply");
    assert_eq!(reply, TMessage::text("still fine"));
    ws.close(None).await.expect("close");
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("tcp connect")
}

/// A TCP connection from the loopback address `local` (any of 127.0.0.0/8 on Linux), so one
/// test can be many client addresses.
pub async fn connect_from(local: &str, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    let local: std::net::IpAddr = local.parse().expect("a local address");
    socket.bind(SocketAddr::new(local, 0)).expect("bind the local address");
    timeout(WAIT, socket.connect(addr)).await.expect("connect in time").expect("tcp connect")
}

/// A raw WebSocket from the loopback address `local`; its `101` consumed.
pub async fn raw_websocket_from(local: &str, addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = connect_from(local, addr).await;
    stream.write_all(upgrade_request(path, "").as_bytes()).await.expect("write upgrade");
    let head = read_http_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "expected 101, got {head:?}");
    stream
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

/// A complete HTTP response read from a raw socket: the head as text and the body it announced.
#[derive(Debug)]
pub struct HttpResponse {
    pub head: String,
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The value of the first header named `name` (ASCII case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.head, name)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The value of the first header named `name` in a response head (ASCII case-insensitive), trimmed.
pub fn header_of<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Reads one response: the head, then exactly `Content-Length` body bytes unless `head_only`
/// (the answer to a HEAD request carries none). Reads nothing past the response, so pipelined
/// responses on the same stream can be read one after the other.
pub async fn read_response(stream: &mut TcpStream, head_only: bool) -> HttpResponse {
    let head = read_http_head(stream).await;
    assert!(head.ends_with("\r\n\r\n"), "connection ended inside a response head: {head:?}");
    let status = status_of(&head);
    let len: usize = match header_of(&head, "Content-Length") {
        Some(len) => len.parse().expect("numeric Content-Length"),
        None => panic!("response without Content-Length: {head:?}"),
    };
    let mut body = vec![0u8; if head_only { 0 } else { len }];
    timeout(WAIT, stream.read_exact(&mut body)).await.expect("body in time").expect("whole body");
    HttpResponse { head, status, body }
}

/// Sends `request` on a fresh connection and reads one response (a `HEAD` request reads no body).
pub async fn http_request(addr: SocketAddr, request: &str) -> HttpResponse {
    let mut stream = connect(addr).await;
    stream.write_all(request.as_bytes()).await.expect("write request");
    read_response(&mut stream, request.starts_with("HEAD ")).await
}

/// `GET path` on a fresh connection.
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    http_request(addr, &format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")).await
}

/// Everything the server still sends until it closes the connection (bounded wait).
pub async fn read_until_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    match timeout(WAIT, stream.read_to_end(&mut rest)).await.expect("server closes in time") {
        Ok(_) => rest,
        // A reset after the response counts as closed too.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => rest,
        Err(e) => panic!("read until EOF: {e}"),
    }
}

/// A well-behaved client (tokio-tungstenite) kept open across a test.
pub type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Connects a well-behaved client; connect it before the bad input to prove it was unaffected.
pub async fn connect_client(url: &str) -> Client {
    let (ws, _) =
        timeout(WAIT, tokio_tungstenite::connect_async(url)).await.expect("connect in time").expect("connect");
    ws
}

/// `client` still round-trips a text message. Pings the server sent meanwhile are skipped (reading
/// them makes tungstenite queue the pong, which goes out with the next read or write).
pub async fn assert_client_echoes(client: &mut Client) {
    client.send(TMessage::text("unaffected")).await.expect("send");
    loop {
        let reply = timeout(WAIT, client.next()).await.expect("reply in time").expect("a reply").expect("ok reply");
        match reply {
            TMessage::Ping(_) | TMessage::Pong(_) => continue,
            reply => return assert_eq!(reply, TMessage::text("unaffected")),
        }
    }
}

/// A masked client frame whose first byte (FIN, RSV1-3, opcode) is given raw, so reserved bits and
/// reserved opcodes can be sent; the length and mask are encoded correctly.
pub fn client_frame_with_first_byte(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = client_frame(true, OpCode::Binary, payload);
    frame[0] = first_byte;
    frame
}

/// An unmasked frame: what only a server may send (RFC 6455 §5.1).
pub fn unmasked_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, true, opcode, None, payload);
    out
}

/// A masked close frame carrying `code` and `reason` (§5.5.1).
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    client_frame(true, OpCode::Close, &payload)
}

/// Writes `bytes` to a raw socket (bounded wait).
pub async fn send_bytes(stream: &mut TcpStream, bytes: &[u8]) {
    timeout(WAIT, stream.write_all(bytes)).await.expect("write in time").expect("write");
}

/// Closes `client` cleanly: sends a close frame and reads until the server ends the connection, so
/// the server has nothing left to wait for (bounded wait).
pub async fn close_client(mut client: Client) {
    client.close(None).await.expect("close");
    while let Some(Ok(_)) = timeout(WAIT, client.next()).await.expect("server ends the connection in time") {}
}

/// Splits server bytes (e.g. from [`read_until_eof`]) into frames: (header, payload). Unlike
/// [`read_frame`], nothing after the first frame of a read is lost. A trailing partial frame is
/// an error: the server never cuts a frame short before ending the connection.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (header, len) = FrameHeader::parse(bytes).expect("a valid server frame").expect("a whole frame header");
        let end = len + usize::try_from(header.payload_len).expect("payload fits in memory");
        assert!(bytes.len() >= end, "the connection ended inside a frame");
        frames.push((header, bytes[len..end].to_vec()));
        bytes = &bytes[end..];
    }
    frames
}

/// Reads server frames one after another from a raw socket, keeping bytes that arrived beyond
/// the current frame. (`read_frame` drops them, so it is only safe when nothing else follows.)
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// The next server frame: (header, payload). `None` on EOF or reset.
    pub async fn next(&mut self, stream: &mut TcpStream) -> Option<(FrameHeader, Vec<u8>)> {
        loop {
            if let Ok(Some((header, len))) = FrameHeader::parse(&self.buf) {
                let total = len + header.payload_len as usize;
                if self.buf.len() >= total {
                    let payload = self.buf[len..total].to_vec();
                    self.buf.drain(..total);
                    return Some((header, payload));
                }
            }
            read_more(stream, &mut self.buf).await?;
        }
    }
}

/// Sends `bytes` on an upgraded raw socket and proves the connection is failed (§7.1.7): a close
/// frame with `code`, then the server ends TCP; the metrics record `label` and the code; a client
/// connected before plus a new one still echo.
pub async fn assert_failed_with(config: ServerConfig, bytes: &[u8], code: u16, label: &str) {
    let server = start_echo(config).await;
    let mut bystander = connect_client(&server.url("/ws")).await;
    let mut stream = raw_websocket(server.addr, "/ws").await;
    send_bytes(&mut stream, bytes).await;
    assert_eq!(expect_close(&mut stream).await, Some(code));
    expect_eof(&mut stream).await;
    drop(stream);
    server.wait_for_metric(&format!("signaling_ws_disconnects_total{{reason=\"{label}\"}} 1\n")).await;
    server.wait_for_metric(&format!("signaling_ws_closes_total{{code=\"{code}\",initiator=\"server\"}} 1\n")).await;
    assert_client_echoes(&mut bystander).await;
    assert_echo_works(&server.url("/ws")).await;
    close_client(bystander).await;
    server.shutdown().await;
}
