//! `Config`: the typed, validated agent configuration that the rest of praetor reads.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::definitions::{CheckDefinition, ServiceDefinition};
use crate::flags::Flags;

/// Result of `load`: the configuration plus human-readable warnings (unsupported keys, skipped
/// files, risky settings) that the caller should log.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Listening ports. `None` = disabled (`-1` in the files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    /// HTTP API, default 8500.
    pub http: Option<u16>,
    /// HTTPS API, default disabled.
    pub https: Option<u16>,
    /// gRPC (xDS), default disabled.
    pub grpc: Option<u16>,
    /// DNS (UDP + TCP), default 8600.
    pub dns: Option<u16>,
    /// Server RPC, default 8300.
    pub server: u16,
    /// LAN gossip, default 8301.
    pub serf_lan: u16,
    /// WAN gossip (servers only), default 8302.
    pub serf_wan: Option<u16>,
    /// The range sidecar services get their port from (`sidecar_min_port`..=
    /// `sidecar_max_port`, default 21000..=21255); `None` = auto-assignment disabled (0).
    pub sidecar: Option<(u16, u16)>,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: Some(8500),
            https: None,
            grpc: None,
            dns: Some(8600),
            server: 8300,
            serf_lan: 8301,
            sidecar: Some((21000, 21255)),
            serf_wan: Some(8302),
        }
    }
}

/// One resolved TLS section: `tls.defaults` overlaid with the specific block (and Consul's
/// deprecated top-level keys). Paths are as written (relative to the agent's working directory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSection {
    /// PEM bundle of trusted CAs (several allowed, for rotation). Wins over `ca_path`.
    pub ca_file: Option<PathBuf>,
    /// Directory whose files (recursively) are PEM CA bundles.
    pub ca_path: Option<PathBuf>,
    /// PEM certificate chain, the agent's certificate first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, SEC1 or RSA).
    pub key_file: Option<PathBuf>,
    /// Require and verify client certificates; refuse plaintext.
    pub verify_incoming: bool,
    /// Use TLS for outgoing connections and verify the server's chain.
    pub verify_outgoing: bool,
    /// Servers must present a certificate for `server.<dc>.<domain>` (`internal_rpc` only;
    /// implies `verify_outgoing`).
    pub verify_server_hostname: bool,
    /// `tls_min_version`: the oldest protocol version offered and accepted, on both the
    /// server and the client side of this protocol (default TLS 1.2).
    pub tls_min_version: TlsVersion,
}

/// A TLS protocol version praetor can be limited to. rustls implements TLS 1.2 and 1.3 only,
/// so Consul's `TLSv1_0` / `TLSv1_1` are refused when the configuration is loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// `TLSv1_2` (also `tls12`, `TLS_AUTO` and unset): TLS 1.2 and 1.3.
    #[default]
    Tls12,
    /// `TLSv1_3` (also `tls13`): TLS 1.3 only.
    Tls13,
}

impl TlsVersion {
    /// Consul's name of the version (`TLSv1_2`, `TLSv1_3`).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1_2",
            TlsVersion::Tls13 => "TLSv1_3",
        }
    }
}

impl TlsSection {
    /// A certificate and key are configured (this protocol serves TLS).
    pub fn has_cert(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }

    /// A CA file or directory is configured.
    pub fn has_ca(&self) -> bool {
        self.ca_file.is_some() || self.ca_path.is_some()
    }
}

/// The `tls` block resolved per protocol (`tls.grpc` is accepted but unused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The server RPC port (raft, RPC, area gossip).
    pub internal_rpc: TlsSection,
    /// The HTTPS API (`ports.https`).
    pub https: TlsSection,
}

/// `limits { }`: the keys praetor implements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Deadline for protocol detection and the TLS handshake on the RPC port (default 5s;
    /// 0 disables it, as in Consul).
    pub rpc_handshake_timeout: Duration,
    /// Concurrent RPC-port connections per client IP, 0 = unlimited (default 100).
    pub rpc_max_conns_per_client: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rpc_handshake_timeout: Duration::from_secs(5),
            rpc_max_conns_per_client: 100,
        }
    }
}

/// `gossip_lan` / `gossip_wan`: memberlist timings; `None` keeps the pool's preset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GossipSettings {
    pub gossip_nodes: Option<u32>,
    pub gossip_interval: Option<Duration>,
    pub probe_interval: Option<Duration>,
    pub probe_timeout: Option<Duration>,
    pub suspicion_mult: Option<u32>,
    /// Accepted for compatibility; foca sizes retransmissions itself.
    pub retransmit_mult: Option<u32>,
}

