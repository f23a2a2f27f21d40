//! A sender's direct write: one text frame put into an idle connection's socket from the
//! sender's own task, with one non-blocking write of two slices (the header on the stack, the
//! text where it already is), so the payload is not copied and the connection's task is not woken.

use std::io::{self, IoSlice};
use std::sync::Arc;

use tokio::net::TcpStream;

use super::super::frame::{FrameHeader, OpCode};
use super::super::metrics::WsMetrics;

/// The connection's socket as senders see it, and where its writes are counted.
pub struct Socket {
    pub stream: Arc<TcpStream>,
    pub metrics: Arc<WsMetrics>,
}

/// What the socket took of a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Every byte.
    Whole,
    /// Some bytes; these are the rest, to be written before anything else.
    Part(Vec<u8>),
    /// Nothing: the socket would block (or failed, which the connection's task finds out itself
    /// on its next write or read); the message is to be queued as it is.
    Nothing,
}

/// Attempts at a write that a signal interrupts before it moves a byte.
const INTERRUPTED_RETRIES: usize = 3;

/// Writes `text` as one unmasked text frame (§5.1: a server never masks), without blocking.
pub fn write_text(socket: &Socket, text: &str) -> Written {
    let header = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Text, mask: None, payload_len: text.len() as u64 };
    let header = header.encode();
    let parts = [IoSlice::new(header.as_slice()), IoSlice::new(text.as_bytes())];
    let total = header.as_slice().len() + text.len();
    for _ in 0..INTERRUPTED_RETRIES {
        match socket.stream.try_write_vectored(&parts) {
            Ok(0) => return Written::Nothing,
            Ok(n) => {
                socket.metrics.bytes_out.inc_by(n as u64);
                socket.metrics.messages_out.inc();
                if n >= total {
                    return Written::Whole;
                }
                let mut rest = Vec::with_capacity(total - n);
                rest.extend(header.as_slice().iter().chain(text.as_bytes()).skip(n));
                return Written::Part(rest);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Written::Nothing,
        }
    }
    Written::Nothing
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt as _;
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn a_frame_goes_out_whole_and_a_full_socket_hands_back_the_rest() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        server.writable().await.unwrap();
        let socket = Socket { stream: Arc::new(server), metrics: Arc::default() };
        assert_eq!(write_text(&socket, "hi"), Written::Whole);
        let mut client = client;
        let mut got = [0u8; 4];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x81\x02hi");

        // Nobody reads: the socket's buffers fill, and a write either hands back its rest or
        // takes nothing; what it took and what it hands back make the whole frame.
        let big = "x".repeat(60_000);
        let frame_len = 4 + big.len();
        let mut taken = 0;
        let outcome = loop {
            match write_text(&socket, &big) {
                Written::Whole => taken += 1,
                other => break other,
            }
            assert!(taken < 10_000, "a socket nobody reads never filled");
        };
        if let Written::Part(rest) = &outcome {
            assert!(!rest.is_empty() && rest.len() < frame_len);
            assert!(rest.ends_with(b"xxxx"));
        }
        assert_eq!(socket.metrics.messages_out.get(), taken + 1 + u64::from(matches!(outcome, Written::Part(_))));
    }
}
