//! Logging through the host (`praetor:plugins/log`): every world may use it. Lines go to the
//! agent's log attributed to the plugin's slot; past the host's rate limit they are dropped.
//! In a native build (unit tests of a plugin) lines go to stderr instead.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes one line at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::bindings::lifecycle::praetor::plugins::log as host;
        let level = match level {
            Level::Trace => host::Level::Trace,
            Level::Debug => host::Level::Debug,
            Level::Info => host::Level::Info,
            Level::Warn => host::Level::Warn,
            Level::Error => host::Level::Error,
        };
        host::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Writes one line at trace level.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes one line at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes one line at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes one line at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes one line at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}
