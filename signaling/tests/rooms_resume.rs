//! Resume and ordering over real connections: a dropped peer takes its seat back within the grace
//! period without the other peer noticing, loses it after, a reload replaces a live connection
//! (close 4001), forged tokens get nothing, and signals keep their order.

/// The engine this suite runs on here; `rooms_on_redis.rs` runs it again on Redis.
#[allow(dead_code)] // unused where another crate includes this suite
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use std::time::Duration;

use rooms_support::*;
use shared::{ClientMessage, ErrorCode, PeerId, ResumeToken, ServerMessage, Signal};
use signaling::engine::peer::CLOSE_REPLACED;
use signaling::rate::RateConfig;
use signaling::RoomsConfig;
use tokio::time::Instant;

/// Short enough to keep the tests quick, long enough that a reconnect on loopback fits well
/// inside it even on a loaded machine.
const GRACE: Duration = Duration::from_secs(1);

/// One signal each way between two joined clients, checked on arrival.
async fn signals_flow(a: &mut Client, a_id: &PeerId, b: &mut Client, b_id: &PeerId, tag: &str) {
    a.signal(b_id, candidate(format!("candidate:{tag} a-to-b"))).await;
    assert_eq!(b.expect_signal().await, (a_id.clone(), candidate(format!("candidate:{tag} a-to-b"))));
    b.signal(a_id, candidate(format!("candidate:{tag} b-to-a"))).await;
    assert_eq!(a.expect_signal().await, (b_id.clone(), candidate(format!("candidate:{tag} b-to-a"))));
}

/// Drops `client` without a close frame and waits until the server has ended its WebSocket, so the
/// seat is (all but always) away rather than still connected when the test goes on; were it still
/// connected, the resume would replace it, with the same outcome. `open_after` is the number of
/// WebSocket sessions still open then.
async fn drop_and_wait(server: &RoomServer, client: Client, open_after: i64) -> Instant {
    let dropped_at = Instant::now();
    client.vanish();
    server.wait_for_metric("signaling_websockets_open", open_after).await;
    dropped_at
}

#[tokio::test]
async fn a_resume_within_the_grace_keeps_the_peer_id_and_the_other_peer_hears_nothing() {
    let server = start(with_grace(GRACE)).await;
    let (a, ja, mut b, jb) = pair(&server, "resume").await;

    let dropped_at = drop_and_wait(&server, a, 1).await;
    let mut a2 = server.client().await;
    let back = a2.join_with("resume", Some(&ja.resume_token)).await;
    assert!(dropped_at.elapsed() < GRACE, "precondition: back within the grace ({:?})", dropped_at.elapsed());
    assert_eq!(back.peer_id, ja.peer_id, "the same seat");
    assert_eq!(back.peers, std::slice::from_ref(&jb.peer_id));
    assert_eq!(back.capacity, 2);
    assert!(!back.resume_token.as_str().is_empty());
    // Past the end of the grace period: no peer_left (the timer must not fire) and no peer_joined.
    b.expect_silence_until(dropped_at + GRACE + Duration::from_millis(500)).await;
    signals_flow(&mut a2, &back.peer_id, &mut b, &jb.peer_id, "after-resume").await;
    assert_eq!(server.metric("signaling_resumes_total"), Some(1));
    assert_eq!(server.metric("signaling_peers_joined"), Some(2));
    assert_eq!(server.counts().await, (1, 2));

    // Again, with the token the resume gave.
    let dropped_at = drop_and_wait(&server, a2, 1).await;
    let mut a3 = server.client().await;
    let again = a3.join_with("resume", Some(&back.resume_token)).await;
    assert_eq!(again.peer_id, ja.peer_id);
    b.expect_silence_until(dropped_at + GRACE + Duration::from_millis(500)).await;
    signals_flow(&mut a3, &again.peer_id, &mut b, &jb.peer_id, "after-second-resume").await;
    assert_eq!(server.metric("signaling_resumes_total"), Some(2));
    drop((a3, b));
    server.shutdown().await;
}

