//! The only async part of the WebSocket layer: one task drives socket, reader, writer and timers.
//!
//! Reads go into the worker thread's [`read_buffer`](crate::read_buffer), borrowed by a
//! synchronous function and never held across an `.await`, so an idle connection's task holds no
//! read buffer. Everything a read produces (replies, pongs) is written in one batch right after
//! it; in a session without an outbox, a large reply with nothing pending ahead of it goes to the
//! socket as it is made, from the read buffer with no copy (see `codec::Sink`). One loop waits for
//! readability, writability (only while bytes are pending), outbound messages from other tasks,
//! the keepalive timer and shutdown, polled together; none of them can block another, so a
//! stalled peer stalls only itself.
//! While the task has nothing to write and is not handling input, other tasks write into its
//! socket themselves (see `outbox`); it takes the socket back before it handles input or pings.

use std::future::{poll_fn, Future as _};
use std::io;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncWriteExt as _, Interest};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};

use super::budget::Budget;
use super::close::close_payload;
use super::close_code::CloseCode;
use super::codec::{Sink, Writer};
use super::config::WsConfig;
use super::error::ProtocolError;
use super::frame::OpCode;
use super::metrics::WsMetrics;
use super::outbox::{self, Outbound, Taken};
use super::protocol::{Incoming, Reader};
use crate::read_buffer;

/// Reads per wake-up before yielding to other branches, so a fast sender cannot starve timers.
const READS_PER_WAKE: usize = 8;

/// Outbound messages taken from the outbox per wake-up, batched into one write.
const OUTBOUND_BATCH: usize = 64;

/// A complete data message from the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// The application on top of the WebSocket: called once per data message, with the writer to
/// reply on. Returning `Break` closes the connection with the given code and reason.
pub trait Handler {
    fn on_message(&mut self, message: Message<'_>, reply: &mut Writer) -> ControlFlow<(CloseCode, &'static str)>;
}

/// How a WebSocket session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The peer sent a close frame (with this code, if any); we answered it.
    PeerClosed(Option<CloseCode>),
    /// The peer broke the protocol; we sent the error's close code.
    Failed(ProtocolError),
    /// We closed: server shutdown, an application decision, or an outbound `Close`.
    Closed(CloseCode, &'static str),
    /// Nothing was received for the idle timeout, pings included: a half-open connection.
    IdleTimeout,
    /// The peer did not read what we sent for the send timeout.
    SlowConsumer,
    /// The peer closed TCP or reset it without a close frame.
    Vanished,
    Io(io::ErrorKind),
}

impl Ended {
    /// A short label for logs and the disconnect metric.
    pub fn label(&self) -> &'static str {
        match self {
            Ended::PeerClosed(_) => "peer_closed",
            Ended::Failed(e) => e.label(),
            Ended::Closed(CloseCode::GOING_AWAY, _) => "going_away",
            Ended::Closed(..) => "server_closed",
            Ended::IdleTimeout => "idle_timeout",
            Ended::SlowConsumer => "slow_consumer",
            Ended::Vanished => "vanished",
            Ended::Io(_) => "io_error",
        }
    }

    /// The close frame we send, if one is due; `Some(None)` is a close frame with no body.
    fn close_frame(&self) -> Option<Option<(CloseCode, String)>> {
        match self {
            Ended::PeerClosed(code) => Some(code.map(|c| (c, String::new()))), // §5.5.1: echo the code
            Ended::Failed(e) => Some(Some((e.close_code(), e.to_string()))),
            Ended::Closed(code, reason) => Some(Some((*code, (*reason).to_owned()))),
            Ended::IdleTimeout => Some(Some((CloseCode::GOING_AWAY, "idle timeout".to_owned()))),
            Ended::SlowConsumer | Ended::Vanished | Ended::Io(_) => None,
        }
    }

    /// `(code, initiator)` for the close metric; `1006` when no close frame was exchanged.
    fn close_metric(&self) -> (u16, &'static str) {
        match (self, self.close_frame()) {
            (Ended::PeerClosed(code), _) => (code.unwrap_or(CloseCode::NO_STATUS).0, "peer"),
            (_, Some(Some((code, _)))) => (code.0, "server"),
            _ => (CloseCode::ABNORMAL.0, "none"),
        }
    }
}

