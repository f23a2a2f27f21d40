//! Several signaling nodes sharing one Redis, as deployed behind a load balancer: two (or three)
//! real `signaling` processes on their own ports and a real `redis-server` per test. Peers on
//! different nodes meet and relay in order; rooms never overfill, whichever node each joiner
//! reached; a node killed with SIGKILL loses no call (its peers resume on the other node) or, if
//! they never return, their seats are freed; a Redis outage makes nodes unhealthy and refuse joins
//! until Redis is back, then everything recovers by itself.
//!
//! Every process is killed on drop and every wait is bounded.

/// Read by the rooms support module (only its clients are used here).
const ENGINE: &str = "redis";

#[path = "support/cluster.rs"]
mod cluster_support;
mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use cluster_support::*;
use rooms_support::*;
use shared::{ClientMessage, ErrorCode, ServerMessage, Signal};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::common::WAIT;

#[test]
fn a_redis_url_that_cannot_work_stops_the_server_at_start_up_without_showing_the_password() {
    for url in ["http://:hunter2@127.0.0.1:6379", "rediss://:hunter2@127.0.0.1:6379"] {
        let output = Command::new(env!("CARGO_BIN_EXE_signaling"))
            .env("NO_COLOR", "1")
            .args(["--listen", "127.0.0.1:0", "--redis-url", url])
            .stdin(Stdio::null())
            .output()
            .expect("run signaling");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains("--redis-url"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[tokio::test]
async fn a_join_sent_the_moment_a_node_listens_is_served() {
    let redis = RedisServer::start();
    // Each node is joined as soon as it logs `listening on`, without waiting for `/healthz`: a
    // node registers in Redis before it opens its port, so no join meets `unavailable`.
    let mut nodes = Vec::new();
    let mut clients = Vec::new();
    for n in 0..3 {
        let node = Node::spawn(&redis, &[]);
        let mut client = node.client().await;
        let room = format!("early-{n}");
        match client.request_join(&room, None).await {
            ServerMessage::Joined { peers, .. } => assert!(peers.is_empty(), "{room}: {peers:?}"),
            other => panic!("node {n}: a join right after `listening on` got {other:?}"),
        }
        nodes.push(node);
        clients.push(client);
    }
    // And they are one cluster at once: the rooms are shared.
    let mut late = nodes[0].client().await;
    let joined = late.join("early-2").await;
    assert_eq!(joined.peers.len(), 1, "early-2 holds the peer of the third node");
    clients[2].expect_peer_joined().await;
}

#[tokio::test]
async fn a_node_started_while_redis_is_down_listens_unhealthy_and_recovers_when_redis_comes() {
    let port = free_port(); // nothing listens there yet
    let started = Instant::now();
    let node = Node::spawn_on(&format!("redis://127.0.0.1:{port}"), &[]);
    // It waited (bounded) for Redis before listening, then listens anyway.
    assert!(started.elapsed() < WAIT, "listening after {:?}", started.elapsed());
    node.wait_for_health(503).await;
    assert_eq!(node.metric("signaling_redis_up").await, Some(0));
    let mut a = node.client().await;
    let refused = a.request_join("late-redis", None).await;
    assert!(matches!(&refused, ServerMessage::Error { code: ErrorCode::Unavailable, .. }), "{refused:?}");

    let _redis = RedisServer::start_on(port).expect("Redis starts on its port");
    node.wait_for_health(200).await;
    // The refused connection joins on a retry, as a client does after `unavailable`.
    assert!(a.join("late-redis").await.peers.is_empty());
    let mut b = node.client().await;
    assert_eq!(b.join("late-redis").await.peers.len(), 1);
    a.expect_peer_joined().await;
}

#[tokio::test]
async fn peers_on_two_nodes_relay_offer_answer_and_two_hundred_ordered_candidates_each_way() {
    let (_redis, node_a, node_b) = cluster(&[]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "across").await;

    b.signal(&ja.peer_id, Signal::Offer { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into() }).await;
    let offer = a.expect_signal().await;
    assert_eq!(offer, (jb.peer_id.clone(), Signal::Offer { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into() }));
    a.signal(&jb.peer_id, Signal::Answer { sdp: "v=0\r\n".into() }).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), Signal::Answer { sdp: "v=0\r\n".into() }));

    // 200 candidates each way, sent at the same time from both nodes.
    tokio::join!(send_tagged(&mut a, &jb.peer_id, "a", 200), send_tagged(&mut b, &ja.peer_id, "b", 200));
    tokio::join!(expect_tagged(&mut b, &ja.peer_id, "a", 200), expect_tagged(&mut a, &jb.peer_id, "b", 200));
    a.signal(&jb.peer_id, Signal::EndOfCandidates).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), Signal::EndOfCandidates));
    a.expect_silence(QUIET).await;
    b.expect_silence(Duration::ZERO).await;

    // A sent the answer, 200 candidates and the end; B the offer and 200 candidates.
    assert_eq!(node_a.metric("signaling_redis_cross_node_relays_total").await, Some(202));
    assert_eq!(node_b.metric("signaling_redis_cross_node_relays_total").await, Some(201));
    assert_eq!(node_a.metric("signaling_relay_dropped_total").await, Some(0));
    assert_eq!(node_a.metric("signaling_redis_up").await, Some(1));
    assert!(node_a.metric("signaling_redis_round_trip_seconds_count").await.is_some_and(|n| n > 0));
}

