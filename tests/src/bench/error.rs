//! The bench's error type: what failed to start, answer or parse, with enough context to act on.

use std::path::PathBuf;

/// Why a bench step failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A program could not be started (not installed, bad path, ...).
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// A file of the bench's own work dir could not be written or read.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A condition did not hold before its deadline.
    #[error("timed out after {secs:.0} s waiting for: {what}")]
    Timeout { what: String, secs: f64 },
    /// A server answered something unexpected (or not at all).
    #[error("{0}")]
    Unexpected(String),
    /// A process exited while it should have been serving.
    #[error("{name} exited early ({status}); log: {log}")]
    Exited {
        name: String,
        status: String,
        log: PathBuf,
    },
}

impl BenchError {
    /// A `File` error for `path`.
    pub fn file(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
        move |source| BenchError::File {
            path: path.to_path_buf(),
            source,
        }
    }
}
