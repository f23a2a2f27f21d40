//! One error type for every xtask failure, each variant carrying the context a CI log needs.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::process::ExitStatus;
use std::time::Duration;

#[derive(Debug)]
pub enum Error {
    /// The command line was wrong; `main` adds a pointer to `cargo xtask help`.
    Usage(String),
    /// An environment variable held a value we cannot use.
    Env { var: &'static str, value: String, reason: &'static str },
    /// A program could not be started at all (not installed, not executable).
    Spawn { cmd: String, source: io::Error },
    /// A program ran and exited unsuccessfully.
    Failed { cmd: String, status: ExitStatus },
    /// Some other I/O went wrong; `context` says what we were doing.
    Io { context: String, source: io::Error },
    /// A program ran longer than its limit and was killed.
    TimedOut { cmd: String, limit: Duration },
    /// A file or directory a step needs is not there.
    Missing { what: String, hint: &'static str },
    /// A server we started exited before it accepted a connection.
    ServerExited { what: String, status: ExitStatus },
    /// A server we started did not accept a connection in time.
    ServerTimeout { what: String, addr: SocketAddr, waited: Duration },
    /// A check of the repository's own files failed; the message says what to fix.
    Check(String),
    /// One or more steps failed; each was reported when it happened.
    StepFailed { step: &'static str },
}

impl Error {
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Exit code for the process: 2 for a bad command line, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::Env { var, value, reason } => write!(f, "{var}={value:?}: {reason}"),
            Error::Spawn { cmd, source } => write!(f, "could not start `{cmd}`: {source}"),
            Error::Failed { cmd, status } => write!(f, "`{cmd}` failed ({status})"),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::TimedOut { cmd, limit } => {
                write!(f, "`{cmd}` ran over its {} s limit and was killed", limit.as_secs())
            }
            Error::Missing { what, hint } => write!(f, "{what} not found; {hint}"),
            Error::ServerExited { what, status } => {
                write!(f, "{what} exited ({status}) before accepting connections")
            }
            Error::ServerTimeout { what, addr, waited } => {
                write!(f, "{what} did not accept a connection on {addr} within {} s", waited.as_secs())
            }
            Error::Check(problem) => write!(f, "{problem}"),
            Error::StepFailed { step } => write!(f, "step `{step}` failed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
