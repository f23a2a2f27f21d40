//! Shared by the rooms tests: a real rooms server on 127.0.0.1:0 whose engine and `Metrics` the
//! test keeps, an independent client (tokio-tungstenite) that speaks the protocol only through the
//! `shared` types, and a raw-socket peer for connections that misbehave below the WebSocket layer.
//!
//! The engine is the including crate's `ENGINE`: `"memory"` in `rooms*.rs`, `"redis"` when
//! `rooms_on_redis.rs` runs the same suites again, each server on a fresh `redis-server` of its own.
//!
//! Every wait is bounded: by [`WAIT`] for something that must happen, by an explicit duration for
//! "nothing arrives".
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use shared::{ClientMessage, ErrorCode, IceServer, PeerId, ResumeToken, RoomId, ServerMessage, Signal};
use signaling::metrics::Metrics;
use signaling::node::Engine;
use signaling::ws::frame::{FrameHeader, OpCode};
use signaling::{RedisConfig, RoomsConfig, ServerConfig};
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::Message;

use super::common::{self, WAIT};

#[path = "redis.rs"]
mod redis_server;
pub use redis_server::RedisServer;

/// Whether this test binary runs the suite on the Redis engine.
pub fn on_redis() -> bool {
    match crate::ENGINE {
        "memory" => false,
        "redis" => true,
        other => panic!("unknown ENGINE {other:?}"),
    }
}

/// How long "nothing arrives" is checked after something that would be announced at once: ample
/// for a message already on its way over loopback, short enough to keep such checks cheap.
pub const QUIET: Duration = Duration::from_millis(300);

/// Most messages a test reads while skipping others (e.g. the errors before a flood's close).
const MAX_SKIPPED: usize = 1_000;

/// The real server with the rooms service, keeping the engine (for `counts()`) and the one
/// `Metrics` both the server and the engine write to.
pub struct RoomServer {
    pub addr: SocketAddr,
    pub engine: Engine,
    /// The Redis the engine uses, on the Redis engine: killed when the server is dropped.
    pub redis: Option<RedisServer>,
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// A rooms server with the default server settings.
pub async fn start(rooms: RoomsConfig) -> RoomServer {
    start_with(ServerConfig::default(), rooms).await
}

/// A rooms server with its own server settings (keepalive timers, for instance).
pub async fn start_with(config: ServerConfig, rooms_config: RoomsConfig) -> RoomServer {
    start_tuned(config, rooms_config, |_| {}).await
}

/// A rooms server whose Redis engine settings `tune` changes first (ignored on the memory engine).
pub async fn start_tuned(
    config: ServerConfig,
    rooms_config: RoomsConfig,
    tune: impl FnOnce(&mut RedisConfig),
) -> RoomServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let metrics = Arc::new(Metrics::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let config = Arc::new(config);
    let redis = on_redis().then(RedisServer::start);
    let redis_config = redis.as_ref().map(|redis| {
        let mut redis_config = RedisConfig::new(redis.url());
        tune(&mut redis_config);
        redis_config
    });
    let engine = Engine::start(rooms_config, redis_config, &metrics).expect("start the engine");
    wait_until_healthy(&engine).await;
    let task = tokio::spawn({
        let (engine, metrics) = (engine.clone(), metrics.clone());
        async move { engine.serve(listener, config, metrics, stopped).await }
    });
    RoomServer { addr, engine, redis, metrics, stop: Some(stop), task }
}

/// Waits (bounded) until the engine takes joins: the Redis engine connects in the background.
pub async fn wait_until_healthy(engine: &Engine) {
    let deadline = Instant::now() + WAIT;
    while !engine.healthy() {
        assert!(Instant::now() < deadline, "the engine did not become healthy within {WAIT:?}");
        sleep(Duration::from_millis(5)).await;
    }
}

impl RoomServer {
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.url()).await
    }

    /// The value of the sample named exactly `name` (labels included), if it is rendered.
    pub fn metric(&self, name: &str) -> Option<i64> {
        let text = self.metrics.render();
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// Waits (bounded) until the sample `name` has `value`: some are updated just after the
    /// client saw the effect (a relay counts after queueing, a seat is freed when a session ends).
    pub async fn wait_for_metric(&self, name: &str, value: i64) {
        let deadline = Instant::now() + WAIT;
        while self.metric(name) != Some(value) {
            assert!(
                Instant::now() < deadline,
                "{name} is {:?}, expected {value}:\n{}",
                self.metric(name),
                self.metrics.render()
            );
            sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (bounded) until the sample `name` reaches at least `value`.
    pub async fn wait_for_metric_at_least(&self, name: &str, value: i64) {
        let deadline = Instant::now() + WAIT;
        while self.metric(name).unwrap_or(0) < value {
            assert!(Instant::now() < deadline, "{name} is {:?}, expected {value} or more", self.metric(name));
            sleep(Duration::from_millis(10)).await;
        }
    }

    /// On the Redis engine, stalls the room store: Redis runs no command of any client for
    /// `millis` (`CLIENT PAUSE … ALL`), as a slow or overloaded Redis would. Nothing on memory.
    pub async fn stall_room_store(&self, millis: u64) {
        let Some(redis) = &self.redis else { return };
        let client = ::redis::Client::open(redis.url()).expect("a Redis URL");
        let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
        let () = ::redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(millis)
            .arg("ALL")
            .query_async(&mut conn)
            .await
            .expect("CLIENT PAUSE");
    }

    /// `(rooms, seats)` as the engine holds them, away seats included.
    pub async fn counts(&self) -> (usize, usize) {
        self.engine.counts().await
    }

    /// Waits (bounded) until the engine holds `(rooms, seats)`.
    pub async fn wait_for_counts(&self, expected: (usize, usize)) {
        let deadline = Instant::now() + WAIT;
        loop {
            let counts = self.counts().await;
            if counts == expected {
                return;
            }
            assert!(Instant::now() < deadline, "counts {counts:?}, expected {expected:?}");
            sleep(Duration::from_millis(10)).await;
        }
    }

    /// Graceful shutdown, awaited. Drop or close the clients first, or the server waits for them.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The server task closes the engine after the server stops.
        timeout(WAIT, &mut self.task).await.expect("server stops in time").expect("server task");
    }
}

/// Per-address limits lifted past any test's load: a load test is thousands of clients on the
/// one loopback address, which the defaults would rightly refuse as one client.
pub fn one_address_for_all() -> signaling::address::AddressConfig {
    let defaults = signaling::address::AddressConfig::default();
    let limits = signaling::address::Limits {
        connections: u32::MAX,
        joins_per_sec: 1e9,
        join_burst: 1e9,
        rooms: u32::MAX,
        new_rooms_per_sec: 1e9,
        new_room_burst: 1e9,
        ..defaults.limits
    };
    signaling::address::AddressConfig { limits, ..defaults }
}

/// Two clients joined to `room`; the first has seen the second arrive.
pub async fn pair(server: &RoomServer, room: &str) -> (Client, Joined, Client, Joined) {
    let mut a = server.client().await;
    let mut b = server.client().await;
    let ja = a.join(room).await;
    let jb = b.join(room).await;
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);
    (a, ja, b, jb)
}

