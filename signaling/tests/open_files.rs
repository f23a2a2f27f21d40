//! A low open-files limit: the server raises its soft `RLIMIT_NOFILE` to the hard one, and keeps
//! its connection cap under what it has, so connections past it get `503` at once (and `/healthz`
//! still answers others) instead of the accept loop stalling on EMFILE near the limit with the
//! backlog unanswered. The server runs under `prlimit`, as a spawned binary.

#[path = "support/binary.rs"]
mod binary;
mod common;

use common::*;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

const CLIENT: &str = "127.0.0.2";
const BYSTANDER: &str = "127.0.0.3";
/// Past a 256-descriptor limit, where the server used to stall.
const CONNECTIONS: usize = 260;
/// All of them from one address, so its allowance is lifted past them.
const ONE_ADDRESS: [&str; 2] = ["--max-connections-per-address", "1000"];

/// Opens `CONNECTIONS` WebSockets from one address; each is answered (bounded wait), with the
/// status of each answer counted.
async fn open_all(addr: std::net::SocketAddr) -> (Vec<TcpStream>, usize, usize) {
    let (mut held, mut upgraded, mut busy) = (Vec::new(), 0, 0);
    for _ in 0..CONNECTIONS {
        let mut stream = connect_from(CLIENT, addr).await;
        stream.write_all(upgrade_request("/ws", "").as_bytes()).await.expect("write upgrade");
        match status_of(&read_http_head(&mut stream).await) {
            101 => upgraded += 1,
            503 => busy += 1,
            other => panic!("connection {} answered {other}", upgraded + busy),
        }
        held.push(stream);
    }
    (held, upgraded, busy)
}

#[tokio::test]
async fn with_a_low_hard_limit_the_cap_is_lowered_and_refuses_cleanly() {
    let server = binary::Spawned::start(&["prlimit", "--nofile=256:256", "--"], &ONE_ADDRESS);
    let (held, upgraded, busy) = open_all(server.addr).await;
    // 256 descriptors, 64 spare, 16 for the plain-HTTP reserve.
    assert_eq!((upgraded, busy), (176, CONNECTIONS - 176));
    let health = http_get_from(BYSTANDER, server.addr).await;
    assert!(health.starts_with("HTTP/1.1 200 "), "{health:?}");
    drop(held);
}

#[tokio::test]
async fn a_low_soft_limit_is_raised_to_the_hard_one() {
    let server = binary::Spawned::start(&["prlimit", "--nofile=256:4096", "--"], &ONE_ADDRESS);
    let (held, upgraded, busy) = open_all(server.addr).await;
    assert_eq!((upgraded, busy), (CONNECTIONS, 0));
    drop(held);
}

async fn http_get_from(local: &str, addr: std::net::SocketAddr) -> String {
    let mut stream = connect_from(local, addr).await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await.expect("write");
    read_http_head(&mut stream).await
}
