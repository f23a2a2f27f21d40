//! One signaling session: a WebSocket's text messages turned into requests to the room engine,
//! and the seat given up (or kept for a resume) when the connection ends.
//!
//! Nothing a client sends closes its connection on the first offence: each bad message gets an
//! `error` with its code. Only a flood that continues after `rate_limited` is closed (1008).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::SystemTime;

use crate::relay::{parse_incoming, Incoming};
use shared::{ErrorCode, PeerId, ServerMessage};
use tokio::time::Instant;
use tracing::{debug, enabled, warn, Level};

use crate::address::{Refusal, Slot};
use crate::engine::config::RoomsConfig;
use crate::engine::peer::{fresh_ids, PeerHandle, SeatedAs};
use crate::engine::{EngineConn, Replies, RoomEngine};
use crate::ice::IceConfig;
use crate::metrics::Metrics;
use crate::rate::{TokenBucket, Verdict};
use crate::service::Service;
use crate::ws::{outbox, CloseCode, Handler, Message, WebSocket, Writer};

/// The rooms service behind `/ws`, on either engine.
pub struct RoomService<E> {
    engine: Arc<E>,
    /// The bytes all sessions' outbound queues may hold together.
    budget: Arc<outbox::Budget>,
}

impl<E: RoomEngine> RoomService<E> {
    /// The service on `engine`; its outbound byte gauge is registered in `metrics`.
    pub fn new(engine: Arc<E>, metrics: &Metrics) -> Self {
        let budget = outbox::Budget::new(engine.config().outbound_total_bytes);
        metrics.register(|registry| outbox::register(&budget, registry));
        RoomService { engine, budget }
    }
}

impl<E: RoomEngine> Service for RoomService<E> {
    async fn session(&self, ws: &mut WebSocket) {
        self.serve(ws, None).await;
    }

    async fn session_from(&self, ws: &mut WebSocket, slot: Slot) {
        self.serve(ws, Some(slot)).await;
    }

    fn healthy(&self) -> bool {
        self.engine.healthy()
    }

    /// A signal over `--max-signal-size` gets `message_too_large`; the slack lets a message
    /// somewhat over it be read and get that error, while one far over is refused from its frame
    /// header (1009) instead of being held unfinished: a connection holds at most ~68 KiB of an
    /// incoming message by default instead of `--max-message-size` (1 MiB).
    fn max_message_size(&self) -> Option<usize> {
        Some(self.engine.config().max_signal_size.saturating_add(SIGNAL_SLACK))
    }
}

/// Bytes past `--max-signal-size` a message may have and still be read (to be answered
/// `message_too_large`); anything longer fails the connection with 1009.
pub const SIGNAL_SLACK: usize = 4096;

impl<E: RoomEngine> RoomService<E> {
    /// One session; `slot`, when given, holds it to its address's join and seat limits.
    async fn serve(&self, ws: &mut WebSocket, slot: Option<Slot>) {
        // Bounded in messages and bytes, per connection and in total: a recipient that stops
        // reading fills its allowance, and further messages to it are dropped and counted (see
        // `PeerHandle::send_text`) instead of growing memory without limit.
        let config = self.engine.config();
        let (tx, mut rx) = outbox::bounded(config.outbound_queue, config.outbound_bytes, self.budget.clone());
        let mut handle = PeerHandle::new(tx);
        if let Some(slot) = &slot {
            handle.charge_new_rooms(slot.new_rooms());
        }
        let seat = handle.seated_as();
        let mut session = Session::new(self.engine.open(handle), config);
        session.slot = slot;
        session.seat = seat;
        let ended = ws.run(&mut session, Some(&mut rx)).await;
        // The slot (and the seat it counts) goes with the session, though the engine may keep
        // the seat for a resume: a resume is a new connection, counted again.
        session.conn.end(ended.label()).await;
    }
}

/// The engines answer into the session's WebSocket writer.
impl Replies for Writer {
    fn text(&mut self, json: &str) {
        Writer::text(self, json);
    }
}

