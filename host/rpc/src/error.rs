//! The RPC error type; its messages are Consul's strings, which the HTTP and DNS edges show.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RpcError {
    /// Consul's `ErrNoDCPath`.
    #[error("No path to datacenter")]
    NoPathToDatacenter,
    /// Consul's `ErrDCNotAvailable`.
    #[error("Remote DC has no server currently reachable")]
    DatacenterUnavailable,
    /// Consul's `ErrNoLeader`.
    #[error("No cluster leader")]
    NoLeader,
    /// Consul's `ErrNoServers`.
    #[error("No known Consul servers")]
    NoServers,
    /// The request itself is wrong (a 400 at the HTTP edge).
    #[error("{0}")]
    BadRequest(String),
    /// The server could not talk to the server it forwarded to.
    #[error("rpc error making call: {0}")]
    Transport(String),
    #[error("{0}")]
    Internal(String),
    /// A denial (403); the text starts with `Permission denied`.
    #[error("{0}")]
    PermissionDenied(String),
    /// An unknown or expired token (403), e.g. `ACL not found`.
    #[error("{0}")]
    AclNotFound(String),
    /// An error a server returned to a client agent (Consul's pool wraps them this way).
    #[error("rpc error making call: {0}")]
    Forwarded(Box<RpcError>),
    /// Consul's `ErrRateLimited` (429 at the HTTP edge), e.g. the CA's CSR limits.
    #[error("Rate limit reached, try again later")]
    RateLimited,
}

impl RpcError {
    /// The error itself, without the client agent's wrapping.
    pub fn root(&self) -> &RpcError {
        match self {
            RpcError::Forwarded(e) => e.root(),
            e => e,
        }
    }
}
