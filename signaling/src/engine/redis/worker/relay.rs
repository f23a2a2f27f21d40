//! Relays: planned as one `PUBLISH` to where the recipient sits when this seat knows it, else
//! through the relay script (which says where it sits); landed; and, on the receiving side, each
//! signal checked against the seat it names before it is delivered (see `inbox` and `places`).

use std::sync::Arc;

use redis::{Cmd, Pipeline, Value};
use shared::{ErrorCode, PeerId};
use tracing::{debug, info};

use super::batch::Step;
use super::{unknown_peer, Held, Worker, UNREACHABLE};
use crate::engine::peer::ConnId;
use crate::engine::redis::inbox;
use crate::engine::redis::metrics::PublishFailure;
use crate::engine::redis::places::Place;
use crate::engine::redis::request::{Op, Request};
use crate::engine::redis::scripts::{self, RelayReply, Script};
use crate::relay::{relayed_signal_json, relayed_signal_parts, RawValue};

/// Bounced signals waiting for the next batch ([`inbox::undelivered`] to the sender's node). A
/// flood of stale signals beyond it loses only the senders' `unknown_peer` answers.
const BOUNCES_MAX: usize = 4096;

/// The longest signal delivered straight into its recipient's socket. The worker is the node's
/// one task for every delivery: a longer signal's copy into the kernel is left to the recipient's
/// own task, which may run on another thread, while the worker goes on (beside such a copy a
/// wake-up is small; beside a candidate's it is most of the cost).
const DIRECT_MAX: usize = 2048;

/// An inbox batch takes envelopes until it holds this many bytes (a single bigger signal goes
/// alone): what a receiving node must accept in one message besides the longest signal.
pub(super) const MERGE_MAX: usize = 64 * 1024;

impl Worker {
    pub(super) fn plan_relay(
        &mut self,
        conn: ConnId,
        to: PeerId,
        data: Box<RawValue>,
        via_script: bool,
        mut pipe: Option<&mut Pipeline>,
        steps: &mut Vec<Step>,
    ) {
        let Some(seat) = self.conns.get(&conn).and_then(|c| c.seat.as_ref()) else {
            let text = self.error(ErrorCode::NotInRoom, "join a room before sending signals".into());
            return steps.push(Step::Answer(conn, text));
        };
        if !to.is_well_formed() || to == seat.peer {
            let text = self.error(ErrorCode::UnknownPeer, "no such peer in this room".into());
            return steps.push(Step::Answer(conn, text));
        }
        // The sender's seat is checked here (this node's own state); with a place known for the
        // recipient, the relay is one PUBLISH, checked by the recipient's node.
        let place = seat.places.get(to.as_str()).filter(|_| !via_script);
        if let (Some(place), Some(pipe)) = (place, pipe.as_deref_mut()) {
            let envelope =
                SignalEnvelope { at: place.conn, node: &self.node, conn, from: &seat.peer, to: &to, data: &data };
            // Written once, straight into the inbox batch the command is made of.
            let shares = self.merging.add(pipe, &place.channel, |out| envelope.write_to(out));
            let cross = place.node != self.node;
            return steps.push(Step::Publish { conn, to, cross, data, shares });
        }
        if let Some(pipe) = pipe {
            self.merging.flush(pipe);
            pipe.cmd("EVALSHA")
                .arg(self.sha(Script::Relay))
                .arg(1)
                .arg(super::room_key(&seat.room))
                .arg(seat.peer.as_str())
                .arg(&*self.node)
                .arg(conn)
                .arg(to.as_str())
                .arg(relayed_signal_json(&seat.peer, &data));
        }
        steps.push(Step::Relay { conn, to });
    }

