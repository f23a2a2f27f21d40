//! The command line: every flag (`clap`, each also read from `SIGNALING_<FLAG>`) parsed into
//! [`Args`] and assembled into each layer's own settings — [`ServerConfig`] (with the HTTP front's
//! and the WebSocket layer's), [`RoomsConfig`], [`RedisConfig`].
//!
//! Each layer defines its settings, their defaults and why; a flag's default here is that
//! layer's default constant, so every default is written once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::address::proxies::CidrError;
use crate::address::{
    AddressConfig, Limits, TrustedProxies, DEFAULT_CONNECTIONS_PER_ADDRESS, DEFAULT_JOINS_PER_SEC, DEFAULT_JOIN_BURST,
    DEFAULT_NEW_ROOMS_PER_MIN, DEFAULT_NEW_ROOM_BURST, DEFAULT_ROOMS_PER_ADDRESS,
};
use crate::engine::config::{RoomsConfig, DEFAULT_OUTBOUND_BYTES, DEFAULT_OUTBOUND_TOTAL_BYTES, DEFAULT_RESUME_GRACE};
use crate::engine::redis::config::{RedisConfig, DEFAULT_NODE_TTL};
use crate::http::config::{HttpConfig, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HEADER_SIZE};
use crate::http::metrics_access::MetricsAccess;
use crate::http::static_files::WebRoot;
use crate::ice::{IceConfig, DEFAULT_TURN_TTL};
use crate::rate::{RateConfig, DEFAULT_BURST, DEFAULT_PER_SEC};
use crate::server::{ServerConfig, DEFAULT_MAX_CONNECTIONS};
use crate::ws::config::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_INBOUND_TOTAL_BYTES, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PING_INTERVAL,
};
use crate::ws::handshake::OriginPolicy;
use crate::ws::WsConfig;