/// The nodes' inbox subscriptions authenticate as their URLs say: with the default user's
/// password, or as an ACL user; a wrong password leaves a node unhealthy.
#[tokio::test]
async fn nodes_on_a_redis_with_passwords_meet_and_relay_and_a_wrong_password_stays_unhealthy() {
    let redis =
        RedisServer::start_with(&["--requirepass", "hunter2", "--user", "relay", "on", ">s3cret", "~*", "&*", "+@all"]);
    let node_a = Node::spawn_on(&format!("redis://:hunter2@127.0.0.1:{}", redis.port), &[]);
    node_a.wait_for_health(200).await;
    let node_b = Node::spawn_on(&format!("redis://relay:s3cret@127.0.0.1:{}", redis.port), &[]);
    node_b.wait_for_health(200).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "guarded").await;
    signals_flow(&mut a, &ja.peer_id, &mut b, &jb.peer_id, "guarded").await;
    assert_eq!(node_a.metric("signaling_redis_cross_node_relays_total").await, Some(1));

    let wrong = Node::spawn_on(&format!("redis://relay:wrong@127.0.0.1:{}", redis.port), &[]);
    wrong.wait_for_health(503).await;
    assert_eq!(wrong.metric("signaling_redis_up").await, Some(0));
}

#[tokio::test]
async fn a_third_peer_on_either_node_gets_room_full_and_the_call_goes_on() {
    let (_redis, node_a, node_b) = cluster(&[]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "two-only").await;

    for node in [&node_a, &node_b] {
        let mut c = node.client().await;
        c.send(&ClientMessage::Join { room: room_id("two-only"), resume: None }).await;
        c.expect_error(ErrorCode::RoomFull).await;
        // The refused connection stays usable.
        assert!(c.join(&format!("elsewhere-{}", node.addr.port())).await.peers.is_empty());
    }
    a.expect_silence(QUIET).await;
    b.expect_silence(Duration::ZERO).await;
    signals_flow(&mut a, &ja.peer_id, &mut b, &jb.peer_id, "still-two").await;
}

