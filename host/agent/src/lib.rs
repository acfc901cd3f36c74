//! The agent: the composition root. Turns a validated [`Config`] into running subsystems
//! (gossip, raft and the server RPC port on servers, HTTP API, DNS, health checks,
//! anti-entropy) and owns their lifecycle: start-up, reload, graceful leave, shutdown.

mod acl;
mod api_impl;
mod areas;
mod autopilot;
mod ca;
mod checks;
mod coordinates;
mod dns_backend;
mod events;
mod https;
mod keyring;
mod leader;
mod leaf;
mod local;
mod mesh;
mod metrics;
mod persist;
mod plugins;
mod replication;
mod sync;
mod wan;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use praetor_config::{CheckDefinition, CheckKind, Config, ServiceDefinition};
use praetor_consensus::{Consensus, ConsensusConfig, RaftNode};
use praetor_gossip::{MemberStatus, Pool, PoolConfig, Profile};
use praetor_rpc::{Rpc, ServerEntry};
use praetor_state::{
    CheckStatus, HealthCheck, Node, Service, ServiceAddress, SharedStore, Weights,
};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

pub use local::{LocalCheck, LocalState};

/// A maintenance-mode check: critical, with the reason (or Consul's default text) as notes.
fn maintenance_check(
    id: String,
    name: &str,
    reason: &str,
    default_reason: &str,
    service_id: String,
) -> HealthCheck {
    HealthCheck {
        check_id: id,
        name: name.into(),
        status: CheckStatus::Critical,
        notes: if reason.is_empty() {
            default_reason.into()
        } else {
            reason.into()
        },
        service_id,
        check_type: "maintenance".into(),
        ..Default::default()
    }
}

/// The version praetor reports (`praetor version`, `/v1/agent/self`, gossip `build` tag).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Consul release whose HTTP API, DNS and CLI praetor follows: what Consul clients read as
/// the agent's version (`Config.Version` in `/v1/agent/self`, `HumanVersion` in
/// `/v1/agent/version`, the `build` gossip tag and the `consul-version` node meta), so that
/// clients gating features on a version enable what praetor implements. praetor's own version
/// is reported alongside (`Config.PraetorVersion`, `praetor version`).
pub const CONSUL_API_VERSION: &str = "1.21.4";

/// Errors that stop the agent (the binary prints them and exits non-zero).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Config(String),
    #[error("failed to listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Consensus(#[from] praetor_consensus::ConsensusError),
    #[error("gossip: {0}")]
    Gossip(#[from] praetor_gossip::GossipError),
    #[error("dns: {0}")]
    Dns(String),
    /// The agent stopped itself because it could not go on (e.g. retry join exhausted).
    #[error("{0}")]
    Fatal(String),
}

/// State shared by the agent's tasks.
pub(crate) struct Shared {
    pub config: Config,
    pub node_id: String,
    pub rpc: Rpc,
    pub consensus: Option<Consensus>,
    pub lan: Pool,
    /// The WAN pool (servers with `ports.serf_wan` enabled).
    pub wan: Option<Pool>,
    /// The server tags of the WAN pool (also used by network area pools).
    pub wan_tags: BTreeMap<String, String>,
    /// Network areas this server takes part in.
    pub areas: areas::Areas,
    /// TLS of the server RPC port (`tls.internal_rpc`), when configured.
    pub rpc_tls: Option<praetor_tls::RpcTls>,
    /// TLS of the HTTPS API (`tls.https`), when configured.
    pub https_tls: Option<praetor_tls::HttpsTls>,
    pub lan_coords: Arc<coordinates::Coordinates>,
    pub wan_coords: Arc<coordinates::Coordinates>,
    /// Set when the agent stops itself for a reason that must make it exit non-zero.
    pub exit_error: Mutex<Option<String>>,
    pub local: Mutex<LocalState>,
    /// Check ids whose definition came from config files (replaced on reload).
    pub config_checks: Mutex<Vec<String>>,
    pub config_services: Mutex<Vec<String>>,
    pub check_tasks: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Carries the id of a TTL check each time it is updated.
    pub ttl_updates: broadcast::Sender<String>,
    /// Wakes anti-entropy.
    pub sync_now: Notify,
    /// Flips to true when the agent must stop.
    pub shutdown: watch::Sender<bool>,
    pub started: Instant,
    pub http_addrs: Mutex<Vec<SocketAddr>>,
    /// The policy slots (WebAssembly components).
    pub plugins: praetor_plugin_host::PluginHost,
    /// Slots currently loaded from `plugin` blocks (the others run their built-ins).
    pub plugin_slots: Mutex<std::collections::BTreeSet<String>>,
    /// The user events this agent kept (`/v1/event/list`).
    pub events: events::EventBuffer,
    /// The intentions the `intentions` slot decides with.
    pub intentions: mesh::Intentions,
    /// Leaf certificates issued for local callers.
    pub leaves: leaf::Leaves,
}