    pub(super) fn land_relay(&mut self, conn: ConnId, to: &PeerId, outcome: Result<Value, String>) {
        let reply = outcome.and_then(|value| scripts::relay_reply(&value).map_err(|e| e.to_string()));
        let unknown = || unknown_peer(to.as_str());
        let text = match reply {
            Ok(RelayReply::Delivered { same_node, node, conn: at }) => {
                if !same_node {
                    self.metrics.redis.cross_node_relays.inc();
                }
                self.metrics.rooms.signals_relayed.inc();
                let limit = self.rooms.capacity.saturating_sub(1);
                if let Some(seat) = self.conns.get_mut(&conn).and_then(|c| c.seat.as_mut()) {
                    seat.places.answered(to.as_str(), Place::new(&node, at), limit);
                }
                return;
            }
            Ok(RelayReply::UnknownPeer) => self.error(ErrorCode::UnknownPeer, unknown()),
            Ok(RelayReply::NodeGone) => {
                self.metrics.redis.publish_failed(PublishFailure::NodeGone);
                self.error(ErrorCode::UnknownPeer, unknown())
            }
            Ok(RelayReply::NotInRoom) => {
                // Redis no longer seats this connection: freed while this node was cut off.
                if let Some(seat) = self.detach(conn) {
                    info!(room = %seat.room, peer = seat.peer.as_str(), "seat lost");
                }
                self.error(ErrorCode::NotInRoom, "this connection no longer holds a seat; join again".into())
            }
            Err(e) => {
                debug!(error = %e, "relay failed");
                self.metrics.redis.publish_failed(PublishFailure::RedisError);
                self.error(ErrorCode::Unavailable, UNREACHABLE.into())
            }
        };
        self.send(conn, text);
    }

    /// A relay published straight to the recipient's node. Nobody listening means that node is
    /// gone: the place is forgotten and the relay goes again through the script, which finds
    /// where the peer sits now (it may have resumed elsewhere, its notice still on the way) or
    /// answers `unknown_peer`. Whether the seat was still there only the recipient's node knows:
    /// it bounces what found none.
    pub(super) fn land_publish(
        &mut self,
        conn: ConnId,
        to: PeerId,
        cross: bool,
        data: Box<RawValue>,
        outcome: Result<Value, String>,
    ) {
        let text = match outcome.and_then(|value| scripts::int(&value).map_err(|e| e.to_string())) {
            Ok(n) if n > 0 => {
                if cross {
                    self.metrics.redis.cross_node_relays.inc();
                }
                self.metrics.rooms.signals_relayed.inc();
                // An earlier one to the same peer reached nobody and this one did (the node lost
                // and regained its subscription between them): retrying the earlier one would
                // put it behind this one, so it is refused instead.
                let lost = if self.retries.is_empty() {
                    Vec::new()
                } else {
                    let (lost, kept) = self.retries.drain(..).partition(|r| r.conn == conn && is_relay_to(r, &to));
                    self.retries = kept;
                    lost
                };
                for _ in lost {
                    self.metrics.redis.publish_failed(PublishFailure::NodeGone);
                    let text = self.error(ErrorCode::UnknownPeer, unknown_peer(to.as_str()));
                    self.send(conn, text);
                }
                return;
            }
            Ok(_) => {
                if let Some(seat) = self.conns.get_mut(&conn).and_then(|c| c.seat.as_mut()) {
                    seat.places.forget(to.as_str());
                }
                let op = Op::Relay { to, data, via_script: true };
                return self.retries.push(Request { conn, open: None, op, ticket: None });
            }
            Err(e) => {
                debug!(error = %e, "relay failed");
                self.metrics.redis.publish_failed(PublishFailure::RedisError);
                self.error(ErrorCode::Unavailable, UNREACHABLE.into())
            }
        };
        self.send(conn, text);
    }

    /// A signal sent straight to a seat the sender believed this connection holds: delivered if it
    /// does (and the sender still holds its own, as far as this seat heard), else bounced.
    pub(super) fn deliver_signal(&mut self, signal: inbox::Signal<'_>) {
        let inbox::Signal { conn, from_node, from_conn, from, to, json } = signal;
        let Some(c) = self.conns.get_mut(&conn) else { return self.bounce(from_node, from_conn, to) };
        if let Some(held) = &mut c.held {
            if held.len() < self.rooms.outbound_queue {
                let (from_node, to, json) = (from_node.to_owned(), to.to_owned(), json.to_owned());
                held.push(Held::Signal { from_node, from_conn, to, json });
            } else {
                self.metrics.rooms.relay_dropped.inc();
            }
            return;
        }
        let seat = c.seat.as_ref().filter(|s| s.peer.as_str() == to && s.away.is_none());
        match (seat, &c.handle) {
            (Some(seat), Some(handle)) => {
                if seat.places.sent_from_its_seat(from, from_node, from_conn) {
                    if json.len() <= DIRECT_MAX {
                        // Written into the connection's socket from here when it is idle (at the
                        // end of the inbox read, see `link`), as the in-memory relay does: its
                        // task is not woken for it.
                        handle.send_text_now(json.to_owned(), &self.metrics.rooms);
                    } else {
                        handle.send_text(json.to_owned(), &self.metrics.rooms);
                    }
                } else {
                    // From a connection whose seat was taken over (it is being closed with 4001).
                    debug!(conn, from, "signal from a replaced connection dropped");
                    self.metrics.rooms.relay_dropped.inc();
                }
            }
            _ => self.bounce(from_node, from_conn, to),
        }
    }

