//! `cargo xtask serve`: build the web client into `dist/` and the signaling server, then run the
//! server serving `dist/`.

use std::net::SocketAddr;
use std::process::Command;

use crate::cli::ServeArgs;
use crate::error::Error;
use crate::process;
use crate::step::Runner;
use crate::web;
use crate::workspace::Workspace;

pub fn run(ws: Workspace, args: &ServeArgs) -> Result<(), Error> {
    let mut runner = Runner::new();
    runner.step("web", || web::ensure_tools(&ws).and_then(|()| web::build(&ws)));
    runner.step("build", || process::run(&mut ws.command(&["cargo", "build", "--release", "-p", "signaling"])));
    runner.finish()?;

    let mut server = Command::new(ws.target_dir().join("release/signaling"));
    server.current_dir(ws.root()).args(["--listen", &args.listen]).arg("--web-root").arg(ws.join(web::DIST));
    println!("\nOpen {}", browse_url(&args.listen));
    exec(&mut server)
}

/// Replaces xtask with the server on Unix: Ctrl-C, the exit status and the terminal all belong to
/// the server, with no parent left to forward signals or linger.
#[cfg(unix)]
fn exec(server: &mut Command) -> Result<(), Error> {
    use std::os::unix::process::CommandExt;
    println!("$ {}", process::describe(server));
    let source = server.exec();
    Err(Error::Spawn { cmd: process::describe(server), source })
}

/// Elsewhere, wait on the child; the console delivers Ctrl-C to it as well.
#[cfg(not(unix))]
fn exec(server: &mut Command) -> Result<(), Error> {
    process::run(server)
}

/// The address to type into a browser: a wildcard listen address is reached via localhost.
fn browse_url(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => format!("http://localhost:{}/", addr.port()),
        _ => format!("http://{listen}/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_keeps_concrete_addresses() {
        assert_eq!(browse_url("127.0.0.1:8080"), "http://127.0.0.1:8080/");
        assert_eq!(browse_url("[::1]:80"), "http://[::1]:80/");
        assert_eq!(browse_url("example.org:443"), "http://example.org:443/");
    }

    #[test]
    fn url_maps_wildcards_to_localhost() {
        assert_eq!(browse_url("0.0.0.0:9000"), "http://localhost:9000/");
        assert_eq!(browse_url("[::]:9000"), "http://localhost:9000/");
    }
}