/// An accepted WebSocket: the socket plus its protocol state.
pub struct WebSocket {
    /// Shared with the outbox while the session runs: other tasks write into an idle
    /// connection's socket directly (see `outbox`).
    stream: Arc<TcpStream>,
    reader: Reader,
    writer: Writer,
    /// Bytes the client sent after its handshake request, before our `101` went out.
    early: Vec<u8>,
    config: Arc<WsConfig>,
    metrics: Arc<WsMetrics>,
    shutdown: watch::Receiver<bool>,
}

impl WebSocket {
    /// Wraps a stream whose handshake was accepted; `writer` already holds the `101` response.
    ///
    /// Unfinished incoming messages are charged to `inbound`, the process's budget for them.
    pub fn new(
        stream: TcpStream,
        writer: Writer,
        early: Vec<u8>,
        config: Arc<WsConfig>,
        metrics: Arc<WsMetrics>,
        inbound: Arc<Budget>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let reader = Reader::with_budget(config.max_message_size, inbound);
        WebSocket { stream: Arc::new(stream), reader, writer, early, config, metrics, shutdown }
    }

    /// Lowers this connection's message limit to what its service can use (see
    /// `Service::max_message_size`): larger messages fail with 1009 from their first header
    /// instead of being assembled only to be refused.
    pub fn limit_messages(&mut self, max: usize) {
        self.reader.limit(max);
    }

    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.stream.peer_addr().ok()
    }

    /// Runs the session until it ends, including the close handshake, and records how it ended.
    ///
    /// Borrows rather than consumes the connection: an `async fn` taking `self` by value keeps two
    /// copies of it in its state (the argument and its binding), which every connection's task
    /// carries for its whole life. The socket is closed when the `WebSocket` is dropped (a close
    /// handshake has already shut down its sending side).
    pub async fn run<H: Handler>(&mut self, handler: &mut H, mut outbound: Option<&mut outbox::Receiver>) -> Ended {
        self.metrics.opened();
        match outbound.as_mut() {
            Some(rx) => rx.attach(self.stream.clone(), self.metrics.clone()),
            // No other task can write to this socket: a large reply may go straight to it.
            None => self.writer.write_through(Box::new(Through(self.stream.clone(), self.metrics.clone()))),
        }
        let ended = self.serve(handler, &mut outbound).await;
        self.writer.stop_write_through();
        // From here the task alone writes: its close frame must be the last thing sent.
        if let Some(rx) = outbound.as_mut() {
            rx.detach(&mut self.writer);
        }
        self.finish(&ended).await;
        let (code, initiator) = ended.close_metric();
        self.metrics.ended(code, initiator, ended.label());
        ended
    }

    async fn serve<H: Handler>(&mut self, handler: &mut H, outbound: &mut Option<&mut outbox::Receiver>) -> Ended {
        let early = std::mem::take(&mut self.early);
        if !early.is_empty() {
            let mut early = early;
            if let Err(ended) = self.process(&mut early, handler) {
                return ended;
            }
        }
        let mut last_rx = Instant::now();
        let mut last_ping = last_rx;
        let mut stalled_since: Option<Instant> = None;
        let timer = sleep(self.config.ping_interval);
        tokio::pin!(timer);
        // One shutdown future for the whole session: made anew on every wake-up, it would
        // register with the watch channel again each time.
        let mut shutdown = self.shutdown.clone();
        let stop = shutdown.wait_for(|&stop| stop);
        tokio::pin!(stop);
        loop {
            match self.try_flush() {
                Ok(progress) if self.writer.is_empty() || progress => {
                    stalled_since = (!self.writer.is_empty()).then(Instant::now);
                }
                Ok(_) => {
                    stalled_since.get_or_insert_with(Instant::now);
                }
                Err(e) => return Ended::Io(e.kind()),
            }
            if let Some(rx) = outbound.as_mut() {
                rx.settle(self.writer.len());
            }
            // A stall must be noticed on time even when the keepalive tick is further away.
            if let Some(stall_deadline) = stalled_since.map(|t| t + self.config.send_timeout) {
                if stall_deadline < timer.deadline() {
                    timer.as_mut().reset(stall_deadline);
                }
            }
            // Backpressure: while our reply buffer is full, stop reading and stop taking outbound
            // messages; the peer's TCP window (or the senders' bounded outbox) fills instead.
            // The outbox is watched even without room: it may say this reader is too slow.
            let has_room = self.writer.len() < self.config.max_outbound_bytes;
            let wants_write = !self.writer.is_empty();
            // Polled in this order, first ready wins. The socket's readiness is polled, not
            // awaited through `readable()`/`writable()` futures: those live in the task's future
            // (304 bytes for the pair, in every idle connection), the polls keep one waker each
            // in the socket's registration. Nothing else waits on this socket's readiness
            // (direct writers only `try_write`), so the single waker slot is enough.
            let wake = poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Shutdown);
                }
                if wants_write {
                    if let Poll::Ready(ready) = self.stream.poll_write_ready(cx) {
                        return Poll::Ready(Wake::Io(ready));
                    }
                }
                if has_room {
                    if let Poll::Ready(ready) = self.stream.poll_read_ready(cx) {
                        return Poll::Ready(Wake::Readable(ready));
                    }
                }
                if let Some(rx) = outbound.as_mut() {
                    if let Poll::Ready(message) = rx.poll_next(cx, has_room) {
                        return Poll::Ready(message.map_or(Wake::Overrun, Wake::Outbound));
                    }
                }
                timer.as_mut().poll(cx).map(|()| Wake::Timer)
            })
            .await;
            match wake {
                Wake::Shutdown => return Ended::Closed(CloseCode::GOING_AWAY, "server shutting down"),
                // Others' messages to it overran its byte allowance: it is not reading.
                Wake::Overrun => return Ended::SlowConsumer,
                Wake::Io(Ok(())) => {}
                Wake::Io(Err(e)) | Wake::Readable(Err(e)) => return Ended::Io(e.kind()),
                Wake::Readable(Ok(())) => match self.read_with_claim(handler, outbound) {
                    Ok(true) => last_rx = Instant::now(),
                    Ok(false) => {}
                    Err(ended) => return ended,
                },
                Wake::Outbound(Taken::Rest(bytes)) => self.writer.raw(&bytes),
                Wake::Outbound(Taken::Message(message)) => {
                    if let Some(ended) = self.queue_outbound(message, outbound) {
                        return ended;
                    }
                }
                Wake::Timer => {
                    let now = Instant::now();
                    let cfg = &self.config;
                    if now >= last_rx + cfg.idle_timeout {
                        return Ended::IdleTimeout;
                    }
                    if stalled_since.is_some_and(|t| now >= t + cfg.send_timeout) {
                        return Ended::SlowConsumer;
                    }
                    if now >= last_rx.max(last_ping) + cfg.ping_interval {
                        if let Some(rx) = outbound.as_mut() {
                            rx.claim(&mut self.writer);
                        }
                        self.writer.frame(OpCode::Ping, b"");
                        last_ping = now;
                    }
                    let mut next = (last_rx.max(last_ping) + cfg.ping_interval).min(last_rx + cfg.idle_timeout);
                    if let Some(t) = stalled_since {
                        next = next.min(t + cfg.send_timeout);
                    }
                    timer.as_mut().reset(next.max(now + Duration::from_millis(1)));
                }
            }
        }
    }

    /// Takes the socket from direct writers (what the input answers must not be overtaken), then
    /// reads what is there. What the input sends others directly leaves when the batch is done,
    /// one write per recipient.
    fn read_with_claim<H: Handler>(
        &mut self,
        handler: &mut H,
        outbound: &mut Option<&mut outbox::Receiver>,
    ) -> Result<bool, Ended> {
        if let Some(rx) = outbound.as_mut() {
            rx.claim(&mut self.writer);
        }
        outbox::deferring(|| self.read_available(handler))
    }

    /// Reads until the socket would block (bounded per wake-up) and processes each chunk.
    /// Returns whether any bytes arrived.
    fn read_available<H: Handler>(&mut self, handler: &mut H) -> Result<bool, Ended> {
        read_buffer::with(|chunk| self.read_into(chunk, handler))
    }

    fn read_into<H: Handler>(&mut self, chunk: &mut [u8], handler: &mut H) -> Result<bool, Ended> {
        let mut got_any = false;
        for _ in 0..READS_PER_WAKE {
            match self.read_once(chunk) {
                Ok(Read { len: 0, .. }) => return Err(Ended::Vanished),
                Ok(Read { len, drained }) => {
                    got_any = true;
                    self.metrics.bytes_in.inc_by(len as u64);
                    self.process(&mut chunk[..len], handler)?;
                    if drained {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Err(Ended::Vanished),
                Err(e) => return Err(Ended::Io(e.kind())),
            }
        }
        Ok(got_any)
    }

    /// One read from the socket.
    ///
    /// A short read means the socket's receive queue is empty, so it also marks the stream not
    /// readable: otherwise the next wake-up would spend a `recv` syscall only to hear WouldBlock,
    /// one extra syscall per message at signaling rates. tokio's own `AsyncRead` does the same on
    /// Linux. The readiness is cleared against the event seen *before* the read (that is what
    /// `try_io` does with a WouldBlock from its closure), so bytes that arrive after the read
    /// still wake the task.
    fn read_once(&self, chunk: &mut [u8]) -> io::Result<Read> {
        let mut short = None;
        let result = self.stream.try_io(Interest::READABLE, || {
            let len = self.stream.try_read(chunk)?;
            if 0 < len && len < chunk.len() {
                short = Some(len);
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(len)
        });
        match (result, short) {
            (_, Some(len)) => Ok(Read { len, drained: true }),
            (Ok(len), None) => Ok(Read { len, drained: false }),
            (Err(e), None) => Err(e),
        }
    }

    /// Feeds bytes to the reader; answers pings; hands data messages to the handler.
    fn process<H: Handler>(&mut self, bytes: &mut [u8], handler: &mut H) -> Result<(), Ended> {
        let writer = &mut self.writer;
        let metrics = &self.metrics;
        let mut ended = None;
        let result = self.reader.feed(bytes, |incoming| {
            let message = match incoming {
                Incoming::Text(text) => Message::Text(text),
                Incoming::Binary(data) => Message::Binary(data),
                Incoming::Ping(payload) => {
                    writer.frame(OpCode::Pong, payload); // §5.5.2
                    return ControlFlow::Continue(());
                }
                Incoming::Pong(_) => return ControlFlow::Continue(()),
                Incoming::Close(frame) => {
                    ended = Some(Ended::PeerClosed(frame.map(|f| f.code)));
                    return ControlFlow::Break(());
                }
            };
            metrics.messages_in.inc();
            let before = writer.data_frames();
            let flow = handler.on_message(message, writer);
            metrics.messages_out.inc_by(writer.data_frames() - before);
            flow.map_break(|(code, reason)| ended = Some(Ended::Closed(code, reason)))
        });
        match (result, ended) {
            (Err(e), _) => Err(Ended::Failed(e)),
            (Ok(()), Some(ended)) => Err(ended),
            (Ok(()), None) => Ok(()),
        }
    }

    /// Encodes an outbound message and any others already waiting, up to a batch.
    fn queue_outbound(&mut self, first: Outbound, outbound: &mut Option<&mut outbox::Receiver>) -> Option<Ended> {
        let rx = outbound.as_mut()?;
        let mut message = first;
        for taken in 1..=OUTBOUND_BATCH {
            match message {
                Outbound::Text(text) => {
                    self.writer.text(&text);
                    self.metrics.messages_out.inc();
                }
                Outbound::Close(code, reason) => return Some(Ended::Closed(code, reason)),
            }
            // Take another only if it will be handled in this call: a message taken off the
            // outbox and not written would be lost.
            if taken == OUTBOUND_BATCH || self.writer.len() >= self.config.max_outbound_bytes {
                break;
            }
            match rx.try_recv() {
                Some(next) => message = next,
                None => break,
            }
        }
        None
    }

    /// Writes as much pending output as the socket takes now. Returns whether any was written.
    fn try_flush(&mut self) -> io::Result<bool> {
        let mut progress = false;
        while !self.writer.is_empty() {
            match self.stream.try_write(self.writer.pending()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.metrics.bytes_out.inc_by(n as u64);
                    self.writer.consume(n);
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(progress)
    }

    /// The close handshake (§7.1.2–§7.1.4): send our close frame if one is due, then close our
    /// side and wait — bounded — for the peer to close theirs, so the close frame is not lost to
    /// a reset caused by unread data. The server closes TCP first (§7.1.1), but not abruptly.
    async fn finish(&mut self, ended: &Ended) {
        let Some(frame) = ended.close_frame() else { return };
        // A peer silent past the idle timeout is presumed gone: tell it, but do not wait for it.
        let wait_for_peer = !matches!(ended, Ended::IdleTimeout);
        let mut payload = Vec::new();
        if let Some((code, reason)) = frame {
            close_payload(code, &reason, &mut payload);
        }
        self.writer.frame(OpCode::Close, &payload);
        let deadline = Instant::now() + self.config.close_timeout;
        // After a protocol error the reader's state is meaningless: only raw EOF ends the wait.
        let mut watch_for_close = !matches!(ended, Ended::Failed(_));
        let linger = async {
            if !wait_for_peer {
                self.try_flush()?;
                return shutdown_write(&mut self.stream).await;
            }
            while !self.writer.is_empty() {
                self.stream.writable().await?;
                self.try_flush()?;
            }
            shutdown_write(&mut self.stream).await?;
            if matches!(ended, Ended::PeerClosed(_)) {
                // The peer spoke last and sends nothing more (§5.5.1): nothing to wait for.
                return Ok(());
            }
            loop {
                self.stream.readable().await?;
                let (stream, reader) = (&self.stream, &mut self.reader);
                let read = read_buffer::with(|chunk| {
                    let n = stream.try_read(chunk)?;
                    // §7.1.1: once both close frames have been exchanged, close TCP at once.
                    let mut answered = false;
                    if n > 0 && watch_for_close {
                        let fed = reader.feed(&mut chunk[..n], |incoming| match incoming {
                            Incoming::Close(_) => {
                                answered = true;
                                ControlFlow::Break(())
                            }
                            _ => ControlFlow::Continue(()),
                        });
                        watch_for_close = fed.is_ok();
                    }
                    Ok::<_, io::Error>(n == 0 || answered)
                });
                match read {
                    Ok(true) => return Ok::<(), io::Error>(()),
                    Ok(false) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        };
        tokio::select! {
            _ = linger => {}
            () = sleep_until(deadline) => {}
        }
    }
}

/// The socket as the writer's [`Sink`], for a session without an outbox (nothing else writes).
#[derive(Debug)]
struct Through(Arc<TcpStream>, Arc<WsMetrics>);

impl Sink for Through {
    fn try_write(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = self.0.try_write_vectored(parts)?;
        self.1.bytes_out.inc_by(n as u64);
        Ok(n)
    }
}

/// What one read got: `len` bytes, and whether they emptied the socket's receive queue.
struct Read {
    len: usize,
    drained: bool,
}

/// What woke the session loop.
enum Wake {
    Shutdown,
    Io(io::Result<()>),
    Readable(io::Result<()>),
    Outbound(Taken),
    /// The outbox overran its byte allowance.
    Overrun,
    Timer,
}

/// Closes our sending side (§7.1.1: the server closes TCP first). After the outbox's `detach`
/// the connection is the socket's only owner.
async fn shutdown_write(stream: &mut Arc<TcpStream>) -> io::Result<()> {
    match Arc::get_mut(stream) {
        Some(stream) => stream.shutdown().await,
        // Not reached after `detach`; were it, the socket still closes when its last handle drops.
        None => Ok(()),
    }
}
