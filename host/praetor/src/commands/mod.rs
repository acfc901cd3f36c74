//! One module per command group; each `run` returns the process exit code or an error message
//! (printed to stderr by `main`, exit code 1).

pub mod catalog;
pub mod info;
pub mod keygen;
pub mod keyring;
pub mod kv;
pub mod members;
pub mod membership;
pub mod operator;
pub mod plugin;
pub mod rtt;
pub mod services;
pub mod tls;
pub mod version;

/// What a command returns: an exit code, or a message for stderr (exit code 1).
pub type Outcome = anyhow::Result<u8>;
