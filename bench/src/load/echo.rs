//! Echo: connections each sending a message and waiting for it to come back, over and over
//! (one in flight per connection), against a WebSocket echo server (binary messages) or a raw
//! TCP one (bytes). Each echo is checked byte for byte; the server's CPU per echoed message is
//! the figure.

use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::{Bytes, Message};

use super::conn::{self, Transport};
use crate::error::{BenchError, Result};
use crate::server::Target;

/// One echo taking longer than this means the server is stuck.
const ECHO_LIMIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoPlan {
    pub connections: usize,
    pub size: usize,
    /// Messages in all, shared by the connections.
    pub messages: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoFigures {
    pub echoed: u64,
    pub elapsed: Duration,
    pub server_cpu_ns: u64,
}

impl EchoFigures {
    pub fn cpu_us_per_message(&self) -> f64 {
        self.server_cpu_ns as f64 / 1000.0 / self.echoed.max(1) as f64
    }
}

/// Message `n` of a connection: its number in the first bytes, then a filler that depends on it.
fn payload(n: u64, size: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..size).map(|i| b'a' + ((i as u64 + n) % 26) as u8).collect();
    let tag = n.to_le_bytes();
    let len = tag.len().min(size);
    bytes[..len].copy_from_slice(&tag[..len]);
    bytes
}

pub async fn run(server: &Target, plan: &EchoPlan) -> Result<EchoFigures> {
    let connections = plan.connections.max(1);
    let share = (plan.messages / connections as u64).max(1);
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let addr = server.addr;
        clients.push(match server.transport {
            Transport::WebSocket => {
                Client::Ws(Box::new(conn::within_connect_limit(addr, conn::websocket(addr)).await?))
            }
            Transport::Tcp => Client::Tcp(conn::within_connect_limit(addr, conn::tcp(addr)).await?),
            Transport::Frames => {
                return Err(BenchError::protocol("echo", "the echo floor is raw bytes (`--echo`), not frames"));
            }
        });
    }
    let cpu_before = server.cpu_ns()?;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for client in clients {
        tasks.spawn(client.echo(share, plan.size));
    }
    let mut echoed = 0;
    let mut failure = None;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(n)) => echoed += n,
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(BenchError::Report(format!("an echo task failed: {e}")))),
        }
    }
    let elapsed = started.elapsed();
    let server_cpu_ns = server.cpu_ns()?.saturating_sub(cpu_before);
    match failure {
        Some(e) => Err(e),
        None => Ok(EchoFigures { echoed, elapsed, server_cpu_ns }),
    }
}

enum Client {
    Ws(Box<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>>),
    Tcp(tokio::net::TcpStream),
}

impl Client {
    async fn echo(self, count: u64, size: usize) -> Result<u64> {
        match tokio::time::timeout(ECHO_LIMIT.mul_f64(count as f64).max(ECHO_LIMIT), self.echo_all(count, size)).await {
            Ok(result) => result,
            Err(_) => Err(BenchError::Timeout { what: "echoes".to_owned(), secs: ECHO_LIMIT.as_secs() }),
        }
    }

    async fn echo_all(self, count: u64, size: usize) -> Result<u64> {
        let lost = |n: u64, why: String| BenchError::Lost {
            scenario: format!("echo {size} B: {why}"),
            sent: count,
            lost: count - n,
        };
        match self {
            Client::Ws(mut ws) => {
                for n in 0..count {
                    let sent = Bytes::from(payload(n, size));
                    ws.send(Message::Binary(sent.clone())).await.map_err(|e| BenchError::ws("echo send", e))?;
                    loop {
                        match ws.next().await {
                            Some(Ok(Message::Binary(back))) if back == sent => break,
                            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                            other => return Err(lost(n, format!("got {:?}", other.map(|m| m.map(|m| m.len()))))),
                        }
                    }
                }
                let _ = tokio_tungstenite::WebSocketStream::close(&mut ws, None).await;
            }
            Client::Tcp(mut stream) => {
                let mut back = vec![0u8; size];
                for n in 0..count {
                    let sent = payload(n, size);
                    stream.write_all(&sent).await.map_err(|e| BenchError::io("echo send", e))?;
                    stream.read_exact(&mut back).await.map_err(|e| BenchError::io("echo receive", e))?;
                    if back != sent {
                        return Err(lost(n, "bytes differ".to_owned()));
                    }
                }
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_differ_per_message_and_have_the_size() {
        assert_eq!(payload(1, 64).len(), 64);
        assert_ne!(payload(1, 64), payload(2, 64));
        assert_eq!(payload(5, 3).len(), 3);
    }
}
