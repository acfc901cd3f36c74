//! `praetor agent`: flags -> `praetor_config::load` -> logging, pid file -> the agent.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Context as _;
use praetor_config::Config;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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
    // `/v1/agent/monitor` sees praetor's events down to debug (trace when the agent logs at
    // trace), whatever the agent's own level, as Consul's monitor does.
    let tap_level = if level.eq_ignore_ascii_case("trace") {
        LevelFilter::TRACE
    } else {
        LevelFilter::DEBUG
    };
    let tap = Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target("praetor", tap_level);
    // A subscriber may already be installed (tests); keep it then.
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stdout().is_terminal())
                .with_filter(filter),
        )
        .with(praetor_api::monitor::layer().with_filter(tap))
        .try_init();
}

/// Filter directives for a Consul log level.
pub fn default_filter(level: &str) -> String {
    format!("warn,praetor={level}")
}

/// Writes the pid file, creating its directory as needed (harnesses put it beside a data
/// dir that does not exist yet).
fn write_pid_file(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("Could not write PID file {}", path.display()))?;
    }
    std::fs::write(path, format!("{}", std::process::id()))
        .with_context(|| format!("Could not write PID file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_directories_are_created() {
        let dir = std::env::temp_dir().join(format!("praetor-pid-{}", std::process::id()));
        let path = dir.join("node1").join("pid");
        write_pid_file(&path).expect("written");
        let pid = std::fs::read_to_string(&path).expect("readable");
        assert_eq!(pid, std::process::id().to_string());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn log_filter_scopes_the_level_to_praetor() {
        assert_eq!(default_filter("debug"), "warn,praetor=debug");
        assert!(EnvFilter::try_new(default_filter("trace")).is_ok());
    }
}
