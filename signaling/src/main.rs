//! The `signaling` binary: configuration, logging, bind, run until SIGINT/SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use tokio::net::TcpListener;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

use signaling::metrics::Metrics;
use signaling::rooms::Rooms;
use signaling::session::RoomService;
use signaling::Args;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let (config, rooms_config) = match args.to_config().and_then(|c| Ok((c, args.rooms_config()?))) {
        Ok(configs) => configs,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            error!("cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or_else(|_| args.listen.to_string(), |a| a.to_string());
    info!(addr = %local, web_root = ?args.web_root, "listening on {local}");
    let metrics = Arc::new(Metrics::default());
    let rooms = Arc::new(Rooms::new(rooms_config, metrics.clone()));
    let service = Arc::new(RoomService::new(rooms));
    signaling::run(listener, Arc::new(config), metrics, service, shutdown_signal()).await;
    info!("stopped");
    ExitCode::SUCCESS
}

/// Completes on SIGINT or SIGTERM (the latter is what `docker stop` and systemd send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    info!("shutdown signal received");
}
