//! Consul's `translate_wan_addrs` (`agent/translate_addr.go`): which address and port an agent
//! presents for a node or service record of another datacenter.

use std::net::IpAddr;

/// Tagged-address keys (Consul's `structs.TaggedAddress*`).
pub const TAGGED_WAN: &str = "wan";
/// WAN IPv4 tagged address.
pub const TAGGED_WAN_IPV4: &str = "wan_ipv4";
/// WAN IPv6 tagged address.
pub const TAGGED_WAN_IPV6: &str = "wan_ipv6";
/// LAN tagged address.
pub const TAGGED_LAN: &str = "lan";
/// LAN IPv4 tagged address.
pub const TAGGED_LAN_IPV4: &str = "lan_ipv4";
/// LAN IPv6 tagged address.
pub const TAGGED_LAN_IPV6: &str = "lan_ipv6";

/// The address families a caller can use (Consul's `TranslateAddressAccept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accept {
    pub ipv4: bool,
    pub ipv6: bool,
    pub domain: bool,
}

impl Accept {
    /// HTTP endpoints (`TranslateAddressAcceptAny`).
    pub const ANY: Accept = Accept {
        ipv4: true,
        ipv6: true,
        domain: true,
    };
    /// DNS A queries (`Domain | IPv4`).
    pub const DNS_A: Accept = Accept {
        ipv4: true,
        ipv6: false,
        domain: true,
    };
    /// DNS AAAA queries (`Domain | IPv6`).
    pub const DNS_AAAA: Accept = Accept {
        ipv4: false,
        ipv6: true,
        domain: true,
    };

    /// True when no family is accepted.
    pub fn is_empty(self) -> bool {
        !(self.ipv4 || self.ipv6 || self.domain)
    }
}

/// One tagged address of a node (port 0) or of a service (with a port).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaggedAddress {
    pub key: String,
    pub address: String,
    pub port: u16,
}

impl TaggedAddress {
    /// A tagged address; `port` is 0 for nodes.
    pub fn new(key: &str, address: &str, port: u16) -> Self {
        TaggedAddress {
            key: key.to_string(),
            address: address.to_string(),
            port,
        }
    }
}

/// One record to present.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressQuery {
    /// Datacenter of the agent answering the request.
    pub local_datacenter: String,
    /// Datacenter the record comes from.
    pub record_datacenter: String,
    /// Whether `translate_wan_addrs` is enabled on the answering agent.
    pub enabled: bool,
    /// The record's own address (a service's may be empty).
    pub address: String,
    /// The record's own port (0 for nodes).
    pub port: u16,
    pub tagged: Vec<TaggedAddress>,
    pub accept: Accept,
}

/// What to present. An empty address means "no address of an accepted family".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presented {
    pub address: String,
    pub port: u16,
}

/// Consul's `TranslateAddress`/`TranslateServiceAddress` plus `TranslateServicePort`.
///
/// Translation happens iff `enabled` and the record's datacenter differs from the local one.
/// Then a present `wan` tag replaces the default address (even when empty, as upstream does),
/// `wan_ipv4`/`wan_ipv6` replace the `lan_ipv4`/`lan_ipv6` candidates, and a `wan` tag with a
/// non-zero port replaces the port. The family is chosen by [`translate_address_accept`].
pub fn translate(query: &AddressQuery) -> Presented {
    let tag = |key: &str| -> Option<&TaggedAddress> { query.tagged.iter().find(|t| t.key == key) };
    let mut def = query.address.as_str();
    let mut v4 = tag(TAGGED_LAN_IPV4).map_or("", |t| t.address.as_str());
    let mut v6 = tag(TAGGED_LAN_IPV6).map_or("", |t| t.address.as_str());
    let mut port = query.port;

    let use_wan = query.enabled && query.local_datacenter != query.record_datacenter;
    if use_wan {
        if let Some(wan) = tag(TAGGED_WAN) {
            def = &wan.address;
            if wan.port != 0 {
                port = wan.port;
            }
        }
        if let Some(t) = tag(TAGGED_WAN_IPV4) {
            v4 = &t.address;
        }
        if let Some(t) = tag(TAGGED_WAN_IPV6) {
            v6 = &t.address;
        }
    }

    Presented {
        address: translate_address_accept(query.accept, def, v4, v6).to_string(),
        port,
    }
}