/// `dns_config` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// TTL of node lookups (default 0).
    pub node_ttl: Duration,
    /// Service name (or `*`) -> TTL of service lookups (default none = 0).
    pub service_ttl: BTreeMap<String, Duration>,
    /// Max A/AAAA records per answer, 0 = unlimited.
    pub a_record_limit: u32,
    /// Max records in a UDP answer (default 3).
    pub udp_answer_limit: u32,
    /// Only return instances whose checks are all passing (default false: warning counts).
    pub only_passing: bool,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            node_ttl: Duration::ZERO,
            service_ttl: BTreeMap::new(),
            a_record_limit: 0,
            udp_answer_limit: 3,
            only_passing: false,
        }
    }
}

/// `acl { tokens { ... } }`: the agent's configured tokens (`""` = unset). Tokens set over
/// `PUT /v1/agent/token/<kind>` and persisted (`enable_token_persistence`) override them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclTokens {
    /// `initial_management` (alias `master`, legacy `acl_master_token`): the management token
    /// the primary datacenter's leader creates once.
    pub initial_management: String,
    /// `default` (legacy `acl_token`): requests that carry no token.
    pub default: String,
    /// `agent` (legacy `acl_agent_token`): the agent's own catalog and anti-entropy calls;
    /// falls back to `default`.
    pub agent: String,
    /// `agent_recovery` (alias `agent_master`, legacy `acl_agent_master_token`): the local
    /// emergency token for the agent's own endpoints.
    pub agent_recovery: String,
    /// `replication` (legacy `acl_replication_token`): ACL replication in a secondary datacenter.
    pub replication: String,
    /// `config_file_service_registration`: services and checks from config files; falls back
    /// to `default`.
    pub config_file_service_registration: String,
    /// `dns`: DNS lookups; falls back to `default`.
    pub dns: String,
}

/// `acl { ... }` (and Consul's deprecated top-level `acl_*` keys mapped onto it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclConfig {
    /// Enforce ACLs, serve `/v1/acl/*` and use the agent tokens (default false).
    pub enabled: bool,
    /// `allow` (default) or `deny`: the fall-through decision, the default intention action
    /// and the `X-Consul-Default-ACL-Policy` header.
    pub default_policy: String,
    /// `extend-cache` (default), `async-cache`, `allow` or `deny`: what a non-authoritative
    /// agent does when it cannot reach the servers to resolve a token.
    pub down_policy: String,
    /// Cache lifetime of resolved tokens (default 30s).
    pub token_ttl: Duration,
    /// Cache lifetime of resolved policies (default 30s).
    pub policy_ttl: Duration,
    /// Cache lifetime of resolved roles (default 30s).
    pub role_ttl: Duration,
    /// Recursive KV reads need `key:list` (default false).
    pub enable_key_list_policy: bool,
    /// Secondary datacenters replicate tokens as well as policies and roles (default false).
    pub enable_token_replication: bool,
    /// Tokens set over the HTTP API are saved in `<data_dir>/acl-tokens.json` (default false).
    pub enable_token_persistence: bool,
    pub tokens: AclTokens,
}

impl AclConfig {
    /// Consul's default for the three cache TTLs.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
    /// The values `default_policy` may take.
    pub const DEFAULT_POLICIES: [&'static str; 2] = ["allow", "deny"];
    /// The values `down_policy` may take.
    pub const DOWN_POLICIES: [&'static str; 4] = ["extend-cache", "async-cache", "allow", "deny"];
}

impl Default for AclConfig {
    /// Consul's defaults: disabled, `allow`, `extend-cache`, 30s TTLs, everything else off.
    fn default() -> Self {
        AclConfig {
            enabled: false,
            default_policy: "allow".to_string(),
            down_policy: "extend-cache".to_string(),
            token_ttl: Self::DEFAULT_TTL,
            policy_ttl: Self::DEFAULT_TTL,
            role_ttl: Self::DEFAULT_TTL,
            enable_key_list_policy: false,
            enable_token_replication: false,
            enable_token_persistence: false,
            tokens: AclTokens::default(),
        }
    }
}

/// `connect { enabled ca_provider ca_config { } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// `connect.enabled`, default true (Consul).
    pub enabled: bool,
    /// `connect.ca_provider`: only `consul` (the built-in provider).
    pub ca_provider: String,
    /// `connect.ca_config`, snake_case keys as written; used for the CA's first
    /// initialization only (validated by the CA when the agent starts).
    pub ca_config: serde_json::Map<String, serde_json::Value>,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        ConnectConfig {
            enabled: true,
            ca_provider: "consul".into(),
            ca_config: serde_json::Map::new(),
        }
    }
}

