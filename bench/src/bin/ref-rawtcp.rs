//! Reference server, the floor: the room protocol as newline-delimited JSON over plain TCP, with
//! no WebSocket framing at all. With `--echo` it echoes bytes instead, the floor of the echo
//! benchmark.

use std::process::ExitCode;
use std::sync::Arc;

use bench::rooms::{Rooms, Session, QUEUE};
use bench::serve::{self, ServeArgs};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Big enough that a 32 KiB echo message is usually one read and one write.
const ECHO_BUFFER: usize = 64 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    let args = ServeArgs::from_env();
    let listener = match serve::bind(args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let rooms = Arc::new(Rooms::default());
    loop {
        let stream = serve::accept(&listener).await;
        if args.echo {
            tokio::spawn(echo(stream));
        } else {
            tokio::spawn(connection(stream, rooms.clone()));
        }
    }
}

async fn connection(stream: TcpStream, rooms: Arc<Rooms<String>>) {
    let (read, mut write) = stream.into_split();
    // `next_line` is cancel-safe, so it can share a `select!` with the outbound queue.
    let mut lines = BufReader::new(read).lines();
    let (tx, mut outbound) = mpsc::channel(QUEUE);
    let mut session = Session::new(rooms, tx);
    loop {
        let reply = tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => session.on_text(&line),
                Ok(None) | Err(_) => break,
            },
            Some(message) = outbound.recv() => Some(message),
        };
        if let Some(text) = reply {
            if write_line(&mut write, text).await.is_err() {
                break;
            }
        }
    }
}

/// serde_json escapes newlines inside strings, so one JSON text is always one line.
async fn write_line(write: &mut OwnedWriteHalf, mut text: String) -> std::io::Result<()> {
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

async fn echo(mut stream: TcpStream) {
    let mut buffer = vec![0u8; ECHO_BUFFER];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
