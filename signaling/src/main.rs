//! The `signaling` binary: configuration, logging, bind, run until SIGINT/SIGTERM.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use tokio::net::TcpListener;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

use signaling::metrics::Metrics;
use signaling::node::Engine;
use signaling::Args;

/// Log lines waiting for the logging thread; past it, lines are dropped rather than the server
/// waiting on its log (a flood of warnings must not slow the relay).
const LOG_QUEUE_LINES: usize = 64 * 1024;
/// What the logging thread gathers before a `write`, when lines come faster than it writes.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    // Lines go to stderr from a thread of their own (tracing-appender), so a join or leave on a
    // runtime thread formats its line but never makes a `write` to stderr, and lines that come
    // together leave together. The guard flushes what is queued when `main` returns.
    let (log_writer, _log_flush) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(true)
        .thread_name("signaling-log")
        // Buffered: the thread writes every line it finds queued, then flushes once.
        .finish(std::io::BufWriter::with_capacity(LOG_BUFFER_BYTES, std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(log_writer)
        // Colour codes only for a person at a terminal: in a log file or a container's log they
        // are noise, and formatting them was 15% of the server's instructions in a join burst.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    if args.health_check {
        return match signaling::health::probe(args.listen) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("health check of {} failed: {e}", args.listen);
                ExitCode::FAILURE
            }
        };
    }
    let configs = args.to_config().and_then(|c| Ok((c, args.rooms_config()?, args.redis_config()?)));
    let (mut config, rooms_config, redis_config) = match configs {
        Ok(configs) => configs,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    let shutdown = match shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(e) => {
            error!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    fit_open_files(&mut config);
    let wait = redis_config.as_ref().map(|redis| redis.response_timeout);
    let metrics = Arc::new(Metrics::default());
    let engine = match Engine::start(rooms_config, redis_config, &metrics) {
        Ok(engine) => engine,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::pin!(shutdown);
    // The Redis engine is registered in Redis before the port opens, so a join that comes the
    // moment it accepts is served rather than refused with `unavailable`. With Redis down at
    // start-up the server listens anyway after as long as one Redis answer may take: unhealthy
    // (`/healthz` 503) and refusing joins until the engine gets through, as in any outage.
    if let Some(wait) = wait {
        let registered = tokio::select! {
            () = &mut shutdown => {
                engine.close().await;
                return ExitCode::SUCCESS;
            }
            registered = engine.registered(wait) => registered,
        };
        if !registered {
            warn!("Redis is not reachable yet; listening anyway, unhealthy until it is");
        }
    }
    let Some(listener) = listen(&args).await else {
        engine.close().await;
        return ExitCode::FAILURE;
    };
    engine.serve(listener, Arc::new(config), metrics, shutdown).await;
    info!("stopped");
    ExitCode::SUCCESS
}

/// Raises the soft open-files limit to the hard one and keeps the connection cap under it, so
/// the server refuses with `503` at the cap instead of stalling when descriptors run out.
fn fit_open_files(config: &mut signaling::ServerConfig) {
    let reserve = signaling::server::HEALTH_RESERVE as u64;
    let plan = signaling::fd_limit::raise(reserve);
    if let Some(to) = plan.raise_to {
        info!(open_files = to, "raised the open-files limit");
    }
    if let Some(max) = plan.max_connections.and_then(|max| usize::try_from(max).ok()) {
        if config.max_connections > max {
            warn!(
                max_connections = max,
                asked = config.max_connections,
                "--max-connections lowered to fit the open-files limit (raise `ulimit -n` for more)"
            );
            config.max_connections = max;
        }
    }
}

/// Binds the listen address and says so: `listening on ADDR` is the line scripts and tests wait
/// for, so it comes only once the server is ready to serve.
async fn listen(args: &Args) -> Option<TcpListener> {
    match TcpListener::bind(args.listen).await {
        Ok(listener) => {
            let local = listener.local_addr().map_or_else(|_| args.listen.to_string(), |a| a.to_string());
            info!(addr = %local, web_root = ?args.web_root, "listening on {local}");
            Some(listener)
        }
        Err(e) => {
            error!("cannot listen on {}: {e}", args.listen);
            None
        }
    }
}

/// Registers for SIGINT and SIGTERM (the latter is what `docker stop` and systemd send) and
/// returns a future that completes on either. Registering happens here, before the listener is
/// bound, so a signal that arrives right after start-up is still a graceful shutdown.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        info!("shutdown signal received");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        info!("shutdown signal received");
    })
}
