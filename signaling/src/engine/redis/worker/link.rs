//! The worker's two Redis connections: connecting (with backoff), losing them, sending a
//! pipeline on them, and the node's inbox subscription.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Pipeline, RedisResult, Value};
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn};

use super::subscription::Subscription;
use super::{Landed, Plan, Worker};
use crate::engine::redis::scripts::{self, Script};
use crate::ws::outbox;

/// Reconnection backoff: quick after a blip, at most every 2 s while Redis stays down.
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The two Redis connections, and the scripts' SHA1s on them.
pub(super) struct Connected {
    pub cmd: MultiplexedConnection,
    pub inbox: Subscription,
    pub shas: Vec<String>,
    /// The first heartbeat has run: the node is known alive and may take joins.
    pub registered: bool,
}

pub(super) enum Link {
    Down { retry_at: Instant, backoff: Duration, failures: u32 },
    Connecting(Pin<Box<dyn Future<Output = RedisResult<Connected>> + Send>>, Duration, u32),
    Up(Connected),
}

/// What a signal's envelope adds to it at most (ids, numbers, separators), for the longest inbox
/// message accepted.
const ENVELOPE_MAX: usize = 4096;

pub(super) enum LinkEvent {
    /// Bytes came on the inbox subscription (a wake-up delivers what one read brought, so a
    /// backlog is delivered in turns while flights, timers and the request queue get theirs).
    Inbox,
    Closed(String),
    Connected(RedisResult<Connected>),
    Retry,
}

impl Worker {
    pub(super) fn on_link(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Inbox => {
                let Link::Up(connected) = &mut self.link else { return };
                let mut received = std::mem::take(&mut connected.inbox.received);
                // Signals written straight into idle recipients' sockets wait for the end of
                // the read: one write per recipient for everything it brought them.
                let drained = outbox::deferring(|| received.drain(|payload| self.deliver(payload)));
                match (drained, &mut self.link) {
                    (Ok(()), Link::Up(connected)) => connected.inbox.received = received,
                    (Ok(()), _) => {}
                    (Err(e), _) => self.link_lost(&format!("the inbox subscription sent what it should not: {e}")),
                }
            }
            LinkEvent::Closed(why) => self.link_lost(&why),
            LinkEvent::Retry => {
                let (backoff, failures) = match self.link {
                    Link::Down { backoff, failures, .. } => (backoff, failures),
                    _ => (BACKOFF_MIN, 0),
                };
                // A batch of envelopes, then the one that took it over the mark.
                let message_max = (super::relay::MERGE_MAX + ENVELOPE_MAX).saturating_add(self.rooms.max_signal_size);
                let connect = connect(self.client.clone(), self.redis.response_timeout, self.node.clone(), message_max);
                self.link = Link::Connecting(Box::pin(connect), backoff, failures);
            }
            LinkEvent::Connected(Ok(connected)) => {
                info!(node = &*self.node, "connected to Redis");
                self.metrics.redis.connects.inc();
                self.link = Link::Up(connected);
            }
            LinkEvent::Connected(Err(e)) => {
                let (backoff, failures) = match self.link {
                    Link::Connecting(_, backoff, failures) => (backoff, failures),
                    _ => (BACKOFF_MIN, 0),
                };
                // Loud once, then quiet: an outage must not flood the log.
                if failures == 0 {
                    warn!(error = %e, "cannot connect to Redis; retrying");
                } else {
                    debug!(error = %e, failures, "cannot connect to Redis");
                }
                self.link = Link::Down {
                    retry_at: Instant::now() + backoff,
                    backoff: (backoff * 2).min(BACKOFF_MAX),
                    failures: failures + 1,
                };
            }
        }
    }

    /// Redis failed: unhealthy until reconnected and registered again. Idempotent.
    pub(super) fn link_lost(&mut self, why: &str) {
        if !matches!(self.link, Link::Up(_)) {
            return;
        }
        warn!(node = &*self.node, why, "lost Redis; new joins are refused until it is back");
        // Notices of moves may be lost with the subscription: every place must be heard again.
        for seat in self.conns.values_mut().filter_map(|c| c.seat.as_mut()) {
            seat.places.clear();
        }
        self.healthy.send_replace(false);
        self.metrics.redis.up.set(0);
        self.link = Link::Down { retry_at: Instant::now() + BACKOFF_MIN, backoff: BACKOFF_MIN, failures: 0 };
    }

    pub(super) fn launch(&mut self, pipe: Pipeline, plan: Plan) {
        let Link::Up(connected) = &self.link else { return };
        let mut cmd = connected.cmd.clone();
        self.flight = Some(Box::pin(async move {
            let started = Instant::now();
            let result = pipe.query_async::<Vec<Value>>(&mut cmd).await;
            Landed { plan, result, took: started.elapsed() }
        }));
    }

    pub(super) fn sha(&self, script: Script) -> &str {
        match &self.link {
            Link::Up(c) => c.shas.get(script as usize).map_or("", String::as_str),
            _ => "",
        }
    }
}

pub(super) async fn link_event(link: &mut Link) -> LinkEvent {
    match link {
        Link::Up(connected) => match connected.inbox.fill().await {
            Ok(true) => LinkEvent::Inbox,
            Ok(false) => LinkEvent::Closed("the inbox subscription closed".into()),
            Err(e) => LinkEvent::Closed(format!("the inbox subscription failed: {e}")),
        },
        Link::Connecting(connecting, ..) => LinkEvent::Connected(connecting.await),
        Link::Down { retry_at, .. } => {
            sleep_until(*retry_at).await;
            LinkEvent::Retry
        }
    }
}

/// Opens both connections, loads the scripts and subscribes to the node's inbox, each step
/// bounded by `timeout`.
async fn connect(
    client: redis::Client,
    timeout: Duration,
    node: Arc<str>,
    message_max: usize,
) -> RedisResult<Connected> {
    let config = AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(Some(timeout));
    let mut cmd = client.get_multiplexed_async_connection_with_config(&config).await?;
    let mut load = redis::pipe();
    for script in Script::ALL {
        load.cmd("SCRIPT").arg("LOAD").arg(script.source());
    }
    let shas: Vec<String> = load.query_async(&mut cmd).await?;
    let channel = format!("{}{}", scripts::INBOX_PREFIX, node);
    let inbox = Subscription::open(client.get_connection_info(), &channel, timeout, message_max).await?;
    Ok(Connected { cmd, inbox, shas, registered: false })
}

/// (rooms, seats) over every room key, on a connection of its own.
pub(in crate::engine::redis) async fn counts(client: &redis::Client) -> RedisResult<(usize, usize)> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    let (mut rooms, mut seats, mut cursor) = (0, 0, 0u64);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", scripts::ROOM_PREFIX))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.cmd("HLEN").arg(key);
            }
            let lens: Vec<usize> = pipe.query_async(&mut conn).await?;
            rooms += lens.iter().filter(|&&n| n > 0).count();
            seats += lens.iter().sum::<usize>();
        }
        if next == 0 {
            return Ok((rooms, seats));
        }
        cursor = next;
    }
}
