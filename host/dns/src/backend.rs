//! The data source the DNS server answers from: the `Backend` trait and the records it returns.

/// One passing (healthy) instance of a service, as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Name of the node the instance runs on.
    pub node: String,
    /// The node's address (IP, or a hostname for external nodes).
    pub node_address: String,
    /// The service's own address; empty means "use the node address".
    pub service_address: String,
    /// The service port.
    pub port: u16,
    /// Datacenter the instance lives in.
    pub datacenter: String,
    /// SRV weight (Consul's `Weights.Passing`, 1 by default).
    pub weight: u16,
}

/// A catalog node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Node name.
    pub node: String,
    /// Node address (IP, or a hostname for external nodes).
    pub address: String,
    /// Datacenter the node lives in.
    pub datacenter: String,
}

/// Why a backend lookup failed. Mapped to DNS response codes the way Consul's `rCodeFromError` does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The datacenter is unknown / unreachable through the router: answered as NXDOMAIN.
    #[error("No path to datacenter")]
    NoPathToDatacenter,
    /// Any other failure (RPC error, no leader, remote DC down): answered as SERVFAIL.
    #[error("{0}")]
    Unavailable(String),
}

/// Catalog access used by the DNS server. Implemented elsewhere over the local state store or forwarding.
///
/// Names arrive lowercased (DNS is case-insensitive); implementations should match service names, tags
/// and node names case-insensitively, as Consul does.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Passing (healthy) instances of `service` in datacenter `dc` (None = local), optionally filtered by tag.
    async fn service_instances(
        &self,
        dc: Option<&str>,
        service: &str,
        tag: Option<&str>,
    ) -> Result<Vec<Instance>, LookupError>;

    /// A node by name in datacenter `dc` (None = local).
    async fn node(&self, dc: Option<&str>, node: &str) -> Result<Option<NodeRecord>, LookupError>;
}
