//! `--health-check`: one bounded `GET /healthz` against the server's own listen address, for a
//! container runtime's health check (the runtime image has no shell or curl).

use std::io::{Read as _, Write as _};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long the probe may take to connect, and then to get the status line.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the server listening on `listen` answers `200` to `GET /healthz`. An unspecified
/// address (`0.0.0.0`, `::`) is probed on loopback.
pub fn probe(listen: SocketAddr) -> std::io::Result<bool> {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { [127, 0, 0, 1].into() } else { Ipv6Addr::LOCALHOST.into() });
    }
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    Ok(head.starts_with(b"HTTP/1.1 200"))
}