#[tokio::test]
async fn racing_joins_from_both_nodes_never_overfill_a_room() {
    const ROOMS: usize = 40;
    // Per room, alternating between the nodes.
    const JOINERS: usize = 5;
    // All 200 joiners are on loopback, one address: lift its join budget, and its budget of rooms
    // opened, which each node counts for itself (a race can open more than 30 of the 40 rooms on
    // one node: refused 2 runs in 9 with the default).
    let one_address = ["--join-burst-per-address", "1000", "--new-room-burst-per-address", "1000"];
    let (redis, node_a, node_b) = cluster(&one_address).await;
    let urls = [node_a.url(), node_b.url()];
    // Connect everyone first, then release all joins at once.
    let mut clients = Vec::new();
    for room in 0..ROOMS {
        for k in 0..JOINERS {
            clients.push((format!("race-{room}"), Client::connect(&urls[k % 2]).await));
        }
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let mut joins = JoinSet::new();
    for (room, mut client) in clients {
        let start = start.clone();
        joins.spawn(async move {
            start.wait().await;
            let answer = client.request_join(&room, None).await;
            (room, answer, client)
        });
    }
    let mut seated = std::collections::HashMap::<String, usize>::new();
    let mut keep = Vec::new();
    while let Some(done) = joins.join_next().await {
        let (room, answer, client) = done.expect("join task");
        match answer {
            ServerMessage::Joined { .. } => *seated.entry(room).or_default() += 1,
            ServerMessage::Error { code: ErrorCode::RoomFull, .. } => {}
            other => panic!("{room}: expected joined or room_full, got {other:?}"),
        }
        keep.push(client);
    }
    assert_eq!(seated.len(), ROOMS);
    assert!(seated.values().all(|&n| n == 2), "every room has exactly two: {seated:?}");
    // And Redis agrees.
    let client = redis::Client::open(redis.url()).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
    for room in 0..ROOMS {
        let seats: usize =
            redis::cmd("HLEN").arg(format!("connect:room:race-{room}")).query_async(&mut conn).await.expect("HLEN");
        assert_eq!(seats, 2, "race-{room}");
    }
    let seated_a = node_a.metric("signaling_peers_joined").await.unwrap_or(0);
    let seated_b = node_b.metric("signaling_peers_joined").await.unwrap_or(0);
    assert_eq!(seated_a + seated_b, i64::try_from(2 * ROOMS).expect("fits"));
    drop(keep);
}

#[tokio::test]
async fn a_leave_on_one_node_tells_the_peer_on_the_other_at_once_and_frees_the_seat() {
    let (_redis, node_a, node_b) = cluster(&["--resume-grace-secs", "60"]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "leaving").await;
    let left_at = Instant::now();
    a.send(&ClientMessage::Leave).await;
    assert_eq!(b.expect_peer_left().await, ja.peer_id);
    assert!(left_at.elapsed() < Duration::from_secs(2), "peer_left took {:?}", left_at.elapsed());
    let mut c = node_a.client().await;
    let jc = c.join("leaving").await;
    assert_eq!(jc.peers, std::slice::from_ref(&jb.peer_id));
    assert_eq!(b.expect_peer_joined().await, jc.peer_id);
    signals_flow(&mut b, &jb.peer_id, &mut c, &jc.peer_id, "after-leave").await;
}

#[tokio::test]
async fn a_reload_through_the_other_node_takes_the_seat_and_closes_the_old_connection_with_4001() {
    let (_redis, node_a, node_b) = cluster(&[]).await;
    let mut a1 = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a1, &mut b, "reload").await;

    let mut a2 = node_b.client().await;
    let back = a2.join_with("reload", Some(&ja.resume_token)).await;
    assert_eq!(back.peer_id, ja.peer_id, "the same seat");
    assert_eq!(back.peers, std::slice::from_ref(&jb.peer_id));
    assert_eq!(a1.expect_close().await, Some(4001));
    // The seat was taken from a connection still open: B cannot know it is still A.
    assert_eq!(b.expect_peer_resumed().await, ja.peer_id);
    b.expect_silence(QUIET).await;
    signals_flow(&mut a2, &back.peer_id, &mut b, &jb.peer_id, "after-reload").await;
    assert_eq!(node_b.metric("signaling_resumes_total").await, Some(1));
}