impl Shared {
    /// Records a check result; a change wakes anti-entropy.
    pub fn update_check(&self, id: &str, status: CheckStatus, output: String) {
        let changed = self
            .local
            .lock()
            .map(|mut l| l.set_status(id, status, &output))
            .ok()
            .flatten();
        if changed == Some(true) {
            tracing::debug!(check = id, status = status.as_str(), "check status changed");
            self.sync_now.notify_one();
        }
    }

    /// The worst status among a local service's checks (passing when it has none).
    pub fn local_service_status(&self, service_id: &str) -> CheckStatus {
        let Ok(l) = self.local.lock() else {
            return CheckStatus::Critical;
        };
        let mut worst = CheckStatus::Passing;
        for c in l
            .checks
            .values()
            .filter(|c| c.check.service_id == service_id)
        {
            worst = match (worst, c.check.status) {
                (_, CheckStatus::Critical) | (CheckStatus::Critical, _) => CheckStatus::Critical,
                (_, CheckStatus::Maintenance) | (CheckStatus::Maintenance, _) => {
                    CheckStatus::Critical
                }
                (_, CheckStatus::Warning) | (CheckStatus::Warning, _) => CheckStatus::Warning,
                _ => CheckStatus::Passing,
            };
        }
        worst
    }

    /// This agent's node as it should appear in the catalog.
    pub fn node_registration(&self) -> Node {
        let c = &self.config;
        let lan = c.advertise_addr.to_string();
        let wan = c.advertise_addr_wan.to_string();
        let mut tagged = BTreeMap::new();
        tagged.insert("lan".to_string(), lan.clone());
        tagged.insert("wan".to_string(), wan.clone());
        tagged.insert(
            if c.advertise_addr.is_ipv4() {
                "lan_ipv4"
            } else {
                "lan_ipv6"
            }
            .to_string(),
            lan.clone(),
        );
        tagged.insert(
            if c.advertise_addr_wan.is_ipv4() {
                "wan_ipv4"
            } else {
                "wan_ipv6"
            }
            .to_string(),
            wan,
        );
        Node {
            id: self.node_id.clone(),
            node: c.node_name.clone(),
            address: lan,
            datacenter: c.datacenter.clone(),
            tagged_addresses: tagged,
            meta: self.node_meta(),
            ..Default::default()
        }
    }

    /// The node meta registered in the catalog: Consul's own keys (`consul-network-segment`,
    /// `consul-version`), then the configured `node_meta`.
    pub fn node_meta(&self) -> BTreeMap<String, String> {
        let mut meta = BTreeMap::from([
            ("consul-network-segment".to_string(), String::new()),
            ("consul-version".to_string(), CONSUL_API_VERSION.to_string()),
        ]);
        meta.extend(self.config.node_meta.clone());
        meta
    }

    /// Registers a service, and its sidecar when it asks for one (`connect.sidecar_service`):
    /// the sidecar is expanded first so that a refused sidecar registers nothing.
    pub fn register_service(
        self: &Arc<Self>,
        def: ServiceDefinition,
        replace_checks: bool,
    ) -> Result<(), String> {
        let sidecar_id = mesh::sidecar_id(&def.id);
        let (used, current) = match self.local.lock() {
            Ok(l) => (
                l.services
                    .values()
                    .filter(|s| s.id != sidecar_id)
                    .map(|s| s.port)
                    .collect::<Vec<_>>(),
                l.services.get(&sidecar_id).map(|s| s.port),
            ),
            Err(_) => (Vec::new(), None),
        };
        let sidecar = mesh::expand_sidecar(&def, self.config.ports.sidecar, &used, current)?;
        self.add_service(def, replace_checks);
        if let Some(s) = sidecar {
            self.add_service(s, replace_checks);
        }
        Ok(())
    }

    /// Adds a service and its checks to the local state and starts the checks.
    pub fn add_service(self: &Arc<Self>, def: ServiceDefinition, replace_checks: bool) {
        let service = Service {
            id: def.id.clone(),
            service: def.name.clone(),
            tags: def.tags.clone(),
            address: def.address.clone(),
            port: def.port,
            meta: def.meta.clone(),
            tagged_addresses: def
                .tagged_addresses
                .iter()
                .map(|(k, (a, p))| {
                    (
                        k.clone(),
                        ServiceAddress {
                            address: a.clone(),
                            port: *p,
                        },
                    )
                })
                .collect(),
            enable_tag_override: def.enable_tag_override,
            weights: Weights {
                passing: def.weights.0,
                warning: def.weights.1,
            },
            kind: def.kind.clone(),
            proxy: def
                .proxy
                .as_ref()
                .map(praetor_mesh::registration::service_proxy),
            connect_native: def.connect_native,
            ..Default::default()
        };
        let many = def.checks.len() > 1;
        let mut new_checks = Vec::new();
        for (i, mut c) in def.checks.into_iter().enumerate() {
            // Consul's ids and names for service checks defined inline.
            if c.id.is_empty() || c.id == c.name {
                c.id = if many {
                    format!("service:{}:{}", def.id, i + 1)
                } else {
                    format!("service:{}", def.id)
                };
            }
            if c.name.is_empty() {
                c.name = format!("Service '{}' check", def.name);
            }
            c.service_id = Some(def.id.clone());
            new_checks.push(c);
        }
        if let Ok(mut l) = self.local.lock() {
            if replace_checks {
                let stale: Vec<String> = l
                    .checks
                    .values()
                    .filter(|c| {
                        c.check.service_id == def.id
                            && !new_checks.iter().any(|n| n.id == c.check.check_id)
                    })
                    .map(|c| c.check.check_id.clone())
                    .collect();
                for id in stale {
                    l.remove_check(&id);
                    self.stop_check(&id);
                }
            }
            l.add_service(service);
        }
        for c in new_checks {
            self.add_check(c);
        }
        self.sync_now.notify_one();
    }

