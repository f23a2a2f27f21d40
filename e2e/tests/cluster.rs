//! Two signaling nodes sharing their rooms through one Redis (`--redis-url`, see docs/CLUSTER.md),
//! with two real headless Chromium peers: A on node 1, B on node 2, in the same room. The call
//! connects across the nodes; node 2 is killed with SIGKILL mid-call and started again on the same
//! port (a new node for Redis); B's page resumes its seat there with its token while A notices
//! nothing; A's hang-up reaches B across the nodes.
//!
//! Node 1 is the stage's server (log `cluster/signaling.log`), node 2 logs to
//! `cluster/node-2/signaling.log`, Redis to `cluster/redis.log`.
//!
//! Ignored by plain `cargo test`, like `call.rs`: the `browser` step of `cargo xtask test` runs it
//! in a loopback-only network namespace.

// Shared with call.rs and deploy.rs; this scenario uses part of it.
#[allow(dead_code)]
mod harness;
// By path rather than through `stack/mod.rs`, so the deployment tests do not compile it.
#[path = "stack/redis.rs"]
mod redis;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use harness::server::Signaling;
use harness::{
    check, connected_with_media, frames_advancing, poll, start_waiting, Browser, Context as _, Failure, Probe, Result,
    Stage, MEDIA_LIMIT,
};
use redis::{Redis, Seat};

const NAME: &str = "cluster";
/// A state change driven by signaling on loopback: well under a second normally.
const STATE_LIMIT: Duration = Duration::from_secs(15);
/// From node 2's restart until B is back: the client's reconnect backoff (up to 4 s at that point)
/// plus the restarted node's registration in Redis.
const RECOVERY_LIMIT: Duration = Duration::from_secs(20);
/// How long node 2 stays dead: B's page goes `reconnecting` and retries a few times.
const NODE_DOWNTIME: Duration = Duration::from_secs(3);
/// How long after the kill A is still watched: the dead node's liveness key lapses after
/// `--redis-node-ttl-secs` (10 s, refreshed every 3.3 s) and node 1's heartbeat (every 3.3 s) then
/// sweeps its seats. A resumed seat must survive that sweep.
const SWEEP_WINDOW: Duration = Duration::from_secs(15);
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Records every value `<body data-call-state>` takes from now on, with `Date.now()`, in
/// `window.__e2eCallStates`. Mutation records come in batches: each record's old value is the
/// value set by the record before it, so the whole sequence is kept, not only the last of a batch.
const JS_RECORD_STATES: &str = "const done = arguments[arguments.length - 1]; \
    const seen = window.__e2eCallStates = []; \
    const push = s => { if (!seen.length || seen[seen.length - 1][1] !== s) seen.push([Date.now(), s]); }; \
    push(document.body.dataset.callState || ''); \
    new MutationObserver(records => { \
      records.slice(1).forEach(r => push(r.oldValue || '')); \
      push(document.body.dataset.callState || ''); \
    }).observe(document.body, {attributes: true, attributeOldValue: true, attributeFilter: ['data-call-state']}); \
    done(null);";
/// `#message` when its notice is shown, else "".
const JS_NOTICE: &str = "const n = document.getElementById('notice'); const m = document.getElementById('message'); \
    arguments[arguments.length - 1](n && m && !n.hidden ? m.textContent.trim() : '');";
const JS_STATES: &str = "arguments[arguments.length - 1](window.__e2eCallStates || null);";
/// Keeps the remote video's `MediaStream`, to tell later whether the page replaced its
/// RTCPeerConnection (a new one brings a new stream); answers whether there was one.
const JS_KEEP_REMOTE_STREAM: &str = "const v = document.getElementById('remote-video'); \
    window.__e2eRemoteStream = v ? v.srcObject : null; \
    arguments[arguments.length - 1](!!window.__e2eRemoteStream);";
/// Whether the remote video still shows the stream kept by [`JS_KEEP_REMOTE_STREAM`].
const JS_SAME_REMOTE_STREAM: &str = "const v = document.getElementById('remote-video'); \
    arguments[arguments.length - 1](!!window.__e2eRemoteStream && !!v && v.srcObject === window.__e2eRemoteStream);";

/// Prints each step with the seconds since the test started, so a CI log reads as a timeline.
struct Timeline {
    started: Instant,
    /// The same moment on the wall clock, in ms: the pages' `Date.now()` stamps are shown against it.
    epoch_ms: u128,
}

