//! Raft log entries (`Command`) and what applying them returns (`CommandResult`).

use serde::{Deserialize, Serialize};

use crate::areas::Area;
use crate::store::StoreSnapshot;
use crate::types::{HealthCheck, KvEntry, Node, NodeCoordinate, Service, Session};

/// Consul's KVS operations (`api.KVOp`) for a single-key write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvOp {
    /// Plain set; the key's session is kept. As in Consul, the entry is otherwise written as
    /// given (so `lock_index` is whatever the proposer sent, normally 0).
    Set,
    /// Set only if the key's modify index equals `cas_index` (0 = only if absent).
    Cas,
    /// Acquire the lock with `entry.session` and set the value.
    Lock,
    /// Release the lock held by `entry.session` and set the value.
    Unlock,
    /// Delete one key (no-op if absent).
    Delete,
    /// Delete only if the key's modify index equals `cas_index` (true if absent).
    DeleteCas,
    /// Delete every key starting with `entry.key`.
    DeleteTree,
}

/// The verbs of Consul's `/v1/txn` KV operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnKvVerb {
    Set,
    Delete,
    DeleteCas,
    DeleteTree,
    Cas,
    Lock,
    Unlock,
    Get,
    GetOrEmpty,
    GetTree,
    CheckIndex,
    CheckSession,
    CheckNotExists,
}

impl TxnKvVerb {
    /// Consul's spelling (`set`, `delete-cas`, `check-not-exists`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            TxnKvVerb::Set => "set",
            TxnKvVerb::Delete => "delete",
            TxnKvVerb::DeleteCas => "delete-cas",
            TxnKvVerb::DeleteTree => "delete-tree",
            TxnKvVerb::Cas => "cas",
            TxnKvVerb::Lock => "lock",
            TxnKvVerb::Unlock => "unlock",
            TxnKvVerb::Get => "get",
            TxnKvVerb::GetOrEmpty => "get-or-empty",
            TxnKvVerb::GetTree => "get-tree",
            TxnKvVerb::CheckIndex => "check-index",
            TxnKvVerb::CheckSession => "check-session",
            TxnKvVerb::CheckNotExists => "check-not-exists",
        }
    }

    /// Parses Consul's spelling; `None` for an unknown verb (Consul: `unknown KV verb "x"`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "set" => TxnKvVerb::Set,
            "delete" => TxnKvVerb::Delete,
            "delete-cas" => TxnKvVerb::DeleteCas,
            "delete-tree" => TxnKvVerb::DeleteTree,
            "cas" => TxnKvVerb::Cas,
            "lock" => TxnKvVerb::Lock,
            "unlock" => TxnKvVerb::Unlock,
            "get" => TxnKvVerb::Get,
            "get-or-empty" => TxnKvVerb::GetOrEmpty,
            "get-tree" => TxnKvVerb::GetTree,
            "check-index" => TxnKvVerb::CheckIndex,
            "check-session" => TxnKvVerb::CheckSession,
            "check-not-exists" => TxnKvVerb::CheckNotExists,
            _ => return None,
        })
    }

    /// True for verbs that never write (a transaction of only these can be served without raft).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            TxnKvVerb::Get
                | TxnKvVerb::GetOrEmpty
                | TxnKvVerb::GetTree
                | TxnKvVerb::CheckIndex
                | TxnKvVerb::CheckSession
                | TxnKvVerb::CheckNotExists
        )
    }
}

/// One KV operation of a transaction (Consul `api.KVTxnOp`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnKvOp {
    pub verb: TxnKvVerb,
    pub key: String,
    /// Encoded as bytes, like [`crate::KvEntry::value`].
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    pub flags: u64,
    /// The compared modify index of `cas`, `delete-cas` and `check-index`.
    pub index: u64,
    /// The session of `lock`, `unlock` and `check-session`.
    pub session: Option<String>,
}

/// One operation of a transaction. Only KV operations exist so far (Consul also has node,
/// service and check operations).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    Kv(TxnKvOp),
}