#[tokio::test]
async fn after_the_grace_the_other_peer_gets_peer_left_and_the_token_joins_as_a_new_peer() {
    let server = start(with_grace(GRACE)).await;
    let (a, ja, mut b, jb) = pair(&server, "expire").await;

    let dropped_at = Instant::now();
    a.vanish();
    b.expect_silence_until(dropped_at + GRACE / 2).await;
    assert_eq!(b.expect_peer_left().await, ja.peer_id);
    // The timer starts when the server notices the drop, after `dropped_at`, and never fires early.
    assert!(dropped_at.elapsed() >= GRACE, "peer_left after {:?}, within the grace", dropped_at.elapsed());
    server.wait_for_counts((1, 1)).await;
    server.wait_for_metric("signaling_peers_joined", 1).await;

    let mut late = server.client().await;
    let fresh = late.join_with("expire", Some(&ja.resume_token)).await;
    assert_ne!(fresh.peer_id, ja.peer_id, "an expired token takes a new seat");
    assert_ne!(fresh.resume_token, ja.resume_token);
    assert_eq!(fresh.peers, std::slice::from_ref(&jb.peer_id));
    assert_eq!(b.expect_peer_joined().await, fresh.peer_id);
    signals_flow(&mut late, &fresh.peer_id, &mut b, &jb.peer_id, "new-peer").await;
    assert_eq!(server.metric("signaling_resumes_total"), Some(0));
    drop((late, b));
    server.shutdown().await;
}

/// A2 resumes while A1 is still open: A2 gets the seat, A1 is closed with 4001, B is told
/// `peer_resumed` (it may not be A who came back), and A1's end (which comes after) must neither
/// free the seat nor tell B anything more.
async fn reload_replaces_the_live_connection(grace: Duration) {
    let server = start(with_grace(grace)).await;
    let (mut a1, ja, mut b, jb) = pair(&server, "reload").await;

    let mut a2 = server.client().await;
    let back = a2.join_with("reload", Some(&ja.resume_token)).await;
    assert_eq!(back.peer_id, ja.peer_id);
    assert_eq!(back.peers, std::slice::from_ref(&jb.peer_id));
    assert_eq!(a1.expect_close().await, Some(CLOSE_REPLACED.0));
    a1.expect_end().await;
    drop(a1);
    server.wait_for_metric("signaling_ws_closes_total{code=\"4001\",initiator=\"server\"}", 1).await;
    server.wait_for_metric("signaling_websockets_open", 2).await;

    assert_eq!(b.expect_peer_resumed().await, ja.peer_id);
    b.expect_silence(QUIET).await;
    signals_flow(&mut a2, &back.peer_id, &mut b, &jb.peer_id, "to-the-new-connection").await;
    assert_eq!(server.counts().await, (1, 2));
    assert_eq!(server.metric("signaling_peers_joined"), Some(2));
    assert_eq!(server.metric("signaling_resumes_total"), Some(1));
    drop((a2, b));
    server.shutdown().await;
}

#[tokio::test]
async fn a_reload_while_the_old_connection_is_open_closes_it_with_4001_and_keeps_the_seat() {
    reload_replaces_the_live_connection(GRACE).await;
}

#[tokio::test]
async fn a_reload_without_resume_grace_also_keeps_the_seat_when_the_old_connection_ends() {
    reload_replaces_the_live_connection(Duration::ZERO).await;
}

