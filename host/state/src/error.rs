//! Typed errors of the state machine. Their `Display` is Consul's error text, which is what
//! clients see (carried in `CommandResult::Error` and `TxnError::what`).

/// Why a command (or one operation of a transaction) was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A prepared query rule (Consul's text).
    #[error("{0}")]
    PreparedQuery(String),
    /// An ACL rule (Consul's text; answered with 500 as Consul does).
    #[error("{0}")]
    Acl(String),
    /// An ACL write that is not allowed (403).
    #[error("Permission denied: {0}")]
    AclDenied(String),
    /// An ACL object to change is missing (404).
    #[error("{0}")]
    AclNotFound(String),
    /// A [`crate::Command::Batch`] inside a batch (proposers never build one).
    #[error("a command batch cannot contain a batch")]
    NestedBatch,
    #[error("Must provide node")]
    MissingNodeName,
    #[error("Must provide service name with ID")]
    MissingServiceName,
    #[error("Must provide key")]
    MissingKey,
    #[error("Missing node registration")]
    MissingNode,
    #[error("Missing service registration")]
    MissingService,
    #[error("check node {check_node:?} does not match node {node:?}")]
    CheckNodeMismatch { check_node: String, node: String },
    #[error(
        "Node name {name} is reserved by node {other_id} with name {other_name} ({other_address})"
    )]
    NodeNameReserved {
        name: String,
        other_id: String,
        other_name: String,
        other_address: String,
    },
    #[error("Missing session ID")]
    MissingSessionId,
    #[error("Session ID {0:?} already exists")]
    SessionExists(String),
    #[error("Missing check '{0}' registration")]
    MissingCheck(String),
    #[error("Check '{0}' is in critical state")]
    CheckCritical(String),
    #[error("missing session")]
    MissingSession,
    #[error("invalid session {0:?}")]
    InvalidSession(String),
    #[error("Invalid session behavior: {0}")]
    InvalidSessionBehavior(String),
    #[error("unknown check status {0:?}")]
    UnknownCheckStatus(String),
    #[error("failed to set key {0:?}, index is stale")]
    TxnSetStale(String),
    #[error("failed to delete key {0:?}, index is stale")]
    TxnDeleteStale(String),
    #[error("failed to lock key {0:?}, lock is already held")]
    TxnLockHeld(String),
    #[error("failed to unlock key {0:?}, lock isn't held, or is held by another session")]
    TxnUnlockNotHeld(String),
    #[error("key {0:?} doesn't exist")]
    TxnKeyMissing(String),
    #[error("key {0:?} exists")]
    TxnKeyExists(String),
    #[error("failed to check session, key {0:?} doesn't exist")]
    TxnCheckSessionMissing(String),
    #[error("failed session check for key {key:?}, current session {current:?} != {wanted:?}")]
    TxnSessionMismatch {
        key: String,
        current: String,
        wanted: String,
    },
    #[error("failed to check index, key {0:?} doesn't exist")]
    TxnCheckIndexMissing(String),
    #[error("failed index check for key {key:?}, current modify index {current} != {wanted}")]
    TxnIndexMismatch {
        key: String,
        current: u64,
        wanted: u64,
    },
    #[error("operation {0:?} is not allowed in a read-only transaction")]
    TxnNotReadOnly(&'static str),
    #[error("invalid coordinate")]
    InvalidCoordinate,
    #[error("Missing area ID")]
    MissingAreaId,
    #[error("Must provide peer datacenter")]
    MissingPeerDatacenter,
    #[error("area with peer datacenter {peer:?} already exists (ID {id:?})")]
    AreaPeerExists { peer: String, id: String },
    #[error("cannot change the peer datacenter of area {id:?} from {from:?} to {to:?}")]
    AreaPeerChange {
        id: String,
        from: String,
        to: String,
    },
    #[error("area {0:?} not found")]
    AreaNotFound(String),
    #[error("raft index {index} is not after the last applied index {last}")]
    StaleRaftIndex { index: u64, last: u64 },
    /// An error with the context Consul wraps it in (e.g. `failed inserting node: ...`).
    #[error("{context}: {source}")]
    Context {
        context: String,
        source: Box<StateError>,
    },
}

impl StateError {
    /// Wraps `self` in Consul's context text.
    pub(crate) fn context(self, context: impl Into<String>) -> StateError {
        StateError::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}
