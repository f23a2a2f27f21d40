//! Running programs: echo the command, inherit the terminal, turn exit codes into errors.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::Error;

/// How often a time-limited child is checked on; small next to any limit we set.
const WAIT_POLL: Duration = Duration::from_millis(50);
/// Lines of a step's log shown when it fails.
const FAILURE_TAIL: usize = 25;

/// Runs `cmd` with the terminal's stdin/stdout/stderr and fails on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<(), Error> {
    let shown = describe(cmd);
    println!("$ {shown}");
    let status = cmd.status().map_err(|source| Error::Spawn { cmd: shown.clone(), source })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed { cmd: shown, status })
    }
}

/// True when `cmd` starts and exits 0; all of its output is discarded. For presence checks.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
}

/// The stdout of `cmd` if it starts and exits 0; stderr is discarded. For presence checks.
pub fn quiet_stdout(cmd: &mut Command) -> Option<String> {
    let output = cmd.stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `cmd` and returns its stdout; stderr still goes to the terminal so failures explain themselves.
pub fn stdout(cmd: &mut Command) -> Result<String, Error> {
    let shown = describe(cmd);
    let output = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| Error::Spawn { cmd: shown.clone(), source })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Failed { cmd: shown, status: output.status })
    }
}

/// Runs `cmd` with stdout and stderr appended to `log`, killed if it runs longer than `limit`.
/// On failure the log's last lines are printed, so the CI log explains it without the file.
pub fn run_logged(cmd: &mut Command, log: &Path, limit: Duration) -> Result<(), Error> {
    let shown = describe(cmd);
    println!("$ {shown} >> {}", log.display());
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
    let file_err = file.try_clone().map_err(|e| Error::io(format!("duplicating {}", log.display()), e))?;
    cmd.stdin(Stdio::null()).stdout(file).stderr(file_err);
    let result = run_within(cmd, &shown, limit);
    if result.is_err() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("    last lines of {}:", log.display());
        for line in &lines[lines.len().saturating_sub(FAILURE_TAIL)..] {
            eprintln!("    | {line}");
        }
    }
    result
}

/// True when `cmd` starts and exits 0 within `limit`; its output is discarded. For presence checks
/// of programs that might hang.
pub fn succeeds_within(cmd: &mut Command, limit: Duration) -> bool {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    run_within(cmd, &describe(cmd), limit).is_ok()
}

/// Spawns `cmd` as it is set up and waits at most `limit` for it; kills it after that.
fn run_within(cmd: &mut Command, shown: &str, limit: Duration) -> Result<(), Error> {
    let child = cmd.spawn().map_err(|source| Error::Spawn { cmd: shown.to_owned(), source })?;
    let mut guard = KillOnDrop { child, what: shown.to_owned() };
    match wait_within(guard.child_mut(), limit).map_err(|e| Error::io(format!("waiting for `{shown}`"), e))? {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(Error::Failed { cmd: shown.to_owned(), status }),
        // `guard` kills it on the way out.
        None => Err(Error::TimedOut { cmd: shown.to_owned(), limit }),
    }
}

/// The child's exit status, or `None` if it is still running after `limit`.
fn wait_within(child: &mut Child, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if started.elapsed() >= limit {
            return Ok(None);
        }
        thread::sleep(WAIT_POLL);
    }
}

/// A child process killed when this guard is dropped, so a failing or panicking step never leaves
/// a server running (and holding its port) behind.
pub struct KillOnDrop {
    child: Child,
    what: String,
}

impl KillOnDrop {
    pub fn spawn(cmd: &mut Command, what: impl Into<String>) -> Result<Self, Error> {
        let shown = describe(cmd);
        println!("$ {shown} &");
        let child = cmd.spawn().map_err(|source| Error::Spawn { cmd: shown, source })?;
        Ok(KillOnDrop { child, what: what.into() })
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Already exited (crashed, or reaped by the caller): nothing to kill.
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // Errors here mean the process is already gone; there is nothing better to do in Drop.
        let _ = self.child.kill();
        let _ = self.child.wait();
        println!("    stopped {}", self.what);
    }
}

/// The command as a shell-like line for logs: program and arguments, quoting those with spaces.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|part| {
            let part = part.to_string_lossy();
            if part.is_empty() || part.contains(char::is_whitespace) {
                format!("'{part}'")
            } else {
                part.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_only_where_needed() {
        let mut cmd = Command::new("cargo");
        cmd.args(["fmt", "--all", "a b", ""]);
        assert_eq!(describe(&cmd), "cargo fmt --all 'a b' ''");
    }

    #[test]
    fn run_reports_exit_status_and_missing_programs() {
        assert!(run(&mut Command::new("true")).is_ok());
        assert!(matches!(run(&mut Command::new("false")), Err(Error::Failed { .. })));
        let missing = run(&mut Command::new("xtask-no-such-program"));
        assert!(matches!(missing, Err(Error::Spawn { .. })));
    }

    #[test]
    fn succeeds_is_false_for_failures_and_missing_programs() {
        assert!(succeeds(&mut Command::new("true")));
        assert!(!succeeds(&mut Command::new("false")));
        assert!(!succeeds(&mut Command::new("xtask-no-such-program")));
    }

    #[test]
    fn stdout_captures_output() {
        let mut cmd = Command::new("echo");
        cmd.arg("hello");
        assert_eq!(stdout(&mut cmd).expect("echo runs"), "hello\n");
        assert_eq!(quiet_stdout(&mut cmd).as_deref(), Some("hello\n"));
        assert_eq!(quiet_stdout(&mut Command::new("false")), None);
        assert_eq!(quiet_stdout(&mut Command::new("xtask-no-such-program")), None);
    }

    #[test]
    fn guard_kills_child_on_drop() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let guard = KillOnDrop::spawn(&mut cmd, "sleep").expect("sleep starts");
        let pid = guard.child.id();
        let started = Instant::now();
        drop(guard);
        assert!(started.elapsed() < Duration::from_secs(5));
        // The child was reaped by the guard, so its /proc entry is gone.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn time_limited_runs_report_exit_and_overrun() {
        assert!(succeeds_within(&mut Command::new("true"), Duration::from_secs(5)));
        assert!(!succeeds_within(&mut Command::new("false"), Duration::from_secs(5)));
        let mut sleeper = Command::new("sleep");
        sleeper.arg("30");
        let started = Instant::now();
        let result = run_within(&mut sleeper, "sleep 30", Duration::from_millis(200));
        assert!(matches!(result, Err(Error::TimedOut { .. })), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn logged_runs_append_their_output() {
        let log = std::env::temp_dir().join(format!("xtask-run-logged-{}.log", std::process::id()));
        std::fs::write(&log, "before\n").expect("write");
        let mut echo = Command::new("sh");
        echo.args(["-c", "echo out; echo err >&2"]);
        run_logged(&mut echo, &log, Duration::from_secs(5)).expect("sh runs");
        let mut fail = Command::new("sh");
        fail.args(["-c", "echo why; exit 3"]);
        assert!(matches!(run_logged(&mut fail, &log, Duration::from_secs(5)), Err(Error::Failed { .. })));
        let text = std::fs::read_to_string(&log).expect("read");
        std::fs::remove_file(&log).expect("clean up");
        assert_eq!(text, "before\nout\nerr\nwhy\n");
    }
}
