//! A sender's direct write: text frames put into an idle connection's pending buffer and written
//! into its socket from the sender's own task with one non-blocking write, so the connection's
//! task is not woken.

use std::io;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::super::frame::{FrameHeader, OpCode};
use super::super::metrics::WsMetrics;

/// The connection's socket as senders see it, and where its writes are counted.
pub struct Socket {
    pub stream: Arc<TcpStream>,
    pub metrics: Arc<WsMetrics>,
}

/// Attempts at a write that a signal interrupts before it moves a byte.
const INTERRUPTED_RETRIES: usize = 3;

/// Appends `text` as one unmasked text frame (§5.1: a server never masks) to `pending`.
pub fn append_text(pending: &mut Vec<u8>, text: &str) {
    let header = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Text, mask: None, payload_len: text.len() as u64 };
    pending.extend_from_slice(header.encode().as_slice());
    pending.extend_from_slice(text.as_bytes());
}

/// Writes what the socket takes of `bytes` now, without blocking; returns how many it took (0
/// when it would block, or failed: the connection's task finds that out itself on its next
/// write or read).
pub fn write_now(socket: &Socket, bytes: &[u8]) -> usize {
    for _ in 0..INTERRUPTED_RETRIES {
        match socket.stream.try_write(bytes) {
            Ok(n) => {
                socket.metrics.bytes_out.inc_by(n as u64);
                return n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt as _;
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn frames_go_out_whole_and_a_full_socket_takes_part_or_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        server.writable().await.unwrap();
        let socket = Socket { stream: Arc::new(server), metrics: Arc::default() };
        let mut pending = Vec::new();
        append_text(&mut pending, "hi");
        append_text(&mut pending, "yo");
        assert_eq!(write_now(&socket, &pending), 8);
        let mut got = [0u8; 8];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x81\x02hi\x81\x02yo");

        // Nobody reads: the socket's buffers fill, and a write takes part of the bytes or none.
        let mut big = Vec::new();
        append_text(&mut big, &"x".repeat(60_000));
        let mut whole = 0;
        let taken = loop {
            match write_now(&socket, &big) {
                n if n == big.len() => whole += 1,
                n => break n,
            }
            assert!(whole < 10_000, "a socket nobody reads never filled");
        };
        assert!(taken < big.len());
        assert_eq!(socket.metrics.bytes_out.get(), (8 + whole * big.len() + taken) as u64);
    }
}