impl Timeline {
    fn start() -> Self {
        let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Timeline { started: Instant::now(), epoch_ms }
    }

    fn mark(&self, what: impl std::fmt::Display) {
        println!("[{:6.1} s] {what}", self.started.elapsed().as_secs_f64());
    }

    /// `state@+12.3s → …` for a recorded sequence of call states.
    fn states(&self, states: &[(u128, String)]) -> String {
        let mut out = String::new();
        for (i, (at, state)) in states.iter().enumerate() {
            let seconds = at.saturating_sub(self.epoch_ms) as f64 / 1000.0;
            let _ = write!(out, "{}{state}@{seconds:.1}s", if i == 0 { "" } else { " → " });
        }
        out
    }
}

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_call_across_two_nodes_sharing_redis() {
    let paths = e2e::Paths::from_env().unwrap_or_else(|e| panic!("{NAME}: {e}"));
    let artifacts = paths.artifacts.join(NAME);
    std::fs::create_dir_all(&artifacts).unwrap_or_else(|e| panic!("{NAME}: creating {}: {e}", artifacts.display()));
    let redis = Redis::start(&artifacts).await.unwrap_or_else(|e| panic!("{NAME}: could not start Redis: {e}"));
    let node_args = vec!["--redis-url".to_owned(), redis.url()];
    let mut stage = Stage::start_with(NAME, node_args.clone()).await;
    // Node 2 lives until the stage has reported: killed earlier (by dropping it), it would make
    // the failure screenshots show B `reconnecting` to a dead node instead of what went wrong.
    let mut node2 = Signaling::start(&paths, &format!("{NAME}/node-2"), node_args).await;
    let outcome = match &mut node2 {
        Ok(node2) => {
            let outcome = cluster(&mut stage, node2, &redis).await;
            if outcome.is_err() {
                eprintln!("----- node 2, last log lines ({}):", node2.log_path().display());
                for line in node2.log_tail(40) {
                    eprintln!("    {line}");
                }
                dump_metrics("node 1", &stage.server).await;
                dump_metrics("node 2", node2).await;
                eprintln!("----- redis: {}", redis.log_path().display());
            }
            outcome
        }
        Err(e) => Err(Failure::new(format!("starting node 2: {e}"))),
    };
    stage.finish(outcome).await;
    drop(node2);
}

async fn cluster(stage: &mut Stage, node2: &mut Signaling, redis: &Redis) -> Result<()> {
    let time = Timeline::start();
    wait_registered("node 1", &stage.server).await?;
    wait_registered("node 2", node2).await?;
    let node1_id = last_node_id(&stage.server)?;
    let node2_id = last_node_id(node2)?;
    time.mark(format!(
        "Redis at {}; node 1 on {} (node id {node1_id}), node 2 on {} (node id {node2_id}); both registered",
        redis.url(),
        stage.server.addr(),
        node2.addr()
    ));

    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    let outcome = call(stage, node2, redis, &time, (&node1_id, &node2_id), (&a, &b)).await;
    if outcome.is_err() {
        // What each page went through, by its own clock: the first thing to read after a failure.
        for browser in [&a, &b] {
            match states(browser).await {
                Ok(states) => eprintln!("----- {} call states: {}", browser.name(), time.states(&states)),
                Err(e) => eprintln!("----- {} call states: {e}", browser.name()),
            }
        }
    }
    outcome
}

