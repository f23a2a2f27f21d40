//! The generator's side of one connection, over WebSocket (tokio-tungstenite's client: an
//! implementation independent of every server measured here but one), newline-delimited JSON
//! over raw TCP, or length-prefixed frames over raw TCP (the relay floor), split into a sending
//! and a receiving half so each can live in its own task.

use std::net::{Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::error::{BenchError, Result};
use crate::frame::{self, Frames};

/// The longest frame the generator accepts from the floor: more than any message it sends.
const MAX_FRAME: usize = 1 << 20;

/// Connecting and the handshake, even with thousands queued at a pinned server.
pub const CONNECT_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket on `/ws` (the reference servers accept any path).
    WebSocket,
    /// Plain TCP: one JSON text per line for rooms, raw bytes for echo.
    Tcp,
    /// Plain TCP, each message one length-prefixed frame ([`crate::frame`]).
    Frames,
}

type Ws = WebSocketStream<TcpStream>;

pub enum Sender {
    Ws(SplitSink<Ws, Message>),
    Lines(OwnedWriteHalf),
    Frames(OwnedWriteHalf),
}

pub enum Receiver {
    Ws(SplitStream<Ws>),
    Lines(Lines<BufReader<OwnedReadHalf>>),
    /// What was read is kept in `frames` between calls, so `recv` stays cancel-safe.
    Frames {
        read: OwnedReadHalf,
        frames: Frames,
    },
}

/// The generator's client configuration: a small read buffer (tungstenite's default is
/// 128 KiB) so ten thousand client connections fit the generator's memory. It changes nothing
/// on the server side.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

/// A TCP connection with Nagle off, as the servers do on their side.
pub async fn tcp(addr: SocketAddr) -> Result<TcpStream> {
    let stream = TcpStream::connect(addr).await.map_err(|e| BenchError::io(format!("connecting to {addr}"), e))?;
    stream.set_nodelay(true).map_err(|e| BenchError::io("TCP_NODELAY", e))?;
    Ok(stream)
}

/// Connections opened so far: numbers each one's [`forwarded_for`] address.
static OPENED: AtomicU32 = AtomicU32::new(0);

/// The client address the `n`th connection claims in `X-Forwarded-For`: one IPv6 documentation
/// prefix (RFC 3849, 2001:db8::/32) per connection, a /64 each, so a server trusting 127.0.0.1 as
/// a proxy (`--trusted-proxies`) counts every simulated peer as a household of its own, however
/// it groups IPv6 addresses. 65,536 distinct, then they repeat.
pub fn forwarded_for(n: u32) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0x0db8, 0, (n & 0xffff) as u16, 0, 0, 0, 1)
}

/// A WebSocket connection to `ws://addr/ws`, handshake done, claiming its own client address in
/// `X-Forwarded-For` (servers that do not trust the generator as a proxy ignore it).
pub async fn websocket(addr: SocketAddr) -> Result<Ws> {
    let stream = tcp(addr).await?;
    let mut request = format!("ws://{addr}/ws")
        .into_client_request()
        .map_err(|e| BenchError::ws(format!("a request for {addr}"), e))?;
    let claimed = forwarded_for(OPENED.fetch_add(1, Ordering::Relaxed)).to_string();
    let value = HeaderValue::from_str(&claimed).map_err(|e| BenchError::protocol("X-Forwarded-For", e.to_string()))?;
    request.headers_mut().insert("x-forwarded-for", value);
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(client_config()))
        .await
        .map_err(|e| BenchError::ws(format!("WebSocket handshake with {addr}"), e))?;
    Ok(ws)
}

/// Connects (and for WebSocket, completes the handshake) within [`CONNECT_LIMIT`].
pub async fn connect(addr: SocketAddr, transport: Transport) -> Result<(Sender, Receiver)> {
    let connecting = async {
        Ok(match transport {
            Transport::WebSocket => {
                let (sink, stream) = websocket(addr).await?.split();
                (Sender::Ws(sink), Receiver::Ws(stream))
            }
            Transport::Tcp => {
                let (read, write) = tcp(addr).await?.into_split();
                (Sender::Lines(write), Receiver::Lines(BufReader::new(read).lines()))
            }
            Transport::Frames => {
                let (read, write) = tcp(addr).await?.into_split();
                (Sender::Frames(write), Receiver::Frames { read, frames: Frames::new(MAX_FRAME) })
            }
        })
    };
    within_connect_limit(addr, connecting).await
}

/// `connecting` (to `addr`), failing after [`CONNECT_LIMIT`].
pub async fn within_connect_limit<T>(
    addr: SocketAddr,
    connecting: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(CONNECT_LIMIT, connecting).await {
        Ok(result) => result,
        Err(_) => Err(BenchError::Timeout { what: format!("connecting to {addr}"), secs: CONNECT_LIMIT.as_secs() }),
    }
}

impl Sender {
    pub async fn send(&mut self, text: String) -> Result<()> {
        match self {
            Sender::Ws(sink) => sink.send(Message::text(text)).await.map_err(|e| BenchError::ws("sending", e)),
            Sender::Lines(write) => {
                let mut line = text.into_bytes();
                line.push(b'\n');
                write.write_all(&line).await.map_err(|e| BenchError::io("sending", e))
            }
            Sender::Frames(write) => {
                write.write_all(&frame::encode(text.as_bytes())).await.map_err(|e| BenchError::io("sending", e))
            }
        }
    }
}

impl Receiver {
    /// The next text message; `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Result<Option<String>> {
        match self {
            Receiver::Ws(stream) => loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) => return Ok(Some(text.as_str().to_owned())),
                    // Pings are answered by tungstenite itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Close(_))) | None => return Ok(None),
                    Some(Ok(Message::Binary(_))) => return Ok(Some("<binary message>".to_owned())),
                    Some(Err(e)) => return Err(BenchError::ws("receiving", e)),
                }
            },
            Receiver::Lines(lines) => lines.next_line().await.map_err(|e| BenchError::io("receiving", e)),
            Receiver::Frames { read, frames } => loop {
                match frames.next_frame() {
                    Ok(Some(frame)) => {
                        let text = String::from_utf8_lossy(frame.payload()).into_owned();
                        return Ok(Some(text));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(BenchError::protocol("receiving a frame", e.to_string())),
                }
                match read.read_buf(frames.read_buffer()).await {
                    Ok(0) => return Ok(None),
                    Ok(_) => {}
                    Err(e) => return Err(BenchError::io("receiving", e)),
                }
            },
        }
    }

    /// [`recv`](Self::recv) within `limit`; a closed connection is an error here.
    pub async fn recv_within(&mut self, limit: Duration, what: &str) -> Result<String> {
        match tokio::time::timeout(limit, self.recv()).await {
            Ok(Ok(Some(text))) => Ok(text),
            Ok(Ok(None)) => Err(BenchError::protocol(what, "the server closed the connection")),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(BenchError::Timeout { what: what.to_owned(), secs: limit.as_secs() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_connection_claims_its_own_documentation_prefix() {
        assert_eq!(forwarded_for(0).to_string(), "2001:db8:0:0::1".parse::<Ipv6Addr>().unwrap().to_string());
        assert_eq!(forwarded_for(0x1234), "2001:db8:0:1234::1".parse::<Ipv6Addr>().unwrap());
        assert_ne!(forwarded_for(1).segments()[3], forwarded_for(2).segments()[3]);
    }
}
