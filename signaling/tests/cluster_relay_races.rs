//! Relays through Redis racing membership changes, on two real nodes and a real `redis-server`.
//! A relay to a peer whose place a node knows is one `PUBLISH` to that place; these tests move
//! the recipient while a stream of signals is in flight to it — it leaves and takes a new seat on
//! the same connection, it resumes on the other node, its node dies — and check that no signal
//! reaches a seat it was not sent to, that what is delivered comes in order, and that every signal
//! not delivered is answered `unknown_peer`.
//!
//! Every process is killed on drop and every wait is bounded.

/// Read by the rooms support module (only its clients are used here).
const ENGINE: &str = "redis";

#[path = "support/cluster.rs"]
mod cluster_support;
mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use cluster_support::*;
use rooms_support::*;
use shared::{ClientMessage, ErrorCode, PeerId, ServerMessage};
use tokio::time::Instant;

use crate::common::WAIT;

/// Signals in each racing stream: under the nodes' rate limit, and under a connection's outbound
/// queue (256 messages), which a receiver that has not read yet would otherwise overflow.
const STREAM: usize = 200;
/// At most this many messages are read from one client in one go (bounds every read loop).
const READ_MAX: usize = 4 * STREAM;

/// The whole stream `tag 0..count` to `to`, in one write: it is in flight while the test moves `to`.
async fn stream(client: &mut Client, to: &PeerId, tag: &str, count: usize) {
    let messages: Vec<ClientMessage> =
        (0..count).map(|n| ClientMessage::Signal { to: to.clone(), data: candidate(format!("{tag} {n}")) }).collect();
    client.send_all_at_once(&messages).await;
}

/// What a client reads up to and including the first message for which `last` holds, or its
/// close (bounded in count and time): the messages and the close code, if any.
async fn read_until(client: &mut Client, last: impl Fn(&ServerMessage) -> bool) -> (Vec<ServerMessage>, Option<u16>) {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while seen.len() < READ_MAX {
        match client.next_until(deadline).await {
            Some(Seen::Text(text)) => {
                let message = ServerMessage::parse(&text).expect("a server message");
                let done = last(&message);
                seen.push(message);
                if done {
                    return (seen, None);
                }
            }
            Some(Seen::Close(code)) => return (seen, code),
            other => panic!("expected more, got {other:?} after {seen:?}"),
        }
    }
    panic!("no end after {READ_MAX} messages")
}

/// Reads until the signal `marker` from `from`.
async fn read_until_marker(client: &mut Client, from: &PeerId, marker: &str) -> Vec<ServerMessage> {
    let is_marker = |m: &ServerMessage| matches!(m, ServerMessage::Signal { from: f, data } if f == from && candidate_text(data) == marker);
    let (seen, close) = read_until(client, is_marker).await;
    assert_eq!(close, None, "closed before {marker}: {seen:?}");
    seen
}

/// Reads until `count` `unknown_peer` answers have come (and returns everything read).
async fn read_unknown_peers(client: &mut Client, count: usize) -> Vec<ServerMessage> {
    let mut seen = Vec::new();
    while unknown_peers(&seen) < count {
        let (more, close) =
            read_until(client, |m| matches!(m, ServerMessage::Error { code: ErrorCode::UnknownPeer, .. })).await;
        assert_eq!(close, None, "{seen:?} {more:?}");
        seen.extend(more);
    }
    seen
}

/// The numbers of the signals tagged `tag` from `from` among `seen`.
fn numbers(seen: &[ServerMessage], from: &PeerId, tag: &str) -> Vec<usize> {
    seen.iter()
        .filter_map(|m| match m {
            ServerMessage::Signal { from: f, data } if f == from => {
                candidate_text(data).strip_prefix(tag)?.trim().parse().ok()
            }
            _ => None,
        })
        .collect()
}

fn unknown_peers(seen: &[ServerMessage]) -> usize {
    seen.iter().filter(|m| matches!(m, ServerMessage::Error { code: ErrorCode::UnknownPeer, .. })).count()
}