struct Session<C> {
    conn: C,
    bucket: TokenBucket,
    max_signal_size: usize,
    /// For `ice_config`, the pre-call check's request.
    ice: Arc<IceConfig>,
    /// The seat the engine gave the connection: its TURN identity once seated, and named in
    /// what the session logs.
    seat: SeatedAs,
    /// Whose TURN credentials `ice_config` mints before a seat.
    turn: TurnIdentity,
    /// The session asked to close and the close is on its way behind earlier answers: the
    /// messages ignored since, and the close itself if too many come before it.
    hanging_up: Option<(u32, (CloseCode, &'static str))>,
    /// The connection's client address and its per-address limits.
    slot: Option<Slot>,
}

impl<C> Session<C> {
    fn new(conn: C, config: &RoomsConfig) -> Self {
        Session {
            conn,
            bucket: TokenBucket::new(config.rate, Instant::now()),
            max_signal_size: config.max_signal_size,
            ice: config.ice.clone(),
            seat: SeatedAs::default(),
            turn: TurnIdentity::default(),
            hanging_up: None,
            slot: None,
        }
    }
}

/// Messages ignored while a close is on its way before closing anyway (its close was lost to a
/// full outbound queue): more than any queue holds.
const IGNORED_BEFORE_CLOSE: u32 = 1_000;

impl<C: EngineConn> Handler for Session<C> {
    fn on_message(&mut self, message: Message<'_>, reply: &mut Writer) -> ControlFlow<(CloseCode, &'static str)> {
        if let Some((ignored, close)) = &mut self.hanging_up {
            *ignored += 1;
            return if *ignored > IGNORED_BEFORE_CLOSE {
                ControlFlow::Break(*close)
            } else {
                ControlFlow::Continue(())
            };
        }
        match self.bucket.check(Instant::now()) {
            Verdict::Allow => {}
            Verdict::Limit => {
                let wait = self.bucket.retry_after().as_millis() + 1;
                let message =
                    ServerMessage::error_with(ErrorCode::RateLimited, format!("too many messages; retry in {wait} ms"));
                if enabled!(Level::DEBUG) {
                    self.seat.span().in_scope(|| debug!(code = "rate_limited", "error sent"));
                }
                // At once, on every engine: the warning a flood's close must follow.
                self.conn.refuse(&message, reply);
                return ControlFlow::Continue(());
            }
            Verdict::Flood => {
                self.seat.span().in_scope(|| warn!("message flood; closing"));
                let close = (CloseCode::POLICY_VIOLATION, "message flood");
                let flow = self.conn.hang_up(close.0, close.1, reply);
                self.hanging_up = flow.is_continue().then_some((0, close));
                return flow;
            }
        }
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                self.error(reply, ErrorCode::BadMessage, "binary messages are not part of the protocol".into());
                return ControlFlow::Continue(());
            }
        };
        let limit = self.max_signal_size;
        if text.len() > limit {
            let detail = format!("message of {} bytes; the limit is {limit}", text.len());
            self.error(reply, ErrorCode::MessageTooLarge, detail);
            return ControlFlow::Continue(());
        }
        match parse_incoming(text) {
            Err(e) => self.error(reply, e.code(), e.to_string()),
            // Validated as a `Signal`; relayed as the sender's own `data` text.
            Ok(Incoming::Signal { to, data }) => self.conn.relay(to, data, reply),
            Ok(Incoming::Join { room, resume }) => {
                if let Some(refusal) = self.slot.as_mut().and_then(|slot| slot.join().err()) {
                    let (code, detail) = join_refusal(refusal);
                    self.error(reply, code, detail);
                    return ControlFlow::Continue(());
                }
                return self.conn.join(room, resume, reply);
            }
            Ok(Incoming::Leave) => {
                if let Some(slot) = &mut self.slot {
                    slot.leave();
                }
                self.conn.leave(reply);
            }
            Ok(Incoming::IceConfig) => self.ice_config(reply),
        }
        ControlFlow::Continue(())
    }
}

/// The error a join refused by its address's limits gets: `rate_limited` either way (the same
/// join may succeed later), with the reason in the text.
fn join_refusal(refusal: Refusal) -> (ErrorCode, String) {
    let detail = match refusal {
        Refusal::Joins(wait) => {
            format!("too many joins from your address; retry in {} ms", wait.as_millis() + 1)
        }
        Refusal::Rooms => "your address holds too many rooms; leave one first".to_owned(),
        Refusal::NewRooms(wait) => {
            format!("too many new rooms from your address; retry in {} ms", wait.as_millis() + 1)
        }
        Refusal::Connections => "too many connections from your address".to_owned(),
    };
    (ErrorCode::RateLimited, detail)
}

/// The one identity a connection's TURN usernames (`<expiry>:<id>`) carry, so coturn's
/// `user-quota` — counted per id, the expiry aside — bounds what one person can allocate: the
/// peer id of the seat it holds (the id `joined` gave its credentials), or before any join one
/// random id of its own, minted at its first `ice_config` and kept. Renewals extend the expiry
/// under the same id instead of opening a new quota each time.
#[derive(Debug, Default)]
struct TurnIdentity {
    unseated: Option<PeerId>,
}

