//! The `fuzz` step: every cargo-fuzz target of the signaling crate, each for a fixed time.
//! cargo-fuzz needs nightly for its sanitizer flags; the `ensure` step installs both.

use super::Ctx;
use crate::error::Error;
use crate::process;

const FUZZ_DIR: &str = "signaling/fuzz";
const SECS_VAR: &str = "XTASK_FUZZ_SECS";
/// Long enough to get past the seed corpus on two cores, short enough for every CI run.
const DEFAULT_SECS: u64 = 30;

pub fn run(ctx: &Ctx) -> Result<(), Error> {
    if !ctx.ws.join(FUZZ_DIR).is_dir() {
        // A missing fuzz crate must not look like a pass: CI would be fuzzing nothing.
        return Err(Error::Missing {
            what: format!("fuzz crate {FUZZ_DIR}"),
            hint: "create it with `cargo fuzz init`, or pass `--skip fuzz` while it does not exist",
        });
    }
    let list = ["cargo", "+nightly", "fuzz", "list", "--fuzz-dir", FUZZ_DIR];
    let listed = process::stdout(&mut ctx.ws.command(&list))?;
    let targets = parse_targets(&listed);
    if targets.is_empty() {
        return Err(Error::Missing {
            what: format!("a fuzz target in {FUZZ_DIR}"),
            hint: "add one with `cargo fuzz add NAME`",
        });
    }
    println!("    fuzz targets: {} ({} s each)", targets.join(", "), ctx.fuzz_secs);
    let max_time = format!("-max_total_time={}", ctx.fuzz_secs);
    for target in targets {
        println!("--> fuzz {target}");
        // New inputs go to corpus/<target> (git-ignored); the committed seeds are read, never written.
        let corpus = format!("{FUZZ_DIR}/corpus/{target}");
        std::fs::create_dir_all(ctx.ws.join(&corpus)).map_err(|e| Error::io(format!("creating {corpus}"), e))?;
        let seeds = format!("{FUZZ_DIR}/seeds/{target}");
        let mut argv = vec!["cargo", "+nightly", "fuzz", "run", "--fuzz-dir", FUZZ_DIR, target, corpus.as_str()];
        if ctx.ws.join(&seeds).is_dir() {
            argv.push(&seeds);
        }
        argv.extend(["--", max_time.as_str()]);
        process::run(&mut ctx.ws.command(&argv))?;
    }
    Ok(())
}

/// Seconds per target from `XTASK_FUZZ_SECS`, read before any step runs so a typo fails at once.
pub fn secs_from_env() -> Result<u64, Error> {
    parse_secs(std::env::var(SECS_VAR).ok().as_deref())
}

fn parse_secs(value: Option<&str>) -> Result<u64, Error> {
    let Some(value) = value else {
        return Ok(DEFAULT_SECS);
    };
    match value.trim().parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(secs),
        // libFuzzer reads 0 as "no limit", which would hang CI.
        _ => Err(Error::Env {
            var: SECS_VAR,
            value: value.to_owned(),
            reason: "expected a whole number of seconds greater than 0",
        }),
    }
}

/// `cargo fuzz list` prints one target name per line.
fn parse_targets(listed: &str) -> Vec<&str> {
    listed.lines().map(str::trim).filter(|line| !line.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_default_and_override() {
        assert_eq!(parse_secs(None).ok(), Some(30));
        assert_eq!(parse_secs(Some("5")).ok(), Some(5));
        assert_eq!(parse_secs(Some(" 120 ")).ok(), Some(120));
    }

    #[test]
    fn secs_rejects_zero_and_garbage() {
        for bad in ["0", "", "-1", "1.5", "30s"] {
            assert!(matches!(parse_secs(Some(bad)), Err(Error::Env { .. })), "{bad:?}");
        }
    }

    #[test]
    fn targets_are_the_non_empty_lines() {
        assert_eq!(parse_targets("frame_decoder\nhandshake\n\n"), ["frame_decoder", "handshake"]);
        assert!(parse_targets("").is_empty());
    }
}
