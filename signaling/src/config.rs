//! Every limit and setting of the server, its default, and why that default.
//!
//! The command line (`clap`, each flag also read from `SIGNALING_<FLAG>`) is parsed into [`Args`]
//! and turned into the runtime [`ServerConfig`], which the rest of the crate reads.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::http::static_files::WebRoot;
use crate::ws::handshake::OriginPolicy;

/// Limits of one WebSocket session.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Largest data message accepted, after reassembly (→ close 1009). Signaling messages are a few
    /// KiB (an SDP offer is the biggest), so 1 MiB is generous and still bounds a hostile peer.
    pub max_message_size: usize,
    /// Bytes queued for a peer before we stop reading from it and stop taking its outbound
    /// messages. Memory per connection stays under this plus one message.
    pub max_outbound_bytes: usize,
    /// Quiet time after which the server pings, so NATs and proxies keep the path open and a dead
    /// peer is noticed. 15 s: well under the 60 s idle cut of common proxies (nginx's default).
    pub ping_interval: Duration,
    /// Nothing received (not even a pong) for this long → the connection is dead and reaped.
    /// 40 s: two missed pings plus slack for a slow network.
    pub idle_timeout: Duration,
    /// Output pending without progress for this long → the peer stopped reading; disconnect.
    pub send_timeout: Duration,
    /// How long the close handshake may take before the socket is dropped anyway.
    pub close_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message_size: 1 << 20,
            max_outbound_bytes: 256 * 1024,
            ping_interval: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(40),
            send_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(3),
        }
    }
}

/// Settings of the HTTP front and the accept loop.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The path WebSocket upgrades are served on; `None` accepts any path (the echo example).
    pub ws_path: Option<String>,
    pub web_root: Option<WebRoot>,
    pub allowed_origins: OriginPolicy,
    /// Open TCP connections at most; beyond it new ones get `503` and are closed at once.
    pub max_connections: usize,
    /// Largest request head (→ 431). 8 KiB like nginx's default `large_client_header_buffers` line.
    pub max_header_size: usize,
    /// A request head must be complete within this time, or the client is dropped (→ 408):
    /// the defence against a slow header trickle holding a connection slot forever.
    pub handshake_timeout: Duration,
    /// How long open connections get to say goodbye on shutdown before they are dropped.
    pub shutdown_grace: Duration,
    pub ws: Arc<WsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ws_path: Some("/ws".to_owned()),
            web_root: None,
            allowed_origins: OriginPolicy::Any,
            max_connections: 10_000,
            max_header_size: 8 * 1024,
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            ws: Arc::new(WsConfig::default()),
        }
    }
}

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
    /// Comma-separated origins allowed to open a WebSocket (e.g. https://call.example.org);
    /// default: any.
    #[arg(long, env = "SIGNALING_ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: String,
    /// Largest WebSocket message accepted, in bytes (larger: close 1009).
    #[arg(long, env = "SIGNALING_MAX_MESSAGE_SIZE", default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(125..))]
    pub max_message_size: u32,
    /// Most simultaneous TCP connections.
    #[arg(long, env = "SIGNALING_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Largest HTTP request head, in bytes (larger: 431).
    #[arg(long, env = "SIGNALING_MAX_HEADER_SIZE", default_value_t = 8192, value_parser = clap::value_parser!(u32).range(256..))]
    pub max_header_size: u32,
    /// Seconds a client has to send a complete request head.
    #[arg(long, env = "SIGNALING_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub handshake_timeout_secs: u64,
    /// Seconds of silence before the server pings a client.
    #[arg(long, env = "SIGNALING_PING_INTERVAL_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval_secs: u64,
    /// Seconds without hearing from a client before it is considered gone.
    #[arg(long, env = "SIGNALING_IDLE_TIMEOUT_SECS", default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
}

/// Why the arguments cannot make a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--web-root {path}: {source}")]
    WebRoot { path: PathBuf, source: std::io::Error },
    #[error("--idle-timeout-secs ({idle}) must be longer than --ping-interval-secs ({ping})")]
    IdleNotAfterPing { idle: u64, ping: u64 },
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
            // Room for at least one maximal message to leave in one piece.
            max_outbound_bytes: defaults.max_outbound_bytes.max(max_message_size + 14),
            ping_interval: Duration::from_secs(self.ping_interval_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            ..defaults
        };
        Ok(ServerConfig {
            web_root,
            allowed_origins: OriginPolicy::parse(&self.allowed_origins),
            max_connections: self.max_connections as usize,
            max_header_size: self.max_header_size as usize,
            handshake_timeout: Duration::from_secs(self.handshake_timeout_secs),
            ws: Arc::new(ws),
            ..ServerConfig::default()
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
        assert_eq!(config.ws.max_message_size, 1 << 20);
        assert_eq!(config.ws_path.as_deref(), Some("/ws"));
        assert_eq!(config.allowed_origins, OriginPolicy::Any);
        assert_eq!(config.handshake_timeout, Duration::from_secs(10));
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
        assert_eq!(config.ws.max_message_size, 65536);
        assert!(matches!(config.allowed_origins, OriginPolicy::List(ref l) if l.len() == 2));
        assert!(Args::try_parse_from(["signaling", "--max-connections", "0"]).is_err());
        assert!(Args::try_parse_from(["signaling", "--listen", "nonsense"]).is_err());
        let bad =
            Args::try_parse_from(["signaling", "--ping-interval-secs", "30", "--idle-timeout-secs", "30"]).unwrap();
        assert!(matches!(bad.to_config(), Err(ConfigError::IdleNotAfterPing { .. })));
    }
}