/// A replay: M holds a copy of A's token while A is still connected. M takes the seat; A is closed
/// with 4001; B is told `peer_resumed`; M's `joined` carries a new token, and the token M used is
/// spent (a second replay joins afresh: the room is full). Each later resume rotates the token
/// again. A pair in another room hears nothing and carries on.
#[tokio::test]
async fn a_token_works_once_and_taking_an_open_seat_is_announced_to_the_others() {
    let server = start(with_grace(GRACE)).await;
    let (mut a, ja, mut b, jb) = pair(&server, "taken").await;
    let (mut x, jx, mut y, jy) = pair(&server, "bystanders").await;

    let mut m = server.client().await;
    let taken = m.join_with("taken", Some(&ja.resume_token)).await;
    assert_eq!(taken.peer_id, ja.peer_id, "the token names A's seat");
    assert_ne!(taken.resume_token, ja.resume_token, "a resume rotates the token");
    assert_eq!(a.expect_close().await, Some(CLOSE_REPLACED.0));
    a.expect_end().await;
    drop(a);
    assert_eq!(b.expect_peer_resumed().await, ja.peer_id);
    b.expect_silence(QUIET).await;

    let mut replay = server.client().await;
    match replay.request_join("taken", Some(&ja.resume_token)).await {
        ServerMessage::Error { code: ErrorCode::RoomFull, .. } => {}
        other => panic!("a spent token must not take the seat again; got {other:?}"),
    }
    signals_flow(&mut m, &taken.peer_id, &mut b, &jb.peer_id, "to-whoever-holds-the-seat").await;

    // After a drop, the resume rotates the token again; the one it used is spent too.
    // Open: B, the bystanders, M and the replaying client.
    server.wait_for_metric("signaling_websockets_open", 5).await;
    let dropped_at = drop_and_wait(&server, m, 4).await;
    let mut m2 = server.client().await;
    let back = m2.join_with("taken", Some(&taken.resume_token)).await;
    assert_eq!(back.peer_id, ja.peer_id);
    assert!(![&ja.resume_token, &taken.resume_token].contains(&&back.resume_token), "a fresh token");
    match replay.request_join("taken", Some(&taken.resume_token)).await {
        ServerMessage::Error { code: ErrorCode::RoomFull, .. } => {}
        other => panic!("a spent token must not take the seat again; got {other:?}"),
    }
    b.expect_silence_until(dropped_at + GRACE + Duration::from_millis(500)).await;
    signals_flow(&mut m2, &back.peer_id, &mut b, &jb.peer_id, "after-rotation").await;

    x.expect_silence(Duration::ZERO).await;
    y.expect_silence(Duration::ZERO).await;
    signals_flow(&mut x, &jx.peer_id, &mut y, &jy.peer_id, "bystanders").await;
    assert_eq!(server.metric("signaling_resumes_total"), Some(2));
    drop((b, m2, replay, x, y));
    server.shutdown().await;
}

#[tokio::test]
async fn a_forged_or_foreign_token_takes_a_fresh_seat_or_gets_room_full() {
    let server = start(with_grace(GRACE)).await;
    let mut a = server.client().await;
    let ja = a.join("forged").await;

    let mut x = server.client().await;
    let jx = x.join_with("forged", Some(&ResumeToken::new("forged-token"))).await;
    assert_ne!(jx.peer_id, ja.peer_id);
    assert_eq!(jx.peers, std::slice::from_ref(&ja.peer_id));
    assert_eq!(a.expect_peer_joined().await, jx.peer_id);

    // Shaped like a real token (32 base64url characters), still unknown; and the room is full.
    let mut y = server.client().await;
    let lookalike = ResumeToken::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    match y.request_join("forged", Some(&lookalike)).await {
        ServerMessage::Error { code: ErrorCode::RoomFull, .. } => {}
        other => panic!("expected room_full, got {other:?}"),
    }
    // A real token names a seat in its own room only.
    let jy = y.join_with("elsewhere", Some(&ja.resume_token)).await;
    assert_ne!(jy.peer_id, ja.peer_id);
    assert!(jy.peers.is_empty());

    a.expect_silence(QUIET).await;
    x.expect_silence(Duration::ZERO).await;
    assert_eq!(server.counts().await, (2, 3));
    assert_eq!(server.metric("signaling_resumes_total"), Some(0));
    drop((a, x, y));
    server.shutdown().await;
}

/// Sends `count` candidates tagged `tag n` for n in order.
async fn send_tagged(client: &mut Client, to: &PeerId, tag: &str, count: usize) {
    for n in 0..count {
        client.signal(to, candidate(format!("candidate:{tag} {n}"))).await;
    }
}

/// Reads `count` signals: all from `from`, tagged `tag 0`, `tag 1`, … in that order.
async fn expect_tagged(client: &mut Client, from: &PeerId, tag: &str, count: usize) {
    for n in 0..count {
        let (sender, data) = client.expect_signal().await;
        assert_eq!(&sender, from);
        assert_eq!(candidate_text(&data), format!("candidate:{tag} {n}"), "signal {n} out of order");
    }
}

