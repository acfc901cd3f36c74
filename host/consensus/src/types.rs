//! The openraft type configuration: what a log entry carries and how a server is addressed.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// A raft member as stored in raft membership: its gossip name and its server RPC address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftNode {
    /// The agent's node name (Consul's `node_name`).
    pub name: String,
    /// `ip:port` of the server RPC listener (8300 by default).
    pub rpc_addr: String,
}

impl std::fmt::Display for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.rpc_addr)
    }
}

openraft::declare_raft_types!(
    /// praetor's raft: commands of the replicated state machine, keyed by u64 node ids.
    pub TypeConfig:
        D = praetor_state::Command,
        R = praetor_state::CommandResult,
        NodeId = u64,
        Node = RaftNode,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;

/// True when the entry holds a [`praetor_state::Command::Batch`] (format version 2).
pub fn holds_batch(e: &Entry) -> bool {
    matches!(
        &e.payload,
        openraft::EntryPayload::Normal(praetor_state::Command::Batch(_))
    )
}
pub type LogId = openraft::LogId<u64>;
pub type Vote = openraft::Vote<u64>;
pub type StorageError = openraft::StorageError<u64>;
pub type StoredMembership = openraft::StoredMembership<u64, RaftNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<u64, RaftNode>;