/// The `signaling` command line.
#[derive(Debug, Parser)]
#[command(name = "signaling", version, about = "Connect's signaling server: WebSocket rooms for 1:1 WebRTC calls")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "SIGNALING_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve the static files of this directory (the built web client) on the same port.
    #[arg(long, env = "SIGNALING_WEB_ROOT")]
    pub web_root: Option<PathBuf>,
    /// Comma-separated origins allowed to open a WebSocket (e.g. https://call.example.org), or
    /// `*` for any; default: a page on the host the request names (`Origin` matches `Host`), and
    /// clients that send no `Origin`.
    #[arg(long, env = "SIGNALING_ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: String,
    /// Largest WebSocket message accepted, in bytes (larger: close 1009). The rooms service reads
    /// nothing over --max-signal-size + 4096 whatever this says.
    #[arg(long, env = "SIGNALING_MAX_MESSAGE_SIZE", default_value_t = DEFAULT_MAX_MESSAGE_SIZE as u32, value_parser = clap::value_parser!(u32).range(125..))]
    pub max_message_size: u32,
    /// Bytes all connections' unfinished incoming messages may hold together (beyond 4 KiB
    /// each); a message that would need more closes its connection with 1013.
    #[arg(long, env = "SIGNALING_INBOUND_TOTAL_BYTES", default_value_t = DEFAULT_INBOUND_TOTAL_BYTES as u64)]
    pub inbound_total_bytes: u64,
    /// Most simultaneous TCP connections.
    #[arg(long, env = "SIGNALING_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Largest HTTP request head, in bytes (larger: 431).
    #[arg(long, env = "SIGNALING_MAX_HEADER_SIZE", default_value_t = DEFAULT_MAX_HEADER_SIZE as u32, value_parser = clap::value_parser!(u32).range(256..))]
    pub max_header_size: u32,
    /// Seconds a client has to send a complete request head.
    #[arg(long, env = "SIGNALING_HANDSHAKE_TIMEOUT_SECS", default_value_t = DEFAULT_HANDSHAKE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub handshake_timeout_secs: u64,
    /// Seconds of silence before the server pings a client.
    #[arg(long, env = "SIGNALING_PING_INTERVAL_SECS", default_value_t = DEFAULT_PING_INTERVAL.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval_secs: u64,
    /// Seconds without hearing from a client before it is considered gone.
    #[arg(long, env = "SIGNALING_IDLE_TIMEOUT_SECS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Peers per room.
    #[arg(long, env = "SIGNALING_MAX_ROOM_SIZE", default_value_t = shared::DEFAULT_ROOM_CAPACITY, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_room_size: u32,
    /// Seconds a dropped connection keeps its seat for a resume (0: free it at once).
    #[arg(long, env = "SIGNALING_RESUME_GRACE_SECS", default_value_t = DEFAULT_RESUME_GRACE.as_secs())]
    pub resume_grace_secs: u64,
    /// Largest signaling message, in bytes; larger ones get the error `message_too_large`.
    #[arg(long, env = "SIGNALING_MAX_SIGNAL_SIZE", default_value_t = shared::DEFAULT_MAX_MESSAGE_BYTES as u32, value_parser = clap::value_parser!(u32).range(64..))]
    pub max_signal_size: u32,
    /// Sustained messages per second per connection; more get `rate_limited`.
    #[arg(long, env = "SIGNALING_RATE_LIMIT_PER_SEC", default_value_t = DEFAULT_PER_SEC, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_per_sec: u32,
    /// Messages a connection may send in a burst.
    #[arg(long, env = "SIGNALING_RATE_LIMIT_BURST", default_value_t = DEFAULT_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,
    /// Comma-separated STUN URLs for `joined.ice_servers` (e.g. stun:turn.example.org:3478).
    #[arg(long, env = "SIGNALING_STUN_URLS", default_value = "")]
    pub stun_urls: String,
    /// Comma-separated TURN URLs (e.g. turn:turn.example.org:3478?transport=udp); needs --turn-secret.
    #[arg(long, env = "SIGNALING_TURN_URLS", default_value = "")]
    pub turn_urls: String,
    /// The secret shared with the TURN server (coturn's static-auth-secret).
    #[arg(long, env = "SIGNALING_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// Probe `GET /healthz` on the --listen address and exit 0 if it answers 200, 1 otherwise:
    /// the container health check (the runtime image has no shell or curl). An action, not
    /// configuration, so it has no environment variable.
    #[arg(long)]
    pub health_check: bool,
    /// Seconds TURN credentials stay valid for opening new allocations (the page asks for fresh
    /// ones before they expire; coturn keeps existing allocations alive past the expiry).
    #[arg(long, env = "SIGNALING_TURN_TTL_SECS", default_value_t = DEFAULT_TURN_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(60..))]
    pub turn_ttl_secs: u64,
    /// Share rooms through this Redis (redis://host:port, or redis://:password@host:port/db) with
    /// every server using it, so peers on different servers behind one load balancer meet.
    /// Default: rooms in memory.
    #[arg(long, env = "SIGNALING_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Seconds after which a server that stopped refreshing its Redis liveness key is dead; its
    /// peers get the resume grace, then `peer_left`.
    #[arg(long, env = "SIGNALING_REDIS_NODE_TTL_SECS", default_value_t = DEFAULT_NODE_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(2..=300))]
    pub redis_node_ttl_secs: u64,
    /// Comma-separated CIDR blocks of reverse proxies (e.g. 127.0.0.1,10.0.0.0/8) whose
    /// X-Forwarded-For / X-Real-IP name the client for the per-address limits. Default: none
    /// (every client is its TCP peer).
    #[arg(long, env = "SIGNALING_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Comma-separated CIDR blocks whose peers may read GET /metrics besides loopback (e.g. the
    /// scraper's network); others get 403, whatever proxy forwarded them. Default: loopback only.
    #[arg(long, env = "SIGNALING_METRICS_ALLOWED", default_value = "")]
    pub metrics_allowed: String,
    /// Open connections per client address; more get 429.
    #[arg(long, env = "SIGNALING_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = DEFAULT_CONNECTIONS_PER_ADDRESS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: u32,
    /// Sustained joins per second per client address; more get `rate_limited`.
    #[arg(long, env = "SIGNALING_JOINS_PER_SEC_PER_ADDRESS", default_value_t = DEFAULT_JOINS_PER_SEC, value_parser = clap::value_parser!(u32).range(1..))]
    pub joins_per_sec_per_address: u32,
    /// Joins one client address may make in a burst.
    #[arg(long, env = "SIGNALING_JOIN_BURST_PER_ADDRESS", default_value_t = DEFAULT_JOIN_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub join_burst_per_address: u32,
    /// Sustained rooms per minute one client address may open (join while empty); past the burst,
    /// joins get `rate_limited`. What makes scanning for short room names slow.
    #[arg(long, env = "SIGNALING_NEW_ROOMS_PER_MIN_PER_ADDRESS", default_value_t = DEFAULT_NEW_ROOMS_PER_MIN, value_parser = clap::value_parser!(u32).range(1..))]
    pub new_rooms_per_min_per_address: u32,
    /// Rooms one client address may open in a burst.
    #[arg(long, env = "SIGNALING_NEW_ROOM_BURST_PER_ADDRESS", default_value_t = DEFAULT_NEW_ROOM_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub new_room_burst_per_address: u32,
    /// Seats the connections of one client address may hold at once; more joins get `rate_limited`.
    #[arg(long, env = "SIGNALING_MAX_ROOMS_PER_ADDRESS", default_value_t = DEFAULT_ROOMS_PER_ADDRESS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rooms_per_address: u32,
    /// Bytes of messages from others one connection may hold unwritten (queued or in its write
    /// buffer); a reader that lets more pile up is disconnected.
    #[arg(long, env = "SIGNALING_OUTBOUND_QUEUE_BYTES", default_value_t = DEFAULT_OUTBOUND_BYTES as u64)]
    pub outbound_queue_bytes: u64,
    /// Bytes of such messages all connections may hold together; beyond it messages are dropped.
    #[arg(long, env = "SIGNALING_OUTBOUND_TOTAL_BYTES", default_value_t = DEFAULT_OUTBOUND_TOTAL_BYTES as u64)]
    pub outbound_total_bytes: u64,
}