    /// Adds (or replaces) a check and starts running it.
    pub fn add_check(self: &Arc<Self>, def: CheckDefinition) {
        let status = match def.status.as_deref() {
            Some(s) => CheckStatus::parse(s).unwrap_or(CheckStatus::Critical),
            None => CheckStatus::Critical,
        };
        let (check_type, interval, timeout) = match &def.kind {
            CheckKind::Ttl(_) => ("ttl", String::new(), String::new()),
            CheckKind::Http { .. } => ("http", fmt_dur(def.interval), fmt_dur(def.timeout)),
            CheckKind::Tcp(_) => ("tcp", fmt_dur(def.interval), fmt_dur(def.timeout)),
            CheckKind::Script(_) => ("script", fmt_dur(def.interval), fmt_dur(def.timeout)),
            CheckKind::Alias(_) => ("alias", String::new(), String::new()),
        };
        let check = HealthCheck {
            node: self.config.node_name.clone(),
            check_id: def.id.clone(),
            name: def.name.clone(),
            status,
            notes: def.notes.clone(),
            output: String::new(),
            service_id: def.service_id.clone().unwrap_or_default(),
            check_type: check_type.to_string(),
            interval,
            timeout,
            ..Default::default()
        };
        let id = def.id.clone();
        self.stop_check(&id);
        if let Ok(mut l) = self.local.lock() {
            l.add_check(LocalCheck {
                check,
                def: Some(def.clone()),
            });
        }
        let task = checks::spawn(self.clone(), def);
        if let Ok(mut t) = self.check_tasks.lock() {
            t.insert(id, task);
        }
        self.sync_now.notify_one();
    }

    pub fn stop_check(&self, id: &str) {
        if let Some(t) = self.check_tasks.lock().ok().and_then(|mut t| t.remove(id)) {
            t.abort();
        }
    }

    /// Removes a service and its checks; false if unknown.
    pub fn remove_service(&self, id: &str) -> bool {
        // A parent takes the sidecar it registered with it.
        let sidecar = mesh::sidecar_id(id);
        let owned = self.local.lock().ok().is_some_and(|l| {
            l.services.get(&sidecar).is_some_and(|s| {
                s.proxy
                    .as_ref()
                    .is_some_and(|p| p.destination_service_id == id)
            })
        });
        if owned {
            self.remove_service(&sidecar);
        }
        let removed = self
            .local
            .lock()
            .ok()
            .and_then(|mut l| l.remove_service(id));
        match removed {
            Some(checks) => {
                for c in checks {
                    self.stop_check(&c);
                }
                self.sync_now.notify_one();
                true
            }
            None => false,
        }
    }

    pub fn remove_check(&self, id: &str) -> bool {
        let removed = self
            .local
            .lock()
            .map(|mut l| l.remove_check(id))
            .unwrap_or(false);
        if removed {
            self.stop_check(id);
            self.sync_now.notify_one();
        }
        removed
    }

    /// Puts the node in maintenance mode (a critical `_node_maintenance` check) or takes it
    /// out. Idempotent, as in Consul.
    pub fn set_node_maintenance(&self, enable: bool, reason: &str) {
        let check = maintenance_check(
            local::NODE_MAINTENANCE.to_string(),
            "Node Maintenance Mode",
            reason,
            local::NODE_MAINTENANCE_REASON,
            String::new(),
        );
        self.set_maintenance(check, enable);
    }

    /// Puts one local service in maintenance mode (`_service_maintenance:<id>`) or takes it
    /// out; false if the service is unknown.
    pub fn set_service_maintenance(&self, service_id: &str, enable: bool, reason: &str) -> bool {
        let known = self
            .local
            .lock()
            .map(|l| l.services.contains_key(service_id))
            .unwrap_or(false);
        if !known {
            return false;
        }
        let check = maintenance_check(
            local::service_maintenance_id(service_id),
            "Service Maintenance Mode",
            reason,
            local::SERVICE_MAINTENANCE_REASON,
            service_id.to_string(),
        );
        self.set_maintenance(check, enable);
        true
    }

    fn set_maintenance(&self, mut check: HealthCheck, enable: bool) {
        check.node = self.config.node_name.clone();
        let id = check.check_id.clone();
        if enable {
            let added = self
                .local
                .lock()
                .map(|mut l| {
                    let new = !l.checks.contains_key(&id);
                    if new {
                        l.add_check(LocalCheck { check, def: None });
                    }
                    new
                })
                .unwrap_or(false);
            if added {
                tracing::info!(check = %id, "maintenance mode enabled");
                self.sync_now.notify_one();
            }
        } else if self.remove_check(&id) {
            tracing::info!(check = %id, "maintenance mode disabled");
        }
    }

