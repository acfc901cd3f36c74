//! Typed errors returned at the crate boundary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a [`crate::Pool`] operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// The UDP socket could not be bound (or its address read back).
    #[error("failed to bind gossip socket on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The pool configuration is not usable.
    #[error("invalid gossip configuration: {0}")]
    InvalidConfig(String),
    /// None of the given addresses answered before the timeout.
    #[error("Failed to join any nodes: no answer from {} address(es) within {timeout:?}", addrs.len())]
    JoinFailed {
        addrs: Vec<SocketAddr>,
        timeout: Duration,
    },
    /// `force_leave` named a member this pool does not know.
    #[error("No node found with name '{0}'")]
    NoMember(String),
    /// Encoded tags are larger than a gossip message can carry (serf's limit and wording).
    #[error("Encoded length of tags exceeds limit of {max} bytes")]
    TagsTooLarge { size: usize, max: usize },
    /// A user event's body is larger than a gossip message can carry (serf's wording).
    #[error("user event exceeds sane limit of {max} bytes before encoding")]
    EventTooLarge { size: usize, max: usize },
    /// The pool has left the cluster; it cannot join or change tags again.
    #[error("gossip pool has left the cluster")]
    Left,
    /// A keyring operation could not run here (serf's messages, e.g. `Keyring is empty
    /// (encryption not enabled)`).
    #[error("{0}")]
    Keyring(String),
    /// The keyring file could not be read, parsed or written.
    #[error("keyring file {}: {reason}", path.display())]
    KeyringFile { path: PathBuf, reason: String },
    /// The pool task is gone (shut down).
    #[error("gossip pool is shut down")]
    Closed,
}
