//! `translate_wan_addrs` at the HTTP edge: every node and service record in a catalog or
//! health answer is presented through the agent's translator slot (a WebAssembly component;
//! the built-in follows Consul: WAN addresses only for records of another datacenter).

use praetor_policy::{Accept, AddressQuery, TaggedAddress};
use praetor_state::{Node, Service};

use crate::AppState;

fn query(
    st: &AppState,
    record_dc: &str,
    address: &str,
    port: u16,
    tagged: Vec<TaggedAddress>,
) -> AddressQuery {
    AddressQuery {
        local_datacenter: st.rpc.datacenter().to_string(),
        record_datacenter: record_dc.to_string(),
        enabled: st.agent.translate_enabled(),
        address: address.to_string(),
        port,
        tagged,
        accept: Accept::ANY,
    }
}

/// Rewrites a node's address for the caller (tagged addresses stay as they are).
pub fn node(st: &AppState, n: &mut Node) {
    let tagged = n
        .tagged_addresses
        .iter()
        .map(|(k, a)| TaggedAddress {
            key: k.clone(),
            address: a.clone(),
            port: 0,
        })
        .collect();
    let p = st
        .agent
        .translate(&query(st, &n.datacenter, &n.address, 0, tagged));
    if !p.address.is_empty() {
        n.address = p.address;
    }
}

/// Rewrites a service's address and port for the caller (an empty service address stays
/// empty unless the service has a tagged address to present: callers then use the node's).
pub fn service(st: &AppState, record_dc: &str, s: &mut Service) {
    let tagged = s
        .tagged_addresses
        .iter()
        .map(|(k, a)| TaggedAddress {
            key: k.clone(),
            address: a.address.clone(),
            port: a.port,
        })
        .collect();
    let p = st
        .agent
        .translate(&query(st, record_dc, &s.address, s.port, tagged));
    s.address = p.address;
    if p.port != 0 {
        s.port = p.port;
    }
}