impl TxnKvOp {
    /// An operation with an empty value, no flags, index 0 and no session.
    pub fn new(verb: TxnKvVerb, key: impl Into<String>) -> Self {
        TxnKvOp {
            verb,
            key: key.into(),
            value: Vec::new(),
            flags: 0,
            index: 0,
            session: None,
        }
    }
}

impl TxnOp {
    /// True if the operation never writes.
    pub fn is_read(&self) -> bool {
        match self {
            TxnOp::Kv(op) => op.verb.is_read(),
        }
    }
}

impl From<TxnKvOp> for TxnOp {
    fn from(op: TxnKvOp) -> Self {
        TxnOp::Kv(op)
    }
}

/// A raft log entry. Everything time-dependent carries `now_ms` (milliseconds since the Unix
/// epoch), stamped by the proposer, so that applying is deterministic.
// Register is much larger than the other variants; commands are short-lived log entries, so
// plain fields (no boxing) keep construction simple.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Catalog register: upsert the node, then the service, then the checks.
    Register {
        node: Node,
        service: Option<Service>,
        checks: Vec<HealthCheck>,
        now_ms: u64,
    },
    /// Catalog deregister: a service (with its checks), else a check, else the whole node.
    Deregister {
        node: String,
        service_id: Option<String>,
        check_id: Option<String>,
        now_ms: u64,
    },
    /// A single-key KV write; `cas_index` is used by `Cas` and `DeleteCas`.
    KvSet {
        op: KvOp,
        entry: KvEntry,
        cas_index: u64,
        now_ms: u64,
    },
    /// Creates a session with the ID chosen by the proposer.
    SessionCreate {
        session: Session,
        now_ms: u64,
    },
    /// Invalidates a session (releasing or deleting its keys).
    SessionDestroy {
        id: String,
        now_ms: u64,
    },
    /// An all-or-nothing transaction.
    Txn {
        ops: Vec<TxnOp>,
        now_ms: u64,
    },
    /// Forgets KV tombstones whose delete index is `<= up_to_index`.
    TombstoneReap {
        up_to_index: u64,
    },
    /// Upserts network coordinates (Consul `CoordinateBatchUpdate`): updates for nodes missing
    /// from the catalog are skipped; any invalid (NaN/Inf) coordinate rejects the whole batch.
    CoordinateBatchUpdate {
        updates: Vec<NodeCoordinate>,
    },
    /// Creates a network area (new ID; the ID is chosen by the proposer) or updates one
    /// (`retry_join`, `use_tls`; the peer datacenter cannot change). At most one area per peer
    /// datacenter.
    AreaUpsert {
        area: Area,
    },
    /// Deletes a network area (unknown ID: error).
    AreaDelete {
        id: String,
    },
    /// Replaces every table with a snapshot's content (`PUT /v1/snapshot`): the restore is
    /// itself a raft entry, so every server applies it at the same index; every table index is
    /// raised to that index so blocking queries wake and see the restored data.
    Restore {
        snapshot: Box<StoreSnapshot>,
    },
    /// Stores autopilot's configuration; with `cas`, only if the stored one's `modify_index`
    /// equals it. Answers `Bool`.
    AutopilotSetConfig {
        config: crate::AutopilotConfig,
        cas: Option<u64>,
    },
    /// Creates (`create`: the ID must be new) or replaces (the ID must exist) a prepared query.
    PreparedQuerySet {
        query: crate::PreparedQuery,
        create: bool,
    },
    /// Deletes a prepared query (unknown ID: error).
    PreparedQueryDelete {
        id: String,
    },
    /// `ACL.BootstrapTokens`: creates the token once; `reset_index` (from the
    /// `acl-bootstrap-reset` file, 0 = none) allows it again.
    AclBootstrap {
        token: crate::AclToken,
        reset_index: u64,
    },
    /// Creates (`create`: new AccessorID) or replaces a token; links by ID or name.
    AclTokenSet {
        token: crate::AclToken,
        create: bool,
    },
    AclTokenDelete {
        accessor_id: String,
    },
    /// Deletes the tokens expired at `now_ms` (the leader).
    AclTokensReap {
        now_ms: u64,
    },
    AclPolicySet {
        policy: crate::AclPolicy,
        create: bool,
    },
    AclPolicyDelete {
        id: String,
    },
    AclRoleSet {
        role: crate::AclRole,
        create: bool,
    },
    AclRoleDelete {
        id: String,
    },
    /// The built-in policies and the anonymous token (a primary's leader, on every gain).
    AclInitBuiltins {
        now_ms: u64,
    },
    /// Creates or replaces an auth method (its type cannot change).
    AclAuthMethodSet {
        method: crate::AclAuthMethod,
    },
    /// Deletes an auth method, its binding rules and the tokens it issued.
    AclAuthMethodDelete {
        name: String,
    },
    AclBindingRuleSet {
        rule: crate::AclBindingRule,
        create: bool,
    },
    AclBindingRuleDelete {
        id: String,
    },
    /// A secondary's leader writes what it fetched from the primary (a diff is applied).
    AclReplicate {
        set: Box<crate::AclReplicationSet>,
    },
    /// `ConfigEntry.Apply`: creates or replaces an entry; with `cas`, only if the stored
    /// entry's modify index equals it (0: only if absent). Answers `Bool`.
    ConfigEntrySet {
        entry: crate::ConfigEntry,
        cas: Option<u64>,
    },
    /// `ConfigEntry.Delete` (absent: success); with `cas` as above. Answers `Bool`.
    ConfigEntryDelete {
        kind: String,
        name: String,
        cas: Option<u64>,
    },
    /// A secondary's leader writes the primary's entries (a diff is applied).
    ConfigEntriesReplicate {
        entries: Vec<crate::ConfigEntry>,
    },
    /// Replaces the Connect CA's configuration, roots and signer at once (the leader: CA
    /// initialization, rotation, a secondary's new intermediate). With `cas`, only if the
    /// stored configuration's modify index equals it. Answers `Bool`.
    CaSet {
        state: Box<crate::CaState>,
        cas: Option<u64>,
    },
    /// Several independent commands proposed as one raft entry (format version 2, see
    /// [`crate::format::BATCH_FORMAT`]): applied in order at the entry's index, each with its
    /// own result and its own rollback, under one store lock. Answers `Batch` with one result
    /// per command; a batch inside a batch is refused.
    Batch(Vec<Command>),
}

