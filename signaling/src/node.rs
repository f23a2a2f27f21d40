//! One server node: the room engine its settings ask for, started, then served on a listener
//! until shutdown. What `main` and the tests both assemble, written once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::engine::config::RoomsConfig;
use crate::engine::memory::registry::Rooms;
use crate::engine::redis::config::RedisConfig;
use crate::engine::redis::{RedisEngine, StartError};
use crate::engine::RoomEngine;
use crate::metrics::Metrics;
use crate::server::{run, ServerConfig};
use crate::session::RoomService;

/// The room engine of a node.
#[derive(Clone)]
pub enum Engine {
    /// The default: rooms in this process.
    Memory(Arc<Rooms>),
    /// `--redis-url`: rooms shared by every node using the same Redis.
    Redis(Arc<RedisEngine>),
}

impl Engine {
    /// The Redis engine when `redis` is given (it connects in the background), else the rooms
    /// in memory.
    pub fn start(rooms: RoomsConfig, redis: Option<RedisConfig>, metrics: &Arc<Metrics>) -> Result<Engine, StartError> {
        Ok(match redis {
            None => Engine::Memory(Arc::new(Rooms::new(rooms, metrics))),
            Some(redis) => Engine::Redis(RedisEngine::start(rooms, redis, metrics)?),
        })
    }

    /// Whether the engine takes joins now.
    pub fn healthy(&self) -> bool {
        match self {
            Engine::Memory(rooms) => rooms.healthy(),
            Engine::Redis(engine) => engine.healthy(),
        }
    }

    /// Waits up to `within` until the engine takes joins (the Redis engine registers the node
    /// first); whether it does.
    pub async fn registered(&self, within: Duration) -> bool {
        match self {
            Engine::Memory(_) => true,
            Engine::Redis(engine) => engine.registered(within).await,
        }
    }

    /// (rooms, seats) as the engine's state holds them, away seats included.
    pub async fn counts(&self) -> (usize, usize) {
        match self {
            Engine::Memory(rooms) => RoomEngine::counts(&**rooms).await,
            Engine::Redis(engine) => engine.counts().await,
        }
    }

    /// Lets the engine finish what the ended sessions asked for (bounded in time).
    pub async fn close(&self) {
        match self {
            Engine::Memory(rooms) => rooms.close().await,
            Engine::Redis(engine) => engine.close().await,
        }
    }

    /// Serves the rooms on `listener` until `shutdown`, then closes the engine.
    pub async fn serve(
        &self,
        listener: TcpListener,
        config: Arc<ServerConfig>,
        metrics: Arc<Metrics>,
        shutdown: impl Future<Output = ()>,
    ) {
        match self {
            Engine::Memory(rooms) => {
                let service = Arc::new(RoomService::new(rooms.clone(), &metrics));
                run(listener, config, metrics, service, shutdown).await;
            }
            Engine::Redis(engine) => {
                let service = Arc::new(RoomService::new(engine.clone(), &metrics));
                run(listener, config, metrics, service, shutdown).await;
            }
        }
        self.close().await;
    }
}