/// The validated agent configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Lower-cased, matches `^[a-z0-9_-]+$`. Default `dc1`.
    pub datacenter: String,
    /// Defaults to `datacenter`.
    pub primary_datacenter: String,
    /// Default: the host name.
    pub node_name: String,
    /// Lower-cased UUID if configured; the agent generates / persists one otherwise.
    pub node_id: Option<String>,
    pub server: bool,
    pub bootstrap: bool,
    pub bootstrap_expect: u32,
    pub dev: bool,
    /// Address the gossip and RPC listeners bind to (default 0.0.0.0; dev 127.0.0.1).
    pub bind_addr: IpAddr,
    /// Address other agents reach this one at (LAN).
    pub advertise_addr: IpAddr,
    /// Address servers in other datacenters reach this one at (defaults to `advertise_addr`).
    pub advertise_addr_wan: IpAddr,
    /// Addresses of the HTTP and DNS listeners (default 127.0.0.1).
    pub client_addrs: Vec<IpAddr>,
    /// `None` in dev mode (everything in memory).
    pub data_dir: Option<PathBuf>,
    pub retry_join: Vec<String>,
    pub start_join: Vec<String>,
    pub retry_join_wan: Vec<String>,
    /// Default 30s.
    pub retry_interval: Duration,
    /// 0 = retry forever.
    pub retry_max: u32,
    /// Default 30s.
    pub retry_interval_wan: Duration,
    /// 0 = retry forever.
    pub retry_max_wan: u32,
    pub ports: Ports,
    /// With a trailing dot, default `consul.`.
    pub domain: String,
    /// One of trace, debug, info, warn, error. Default info.
    pub log_level: String,
    pub pid_file: Option<PathBuf>,
    pub ui: bool,
    pub services: Vec<ServiceDefinition>,
    pub checks: Vec<CheckDefinition>,
    pub enable_script_checks: bool,
    /// `performance.raft_multiplier`: 1..=10, default 5 (dev 1).
    pub raft_multiplier: u32,
    /// `raft_snapshot_threshold`: committed entries since the last snapshot that make the next
    /// one (Consul's default 16384; 0 is the default).
    pub raft_snapshot_threshold: u64,
    /// `raft_snapshot_interval`: how often a server checks the threshold, plus a random part of
    /// up to as much again (Consul's default 30s; 0 is the default).
    pub raft_snapshot_interval: Duration,
    /// `raft_trailing_logs`: entries kept in the log behind a snapshot, so that a follower a
    /// little behind catches up from the log (Consul's default 10240; 0 is the default).
    pub raft_trailing_logs: u64,
    pub leave_on_terminate: bool,
    pub skip_leave_on_interrupt: bool,
    pub rejoin_after_leave: bool,
    pub disable_update_check: bool,
    pub node_meta: BTreeMap<String, String>,
    /// Base64 gossip encryption key (32 bytes once decoded: AES-256-GCM).
    pub encrypt: Option<String>,
    pub dns: DnsSettings,
    pub gossip_lan: GossipSettings,
    pub gossip_wan: GossipSettings,
    pub translate_wan_addrs: bool,
    /// praetor's extension (not a Consul key): forward requests for datacenters that are not
    /// adjacent hop by hop along network areas, and list them in `/v1/catalog/datacenters`.
    pub multi_hop_routing: bool,
    /// Plugin slots loaded from files at start and on reload (unset slots use the built-ins).
    pub plugins: Vec<PluginSlot>,
    /// TLS for the RPC port and the HTTPS API.
    pub tls: TlsConfig,
    /// `limits { }`.
    pub limits: Limits,
    /// `acl { }` (and the deprecated top-level `acl_*` keys).
    pub acl: AclConfig,
    /// `connect { }`.
    pub connect: ConnectConfig,
    /// praetor's extension (not a Consul key), default false. With ACLs disabled,
    /// `PUT /v1/agent/plugin/load` (which runs a WebAssembly component inside the agent) is
    /// accepted only from a loopback address; `true` accepts it from any address that can
    /// reach the HTTP API. With ACLs enabled the request's token decides instead.
    pub enable_remote_plugin_load: bool,

    /// The flags this config was built from: `load(&cfg.source_flags)` re-reads the files (reload).
    pub source_flags: Flags,
}

/// One `plugin "<slot>" { ... }` block: a WebAssembly component for a policy slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSlot {
    /// `translator`, `router`, `intentions`, or `join:<provider>` (files may also say
    /// `translate` and `route`).
    pub slot: String,
    /// The component file; `None` keeps the built-in and only sets the slot's limits.
    pub path: Option<PathBuf>,
    /// The `config = { ... }` block as a JSON object (`{}` when absent).
    pub config_json: String,
    /// Per-call deadline (`None` = the host's default).
    pub call_timeout: Option<Duration>,
    /// Memory cap in bytes (`None` = the host's default).
    pub memory_limit: Option<u64>,
    /// Consecutive failures before the slot reverts to its built-in.
    pub max_failures: Option<u32>,
    /// Host capabilities granted to the component (join providers).
    pub grants: PluginGrants,
}

/// What a plugin may use beyond logging; everything is denied by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginGrants {
    pub dns: bool,
    pub read_paths: Vec<PathBuf>,
    pub http_hosts: Vec<String>,
}