    pub(super) fn bounce(&mut self, node: &str, conn: ConnId, to: &str) {
        if self.bounces.len() < BOUNCES_MAX {
            self.bounces.push((node.to_owned(), conn, to.to_owned()));
        }
    }

    /// What came for a connection while its join was in flight, after its answer: texts are
    /// delivered; signals if they were meant for the seat it got (`seated`), else bounced.
    pub(super) fn release(&mut self, conn: ConnId, held: Vec<Held>, seated: Option<&PeerId>) {
        for message in held {
            match message {
                Held::Text(text) => self.send(conn, text),
                Held::Signal { to, json, .. } if seated.is_some_and(|p| p.as_str() == to) => self.send(conn, json),
                Held::Signal { from_node, from_conn, to, .. } => self.bounce(&from_node, from_conn, &to),
            }
        }
    }
}

/// A relayed signal's inbox envelope as a `PUBLISH` argument: written into the command in
/// pieces, without the message or the envelope put together in a `String` first.
struct SignalEnvelope<'a> {
    /// The recipient's connection, on its node.
    at: ConnId,
    node: &'a str,
    conn: ConnId,
    from: &'a PeerId,
    to: &'a PeerId,
    data: &'a RawValue,
}

impl SignalEnvelope<'_> {
    /// Its length at most (the numbers counted at their longest).
    fn len(&self) -> usize {
        self.node.len() + self.from.as_str().len() + self.to.as_str().len() + self.data.get().len() + 96
    }
}

impl SignalEnvelope<'_> {
    fn write_to(&self, out: &mut Vec<u8>) {
        let (from, to) = (self.from.as_str(), self.to.as_str());
        out.reserve(self.len());
        // Writing into a Vec cannot fail.
        let _ = match relayed_signal_parts(self.from, self.data) {
            Some(json) => inbox::write_signal(out, self.at, self.node, self.conn, from, to, &json),
            None => {
                let json = relayed_signal_json(self.from, self.data);
                inbox::write_signal(out, self.at, self.node, self.conn, from, to, &[&json])
            }
        };
    }
}

/// The relays of a batch that go, one after the other, to the same node's inbox: one `PUBLISH`
/// of them all (an inbox batch), so Redis runs one command and the receiving node reads one
/// message for them. Only consecutive ones: any other command in between closes it, so Redis
/// still runs everything in the order it was queued.
#[derive(Default)]
pub(super) struct Merging {
    /// The channel of the `PUBLISH` being put together, if one is.
    channel: Option<Arc<str>>,
    payload: Vec<u8>,
}

impl Merging {
    /// Adds an envelope (written by `write`) for `channel`; returns whether it shares the
    /// `PUBLISH` (and so its answer) of the envelope before it.
    fn add(&mut self, pipe: &mut Pipeline, channel: &Arc<str>, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        let shares = self.channel.as_ref().is_some_and(|open| open == channel) && self.payload.len() < MERGE_MAX;
        if !shares {
            self.flush(pipe);
            self.channel = Some(channel.clone());
            inbox::start_batch(&mut self.payload);
        }
        inbox::add_to_batch(&mut self.payload, write);
        shares
    }

