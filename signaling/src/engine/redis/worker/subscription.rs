//! The node's inbox subscription: its own connection to Redis (TCP or a Unix socket, `AUTH` if
//! the URL has a password), `SUBSCRIBE` to the inbox channel, then bytes read as they come and
//! the messages handed out borrowed from them ([`resp`] parses). The Redis client's subscription
//! built a message object per envelope; here a relayed signal is delivered from the read buffer.

use std::io;
use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UnixStream};

use crate::engine::redis::resp::{self, Frame, Item, RespError};

/// Bytes asked of the socket per read: a wake-up delivers at most what one read brought (about
/// 200 relayed candidates), so a backlog is served in turns with the worker's other work.
const READ_CHUNK: usize = 64 * 1024;

/// A buffer grown past this by one big message is given back once it is empty again.
const KEEP_CAPACITY: usize = 4 * READ_CHUNK;

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

pub(super) struct Subscription {
    stream: Stream,
    pub(super) received: Received,
}

/// What was read and not yet delivered: complete messages, then at most one partial one. Taken
/// out of the subscription while its messages are delivered (delivering needs the worker whole).
#[derive(Default)]
pub(super) struct Received {
    read: Vec<u8>,
    /// The longest message accepted (an envelope around the longest signal); longer is an error.
    message_max: usize,
}

