//! The `signaling` binary as an operator runs it: flags and their `SIGNALING_<FLAG>` twins, refusals
//! of bad values, and graceful shutdown on SIGTERM and SIGINT. Every process is killed on drop and
//! every wait is bounded.

mod common;

use std::io::{BufRead as _, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use signaling::ws::frame::OpCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::Message;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Stdout,
    Stderr,
}

/// A signal by its `kill` name and its (Linux) number.
#[derive(Debug, Clone, Copy)]
struct Sig {
    name: &'static str,
    number: u32,
}

const SIGTERM: Sig = Sig { name: "TERM", number: 15 };
const SIGINT: Sig = Sig { name: "INT", number: 2 };

/// A running `signaling` process and the lines it has written so far. Killed when dropped.
struct Signaling {
    child: Child,
    lines: Receiver<(Source, String)>,
    seen: Vec<(Source, String)>,
}

impl Signaling {
    /// Starts the binary with `args` and `envs` and nothing else from our environment that could
    /// change its behaviour (no inherited `SIGNALING_*`, logs at info, no colours).
    fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Signaling {
        let mut command = Command::new(env!("CARGO_BIN_EXE_signaling"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SIGNALING_") {
                command.env_remove(name);
            }
        }
        command.env("RUST_LOG", "info").env("NO_COLOR", "1").envs(envs.iter().copied()).args(args);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn signaling");
        let (tx, lines) = mpsc::channel();
        forward_lines(child.stdout.take().expect("stdout piped"), Source::Stdout, tx.clone());
        forward_lines(child.stderr.take().expect("stderr piped"), Source::Stderr, tx);
        Signaling { child, lines, seen: Vec::new() }
    }

    /// Starts the binary and waits for it to log `listening on ADDR`; returns that address.
    fn start(args: &[&str], envs: &[(&str, &str)]) -> (Signaling, SocketAddr) {
        let mut process = Signaling::spawn(args, envs);
        let line = process.wait_for_line("listening on ");
        let addr = listening_addr(&line).unwrap_or_else(|| panic!("no address in {line:?}"));
        (process, addr)
    }

    /// Waits (bounded) for an output line containing `needle`, on either stream.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((source, line)) => {
                    self.seen.push((source, line.clone()));
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no {needle:?} in time; output:\n{}", self.all_output()),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("exited before printing {needle:?}; output:\n{}", self.all_output())
                }
            }
        }
    }

    fn send_signal(&self, signal: Sig) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").arg(format!("-{}", signal.name)).arg(pid).status().expect("run kill");
        assert!(status.success(), "kill -{} failed", signal.name);
    }

    /// Waits (bounded) until the process catches `signal` (Linux: its bit in `SigCgt` of
    /// `/proc/PID/status`). The binary installs its handlers lazily, after it logs `listening on`;
    /// a signal before that kills it outright (see `a_signal_right_after_startup_...` below).
    fn wait_until_caught(&self, signal: Sig) {
        if !cfg!(target_os = "linux") {
            return thread::sleep(Duration::from_millis(500));
        }
        let path = format!("/proc/{}/status", self.child.id());
        let deadline = Instant::now() + WAIT;
        loop {
            let status = std::fs::read_to_string(&path).expect("read /proc/PID/status");
            let caught = status.lines().find_map(|line| line.strip_prefix("SigCgt:"));
            let mask = caught.and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok()).unwrap_or(0);
            if mask & (1 << (signal.number - 1)) != 0 {
                return;
            }
            assert!(Instant::now() < deadline, "SIG{} never caught: {caught:?}", signal.name);
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits (bounded) for the process to exit, then collects the rest of its output.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "still running after {WAIT:?}; output:\n{}", self.all_output());
            thread::sleep(Duration::from_millis(10));
        };
        // Both pipes close at exit; the bound only guards against a stray holder of them.
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(line);
        }
        status
    }

    fn output(&self, source: Source) -> String {
        self.seen.iter().filter(|(s, _)| *s == source).map(|(_, line)| format!("{line}\n")).collect()
    }

    fn all_output(&self) -> String {
        self.seen.iter().map(|(source, line)| format!("{source:?}: {line}\n")).collect()
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A thread that sends each line of `pipe`, colour codes removed, until it closes.
fn forward_lines(pipe: impl Read + Send + 'static, source: Source, tx: Sender<(Source, String)>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = strip_ansi(&String::from_utf8_lossy(&line));
            if tx.send((source, text.trim_end().to_owned())).is_err() {
                return;
            }
            line.clear();
        }
    });
}

