//! Requests and responses of the server RPC `Call`, as domain types (postcard on the wire).

use praetor_state::{Command, CommandResult, Query, QueryOutput};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Consul's read consistency modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consistency {
    /// Served by the leader without a quorum check (Consul's default).
    #[default]
    Default,
    /// Served by any server from its local state (`?stale`).
    Stale,
    /// Served by the leader after confirming leadership with a quorum (`?consistent`).
    Consistent,
}

impl Consistency {
    /// The value of `X-Consul-Effective-Consistency`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Consistency::Default => "leader",
            Consistency::Stale => "stale",
            Consistency::Consistent => "consistent",
        }
    }
}

/// A read, possibly blocking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryRequest {
    pub query: Query,
    pub consistency: Consistency,
    /// `?index`: answer only once the result index is greater (0 = answer at once).
    pub min_index: u64,
    /// `?wait` in milliseconds (capped at 10 minutes; default 5 minutes when `min_index` > 0).
    pub wait_ms: u64,
    /// `?near=<node>`: sort nodes by estimated round-trip time from that node (LAN
    /// coordinates of the serving datacenter). `_agent` is replaced by the asking agent's
    /// node name before the request is sent.
    pub near: Option<String>,
}

impl QueryRequest {
    pub fn new(query: Query) -> Self {
        QueryRequest {
            query,
            consistency: Consistency::Default,
            min_index: 0,
            wait_ms: 0,
            near: None,
        }
    }
}

/// A read's answer plus the metadata Consul returns in headers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryResponse {
    pub output: QueryOutput,
    /// `X-Consul-KnownLeader`.
    pub known_leader: bool,
    /// `X-Consul-LastContact` in milliseconds.
    pub last_contact_ms: u64,
    pub consistency: Consistency,
    /// Something was left out because the caller may not read it
    /// (`X-Consul-Results-Filtered-By-ACLs`; never for the anonymous token).
    pub results_filtered: bool,
}

/// One raft peer, as `/v1/operator/raft/configuration` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftServerInfo {
    pub id: String,
    pub node: String,
    pub address: String,
    pub leader: bool,
    pub voter: bool,
}

/// Everything a server can be asked over `Call`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
// `Apply` carries a catalog registration; requests are short-lived, so no boxing.
#[allow(clippy::large_enum_variant)]
pub enum Request {
    Apply(Command),
    Query(QueryRequest),
    RaftConfiguration,
    /// Reset a session's TTL timer (handled by the leader).
    SessionRenew {
        id: String,
    },
    /// Remove a server from the raft configuration by node name (force-leave of a server).
    RemoveRaftPeer {
        node: String,
    },
    /// Known datacenters, local first, then by median WAN round-trip time
    /// (`/v1/catalog/datacenters`; answered by the receiving server, never forwarded).
    Datacenters,
    /// WAN coordinates of every known server, grouped per datacenter
    /// (`/v1/coordinate/datacenters`; answered by the receiving server).
    CoordinateDatacenters,
    /// A gossip keyring operation. `relay = true`: run it on this datacenter's pools and
    /// also in every other known datacenter (Consul's keyring fan-out); `false`: only here.
    Keyring {
        op: KeyringOp,
        relay: bool,
    },
    /// Join the network area `id` through the given addresses (servers' RPC addresses,
    /// `host[:port]`, port 8300 by default); answered by the receiving server.
    AreaJoin {
        id: String,
        addresses: Vec<String>,
    },
    /// The members of network area `id` as the receiving server sees them.
    AreaMembers {
        id: String,
    },
    /// Send a user event to the receiving server's datacenter (its LAN pool).
    EventFire(UserEvent),
    /// A consistent copy of the leader's state store (`GET /v1/snapshot`), answered by the
    /// leader after a read barrier.
    SnapshotSave,
    /// This server's raft stats (asked by the leader for autopilot).
    RaftStats,
    /// Autopilot's health of the datacenter's servers, answered by the leader.
    AutopilotHealth,
    /// Execute a prepared query by name or ID, failing over to other datacenters when nothing
    /// here passes. `near` is a node name (`_agent` already replaced by the caller's node).
    PreparedQueryExecute {
        name: String,
        near: Option<String>,
        limit: usize,
        stale: bool,
        /// `?connect=true`: answer the service's connect set (its proxies and native
        /// instances) instead of its instances.
        connect: bool,
    },
    /// Run an already resolved (and rendered) query here, without failover: the remote half
    /// of a failover.
    PreparedQueryExecuteRemote {
        query: praetor_state::PreparedQuery,
        limit: usize,
    },
    /// `/v1/acl/login`: the server verifies the bearer token with the auth method and issues
    /// an ACL token (no permission needed: the bearer token is the credential).
    AclLogin {
        auth_method: String,
        bearer_token: String,
        meta: BTreeMap<String, String>,
    },
    /// `/v1/acl/logout`: deletes the login token whose secret is given.
    AclLogout {
        secret: String,
    },
    /// Sign a leaf certificate request with this datacenter's CA (`ConnectCA.Sign`); the
    /// permission needed depends on the SPIFFE ID in the CSR.
    CaSignLeaf {
        csr_pem: String,
    },
    /// Sign a secondary datacenter's intermediate CA request (`ConnectCA.SignIntermediate`):
    /// the primary only, `operator:write`.
    CaSignIntermediate {
        csr_pem: String,
    },
    /// `PUT /v1/connect/ca/configuration`: run by the leader, which rotates to a new root
    /// (cross-signed by the old one) when the key settings change. Answers `Apply`.
    CaSetConfig {
        provider: String,
        /// Consul's `Config` map as JSON.
        config_json: String,
        force_without_cross_signing: bool,
    },
    /// How the receiving server reaches each datacenter (`/v1/operator/routes`;
    /// `operator:read`, never forwarded).
    Routes,
}

