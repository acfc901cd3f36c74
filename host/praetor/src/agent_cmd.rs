//! `praetor agent`: flags -> `praetor_config::load` -> logging, pid file -> the agent.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Context as _;
use praetor_config::Config;
use tracing_subscriber::EnvFilter;

use crate::cli::AgentArgs;

/// Loads the configuration and runs the agent until it stops. Config errors print
/// `==> <error>` and give exit code 1.
pub fn run(args: &AgentArgs) -> u8 {
    let flags = args.to_flags();
    let loaded = match praetor_config::load(&flags) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("==> {e}");
            return 1;
        }
    };
    let config = loaded.config;
    init_logging(&config.log_level);

    if let Some(pid_file) = &config.pid_file
        && let Err(e) = write_pid_file(pid_file)
    {
        eprintln!("==> {e:#}");
        return 1;
    }

    // The startup banner is printed by praetor-agent once its listeners are bound.
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }

    let pid_file = config.pid_file.clone();
    let result = run_agent(config);
    if let Some(pid_file) = pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Agent stopped with an error");
            eprintln!("==> {e:#}");
            1
        }
    }
}

/// The agent proper (praetor-agent), on a multi-threaded tokio runtime.
fn run_agent(cfg: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Error starting the async runtime")?;
    runtime
        .block_on(praetor_agent::run(cfg))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// `RUST_LOG` wins; otherwise praetor's crates log at `level`, dependencies at warn.
fn init_logging(level: &str) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(default_filter(level)),
    };
    // A subscriber may already be installed (tests); keep it then.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}

/// Filter directives for a Consul log level.
pub fn default_filter(level: &str) -> String {
    format!("warn,praetor={level}")
}

fn write_pid_file(path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, format!("{}", std::process::id()))
        .with_context(|| format!("Could not write PID file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filter_scopes_the_level_to_praetor() {
        assert_eq!(default_filter("debug"), "warn,praetor=debug");
        assert!(EnvFilter::try_new(default_filter("trace")).is_ok());
    }
}
