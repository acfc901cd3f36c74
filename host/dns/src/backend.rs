//! The data source the DNS server answers from: the `Backend` trait and the records it returns.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// One passing (healthy) instance of a service, as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Name of the node the instance runs on.
    pub node: String,
    /// The node's address (IP, or a hostname for external nodes).
    pub node_address: String,
    /// The node's metadata (Consul's `NodeMeta`), served as TXT records next to SRV answers.
    pub node_meta: BTreeMap<String, String>,
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
    /// The node's metadata (Consul's `NodeMeta`), served as RFC 1464 TXT records.
    pub meta: BTreeMap<String, String>,
}

/// What a reverse (PTR) lookup of an address found, in Consul's order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReverseName {
    /// A node whose primary address is the IP: answered `<node>.node.<dc>.<domain>`.
    Node {
        /// Node name, as registered (not lowercased).
        node: String,
        /// The node's datacenter; empty means the local one.
        datacenter: String,
    },
    /// A service instance whose own service address is the IP: answered `<service>.service.<dc>.<domain>`.
    Service {
        /// Service name, as registered.
        service: String,
        /// The instance's datacenter; empty means the local one.
        datacenter: String,
    },
}

/// What executing a prepared query found (Consul's `PreparedQueryExecuteResponse`, as DNS needs it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryAnswer {
    /// The instances that passed the query's filters (health, tags, meta), after failover, in the order
    /// the query answered them (shuffled, or sorted by distance when the query says `Near`). Their
    /// `datacenter` is the one that answered, which may not be the one asked.
    pub instances: Vec<Instance>,
    /// The query's `DNS.TTL` in seconds; None when the query sets none (the service TTL applies then).
    pub ttl: Option<u32>,
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

/// Whether a catalog address (node `Address` or service `Address`) is the IP a reverse query asks for.
///
/// The address must be an IP literal; an IPv4-mapped IPv6 address counts as its IPv4 address (Consul's
/// `dns.ReverseAddr` names it under `in-addr.arpa.`). Host names never match.
pub fn address_matches(address: &str, ip: IpAddr) -> bool {
    address
        .parse::<IpAddr>()
        .is_ok_and(|addr| addr.to_canonical() == ip)
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

    /// Passing members of `service`'s connect set (its `connect-proxy` instances and its
    /// Connect-native instances) in datacenter `dc` (None = local).
    async fn connect_instances(
        &self,
        dc: Option<&str>,
        service: &str,
    ) -> Result<Vec<Instance>, LookupError>;

    /// A node by name in datacenter `dc` (None = local).
    async fn node(&self, dc: Option<&str>, node: &str) -> Result<Option<NodeRecord>, LookupError>;

    /// Executes the prepared query `name` (an ID or a name, lowercased) in datacenter `dc` (None = local),
    /// as Consul's DNS does: stale reads allowed, no `Near` or limit of its own. `Ok(None)` when there is
    /// no such query; an answer without instances when nothing passed, failover included.
    async fn prepared_query(
        &self,
        dc: Option<&str>,
        name: &str,
    ) -> Result<Option<QueryAnswer>, LookupError>;

    /// Reverse lookup of `ip` in the local datacenter (Consul's `handlePtr`): the first catalog node, in
    /// catalog order, whose primary address matches `ip` (see [`address_matches`]); only if there is none,
    /// the first service instance (catalog order: node, then service ID), healthy or not, whose own service
    /// address matches `ip`. Instances without an address of their own are found through their node only.
    async fn reverse(&self, ip: IpAddr) -> Result<Option<ReverseName>, LookupError>;

    /// A cheap, synchronous version stamp of everything local-datacenter answers are computed from
    /// (catalog state, the DNS token, address translation). The DNS server caches such answers
    /// under the stamp read before computing them and serves a cached answer only while the stamp
    /// is unchanged, so the stamp must change whenever any local answer could. `None` (the default)
    /// turns the answer cache off for now, e.g. on a client agent that has no local catalog.
    fn answer_stamp(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::address_matches;

    #[test]
    fn addresses_match_ip_literals_only() {
        let v4 = "10.0.0.1".parse().unwrap();
        assert!(address_matches("10.0.0.1", v4));
        assert!(address_matches("::ffff:10.0.0.1", v4));
        assert!(!address_matches("10.0.0.2", v4));
        assert!(!address_matches("", v4));
        assert!(!address_matches("db.example.com", v4));
        let v6 = "2001:db8::1".parse().unwrap();
        assert!(address_matches("2001:DB8:0::1", v6));
        assert!(!address_matches("2001:db8::2", v6));
        // The ip6.arpa name of a mapped address is not the in-addr.arpa name of the IPv4 address.
        assert!(!address_matches(
            "10.0.0.1",
            "::ffff:10.0.0.1".parse().unwrap()
        ));
    }
}
