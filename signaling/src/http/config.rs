//! The HTTP front's own settings: request-head limits, the WebSocket path, the static files, and
//! the limits handed on to each WebSocket it upgrades.

use std::sync::Arc;
use std::time::Duration;

use super::metrics_access::MetricsAccess;
use super::static_files::WebRoot;
use crate::ws::handshake::OriginPolicy;
use crate::ws::WsConfig;

/// See [`HttpConfig::max_header_size`].
pub const DEFAULT_MAX_HEADER_SIZE: usize = 8 * 1024;
/// See [`HttpConfig::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// See [`HttpConfig::write_timeout`].
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of one connection before (and as) it upgrades.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The path WebSocket upgrades are served on; `None` accepts any path (the echo example).
    pub ws_path: Option<String>,
    pub web_root: Option<WebRoot>,
    pub allowed_origins: OriginPolicy,
    /// Who may read `GET /metrics`: loopback and these blocks (others get 403).
    pub metrics_allowed: MetricsAccess,
    /// Largest request head (→ 431). 8 KiB like nginx's default `large_client_header_buffers` line.
    pub max_header_size: usize,
    /// A request head must be complete within this time, or the client is dropped (→ 408):
    /// the defence against a slow header trickle holding a connection slot forever.
    pub handshake_timeout: Duration,
    /// A plain HTTP response must be taken by the client within this time, or the connection is
    /// closed: the reading side's counterpart of `handshake_timeout`. 10 s is ample for the
    /// largest static file over a slow link (the client is a few hundred KiB).
    pub write_timeout: Duration,
    pub ws: Arc<WsConfig>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            ws_path: Some("/ws".to_owned()),
            web_root: None,
            allowed_origins: OriginPolicy::SameHost,
            metrics_allowed: MetricsAccess::default(),
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            ws: Arc::new(WsConfig::default()),
        }
    }
}