    /// Registers the services and checks of the config files (again, on reload).
    pub fn load_config_definitions(self: &Arc<Self>, cfg: &Config) {
        let old_services = std::mem::take(
            &mut *self
                .config_services
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let old_checks =
            std::mem::take(&mut *self.config_checks.lock().unwrap_or_else(|e| e.into_inner()));
        for id in old_services
            .iter()
            .filter(|id| !cfg.services.iter().any(|s| &s.id == *id))
        {
            self.remove_service(id);
        }
        for id in old_checks
            .iter()
            .filter(|id| !cfg.checks.iter().any(|c| &c.id == *id))
        {
            self.remove_check(id);
        }
        for s in &cfg.services {
            if let Err(e) = self.register_service(s.clone(), true) {
                tracing::error!(service = %s.id, error = %e, "service definition refused");
            }
        }
        for c in &cfg.checks {
            self.add_check(c.clone());
        }
        *self
            .config_services
            .lock()
            .unwrap_or_else(|e| e.into_inner()) =
            cfg.services.iter().map(|s| s.id.clone()).collect();
        *self.config_checks.lock().unwrap_or_else(|e| e.into_inner()) =
            cfg.checks.iter().map(|c| c.id.clone()).collect();
    }

    /// The local datacenter's servers among the gossip members.
    pub fn servers(&self) -> Vec<ServerEntry> {
        self.lan
            .members()
            .into_iter()
            .filter(|m| {
                m.status == MemberStatus::Alive && is_local_server(&m.tags, &self.config.datacenter)
            })
            .filter_map(|m| {
                let port: u16 = m.tags.get("port")?.parse().ok()?;
                Some(ServerEntry {
                    name: m.name.clone(),
                    rpc_addr: SocketAddr::new(m.addr, port),
                })
            })
            .collect()
    }

    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Stops the agent with an error (the process exits non-zero).
    pub fn fail(&self, message: &str) {
        tracing::error!("{message}");
        if let Ok(mut e) = self.exit_error.lock() {
            e.get_or_insert_with(|| message.to_string());
        }
        self.request_shutdown();
    }
}

fn fmt_dur(d: Option<Duration>) -> String {
    d.map(praetor_config::format_duration).unwrap_or_default()
}

/// True for the gossip tags of a server of datacenter `dc`.
pub(crate) fn is_local_server(tags: &BTreeMap<String, String>, dc: &str) -> bool {
    tags.get("role").map(String::as_str) == Some("consul")
        && tags.get("dc").map(String::as_str) == Some(dc)
}

/// The raft id derived from a node id (a UUID): its first 64 bits.
pub(crate) fn raft_id(node_id: &str) -> Option<u64> {
    let hex: String = node_id
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .take(16)
        .collect();
    if hex.len() < 16 {
        return None;
    }
    u64::from_str_radix(&hex, 16).ok()
}

/// The node id: from config, else `<data_dir>/node-id` (created once, atomically), else
/// random (`-dev`). An unreadable or invalid file is an error, never silently replaced: the
/// node's identity (and a server's raft id) must not change behind the operator's back.
fn node_id(cfg: &Config) -> Result<String, AgentError> {
    if let Some(id) = &cfg.node_id {
        return Ok(id.clone());
    }
    let Some(dir) = &cfg.data_dir else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    let dd = |e| AgentError::DataDir {
        path: dir.display().to_string(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(dd)?;
    let path = dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if raft_id(s.trim()).is_some() => Ok(s.trim().to_string()),
        Ok(s) => Err(AgentError::DataDir {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "node ID {:?} is invalid (remove the file to get a new identity)",
                    s.trim()
                ),
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4().to_string();
            persist::write_atomically(dir, "node-id", id.as_bytes()).map_err(dd)?;
            Ok(id)
        }
        Err(e) => Err(AgentError::DataDir {
            path: path.display().to_string(),
            source: e,
        }),
    }
}

fn gossip_tags(cfg: &Config, node_id: &str) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    t.insert(
        "role".into(),
        if cfg.server { "consul" } else { "node" }.into(),
    );
    t.insert("dc".into(), cfg.datacenter.clone());
    t.insert("id".into(), node_id.to_string());
    t.insert("vsn".into(), "2".into());
    t.insert("vsn_min".into(), "2".into());
    t.insert("vsn_max".into(), "3".into());
    t.insert(
        "build".into(),
        format!("{CONSUL_API_VERSION}:praetor-{VERSION}"),
    );
    t.insert("segment".into(), String::new());
    if cfg.server {
        t.insert("port".into(), cfg.ports.server.to_string());
        t.insert("raft_vsn".into(), "3".into());
        if cfg.bootstrap_expect > 0 {
            t.insert("expect".into(), cfg.bootstrap_expect.to_string());
        }
        if cfg.bootstrap {
            t.insert("bootstrap".into(), "1".into());
        }
    }
    t
}

/// Resolves `host[:port]` join addresses (port defaults to `default_port`).
pub(crate) async fn resolve_join(addr: &str, default_port: u16) -> Vec<SocketAddr> {
    let addr = addr.trim();
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return vec![sa];
    }
    if let Ok(ip) = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return vec![SocketAddr::new(ip, default_port)];
    }
    let with_port = if addr.contains(':') {
        addr.to_string()
    } else {
        format!("{addr}:{default_port}")
    };
    match tokio::net::lookup_host(with_port).await {
        Ok(it) => it.collect(),
        Err(e) => {
            tracing::warn!(addr, error = %e, "cannot resolve join address");
            Vec::new()
        }
    }
}

