//! One module per command group; each `run` returns the process exit code or an error message
//! (printed to stderr by `main`, exit code 1).

pub mod autopilot;
pub mod catalog;
pub mod event;
pub mod info;
pub mod keygen;
pub mod keyring;
pub mod kv;
pub mod maint;
pub mod members;
pub mod membership;
pub mod operator;
pub mod plugin;
pub mod rtt;
pub mod services;
pub mod snapshot;
pub mod tls;
pub mod version;

/// What a command returns: an exit code, or a message for stderr (exit code 1).
pub type Outcome = anyhow::Result<u8>;

/// serde: a JSON `null` reads as the type's default (Go's nil maps and slices).
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(<Option<T> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

/// The rendered help of `praetor <name>`, or `fallback` if there is no such subcommand.
pub(crate) fn subcommand_help(name: &str, fallback: &str) -> String {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    cmd.build();
    match cmd.find_subcommand_mut(name) {
        Some(sub) => sub.render_help().to_string(),
        None => fallback.to_string(),
    }
}

/// `ip:port`, with brackets around an IPv6 address.
pub(crate) fn host_port(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}
