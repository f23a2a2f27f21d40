//! One TCP connection before it becomes a WebSocket: read request heads (bounded in size and
//! time), answer plain HTTP, and hand an accepted upgrade to the WebSocket service.
//!
//! Plain HTTP keeps the connection alive for further GET/HEAD requests; each head has the same
//! deadline, so an idle or trickling client holds its slot for at most that long.

use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;
use tracing::{debug, info};

use super::config::HttpConfig;
use super::metrics::HttpMetrics;
use super::router::{route, Route};
use super::static_files;
use crate::address::{AddressLimits, Slot};
use crate::http1::request::{Request, RequestError};
use crate::http1::response::{Body, Response};
use crate::metrics::{Format, Metrics};
use crate::read_buffer;
use crate::service::Service;
use crate::ws::budget::Budget;
use crate::ws::codec::Writer;
use crate::ws::{handshake, WebSocket, WsMetrics};

/// Everything a connection needs from the server.
pub struct Context<S> {
    pub config: Arc<HttpConfig>,
    /// The registry `GET /metrics` encodes.
    pub metrics: Arc<Metrics>,
    pub http: Arc<HttpMetrics>,
    pub ws: Arc<WsMetrics>,
    /// What all WebSockets' unfinished incoming messages may hold together.
    pub inbound: Arc<Budget>,
    /// The per-address counts, for a connection whose client is known only from its headers.
    pub addresses: Arc<AddressLimits>,
    pub service: Arc<S>,
    pub shutdown: watch::Receiver<bool>,
}

/// How the accept loop let a connection in.
#[derive(Debug)]
pub struct Admitted {
    /// The TCP peer's address.
    pub peer: std::net::IpAddr,
    /// The connection counted for its address; `None` when the peer is a trusted proxy (the
    /// client is then counted when its request names it).
    pub slot: Option<Slot>,
    /// Let in beyond `max_connections` for plain HTTP only.
    pub reserve: bool,
}

