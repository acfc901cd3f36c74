//! The DNS server's data: catalog reads through the forwarding point (stale reads, as Consul's
//! DNS default `allow_stale`).

use std::net::IpAddr;

use praetor_dns::{Backend, Instance, LookupError, NodeRecord, ReverseName, address_matches};
use praetor_policy::{Accept, AddressQuery, TaggedAddress};
use praetor_rpc::{Consistency, QueryRequest, Rpc, RpcError};
use praetor_state::{CheckStatus, Query, QueryResult};

pub struct DnsBackend {
    pub rpc: Rpc,
    /// The translator slot: DNS answers present addresses through it, like HTTP answers.
    pub plugins: praetor_plugin_host::PluginHost,
    pub translate_wan_addrs: bool,
    /// Consul's `dns_config.only_passing`: also drop instances with warning checks.
    pub only_passing: bool,
}

fn lookup_err(e: RpcError) -> LookupError {
    match e.root() {
        RpcError::NoPathToDatacenter => LookupError::NoPathToDatacenter,
        e => LookupError::Unavailable(e.to_string()),
    }
}

impl DnsBackend {
    fn present(
        &self,
        record_dc: &str,
        address: &str,
        port: u16,
        tagged: Vec<TaggedAddress>,
    ) -> (String, u16) {
        let q = AddressQuery {
            local_datacenter: self.rpc.datacenter().to_string(),
            record_datacenter: record_dc.to_string(),
            enabled: self.translate_wan_addrs,
            address: address.to_string(),
            port,
            tagged,
            accept: Accept::ANY,
        };
        let p = self.plugins.translate(&q);
        (p.address, if p.port == 0 { port } else { p.port })
    }
}

fn node_tagged(n: &praetor_state::Node) -> Vec<TaggedAddress> {
    n.tagged_addresses
        .iter()
        .map(|(k, a)| TaggedAddress {
            key: k.clone(),
            address: a.clone(),
            port: 0,
        })
        .collect()
}

fn stale(query: Query) -> QueryRequest {
    QueryRequest {
        consistency: Consistency::Stale,
        ..QueryRequest::new(query)
    }
}

#[async_trait::async_trait]
impl Backend for DnsBackend {
    async fn service_instances(
        &self,
        dc: Option<&str>,
        service: &str,
        tag: Option<&str>,
    ) -> Result<Vec<Instance>, LookupError> {
        let q = Query::HealthService {
            service: service.to_string(),
            tag: tag.map(String::from),
            passing_only: self.only_passing,
        };
        let resp = self.rpc.query(dc, stale(q)).await.map_err(lookup_err)?;
        let QueryResult::CheckServiceNodes(nodes) = resp.output.result else {
            return Err(LookupError::Unavailable("unexpected result".into()));
        };
        Ok(nodes
            .into_iter()
            // Consul's DNS never returns instances with a critical (or maintenance) check.
            .filter(|n| {
                n.checks
                    .iter()
                    .all(|c| matches!(c.status, CheckStatus::Passing | CheckStatus::Warning))
            })
            .map(|n| {
                let dc = n.node.datacenter.clone();
                let (node_address, _) = self.present(&dc, &n.node.address, 0, node_tagged(&n.node));
                let tagged = n
                    .service
                    .tagged_addresses
                    .iter()
                    .map(|(k, a)| TaggedAddress {
                        key: k.clone(),
                        address: a.address.clone(),
                        port: a.port,
                    })
                    .collect();
                let (service_address, port) =
                    self.present(&dc, &n.service.address, n.service.port, tagged);
                // Consul: when the answered address is not the node's own, the SRV target is
                // `<hex-ip>.addr.<dc>` -- so a translated node address is presented as the
                // instance's address, and the node keeps its catalog address.
                let service_address =
                    if service_address.is_empty() && node_address != n.node.address {
                        node_address
                    } else {
                        service_address
                    };
                Instance {
                    node: n.node.node,
                    node_address: n.node.address,
                    node_meta: n.node.meta,
                    service_address,
                    port,
                    datacenter: dc,
                    weight: n.service.weights.passing.clamp(1, u16::MAX as i32) as u16,
                }
            })
            .collect())
    }

    async fn node(&self, dc: Option<&str>, node: &str) -> Result<Option<NodeRecord>, LookupError> {
        let resp = self
            .rpc
            .query(
                dc,
                stale(Query::CatalogNode {
                    node: node.to_string(),
                }),
            )
            .await
            .map_err(lookup_err)?;
        match resp.output.result {
            QueryResult::NodeServices(Some((n, _))) => {
                let (address, _) = self.present(&n.datacenter, &n.address, 0, node_tagged(&n));
                Ok(Some(NodeRecord {
                    node: n.node,
                    address,
                    datacenter: n.datacenter,
                    meta: n.meta,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Consul's `handlePtr` over the local catalog, with catalog addresses as registered (no WAN
    /// translation: the lookup is local). Nodes come sorted by name, so the first match is Consul's. For
    /// the services step the state store has no index by address (Consul's `ServiceAddressNodes` scans
    /// too): every service is read, one query per service name, and the match first in Consul's order
    /// (node, then service ID, case-insensitively) wins.
    async fn reverse(&self, ip: IpAddr) -> Result<Option<ReverseName>, LookupError> {
        let resp = self
            .rpc
            .query(None, stale(Query::CatalogNodes))
            .await
            .map_err(lookup_err)?;
        let QueryResult::Nodes(nodes) = resp.output.result else {
            return Err(LookupError::Unavailable("unexpected result".into()));
        };
        if let Some(n) = nodes.into_iter().find(|n| address_matches(&n.address, ip)) {
            return Ok(Some(ReverseName::Node {
                node: n.node,
                datacenter: n.datacenter,
            }));
        }

        let resp = self
            .rpc
            .query(None, stale(Query::CatalogServiceNodes))
            .await
            .map_err(lookup_err)?;
        let QueryResult::ServiceNodes(rows) = resp.output.result else {
            return Err(LookupError::Unavailable("unexpected result".into()));
        };
        // An empty service address is no IP: such instances are found through their node only.
        // Rows come by node then service ID; the first match is Consul's answer.
        let first = rows
            .into_iter()
            .find(|r| address_matches(&r.service.address, ip))
            .map(|row| ReverseName::Service {
                service: row.service.service,
                datacenter: row.node.datacenter,
            });
        Ok(first)
    }
}
