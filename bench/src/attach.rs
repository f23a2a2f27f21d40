//! `bench load`: one scenario against a server started by hand, for profiling it, e.g.
//! `valgrind --tool=callgrind target/release/signaling --listen 127.0.0.1:9000 …` and then
//! `bench load 127.0.0.1:9000 PID relay-256-closed`. Quick sizes unless `--full`. Through Redis,
//! `--redis-pid=PID` reports the redis-server's CPU apart, and `--second-node=ADDR,PID` puts the
//! second peer of each relay room on a second node (whose CPU counts as the server's).

use std::net::SocketAddr;

use crate::error::{BenchError, Result};
use crate::load::conn::Transport;
use crate::load::echo;
use crate::orchestrate::{self, Scenario, SCENARIOS};
use crate::plan::{Mode, Sizes, ECHO_LARGE, ECHO_SMALL};
use crate::results::Results;
use crate::server::{Node, Server, Target};

pub const USAGE: &str = "usage: bench load ADDR PID SCENARIO [--tcp | --frames] [--full] [--redis-pid=PID] [--second-node=ADDR,PID]   (SCENARIO: relay-256-closed, relay-4k-closed, relay-256-paced, relay-4k-paced, join-sequential, join-burst, idle, echo-64, echo-32768)";

/// A room scenario, or echo with messages of this many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    Rooms(Scenario),
    Echo(usize),
}

impl Load {
    fn from_slug(slug: &str) -> Option<Load> {
        match slug {
            "echo-64" => Some(Load::Echo(ECHO_SMALL)),
            "echo-32768" => Some(Load::Echo(ECHO_LARGE)),
            _ => Scenario::from_slug(slug).map(Load::Rooms),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadArgs {
    pub target: Target,
    pub load: Load,
    pub mode: Mode,
}

impl LoadArgs {
    pub fn parse(args: &[String]) -> Result<LoadArgs> {
        let usage = |why: String| BenchError::Usage(format!("{why}; {USAGE}"));
        let (flags, positional): (Vec<&String>, Vec<&String>) = args.iter().partition(|a| a.starts_with("--"));
        let [addr, pid, scenario] = positional.as_slice() else {
            return Err(usage(format!("expected ADDR PID SCENARIO, got {positional:?}")));
        };
        let addr: SocketAddr = addr.parse().map_err(|e| usage(format!("bad address {addr:?}: {e}")))?;
        let pid: u32 = pid.parse().map_err(|e| usage(format!("bad pid {pid:?}: {e}")))?;
        let load = Load::from_slug(scenario).ok_or_else(|| {
            let known: Vec<&str> = SCENARIOS.iter().map(|s| s.slug()).chain(["echo-64", "echo-32768"]).collect();
            usage(format!("unknown scenario {scenario:?} (one of {})", known.join(", ")))
        })?;
        let mut target = Target::new("the server", addr, Transport::WebSocket, pid);
        let mut mode = Mode::Quick;
        for flag in flags {
            let (name, value) = flag.split_once('=').map_or((flag.as_str(), None), |(n, v)| (n, Some(v)));
            match (name, value) {
                ("--tcp", None) => target.transport = Transport::Tcp,
                ("--frames", None) => target.transport = Transport::Frames,
                ("--full", None) => mode = Mode::Full,
                ("--redis-pid", Some(pid)) => {
                    target.store_pid = Some(pid.parse().map_err(|e| usage(format!("bad --redis-pid {pid:?}: {e}")))?);
                }
                ("--second-node", Some(node)) => {
                    target.second = Some(parse_node(node).ok_or_else(|| usage(format!("bad --second-node {node:?}")))?);
                }
                _ => return Err(usage(format!("unknown option {flag}"))),
            }
        }
        Ok(LoadArgs { target, load, mode })
    }
}

/// `ADDR,PID`.
fn parse_node(text: &str) -> Option<Node> {
    let (addr, pid) = text.split_once(',')?;
    Some(Node { addr: addr.parse().ok()?, pid: pid.parse().ok()? })
}

pub async fn run(args: &LoadArgs) -> Result<()> {
    let sizes = Sizes::for_mode(args.mode);
    crate::run::raise_fd_limit(sizes.max_connections())?;
    match args.load {
        Load::Rooms(scenario) => {
            let mut results = Results::default();
            let line = orchestrate::run_scenario(scenario, &args.target, Server::Ours, &sizes, &mut results).await?;
            println!("{} {}: {line}", scenario.slug(), args.target.addr);
        }
        Load::Echo(size) => {
            let figures = echo::run(&args.target, &sizes.echo(size)).await?;
            let cpu = figures.cpu_us_per_message();
            println!("echo-{size} {}: {cpu:.2} µs/msg CPU ({} echoed)", args.target.addr, figures.echoed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<LoadArgs> {
        LoadArgs::parse(&line.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn address_pid_and_scenario() {
        let args = parse("127.0.0.1:9000 42 relay-256-closed --tcp").unwrap();
        assert_eq!(args.target.pid, 42);
        assert_eq!(args.target.transport, Transport::Tcp);
        assert_eq!(args.load, Load::Rooms(Scenario::ClosedSmall));
        assert_eq!(args.mode, Mode::Quick);
        assert_eq!(parse("127.0.0.1:9000 42 relay-256-paced --frames").unwrap().target.transport, Transport::Frames);
        assert_eq!(parse("127.0.0.1:9000 42 echo-64").unwrap().load, Load::Echo(64));
        assert!(parse("127.0.0.1:9000 42 nope").is_err());
        assert!(parse("127.0.0.1:9000 relay-256-closed").is_err());
        assert!(parse("127.0.0.1:9000 42 idle --fast").is_err());
    }

    #[test]
    fn through_redis_on_two_nodes() {
        let args = parse("127.0.0.1:9000 42 relay-256-closed --redis-pid=7 --second-node=127.0.0.1:9001,43").unwrap();
        assert_eq!(args.target.store_pid, Some(7));
        assert_eq!(args.target.second, Some(Node { addr: "127.0.0.1:9001".parse().unwrap(), pid: 43 }));
        assert_eq!(args.target.second_addr(), "127.0.0.1:9001".parse().unwrap());
        assert!(parse("127.0.0.1:9000 42 relay-256-closed --redis-pid").is_err());
        assert!(parse("127.0.0.1:9000 42 relay-256-closed --second-node=127.0.0.1:9001").is_err());
        assert!(parse("127.0.0.1:9000 42 relay-256-closed --full=1").is_err());
    }
}
