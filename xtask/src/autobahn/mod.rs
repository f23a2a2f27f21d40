//! `cargo xtask autobahn` (also the `autobahn` step of `cargo xtask test`): RFC 6455 conformance
//! of our WebSocket layer. The project installs the Autobahn|Testsuite fuzzing client itself
//! (`suite`), runs it against the signaling crate's `echo` example (`echo`) with a spec it writes
//! (`spec`), then reads the report and fails on any FAILED or missing case (`report`).
//! Everything lives under `target/autobahn/`; the report's HTML is in `target/autobahn/reports/`.

mod echo;
mod report;
mod spec;
mod suite;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::process;
use crate::workspace::{fresh_dir, Workspace};

/// Groups 1–10 take about 20 s against a release build here; the limit only catches a hang.
const RUN_LIMIT: Duration = Duration::from_secs(10 * 60);

pub fn run(ws: &Workspace) -> Result<(), Error> {
    let dir = ws.target_dir().join("autobahn");
    let suite = suite::Suite::under(&dir);
    suite.ensure()?;
    let (_server, addr) = echo::start(ws)?;

    let reports = dir.join("reports");
    fresh_dir(&reports)?;
    let spec_path = dir.join("fuzzingclient.json");
    let url = format!("ws://{addr}");
    write(&spec_path, &spec::fuzzing_client_spec(&url, &reports))?;
    let log = reports.join("wstest.log");
    let mut wstest = Command::new(suite.wstest());
    wstest.args(["-m", "fuzzingclient", "-s"]).arg(&spec_path).current_dir(&reports);
    println!("    cases {:?} except {:?} against {url}", spec::CASES, spec::EXCLUDED);
    let started = Instant::now();
    process::run_logged(&mut wstest, &log, RUN_LIMIT)?;
    println!(
        "    wstest finished in {:.1} s; report: {}",
        started.elapsed().as_secs_f64(),
        reports.join("index.html").display()
    );

    let planned = report::planned_cases(&read(&log)?)
        .ok_or_else(|| Error::Check(format!("{}: wstest did not say how many cases it would run", log.display())))?;
    let index = reports.join("index.json");
    let parsed =
        report::Report::parse(&read(&index)?).map_err(|e| Error::Check(format!("{}: {e}", index.display())))?;
    let summary = parsed.summary(planned);
    for line in summary.lines() {
        println!("    {line}");
    }
    summary.verdict().map_err(|verdict| Error::Check(format!("Autobahn|Testsuite: {verdict}")))
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