/// The call itself, from A's "Start a call" to A's hang-up.
async fn call(
    stage: &mut Stage,
    node2: &mut Signaling,
    redis: &Redis,
    time: &Timeline,
    (node1_id, node2_id): (&str, &str),
    (a, b): (&Browser, &Browser),
) -> Result<()> {
    let link = start_call(a, &stage.server.base_url()).await?;
    let room = room_of(&link)?;
    let link_b = on_node(&link, node2.addr())?;
    time.mark(format!("A started a call on node 1: {link}; B opens {link_b}"));

    let opened = Instant::now();
    b.goto(&link_b).await?;
    record_states(b).await?;
    b.press_join(STATE_LIMIT).await?;
    poll("b: first remote frame", STATE_LIMIT, Duration::from_millis(50), || b.first_remote_frame()).await?;
    let first_frame = opened.elapsed();
    println!("link opened → first remote frame: {} ms", first_frame.as_millis());
    connected_with_media(&[a, b], STATE_LIMIT).await?;
    for browser in [a, b] {
        browser.wait_for_attr("call-stats", "data-path", "direct", MEDIA_LIMIT).await?;
        let sample = browser.check_remote_video_size().await?;
        time.mark(format!(
            "{}: connected, remote video {}x{}, direct path",
            browser.name(),
            sample.width,
            sample.height
        ));
    }

    // Each node holds the seat of its own browser, and signals crossed between them.
    let a_peer = first_join(&stage.server, &room, false)?;
    let b_peer = first_join(node2, &room, false)?;
    for (name, node) in [("node 1", &stage.server), ("node 2", &*node2)] {
        let seated = metric(node, "signaling_peers_joined").await?;
        check(seated == 1.0, || format!("{name}: signaling_peers_joined {seated}, expected its own 1 seat"))?;
    }
    check_seats(redis, &room, &[(&a_peer, node1_id), (&b_peer, node2_id)]).await?;
    let relays_1 = metric(&stage.server, "signaling_redis_cross_node_relays_total").await?;
    let relays_2 = metric(node2, "signaling_redis_cross_node_relays_total").await?;
    check(relays_1 > 0.0 && relays_2 > 0.0, || {
        format!("cross-node relays: node 1 {relays_1}, node 2 {relays_2}; expected signals both ways")
    })?;
    time.mark(format!(
        "seats in Redis: A {a_peer} on node 1, B {b_peer} on node 2; cross-node relays: node 1 {relays_1}, node 2 {relays_2}"
    ));

    a.send_chat("hello from A on node 1", STATE_LIMIT).await?;
    b.wait_for_chat("hello from A on node 1", STATE_LIMIT).await?;
    time.mark("chat from A reached B");

    for browser in [a, b] {
        let kept = browser.js_async(JS_KEEP_REMOTE_STREAM).await?;
        check(kept == Value::Bool(true), || format!("{}: no remote stream to keep", browser.name()))?;
    }

    // Node 2 dies mid-call: B loses signaling, the media between the browsers goes on.
    node2.kill().await?;
    let down = Instant::now();
    time.mark("node 2 killed (SIGKILL)");
    let took = b.wait_for_state("reconnecting", STATE_LIMIT).await?;
    let status = b.status_text().await?;
    let notice = notice_text(b).await?;
    time.mark(format!("B `reconnecting` {} ms after the kill, status {status:?}, notice {notice:?}", took.as_millis()));
    let a_state = a.state().await?;
    check(a_state == "connected", || format!("a: state `{a_state}` while node 2 is down"))?;
    for browser in [a, b] {
        browser.wait_remote_video_playing(MEDIA_LIMIT).await.context("while node 2 is down")?;
    }
    time.mark("node 2 down: A still `connected`, remote video playing on both sides");
    b.screenshot("cluster-b-reconnecting").await?;
    if let Some(rest) = NODE_DOWNTIME.checked_sub(down.elapsed()) {
        tokio::time::sleep(rest).await;
    }

    // Node 2 again, on the same port: a new node for Redis. B's page comes back to it by itself.
    node2.restart().await?;
    let back = Instant::now();
    wait_registered("restarted node 2", node2).await?;
    let registered = back.elapsed();
    let new_node2_id = last_node_id(node2)?;
    check(new_node2_id != node2_id, || format!("node 2 kept its node id {node2_id} across the restart"))?;
    time.mark(format!(
        "node 2 restarted on {} after {} ms down; registered in Redis {} ms later as node {new_node2_id}",
        node2.addr(),
        back.duration_since(down).as_millis(),
        registered.as_millis()
    ));
    let server = &*node2;
    poll("B resumes its seat on node 2 and both are `connected`", RECOVERY_LIMIT, POLL_EVERY, || async {
        let resumes = server.metric("signaling_resumes_total").await?;
        let (sa, sb) = (a.state().await?, b.state().await?);
        if resumes.is_some_and(|n| n >= 1.0) && sa == "connected" && sb == "connected" {
            Ok(Probe::Ready(()))
        } else {
            Ok(Probe::NotYet(format!("node 2 signaling_resumes_total {resumes:?}, A `{sa}`, B `{sb}`")))
        }
    })
    .await?;
    let recovered = back.elapsed();
    println!("node restart → both connected again: {} ms", recovered.as_millis());
    connected_with_media(&[a, b], MEDIA_LIMIT).await?;
    frames_advancing(&[a, b]).await?;
    // The media path never went through node 2: both pages kept their RTCPeerConnection (a
    // renegotiation from scratch would show a new remote stream).
    for browser in [a, b] {
        let same = browser.js_async(JS_SAME_REMOTE_STREAM).await?;
        check(same == Value::Bool(true), || {
            format!("{}: the remote stream changed across B's resume: the call was set up again", browser.name())
        })?;
    }
    let resumed = first_join(node2, &room, true)?;
    check(resumed == b_peer, || format!("B resumed as {resumed}, not as its peer id {b_peer}"))?;
    check_seats(redis, &room, &[(&a_peer, node1_id), (&b_peer, &new_node2_id)]).await?;
    let refused = log_of(node2)?.lines().filter(|line| line.contains("join refused")).count();
    time.mark(format!(
        "B resumed as {b_peer} on the new node 2 ({refused} joins refused there); media flowing both ways"
    ));

    b.send_chat("hello from B, back on node 2", STATE_LIMIT).await?;
    a.wait_for_chat("hello from B, back on node 2", STATE_LIMIT).await?;

    // Node 1 sweeps the seats of the dead node once its liveness key lapses: B's seat, resumed on
    // the new node 2, must survive that, and A must never hear that B left.
    if let Some(rest) = SWEEP_WINDOW.checked_sub(down.elapsed()) {
        time.mark(format!("watching the call until {} s after the kill (node 1's sweep)", SWEEP_WINDOW.as_secs()));
        tokio::time::sleep(rest).await;
    }
    for browser in [a, b] {
        let state = browser.state().await?;
        check(state == "connected", || format!("{}: `{state}` after node 1's sweep", browser.name()))?;
    }
    check_seats(redis, &room, &[(&a_peer, node1_id), (&b_peer, &new_node2_id)]).await?;
    let a_states = states(a).await?;
    let b_states = states(b).await?;
    check(!a_states.iter().any(|(_, s)| s == "peer-left"), || {
        format!("A saw `peer-left` while B moved nodes: {}", time.states(&a_states))
    })?;
    let a_chat = a.chat_log().await?;
    check(!a_chat.iter().any(|line| line.contains("other person left")), || {
        format!("A's chat says someone left: {a_chat:?}")
    })?;
    println!("A's call states: {}", time.states(&a_states));
    println!("B's call states: {}", time.states(&b_states));
    let evictions = metric(&stage.server, "signaling_redis_evictions_total").await?;
    let relays_after = metric(&stage.server, "signaling_redis_cross_node_relays_total").await?;
    let relays_new_2 = metric(node2, "signaling_redis_cross_node_relays_total").await?;
    time.mark(format!(
        "still connected {} s after the kill; node 1: evictions {evictions}, cross-node relays {relays_1} → \
         {relays_after}; new node 2: cross-node relays {relays_new_2}",
        down.elapsed().as_secs()
    ));
    a.screenshot("cluster-a").await?;
    b.screenshot("cluster-b").await?;

    // A hangs up on node 1; B hears it on node 2.
    let hung_up = Instant::now();
    a.click("hang-up").await?;
    b.wait_for_state("peer-left", STATE_LIMIT).await?;
    let a_state = a.state().await?;
    time.mark(format!(
        "A hung up (A shows `{a_state}`); B shows `peer-left` after {} ms, status {:?}",
        hung_up.elapsed().as_millis(),
        b.status_text().await?
    ));
    b.screenshot("cluster-b-peer-left").await?;
    // In-page clocks: from A's `ended` to B's `peer-left`, without WebDriver's round trips.
    let ended_at = last_time(&states(a).await?, "ended");
    let left_at = last_time(&states(b).await?, "peer-left");
    if let (Some(ended_at), Some(left_at)) = (ended_at, left_at) {
        println!("A `ended` → B `peer-left` (page clocks): {} ms", left_at.saturating_sub(ended_at));
    }
    check_seats(redis, &room, &[(&b_peer, &new_node2_id)]).await?;
    println!(
        "timings: link opened → first remote frame {} ms; node restart → both connected again {} ms",
        first_frame.as_millis(),
        recovered.as_millis()
    );
    Ok(())
}

