//! `praetor agent`: flags -> `praetor_config::load` -> logging, pid file, banner -> the agent.

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

    println!("==> Starting Praetor agent...");
    println!("{}", banner(&config));
    println!();
    println!("==> Log data will now stream in as it occurs:");
    println!();
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
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Filter directives for a Consul log level.
pub fn default_filter(level: &str) -> String {
    format!("warn,praetor={level}")
}

fn write_pid_file(path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, format!("{}", std::process::id()))
        .with_context(|| format!("Could not write PID file {}", path.display()))
}

/// Consul's startup summary lines.
pub fn banner(c: &Config) -> String {
    let port = |p: Option<u16>| p.map_or("-1".to_string(), |p| p.to_string());
    let clients: Vec<String> = c.client_addrs.iter().map(|a| a.to_string()).collect();
    let lines = [
        ("Version", format!("'{}'", env!("CARGO_PKG_VERSION"))),
        (
            "Node ID",
            format!("'{}'", c.node_id.as_deref().unwrap_or("")),
        ),
        ("Node name", format!("'{}'", c.node_name)),
        (
            "Datacenter",
            format!("'{}' (Segment: '<all>')", c.datacenter),
        ),
        (
            "Server",
            format!("{} (Bootstrap: {})", c.server, c.bootstrap),
        ),
        (
            "Client Addr",
            format!(
                "[{}] (HTTP: {}, HTTPS: {}, gRPC: {}, DNS: {})",
                clients.join(" "),
                port(c.ports.http),
                port(c.ports.https),
                port(c.ports.grpc),
                port(c.ports.dns)
            ),
        ),
        (
            "Cluster Addr",
            format!(
                "{} (LAN: {}, WAN: {})",
                c.advertise_addr,
                c.ports.serf_lan,
                port(c.ports.serf_wan)
            ),
        ),
        ("Gossip Encryption", c.encrypt.is_some().to_string()),
    ];
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(k, v)| format!("{k:>width$}: {v}", width = width + 4))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_shows_ports_and_addresses() {
        let flags = praetor_config::Flags {
            dev: Some(true),
            node: Some("dev-node".into()),
            dns_port: Some(-1),
            ..Default::default()
        };
        let config = praetor_config::load(&flags).expect("dev config").config;
        let text = banner(&config);
        assert!(text.contains("    Node name: 'dev-node'"), "{text}");
        assert!(
            text.contains("Client Addr: [127.0.0.1] (HTTP: 8500, HTTPS: -1, gRPC: -1, DNS: -1)"),
            "{text}"
        );
        assert!(
            text.contains("Cluster Addr: 127.0.0.1 (LAN: 8301, WAN: 8302)"),
            "{text}"
        );
        assert!(text.contains("Server: true (Bootstrap: true)"), "{text}");
    }

    #[test]
    fn log_filter_scopes_the_level_to_praetor() {
        assert_eq!(default_filter("debug"), "warn,praetor=debug");
        assert!(EnvFilter::try_new(default_filter("trace")).is_ok());
    }
}