#[tokio::test]
async fn a_node_killed_mid_call_its_peer_resumes_on_the_other_node_and_the_other_peer_hears_nothing() {
    let (_redis, node_a, mut node_b) = cluster(&["--resume-grace-secs", "15"]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "crash").await;
    signals_flow(&mut a, &ja.peer_id, &mut b, &jb.peer_id, "before").await;

    node_b.kill_9();
    b.vanish();
    // The browser reconnects through the load balancer, which now only has node A.
    let mut b2 = node_a.client().await;
    let back = b2.join_with("crash", Some(&jb.resume_token)).await;
    assert_eq!(back.peer_id, jb.peer_id, "the same seat, on the other node");
    assert_eq!(back.peers, std::slice::from_ref(&ja.peer_id));
    signals_flow(&mut a, &ja.peer_id, &mut b2, &back.peer_id, "after").await;
    // Past the dead node's liveness TTL and a sweep: still no peer_left, no peer_joined.
    a.expect_silence(NODE_TTL * 2).await;
    signals_flow(&mut a, &ja.peer_id, &mut b2, &back.peer_id, "later").await;
}

#[tokio::test]
async fn the_peer_of_a_killed_node_that_never_returns_is_freed_after_liveness_and_grace() {
    let grace = Duration::from_secs(1);
    let (_redis, node_a, mut node_b) = cluster(&["--resume-grace-secs", "1"]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "gone").await;

    let killed_at = Instant::now();
    node_b.kill_9();
    drop(b);
    // Signals to a peer whose node is gone are refused, not lost silently.
    a.signal(&jb.peer_id, candidate("candidate:into-the-void")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    // Noticed when the dead node's liveness key expires (≤ NODE_TTL), by the next heartbeat
    // (≤ NODE_TTL / 3), then the resume grace; all well under a minute.
    let left = match a.next_until(killed_at + NODE_TTL + NODE_TTL / 3 + grace + Duration::from_secs(5)).await {
        Some(Seen::Text(text)) => ServerMessage::parse(&text).expect("a server message"),
        other => panic!("expected peer_left, got {other:?}"),
    };
    assert_eq!(left, ServerMessage::PeerLeft { peer_id: jb.peer_id.clone() });
    assert!(killed_at.elapsed() >= grace, "freed after {:?}, before the grace", killed_at.elapsed());
    assert!(node_a.metric("signaling_redis_evictions_total").await.is_some_and(|n| n >= 2));
    // The seat is free for someone else.
    let mut c = node_a.client().await;
    let jc = c.join("gone").await;
    assert_eq!(jc.peers, std::slice::from_ref(&ja.peer_id));
    assert_eq!(a.expect_peer_joined().await, jc.peer_id);
}

#[tokio::test]
async fn when_redis_dies_nodes_turn_unhealthy_and_refuse_joins_then_recover_when_it_returns() {
    let (mut redis, node_a, node_b) = cluster(&[]).await;
    let mut a = node_a.client().await;
    let mut b = node_b.client().await;
    let (ja, jb) = meet(&mut a, &mut b, "outage").await;

    redis.kill();
    node_a.wait_for_health(503).await;
    node_b.wait_for_health(503).await;
    assert_eq!(node_a.metric("signaling_redis_up").await, Some(0));
    let mut c = node_a.client().await;
    let refused = c.request_join("newcomer", None).await;
    assert!(
        matches!(&refused, ServerMessage::Error { code: ErrorCode::Unavailable, message } if message.contains("retry")),
        "{refused:?}"
    );
    a.signal(&jb.peer_id, candidate("candidate:during-outage")).await;
    a.expect_error(ErrorCode::Unavailable).await;

    // Redis comes back empty (no persistence): the nodes reconnect, write their seats back, and
    // the call goes on with the same peer ids.
    let port = redis.port;
    let _redis = RedisServer::start_on(port).expect("Redis restarts on its port");
    // A node is healthy again after its first heartbeat, which has written its seats back.
    node_a.wait_for_health(200).await;
    node_b.wait_for_health(200).await;
    signals_flow(&mut a, &ja.peer_id, &mut b, &jb.peer_id, "after-outage").await;
    // New joins work again, across nodes.
    let mut d = node_b.client().await;
    let (_, _) = meet(&mut c, &mut d, "newcomer").await;
    a.expect_silence(QUIET).await;
    b.expect_silence(Duration::ZERO).await;
}
