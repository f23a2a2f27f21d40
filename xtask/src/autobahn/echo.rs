//! The server under test: the signaling crate's `echo` example, which runs our WebSocket layer
//! and nothing else, on a free loopback port, ready once it accepts a TCP connection.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::process::{self, KillOnDrop};
use crate::workspace::Workspace;

/// A release build of the echo server listens within a second; 30 s leaves room for a loaded CI box.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Builds the echo example in release mode (the suite sends thousands of frames, and this is the
/// build we ship) and starts it on a free loopback port; it is killed when the guard drops.
pub fn start(ws: &Workspace) -> Result<(KillOnDrop, SocketAddr), Error> {
    process::run(&mut ws.command(&["cargo", "build", "--release", "-p", "signaling", "--example", "echo"]))?;
    let addr = free_local_addr()?;
    let echo = ws.target_dir().join("release/examples/echo");
    let mut server = KillOnDrop::spawn(
        std::process::Command::new(&echo).arg(addr.to_string()).current_dir(ws.root()),
        format!("echo server on {addr}"),
    )?;
    wait_until_listening(&mut server, addr, STARTUP_LIMIT)?;
    println!("    {} is listening", server.what());
    Ok((server, addr))
}

/// A loopback address with a port the OS just handed out. The listener is dropped before the
/// server binds it; another process could take the port in between, which the wait below reports.
fn free_local_addr() -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("binding 127.0.0.1:0 to find a free port", e))?;
    listener.local_addr().map_err(|e| Error::io("reading the address of 127.0.0.1:0", e))
}

/// Polls until `addr` accepts a TCP connection; fails early if the server exits, late after `limit`.
fn wait_until_listening(server: &mut KillOnDrop, addr: SocketAddr, limit: Duration) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        let exited =
            server.child_mut().try_wait().map_err(|e| Error::io(format!("checking on {}", server.what()), e))?;
        if let Some(status) = exited {
            return Err(Error::ServerExited { what: server.what().to_owned(), status });
        }
        if TcpStream::connect_timeout(&addr, POLL_EVERY).is_ok() {
            return Ok(());
        }
        if started.elapsed() >= limit {
            return Err(Error::ServerTimeout { what: server.what().to_owned(), addr, waited: limit });
        }
        thread::sleep(POLL_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn sleeper() -> KillOnDrop {
        KillOnDrop::spawn(Command::new("sleep").arg("30"), "sleeper").expect("sleep starts")
    }

    #[test]
    fn free_addr_is_loopback_with_a_real_port() {
        let addr = free_local_addr().expect("can bind loopback");
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
    }

    #[test]
    fn returns_once_something_listens() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let result = wait_until_listening(&mut sleeper(), addr, Duration::from_secs(5));
        assert!(result.is_ok(), "{result:?}");
    }

    /// Nothing can listen on port 0, so connecting there always fails; unlike a "free" port,
    /// it cannot be taken by a test running in parallel.
    fn nobody_listens() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    }

    #[test]
    fn fails_when_the_server_exits() {
        let mut server = KillOnDrop::spawn(&mut Command::new("false"), "quitter").expect("starts");
        server.child_mut().wait().expect("false exits");
        let result = wait_until_listening(&mut server, nobody_listens(), Duration::from_secs(5));
        assert!(matches!(result, Err(Error::ServerExited { .. })), "{result:?}");
    }

    #[test]
    fn fails_after_the_limit() {
        let limit = Duration::from_millis(300);
        let result = wait_until_listening(&mut sleeper(), nobody_listens(), limit);
        assert!(matches!(result, Err(Error::ServerTimeout { .. })), "{result:?}");
    }
}