/// A signed leaf certificate (`ConnectCA.Sign`'s `IssuedCert`, without the key).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaLeaf {
    /// The leaf followed by the certificates that chain it to the active root.
    pub cert_pem: String,
    /// Colon-hex serial number.
    pub serial_hex: String,
    pub spiffe_uri: String,
    /// Unix seconds.
    pub valid_after: u64,
    pub valid_before: u64,
    /// The raft index of the CA state that signed it.
    pub index: u64,
}

/// The leader's state store at one raft index: `state` is a postcard-encoded
/// `praetor_state::StoreSnapshot` (kept opaque here so that the archive holds exactly what
/// raft snapshots hold).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCopy {
    pub index: u64,
    pub term: u64,
    pub state: Vec<u8>,
}

/// A user event (`/v1/event/fire`, Consul's `api.UserEvent`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvent {
    /// A UUID chosen by the agent that fired it.
    pub id: String,
    pub name: String,
    /// `None` when fired without a body (Consul shows `"Payload": null`).
    pub payload: Option<Vec<u8>>,
    /// Regular expressions; empty = every node / service / tag.
    pub node_filter: String,
    pub service_filter: String,
    pub tag_filter: String,
    pub version: u32,
    /// The event's Lamport time in its datacenter's LAN pool (0 until sent).
    pub ltime: u64,
}

/// The outcome of joining one address (`PUT /v1/operator/area/<id>/join`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaJoinResult {
    pub address: String,
    pub joined: bool,
    pub error: String,
}

/// One member of a network area (`GET /v1/operator/area/<id>/members`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaMember {
    /// The area ID.
    pub id: String,
    /// Node name without the `.<dc>` suffix.
    pub node: String,
    pub address: String,
    pub port: u16,
    pub datacenter: String,
    /// "server" (areas hold only servers).
    pub role: String,
    pub build: String,
    pub protocol: u32,
    /// "alive", "leaving", "left", "failed".
    pub status: String,
    /// Estimated round-trip time from the answering server, in nanoseconds (Consul: negative
    /// when there is no estimate).
    pub rtt_ns: i64,
}

/// `/v1/operator/keyring` and `praetor keyring`: keys are base64 strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyringOp {
    List,
    Install(String),
    Use(String),
    Remove(String),
}

/// One pool's answer to a keyring operation (Consul's `structs.KeyringResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringResponse {
    pub wan: bool,
    pub datacenter: String,
    pub segment: String,
    /// Key (base64) -> how many members have it installed.
    pub keys: BTreeMap<String, u32>,
    /// Key (base64) -> how many members use it as their primary key.
    pub primary_keys: BTreeMap<String, u32>,
    /// Members asked (alive members of the pool, the local one included).
    pub num_nodes: u32,
    /// Member name -> error message, for members that failed the operation.
    pub messages: BTreeMap<String, String>,
    /// Non-empty when the operation failed somewhere in this pool.
    pub error: String,
}

/// The servers of one datacenter with a WAN coordinate (`/v1/coordinate/datacenters`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatacenterMap {
    pub datacenter: String,
    /// `"wan"` (network areas add their IDs later).
    pub area_id: String,
    /// (node name without the `.<dc>` suffix, its WAN coordinate), sorted by node name.
    pub coordinates: Vec<(String, praetor_coordinate::Coordinate)>,
}

/// The answers, same order as [`Request`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Apply(CommandResult),
    Query(QueryResponse),
    RaftConfiguration {
        servers: Vec<RaftServerInfo>,
        index: u64,
    },
    SessionRenew {
        found: bool,
    },
    RemoveRaftPeer,
    Datacenters(Vec<String>),
    CoordinateDatacenters(Vec<DatacenterMap>),
    Keyring(Vec<KeyringResponse>),
    AreaJoin(Vec<AreaJoinResult>),
    AreaMembers(Vec<AreaMember>),
    /// The event as sent, with its Lamport time.
    EventFire(UserEvent),
    SnapshotSave(StoreCopy),
    RaftStats(crate::autopilot::RaftStats),
    AutopilotHealth(crate::autopilot::AutopilotHealth),
    /// `None`: no query by that name or ID.
    PreparedQueryExecute(Option<crate::prepared_query::ExecuteResult>),
    /// The token a login issued.
    AclLogin(Box<praetor_state::AclToken>),
    AclLogout,
    Error(crate::RpcError),
    CaLeaf(CaLeaf),
    /// The signed intermediate certificate (PEM).
    CaIntermediate(String),
    Routes(Vec<RouteInfo>),
}

/// One way a server reaches a datacenter (`/v1/operator/routes`, the UI's federation map).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteInfo {
    pub datacenter: String,
    /// `local`, `wan`, `area`, `multi-hop` or `mesh-gateway`.
    pub path: String,
    /// The area ID, `wan`, or `via:<dc>` for a multi-hop route.
    pub path_id: String,
    /// Estimated round trip in milliseconds; `None` without network coordinates.
    pub rtt_ms: Option<f64>,
    /// Datacenter hops from the answering server (local 0, adjacent 1).
    pub hops: u32,
    pub servers: u32,
    pub healthy_servers: u32,
}
