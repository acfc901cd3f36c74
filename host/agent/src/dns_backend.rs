//! The DNS server's data: catalog reads and prepared-query executes through the forwarding point
//! (stale reads, as Consul's DNS default `allow_stale`), and the stamp the DNS answer cache is
//! validated with.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;

use praetor_dns::{
    Backend, Instance, LookupError, NodeRecord, QueryAnswer, ReverseName, address_matches,
};
use praetor_policy::{Accept, AddressQuery, TaggedAddress};
use praetor_rpc::{Consistency, QueryRequest, Request, Response, Rpc, RpcError};
use praetor_state::{CheckServiceNode, CheckStatus, Query, QueryResult};

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
    /// The healthy instances a health query answers (Consul's DNS never returns instances
    /// with a critical or maintenance check).
    async fn healthy(&self, dc: Option<&str>, q: Query) -> Result<Vec<Instance>, LookupError> {
        let resp = self
            .rpc
            .query_as(&self.caller(), dc, stale(q))
            .await
            .map_err(lookup_err)?;
        let QueryResult::CheckServiceNodes(nodes) = resp.output.result else {
            return Err(LookupError::Unavailable("unexpected result".into()));
        };
        Ok(nodes
            .into_iter()
            .filter(|n| {
                n.checks
                    .iter()
                    .all(|c| matches!(c.status, CheckStatus::Passing | CheckStatus::Warning))
            })
            .map(|n| {
                let dc = n.node.datacenter.clone();
                self.instance(n, dc)
            })
            .collect())
    }

    /// DNS reads run as `acl.tokens.dns`, else `default`, else anonymous (Consul's DNS).
    fn caller(&self) -> praetor_rpc::Caller {
        praetor_rpc::Caller::Token(self.rpc.agent_tokens().dns_or_default().to_string())
    }

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

    /// One instance as DNS answers it, presented (WAN translation) for datacenter `dc`.
    fn instance(&self, n: CheckServiceNode, dc: String) -> Instance {
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
        let (service_address, port) = self.present(&dc, &n.service.address, n.service.port, tagged);
        // Consul: when the answered address is not the node's own, the SRV target is
        // `<hex-ip>.addr.<dc>` -- so a translated node address is presented as the
        // instance's address, and the node keeps its catalog address.
        let service_address = if service_address.is_empty() && node_address != n.node.address {
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
    }
}

/// A prepared query's `DNS.TTL` (a Go duration) in whole seconds, as Consul's `preparedQueryLookup`
/// reads it: None when unset (the service TTL applies), 0 when it does not parse.
fn query_ttl(ttl: &str, query: &str) -> Option<u32> {
    if ttl.is_empty() {
        return None;
    }
    match praetor_config::parse_duration(ttl) {
        Ok(d) => Some(u32::try_from(d.as_secs()).unwrap_or(u32::MAX)),
        Err(error) => {
            tracing::warn!(
                %ttl,
                prepared_query = query,
                %error,
                "Failed to parse TTL for prepared query, ignoring"
            );
            Some(0)
        }
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
        self.healthy(dc, q).await
    }

    async fn connect_instances(
        &self,
        dc: Option<&str>,
        service: &str,
    ) -> Result<Vec<Instance>, LookupError> {
        let q = Query::HealthConnect {
            service: service.to_string(),
            tag: None,
            passing_only: self.only_passing,
        };
        self.healthy(dc, q).await
    }

    /// Consul's `preparedQueryLookup` read: `PreparedQuery.Execute` in `dc` with stale reads allowed, no
    /// `Near` and no limit. The nodes already passed the query's filters (and failover), so none is
    /// dropped here; they are presented in the datacenter that answered.
    async fn prepared_query(
        &self,
        dc: Option<&str>,
        name: &str,
    ) -> Result<Option<QueryAnswer>, LookupError> {
        let req = Request::PreparedQueryExecute {
            name: name.to_string(),
            near: None,
            limit: 0,
            stale: true,
            connect: false,
        };
        let result = match self
            .rpc
            .call_as(&self.caller(), dc, req)
            .await
            .map_err(lookup_err)?
        {
            Response::PreparedQueryExecute(result) => result,
            _ => return Err(LookupError::Unavailable("unexpected result".into())),
        };
        let Some(result) = result else {
            return Ok(None);
        };
        let ttl = query_ttl(&result.dns_ttl, name);
        let answered = result.datacenter;
        let instances = result
            .nodes
            .into_iter()
            .map(|n| {
                let dc = if answered.is_empty() {
                    n.node.datacenter.clone()
                } else {
                    answered.clone()
                };
                self.instance(n, dc)
            })
            .collect();
        Ok(Some(QueryAnswer { instances, ttl }))
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

    /// Local answers are stale reads of this server's own state store, run as the agent's DNS token
    /// and presented through the translator slot. So the stamp combines the store's last applied raft
    /// index (every catalog, health, ACL or config entry write moves it, and it moves after the write
    /// is visible), the ACL generation (agent tokens and ACL settings changed at run time), and the
    /// translator's version (a swap, a revert or a failed call moves it; two atomic loads). A
    /// client agent has no local store: its reads go to a server, whose index it cannot see
    /// without a round trip, so it does not cache (None).
    fn answer_stamp(&self) -> Option<u64> {
        let index = self.rpc.consensus()?.store().last_index();
        let mut h = DefaultHasher::new();
        index.hash(&mut h);
        self.rpc.acl_generation().hash(&mut h);
        self.plugins.translator_version().hash(&mut h);
        Some(h.finish())
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

#[cfg(test)]
mod tests {
    use super::query_ttl;

    #[test]
    fn prepared_query_ttl() {
        assert_eq!(query_ttl("", "q"), None);
        assert_eq!(query_ttl("10s", "q"), Some(10));
        assert_eq!(query_ttl("1m30s", "q"), Some(90));
        assert_eq!(query_ttl("1500ms", "q"), Some(1));
        assert_eq!(query_ttl("0", "q"), Some(0));
        assert_eq!(query_ttl("bogus", "q"), Some(0));
        assert_eq!(query_ttl("-5s", "q"), Some(0));
        assert_eq!(query_ttl("2000000h", "q"), Some(u32::MAX));
    }
}
