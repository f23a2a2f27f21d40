//! Reference server: the room protocol over fastwebsockets, upgraded through hyper as its
//! `upgrade` feature documents. Its `read_frame` is not cancel-safe, so it cannot share a
//! `select!` with the outbound queue: as in its split echo example, the connection reads in one
//! task and a second task owns the write half and drains the queue.
//!
//! With `--echo`, the echo benchmark's WebSocket reference instead: every message goes straight
//! back, written as fastwebsockets' own echo example does it (see [`echo`]).

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;

use bench::rooms::{Rooms, Session, QUEUE};
use bench::serve::{self, Mode, ServeArgs};
use fastwebsockets::{upgrade, FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload, WebSocket};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

/// What the writer task sends: room traffic, or a frame the protocol obliges (pong, close).
enum Outbound {
    Text(String),
    Control(Frame<'static>),
}

impl From<String> for Outbound {
    fn from(text: String) -> Self {
        Outbound::Text(text)
    }
}

type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

#[tokio::main]
async fn main() -> ExitCode {
    let args = ServeArgs::from_env();
    let service = match args.mode {
        Mode::Rooms => Service::Rooms(Arc::new(Rooms::default())),
        Mode::Echo => Service::Echo,
        Mode::Frames => {
            eprintln!("ref-fastwebsockets: --frames is ref-rawtcp's mode (a floor without WebSocket)");
            return ExitCode::from(2);
        }
    };
    let listener = match serve::bind(args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    loop {
        let stream = serve::accept(&listener).await;
        let service = service.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handshake(request, service.clone()));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades().await;
        });
    }
}

/// What an upgraded connection serves: the room protocol, or `--echo`.
#[derive(Clone)]
enum Service {
    Rooms(Arc<Rooms<Outbound>>),
    Echo,
}

async fn handshake(mut request: Request<Incoming>, service: Service) -> Result<Response<Empty<Bytes>>, Infallible> {
    match upgrade::upgrade(&mut request) {
        Ok((response, upgraded)) => {
            tokio::spawn(async move {
                let Ok(ws) = upgraded.await else { return };
                match service {
                    Service::Rooms(rooms) => connection(ws, rooms).await,
                    // As in fastwebsockets' echo example: outside tokio's cooperative budget,
                    // so a connection with bytes waiting is never made to yield between frames.
                    Service::Echo => tokio::task::unconstrained(echo(ws)).await,
                }
            });
            Ok(response)
        }
        Err(_) => {
            let mut response = Response::new(Empty::new());
            *response.status_mut() = StatusCode::BAD_REQUEST;
            Ok(response)
        }
    }
}

async fn connection(ws: WebSocket<Upgraded>, rooms: Arc<Rooms<Outbound>>) {
    let (read, mut write) = ws.split(tokio::io::split);
    let mut read = FragmentCollectorRead::new(read);
    let (tx, mut outbound) = mpsc::channel::<Outbound>(QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(message) = outbound.recv().await {
            let frame = match message {
                Outbound::Text(text) => Frame::text(Payload::Owned(text.into_bytes())),
                Outbound::Control(frame) => frame,
            };
            if write.write_frame(frame).await.is_err() {
                break;
            }
        }
    });
    let mut session = Session::new(rooms, tx.clone());
    let obliged = tx.clone();
    let mut send_control = move |frame: Frame<'static>| {
        let obliged = obliged.clone();
        async move { obliged.send(Outbound::Control(frame)).await.map_err(|_| "writer gone") }
    };
    loop {
        let Ok(frame) = read.read_frame(&mut send_control).await else {
            break;
        };
        let reply = match frame.opcode {
            // fastwebsockets has validated the UTF-8 of a complete text message.
            OpCode::Text => std::str::from_utf8(&frame.payload).ok().and_then(|text| session.on_text(text)),
            OpCode::Close => break,
            _ => None,
        };
        if let Some(text) = reply {
            if tx.send(Outbound::Text(text)).await.is_err() {
                break;
            }
        }
    }
    // The seat goes (telling the other peer) and the writer ends once it has sent what is queued.
    drop(session);
    drop(tx);
    drop(send_control);
    let _ = writer.await;
}

/// `--echo`, the way fastwebsockets' documentation and its `echo_server` example use it: a
/// `FragmentCollector` hands out whole messages (one frame as it came, fragments joined), each
/// written straight back. The library answers pings and the close handshake itself (`auto_pong`
/// and `auto_close` are on by default), validates UTF-8 of text, unmasks in its read buffer, and
/// writes a payload over 1 KiB with one vectored write (header and payload, no copy).
async fn echo(ws: WebSocket<Upgraded>) {
    let mut ws = FragmentCollector::new(ws);
    loop {
        let Ok(frame) = ws.read_frame().await else { break };
        let written = match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await,
            _ => Ok(()),
        };
        if written.is_err() {
            break;
        }
    }
}
