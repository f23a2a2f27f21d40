//! Per-address join limits against the real rooms server: joins beyond an address's rate and seats
//! beyond its allowance are answered `rate_limited` (nothing changes, the connection lives), while a
//! pair from another address joins and relays normally. Clients take distinct addresses of
//! 127.0.0.0/8.

/// The engine this suite runs on here; `rooms_on_redis.rs` runs it again on Redis.
#[allow(dead_code)] // unused where another crate includes this suite
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use rooms_support::*;
use shared::{ErrorCode, ServerMessage};
use signaling::address::{AddressConfig, Limits};
use signaling::{RoomsConfig, ServerConfig};

const ATTACKER: &str = "127.0.0.2";
const BYSTANDER: &str = "127.0.0.3";

async fn start_limited(limits: Limits) -> RoomServer {
    let config =
        ServerConfig { addresses: AddressConfig { limits, ..AddressConfig::default() }, ..ServerConfig::default() };
    start_with(config, RoomsConfig::default()).await
}

/// Two clients from `BYSTANDER` join `room` and relay a signal each way.
async fn bystanders_call(server: &RoomServer, room: &str) {
    let mut a = Client::connect_from(BYSTANDER, server.addr).await;
    let mut b = Client::connect_from(BYSTANDER, server.addr).await;
    let ja = a.join(room).await;
    let jb = b.join(room).await;
    assert_eq!(a.expect_peer_joined().await, jb.peer_id);
    a.signal(&jb.peer_id, candidate("candidate:1 a-to-b")).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), candidate("candidate:1 a-to-b")));
    b.signal(&ja.peer_id, candidate("candidate:2 b-to-a")).await;
    assert_eq!(a.expect_signal().await, (jb.peer_id, candidate("candidate:2 b-to-a")));
    a.close().await;
    b.close().await;
}

/// With a burst of three joins per address (and one a second after), the fourth join from that
/// address — on a fresh connection — gets `rate_limited` and no seat; other addresses are unaffected.
#[tokio::test]
async fn joins_over_the_per_address_rate_get_rate_limited() {
    let limits = Limits { joins_per_sec: 1.0, join_burst: 3.0, ..AddressConfig::default().limits };
    let server = start_limited(limits).await;
    let mut attackers = Vec::new();
    for i in 0..3 {
        let mut client = Client::connect_from(ATTACKER, server.addr).await;
        client.join(&format!("flood-{i}")).await;
        attackers.push(client);
    }
    let mut late = Client::connect_from(ATTACKER, server.addr).await;
    let message = late.expect_error_after_join("flood-3").await;
    assert!(message.starts_with("too many joins from your address; retry in "), "{message}");
    server.wait_for_metric("signaling_address_refusals_total{limit=\"joins\"}", 1).await;
    assert_eq!(server.counts().await, (3, 3), "the refused join took no seat");
    bystanders_call(&server, "bystanders").await;
    for client in attackers {
        client.close().await;
    }
    late.close().await;
    server.shutdown().await;
}

/// With two seats per address, a third connection's join gets `rate_limited`; once one of the two
/// leaves, the third joins. Closing a connection gives its seat back too.
#[tokio::test]
async fn seats_over_the_per_address_limit_get_rate_limited_until_one_is_given_back() {
    let limits = Limits { rooms: 2, ..AddressConfig::default().limits };
    let server = start_limited(limits).await;
    let mut first = Client::connect_from(ATTACKER, server.addr).await;
    let mut second = Client::connect_from(ATTACKER, server.addr).await;
    first.join("held-1").await;
    second.join("held-2").await;
    let mut third = Client::connect_from(ATTACKER, server.addr).await;
    let message = third.expect_error_after_join("held-3").await;
    assert_eq!(message, "your address holds too many rooms; leave one first");
    server.wait_for_metric("signaling_address_refusals_total{limit=\"rooms\"}", 1).await;
    bystanders_call(&server, "bystanders").await;

    first.leave_confirmed().await;
    third.join("held-3").await;
    let mut fourth = Client::connect_from(ATTACKER, server.addr).await;
    fourth.expect_error_after_join("held-4").await;
    second.close().await;
    server.wait_for_metric("signaling_websockets_open", 3).await;
    fourth.join("held-4").await;
    for client in [first, third, fourth] {
        client.close().await;
    }
    server.shutdown().await;
}

/// Scanning short, human-chosen room names (`standup-0`, `standup-1`, …) for an occupied one: most
/// probes land in empty rooms, and each of those takes one of the address's new-room tokens (30
/// at once, 2 a minute). With the join rate itself lifted out of the way, the scanner is answered
/// `rate_limited` at its 31st empty room, long before `standup-42`, where someone waits; the
/// person they wait for joins from another address at once. Without the new-room budget the
/// scan walks into `standup-42`.
#[tokio::test]
async fn a_scan_of_short_room_names_is_rate_limited_long_before_it_finds_an_occupied_one() {
    const VICTIM: &str = "127.0.0.4";
    let limits = Limits { joins_per_sec: 1e6, join_burst: 1e6, ..AddressConfig::default().limits };
    assert_eq!(limits.new_room_burst, 30.0, "the default burst");
    let server = start_limited(limits).await;
    let mut waiting = Client::connect_from(VICTIM, server.addr).await;
    let waiting_joined = waiting.join("standup-42").await;

    let mut scanner = Client::connect_from(ATTACKER, server.addr).await;
    let mut refused_at = None;
    for i in 0..10_000 {
        let room = format!("standup-{i}");
        match scanner.request_join(&room, None).await {
            ServerMessage::Joined { peers, .. } if peers.is_empty() => {
                scanner.send(&shared::ClientMessage::Leave).await
            }
            ServerMessage::Joined { .. } => panic!("the scan found {room} occupied after {i} probes"),
            ServerMessage::Error { code: ErrorCode::RateLimited, message } => {
                assert!(message.starts_with("too many new rooms from your address; retry in "), "{message}");
                refused_at = Some(i);
                break;
            }
            other => panic!("probe {room}: unexpected {other:?}"),
        }
    }
    assert_eq!(refused_at, Some(30), "refused at the 31st empty room");
    server.wait_for_metric("signaling_address_refusals_total{limit=\"new_rooms\"}", 1).await;
    // Still refused, for an occupied room too: the scanner's address has to wait.
    let message = scanner.expect_error_after_join("standup-42").await;
    assert!(message.starts_with("too many new rooms from your address"), "{message}");

    let mut partner = Client::connect_from(BYSTANDER, server.addr).await;
    let partner_joined = partner.join("standup-42").await;
    assert_eq!(partner_joined.peers, std::slice::from_ref(&waiting_joined.peer_id));
    assert_eq!(waiting.expect_peer_joined().await, partner_joined.peer_id);
    bystanders_call(&server, "bystanders").await;
    for client in [waiting, partner, scanner] {
        client.close().await;
    }
    server.shutdown().await;
}

impl Client {
    /// Sends `join`; the answer must be `rate_limited`, whose text is returned.
    async fn expect_error_after_join(&mut self, room: &str) -> String {
        match self.request_join(room, None).await {
            ServerMessage::Error { code: ErrorCode::RateLimited, message } => message,
            other => panic!("join {room}: expected rate_limited, got {other:?}"),
        }
    }
}
