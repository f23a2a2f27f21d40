//! The reference servers speak the room protocol exactly as the signaling server does, proven
//! against each real binary on port 0 with the load generator's own client: join in pairs,
//! relay with `from` stamped, `peer_left` when a connection closes, `room_full` for a third.
//! Then a small relay and a join burst run through the generator with every message checked.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bench::load::conn::{self, Transport};
use bench::load::relay::{self, Pacing, RelayPlan};
use bench::load::{join, pair};
use bench::server::{listening_addr, Target};
use bench::wire::{self, Incoming, SignalMaker};
use shared::{ErrorCode, ServerMessage};

const LIMIT: Duration = Duration::from_secs(10);

/// A reference server on a port the OS picks; killed on drop.
struct Reference {
    child: Child,
    target: Target,
}

impl Reference {
    fn start(binary: &str, transport: Transport) -> Reference {
        let mut child = Command::new(binary)
            .arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line).expect("a first line");
        let addr: SocketAddr = listening_addr(&line).unwrap_or_else(|| panic!("{binary} printed {line:?}"));
        let pid = child.id();
        Reference { child, target: Target::new("reference", addr, transport, pid) }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn references() -> [(&'static str, Transport); 3] {
    [
        (env!("CARGO_BIN_EXE_ref-tungstenite"), Transport::WebSocket),
        (env!("CARGO_BIN_EXE_ref-fastwebsockets"), Transport::WebSocket),
        (env!("CARGO_BIN_EXE_ref-rawtcp"), Transport::Tcp),
    ]
}

#[tokio::test]
async fn every_reference_speaks_the_room_protocol() {
    for (binary, transport) in references() {
        let server = Reference::start(binary, transport);
        let (addr, scenario) = (server.target.addr, "protocol");
        let (mut a, mut b) = pair(addr, transport, "room-1", scenario).await.unwrap();

        let signal = SignalMaker::new(a.id.clone(), 256).make(0, 7);
        b.tx.send(signal).await.unwrap();
        match wire::parse(&a.rx.recv_within(LIMIT, "relayed").await.unwrap()) {
            Incoming::Relayed(relayed) => {
                assert_eq!((relayed.from, relayed.seq, relayed.sent_us), (b.id.clone(), 0, 7))
            }
            other => panic!("{binary}: expected a relayed signal, got {other:?}"),
        }

        let (mut c_tx, mut c_rx) = conn::connect(addr, transport).await.unwrap();
        c_tx.send(wire::join("room-1").unwrap()).await.unwrap();
        let full = c_rx.recv_within(LIMIT, "room_full").await.unwrap();
        assert!(
            matches!(ServerMessage::parse(&full), Ok(ServerMessage::Error { code: ErrorCode::RoomFull, .. })),
            "{binary}: {full}"
        );

        drop(b);
        let left = a.rx.recv_within(LIMIT, "peer_left").await.unwrap();
        assert!(matches!(ServerMessage::parse(&left), Ok(ServerMessage::PeerLeft { .. })), "{binary}: {left}");
        let (_, peers, _) = join(&mut c_tx, &mut c_rx, "room-1", scenario).await.unwrap();
        assert_eq!(peers, [a.id.clone()], "{binary}: the freed seat is taken");
    }
}

#[tokio::test]
async fn the_generator_checks_every_relayed_message() {
    for (binary, transport) in references() {
        let server = Reference::start(binary, transport);
        let plan = RelayPlan {
            rooms: 3,
            size: 4096,
            messages: 600,
            pacing: Pacing::Closed { window: 4 },
            max_time: Duration::from_secs(20),
        };
        let figures = relay::run(&server.target, &plan, "relay-test").await.unwrap();
        assert_eq!(figures.relayed, 600, "{binary}");
        assert_eq!(figures.latency.len(), 600);
        assert!(figures.server_cpu_ns > 0);
        let latency = bench::load::join::burst(&server.target, 40, 0).await.unwrap();
        assert_eq!(latency.len(), 40, "{binary}");
    }
}