/// Runs the agent until it is told to stop (signal, `leave`). Returns after a clean shutdown.
pub async fn run(config: Config) -> Result<(), AgentError> {
    let node_id = node_id(&config)?;
    let gossip_key = match &config.encrypt {
        Some(k) => Some(
            praetor_gossip::decode_key(k)
                .map_err(|e| AgentError::Config(format!("encrypt: {e}")))?,
        ),
        None => None,
    };
    let rpc_tls = praetor_tls::RpcTls::load(&config.tls.internal_rpc, &config.domain)
        .map_err(|e| AgentError::Config(format!("tls.internal_rpc: {e}")))?;
    let https_tls = match config.ports.https {
        Some(_) => praetor_tls::HttpsTls::load(&config.tls.https)
            .map_err(|e| AgentError::Config(format!("tls.https: {e}")))?,
        None => None,
    };
    // (`ports.https` without a certificate is refused when the config is built.)
    let lan_bind = SocketAddr::new(config.bind_addr, config.ports.serf_lan);
    let mut pool_cfg = PoolConfig::new(config.node_name.clone(), lan_bind, Profile::Lan);
    pool_cfg.advertise = SocketAddr::new(config.advertise_addr, config.ports.serf_lan);
    let tags = gossip_tags(&config, &node_id);
    pool_cfg.tags = tags.clone();
    if let (true, Some(port)) = (config.server, config.ports.serf_wan) {
        // LAN only: where flood join finds this server's WAN pool.
        pool_cfg
            .tags
            .insert("wan_join_port".into(), port.to_string());
    }
    pool_cfg.encrypt_key = gossip_key;
    pool_cfg.timing = Some(wan::timing(
        praetor_gossip::Timing::lan(),
        &config.gossip_lan,
    ));
    pool_cfg.keyring_file = config
        .data_dir
        .as_ref()
        .map(|d| d.join("serf").join("local.keyring"));

    // Servers: state, raft and the RPC listener come first, so peers can reach us as soon as
    // gossip announces us.
    let (consensus, rpc, rpc_listener) = if config.server {
        let store = Arc::new(SharedStore::new(praetor_state::Store::new()));
        let rid = raft_id(&node_id)
            .ok_or_else(|| AgentError::Config(format!("node_id {node_id:?} is not a UUID")))?;
        let rpc_bind = SocketAddr::new(config.bind_addr, config.ports.server);
        let listener = bind_tcp("server RPC", rpc_bind).await?;
        let cc = ConsensusConfig {
            node_id: rid,
            node: RaftNode {
                name: config.node_name.clone(),
                rpc_addr: SocketAddr::new(config.advertise_addr, config.ports.server).to_string(),
            },
            dir: config.data_dir.as_ref().map(|d| d.join("raft")),
            raft_multiplier: config.raft_multiplier,
            snapshots: praetor_consensus::Snapshots {
                threshold: config.raft_snapshot_threshold,
                interval: config.raft_snapshot_interval,
                trailing_logs: config.raft_trailing_logs,
            },
            dialer: Some(raft_dialer(rpc_tls.clone(), &config.datacenter)),
        };
        let consensus = Consensus::start(cc, store).await?;
        let rpc = Rpc::server(&config.datacenter, consensus.clone());
        (Some(consensus), rpc, Some(listener))
    } else {
        (None, Rpc::client(&config.datacenter), None)
    };

    let host_cfg = plugins::host_config(&config.plugins);
    // Cheap: built-in components are compiled when their slot is first used.
    let plugin_host = praetor_plugin_host::PluginHost::new(host_cfg)
        .map_err(|e| AgentError::Config(format!("plugin host: {e}")))?;
    let plugin_slots = Mutex::new(std::collections::BTreeSet::new());
    plugins::apply(&plugin_host, &config.plugins, &plugin_slots)
        .await
        .map_err(AgentError::Config)?;

    let lan = Pool::start(pool_cfg).await?;
    let wan = wan::start_pool(&config, tags.clone(), gossip_key).await?;
    rpc.set_tls(rpc_tls.clone());
    rpc.set_multi_hop(config.multi_hop_routing);
    acl::configure(&rpc, &config);
    rpc.update_agent_tokens(|t| *t = acl::start_tokens(&config));
    rpc.set_policy(Arc::new(plugins::RouterSlot(plugin_host.clone())));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        node_id: node_id.clone(),
        rpc: rpc.clone(),
        consensus: consensus.clone(),
        lan: lan.clone(),
        wan: wan.clone(),
        wan_tags: tags,
        areas: areas::Areas::default(),
        rpc_tls: rpc_tls.clone(),
        https_tls,
        lan_coords: Arc::new(coordinates::Coordinates::new(&config.node_name)),
        wan_coords: Arc::new(coordinates::Coordinates::new(&wan::wan_name(
            &config.node_name,
            &config.datacenter,
        ))),
        exit_error: Mutex::new(None),
        local: Mutex::new(LocalState::default()),
        config_checks: Mutex::new(Vec::new()),
        config_services: Mutex::new(Vec::new()),
        check_tasks: Mutex::new(HashMap::new()),
        ttl_updates: broadcast::channel(1024).0,
        sync_now: Notify::new(),
        shutdown: shutdown_tx,
        started: Instant::now(),
        http_addrs: Mutex::new(Vec::new()),
        plugins: plugin_host,
        plugin_slots,
        events: events::EventBuffer::default(),
        intentions: mesh::Intentions::default(),
        leaves: leaf::Leaves::default(),
        config,
    });
    let cfg = &shared.config;
    rpc.set_local_ops(Arc::new(keyring::AgentOps(Arc::downgrade(&shared))));

    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    if let (Some(c), Some(listener)) = (&consensus, rpc_listener) {
        let raft_svc = tonic::service::interceptor::InterceptedService::new(
            c.service().into_server(),
            raft_authorizer(rpc_tls.clone(), cfg.datacenter.clone()),
        );
        let router = tonic::transport::Server::builder()
            .add_service(raft_svc)
            .add_service(rpc.service());
        let mut stop = shutdown_rx.clone();
        let (incoming, gossip_streams) = praetor_tls::serve_rpc_port(
            listener,
            rpc_tls.clone(),
            praetor_tls::MuxLimits::from_config(&cfg.limits),
        );
        tasks.push(tokio::spawn(areas::accept_streams(
            shared.clone(),
            gossip_streams,
        )));
        tasks.push(tokio::spawn(areas::run(shared.clone())));
        tasks.push(tokio::spawn(async move {
            let res = router
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = res {
                tracing::error!(error = %e, "server RPC listener failed");
            }
        }));
        tasks.push(tokio::spawn(leader::run(shared.clone(), c.clone())));
    }

    // HTTP API on every client address.
    let state = praetor_api::AppState {
        rpc: rpc.clone().into(),
        agent: Arc::new(api_impl::AgentHandle(shared.clone())),
        http: Default::default(),
    };
    let app = praetor_api::router(state);
    // The web UI (`ui_config { enabled = true }`, `-ui`, on in `-dev`), on HTTP and HTTPS alike.
    let app = if cfg.ui {
        app.merge(praetor_ui::routes())
    } else {
        app
    };
    let mut http_addrs = Vec::new();
    if let Some(port) = cfg.ports.http {
        for ip in &cfg.client_addrs {
            let addr = SocketAddr::new(*ip, port);
            let listener = bind_tcp("HTTP", addr).await?;
            http_addrs.push(listener.local_addr().unwrap_or(addr));
            let app = app.clone();
            let mut stop = shutdown_rx.clone();
            tasks.push(tokio::spawn(async move {
                // The caller's address reaches handlers (plugin loads from loopback only).
                let app = app.into_make_service_with_connect_info::<SocketAddr>();
                let res = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = res {
                    tracing::error!(error = %e, "HTTP listener failed");
                }
            }));
        }
    }
    // HTTPS API on every client address (`ports.https`, `tls.https`).
    if let (Some(port), Some(tls)) = (cfg.ports.https, shared.https_tls.clone()) {
        for ip in &cfg.client_addrs {
            let addr = SocketAddr::new(*ip, port);
            let listener = bind_tcp("HTTPS", addr).await?;
            tasks.push(tokio::spawn(https::serve(
                listener,
                app.clone(),
                tls.clone(),
                shutdown_rx.clone(),
            )));
        }
    }
    *shared.http_addrs.lock().unwrap_or_else(|e| e.into_inner()) = http_addrs;

    // DNS on every client address.
    let dns = match cfg.ports.dns {
        Some(port) => {
            let dns_cfg = praetor_dns::DnsConfig {
                bind: cfg
                    .client_addrs
                    .iter()
                    .map(|ip| SocketAddr::new(*ip, port))
                    .collect(),
                domain: cfg.domain.clone(),
                datacenter: cfg.datacenter.clone(),
                node_ttl: cfg.dns.node_ttl.as_secs() as u32,
                service_ttl: cfg
                    .dns
                    .service_ttl
                    .get("*")
                    .map(|d| d.as_secs() as u32)
                    .unwrap_or(0),
                a_record_limit: cfg.dns.a_record_limit as usize,
                udp_answer_limit: cfg.dns.udp_answer_limit as usize,
            };
            let backend = Arc::new(dns_backend::DnsBackend {
                rpc: rpc.clone(),
                only_passing: cfg.dns.only_passing,
                plugins: shared.plugins.clone(),
                translate_wan_addrs: cfg.translate_wan_addrs,
            });
            Some(
                praetor_dns::DnsServer::start(dns_cfg, backend)
                    .await
                    .map_err(|e| AgentError::Dns(e.to_string()))?,
            )
        }
        None => None,
    };

    banner(
        &shared,
        dns.as_ref().map(|d| d.local_addrs()).unwrap_or_default(),
    );

    shared.load_config_definitions(cfg);
    let (services, checks) = persist::restore(&shared);
    if services + checks > 0 {
        tracing::info!(
            services,
            checks,
            "restored services and checks registered through the API"
        );
    }
    tasks.push(tokio::spawn(sync::run(shared.clone())));
    tasks.push(tokio::spawn(events::run(shared.clone())));
    tasks.push(tokio::spawn(mesh::watch(shared.clone())));
    tasks.push(tokio::spawn(watch_servers(shared.clone())));
    tasks.push(tokio::spawn(join_loop(shared.clone())));
    tasks.push(tokio::spawn(coordinates::track(
        lan.clone(),
        shared.lan_coords.clone(),
    )));
    tasks.push(tokio::spawn(coordinates::sync(shared.clone())));
    if let Some(w) = &wan {
        tasks.push(tokio::spawn(coordinates::track(
            w.clone(),
            shared.wan_coords.clone(),
        )));
        tasks.push(tokio::spawn(wan::watch(shared.clone(), w.clone())));
        tasks.push(tokio::spawn(wan::flood(shared.clone(), w.clone())));
    }
    tasks.push(tokio::spawn(wan::retry_join(shared.clone())));

    wait_for_stop(&shared, shutdown_rx).await;
    // Stopped by a signal: tell every task (the leader loop must not touch raft while it
    // shuts down below, or openraft logs errors for calls into a stopped core).
    let _ = shared.shutdown.send(true);

    tracing::info!("shutting down");
    if let Some(d) = dns {
        d.shutdown().await;
    }
    for t in shared
        .check_tasks
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default()
        .into_values()
    {
        t.abort();
    }
    if let Some(w) = &wan {
        w.shutdown().await;
    }
    for p in shared.areas.all() {
        p.shutdown().await;
    }
    lan.shutdown().await;
    if let Some(c) = &consensus {
        c.shutdown().await;
    }
    for t in tasks {
        t.abort();
    }
    let exit_error = shared
        .exit_error
        .lock()
        .map(|mut e| e.take())
        .unwrap_or_default();
    match exit_error {
        Some(message) => Err(AgentError::Fatal(message)),
        None => Ok(()),
    }
}