impl<S> Clone for Context<S> {
    fn clone(&self) -> Self {
        Context {
            config: self.config.clone(),
            metrics: self.metrics.clone(),
            http: self.http.clone(),
            ws: self.ws.clone(),
            inbound: self.inbound.clone(),
            addresses: self.addresses.clone(),
            service: self.service.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

/// What reading a request head came to.
enum Head {
    /// A complete head, and its length in the buffer.
    Request(Request, usize),
    /// The client closed the connection between requests.
    Closed,
    Refused(Response, &'static str),
}

/// Serves one connection: HTTP requests until one upgrades it, then its WebSocket session.
///
/// The two phases are awaited one after the other, not nested, so a WebSocket session's task
/// does not also hold the HTTP phase's state for its whole life: the request buffer, the parsed
/// head and the futures that wrote responses (they made each connection's task 3.3 KB).
///
/// The HTTP phase's future is boxed, for the same reason: a task's future is as large as its
/// largest state, and that phase's (2,304 bytes) was larger than the session's, so every
/// session held room for it. Boxed, it is one allocation of the HTTP phase, freed at the upgrade.
/// And `let … else`, not `if let`: the phase's `Option` result is not kept beside the WebSocket
/// moved out of it for the whole session (392 bytes).
pub async fn serve<S: Service>(stream: TcpStream, ctx: Context<S>, admitted: Admitted) {
    let Some((mut ws, slot)) = Box::pin(http(stream, &ctx, admitted)).await else {
        return;
    };
    ctx.service.session_from(&mut ws, slot).await;
}

/// Requests until the connection closes or a valid handshake upgrades it.
async fn http<S: Service>(mut stream: TcpStream, ctx: &Context<S>, admitted: Admitted) -> Option<(WebSocket, Slot)> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut shutdown = ctx.shutdown.clone();
        let read = timeout(ctx.config.handshake_timeout, read_head(&mut stream, &mut buf, &ctx.config));
        let head = tokio::select! {
            head = read => head,
            // Shutting down: a connection between or inside request heads has nothing to lose.
            _ = shutdown.wait_for(|&stop| stop) => return None,
        };
        let head = match head {
            Ok(Ok(head)) => head,
            Ok(Err(e)) => {
                debug!(error = %e, "connection error before a complete request");
                return None;
            }
            Err(_) if buf.is_empty() => Head::Closed, // idle keep-alive connection: just close
            Err(_) => Head::Refused(Response::text(408, "request head not received in time"), "timeout"),
        };
        let (request, head_len) = match head {
            Head::Request(request, head_len) => (request, head_len),
            Head::Closed => return None,
            Head::Refused(response, reason) => {
                info!(reason, status = response.status, "refused request");
                ctx.http.handshake_failed(reason);
                let _ = write_within(&mut stream, response.header("Connection", "close"), &ctx.config).await;
                linger_close(stream).await;
                return None;
            }
        };
        match route(&request, &ctx.config) {
            Route::Upgrade => {
                let early = buf.split_off(head_len);
                return upgrade(stream, &request, early, ctx, admitted).await;
            }
            route => {
                ctx.http.request();
                // Bytes after the head are the next pipelined request: kept for the next turn.
                buf.drain(..head_len);
                let keep_alive =
                    request.version == 1 && !request.has_token("Connection", "close") && !has_body(&request);
                let response = respond(route, &request, ctx, admitted.peer).await;
                let response = if keep_alive { response } else { response.header("Connection", "close") };
                if write_within(&mut stream, response, &ctx.config).await.is_err() || !keep_alive {
                    return None;
                }
            }
        }
    }
}

/// Reads until `buf` holds a complete request head, or the head is refused.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, config: &HttpConfig) -> std::io::Result<Head> {
    loop {
        match Request::parse(buf, config.max_header_size) {
            Ok(Some((request, head_len))) => return Ok(Head::Request(request, head_len)),
            Ok(None) => {}
            Err(e) => return Ok(Head::Refused(request_error_response(e), e.reason())),
        }
        // Never read past the limit: at most `max_header_size + 1` bytes are ever buffered.
        let room = (config.max_header_size + 1).saturating_sub(buf.len()).min(read_buffer::SIZE);
        stream.readable().await?;
        let read = read_buffer::with(|chunk| {
            let n = stream.try_read(&mut chunk[..room])?;
            buf.extend_from_slice(&chunk[..n]);
            Ok::<_, std::io::Error>(n)
        });
        let n = match read {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(if buf.is_empty() {
                Head::Closed
            } else {
                Head::Refused(Response::text(400, "incomplete request"), "malformed_request")
            });
        }
    }
}

fn request_error_response(e: RequestError) -> Response {
    Response::text(e.status(), &e.to_string())
}

/// GET and HEAD carry no body; one announced anyway would be misread as the next request. Every
/// `Content-Length` counts, not just the first: a proxy in front may have believed another one
/// (RFC 9112 §6.3 makes differing lengths unrecoverable), so any non-zero length ends the
/// connection after the response rather than reading what follows as a request.
fn has_body(request: &Request) -> bool {
    request.header("Transfer-Encoding").is_some()
        || request.headers_named("Content-Length").any(|v| v.trim_ascii() != b"0")
}

async fn respond<S: Service>(route: Route, request: &Request, ctx: &Context<S>, peer: std::net::IpAddr) -> Response {
    let head_only = request.method == "HEAD";
    let mut response = match route {
        Route::Health if ctx.service.healthy() => Response::text(200, "ok").header("Cache-Control", "no-store"),
        // 503 takes the node out of a load balancer's rotation until it recovers by itself.
        Route::Health => Response::text(503, "unavailable: the room store cannot be reached")
            .header("Cache-Control", "no-store")
            .header("Retry-After", "2"),
        Route::Metrics
            if !ctx.config.metrics_allowed.allows(
                peer,
                request.headers_named("X-Forwarded-For"),
                request.header("X-Real-IP"),
            ) =>
        {
            debug!(%peer, "metrics refused");
            Response::text(403, "metrics are served to loopback and --metrics-allowed only")
                .header("Cache-Control", "no-store")
        }
        Route::Metrics => {
            let format = Format::from_accept(request.header("Accept"));
            Response::new(200)
                .header("Content-Type", format.content_type())
                .header("Cache-Control", "no-store")
                .body(Body::Bytes(ctx.metrics.encode(format).into_bytes()))
        }
        Route::StaticFile => match &ctx.config.web_root {
            Some(root) => {
                let negotiation = static_files::Negotiation::of(request);
                static_files::serve_negotiated(root, head_only, &request.target, &negotiation).await
            }
            None => Response::text(404, "not found"),
        },
        Route::UpgradeRequired => Response::text(426, "this endpoint speaks WebSocket only")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13"),
        Route::MethodNotAllowed => Response::text(405, "method not allowed").header("Allow", "GET, HEAD"),
        Route::NotFound | Route::Upgrade => Response::text(404, "not found"),
    };
    response.head_only |= head_only;
    debug!(method = %request.method, target = %request.target, status = response.status, "http");
    response
}

/// Writes a response, giving up after the write timeout: a client that sends requests (say,
/// thousands pipelined) and reads none of the answers must not hold its connection forever.
async fn write_within(stream: &mut TcpStream, response: Response, config: &HttpConfig) -> std::io::Result<()> {
    match timeout(config.write_timeout, write_response(stream, response)).await {
        Ok(written) => written,
        Err(_) => {
            debug!("response not taken within the write timeout; closing");
            Err(std::io::ErrorKind::TimedOut.into())
        }
    }
}

async fn write_response(stream: &mut TcpStream, response: Response) -> std::io::Result<()> {
    stream.write_all(&response.head_bytes()).await?;
    if response.head_only {
        return Ok(());
    }
    match response.body {
        Body::Empty => Ok(()),
        Body::Bytes(bytes) => stream.write_all(&bytes).await,
        Body::File(mut file, len) => {
            let copied = tokio::io::copy(&mut (&mut file).take(len), stream).await?;
            if copied == len {
                Ok(())
            } else {
                // The file shrank under us: the announced length cannot be met, so end the connection.
                Err(std::io::ErrorKind::UnexpectedEof.into())
            }
        }
    }
}

/// The WebSocket for a valid handshake (its `101` queued to be written first), with the
/// connection's slot for its client address; a refusal is answered here.
async fn upgrade<S: Service>(
    mut stream: TcpStream,
    request: &Request,
    early: Vec<u8>,
    ctx: &Context<S>,
    admitted: Admitted,
) -> Option<(WebSocket, Slot)> {
    let checked = match handshake::validate(request, &ctx.config.allowed_origins) {
        Ok(accept) => admit(request, ctx, admitted).map(|slot| (accept, slot)).map_err(Refused::response),
        Err(e) => Err((e.reason(), e.response())),
    };
    let (accept, slot) = match checked {
        Ok(accepted) => accepted,
        Err((reason, response)) => {
            info!(reason, status = response.status, "websocket handshake refused");
            ctx.http.handshake_failed(reason);
            let _ = write_within(&mut stream, response.header("Connection", "close"), &ctx.config).await;
            linger_close(stream).await;
            return None;
        }
    };
    let mut writer = Writer::default();
    writer.raw(&handshake::switching_protocols(&accept).head_bytes());
    let (config, metrics, inbound) = (ctx.config.ws.clone(), ctx.ws.clone(), ctx.inbound.clone());
    let mut ws = WebSocket::new(stream, writer, early, config, metrics, inbound, ctx.shutdown.clone());
    if let Some(max) = ctx.service.max_message_size() {
        ws.limit_messages(max);
    }
    Some((ws, slot))
}

/// Why a valid handshake is refused for its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Let in on the reserve past `max_connections`, which serves plain HTTP only.
    AtCapacity,
    /// The client address holds its allowance of connections.
    PerAddress,
}