/// Waits until the node says Redis is up and it is registered (it refuses joins before that).
async fn wait_registered(name: &str, node: &Signaling) -> Result<()> {
    poll(&format!("{name}: signaling_redis_up 1"), STATE_LIMIT, POLL_EVERY, || async {
        match node.metric("signaling_redis_up").await? {
            Some(up) if up >= 1.0 => Ok(Probe::Ready(())),
            up => Ok(Probe::NotYet(format!("signaling_redis_up {up:?}"))),
        }
    })
    .await
}

/// For a failure report: the node's counters and gauges (no histogram buckets), if it answers.
async fn dump_metrics(name: &str, node: &Signaling) {
    match node.get("/metrics").await {
        Ok((_, body)) => {
            eprintln!("----- {name}: /metrics");
            for line in String::from_utf8_lossy(&body).lines() {
                if !line.starts_with('#') && !line.contains("_bucket") {
                    eprintln!("    {line}");
                }
            }
        }
        Err(e) => eprintln!("----- {name}: no /metrics: {e}"),
    }
}

/// A metric that must be there.
async fn metric(node: &Signaling, name: &str) -> Result<f64> {
    node.metric(name).await?.ok_or_else(|| Failure::new(format!("no {name} in {}/metrics", node.base_url())))
}

fn log_of(node: &Signaling) -> Result<String> {
    std::fs::read_to_string(node.log_path()).context(format!("reading {}", node.log_path().display()))
}