fn strictly_increasing(numbers: &[usize]) -> bool {
    numbers.windows(2).all(|w| w[0] < w[1])
}

#[tokio::test]
async fn a_partner_that_leaves_and_takes_a_new_seat_on_the_same_connection_gets_none_of_the_old_seats_stream() {
    let (_redis, node_a, node_b) = cluster(&[]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "reseat").await;
    // Node A knows where B sits (from B's arrival): the stream is published straight to it.
    stream(&mut a, &jb.peer_id, "candidate:s", STREAM).await;
    b.send_all_at_once(&[ClientMessage::Leave, ClientMessage::Join { room: room_id("reseat"), resume: None }]).await;

    // A hears B leave and come back as a new peer, then marks the end of what it sends.
    let (seen_a, _) = read_until(&mut a, |m| matches!(m, ServerMessage::PeerJoined { .. })).await;
    let Some(ServerMessage::PeerJoined { peer_id: new_id }) = seen_a.last().cloned() else { unreachable!() };
    assert!(seen_a.contains(&ServerMessage::PeerLeft { peer_id: jb.peer_id.clone() }), "{seen_a:?}");
    a.signal(&new_id, candidate("candidate:end")).await;

    let seen_b = read_until_marker(&mut b, &ja.peer_id, "candidate:end").await;
    let joined_at = seen_b.iter().position(|m| matches!(m, ServerMessage::Joined { .. })).expect("joined again");
    let ServerMessage::Joined { peer_id: joined_as, peers, .. } = &seen_b[joined_at] else { unreachable!() };
    assert_eq!(joined_as, &new_id, "a fresh seat");
    assert_ne!(new_id, jb.peer_id);
    assert_eq!(peers, std::slice::from_ref(&ja.peer_id));
    let before = numbers(&seen_b[..joined_at], &ja.peer_id, "candidate:s");
    let after = numbers(&seen_b[joined_at..], &ja.peer_id, "candidate:s");
    assert!(after.is_empty(), "signals for the old seat reached the new one: {after:?}");
    assert_eq!(before, (0..before.len()).collect::<Vec<_>>(), "the old seat got a gapless prefix in order");

    // Every signal not delivered is answered: exactly the rest, and nothing more.
    let errors = unknown_peers(&seen_a);
    assert!(before.len() + errors <= STREAM, "{} delivered, {errors} refused", before.len());
    let more = read_unknown_peers(&mut a, STREAM - before.len() - errors).await;
    assert!(more.iter().all(|m| matches!(m, ServerMessage::Error { code: ErrorCode::UnknownPeer, .. })), "{more:?}");
    a.expect_silence(QUIET).await;

    // Once gone, every signal to the old seat is refused; the new seat is reached.
    a.signal(&jb.peer_id, candidate("candidate:late 0")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    signals_flow(&mut a, &ja.peer_id, &mut b, &new_id, "new-seat").await;
}

#[tokio::test]
async fn a_partner_that_resumes_on_the_other_node_mid_stream_gets_each_signal_once_in_order_on_one_seat_or_the_other() {
    let (_redis, node_a, node_b) = cluster(&[]).await;
    // A and B on node A; B's reload reaches node B while its old connection is still open, and
    // its join runs there while A's stream is still going through node A's queue.
    let mut a = node_a.client().await;
    let mut b1 = node_a.client().await;
    let (ja, jb) = meet(&mut a, &mut b1, "moving").await;
    let mut b2 = node_b.client().await;
    stream(&mut a, &jb.peer_id, "candidate:s", STREAM).await;
    let back = b2.join_with("moving", Some(&jb.resume_token)).await;
    assert_eq!(back.peer_id, jb.peer_id);

    let (seen_b1, close) = read_until(&mut b1, |_| false).await;
    assert_eq!(close, Some(4001), "the old connection is replaced");
    let (seen_a, _) = read_until(&mut a, |m| matches!(m, ServerMessage::PeerResumed { .. })).await;
    assert_eq!(seen_a.last(), Some(&ServerMessage::PeerResumed { peer_id: jb.peer_id.clone() }));
    a.signal(&jb.peer_id, candidate("candidate:end")).await;
    let seen_b2 = read_until_marker(&mut b2, &ja.peer_id, "candidate:end").await;

    let old = numbers(&seen_b1, &ja.peer_id, "candidate:s");
    let new = numbers(&seen_b2, &ja.peer_id, "candidate:s");
    assert_eq!(old, (0..old.len()).collect::<Vec<_>>(), "the old seat got a gapless prefix in order");
    assert!(strictly_increasing(&new), "the new seat got them in order: {new:?}");
    assert!(old.last().zip(new.first()).is_none_or(|(o, n)| o < n), "old seat {old:?} then new {new:?}");
    let delivered = old.len() + new.len();
    assert!(delivered <= STREAM);
    let errors = unknown_peers(&seen_a);
    assert!(delivered + errors <= STREAM, "{delivered} delivered, {errors} refused");
    read_unknown_peers(&mut a, STREAM - delivered - errors).await;
    a.expect_silence(QUIET).await;

    // After the move, a whole stream reaches the new seat, in order, with no error.
    stream(&mut a, &jb.peer_id, "candidate:after", 100).await;
    a.signal(&jb.peer_id, candidate("candidate:end")).await;
    let seen_b2 = read_until_marker(&mut b2, &ja.peer_id, "candidate:end").await;
    assert_eq!(numbers(&seen_b2, &ja.peer_id, "candidate:after"), (0..100).collect::<Vec<_>>());
    a.expect_silence(QUIET).await;
}

#[tokio::test]
async fn a_partner_whose_node_dies_mid_stream_is_answered_unknown_peer_then_reached_where_it_resumes() {
    let (_redis, node_a, mut node_b) = cluster(&["--resume-grace-secs", "15"]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "dying").await;
    stream(&mut a, &jb.peer_id, "candidate:s", STREAM).await;
    node_b.kill_9();
    b.vanish();
    stream(&mut a, &jb.peer_id, "candidate:void", 5).await;
    // A `join` while in a room is answered at once, in order. The `unknown_peer` answers may
    // come before it or after it (docs/PROTOCOL.md: a refusal that needed a second look in Redis
    // may follow answers to later messages), but each of the five signals gets one.
    a.send(&ClientMessage::Join { room: room_id("dying"), resume: None }).await;

    let refused = std::cell::Cell::new(0);
    let joined_again = std::cell::Cell::new(false);
    let (seen_a, close) = read_until(&mut a, |m| {
        match m {
            ServerMessage::Error { code: ErrorCode::UnknownPeer, .. } => refused.set(refused.get() + 1),
            ServerMessage::Error { code: ErrorCode::AlreadyJoined, .. } => joined_again.set(true),
            _ => {}
        }
        joined_again.get() && refused.get() >= 5
    })
    .await;
    assert_eq!(close, None, "{seen_a:?}");
    assert!(
        seen_a
            .iter()
            .all(|m| matches!(m, ServerMessage::Error { code: ErrorCode::UnknownPeer | ErrorCode::AlreadyJoined, .. })),
        "only refusals: {seen_a:?}"
    );
    assert!(refused.get() >= 5, "the signals sent after the node died are refused: {seen_a:?}");

    let mut b2 = node_a.client().await;
    let back = b2.join_with("dying", Some(&jb.resume_token)).await;
    assert_eq!(back.peer_id, jb.peer_id);
    // Nothing of the old seat's stream follows it; a new stream arrives whole and in order.
    stream(&mut a, &jb.peer_id, "candidate:after", 100).await;
    a.signal(&jb.peer_id, candidate("candidate:end")).await;
    let seen_b2 = read_until_marker(&mut b2, &ja.peer_id, "candidate:end").await;
    assert!(numbers(&seen_b2, &ja.peer_id, "candidate:s").is_empty(), "{seen_b2:?}");
    assert_eq!(numbers(&seen_b2, &ja.peer_id, "candidate:after"), (0..100).collect::<Vec<_>>());
    a.expect_silence(QUIET).await;
}
