//! Why a benchmark run failed; one variant per cause, each with what it was doing.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("bad command line: {0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("{context}: {source}")]
    WebSocket { context: String, source: tokio_tungstenite::tungstenite::Error },
    #[error("{what} did not happen within {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error("{program}: {why}")]
    Missing { program: &'static str, why: String },
    #[error("{server} {what}; its log: {}", log.display())]
    Server { server: &'static str, what: String, log: PathBuf },
    #[error("unexpected message in {scenario}: {detail}")]
    Protocol { scenario: String, detail: String },
    #[error("{scenario}: {lost} of {sent} messages lost")]
    Lost { scenario: String, sent: u64, lost: u64 },
    #[error("{scenario}: misdelivered: {detail}")]
    Misdelivered { scenario: String, detail: String },
    #[error("browser run: {0}")]
    Browser(String),
    #[error("report: {0}")]
    Report(String),
    #[error("interrupted by {0}")]
    Interrupted(&'static str),
}

impl BenchError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BenchError::Io { context: context.into(), source }
    }

    pub fn ws(context: impl Into<String>, source: tokio_tungstenite::tungstenite::Error) -> Self {
        BenchError::WebSocket { context: context.into(), source }
    }

    pub fn protocol(scenario: &str, detail: impl Into<String>) -> Self {
        BenchError::Protocol { scenario: scenario.to_owned(), detail: detail.into() }
    }
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;
