//! An echo server on Connect's WebSocket layer, for conformance testing with Autobahn|Testsuite:
//! `cargo run --release -p signaling --example echo -- 127.0.0.1:9001`.
//!
//! Upgrades on any path, and raises the message limit to 64 MiB: Autobahn's 9.* cases send
//! messages of up to 16 MiB.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use signaling::metrics::Metrics;
use signaling::ws::handshake::OriginPolicy;
use signaling::{HttpConfig, ServerConfig, WsConfig};

const MAX_MESSAGE: usize = 64 << 20;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new("warn")).init();
    let arg = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let addr: SocketAddr = match arg.parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("usage: echo [ADDR]  (bad address {arg:?}: {e})");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo: cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let ws = WsConfig {
        max_message_size: MAX_MESSAGE,
        max_outbound_bytes: MAX_MESSAGE + 64,
        // Room for a few maximal messages assembled at once (Autobahn runs cases one at a time).
        inbound_total_bytes: 4 * MAX_MESSAGE,
        ..WsConfig::default()
    };
    let config = ServerConfig {
        // A conformance client, not a browser page: any Origin it sends is fine.
        http: HttpConfig {
            ws_path: None,
            allowed_origins: OriginPolicy::Any,
            ws: Arc::new(ws),
            ..HttpConfig::default()
        },
        ..ServerConfig::default()
    };
    println!("echo: listening on {}", listener.local_addr().unwrap_or(addr));
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    signaling::run(listener, Arc::new(config), Arc::new(Metrics::default()), Arc::new(signaling::echo::Echo), shutdown)
        .await;
    std::process::ExitCode::SUCCESS
}