/// Removes ANSI escape sequences (`ESC [ ... letter`), in case colours are on despite `NO_COLOR`.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The address after `listening on ` in a log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening on ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Runs the binary to its exit (bounded) and returns the status and its stdout and stderr.
fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let mut process = Signaling::spawn(args, envs);
    let status = process.wait_exit();
    (status, process.output(Source::Stdout), process.output(Source::Stderr))
}

/// A web root holding only `index.html`.
fn web_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), "<h1>served from the env web root</h1>").expect("write index");
    dir
}

/// `GET path` on a fresh connection; the response head, or the error a refused connection may
/// end in (the server closes it without reading the request, which can reset it).
async fn try_get_head(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut response = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut response)).await??;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

// ---------------------------------------------------------------------------------------------
// Starting

#[tokio::test]
async fn listen_flag_logs_the_bound_address_and_serves_health() {
    let (process, addr) = Signaling::start(&["--listen", "127.0.0.1:0"], &[]);
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let response = http_get(addr, "/healthz").await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.body_text().trim_end(), "ok");
    drop(process);
}

/// Text a client controls never starts a log line of its own: an unknown message `type` holding a
/// newline and a made-up log line is logged escaped, inside the one line that reports it.
#[tokio::test]
async fn a_client_cannot_forge_log_lines_with_newlines() {
    let (mut process, addr) = Signaling::start(&["--listen", "127.0.0.1:0"], &[("RUST_LOG", "debug")]);
    let forged = "INFO signaling: forged line";
    let message = format!(r#"{{"type":"x\n{forged}"}}"#);
    let mut ws = raw_websocket(addr, "/ws").await;
    ws.write_all(&client_frame(true, OpCode::Text, message.as_bytes())).await.expect("write");
    let line = strip_ansi(&process.wait_for_line("forged line"));
    assert!(line.contains("error sent"), "the made-up text stays inside the line reporting it: {line:?}");
    assert!(!line.trim_start().starts_with(forged), "a forged log line: {line:?}");
    drop(process);
}

#[tokio::test]
async fn env_listen_is_used_like_the_flag() {
    let (process, addr) = Signaling::start(&[], &[("SIGNALING_LISTEN", "127.0.0.1:0")]);
    // Not the default 127.0.0.1:8080: the env var chose the ephemeral port.
    assert_ne!(addr.port(), 8080);
    assert_eq!(http_get(addr, "/healthz").await.status, 200);
    drop(process);
}

#[tokio::test]
async fn env_max_connections_refuses_the_next_connection_with_503() {
    let envs = [("SIGNALING_LISTEN", "127.0.0.1:0"), ("SIGNALING_MAX_CONNECTIONS", "1")];
    let (process, addr) = Signaling::start(&[], &envs);
    let held = raw_websocket(addr, "/ws").await;
    // Refused before anything is read, so send nothing: unread bytes would turn the close into a reset.
    let mut second = connect(addr).await;
    let head = read_http_head(&mut second).await;
    assert_eq!(status_of(&head), 503, "{head:?}");
    assert_eq!(header_of(&head, "Retry-After"), Some("5"));
    // The cap counts open connections: once the first is gone, the slot is free again.
    drop(held);
    let deadline = Instant::now() + WAIT;
    loop {
        let head = try_get_head(addr, "/healthz").await;
        if head.as_deref().is_ok_and(|head| status_of(head) == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed: {head:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(process);
}

#[tokio::test]
async fn env_web_root_serves_its_files() {
    let dir = web_root();
    let root = dir.path().to_str().expect("UTF-8 temp path");
    let (process, addr) = Signaling::start(&[], &[("SIGNALING_LISTEN", "127.0.0.1:0"), ("SIGNALING_WEB_ROOT", root)]);
    let response = http_get(addr, "/").await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.body_text(), "<h1>served from the env web root</h1>");
    assert_eq!(response.header("Content-Type"), Some("text/html; charset=utf-8"));
    drop(process);
}

#[tokio::test]
async fn env_max_message_size_closes_a_larger_message_with_1009() {
    // The rooms' own limit on a signaling message may not exceed the WebSocket one, so it comes down too.
    let envs = [
        ("SIGNALING_LISTEN", "127.0.0.1:0"),
        ("SIGNALING_MAX_MESSAGE_SIZE", "1000"),
        ("SIGNALING_MAX_SIGNAL_SIZE", "1000"),
    ];
    let (process, addr) = Signaling::start(&[], &envs);
    let mut ws = raw_websocket(addr, "/ws").await;
    ws.write_all(&client_frame(true, OpCode::Text, &[b' '; 1000])).await.expect("write");
    // Whatever the service answers to 1000 blank bytes, the connection stays open: a ping is answered.
    ws.write_all(&client_frame(true, OpCode::Ping, b"still open?")).await.expect("write");
    // The answer and the pong may arrive in one read: keep what follows the first frame.
    let mut frames = FrameReader::default();
    loop {
        let (header, payload) = frames.next(&mut ws).await.expect("a pong before EOF");
        assert_ne!(header.opcode, OpCode::Close, "1000 bytes is within the limit: {payload:?}");
        if header.opcode == OpCode::Pong {
            assert_eq!(payload, b"still open?");
            break;
        }
    }
    ws.write_all(&client_frame(true, OpCode::Text, &[b' '; 1001])).await.expect("write");
    let (header, payload) = frames.next(&mut ws).await.expect("a close frame before EOF");
    assert_eq!(header.opcode, OpCode::Close, "{payload:?}");
    assert_eq!(payload.get(..2), Some(&1009u16.to_be_bytes()[..]), "close 1009, message too big: {payload:?}");
    drop(process);
}

#[tokio::test]
async fn env_allowed_origins_refuses_other_origins_with_403() {
    let envs = [("SIGNALING_LISTEN", "127.0.0.1:0"), ("SIGNALING_ALLOWED_ORIGINS", "https://ok.example")];
    let (process, addr) = Signaling::start(&[], &envs);
    let refused = http_head(addr, upgrade_request("/ws", "Origin: https://evil.example\r\n").as_bytes()).await;
    assert_eq!(status_of(&refused), 403, "{refused:?}");
    let accepted = http_head(addr, upgrade_request("/ws", "Origin: https://ok.example\r\n").as_bytes()).await;
    assert_eq!(status_of(&accepted), 101, "{accepted:?}");
    drop(process);
}

#[tokio::test]
async fn a_flag_wins_over_its_env_var() {
    let envs = [("SIGNALING_LISTEN", "127.0.0.1:0"), ("SIGNALING_MAX_CONNECTIONS", "1")];
    let (process, addr) = Signaling::start(&["--max-connections", "2"], &envs);
    let _held = raw_websocket(addr, "/ws").await;
    let response = http_request(addr, "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await;
    assert_eq!(response.status, 200, "the flag's 2 applies, not the env var's 1: {}", response.head);
    drop(process);
}

// ---------------------------------------------------------------------------------------------
// Refusing bad configuration

#[test]
fn bad_values_exit_non_zero_with_a_message_and_no_panic() {
    let missing = "/does/not/exist";
    /// Flags, environment, and what the message must name.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (&["--max-connections", "0"], &[], "--max-connections"),
        (&["--listen", "nonsense"], &[], "nonsense"),
        (&["--listen", "127.0.0.1:0", "--web-root", missing], &[], missing),
        (&["--listen", "127.0.0.1:0"], &[("SIGNALING_MAX_CONNECTIONS", "0")], "--max-connections"),
        (&[], &[("SIGNALING_LISTEN", "nonsense")], "nonsense"),
    ];
    for (args, envs, mentions) in cases {
        let (status, stdout, stderr) = run_to_exit(args, envs);
        let output = format!("{stdout}{stderr}");
        assert!(!status.success(), "{args:?} {envs:?} started: {output}");
        assert!(status.code().is_some(), "{args:?} {envs:?} died by a signal: {status:?}");
        assert!(!output.contains("panicked"), "{args:?} {envs:?} panicked: {output}");
        assert!(output.contains(mentions), "{args:?} {envs:?}: message should name {mentions:?}: {output}");
    }
}

#[test]
fn usage_errors_are_reported_on_stderr() {
    for args in [&["--max-connections", "0"][..], &["--listen", "nonsense"], &["--no-such-flag"]] {
        let (status, _, stderr) = run_to_exit(args, &[]);
        assert_eq!(status.code(), Some(2), "{args:?}");
        assert!(stderr.contains("error:"), "{args:?}: {stderr:?}");
    }
}

#[test]
fn an_address_in_use_exits_non_zero_without_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("local addr").to_string();
    let (status, stdout, stderr) = run_to_exit(&["--listen", &addr], &[]);
    let output = format!("{stdout}{stderr}");
    assert!(!status.success() && status.code().is_some(), "{status:?}: {output}");
    assert!(!output.contains("panicked"), "{output}");
    assert!(output.contains("cannot listen on") && output.contains(&addr), "{output}");
}

#[test]
fn startup_errors_are_reported_on_stderr() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("local addr").to_string();
    for args in [&["--listen", "127.0.0.1:0", "--web-root", "/does/not/exist"][..], &["--listen", &addr]] {
        let (status, stdout, stderr) = run_to_exit(args, &[]);
        assert!(!status.success(), "{args:?}");
        assert!(stderr.contains("ERROR"), "{args:?}: stderr {stderr:?}, stdout {stdout:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown

/// A connected WebSocket client gets close 1001 on `signal`, and the process then exits 0.
async fn signal_closes_websockets_with_1001_and_exits_0(signal: Sig) {
    let (mut process, addr) = Signaling::start(&["--listen", "127.0.0.1:0"], &[]);
    let url = format!("ws://{addr}/ws");
    let (mut ws, _) =
        timeout(WAIT, tokio_tungstenite::connect_async(url)).await.expect("connect in time").expect("connect");
    // A ping answered proves the session is up, whatever service the binary runs.
    ws.send(Message::Ping(b"up?".to_vec().into())).await.expect("send");
    let pong = timeout(WAIT, ws.next()).await.expect("pong in time").expect("a pong").expect("ok pong");
    assert_eq!(pong, Message::Pong(b"up?".to_vec().into()), "the session is up before the signal");
    process.wait_until_caught(signal);

    let signalled = Instant::now();
    process.send_signal(signal);
    let name = signal.name;
    match timeout(WAIT, ws.next()).await.expect("close in time") {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, TCloseCode::Away, "{frame:?}"),
        other => panic!("expected close 1001 after SIG{name}, got {other:?}"),
    }
    // Reading on lets tungstenite answer the close; the server then ends the TCP connection.
    while let Some(Ok(_)) = timeout(WAIT, ws.next()).await.expect("server ends the connection in time") {}
    // Closing our side too, as a browser does: the server waits (bounded) for it before it lets go.
    drop(ws);

    let status = process.wait_exit();
    assert!(status.success(), "SIG{name} should end with exit 0, got {status:?}:\n{}", process.all_output());
    // The client said goodbye at once, so nothing had to wait out the close timeout (3 s).
    assert!(signalled.elapsed() < Duration::from_secs(3), "took {:?}", signalled.elapsed());
    let output = process.all_output();
    assert!(output.contains("shutdown signal received") && output.contains("stopped"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
}

#[tokio::test]
async fn sigterm_closes_websockets_with_1001_and_exits_0() {
    signal_closes_websockets_with_1001_and_exits_0(SIGTERM).await;
}

#[tokio::test]
async fn sigint_closes_websockets_with_1001_and_exits_0() {
    signal_closes_websockets_with_1001_and_exits_0(SIGINT).await;
}

#[test]
fn a_signal_right_after_startup_still_shuts_down_gracefully() {
    // The window is short, so try a few times; each try alone fails more often than not.
    for attempt in 0..20 {
        let (mut process, _) = Signaling::start(&["--listen", "127.0.0.1:0"], &[]);
        process.send_signal(SIGTERM);
        let status = process.wait_exit();
        assert!(status.success(), "attempt {attempt}: SIGTERM right after `listening on` gave {status:?}");
    }
}

/// `--health-check` (the container health check) exits 0 against a running server and 1 when
/// nothing answers on the address.
#[test]
fn health_check_probes_the_listen_address() {
    let (process, addr) = Signaling::start(&["--listen", "127.0.0.1:0"], &[]);
    let (status, _, stderr) = run_to_exit(&["--listen", &addr.to_string(), "--health-check"], &[]);
    assert!(status.success(), "{stderr}");
    drop(process);
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (status, _, stderr) = run_to_exit(&["--listen", &free.to_string(), "--health-check"], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("health check"), "{stderr}");
}
