//! Requests and responses of the server RPC `Call`, as domain types (postcard on the wire).

use praetor_state::{Command, CommandResult, Query, QueryOutput};
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
}

impl QueryRequest {
    pub fn new(query: Query) -> Self {
        QueryRequest {
            query,
            consistency: Consistency::Default,
            min_index: 0,
            wait_ms: 0,
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
    Error(crate::RpcError),
}
