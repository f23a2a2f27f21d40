//! `cargo xtask`: the project's own commands, in plain Rust so they run the same on every machine.
//!
//! Layout:
//! - `cli`: hand-written argument parsing and the usage text
//! - `step`: the step runner (announce, time, stop at first failure, summary table)
//! - `process`: running programs, presence checks, a kill-on-drop child guard
//! - `ensure`: idempotent tool and apt installs
//! - `web`: the pinned wasm tools and the trunk build of the client into `dist/`
//! - `csp`: the Content-Security-Policy snippet for nginx, from the built page
//! - `audit`: axe-core and Lighthouse, pinned npm packages for the browser tests' page audits
//! - `precompress`: the stored gzip and brotli encodings of `dist/`'s text and wasm
//! - `workspace`: where the root and the target directory are
//! - `test`, `serve`, `bench`, `autobahn`, `soak`: one module per command

#![forbid(unsafe_code)]

mod audit;
mod autobahn;
mod bench;
mod cli;
mod csp;
mod ensure;
mod error;
mod precompress;
mod process;
mod serve;
mod soak;
mod step;
mod test;
mod web;
mod workspace;

use std::process::ExitCode;

use cli::Command;
use error::Error;
use workspace::Workspace;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            if let Error::Usage(_) = err {
                eprintln!("run `cargo xtask help` for usage");
            }
            ExitCode::from(err.exit_code())
        }
    }
}

fn run(args: &[String]) -> Result<(), Error> {
    match cli::parse(args)? {
        Command::Help => {
            print!("{}", cli::USAGE);
            Ok(())
        }
        Command::Test(args) => test::run(Workspace::locate()?, &args),
        Command::Serve(args) => serve::run(Workspace::locate()?, &args),
        Command::Bench(args) => bench::run(&Workspace::locate()?, args.quick),
        Command::Autobahn => {
            let ws = Workspace::locate()?;
            let mut runner = step::Runner::new();
            runner.step("autobahn", || autobahn::run(&ws));
            runner.finish()
        }
        Command::Soak(args) => soak::run(&Workspace::locate()?, args.short),
        Command::Web => {
            let ws = Workspace::locate()?;
            let mut runner = step::Runner::new();
            runner.step("web", || web::ensure_tools(&ws).and_then(|()| web::build(&ws)));
            runner.finish()
        }
    }
}