/// The id the node announced at its latest start.
fn last_node_id(node: &Signaling) -> Result<String> {
    node_ids(&log_of(node)?)
        .pop()
        .ok_or_else(|| Failure::new(format!("{}: no `rooms are shared through Redis` line", node.log_path().display())))
}

/// The peer id of the node's first `joined` in `room` with this `resumed` flag.
fn first_join(node: &Signaling, room: &str, resumed: bool) -> Result<String> {
    joins(&log_of(node)?).into_iter().find(|j| j.room == room && j.resumed == resumed).map(|j| j.peer).ok_or_else(
        || Failure::new(format!("{}: no `joined` with resumed={resumed} in room {room}", node.log_path().display())),
    )
}

/// Fails unless Redis seats exactly these (peer, node) pairs in `room`, all connected.
async fn check_seats(redis: &Redis, room: &str, expected: &[(&str, &str)]) -> Result<()> {
    let seats = redis.seats(room).await?;
    let mut wanted: Vec<Seat> = expected
        .iter()
        .map(|(peer, node)| Seat { peer: (*peer).to_owned(), node: (*node).to_owned(), state: "c".to_owned() })
        .collect();
    wanted.sort_by(|x, y| x.peer.cmp(&y.peer));
    check(seats == wanted, || format!("seats of room {room} in Redis: {seats:?}, expected {wanted:?}"))
}

/// A opens `/` and starts a call; returns the link to share once A waits for the other person.
async fn start_call(a: &Browser, base_url: &str) -> Result<String> {
    a.goto(base_url).await?;
    record_states(a).await?;
    let link = start_waiting(a, STATE_LIMIT).await?;
    check(link.starts_with(base_url) && link.contains("room=") && !link.contains("signaling="), || {
        format!("#call-link {link:?} is not a plain link to {base_url}?room=…")
    })?;
    Ok(link)
}

async fn record_states(browser: &Browser) -> Result<()> {
    browser.js_async(JS_RECORD_STATES).await.map(drop)
}

/// Every call state the page showed since [`record_states`], with its `Date.now()`.
async fn states(browser: &Browser) -> Result<Vec<(u128, String)>> {
    let value = browser.js_async(JS_STATES).await?;
    let entries = value.as_array().ok_or_else(|| {
        Failure::new(format!("{}: no recorded call states (did the page reload?): {value}", browser.name()))
    })?;
    Ok(entries
        .iter()
        .filter_map(|entry| {
            let at = entry.get(0).and_then(Value::as_f64)?;
            Some((at as u128, entry.get(1).and_then(Value::as_str)?.to_owned()))
        })
        .collect())
}

/// When the page last entered `state`.
fn last_time(states: &[(u128, String)], state: &str) -> Option<u128> {
    states.iter().rev().find(|(_, s)| s == state).map(|(at, _)| *at)
}