/// Why the arguments cannot make a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--web-root {path}: {source}")]
    WebRoot { path: PathBuf, source: std::io::Error },
    #[error("--idle-timeout-secs ({idle}) must be longer than --ping-interval-secs ({ping})")]
    IdleNotAfterPing { idle: u64, ping: u64 },
    #[error("--turn-urls needs --turn-secret: browsers refuse TURN servers without credentials")]
    TurnWithoutSecret,
    #[error("--max-signal-size ({signal}) must not exceed --max-message-size ({message})")]
    SignalOverMessage { signal: u32, message: u32 },
    #[error("--redis-url: {0}")]
    RedisUrl(String),
    #[error("--outbound-queue-bytes ({queue}) must hold a largest signal: at least --max-signal-size + 1024 ({need}), and at most --outbound-total-bytes")]
    OutboundTooSmall { queue: u64, need: u64 },
    #[error("--trusted-proxies: {0}")]
    TrustedProxies(#[from] CidrError),
    #[error("--metrics-allowed: {0}")]
    MetricsAllowed(CidrError),
}

/// Splits a comma-separated list, dropping blanks.
fn list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

impl Args {
    pub fn to_config(&self) -> Result<ServerConfig, ConfigError> {
        if self.idle_timeout_secs <= self.ping_interval_secs {
            return Err(ConfigError::IdleNotAfterPing { idle: self.idle_timeout_secs, ping: self.ping_interval_secs });
        }
        let web_root = match &self.web_root {
            Some(path) => {
                Some(WebRoot::new(path).map_err(|source| ConfigError::WebRoot { path: path.clone(), source })?)
            }
            None => None,
        };
        let defaults = WsConfig::default();
        let max_message_size = self.max_message_size as usize;
        let ws = WsConfig {
            max_message_size,
            inbound_total_bytes: usize::try_from(self.inbound_total_bytes).unwrap_or(usize::MAX),
            // Room for at least one maximal message to leave in one piece.
            max_outbound_bytes: defaults.max_outbound_bytes.max(max_message_size + 14),
            ping_interval: Duration::from_secs(self.ping_interval_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            ..defaults
        };
        let http = HttpConfig {
            web_root,
            allowed_origins: OriginPolicy::parse(&self.allowed_origins),
            metrics_allowed: MetricsAccess::parse(&self.metrics_allowed).map_err(ConfigError::MetricsAllowed)?,
            max_header_size: self.max_header_size as usize,
            handshake_timeout: Duration::from_secs(self.handshake_timeout_secs),
            ws: Arc::new(ws),
            ..HttpConfig::default()
        };
        let defaults = AddressConfig::default();
        let addresses = AddressConfig {
            limits: Limits {
                connections: self.max_connections_per_address,
                joins_per_sec: f64::from(self.joins_per_sec_per_address),
                join_burst: f64::from(self.join_burst_per_address),
                rooms: self.max_rooms_per_address,
                new_rooms_per_sec: f64::from(self.new_rooms_per_min_per_address) / 60.0,
                new_room_burst: f64::from(self.new_room_burst_per_address),
                ..defaults.limits
            },
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies)?,
        };
        Ok(ServerConfig { max_connections: self.max_connections as usize, http, addresses, ..ServerConfig::default() })
    }

