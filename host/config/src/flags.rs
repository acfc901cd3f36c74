//! `Flags`: the agent's command-line options as the CLI parsed them (unset = `None` / empty).

use std::path::PathBuf;

/// Command-line options of `praetor agent`. Every field is optional so that only what the user
/// typed overrides the config files. Values stay raw (strings / integers) and are validated by
/// `load` together with the files, so errors read the same wherever a value came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `-server`
    pub server: Option<bool>,
    /// `-dev`: in-memory single-server agent.
    pub dev: Option<bool>,
    /// `-bootstrap`
    pub bootstrap: Option<bool>,
    /// `-bootstrap-expect`
    pub bootstrap_expect: Option<i64>,
    /// `-datacenter`
    pub datacenter: Option<String>,
    /// `-node`
    pub node: Option<String>,
    /// `-node-id`
    pub node_id: Option<String>,
    /// `-bind`
    pub bind: Option<String>,
    /// `-advertise`
    pub advertise: Option<String>,
    /// `-advertise-wan`
    pub advertise_wan: Option<String>,
    /// `-client` (space separated list of IPs)
    pub client: Option<String>,
    /// `-data-dir`
    pub data_dir: Option<PathBuf>,
    /// `-retry-join` (repeatable)
    pub retry_join: Vec<String>,
    /// `-retry-join-wan` (repeatable)
    pub retry_join_wan: Vec<String>,
    /// `-join` (repeatable; Consul's `start_join`)
    pub join: Vec<String>,
    /// Every `-config-file` and `-config-dir`, in command-line order (a directory contributes
    /// its `*.json` / `*.hcl` files sorted by name)
    pub config_paths: Vec<PathBuf>,
    /// `-http-port` (-1 disables)
    pub http_port: Option<i64>,
    /// `-dns-port` (-1 disables)
    pub dns_port: Option<i64>,
    /// `-server-port`
    pub server_port: Option<i64>,
    /// `-serf-lan-port`
    pub serf_lan_port: Option<i64>,
    /// `-serf-wan-port` (-1 disables)
    pub serf_wan_port: Option<i64>,
    /// `-domain`
    pub domain: Option<String>,
    /// `-log-level`
    pub log_level: Option<String>,
    /// `-pid-file`
    pub pid_file: Option<PathBuf>,
    /// `-ui`
    pub ui: Option<bool>,
    /// `-encrypt` (base64 gossip key)
    pub encrypt: Option<String>,
    /// `-retry-interval` (Go duration string)
    pub retry_interval: Option<String>,
    /// `-retry-max`
    pub retry_max: Option<i64>,
    /// `-retry-interval-wan` (Go duration string)
    pub retry_interval_wan: Option<String>,
    /// `-retry-max-wan`
    pub retry_max_wan: Option<i64>,
    /// `-node-meta` (repeatable, `key:value`)
    pub node_meta: Vec<String>,
}
