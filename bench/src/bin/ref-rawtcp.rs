//! Reference server, the floors: the room protocol as newline-delimited JSON over plain TCP, with
//! no WebSocket framing at all. With `--frames`, the relay's physical floor: length-prefixed
//! frames (`bench::frame`), JSON only until the connection is seated, then every frame is written
//! unread into the partner's socket from the sender's own task — no queue, no second task woken,
//! no parse. With `--echo` it echoes bytes instead, the floor of the echo benchmark.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use bench::frame::{self, Frames};
use bench::rooms::{Rooms, Session, QUEUE};
use bench::serve::{self, Mode, ServeArgs};
use shared::PeerId;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Big enough that a 32 KiB echo message is usually one read and one write.
const ECHO_BUFFER: usize = 64 * 1024;
/// The longest frame `--frames` accepts: the signaling server's default message limit.
const MAX_FRAME: usize = 1 << 20;

/// Each seated peer's socket, for its partner to write into.
type Writer = Arc<tokio::sync::Mutex<OwnedWriteHalf>>;
#[derive(Default)]
struct Writers(Mutex<HashMap<PeerId, Writer>>);

impl Writers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Writer>> {
        // Inserts and removes cannot panic halfway, so a poisoned map is still consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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
    let writers = Arc::new(Writers::default());
    loop {
        let stream = serve::accept(&listener).await;
        match args.mode {
            Mode::Echo => drop(tokio::spawn(echo(stream))),
            Mode::Rooms => drop(tokio::spawn(connection(stream, rooms.clone()))),
            Mode::Frames => drop(tokio::spawn(framed(stream, rooms.clone(), writers.clone()))),
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

/// `--frames`: the room protocol's JSON in frames until seated (join and its answers, and
/// `peer_joined`/`peer_left` through a task of their own), then relay only.
async fn framed(stream: TcpStream, rooms: Arc<Rooms<String>>, writers: Arc<Writers>) {
    let (mut read, write) = stream.into_split();
    let write: Writer = Arc::new(tokio::sync::Mutex::new(write));
    let (tx, mut outbound) = mpsc::channel::<String>(QUEUE);
    let notices = tokio::spawn({
        let write = write.clone();
        async move {
            while let Some(text) = outbound.recv().await {
                if write.lock().await.write_all(&frame::encode(text.as_bytes())).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut session = Session::new(rooms.clone(), tx);
    let mut frames = Frames::new(MAX_FRAME);
    'reading: loop {
        match read.read_buf(frames.read_buffer()).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            let frame = match frames.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(_) => break 'reading,
            };
            match session.seat() {
                Some((room, me)) => {
                    // Relay: the partner's socket, written from this task. A frame for an
                    // empty seat is dropped; the generator counts it as lost.
                    let partner = rooms.partner(room, me).and_then(|peer| writers.lock().get(&peer).cloned());
                    if let Some(partner) = partner {
                        let _ = partner.lock().await.write_all(frame.whole).await;
                    }
                }
                None => {
                    let reply = std::str::from_utf8(frame.payload()).ok().and_then(|text| session.on_text(text));
                    if let Some((_, me)) = session.seat() {
                        writers.lock().insert(me.clone(), write.clone());
                    }
                    if let Some(text) = reply {
                        if write.lock().await.write_all(&frame::encode(text.as_bytes())).await.is_err() {
                            break 'reading;
                        }
                    }
                }
            }
        }
    }
    if let Some((_, me)) = session.seat() {
        writers.lock().remove(me);
    }
    notices.abort();
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