impl Refused {
    /// The metric reason and the response.
    fn response(self) -> (&'static str, Response) {
        match self {
            Refused::AtCapacity => {
                ("at_capacity", Response::text(503, "the server is at its connection limit").header("Retry-After", "5"))
            }
            Refused::PerAddress => (
                "per_address_limit",
                Response::text(429, "too many connections from your address").header("Retry-After", "5"),
            ),
        }
    }
}

/// The upgrade's slot for its client address: the one taken at accept, or — from a trusted
/// proxy — one taken now for the client its headers name. A connection let in on the reserve
/// does not upgrade.
fn admit<S>(request: &Request, ctx: &Context<S>, admitted: Admitted) -> Result<Slot, Refused> {
    if admitted.reserve {
        return Err(Refused::AtCapacity);
    }
    if let Some(slot) = admitted.slot {
        return Ok(slot);
    }
    let trusted = ctx.addresses.trusted_proxies();
    let client = trusted.client(admitted.peer, request.headers_named("X-Forwarded-For"), request.header("X-Real-IP"));
    ctx.addresses.connect(client).map_err(|refusal| {
        debug!(%client, limit = refusal.label(), "upgrade refused: per-address limit");
        Refused::PerAddress
    })
}

/// Closes after a refusal without losing the response: closing a socket that still has unread
/// input sends a reset, which can destroy the response in flight (RFC 9112 §9.6). So: half-close,
/// then read and discard what the client still sends, bounded in bytes and time.
async fn linger_close(mut stream: TcpStream) {
    const LINGER: std::time::Duration = std::time::Duration::from_millis(500);
    const MAX_DISCARD: usize = 64 * 1024;
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut discarded = 0;
        while discarded < MAX_DISCARD {
            if stream.readable().await.is_err() {
                return;
            }
            match read_buffer::with(|sink| stream.try_read(sink)) {
                Ok(0) => return,
                Ok(n) => discarded += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    let _ = timeout(LINGER, drain).await;
}
