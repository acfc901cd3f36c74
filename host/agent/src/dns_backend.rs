//! The DNS server's data: catalog reads through the forwarding point (stale reads, as Consul's
//! DNS default `allow_stale`).

use praetor_dns::{Backend, Instance, LookupError, NodeRecord};
use praetor_rpc::{Consistency, QueryRequest, Rpc, RpcError};
use praetor_state::{CheckStatus, Query, QueryResult};

pub struct DnsBackend {
    pub rpc: Rpc,
    /// Consul's `dns_config.only_passing`: also drop instances with warning checks.
    pub only_passing: bool,
}

fn lookup_err(e: RpcError) -> LookupError {
    match e.root() {
        RpcError::NoPathToDatacenter => LookupError::NoPathToDatacenter,
        e => LookupError::Unavailable(e.to_string()),
    }
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
            .map(|n| Instance {
                node: n.node.node,
                node_address: n.node.address,
                service_address: n.service.address,
                port: n.service.port,
                datacenter: n.node.datacenter,
                weight: n.service.weights.passing.clamp(1, u16::MAX as i32) as u16,
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
            QueryResult::NodeServices(Some((n, _))) => Ok(Some(NodeRecord {
                node: n.node,
                address: n.address,
                datacenter: n.datacenter,
            })),
            _ => Ok(None),
        }
    }
}