impl TurnIdentity {
    fn id(&mut self, seat: &SeatedAs) -> Result<PeerId, getrandom::Error> {
        if let Some(peer) = seat.get() {
            return Ok(peer);
        }
        if let Some(id) = &self.unseated {
            return Ok(id.clone());
        }
        let (id, _) = fresh_ids()?;
        self.unseated = Some(id.clone());
        Ok(id)
    }
}

impl<C: EngineConn> Session<C> {
    /// The ICE servers `joined` would carry, for the pre-call check (before a join) and for the
    /// page's renewal before its credentials expire, under the connection's one TURN identity.
    fn ice_config(&mut self, reply: &mut Writer) {
        let message = match self.turn.id(&self.seat) {
            Ok(id) => ServerMessage::IceConfig { ice_servers: self.ice.servers_for(&id, SystemTime::now()) },
            Err(e) => {
                self.seat.span().in_scope(|| warn!(error = %e, "no random source for an ice_config answer"));
                ServerMessage::error(ErrorCode::Unavailable)
            }
        };
        self.conn.reply(&message, reply);
    }

    fn error(&mut self, reply: &mut Writer, code: ErrorCode, message: String) {
        // `?`: the message may quote what a client sent (newlines included); Debug escapes it, so it
        // stays inside this one log line.
        if enabled!(Level::DEBUG) {
            self.seat.span().in_scope(|| debug!(code = code.as_str(), ?message, "error sent"));
        }
        self.conn.reply(&ServerMessage::Error { code, message }, reply);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shared::ResumeToken;

    use super::*;
    use crate::engine::Flow;
    use crate::rate::RateConfig;
    use crate::relay::RawValue;

    /// An engine connection that records what the session asked of it.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
        /// Whether a hang-up waits behind queued answers (the Redis engine) or closes now.
        hang_up_queues: bool,
    }

    impl EngineConn for Recorder {
        fn join(&mut self, room: shared::RoomId, resume: Option<ResumeToken>, _: &mut impl Replies) -> Flow {
            self.calls.push(format!("join {room} resume={}", resume.is_some()));
            Flow::Continue(())
        }

        fn relay(&mut self, to: shared::PeerId, data: &RawValue, _: &mut impl Replies) {
            self.calls.push(format!("relay {} {}", to.as_str(), data.get()));
        }

        fn leave(&mut self, _: &mut impl Replies) {
            self.calls.push("leave".into());
        }

        fn reply(&mut self, message: &ServerMessage, _: &mut impl Replies) {
            match message {
                ServerMessage::Error { code, .. } => self.calls.push(format!("error {}", code.as_str())),
                other => self.calls.push(format!("reply {other:?}")),
            }
        }

        /// Recorded like a reply: the unit tests check what is answered, the engines when.
        fn refuse(&mut self, message: &ServerMessage, reply: &mut impl Replies) {
            self.reply(message, reply);
        }

        fn hang_up(&mut self, code: CloseCode, reason: &'static str, _: &mut impl Replies) -> Flow {
            self.calls.push(format!("hang_up {code}"));
            if self.hang_up_queues {
                Flow::Continue(())
            } else {
                Flow::Break((code, reason))
            }
        }

        async fn end(self, _: &'static str) {}
    }

    fn session(rate: RateConfig, max_signal_size: usize) -> Session<Recorder> {
        Session::new(Recorder::default(), &RoomsConfig { rate, max_signal_size, ..RoomsConfig::default() })
    }

    fn send(session: &mut Session<Recorder>, message: Message<'_>) -> ControlFlow<(CloseCode, &'static str)> {
        session.on_message(message, &mut Writer::default())
    }

