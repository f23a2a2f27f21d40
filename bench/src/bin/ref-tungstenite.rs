//! Reference server: the room protocol over tokio-tungstenite, used as its documentation shows
//! (`accept_async` with the default configuration, one task per connection that `select!`s
//! between the socket and the peer's outbound queue).

use std::process::ExitCode;
use std::sync::Arc;

use bench::rooms::{Rooms, Session, QUEUE};
use bench::serve::{self, ServeArgs};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

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
        tokio::spawn(connection(stream, rooms.clone()));
    }
}

async fn connection(stream: TcpStream, rooms: Arc<Rooms<String>>) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (tx, mut outbound) = mpsc::channel(QUEUE);
    let mut session = Session::new(rooms, tx);
    loop {
        let reply = tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => session.on_text(&text),
                // Pings are answered by tungstenite; after a close it answers and ends the stream.
                Some(Ok(_)) => None,
                Some(Err(_)) | None => break,
            },
            Some(message) = outbound.recv() => Some(message),
        };
        if let Some(text) = reply {
            if ws.send(Message::text(text)).await.is_err() {
                break;
            }
        }
    }
}