/// How raft reaches its peers: gRPC over the RPC port, TLS when configured (the peers are
/// servers of this datacenter).
fn raft_dialer(tls: Option<praetor_tls::RpcTls>, dc: &str) -> praetor_consensus::Dialer {
    let dc = dc.to_string();
    Arc::new(move |addr: &str| {
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| format!("bad raft peer address {addr:?}"))?;
        Ok(praetor_tls::grpc_channel(
            tls.as_ref(),
            addr,
            &dc,
            praetor_rpc::LOCAL_CONNECT_TIMEOUT,
            Some(praetor_rpc::LOCAL_KEEPALIVE),
        ))
    })
}

/// With `verify_server_hostname`, raft accepts only certificates for `server.<dc>.<domain>`
/// of this datacenter (Consul's `AuthorizeServerConn`).
#[allow(clippy::result_large_err)]
fn raft_authorizer(
    tls: Option<praetor_tls::RpcTls>,
    dc: String,
) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |req: tonic::Request<()>| {
        let Some(tls) = &tls else {
            return Ok(req);
        };
        if !tls.verify_server_hostname() {
            return Ok(req);
        }
        match req.extensions().get::<praetor_tls::PeerInfo>() {
            Some(peer) if peer.is_server_of(&dc, tls.domain()) => Ok(req),
            peer => {
                tracing::warn!(remote = ?peer.map(|p| p.remote), "refusing raft: not a server certificate of this datacenter");
                Err(tonic::Status::permission_denied(format!(
                    "raft requires a certificate for {}",
                    tls.server_name(&dc)
                )))
            }
        }
    }
}