    #[tokio::test(start_paused = true)]
    async fn messages_become_requests_and_bad_ones_get_their_error() {
        let mut s = session(RateConfig::default(), 200);
        let join = r#"{"type":"join","room":"r1"}"#;
        let signal = r#"{"type":"signal","to":"b","data":{"kind":"end_of_candidates"}}"#;
        let long = format!(r#"{{"type":"join","room":"r1","x":"{}"}}"#, "x".repeat(200));
        for message in [
            Message::Text(join),
            Message::Text(signal),
            Message::Text(r#"{"type":"leave"}"#),
            Message::Binary(b"\x00"),
            Message::Text(&long),
            Message::Text(r#"{"type":"join","room":"no spaces"}"#),
            Message::Text("not json"),
        ] {
            assert!(send(&mut s, message).is_continue());
        }
        assert_eq!(
            s.conn.calls,
            [
                "join r1 resume=false",
                r#"relay b {"kind":"end_of_candidates"}"#,
                "leave",
                "error bad_message",
                "error message_too_large",
                "error invalid_room",
                "error bad_message",
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_limited_then_a_continued_flood_closes_and_time_refills() {
        let rate = RateConfig { per_sec: 10.0, burst: 2.0, flood_after: 2 };
        let mut s = session(rate, 1024);
        let leave = Message::Text(r#"{"type":"leave"}"#);
        assert!(send(&mut s, leave).is_continue());
        assert!(send(&mut s, leave).is_continue());
        assert!(send(&mut s, leave).is_continue(), "limited, not closed");
        assert!(send(&mut s, leave).is_continue());
        assert_eq!(s.conn.calls, ["leave", "leave", "error rate_limited", "error rate_limited"]);
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(send(&mut s, leave).is_continue(), "a token came back");
        assert_eq!(s.conn.calls.last().map(String::as_str), Some("leave"));
        for _ in 0..2 {
            assert!(send(&mut s, leave).is_continue());
        }
        let closed = send(&mut s, leave);
        assert_eq!(closed, ControlFlow::Break((CloseCode::POLICY_VIOLATION, "message flood")));
        assert_eq!(s.conn.calls.last().map(String::as_str), Some("hang_up 1008"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_queued_hang_up_ignores_what_follows_then_closes_anyway() {
        let rate = RateConfig { per_sec: 1.0, burst: 1.0, flood_after: 0 };
        let mut s = session(rate, 1024);
        s.conn.hang_up_queues = true;
        let leave = Message::Text(r#"{"type":"leave"}"#);
        assert!(send(&mut s, leave).is_continue());
        assert!(send(&mut s, leave).is_continue(), "the close waits behind earlier answers");
        assert_eq!(s.conn.calls, ["leave", "hang_up 1008"]);
        for _ in 0..IGNORED_BEFORE_CLOSE {
            assert!(send(&mut s, leave).is_continue());
        }
        assert_eq!(s.conn.calls.len(), 2, "ignored, not answered");
        assert_eq!(send(&mut s, leave), ControlFlow::Break((CloseCode::POLICY_VIOLATION, "message flood")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_s_warning_names_the_seat() {
        let rate = RateConfig { per_sec: 1.0, burst: 1.0, flood_after: 0 };
        let mut s = session(rate, 1024);
        let (tx, _rx) = outbox::channel(1);
        let handle = PeerHandle::new(tx);
        s.seat = handle.seated_as();
        handle.seated(&shared::RoomId::try_from("r").unwrap(), &shared::PeerId::new("AAAAAAAAAAAAAAAA"), false);
        let leave = Message::Text(r#"{"type":"leave"}"#);
        let logged = crate::log_capture::logged(|| {
            assert!(send(&mut s, leave).is_continue());
            assert!(send(&mut s, leave).is_break());
        });
        let flood = logged.lines().find(|line| line.contains("message flood; closing")).unwrap_or_default();
        assert!(flood.contains(" WARN session{peer=AAAAAAAAAAAAAAAA room=r}: "), "{logged}");
    }

    /// The TURN usernames of the `ice_config` answers `s` gives to `count` requests.
    fn turn_usernames(s: &mut Session<Recorder>, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| {
                let mut writer = Writer::default();
                s.ice_config(&mut writer);
                s.conn.calls.pop().expect("an answer")
            })
            .map(|call| {
                let start = call.find("username: Some(\"").expect("a TURN username") + 16;
                call[start..].split('"').next().expect("a quoted username").to_owned()
            })
            .collect()
    }

    #[test]
    fn ice_config_keeps_one_turn_identity_per_connection_then_per_seat() {
        let ice = IceConfig {
            turn_urls: vec!["turn:t".into()],
            turn_secret: Some("s".into()),
            turn_ttl: Duration::from_secs(900),
            ..IceConfig::default()
        };
        let mut s = Session::new(Recorder::default(), &RoomsConfig { ice: ice.into(), ..RoomsConfig::default() });
        let id = |username: &String| username.split_once(':').expect("<expiry>:<id>").1.to_owned();
        let before = turn_usernames(&mut s, 3);
        assert!(before.iter().all(|u| id(u) == id(&before[0])), "one id before a join: {before:?}");
        assert_eq!(id(&before[0]).len(), 16, "96 random bits");
        // The engine seats the connection: renewals name the seat's peer id, as `joined` did.
        let (tx, _rx) = outbox::channel(1);
        let handle = PeerHandle::new(tx);
        s.seat = handle.seated_as();
        handle.seated(&shared::RoomId::try_from("r").unwrap(), &shared::PeerId::new("AAAAAAAAAAAAAAAA"), false);
        let seated = turn_usernames(&mut s, 2);
        assert!(seated.iter().all(|u| id(u) == "AAAAAAAAAAAAAAAA"), "{seated:?}");
    }
}