/// Consul's `translateAddressAccept`: IPv6 if accepted and known, else IPv4 if accepted and
/// known, else the default address.
///
/// Upstream's third case tests `accept & TranslateAddressAcceptAny` where `Any` is `^0`, which
/// holds for every non-empty accept set: so the default address is returned whatever its family
/// once any family is accepted (callers such as DNS filter by family afterwards). The family
/// checks that follow only matter for an empty accept set, where they yield "".
pub fn translate_address_accept<'a>(
    accept: Accept,
    def: &'a str,
    v4: &'a str,
    v6: &'a str,
) -> &'a str {
    if accept.ipv6 && !v6.is_empty() {
        return v6;
    }
    if accept.ipv4 && !v4.is_empty() {
        return v4;
    }
    if !accept.is_empty() && !def.is_empty() {
        return def;
    }
    match def.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) if accept.ipv4 => def,
        Ok(IpAddr::V6(_)) if accept.ipv6 => def,
        Err(_) if accept.domain => def,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(
        local: &str,
        record: &str,
        address: &str,
        port: u16,
        tagged: &[TaggedAddress],
    ) -> AddressQuery {
        AddressQuery {
            local_datacenter: local.to_string(),
            record_datacenter: record.to_string(),
            enabled: true,
            address: address.to_string(),
            port,
            tagged: tagged.to_vec(),
            accept: Accept::ANY,
        }
    }

    fn presented(address: &str, port: u16) -> Presented {
        Presented {
            address: address.to_string(),
            port,
        }
    }

    /// The effective service address as DNS computes it: the service's translated address,
    /// falling back to the node's translated address when the service has none.
    fn service_answer(
        asked_from: &str,
        node_tagged: &[TaggedAddress],
        service_addr: &str,
        service_tagged: &[TaggedAddress],
    ) -> Presented {
        let node = translate(&query(asked_from, "dc2", "127.0.0.1", 0, node_tagged));
        let service = translate(&query(
            asked_from,
            "dc2",
            service_addr,
            8080,
            service_tagged,
        ));
        if service.address.is_empty() {
            presented(&node.address, service.port)
        } else {
            service
        }
    }

    /// `agent/dns_service_lookup_test.go:TestDNS_ServiceLookup_WanTranslation`: dc1 and dc2 both
    /// translate; node `foo` (127.0.0.1) lives in dc2 with a service on port 8080.
    #[test]
    fn consul_wan_translation_matrix() {
        let node_wan = [TaggedAddress::new("wan", "127.0.0.2", 0)];
        let svc_wan = [TaggedAddress::new("wan", "198.18.0.1", 80)];
        /// (case, asked from, node tagged, service address, service tagged, expected)
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a [TaggedAddress],
            &'a str,
            &'a [TaggedAddress],
            Presented,
        );
        let cases: [Case; 8] = [
            (
                "node-addr-from-dc1",
                "dc1",
                &[],
                "",
                &[],
                presented("127.0.0.1", 8080),
            ),
            (
                "node-wan-from-dc1",
                "dc1",
                &node_wan,
                "",
                &[],
                presented("127.0.0.2", 8080),
            ),
            (
                "service-addr-from-dc1",
                "dc1",
                &node_wan,
                "10.0.1.1",
                &[],
                presented("10.0.1.1", 8080),
            ),
            (
                "service-wan-from-dc1",
                "dc1",
                &node_wan,
                "10.0.1.1",
                &svc_wan,
                presented("198.18.0.1", 80),
            ),
            (
                "node-addr-from-dc2",
                "dc2",
                &[],
                "",
                &[],
                presented("127.0.0.1", 8080),
            ),
            (
                "node-wan-from-dc2",
                "dc2",
                &node_wan,
                "",
                &[],
                presented("127.0.0.1", 8080),
            ),
            (
                "service-addr-from-dc2",
                "dc2",
                &node_wan,
                "10.0.1.1",
                &[],
                presented("10.0.1.1", 8080),
            ),
            (
                "service-wan-from-dc2",
                "dc2",
                &node_wan,
                "10.0.1.1",
                &svc_wan,
                presented("10.0.1.1", 8080),
            ),
        ];
        for (name, from, node_tagged, svc_addr, svc_tagged, want) in cases {
            assert_eq!(
                service_answer(from, node_tagged, svc_addr, svc_tagged),
                want,
                "{name}"
            );
        }
    }

    /// `TestCatalogNodes_WanTranslation`: node in dc2 at 127.0.0.1 with wan 127.0.0.2.
    #[test]
    fn catalog_nodes_translation() {
        let tagged = [TaggedAddress::new("wan", "127.0.0.2", 0)];
        assert_eq!(
            translate(&query("dc1", "dc2", "127.0.0.1", 0, &tagged)).address,
            "127.0.0.2"
        );
        assert_eq!(
            translate(&query("dc2", "dc2", "127.0.0.1", 0, &tagged)).address,
            "127.0.0.1"
        );
    }

    #[test]
    fn disabled_never_translates() {
        let tagged = [TaggedAddress::new("wan", "198.18.0.1", 80)];
        let mut q = query("dc1", "dc2", "10.0.0.1", 8080, &tagged);
        q.enabled = false;
        assert_eq!(translate(&q), presented("10.0.0.1", 8080));
    }

    #[test]
    fn wan_port_zero_keeps_port() {
        let tagged = [TaggedAddress::new("wan", "198.18.0.1", 0)];
        assert_eq!(
            translate(&query("dc1", "dc2", "10.0.0.1", 8080, &tagged)),
            presented("198.18.0.1", 8080)
        );
    }

    #[test]
    fn present_but_empty_wan_tag_replaces_default() {
        // Upstream (`if v, ok := tagged[wan]; ok { def = v }`) does not skip an empty value.
        let tagged = [TaggedAddress::new("wan", "", 0)];
        assert_eq!(
            translate(&query("dc1", "dc2", "10.0.0.1", 0, &tagged)).address,
            ""
        );
    }

    #[test]
    fn family_selection() {
        let tagged = [
            TaggedAddress::new("lan_ipv4", "10.0.0.4", 0),
            TaggedAddress::new("lan_ipv6", "fd00::6", 0),
            TaggedAddress::new("wan_ipv4", "198.18.0.4", 0),
            TaggedAddress::new("wan_ipv6", "2001:db8::6", 0),
            TaggedAddress::new("wan", "198.18.0.1", 0),
        ];
        // Local data: the lan_* candidates are used; AAAA prefers v6, A v4, HTTP v6 first.
        let mut q = query("dc1", "dc1", "node.example", 0, &tagged);
        q.accept = Accept::DNS_A;
        assert_eq!(translate(&q).address, "10.0.0.4");
        q.accept = Accept::DNS_AAAA;
        assert_eq!(translate(&q).address, "fd00::6");
        q.accept = Accept::ANY;
        assert_eq!(translate(&q).address, "fd00::6");
        // Remote data: the wan_* overrides.
        q.record_datacenter = "dc2".to_string();
        q.accept = Accept::DNS_A;
        assert_eq!(translate(&q).address, "198.18.0.4");
        q.accept = Accept::DNS_AAAA;
        assert_eq!(translate(&q).address, "2001:db8::6");
    }

    #[test]
    fn accept_quirks_match_upstream() {
        // Non-empty accept returns the default whatever its family (upstream's `Any` is ^0).
        assert_eq!(
            translate_address_accept(Accept::DNS_A, "fd00::1", "", ""),
            "fd00::1"
        );
        assert_eq!(
            translate_address_accept(Accept::DNS_AAAA, "10.0.0.1", "", ""),
            "10.0.0.1"
        );
        assert_eq!(
            translate_address_accept(Accept::DNS_A, "host.example", "", ""),
            "host.example"
        );
        // IPv4 only, v6 known but not accepted: v4.
        let v4_only = Accept {
            ipv4: true,
            ..Accept::default()
        };
        assert_eq!(
            translate_address_accept(v4_only, "d", "10.0.0.4", "fd00::6"),
            "10.0.0.4"
        );
        // Nothing accepted: nothing presented.
        assert_eq!(
            translate_address_accept(Accept::default(), "10.0.0.1", "10.0.0.4", "fd00::6"),
            ""
        );
        // Nothing known: nothing presented.
        assert_eq!(translate_address_accept(Accept::ANY, "", "", ""), "");
    }

    #[test]
    fn service_without_address_stays_empty() {
        // Callers fall back to the node's address; translate itself reports "".
        assert_eq!(
            translate(&query("dc1", "dc2", "", 8080, &[])),
            presented("", 8080)
        );
    }
}
