//! A door between network namespaces for the NAT tests, run inside one with `ip netns exec`:
//! a Unix socket (a file, visible from every network namespace) forwarded to a TCP address of
//! this namespace, so the test drives the chromedriver behind a simulated home router without
//! any link between that namespace and its own. Also a connect probe, to wait for a server
//! inside a namespace.
//!
//! `netns-bridge forward SOCKET HOST:PORT` — serve until killed; one thread pair per connection.
//! `netns-bridge probe HOST:PORT SECONDS` — exit 0 once a TCP connect succeeds, 1 at the deadline.

#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// WebDriver uses a handful of connections; more means something is wrong.
const MAX_CONNECTIONS: usize = 64;
/// A chromedriver command that takes longer than this is stuck (page loads are bounded by it too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["forward", socket, target] => forward(socket, target),
        ["probe", target, seconds] => probe(target, seconds),
        _ => Err("usage: netns-bridge forward SOCKET HOST:PORT | probe HOST:PORT SECONDS".to_owned()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("netns-bridge: {why}");
            ExitCode::FAILURE
        }
    }
}

fn parse(target: &str) -> Result<SocketAddr, String> {
    target.parse().map_err(|e| format!("{target}: {e}"))
}

fn forward(socket: &str, target: &str) -> Result<(), String> {
    let target = parse(target)?;
    // A socket left by a killed run would make bind fail.
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket).map_err(|e| format!("binding {socket}: {e}"))?;
    let live = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for client in listener.incoming() {
        let client = client.map_err(|e| format!("accepting on {socket}: {e}"))?;
        if live.load(std::sync::atomic::Ordering::Relaxed) >= MAX_CONNECTIONS {
            eprintln!("netns-bridge: {MAX_CONNECTIONS} connections open; refusing one");
            continue;
        }
        let server = match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("netns-bridge: connecting to {target}: {e}");
                continue;
            }
        };
        live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let live = live.clone();
        std::thread::spawn(move || {
            pump(client, server);
            live.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        });
    }
    Ok(())
}

/// Copies both ways until both directions have ended; each end learns of the other's close.
fn pump(client: UnixStream, server: TcpStream) {
    let (Ok(client_reader), Ok(server_writer)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upstream = std::thread::spawn(move || {
        copy(client_reader, &server_writer);
        let _ = server_writer.shutdown(Shutdown::Write);
    });
    copy(server, &client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = upstream.join();
}

fn copy(mut from: impl Read, mut to: impl Write) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn probe(target: &str, seconds: &str) -> Result<(), String> {
    let target = parse(target)?;
    let limit = Duration::from_secs(seconds.parse().map_err(|e| format!("{seconds}: {e}"))?);
    let started = Instant::now();
    loop {
        match TcpStream::connect_timeout(&target, Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() >= limit => return Err(format!("{target}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
