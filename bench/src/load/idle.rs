//! Memory: the server's resident set with N idle connections (WebSocket handshake done), and
//! again once they have all joined rooms in pairs, each minus the fresh server's baseline and
//! divided by N.

use std::time::Duration;

use futures_util::{StreamExt as _, TryStreamExt as _};

use super::conn::{self, Receiver, Sender};
use super::join::{check_pairs, Seated};
use super::{join, CONCURRENCY};
use crate::error::Result;
use crate::server::Target;

/// Accepting ten thousand connections on a pinned, busy core.
const ACCEPT_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryFigures {
    pub connections: usize,
    pub baseline: u64,
    pub connected: u64,
    pub joined: u64,
}

impl MemoryFigures {
    pub fn per_connected(&self) -> f64 {
        self.connected.saturating_sub(self.baseline) as f64 / self.connections.max(1) as f64
    }

    pub fn per_joined(&self) -> f64 {
        self.joined.saturating_sub(self.baseline) as f64 / self.connections.max(1) as f64
    }
}

pub async fn run(server: &Target, count: usize) -> Result<MemoryFigures> {
    let scenario = "idle memory";
    server.settle().await?;
    let baseline = server.rss()?;
    let fds = server.open_fds()?;
    let (addr, transport) = (server.addr, server.transport);
    let connections: Vec<(Sender, Receiver)> = futures_util::stream::iter(0..count)
        .map(|_| conn::connect(addr, transport))
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    server.wait_fds(fds + count, ACCEPT_LIMIT).await?;
    server.settle().await?;
    let connected = server.rss()?;
    let joined: Vec<(Seated, Sender, Receiver)> = futures_util::stream::iter(connections.into_iter().enumerate())
        .map(|(i, (mut tx, mut rx))| async move {
            let (id, peers, _) = join(&mut tx, &mut rx, &format!("idle-{}", i / 2), scenario).await?;
            Ok::<_, crate::error::BenchError>((Seated { room: i / 2, id, peers }, tx, rx))
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    server.settle().await?;
    let joined_rss = server.rss()?;
    let seated: Vec<Seated> = joined.into_iter().map(|(seat, _, _)| seat).collect();
    check_pairs(&seated, scenario)?;
    Ok(MemoryFigures { connections: count, baseline, connected, joined: joined_rss })
}