/// The text of the notice over the video (`#message`), "" when there is none.
async fn notice_text(browser: &Browser) -> Result<String> {
    let value = browser.js_async(JS_NOTICE).await?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

/// The `room` parameter of a call link.
fn room_of(link: &str) -> Result<String> {
    let url = url::Url::parse(link).context(format!("parsing {link:?}"))?;
    url.query_pairs()
        .find(|(name, _)| name == "room")
        .map(|(_, room)| room.into_owned())
        .ok_or_else(|| Failure::new(format!("no room in {link:?}")))
}

/// The same link on another node: the page's host decides where its signaling goes (`ws://<host>/ws`).
fn on_node(link: &str, node: SocketAddr) -> Result<String> {
    let mut url = url::Url::parse(link).context(format!("parsing {link:?}"))?;
    url.set_ip_host(node.ip()).map_err(|()| Failure::new(format!("{link:?} cannot have an IP host")))?;
    url.set_port(Some(node.port())).map_err(|()| Failure::new(format!("{link:?} cannot have a port")))?;
    Ok(url.into())
}

/// One `joined` line of a node's log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Join {
    room: String,
    peer: String,
    resumed: bool,
}

/// The value of `name=value` (or `name="value"`) in a log line.
fn log_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    Some(line[start..].split_whitespace().next()?.trim_matches('"'))
}

/// Every seat taken (`joined`, fresh or resumed) in a node's log, oldest first.
fn joins(log: &str) -> Vec<Join> {
    log.lines()
        .map(e2e::strip_ansi)
        .filter(|line| line.contains(": joined "))
        .filter_map(|line| {
            Some(Join {
                room: log_field(&line, "room")?.to_owned(),
                peer: log_field(&line, "peer")?.to_owned(),
                resumed: log_field(&line, "resumed")? == "true",
            })
        })
        .collect()
}

/// The node ids a node's log announced, one per start.
fn node_ids(log: &str) -> Vec<String> {
    log.lines()
        .map(e2e::strip_ansi)
        .filter(|line| line.contains("rooms are shared through Redis"))
        .filter_map(|line| log_field(&line, "node").map(str::to_owned))
        .collect()
}

#[test]
fn node_log_lines_are_parsed() {
    let log = "\
2026-11-21T10:07:34.533852Z  INFO signaling::engine::redis: rooms are shared through Redis node=\"9mjZLJGOzx_0\"
2026-11-21T10:07:35.100000Z  INFO signaling::engine::redis::worker::batch: joined room=AbC peer=\"p1\" resumed=false peers=0
2026-11-21T10:07:35.200000Z  INFO signaling::engine::redis::worker::batch: join refused room=AbC code=\"room_full\"
----- e2e harness: server killed -----
2026-11-21T10:07:39.533852Z  INFO signaling::engine::redis: rooms are shared through Redis node=\"k2\"
2026-11-21T10:07:40.100000Z  INFO signaling::engine::redis::worker::batch: joined room=AbC peer=\"p1\" resumed=true peers=1";
    assert_eq!(node_ids(log), ["9mjZLJGOzx_0", "k2"]);
    let join = |peer: &str, resumed| Join { room: "AbC".into(), peer: peer.into(), resumed };
    assert_eq!(joins(log), [join("p1", false), join("p1", true)]);
}

#[test]
fn links_are_moved_to_another_node() {
    let link = "http://127.0.0.1:4000/?room=AbC-12";
    let moved = on_node(link, SocketAddr::from(([127, 0, 0, 1], 5000))).expect("moves");
    assert_eq!(moved, "http://127.0.0.1:5000/?room=AbC-12");
    assert_eq!(room_of(&moved).expect("has a room"), "AbC-12");
}

#[test]
fn redis_seats_are_parsed() {
    let text = "pB\n2|tok2|n2|7|a1700000000000\npA\n1|tok1|n1|3|c\n";
    let seats = redis::parse_seats(text).expect("parses");
    let seat = |peer: &str, node: &str, state: &str| Seat { peer: peer.into(), node: node.into(), state: state.into() };
    assert_eq!(seats, [seat("pA", "n1", "c"), seat("pB", "n2", "a1700000000000")]);
    assert_eq!(redis::parse_seats(""), Some(Vec::new()));
    assert_eq!(redis::parse_seats("pA\n1|tok\n"), None);
}
