//! `bench`: the benchmark run behind `cargo xtask bench [--quick]`. Run it through xtask, which
//! builds everything in release mode first and pins this process to its CPU. `bench load`
//! runs one scenario against a server started by hand, for profiling (see `bench::attach`).

use std::process::ExitCode;

/// One thread: the generator is pinned to one CPU, where a second runtime thread would only
/// compete with the first; tasks then interleave by tokio's cooperative budget alone.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().is_some_and(|a| a == "load") {
        return load(&argv[1..]).await;
    }
    if argv.first().is_some_and(|a| a == "soak") {
        return soak(&argv[1..]).await;
    }
    let args = match bench::run::Args::parse(argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(2);
        }
    };
    finish(interruptible(bench::run::run(&args)).await)
}

/// Runs `work` until it ends or SIGINT/SIGTERM arrives; dropping it then kills the server under
/// test (its guard's `Drop`), so an interrupted run leaves no process behind.
async fn interruptible(work: impl std::future::Future<Output = bench::error::Result<()>>) -> bench::error::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return work.await;
    };
    tokio::select! {
        result = work => result,
        _ = term.recv() => Err(bench::error::BenchError::Interrupted("SIGTERM")),
        _ = int.recv() => Err(bench::error::BenchError::Interrupted("SIGINT")),
    }
}

fn finish(result: bench::error::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `bench soak …`: the soak (see `bench::soak`).
async fn soak(argv: &[String]) -> ExitCode {
    let args = match bench::soak::SoakArgs::parse(argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(2);
        }
    };
    let launcher = args.launcher();
    finish(interruptible(bench::soak::run(&launcher, args.plan, &args.report, &args.command)).await)
}

/// `bench load …`: one scenario against a server started by hand (see `bench::attach`).
async fn load(argv: &[String]) -> ExitCode {
    let args = match bench::attach::LoadArgs::parse(argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(2);
        }
    };
    finish(interruptible(bench::attach::run(&args)).await)
}
