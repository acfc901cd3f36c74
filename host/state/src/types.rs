//! Domain types of the catalog, KV store and sessions, mirroring Consul's structs.

use std::collections::BTreeMap;

use praetor_coordinate::Coordinate;
use serde::{Deserialize, Serialize};

use crate::error::StateError;

/// A catalog node (Consul `structs.Node`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub node: String,
    pub address: String,
    pub datacenter: String,
    pub tagged_addresses: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// An address a service is reachable at under a tag (`lan`, `wan`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAddress {
    pub address: String,
    pub port: u16,
}

/// DNS SRV weights of a service instance by health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    pub passing: i32,
    pub warning: i32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// A service instance registered on a node (Consul `structs.NodeService`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub service: String,
    pub tags: Vec<String>,
    pub address: String,
    pub port: u16,
    pub meta: BTreeMap<String, String>,
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    pub enable_tag_override: bool,
    pub weights: Weights,
    pub kind: String,
    pub create_index: u64,
    pub modify_index: u64,
    /// `connect-proxy` and `mesh-gateway` settings (Consul's `Proxy`).
    pub proxy: Option<ServiceProxy>,
    /// `Connect { Native = true }`.
    pub connect_native: bool,
}

/// A mesh proxy's settings (Consul's `ConnectProxyConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProxy {
    pub destination_service_name: String,
    pub destination_service_id: String,
    pub local_service_address: String,
    pub local_service_port: u16,
    /// `""`, `direct` or `transparent`.
    pub mode: String,
    /// Opaque proxy configuration (`Config`), as JSON; empty = none.
    pub config_json: String,
    /// `MeshGateway.Mode`: `""`, `none`, `local`, `remote`.
    pub mesh_gateway_mode: String,
    pub upstreams: Vec<Upstream>,
}

/// One upstream of a proxy (Consul's `Upstream`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// `service` (default) or `prepared_query`.
    pub destination_type: String,
    pub destination_name: String,
    /// Empty = the proxy's datacenter.
    pub datacenter: String,
    pub local_bind_address: String,
    pub local_bind_port: u16,
    pub mesh_gateway_mode: String,
    /// Opaque upstream configuration, as JSON; empty = none.
    pub config_json: String,
}

/// Health of a check (Consul's `api.Health*` strings).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum CheckStatus {
    Passing,
    Warning,
    /// Consul's default status for a new check.
    #[default]
    Critical,
    Maintenance,
}

impl CheckStatus {
    /// Consul's spelling: `passing`, `warning`, `critical`, `maintenance`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckStatus::Passing => "passing",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
            CheckStatus::Maintenance => "maintenance",
        }
    }

    /// Parses Consul's spelling (exact, lowercase).
    pub fn parse(s: &str) -> Result<Self, StateError> {
        match s {
            "passing" => Ok(CheckStatus::Passing),
            "warning" => Ok(CheckStatus::Warning),
            "critical" => Ok(CheckStatus::Critical),
            "maintenance" => Ok(CheckStatus::Maintenance),
            other => Err(StateError::UnknownCheckStatus(other.to_string())),
        }
    }
}

impl std::fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health check on a node, optionally bound to one of its services (Consul `structs.HealthCheck`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub node: String,
    pub check_id: String,
    pub name: String,
    pub status: CheckStatus,
    pub notes: String,
    pub output: String,
    /// Empty for a node-level check.
    pub service_id: String,
    /// Filled from the service on registration.
    pub service_name: String,
    /// Filled from the service on registration.
    pub service_tags: Vec<String>,
    pub check_type: String,
    pub interval: String,
    pub timeout: String,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A KV pair (Consul `structs.DirEntry`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    pub key: String,
    /// Encoded as bytes: the same postcard bytes as a sequence of u8, written in one copy.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    pub flags: u64,
    /// The session holding the lock on this key, if any.
    pub session: Option<String>,
    /// How many times the lock was acquired by a new holder.
    pub lock_index: u64,
    pub create_index: u64,
    pub modify_index: u64,
}

/// What happens to the keys a session holds when the session is invalidated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionBehavior {
    /// Release the locks (Consul's default).
    #[default]
    Release,
    /// Delete the held keys.
    Delete,
}

impl SessionBehavior {
    /// Consul's spelling: `release` or `delete`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionBehavior::Release => "release",
            SessionBehavior::Delete => "delete",
        }
    }

    /// Parses Consul's spelling; the empty string means the default (`release`).
    pub fn parse(s: &str) -> Result<Self, StateError> {
        match s {
            "" | "release" => Ok(SessionBehavior::Release),
            "delete" => Ok(SessionBehavior::Delete),
            other => Err(StateError::InvalidSessionBehavior(other.to_string())),
        }
    }
}

/// A service-level check a session is bound to (Consul `structs.ServiceCheck`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCheckRef {
    pub id: String,
    pub namespace: String,
}

/// A session (Consul `structs.Session`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub name: String,
    pub node: String,
    pub node_checks: Vec<String>,
    pub service_checks: Vec<ServiceCheckRef>,
    pub lock_delay_ms: u64,
    pub behavior: SessionBehavior,
    /// Consul duration string such as "30s"; empty when the session has no TTL.
    pub ttl: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Session {
    /// Every check ID the session depends on (node checks, then service checks).
    pub fn check_ids(&self) -> impl Iterator<Item = &str> {
        self.node_checks
            .iter()
            .map(String::as_str)
            .chain(self.service_checks.iter().map(|c| c.id.as_str()))
    }
}

/// One row of `/v1/catalog/service/<name>`: a service instance with its node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceNode {
    pub node: Node,
    pub service: Service,
}

/// One row of `/v1/health/service/<name>`: an instance, its node, and the checks that apply to it
/// (the node's checks and the service's own).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckServiceNode {
    pub node: Node,
    pub service: Service,
    pub checks: Vec<HealthCheck>,
}

/// A node's network coordinate in one network segment (Consul `structs.Coordinate`, a row of
/// the `coordinates` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeCoordinate {
    pub node: String,
    /// `""` is the default segment.
    pub segment: String,
    pub coord: Coordinate,
}