/// Reproduces a message loss: `WebSocket::queue_outbound` (ws/connection.rs) moves up to
/// `OUTBOUND_BATCH` (64) queued messages into the writer per wake-up, but on the 64th iteration it
/// still takes one more from the channel with `try_recv` and then leaves the loop without writing
/// it. Whenever 65 or more messages are waiting for one connection, one in 65 is silently lost,
/// though counted in `signaling_signals_relayed_total` (and an `Outbound::Close` can be lost the
/// same way).
#[tokio::test]
async fn a_backlog_of_more_than_64_signals_for_one_connection_loses_none() {
    let server = start(with_grace(GRACE)).await;
    let (mut a, ja, mut b, jb) = pair(&server, "backlog").await;
    // One write: the server relays all 100 into B's queue before B's session runs again, so B's
    // session finds 100 messages waiting.
    let burst: Vec<ClientMessage> = (0..100)
        .map(|n| ClientMessage::Signal { to: jb.peer_id.clone(), data: candidate(format!("candidate:burst {n}")) })
        .collect();
    a.send_all_at_once(&burst).await;
    expect_tagged(&mut b, &ja.peer_id, "burst", 100).await;
    server.wait_for_metric("signaling_signals_relayed_total", 100).await;
    drop((a, b));
    server.shutdown().await;
}

/// Sends `count` candidates in bursts of `burst`, each burst read by the other side before the next
/// is sent, so no more than `burst` messages ever wait for one connection.
async fn paced(from: &mut Client, from_id: &PeerId, to: &mut Client, to_id: &PeerId, tag: &str, count: usize) {
    const BURST: usize = 50;
    for start in (0..count).step_by(BURST) {
        for n in start..(start + BURST).min(count) {
            from.signal(to_id, candidate(format!("candidate:{tag} {n}"))).await;
        }
        for n in start..(start + BURST).min(count) {
            let (sender, data) = to.expect_signal().await;
            assert_eq!(&sender, from_id);
            assert_eq!(candidate_text(&data), format!("candidate:{tag} {n}"), "signal {n} out of order");
        }
    }
}

#[tokio::test]
async fn two_hundred_candidates_in_bursts_of_fifty_arrive_in_order_one_way_and_interleaved() {
    let rate = RateConfig { per_sec: 1000.0, burst: 1000.0, ..RateConfig::default() };
    let server = start(RoomsConfig { rate, ..with_grace(GRACE) }).await;
    let (mut a, ja, mut b, jb) = pair(&server, "paced").await;
    paced(&mut a, &ja.peer_id, &mut b, &jb.peer_id, "one-way", 200).await;
    // Interleaved: each burst of 50 goes both ways at once, then both sides read theirs.
    for round in 0..4 {
        let (tag_a, tag_b) = (format!("a{round}"), format!("b{round}"));
        tokio::join!(send_tagged(&mut a, &jb.peer_id, &tag_a, 50), send_tagged(&mut b, &ja.peer_id, &tag_b, 50));
        tokio::join!(expect_tagged(&mut b, &ja.peer_id, &tag_a, 50), expect_tagged(&mut a, &jb.peer_id, &tag_b, 50));
    }
    a.expect_silence(QUIET).await;
    b.expect_silence(Duration::ZERO).await;
    server.wait_for_metric("signaling_signals_relayed_total", 600).await;
    drop((a, b));
    server.shutdown().await;
}

#[tokio::test]
async fn two_hundred_candidates_arrive_in_order_one_way_and_interleaved_both_ways() {
    // The limit is above what the test sends; ordering, not the rate limit, is under test.
    let rate = RateConfig { per_sec: 1000.0, burst: 1000.0, ..RateConfig::default() };
    let server = start(RoomsConfig { rate, ..with_grace(GRACE) }).await;
    let (mut a, ja, mut b, jb) = pair(&server, "order").await;

    send_tagged(&mut a, &jb.peer_id, "one-way", 200).await;
    expect_tagged(&mut b, &ja.peer_id, "one-way", 200).await;

    tokio::join!(send_tagged(&mut a, &jb.peer_id, "a", 200), send_tagged(&mut b, &ja.peer_id, "b", 200));
    tokio::join!(expect_tagged(&mut b, &ja.peer_id, "a", 200), expect_tagged(&mut a, &jb.peer_id, "b", 200));
    a.signal(&jb.peer_id, Signal::EndOfCandidates).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), Signal::EndOfCandidates));
    a.expect_silence(QUIET).await;
    server.wait_for_metric("signaling_signals_relayed_total", 601).await;
    assert_eq!(server.metric("signaling_relay_dropped_total"), Some(0));
    drop((a, b));
    server.shutdown().await;
}
