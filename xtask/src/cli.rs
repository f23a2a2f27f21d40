//! The command line, parsed by hand: a few commands with a few options do not need a parser crate.

use crate::error::Error;

pub const USAGE: &str = "\
Usage: cargo xtask <command> [options]

Commands:
  test [--only STEP[,STEP]] [--skip STEP[,STEP]]
        Run every check CI runs, in order, stopping at the first failure:
          ensure    install missing tools: rustfmt, clippy, nightly, cargo-cycles 0.2.0,
                    cargo-fuzz, geckodriver 0.37.1, the wasm32 target, wasm-bindgen-cli
                    0.2.129, trunk 0.21.14 (~20 minutes on a fresh machine, skipped once
                    present), wasm-opt 132 (npm's binaryen, into target/tools/binaryen; needs
                    Node.js and npm) and apt's chromium, chromium-driver, firefox-esr, nginx,
                    libnginx-mod-stream, coturn, nftables, openssl, curl, docker-compose and
                    redis-server
          fmt       cargo fmt --all -- --check
          clippy    cargo clippy --workspace --all-targets -- -D warnings
          modules   cargo-cycles on signaling/ and webclient/: module graphs must stay acyclic
          web       build the web client: cargo fetch, then trunk build --release into dist/
          test      unit and integration tests: cargo test --workspace
          browser   end-to-end calls between headless Chromium peers and between Chromium
                    and Firefox (the e2e crate) against the signaling server serving dist/,
                    and relayed through nginx and coturn running the repository's nginx/ and
                    turn/ files, in a loopback-only network namespace (needs root);
                    screenshots and logs in target/e2e-artifacts
          deploy    docker-compose config -q of docker-compose.yml (and with
                    docker-compose.tls.yml) from .env.example, which must document every
                    variable the compose files use
          autobahn  `cargo xtask autobahn` (below)
          fuzz      every fuzz target in signaling/fuzz, for XTASK_FUZZ_SECS each
          bench     `cargo xtask bench --quick`: every benchmark at small sizes; fails if
                    anything does not run or a message is lost (no timing is asserted)
          soak      `cargo xtask soak --short`: a few hundred peers for ~20 s per engine;
                    fails if a well-behaved peer loses a message (no timing is asserted)
        --only and --skip may be repeated; --skip wins over --only.
  serve [--listen ADDR]
        Build the web client into dist/ (installing the wasm tools if missing) and the
        signaling server in release mode, and run the server on ADDR (default
        127.0.0.1:8080), serving dist/.
  web   Build the web client into dist/ (installing the wasm tools if missing) and write
        the nginx CSP snippet target/web/connect-csp.conf (the web image's build runs this).
  bench [--quick]
        Measure the signaling server against reference servers speaking the same protocol
        (tokio-tungstenite, fastwebsockets, raw TCP; the bench crate): relay CPU per message
        and latency, join latency, memory per connection, echo, the browser call and the
        bundle size. Builds everything in release mode first; servers run pinned to CPU 0,
        the load generator to CPU 1. Writes docs/BENCHMARKS.md and docs/bench/*.svg (~10
        minutes; run it on a quiet machine). --quick: small sizes and one repetition, report
        in target/bench/quick.md (~1-2 minutes).
  autobahn
        RFC 6455 conformance: installs the Autobahn|Testsuite fuzzing client (25.10.1 and
        its pinned dependencies, from PyPI) into a Python 2.7 virtualenv under
        target/autobahn (needs pyenv's or the system's Python 2.7; about a minute once,
        skipped while the pins are unchanged), runs case groups 1-10 (not 12-13:
        permessage-deflate is not implemented) against the signaling `echo` example in
        release mode on a free loopback port, prints the counts per behaviour and fails on
        any FAILED or missing case (~30 s).
        Report: target/autobahn/reports/index.html.
  soak [--short]
        Soak the signaling server on each engine (memory; Redis with a real redis-server):
        10,000 well-behaved peers in rooms of two, every message checked to arrive in order,
        beside peers that stop reading, flood past the rate limit and drop and resume, for
        3 minutes per engine. Reports peak RSS, RSS per peer, messages lost (must be 0) and
        latency p50/p99 into docs/RELIABILITY.md (~8 minutes; a quiet machine). --short: a
        few hundred peers for ~20 s per engine, report in target/soak/short.md.
  help  Show this message.

Environment:
  XTASK_FUZZ_SECS   seconds per fuzz target (default 30)
  CARGO_TARGET_DIR  honoured when locating built binaries
";

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Test(TestArgs),
    Serve(ServeArgs),
    Web,
    Bench(BenchArgs),
    Autobahn,
    Soak(SoakArgs),
}

/// Step names exactly as typed; checked against the step list when steps are selected.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TestArgs {
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ServeArgs {
    pub listen: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct BenchArgs {
    pub quick: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SoakArgs {
    pub short: bool,
}

pub fn parse(args: &[String]) -> Result<Command, Error> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Error::Usage("no command given".into()));
    };
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help);
    }
    match command.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "test" => parse_test(rest).map(Command::Test),
        "serve" => parse_serve(rest).map(Command::Serve),
        "web" if rest.is_empty() => Ok(Command::Web),
        "web" => Err(Error::Usage(format!("`web` takes no arguments, got `{}`", rest.join(" ")))),
        "bench" => parse_bench(rest).map(Command::Bench),
        "autobahn" if rest.is_empty() => Ok(Command::Autobahn),
        "autobahn" => Err(Error::Usage(format!("`autobahn` takes no arguments, got `{}`", rest.join(" ")))),
        "soak" => parse_switch("soak", "--short", rest).map(|short| Command::Soak(SoakArgs { short })),
        other => Err(Error::Usage(format!("unknown command `{other}`"))),
    }
}

fn parse_test(args: &[String]) -> Result<TestArgs, Error> {
    let mut parsed = TestArgs::default();
    let mut options = Options::new("test", &["--only", "--skip"], args);
    while let Some((flag, value)) = options.next_option()? {
        let names = split_names(flag, &value)?;
        if flag == "--only" {
            parsed.only.extend(names);
        } else {
            parsed.skip.extend(names);
        }
    }
    Ok(parsed)
}

fn parse_serve(args: &[String]) -> Result<ServeArgs, Error> {
    let mut listen = DEFAULT_LISTEN.to_owned();
    let mut options = Options::new("serve", &["--listen"], args);
    while let Some((_listen, value)) = options.next_option()? {
        listen = value;
    }
    Ok(ServeArgs { listen })
}

/// `--quick` is a switch, unlike every option above, so it is matched here directly.
fn parse_bench(args: &[String]) -> Result<BenchArgs, Error> {
    let mut parsed = BenchArgs::default();
    for arg in args {
        match arg.as_str() {
            "--quick" => parsed.quick = true,
            other if other.starts_with("--") => {
                let flag = other.split_once('=').map_or(other, |(flag, _)| flag);
                return Err(Error::Usage(format!("unknown option `{flag}` for `bench`")));
            }
            other => return Err(Error::Usage(format!("unexpected argument `{other}`"))),
        }
    }
    Ok(parsed)
}

/// A command whose only option is the switch `switch`: whether it was given.
fn parse_switch(command: &str, switch: &str, args: &[String]) -> Result<bool, Error> {
    let mut on = false;
    for arg in args {
        match arg.as_str() {
            a if a == switch => on = true,
            other if other.starts_with("--") => {
                let flag = other.split_once('=').map_or(other, |(flag, _)| flag);
                return Err(Error::Usage(format!("unknown option `{flag}` for `{command}`")));
            }
            other => return Err(Error::Usage(format!("unexpected argument `{other}`"))),
        }
    }
    Ok(on)
}

/// `a,b` → [a, b]; an empty name (`--only fmt,`) is a typo, not "nothing".
fn split_names(flag: &str, value: &str) -> Result<Vec<String>, Error> {
    value
        .split(',')
        .map(|name| match name.trim() {
            "" => Err(Error::Usage(format!("empty step name in `{flag} {value}`"))),
            name => Ok(name.to_owned()),
        })
        .collect()
}

/// Walks `--flag VALUE` and `--flag=VALUE` pairs; every option here takes a value.
struct Options<'a> {
    command: &'static str,
    known: &'static [&'static str],
    args: std::slice::Iter<'a, String>,
}

impl<'a> Options<'a> {
    fn new(command: &'static str, known: &'static [&'static str], args: &'a [String]) -> Self {
        Options { command, known, args: args.iter() }
    }

    /// The next option as (one of `known`, its value).
    fn next_option(&mut self) -> Result<Option<(&'static str, String)>, Error> {
        let Some(arg) = self.args.next() else {
            return Ok(None);
        };
        if !arg.starts_with("--") {
            return Err(Error::Usage(format!("unexpected argument `{arg}`")));
        }
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let Some(&flag) = self.known.iter().find(|&&known| known == flag) else {
            let command = self.command;
            return Err(Error::Usage(format!("unknown option `{flag}` for `{command}`")));
        };
        let value = match inline_value {
            Some(value) => value,
            None => match self.args.next() {
                Some(value) if !value.starts_with("--") => value.clone(),
                _ => return Err(Error::Usage(format!("`{flag}` needs a value"))),
            },
        };
        Ok(Some((flag, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, Error> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    fn usage_error(line: &str) -> String {
        match parse_str(line) {
            Err(Error::Usage(msg)) => msg,
            other => panic!("`{line}` should be a usage error, got {other:?}"),
        }
    }

    fn test_args(only: &[&str], skip: &[&str]) -> Command {
        Command::Test(TestArgs {
            only: only.iter().map(|s| s.to_string()).collect(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn help_in_every_spelling() {
        for line in ["help", "-h", "--help", "test --help", "serve -h", "test --only fmt -h"] {
            assert_eq!(parse_str(line).ok(), Some(Command::Help), "{line}");
        }
    }

    #[test]
    fn test_without_options_selects_nothing_explicitly() {
        assert_eq!(parse_str("test").ok(), Some(test_args(&[], &[])));
    }

    #[test]
    fn only_and_skip_accept_lists_both_spellings_and_repeats() {
        assert_eq!(
            parse_str("test --only fmt,clippy --only=test --skip fuzz --skip=autobahn,ensure").ok(),
            Some(test_args(&["fmt", "clippy", "test"], &["fuzz", "autobahn", "ensure"]))
        );
    }

    #[test]
    fn names_are_trimmed_but_not_checked_here() {
        assert_eq!(parse_str("test --only=fmt,nope").ok(), Some(test_args(&["fmt", "nope"], &[])));
        let args = ["test".to_owned(), "--skip".to_owned(), " fuzz , ensure".to_owned()];
        assert_eq!(parse(&args).ok(), Some(test_args(&[], &["fuzz", "ensure"])));
    }

    #[test]
    fn serve_listen_defaults_and_overrides() {
        let serve = |listen: &str| Some(Command::Serve(ServeArgs { listen: listen.into() }));
        assert_eq!(parse_str("serve").ok(), serve("127.0.0.1:8080"));
        assert_eq!(parse_str("serve --listen 0.0.0.0:9000").ok(), serve("0.0.0.0:9000"));
        assert_eq!(parse_str("serve --listen=[::1]:80").ok(), serve("[::1]:80"));
    }

    #[test]
    fn soak_is_full_unless_short() {
        assert_eq!(parse_str("soak").ok(), Some(Command::Soak(SoakArgs { short: false })));
        assert_eq!(parse_str("soak --short").ok(), Some(Command::Soak(SoakArgs { short: true })));
        assert_eq!(usage_error("soak --quick"), "unknown option `--quick` for `soak`");
    }

    #[test]
    fn bench_is_full_unless_quick() {
        assert_eq!(parse_str("bench").ok(), Some(Command::Bench(BenchArgs { quick: false })));
        assert_eq!(parse_str("bench --quick").ok(), Some(Command::Bench(BenchArgs { quick: true })));
        assert_eq!(parse_str("bench --help").ok(), Some(Command::Help));
    }

    #[test]
    fn autobahn_takes_no_arguments() {
        assert_eq!(parse_str("autobahn").ok(), Some(Command::Autobahn));
        assert_eq!(
            usage_error("autobahn ws://127.0.0.1:9001"),
            "`autobahn` takes no arguments, got `ws://127.0.0.1:9001`"
        );
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        assert_eq!(usage_error(""), "no command given");
        assert_eq!(usage_error("benchmark"), "unknown command `benchmark`");
        assert_eq!(usage_error("bench --fast"), "unknown option `--fast` for `bench`");
        assert_eq!(usage_error("bench quick"), "unexpected argument `quick`");
        assert_eq!(usage_error("test --only"), "`--only` needs a value");
        assert_eq!(usage_error("test --only --skip fmt"), "`--only` needs a value");
        assert_eq!(usage_error("test --only fmt,"), "empty step name in `--only fmt,`");
        assert_eq!(usage_error("test --fast"), "unknown option `--fast` for `test`");
        assert_eq!(usage_error("test --fast=1"), "unknown option `--fast` for `test`");
        assert_eq!(usage_error("test fmt"), "unexpected argument `fmt`");
        assert_eq!(usage_error("serve --only fmt"), "unknown option `--only` for `serve`");
        assert_eq!(usage_error("serve 127.0.0.1:1"), "unexpected argument `127.0.0.1:1`");
    }
}