/// One failed operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnError {
    pub op_index: usize,
    pub what: String,
}

/// What a transaction returned: either results (all applied) or errors (nothing applied).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResult {
    pub results: Vec<KvEntry>,
    pub errors: Vec<TxnError>,
}

impl Command {
    /// Sets the time the command carries (`now_ms`) to the proposing leader's clock, so
    /// session and lock-delay times never come from the edge agent that received the request.
    pub fn stamp_time(&mut self, now: u64) {
        match self {
            Command::Register { now_ms, .. }
            | Command::Deregister { now_ms, .. }
            | Command::KvSet { now_ms, .. }
            | Command::SessionCreate { now_ms, .. }
            | Command::SessionDestroy { now_ms, .. }
            | Command::Txn { now_ms, .. }
            | Command::AclTokensReap { now_ms }
            | Command::AclInitBuiltins { now_ms } => *now_ms = now,
            Command::Batch(cmds) => cmds.iter_mut().for_each(|c| c.stamp_time(now)),
            _ => {}
        }
    }
}

/// The result of applying a command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    #[default]
    Ok,
    Bool(bool),
    Txn(TxnResult),
    /// The command was rejected and changed nothing; the text is Consul's error message.
    Error(String),
    /// Rejected as not permitted (403); the text starts with `Permission denied`.
    Denied(String),
    /// Rejected because the object to change does not exist (404).
    NotFound(String),
    /// The results of a [`Command::Batch`], in its order.
    Batch(Vec<CommandResult>),
}