/// Keeps the forwarding point's server list in step with LAN gossip.
async fn watch_servers(shared: Arc<Shared>) {
    let mut events = shared.lan.subscribe();
    loop {
        shared.rpc.set_servers(shared.servers());
        if let Ok(Err(broadcast::error::RecvError::Closed)) =
            tokio::time::timeout(Duration::from_secs(5), events.recv()).await
        {
            return;
        }
    }
}

/// `start_join` once, then `retry_join` until it succeeds (or `retry_max` attempts).
async fn join_loop(shared: Arc<Shared>) {
    let cfg = &shared.config;
    let port = cfg.ports.serf_lan;
    for addr in &cfg.start_join {
        let addrs = resolve_join(addr, port).await;
        if let Err(e) = shared.lan.join(&addrs, Duration::from_secs(10)).await {
            tracing::warn!(addr, error = %e, "start_join failed");
        }
    }
    if cfg.retry_join.is_empty() {
        return;
    }
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let mut addrs = Vec::new();
        for entry in &cfg.retry_join {
            for a in plugins::expand_join(&shared.plugins, entry).await {
                addrs.extend(resolve_join(&a, port).await);
            }
        }
        let listed = addrs.len();
        addrs.retain(|a| *a != shared.lan.local_addr());
        if listed > 0 && addrs.is_empty() {
            // Consul joins its own address, counts that as done and stops retrying.
            tracing::info!("Join cluster completed: retry_join names only this agent");
            return;
        }
        match shared.lan.join(&addrs, Duration::from_secs(5)).await {
            Ok(n) => {
                tracing::info!(
                    contacted = n,
                    "Join cluster completed. Synced with initial agents"
                );
                return;
            }
            Err(e) => tracing::warn!(attempt, error = %e, "Join cluster failed, will retry"),
        }
        if cfg.retry_max > 0 && attempt >= cfg.retry_max {
            shared.fail("agent: max join retry exhausted, exiting");
            return;
        }
        tokio::time::sleep(cfg.retry_interval).await; // Consul's retry_interval between attempts
    }
}

