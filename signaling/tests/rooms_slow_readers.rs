//! Outbound memory bounded in bytes, against the real rooms server: peers that join and then read
//! nothing while their partners send them 60 KiB signals as fast as the server takes them. Each
//! slow reader is disconnected the moment its byte allowance overflows (before, only the 20 s send
//! timeout cut it, and 256 such signals could pile up for it), what it was sent beyond it is
//! dropped, the `signaling_outbound_queued_bytes` gauge never exceeds the readers' allowances
//! together and comes back to 0; a pair from another room relays normally throughout.
//! (`slow_readers_memory.rs` measures the same attack in a spawned server's resident memory.)

/// The engine this suite runs on here; `rooms_on_redis.rs` runs it again on Redis.
#[allow(dead_code)] // unused where another crate includes this suite
const ENGINE: &str = "memory";

mod common;
#[path = "support/rooms.rs"]
mod rooms_support;

use rooms_support::*;
use signaling::rate::RateConfig;
use signaling::{RoomsConfig, ServerConfig};

const GAUGE: &str = "signaling_outbound_queued_bytes";

#[tokio::test]
async fn slow_readers_are_cut_at_their_byte_allowance_while_others_relay() {
    const PAIRS: usize = 4;
    const SIGNALS: usize = 150; // 9 MiB per reader: more than loopback's socket buffers absorb
    let allowance = RoomsConfig::default().outbound_bytes;
    let rooms = RoomsConfig {
        // The senders may send as fast as they like: only the readers' allowances bound them.
        rate: RateConfig { per_sec: 100_000.0, burst: 100_000.0, ..RateConfig::default() },
        // Above the readers' allowances together, so the per-connection bound is what acts here.
        outbound_total_bytes: 2 * PAIRS * allowance,
        ..RoomsConfig::default()
    };
    let config = ServerConfig { addresses: one_address_for_all(), ..ServerConfig::default() };
    let server = start_with(config, rooms).await;
    let (mut a, ja, mut b, jb) = pair(&server, "bystanders").await;

    let payload = "x".repeat(60 * 1024);
    let bound = i64::try_from(PAIRS * allowance).expect("fits");
    let mut readers = Vec::new();
    for i in 0..PAIRS {
        let room = format!("slow-{i}");
        let mut reader = RawPeer::connect(server.addr).await;
        let reader_id = reader.join(&room).await;
        let mut sender = server.client().await;
        sender.join(&room).await;
        for _ in 0..SIGNALS {
            sender.signal(&reader_id, candidate(payload.as_str())).await;
            let queued = server.metric(GAUGE).unwrap_or(0);
            assert!(queued <= bound, "{queued} bytes queued, over {PAIRS} allowances of {allowance}");
        }
        readers.push(reader);
        // Meanwhile, the bystanders' signals go through, each way.
        a.signal(&jb.peer_id, candidate(format!("candidate:{i} a-to-b"))).await;
        assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), candidate(format!("candidate:{i} a-to-b"))));
        b.signal(&ja.peer_id, candidate(format!("candidate:{i} b-to-a"))).await;
        assert_eq!(a.expect_signal().await, (jb.peer_id.clone(), candidate(format!("candidate:{i} b-to-a"))));
        drop(sender);
    }
    // Every reader overran its allowance and was cut at once, well within this test's few
    // seconds; what it was sent beyond it was dropped and counted.
    server.wait_for_metric("signaling_ws_disconnects_total{reason=\"slow_consumer\"}", PAIRS as i64).await;
    assert!(server.metric("signaling_relay_dropped_total").unwrap_or(0) > 0);
    // Every byte given back.
    server.wait_for_metric(GAUGE, 0).await;
    a.signal(&jb.peer_id, candidate("candidate:after a-to-b")).await;
    assert_eq!(b.expect_signal().await, (ja.peer_id.clone(), candidate("candidate:after a-to-b")));
    drop(readers);
    a.close().await;
    b.close().await;
    server.shutdown().await;
}
