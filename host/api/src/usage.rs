//! `GET /v1/operator/usage[?global]`: Consul's `structs.Usage`, counted from the catalog of each
//! datacenter (distinct service names, instances, billable instances, nodes).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use praetor_rpc::{Consistency, QueryResponse, Request, Response as RpcResponse};
use praetor_state::{Query as Q, QueryResult};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, query_headers};

/// The connect kinds Consul always lists (praetor has no mesh yet: every count is 0).
const CONNECT_KINDS: [&str; 6] = [
    "api-gateway",
    "connect-native",
    "connect-proxy",
    "ingress-gateway",
    "mesh-gateway",
    "terminating-gateway",
];

/// The catalog service the servers register as; not billable.
const CONSUL_SERVICE: &str = "consul";

async fn read(st: &AppState, p: &Params, dc: Option<&str>, q: Q) -> ApiResult<QueryResponse> {
    let mut req = p.query(q)?;
    if dc.is_some_and(|d| d != st.rpc.datacenter()) {
        // Other datacenters are asked without blocking, as Consul's fan-out does.
        (req.min_index, req.wait_ms, req.consistency) = (0, 0, Consistency::Stale);
    }
    Ok(st.rpc.query(p, dc, req).await?)
}

/// One datacenter's usage and the response of its service read (for the headers).
async fn usage_of(
    st: &AppState,
    p: &Params,
    dc: Option<&str>,
) -> ApiResult<(Value, QueryResponse)> {
    let services = read(st, p, dc, Q::CatalogServiceNodes).await?;
    let QueryResult::ServiceNodes(rows) = &services.output.result else {
        return Err(ApiError::unexpected_result(&services.output.result));
    };
    let names: BTreeSet<&str> = rows.iter().map(|r| r.service.service.as_str()).collect();
    let billable = rows
        .iter()
        .filter(|r| r.service.service != CONSUL_SERVICE)
        .count();
    let nodes = read(st, p, dc, Q::CatalogNodes).await?;
    let QueryResult::Nodes(n) = &nodes.output.result else {
        return Err(ApiError::unexpected_result(&nodes.output.result));
    };
    let connect: BTreeMap<&str, u64> = CONNECT_KINDS.iter().map(|k| (*k, 0)).collect();
    let usage = json!({
        "Services": names.len(),
        "ServiceInstances": rows.len(),
        "ConnectServiceInstances": connect,
        "BillableServiceInstances": billable,
        "Nodes": n.len(),
    });
    Ok((usage, services))
}

pub async fn usage(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .operator_read_allowed()?;
    let local = p.dc().unwrap_or(st.rpc.datacenter()).to_string();
    let (usage, resp) = usage_of(&st, &p, p.dc()).await?;
    let mut all = BTreeMap::from([(local.clone(), usage)]);
    if p.has("global") {
        let dcs = match st.rpc.call(&p, None, Request::Datacenters).await? {
            RpcResponse::Datacenters(d) => d,
            other => return Err(ApiError::unexpected_response(&other)),
        };
        for dc in dcs.iter().filter(|d| **d != local) {
            match usage_of(&st, &p, Some(dc)).await {
                Ok((u, _)) => {
                    all.insert(dc.clone(), u);
                }
                Err(e) => tracing::warn!(datacenter = %dc, error = %e, "usage of a datacenter"),
            }
        }
    }
    let mut body = crate::json::query_meta(&resp);
    body.insert("Usage".into(), json!(all));
    Ok((query_headers(&resp), axum::Json(body)).into_response())
}