/// What `joined` carried.
#[derive(Debug)]
pub struct Joined {
    pub room: RoomId,
    pub peer_id: PeerId,
    pub peers: Vec<PeerId>,
    pub capacity: u32,
    pub resume_token: ResumeToken,
    pub ice_servers: Vec<IceServer>,
}

/// What a client saw next, pings and pongs aside (tungstenite answers pings by itself while
/// reading, which is why waiting clients keep reading).
#[derive(Debug)]
pub enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Close(Option<u16>),
    /// The stream ended or failed, with why.
    Ended(String),
}

type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A well-behaved client on tokio-tungstenite: an implementation independent of the server's.
pub struct Client {
    ws: WsStream,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) =
            timeout(WAIT, tokio_tungstenite::connect_async(url)).await.expect("connect in time").expect("connect");
        Client { ws }
    }

    /// A client connecting from the loopback address `local` (a client address of its own).
    pub async fn connect_from(local: &str, addr: SocketAddr) -> Client {
        let stream = common::connect_from(local, addr).await;
        let url = format!("ws://{addr}/ws");
        let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
        let (ws, _) = timeout(WAIT, tokio_tungstenite::client_async(url, stream))
            .await
            .expect("handshake in time")
            .expect("handshake");
        Client { ws }
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_text(&message.to_json()).await;
    }

    /// Sends `messages` in one write, so the server reads and handles them in one go.
    pub async fn send_all_at_once(&mut self, messages: &[ClientMessage]) {
        for message in messages {
            // tungstenite buffers fed messages (up to its write buffer size) until the flush.
            timeout(WAIT, self.ws.feed(Message::text(message.to_json()))).await.expect("feed in time").expect("feed");
        }
        timeout(WAIT, self.ws.flush()).await.expect("flush in time").expect("flush");
    }

    /// Sends any text, valid or not.
    pub async fn send_text(&mut self, text: &str) {
        timeout(WAIT, self.ws.send(Message::text(text))).await.expect("send in time").expect("send");
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.ws.send(Message::binary(bytes.to_vec()))).await.expect("send in time").expect("send");
    }

    /// The next data message, close or end before `deadline`; `None` if nothing came.
    pub async fn next_until(&mut self, deadline: Instant) -> Option<Seen> {
        loop {
            let item = timeout_at(deadline, self.ws.next()).await.ok()?;
            return Some(match item {
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Text(text))) => Seen::Text(text.as_str().to_owned()),
                Some(Ok(Message::Binary(bytes))) => Seen::Binary(bytes.to_vec()),
                Some(Ok(Message::Close(frame))) => Seen::Close(frame.map(|f| u16::from(f.code))),
                Some(Err(e)) => Seen::Ended(e.to_string()),
                None => Seen::Ended("end of stream".to_owned()),
            });
        }
    }

    /// The next message as the raw text the server sent.
    pub async fn recv_text(&mut self) -> String {
        match self.next_until(Instant::now() + WAIT).await {
            Some(Seen::Text(text)) => text,
            other => panic!("expected a text message within {WAIT:?}, got {other:?}"),
        }
    }

    pub async fn recv(&mut self) -> ServerMessage {
        let text = self.recv_text().await;
        ServerMessage::parse(&text).unwrap_or_else(|e| panic!("unparsable server message {text:?}: {e}"))
    }

    /// Nothing arrives for `duration`; the connection stays open.
    pub async fn expect_silence(&mut self, duration: Duration) {
        self.expect_silence_until(Instant::now() + duration).await;
    }

    pub async fn expect_silence_until(&mut self, deadline: Instant) {
        if let Some(seen) = self.next_until(deadline).await {
            panic!("expected nothing, got {seen:?}");
        }
    }

    /// The next thing is a close frame; returns its code.
    pub async fn expect_close(&mut self) -> Option<u16> {
        match self.next_until(Instant::now() + WAIT).await {
            Some(Seen::Close(code)) => code,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// Reads messages until a close frame (bounded in count and time); returns them and its code.
    pub async fn drain_until_close(&mut self) -> (Vec<ServerMessage>, Option<u16>) {
        let mut messages = Vec::new();
        for _ in 0..MAX_SKIPPED {
            match self.next_until(Instant::now() + WAIT).await {
                Some(Seen::Text(text)) => messages.push(ServerMessage::parse(&text).expect("a server message")),
                Some(Seen::Close(code)) => return (messages, code),
                other => panic!("expected messages then a close frame, got {other:?} after {messages:?}"),
            }
        }
        panic!("no close frame within {MAX_SKIPPED} messages");
    }

    /// After a close frame, the server ends the connection (bounded wait).
    pub async fn expect_end(&mut self) {
        match self.next_until(Instant::now() + WAIT).await {
            Some(Seen::Ended(_)) => {}
            other => panic!("expected the connection to end, got {other:?}"),
        }
    }

    pub async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMessage::Error { code: got, message } if got == code => message,
            other => panic!("expected error {code}, got {other:?}"),
        }
    }

    /// Sends `join`; the answer, whatever it is.
    pub async fn request_join(&mut self, room: &str, resume: Option<&ResumeToken>) -> ServerMessage {
        self.send(&ClientMessage::Join { room: room_id(room), resume: resume.cloned() }).await;
        self.recv().await
    }

    pub async fn join(&mut self, room: &str) -> Joined {
        self.join_with(room, None).await
    }

    /// Joins, resuming with `resume` if given; panics unless the answer is `joined` for `room`.
    pub async fn join_with(&mut self, room: &str, resume: Option<&ResumeToken>) -> Joined {
        match self.request_join(room, resume).await {
            ServerMessage::Joined { room: joined_room, peer_id, peers, capacity, resume_token, ice_servers } => {
                assert_eq!(joined_room.as_str(), room, "joined names the room asked for");
                Joined { room: joined_room, peer_id, peers, capacity, resume_token, ice_servers }
            }
            other => panic!("join {room}: expected joined, got {other:?}"),
        }
    }

    pub async fn signal(&mut self, to: &PeerId, data: Signal) {
        self.send(&ClientMessage::Signal { to: to.clone(), data }).await;
    }

    /// `(from, data)` of the next message, which must be a relayed signal.
    pub async fn expect_signal(&mut self) -> (PeerId, Signal) {
        match self.recv().await {
            ServerMessage::Signal { from, data } => (from, data),
            other => panic!("expected a signal, got {other:?}"),
        }
    }

    pub async fn expect_peer_joined(&mut self) -> PeerId {
        match self.recv().await {
            ServerMessage::PeerJoined { peer_id } => peer_id,
            other => panic!("expected peer_joined, got {other:?}"),
        }
    }

    pub async fn expect_peer_resumed(&mut self) -> PeerId {
        match self.recv().await {
            ServerMessage::PeerResumed { peer_id } => peer_id,
            other => panic!("expected peer_resumed, got {other:?}"),
        }
    }

    pub async fn expect_peer_left(&mut self) -> PeerId {
        match self.recv().await {
            ServerMessage::PeerLeft { peer_id } => peer_id,
            other => panic!("expected peer_left, got {other:?}"),
        }
    }

    /// Sends `leave`, then proves the server processed it: a second `leave` is `not_in_room`.
    /// (Messages of one connection are handled in order; of two connections, in no set order.)
    pub async fn leave_confirmed(&mut self) {
        self.send(&ClientMessage::Leave).await;
        self.send(&ClientMessage::Leave).await;
        self.expect_error(ErrorCode::NotInRoom).await;
    }

    /// A clean close: our close frame, the server's answer, then the end (bounded).
    pub async fn close(mut self) {
        timeout(WAIT, self.ws.close(None)).await.expect("close in time").expect("close");
        for _ in 0..MAX_SKIPPED {
            match self.next_until(Instant::now() + WAIT).await {
                Some(Seen::Ended(_)) => return,
                Some(_) => {}
                None => panic!("the server did not end the connection within {WAIT:?}"),
            }
        }
    }

    /// The connection is dropped without a close frame, as when a laptop sleeps or a tab dies.
    pub fn vanish(self) {
        drop(self.ws);
    }
}

