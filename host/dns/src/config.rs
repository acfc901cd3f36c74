//! DNS server configuration (Consul's `dns_config` subset) and domain normalisation.

use std::net::{Ipv4Addr, SocketAddr};

/// Configuration of the DNS interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Addresses to serve on; UDP and TCP are bound on each (port 0 picks one port for both).
    pub bind: Vec<SocketAddr>,
    /// The authoritative domain, e.g. `"consul."` (trailing dot optional, case-insensitive).
    pub domain: String,
    /// The local datacenter (used when a query names none, and in SRV targets).
    pub datacenter: String,
    /// TTL of node records (`<node>.node`, `<hex>.addr`, NS glue).
    pub node_ttl: u32,
    /// TTL of service records (Consul default 0).
    pub service_ttl: u32,
    /// Maximum A/AAAA records in a service answer; 0 = no limit.
    pub a_record_limit: usize,
    /// Maximum answers in a UDP response to a client without EDNS (Consul default 3, capped at 8); 0 = no limit.
    pub udp_answer_limit: usize,
}

impl Default for DnsConfig {
    /// Consul's defaults: 127.0.0.1:8600, `consul.`, `dc1`, TTLs 0, no A record limit, UDP answer limit 3.
    fn default() -> Self {
        Self {
            bind: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 8600))],
            domain: "consul.".to_string(),
            datacenter: "dc1".to_string(),
            node_ttl: 0,
            service_ttl: 0,
            a_record_limit: 0,
            udp_answer_limit: 3,
        }
    }
}

/// Splits a domain like `"Consul."` or `"my.domain"` into lowercase labels; None if it has no label.
pub(crate) fn domain_labels(domain: &str) -> Option<Vec<String>> {
    let trimmed = domain.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return None;
    }
    let labels: Vec<String> = trimmed.split('.').map(|l| l.to_ascii_lowercase()).collect();
    if labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::domain_labels;

    #[test]
    fn domain_normalised() {
        assert_eq!(domain_labels("consul."), Some(vec!["consul".to_string()]));
        assert_eq!(
            domain_labels("My.Domain"),
            Some(vec!["my".to_string(), "domain".to_string()])
        );
        assert_eq!(domain_labels("."), None);
        assert_eq!(domain_labels(""), None);
        assert_eq!(domain_labels("a..b"), None);
    }
}