    /// The Redis engine's settings, or `None` for rooms in memory (no URL, or an empty one).
    pub fn redis_config(&self) -> Result<Option<RedisConfig>, ConfigError> {
        let Some(url) = self.redis_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        // Parsed now so a typo stops the server at start-up instead of making it unhealthy forever.
        // The parser's message never repeats the URL (it may hold a password).
        redis::Client::open(url).map_err(|e| ConfigError::RedisUrl(e.to_string()))?;
        let node_ttl = Duration::from_secs(self.redis_node_ttl_secs);
        Ok(Some(RedisConfig { node_ttl, ..RedisConfig::new(url) }))
    }

    pub fn rooms_config(&self) -> Result<RoomsConfig, ConfigError> {
        let turn_urls = list(&self.turn_urls);
        let turn_secret = self.turn_secret.clone().filter(|s| !s.is_empty());
        if !turn_urls.is_empty() && turn_secret.is_none() {
            return Err(ConfigError::TurnWithoutSecret);
        }
        if self.max_signal_size > self.max_message_size {
            return Err(ConfigError::SignalOverMessage {
                signal: self.max_signal_size,
                message: self.max_message_size,
            });
        }
        let need = u64::from(self.max_signal_size) + 1024;
        if self.outbound_queue_bytes < need || self.outbound_queue_bytes > self.outbound_total_bytes {
            return Err(ConfigError::OutboundTooSmall { queue: self.outbound_queue_bytes, need });
        }
        let defaults = RoomsConfig::default();
        Ok(RoomsConfig {
            outbound_bytes: usize::try_from(self.outbound_queue_bytes).unwrap_or(usize::MAX),
            outbound_total_bytes: usize::try_from(self.outbound_total_bytes).unwrap_or(usize::MAX),
            capacity: self.max_room_size as usize,
            resume_grace: Duration::from_secs(self.resume_grace_secs),
            max_signal_size: self.max_signal_size as usize,
            rate: RateConfig {
                per_sec: f64::from(self.rate_limit_per_sec),
                burst: f64::from(self.rate_limit_burst),
                ..defaults.rate
            },
            ice: Arc::new(IceConfig {
                stun_urls: list(&self.stun_urls),
                turn_urls,
                turn_secret,
                turn_ttl: Duration::from_secs(self.turn_ttl_secs),
            }),
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let args = Args::try_parse_from(["signaling"]).unwrap();
        assert_eq!(args.listen, "127.0.0.1:8080".parse().unwrap());
        let config = args.to_config().unwrap();
        assert_eq!(config.http.ws.max_message_size, 1 << 20);
        assert_eq!(config.http.ws_path.as_deref(), Some("/ws"));
        assert_eq!(config.http.allowed_origins, OriginPolicy::SameHost);
        assert_eq!(config.http.handshake_timeout, Duration::from_secs(10));
        assert_eq!(config.addresses, AddressConfig::default());
        assert_eq!(config.http.ws.inbound_total_bytes, 64 << 20);
    }

    #[test]
    fn per_address_flags() {
        let args = Args::try_parse_from([
            "signaling",
            "--trusted-proxies",
            "127.0.0.1, 10.0.0.0/8",
            "--max-connections-per-address",
            "3",
            "--joins-per-sec-per-address",
            "2",
            "--join-burst-per-address",
            "4",
            "--max-rooms-per-address",
            "1",
        ])
        .unwrap();
        let config = args.to_config().unwrap();
        let limits = config.addresses.limits;
        assert_eq!((limits.connections, limits.joins_per_sec, limits.join_burst, limits.rooms), (3, 2.0, 4.0, 1));
        assert!(config.addresses.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        let metrics = Args::try_parse_from(["signaling", "--metrics-allowed", "10.1.0.0/16"]).unwrap();
        assert_eq!(metrics.to_config().unwrap().http.metrics_allowed, MetricsAccess::parse("10.1.0.0/16").unwrap());
        let bad = Args::try_parse_from(["signaling", "--metrics-allowed", "nonsense"]).unwrap();
        assert!(matches!(bad.to_config(), Err(ConfigError::MetricsAllowed(_))));
        let bad = Args::try_parse_from(["signaling", "--trusted-proxies", "10.0.0.0/99"]).unwrap();
        assert!(matches!(bad.to_config(), Err(ConfigError::TrustedProxies(_))));
        assert!(Args::try_parse_from(["signaling", "--max-rooms-per-address", "0"]).is_err());
    }

    #[test]
    fn flags_parse_and_bad_values_are_refused() {
        let args = Args::try_parse_from([
            "signaling",
            "--listen",
            "0.0.0.0:9000",
            "--allowed-origins",
            "https://a.example,https://b.example",
            "--max-message-size",
            "65536",
            "--max-connections",
            "5",
        ])
        .unwrap();
        let config = args.to_config().unwrap();
        assert_eq!(config.max_connections, 5);
        assert_eq!(config.http.ws.max_message_size, 65536);
        assert!(matches!(config.http.allowed_origins, OriginPolicy::List(ref l) if l.len() == 2));
        assert!(Args::try_parse_from(["signaling", "--max-connections", "0"]).is_err());
        assert!(Args::try_parse_from(["signaling", "--listen", "nonsense"]).is_err());
        let bad =
            Args::try_parse_from(["signaling", "--ping-interval-secs", "30", "--idle-timeout-secs", "30"]).unwrap();
        assert!(matches!(bad.to_config(), Err(ConfigError::IdleNotAfterPing { .. })));
    }

    #[test]
    fn room_flags() {
        let rooms = Args::try_parse_from(["signaling"]).unwrap().rooms_config().unwrap();
        assert_eq!(rooms.capacity, 2);
        assert_eq!(rooms.resume_grace, Duration::from_secs(15));
        assert_eq!(rooms.ice.turn_ttl, Duration::from_secs(900));
        assert!(rooms.ice.stun_urls.is_empty());
        let args = Args::try_parse_from([
            "signaling",
            "--max-room-size",
            "3",
            "--resume-grace-secs",
            "0",
            "--stun-urls",
            "stun:a:3478, stun:b:3478",
            "--turn-urls",
            "turn:a:3478",
            "--turn-secret",
            "s",
        ])
        .unwrap();
        let rooms = args.rooms_config().unwrap();
        assert_eq!(rooms.capacity, 3);
        assert!(rooms.resume_grace.is_zero());
        assert_eq!(rooms.ice.stun_urls, ["stun:a:3478", "stun:b:3478"]);
        let no_secret = Args::try_parse_from(["signaling", "--turn-urls", "turn:a:3478"]).unwrap();
        assert!(matches!(no_secret.rooms_config(), Err(ConfigError::TurnWithoutSecret)));
        assert_eq!((rooms.outbound_bytes, rooms.outbound_total_bytes), (256 * 1024, 64 << 20));
        let small = Args::try_parse_from(["signaling", "--outbound-queue-bytes", "65536"]).unwrap();
        assert!(matches!(small.rooms_config(), Err(ConfigError::OutboundTooSmall { .. })));
        let set = Args::try_parse_from([
            "signaling",
            "--outbound-queue-bytes",
            "100000",
            "--outbound-total-bytes",
            "1000000",
        ]);
        let set = set.unwrap().rooms_config().unwrap();
        assert_eq!((set.outbound_bytes, set.outbound_total_bytes), (100_000, 1_000_000));
        let too_big = Args::try_parse_from(["signaling", "--max-message-size", "1000", "--max-signal-size", "2000"]);
        assert!(matches!(too_big.unwrap().rooms_config(), Err(ConfigError::SignalOverMessage { .. })));
    }

    #[test]
    fn redis_flags() {
        assert!(Args::try_parse_from(["signaling"]).unwrap().redis_config().unwrap().is_none());
        assert!(Args::try_parse_from(["signaling", "--redis-url", " "]).unwrap().redis_config().unwrap().is_none());
        let args = Args::try_parse_from([
            "signaling",
            "--redis-url",
            "redis://:hunter2@10.0.0.5:6380/1",
            "--redis-node-ttl-secs",
            "4",
        ])
        .unwrap();
        let redis = args.redis_config().unwrap().unwrap();
        assert_eq!(redis.url, "redis://:hunter2@10.0.0.5:6380/1");
        assert_eq!(redis.node_ttl, Duration::from_secs(4));
        assert!(!format!("{redis:?}").contains("hunter2"));
        let bad = Args::try_parse_from(["signaling", "--redis-url", "http://:hunter2@example.org"]).unwrap();
        match bad.redis_config() {
            Err(e @ ConfigError::RedisUrl(_)) => assert!(!e.to_string().contains("hunter2"), "{e}"),
            other => panic!("expected a URL error, got {other:?}"),
        }
        assert!(Args::try_parse_from(["signaling", "--redis-node-ttl-secs", "1"]).is_err());
    }
}
