//! What the HTTP API needs from the local agent (`/v1/agent/*`). The agent crate implements
//! [`AgentApi`]; this crate only turns its answers into Consul's JSON.

use std::collections::BTreeMap;
use std::net::IpAddr;

use praetor_config::{CheckDefinition, ServiceDefinition};
use praetor_state::{CheckStatus, HealthCheck, Service};

/// A gossip member as `/v1/agent/members` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberInfo {
    pub name: String,
    pub addr: IpAddr,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    /// Serf status code: 1 alive, 2 leaving, 3 left, 4 failed.
    pub status: u8,
}

/// The facts `/v1/agent/self` reports.
#[derive(Clone, Debug)]
pub struct AgentSelf {
    pub datacenter: String,
    pub primary_datacenter: String,
    pub node_name: String,
    pub node_id: String,
    pub server: bool,
    /// The Consul API level praetor implements (`Config.Version`).
    pub version: String,
    /// praetor's own version (`Config.PraetorVersion`).
    pub praetor_version: String,
    pub revision: String,
    /// The node meta registered in the catalog (`Meta`).
    pub meta: BTreeMap<String, String>,
    pub member: MemberInfo,
    /// The agent's LAN network coordinate (`Coord`).
    pub coord: praetor_coordinate::Coordinate,
    /// Extra configuration facts for `DebugConfig` (addresses, ports, domain, ...).
    pub debug_config: serde_json::Value,
    /// Sections of `Stats` (agent, raft, serf_lan, runtime, ...).
    pub stats: BTreeMap<String, BTreeMap<String, String>>,
}

/// One metric sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub value: f64,
    pub labels: BTreeMap<String, String>,
    pub help: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Gauge,
    Counter,
}

/// One plugin slot, as `GET /v1/agent/plugins` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginInfo {
    pub slot: String,
    pub world: String,
    pub component: String,
    /// "builtin", "bytes" or the file path.
    pub source: String,
    pub sha256: String,
    pub loaded_at_unix: u64,
    pub calls: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    /// "active", or "reverted: <reason>".
    pub state: String,
}

/// An intention verdict with Consul's reason (`/v1/agent/connect/authorize`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentionVerdict {
    pub allowed: bool,
    /// `Matched L4 intention: ...`, `Matched L7 intention: ...` or
    /// `Default behavior configured by ACLs`.
    pub reason: String,
}

/// A leaf certificate and its key as the agent keeps it (`/v1/agent/connect/ca/leaf/<svc>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafCert {
    pub cert_pem: String,
    pub private_key_pem: String,
    pub serial_hex: String,
    pub spiffe_uri: String,
    /// Unix seconds.
    pub valid_after: u64,
    pub valid_before: u64,
    pub create_index: u64,
    pub modify_index: u64,
    /// Answered from the agent's cache.
    pub cache_hit: bool,
}

/// Errors of agent operations, mapped to 404 / 400 / 500.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// 403 with Consul's permission-denied text.
    #[error("{0}")]
    Forbidden(String),
    /// 429 (`Rate limit reached, try again later`).
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Internal(String),
}

impl From<AgentError> for crate::error::ApiError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::NotFound(m) => crate::error::ApiError::NotFound(m),
            AgentError::BadRequest(m) => crate::error::ApiError::BadRequest(m),
            AgentError::Forbidden(m) => crate::error::ApiError::Forbidden(m),
            AgentError::TooManyRequests(m) => crate::error::ApiError::TooManyRequests(m),
            AgentError::Internal(m) => crate::error::ApiError::Internal(m),
        }
    }
}

/// The local agent as the HTTP API sees it.
#[async_trait::async_trait]
pub trait AgentApi: Send + Sync + 'static {
    fn node_name(&self) -> String;
    fn self_info(&self) -> AgentSelf;
    fn members(&self, wan: bool) -> Result<Vec<MemberInfo>, AgentError>;
    /// Joins gossip through `addr`; returns how many nodes were contacted.
    async fn join(&self, addr: &str, wan: bool) -> Result<usize, AgentError>;
    async fn leave(&self) -> Result<(), AgentError>;
    async fn force_leave(&self, node: &str, prune: bool, wan: bool) -> Result<(), AgentError>;
    fn services(&self) -> Vec<Service>;
    fn checks(&self) -> Vec<HealthCheck>;
    async fn register_service(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
    ) -> Result<(), AgentError>;
    async fn deregister_service(&self, id: &str) -> Result<(), AgentError>;
    async fn register_check(&self, def: CheckDefinition) -> Result<(), AgentError>;
    async fn deregister_check(&self, id: &str) -> Result<(), AgentError>;
    /// Sets a TTL check's status (pass/warn/fail/update).
    async fn update_ttl(
        &self,
        id: &str,
        status: CheckStatus,
        output: Option<String>,
    ) -> Result<(), AgentError>;
    async fn reload(&self) -> Result<(), AgentError>;
    /// Node maintenance mode on or off (`reason` empty = Consul's default text).
    async fn node_maintenance(&self, enable: bool, reason: &str) -> Result<(), AgentError>;
    /// A local service's maintenance mode on or off; unknown service = `NotFound`.
    async fn service_maintenance(
        &self,
        id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), AgentError>;
    /// The user events this agent kept, oldest first, and the list's index.
    fn events(&self) -> (Vec<praetor_rpc::UserEvent>, u64);
    /// Waits until the event list's index differs from `index` or `wait` is over.
    async fn wait_events(&self, index: u64, wait: std::time::Duration);
    fn metrics(&self) -> Vec<Metric>;
    /// Whether `translate_wan_addrs` is on (adds `X-Consul-Translate-Addresses: true`).
    fn translate_enabled(&self) -> bool;
    /// Presents one address through the translator slot.
    fn translate(&self, query: &praetor_policy::AddressQuery) -> praetor_policy::Presented;
    fn plugins(&self) -> Vec<PluginInfo>;
    /// The agent's tokens changed through `/v1/agent/token/<kind>`: persist them
    /// (`enable_token_persistence`) and sync the local state with the new agent token.
    fn agent_tokens_changed(&self) -> Result<(), AgentError> {
        Ok(())
    }
    /// `enable_remote_plugin_load`: with ACLs off, plugins may be loaded from any address.
    fn remote_plugin_load(&self) -> bool {
        false
    }
    /// Loads a component into a slot (hot swap); refused loads leave the slot as it was.
    async fn load_plugin(
        &self,
        slot: &str,
        bytes: Vec<u8>,
        config_json: &str,
    ) -> Result<PluginInfo, AgentError>;
    /// Puts a slot's built-in back.
    async fn revert_plugin(&self, slot: &str) -> Result<PluginInfo, AgentError>;
    /// May `source` connect to `destination` (L4)? Decided by the `intentions` plugin slot
    /// over the intentions this agent last saw.
    /// With `http`, an L7 decision (the request's method, path and headers against the
    /// intentions' permissions).
    fn authorize_intention(
        &self,
        source: &str,
        destination: &str,
        http: Option<praetor_policy::HttpRequest>,
    ) -> IntentionVerdict;
    /// A leaf certificate for `service`, signed by the datacenter's CA with `token`, cached
    /// and renewed by the agent. With `min_index`, waits (up to `wait`, default 10 min) for
    /// a certificate with a higher modify index.
    async fn leaf_cert(
        &self,
        service: &str,
        token: String,
        min_index: u64,
        wait: Option<&str>,
    ) -> Result<LeafCert, AgentError>;
}