async fn wait_for_stop(shared: &Arc<Shared>, mut stop: watch::Receiver<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        let _ = stop.wait_for(|s| *s).await;
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("Caught signal: hangup");
                if let Err(e) = api_impl::reload(shared).await {
                    tracing::error!(error = %e, "reload failed");
                }
            }
            _ = int.recv() => {
                tracing::info!("Caught signal: interrupt");
                if !shared.config.skip_leave_on_interrupt {
                    graceful_leave(shared).await;
                }
                return;
            }
            _ = term.recv() => {
                tracing::info!("Caught signal: terminated");
                if shared.config.leave_on_terminate {
                    graceful_leave(shared).await;
                }
                return;
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

pub(crate) async fn graceful_leave(shared: &Shared) {
    tracing::info!("Gracefully shutting down agent...");
    // Consul leaves the WAN (and areas) first, then the LAN.
    for p in shared.areas.all() {
        let _ = p.leave(Duration::from_secs(2)).await;
    }
    if let Some(w) = &shared.wan
        && let Err(e) = w.leave(Duration::from_secs(5)).await
    {
        tracing::warn!(error = %e, "WAN leave failed");
    }
    if let Err(e) = shared.lan.leave(Duration::from_secs(5)).await {
        tracing::warn!(error = %e, "leave failed");
    }
}

fn banner(shared: &Shared, dns_addrs: Vec<SocketAddr>) {
    let c = &shared.config;
    let http = shared
        .http_addrs
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_else(|| "-1".into());
    println!("==> Starting Praetor agent...");
    println!("           Version: '{VERSION}'");
    println!("           Node ID: '{}'", shared.node_id);
    println!("         Node name: '{}'", c.node_name);
    println!("        Datacenter: '{}' (Segment: '<all>')", c.datacenter);
    println!(
        "            Server: {} (Bootstrap: {})",
        c.server, c.bootstrap
    );
    println!(
        "       Client Addr: {:?} (HTTP: {}, HTTPS: -1, gRPC: -1, DNS: {})",
        c.client_addrs,
        port(c.ports.http),
        port(c.ports.dns)
    );
    println!(
        "      Cluster Addr: {} (LAN: {}, WAN: {})",
        c.advertise_addr,
        c.ports.serf_lan,
        port(c.ports.serf_wan)
    );
    println!(
        "         Listening: HTTP {http:?}, DNS {dns_addrs:?}, gossip {}",
        shared.lan.local_addr()
    );
    println!(
        "           Encrypt: Gossip: {}, TLS-Outgoing: false, TLS-Incoming: false, Auto-Encrypt-TLS: false",
        c.encrypt.is_some()
    );
    println!();
    println!("==> Log data will now stream in as it occurs:");
    println!();
    tracing::info!(node = %c.node_name, dc = %c.datacenter, server = c.server, "agent started");
}

/// A TCP listener on `addr`; a failure names what it was for (`AgentError::Bind`).
async fn bind_tcp(
    what: &'static str,
    addr: SocketAddr,
) -> Result<tokio::net::TcpListener, AgentError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AgentError::Bind { what, addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_id_from_uuid() {
        assert_eq!(
            raft_id("0123abcd-4567-89ef-0000-000000000000"),
            Some(0x0123abcd456789ef)
        );
        assert_eq!(raft_id("nope"), None);
    }

    #[test]
    fn node_id_is_created_once_and_never_silently_replaced() {
        let dir = std::env::temp_dir().join(format!("praetor-node-id-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let flags = praetor_config::Flags {
            data_dir: Some(dir.clone()),
            ..praetor_config::Flags::default()
        };
        let cfg = praetor_config::load(&flags).unwrap().config;
        let first = node_id(&cfg).unwrap();
        assert_eq!(node_id(&cfg).unwrap(), first, "stable across starts");
        assert!(!dir.join("node-id.tmp").exists());
        std::fs::write(dir.join("node-id"), "not-a-uuid").unwrap();
        let e = node_id(&cfg).unwrap_err().to_string();
        assert!(e.contains("node ID \"not-a-uuid\" is invalid"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.join("node-id")).unwrap(),
            "not-a-uuid",
            "the file is left alone"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