fn failed(what: impl Into<String>) -> io::Error {
    io::Error::other(what.into())
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

impl Subscription {
    /// Connects, authenticates and subscribes to `channel`, each step within `timeout`.
    pub(super) async fn open(
        info: &ConnectionInfo,
        channel: &str,
        timeout: Duration,
        message_max: usize,
    ) -> io::Result<Subscription> {
        let stream = tokio::time::timeout(timeout, connect(info.addr())).await.map_err(|_| timed_out("connect"))??;
        let received = Received { read: Vec::with_capacity(READ_CHUNK), message_max };
        let mut subscription = Subscription { stream, received };
        let settings = info.redis_settings();
        let mut hello = Vec::new();
        if let Some(password) = settings.password() {
            match settings.username() {
                Some(user) => resp::command(&mut hello, &[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => resp::command(&mut hello, &[b"AUTH", password.as_bytes()]),
            }
        }
        resp::command(&mut hello, &[b"SUBSCRIBE", channel.as_bytes()]);
        let answer = async {
            subscription.write_all(&hello).await?;
            if settings.password().is_some() {
                match subscription.answer().await? {
                    Answer::Ok => {}
                    Answer::Refused(why) => return Err(failed(format!("AUTH refused: {why}"))),
                    Answer::Subscribed(_) => return Err(failed("AUTH unanswered")),
                }
            }
            match subscription.answer().await? {
                Answer::Subscribed(ch) if ch == channel.as_bytes() => Ok(()),
                Answer::Subscribed(_) | Answer::Ok => Err(failed("SUBSCRIBE answered for another channel")),
                Answer::Refused(why) => Err(failed(format!("SUBSCRIBE refused: {why}"))),
            }
        };
        tokio::time::timeout(timeout, answer).await.map_err(|_| timed_out("subscribe"))??;
        Ok(subscription)
    }

    /// Waits for more bytes (cancel-safe: nothing is lost if it is dropped). Ok(false): Redis
    /// closed the connection.
    pub(super) async fn fill(&mut self) -> io::Result<bool> {
        let read = &mut self.received.read;
        if read.is_empty() && read.capacity() > KEEP_CAPACITY {
            *read = Vec::with_capacity(READ_CHUNK);
        }
        // At least a chunk of room; at most the capacity a long message grew it to.
        read.reserve(READ_CHUNK);
        let n = match &mut self.stream {
            Stream::Tcp(s) => s.read_buf(read).await?,
            Stream::Unix(s) => s.read_buf(read).await?,
        };
        Ok(n > 0)
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.stream {
            Stream::Tcp(s) => s.write_all(bytes).await,
            Stream::Unix(s) => s.write_all(bytes).await,
        }
    }

    /// The next answer during the handshake, consumed.
    async fn answer(&mut self) -> io::Result<Answer> {
        loop {
            let received = &mut self.received;
            match resp::frame(&received.read, received.message_max) {
                Ok(Some((frame, used))) => {
                    let answer = match frame {
                        Frame::Status(_) => Answer::Ok,
                        Frame::Error(e) => Answer::Refused(String::from_utf8_lossy(e).into_owned()),
                        Frame::Push { kind: b"subscribe", channel, .. } => Answer::Subscribed(channel.to_vec()),
                        Frame::Push { kind, .. } => Answer::Refused(format!("{} push", String::from_utf8_lossy(kind))),
                    };
                    received.read.drain(..used);
                    return Ok(answer);
                }
                Ok(None) => {
                    if !self.fill().await? {
                        return Err(failed("Redis closed the connection"));
                    }
                }
                Err(e) => return Err(failed(e.to_string())),
            }
        }
    }
}

impl Received {
    /// Calls `deliver` with every message complete in what was read, in order, and keeps the
    /// rest. Anything but a message is an error: the subscription is then given up.
    pub(super) fn drain(&mut self, mut deliver: impl FnMut(&[u8])) -> Result<(), RespError> {
        let mut at = 0;
        let result = loop {
            match resp::frame(&self.read[at..], self.message_max) {
                Ok(Some((Frame::Push { kind: b"message", last: Item::Bulk(payload), .. }, used))) => {
                    deliver(payload);
                    at += used;
                }
                Ok(Some(_)) => break Err(RespError::Unexpected(self.read[at])),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.read.drain(..at);
        result
    }
}

/// An answer to `AUTH` or `SUBSCRIBE`.
enum Answer {
    Ok,
    Refused(String),
    Subscribed(Vec<u8>),
}

async fn connect(addr: &ConnectionAddr) -> io::Result<Stream> {
    match addr {
        ConnectionAddr::Tcp(host, port) => {
            let stream = TcpStream::connect((host.as_str(), *port)).await?;
            stream.set_nodelay(true)?;
            Ok(Stream::Tcp(stream))
        }
        ConnectionAddr::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
        _ => Err(failed("only redis:// and redis+unix:// are built in (not TLS)")),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    /// A one-connection stand-in for Redis on a free loopback port: expects `hello`, answers
    /// `answer`, then writes each of `later` apart.
    async fn fake(hello: &'static [u8], answer: &'static [u8], later: Vec<&'static [u8]>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = vec![0; hello.len()];
            socket.read_exact(&mut got).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(hello));
            socket.write_all(answer).await.unwrap();
            for bytes in later {
                tokio::time::sleep(Duration::from_millis(5)).await;
                socket.write_all(bytes).await.unwrap();
            }
            // Held open until the test is done reading.
            let _ = socket.read(&mut [0; 1]).await;
        });
        port
    }

    fn info(url: &str) -> ConnectionInfo {
        redis::Client::open(url).unwrap().get_connection_info().clone()
    }

    #[tokio::test]
    async fn authenticates_subscribes_and_delivers_messages_split_across_reads() {
        let hello = b"*3\r\n$4\r\nAUTH\r\n$5\r\nrelay\r\n$2\r\npw\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nin:1\r\n";
        let answer =
            b"+OK\r\n*3\r\n$9\r\nsubscribe\r\n$4\r\nin:1\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$4\r\nin:1\r\n$3\r\none\r\n";
        let later = vec![
            &b"*3\r\n$7\r\nmessage\r\n$4\r\nin:1\r\n$3\r\ntw"[..],
            b"o\r\n*3\r\n$7\r\nmessage\r\n$4\r\nin:1\r\n$0\r\n\r\n",
        ];
        let port = fake(hello, answer, later).await;
        let url = format!("redis://relay:pw@127.0.0.1:{port}");
        let mut subscription = Subscription::open(&info(&url), "in:1", WAIT, 64).await.unwrap();
        let mut delivered = Vec::new();
        for _ in 0..10 {
            if delivered.len() == 3 {
                break;
            }
            let mut received = std::mem::take(&mut subscription.received);
            received.drain(|m| delivered.push(String::from_utf8_lossy(m).into_owned())).unwrap();
            subscription.received = received;
            if delivered.len() < 3 {
                assert!(tokio::time::timeout(WAIT, subscription.fill()).await.unwrap().unwrap(), "open");
            }
        }
        assert_eq!(delivered, ["one", "two", ""]);
    }

    #[tokio::test]
    async fn a_refused_password_or_subscription_is_an_error() {
        let hello = b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nin:1\r\n";
        let port = fake(hello, b"-WRONGPASS invalid username-password pair\r\n", vec![]).await;
        let url = format!("redis://:pw@127.0.0.1:{port}");
        let error = Subscription::open(&info(&url), "in:1", WAIT, 64).await.err().unwrap();
        assert!(error.to_string().contains("WRONGPASS"), "{error}");

        let hello = b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nin:1\r\n";
        let port = fake(hello, b"-NOAUTH Authentication required.\r\n", vec![]).await;
        let error =
            Subscription::open(&info(&format!("redis://127.0.0.1:{port}")), "in:1", WAIT, 64).await.err().unwrap();
        assert!(error.to_string().contains("NOAUTH"), "{error}");
    }

    #[tokio::test]
    async fn anything_but_a_message_or_one_over_the_limit_loses_the_subscription() {
        let hello = b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nin:1\r\n";
        let answer = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nin:1\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$4\r\nin:1\r\n$65\r\n";
        let port = fake(hello, answer, vec![]).await;
        let mut subscription =
            Subscription::open(&info(&format!("redis://127.0.0.1:{port}")), "in:1", WAIT, 64).await.unwrap();
        // The announced length is refused as soon as it is read, before its bytes are waited for.
        let mut drained = subscription.received.drain(|_| panic!("nothing to deliver"));
        for _ in 0..10 {
            if drained.is_err() {
                break;
            }
            assert!(tokio::time::timeout(WAIT, subscription.fill()).await.unwrap().unwrap(), "open");
            drained = subscription.received.drain(|_| panic!("nothing to deliver"));
        }
        assert_eq!(drained, Err(RespError::TooLong(65)));
        let mut received =
            Received { read: b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nin:1\r\n:0\r\n".to_vec(), message_max: 64 };
        assert_eq!(received.drain(|_| panic!("nothing to deliver")), Err(RespError::Unexpected(b'*')));
    }
}
