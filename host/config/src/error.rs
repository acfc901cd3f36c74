//! `ConfigError`: every way loading a configuration can fail; each message names the file or the key.

use std::path::PathBuf;

/// Name used as the source of values given on the command line.
pub(crate) const FLAGS_SOURCE: &str = "command-line flags";

/// Why `load` (or a definition parser) refused a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file or directory could not be read.
    #[error("Error reading '{}': {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON / HCL, or its top level is not an object.
    #[error("failed to parse {file}: {message}")]
    Syntax { file: String, message: String },
    /// A key that is not a Consul configuration key (Consul: `invalid config key X`).
    #[error("failed to parse {file}: invalid config key {key}")]
    InvalidKey { file: String, key: String },
    /// A value of the wrong type, e.g. `ports.http: expected a number`.
    #[error("failed to parse {file}: {key}: expected {expected}")]
    Type {
        file: String,
        key: String,
        expected: &'static str,
    },
    /// A value of the right type that cannot be used, e.g. a malformed duration.
    #[error("failed to parse {file}: {key}: {message}")]
    Value {
        file: String,
        key: String,
        message: String,
    },
    /// A key praetor does not implement, set to a value that would change security if it were
    /// honoured (e.g. `encrypt_verify_incoming = false`): refused rather than ignored. The
    /// message starts with the key.
    #[error("{file}: {message}")]
    Refused {
        file: String,
        key: String,
        message: String,
    },
    /// The merged configuration is inconsistent (Consul's validation texts, which name the key).
    #[error("{0}")]
    Invalid(String),
}