    /// Puts the `PUBLISH` being put together into `pipe`, if there is one.
    pub(super) fn flush(&mut self, pipe: &mut Pipeline) {
        let Some(channel) = self.channel.take() else { return };
        // Sized once: the signals are copied once more, into the command.
        let mut publish = Cmd::with_capacity(3, "PUBLISH".len() + channel.len() + self.payload.len());
        publish.arg("PUBLISH").arg(&*channel).arg(&self.payload[..]);
        pipe.add_command(publish);
        self.payload.clear();
        if self.payload.capacity() > 2 * MERGE_MAX {
            self.payload = Vec::new();
        }
    }
}

fn is_relay_to(request: &Request, peer: &PeerId) -> bool {
    matches!(&request.op, Op::Relay { to, .. } if to == peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_written_is_the_inbox_envelope() {
        let data = crate::relay::signal_payload(r#"{"data":{"kind":"candidate","candidate":"c 1 udp"}}"#).unwrap();
        let to = PeerId::new("pB");
        for from in [PeerId::new("pA_-9"), PeerId::new("a\"b")] {
            let envelope = SignalEnvelope { at: 9, node: "nodeB", conn: 31, from: &from, to: &to, data };
            let expected = inbox::signal(9, "nodeB", 31, from.as_str(), "pB", &relayed_signal_json(&from, data));
            assert!(expected.len() <= envelope.len(), "sized for it");
            let mut out = Vec::new();
            envelope.write_to(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    /// Each command of `pipe` as its arguments.
    fn commands(pipe: &Pipeline) -> Vec<Vec<Vec<u8>>> {
        let arg = |a: redis::Arg<&[u8]>| match a {
            redis::Arg::Simple(bytes) => bytes.to_vec(),
            _ => panic!("only plain arguments here"),
        };
        pipe.cmd_iter().map(|cmd| cmd.args_iter().map(arg).collect()).collect()
    }

    fn publish(channel: &str, envelopes: &[&str]) -> Vec<Vec<u8>> {
        let mut payload = Vec::new();
        inbox::start_batch(&mut payload);
        for e in envelopes {
            inbox::add_to_batch(&mut payload, |out| out.extend_from_slice(e.as_bytes()));
        }
        vec![b"PUBLISH".to_vec(), channel.as_bytes().to_vec(), payload]
    }

    fn text(text: &'static str) -> impl FnOnce(&mut Vec<u8>) {
        move |out: &mut Vec<u8>| out.extend_from_slice(text.as_bytes())
    }

    #[test]
    fn consecutive_relays_to_one_inbox_share_a_publish_and_others_close_it() {
        let (inbox_b, inbox_c): (Arc<str>, Arc<str>) = ("connect:inbox:b".into(), "connect:inbox:c".into());
        let mut pipe = redis::pipe();
        let mut merging = Merging::default();
        assert!(!merging.add(&mut pipe, &inbox_b, text("1 Sx")));
        assert!(merging.add(&mut pipe, &inbox_b, text("2 Sy")));
        assert!(!merging.add(&mut pipe, &inbox_c, text("3 Sz")));
        merging.flush(&mut pipe);
        pipe.cmd("EVALSHA").arg("sha");
        merging.flush(&mut pipe); // nothing open: nothing added
        assert!(!merging.add(&mut pipe, &inbox_b, text("4 Sw")));
        merging.flush(&mut pipe);
        assert_eq!(
            commands(&pipe),
            [
                publish(&inbox_b, &["1 Sx", "2 Sy"]),
                publish(&inbox_c, &["3 Sz"]),
                vec![b"EVALSHA".to_vec(), b"sha".to_vec()],
                publish(&inbox_b, &["4 Sw"]),
            ]
        );
    }

    #[test]
    fn a_full_batch_starts_another() {
        let inbox_b: Arc<str> = "connect:inbox:b".into();
        let mut pipe = redis::pipe();
        let mut merging = Merging::default();
        let big = "x".repeat(MERGE_MAX - 100);
        assert!(!merging.add(&mut pipe, &inbox_b, |out| out.extend_from_slice(big.as_bytes())));
        assert!(
            merging.add(&mut pipe, &inbox_b, |out| out.extend_from_slice(big.as_bytes())),
            "under the limit before"
        );
        assert!(!merging.add(&mut pipe, &inbox_b, text("1 Sx")), "over it now");
        merging.flush(&mut pipe);
        assert_eq!(commands(&pipe).len(), 2);
    }
}