/// A client on a raw socket: joins, then does exactly what the test says (nothing, usually —
/// not even answer pings).
pub struct RawPeer {
    stream: TcpStream,
    /// Bytes read but not yet parsed into frames: frames may arrive split or together.
    buf: Vec<u8>,
}

impl RawPeer {
    pub async fn connect(addr: SocketAddr) -> RawPeer {
        RawPeer { stream: common::raw_websocket(addr, "/ws").await, buf: Vec::new() }
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        let frame = common::client_frame(true, OpCode::Text, message.to_json().as_bytes());
        common::send_bytes(&mut self.stream, &frame).await;
    }

    /// The next text message, pings skipped (and not answered).
    pub async fn recv(&mut self) -> ServerMessage {
        loop {
            let (opcode, payload) = self.read_frame().await;
            match opcode {
                OpCode::Ping | OpCode::Pong => continue,
                OpCode::Text => {
                    let text = String::from_utf8(payload).expect("text frames are UTF-8");
                    return ServerMessage::parse(&text).unwrap_or_else(|e| panic!("bad server message {text:?}: {e}"));
                }
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    pub async fn join(&mut self, room: &str) -> PeerId {
        self.send(&ClientMessage::Join { room: room_id(room), resume: None }).await;
        match self.recv().await {
            ServerMessage::Joined { peer_id, .. } => peer_id,
            other => panic!("expected joined, got {other:?}"),
        }
    }

    async fn read_frame(&mut self) -> (OpCode, Vec<u8>) {
        loop {
            if let Some((header, len)) = FrameHeader::parse(&self.buf).expect("the server sends valid frames") {
                let total = len + usize::try_from(header.payload_len).expect("frame length fits in memory");
                if self.buf.len() >= total {
                    let payload = self.buf[len..total].to_vec();
                    self.buf.drain(..total);
                    return (header.opcode, payload);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = timeout(WAIT, self.stream.read(&mut chunk)).await.expect("server sends in time").expect("read");
            assert!(n > 0, "the server ended the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

pub fn room_id(id: &str) -> RoomId {
    RoomId::try_from(id).unwrap_or_else(|e| panic!("test room id {id:?}: {e}"))
}

/// A candidate with neither `sdp_mid` nor `sdp_m_line_index`, carrying `text`.
pub fn candidate(text: impl Into<String>) -> Signal {
    Signal::Candidate { candidate: text.into(), sdp_mid: None, sdp_m_line_index: None }
}

/// The candidate text of a signal, for tests that tag each signal in it.
pub fn candidate_text(signal: &Signal) -> &str {
    match signal {
        Signal::Candidate { candidate, .. } => candidate,
        other => panic!("expected a candidate, got {other:?}"),
    }
}

/// Server-issued ids carry at least 64 random bits: 16 or more base64url characters.
#[track_caller]
pub fn assert_peer_id_shape(id: &PeerId) {
    let s = id.as_str();
    assert!(s.len() >= 16, "peer id {s:?} is shorter than 16 base64url characters (64 bits)");
    assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "peer id {s:?} is not base64url");
    assert!(id.is_well_formed(), "{s:?}");
}

/// The `data` object of a `signal`, exactly as on the wire. Both directions end with it (the
/// client's `to` and the server's `from` are peer ids, which cannot contain `"data":`).
#[track_caller]
pub fn data_json(text: &str) -> &str {
    text.split_once("\"data\":").map(|(_, data)| data).unwrap_or_else(|| panic!("no data in {text:?}"))
}

/// Rooms settings with the given resume grace and everything else default.
pub fn with_grace(resume_grace: Duration) -> RoomsConfig {
    RoomsConfig { resume_grace, ..RoomsConfig::default() }
}
