//! What every reference server binary shares: its command line, binding with the
//! `listening on ADDR` line the harness waits for, and an accept that survives running out of
//! file descriptors.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// `[--echo | --frames] [ADDR]`: ADDR defaults to `127.0.0.1:0` (a port the OS picks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    pub addr: SocketAddr,
    pub mode: Mode,
}

/// What a reference server serves. `ref-rawtcp` knows every mode, `ref-fastwebsockets`
/// [`Mode::Rooms`] and [`Mode::Echo`], `ref-tungstenite` only [`Mode::Rooms`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The room protocol (the default).
    Rooms,
    /// `--echo`: every message echoed back (by `ref-rawtcp`: bytes, the floor of the echo
    /// benchmark; by `ref-fastwebsockets`: WebSocket messages, its reference).
    Echo,
    /// `--frames`: length-prefixed frames, relayed unread once seated, the floor of the relay.
    Frames,
}

impl ServeArgs {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<ServeArgs, String> {
        let mut parsed = ServeArgs { addr: SocketAddr::from(([127, 0, 0, 1], 0)), mode: Mode::Rooms };
        for arg in args {
            let mode = match arg.as_str() {
                "--echo" => Mode::Echo,
                "--frames" => Mode::Frames,
                _ => {
                    parsed.addr = arg.parse().map_err(|e| format!("bad address {arg:?}: {e}"))?;
                    continue;
                }
            };
            if parsed.mode != Mode::Rooms {
                return Err(format!("{arg} after another mode: choose one of --echo and --frames"));
            }
            parsed.mode = mode;
        }
        Ok(parsed)
    }

    /// From the process's own arguments; exits with a usage line on a bad one.
    pub fn from_env() -> ServeArgs {
        match ServeArgs::parse(std::env::args().skip(1)) {
            Ok(args) => args,
            Err(e) => {
                eprintln!("usage: {} [--echo | --frames] [ADDR]: {e}", std::env::args().next().unwrap_or_default());
                std::process::exit(2);
            }
        }
    }
}

/// Binds `addr` and prints `listening on ADDR` to stderr, the line the bench harness waits for.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    Ok(listener)
}

/// The next connection, with Nagle off (signaling messages are small and latency-bound, as in
/// the signaling server). An accept error (out of descriptors) is waited out, not fatal.
pub async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return stream;
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ServeArgs, String> {
        ServeArgs::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_modes_and_address() {
        assert_eq!(parse(&[]).unwrap(), ServeArgs { addr: "127.0.0.1:0".parse().unwrap(), mode: Mode::Rooms });
        let args = parse(&["--echo", "127.0.0.1:9000"]).unwrap();
        assert_eq!(args.mode, Mode::Echo);
        assert_eq!(args.addr.port(), 9000);
        assert_eq!(parse(&["--frames"]).unwrap().mode, Mode::Frames);
        assert!(parse(&["--echo", "--frames"]).is_err());
        assert!(parse(&["nonsense"]).is_err());
    }
}
