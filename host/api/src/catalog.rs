//! `/v1/catalog/*` and `/v1/health/*`: catalog registration and reads.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use praetor_rpc::{Consistency, QueryRequest, Request, Response as RpcResponse};
use praetor_state::{
    CheckStatus, Command, CommandResult, HealthCheck, Node, Query as Q, QueryResult, Service,
    ServiceAddress, Weights,
};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::filtering::{self, ListFilter};
use crate::json::{self, DeregisterRequest, RegisterRequest, decode};
use crate::params::{Params, query_headers};
use crate::{AppState, now_ms, present};

/// Runs a read and answers it with Consul's headers.
pub(crate) async fn read(
    st: &AppState,
    p: &Params,
    q: Q,
    render: impl FnOnce(QueryResult) -> ApiResult<Value>,
) -> ApiResult<Response> {
    read_request(st, p, p.query(q)?, render).await
}

/// A read that honours `?near=` (sorted by estimated round-trip time from that node): the
/// endpoints where Consul parses a query source.
async fn read_near(
    st: &AppState,
    p: &Params,
    q: Q,
    render: impl FnOnce(QueryResult) -> ApiResult<Value>,
) -> ApiResult<Response> {
    let mut req = p.query(q)?;
    req.near = p.near(&st.agent.node_name());
    read_request(st, p, req, render).await
}

async fn read_request(
    st: &AppState,
    p: &Params,
    req: QueryRequest,
    render: impl FnOnce(QueryResult) -> ApiResult<Value>,
) -> ApiResult<Response> {
    let resp = st.rpc.query(p, p.dc(), req).await?;
    let headers = query_headers(&resp);
    let body = render(resp.output.result)?;
    Ok((headers, axum::Json(body)).into_response())
}

fn unexpected(r: QueryResult) -> ApiError {
    ApiError::unexpected_result(&r)
}

pub async fn register(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let r: RegisterRequest = decode(&body)?;
    if r.node.is_empty() {
        return Err(ApiError::BadRequest("Must provide node".into()));
    }
    if r.address.is_empty() && !r.skip_node_update {
        return Err(ApiError::BadRequest(
            "Must provide address if SkipNodeUpdate is not set".into(),
        ));
    }
    let dc = if r.datacenter.is_empty() {
        p.dc().map(String::from)
    } else {
        Some(r.datacenter.clone())
    };
    let node = Node {
        id: r.id.clone(),
        node: r.node.clone(),
        address: r.address.clone(),
        datacenter: dc
            .clone()
            .unwrap_or_else(|| st.rpc.datacenter().to_string()),
        tagged_addresses: r.tagged_addresses.clone(),
        meta: r.node_meta.clone(),
        ..Default::default()
    };
    let service = match &r.service {
        Some(s) => {
            if s.service.is_empty() {
                return Err(ApiError::BadRequest(
                    "Must provide service name with ID".into(),
                ));
            }
            match s.kind.as_str() {
                "" | "connect-proxy" | "mesh-gateway" => {}
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "Invalid service Kind: {other:?} (praetor serves connect-proxy and mesh-gateway)"
                    )));
                }
            }
            if s.kind == "connect-proxy"
                && s.proxy
                    .as_ref()
                    .is_none_or(|p| p.destination_service_name.is_empty())
            {
                return Err(ApiError::BadRequest(
                    "Proxy.DestinationServiceName must be non-empty for Connect proxy services"
                        .into(),
                ));
            }
            Some(service_from_body(s))
        }
        None => None,
    };
    let mut checks = Vec::new();
    for c in r.check.iter().chain(r.checks.iter()) {
        if c.check_id.is_empty() && c.name.is_empty() {
            return Err(ApiError::BadRequest(
                "Must provide a CheckID or Name".into(),
            ));
        }
        let status = if c.status.is_empty() {
            CheckStatus::Critical
        } else {
            CheckStatus::parse(&c.status).ok().ok_or_else(|| {
                ApiError::BadRequest(format!("Invalid check status \"{}\"", c.status))
            })?
        };
        checks.push(HealthCheck {
            node: r.node.clone(),
            check_id: if c.check_id.is_empty() {
                c.name.clone()
            } else {
                c.check_id.clone()
            },
            name: if c.name.is_empty() {
                c.check_id.clone()
            } else {
                c.name.clone()
            },
            status,
            notes: c.notes.clone(),
            output: c.output.clone(),
            service_id: c.service_id.clone(),
            ..Default::default()
        });
    }
    let cmd = Command::Register {
        node,
        service,
        checks,
        now_ms: now_ms(),
    };
    match st.rpc.apply(&p, dc.as_deref(), cmd).await? {
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        _ => Ok(axum::Json(true).into_response()),
    }
}

/// Converts a JSON service body into the domain service.
pub(crate) fn service_from_body(s: &json::ServiceBody) -> Service {
    Service {
        id: if s.id.is_empty() {
            s.service.clone()
        } else {
            s.id.clone()
        },
        service: s.service.clone(),
        tags: s.tags.clone(),
        address: s.address.clone(),
        port: s.port,
        meta: s.meta.clone(),
        tagged_addresses: s
            .tagged_addresses
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    ServiceAddress {
                        address: a.address.clone(),
                        port: a.port,
                    },
                )
            })
            .collect(),
        enable_tag_override: s.enable_tag_override,
        weights: s
            .weights
            .map(|w| Weights {
                passing: w.passing,
                warning: w.warning,
            })
            .unwrap_or_default(),
        kind: s.kind.clone(),
        proxy: s
            .proxy
            .clone()
            .map(|p| praetor_mesh::registration::service_proxy(&json::proxy_spec(p))),
        connect_native: s.connect.as_ref().is_some_and(|c| c.native),
        ..Default::default()
    }
}

pub async fn deregister(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let r: DeregisterRequest = decode(&body)?;
    if r.node.is_empty() {
        return Err(ApiError::BadRequest("Must provide node".into()));
    }
    let dc = if r.datacenter.is_empty() {
        p.dc().map(String::from)
    } else {
        Some(r.datacenter.clone())
    };
    let cmd = Command::Deregister {
        node: r.node,
        service_id: Some(r.service_id).filter(|s| !s.is_empty()),
        check_id: Some(r.check_id).filter(|s| !s.is_empty()),
        now_ms: now_ms(),
    };
    match st.rpc.apply(&p, dc.as_deref(), cmd).await? {
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        _ => Ok(axum::Json(true).into_response()),
    }
}

/// `GET /v1/catalog/datacenters`: answered by a server of this datacenter (never forwarded
/// to another one; `?dc` is ignored, as in Consul): local first, then by WAN round-trip time.
pub async fn datacenters(State(st): State<AppState>) -> ApiResult<Response> {
    match st.rpc.inner().call(None, Request::Datacenters).await? {
        RpcResponse::Datacenters(dcs) => Ok(axum::Json(dcs).into_response()),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

pub async fn nodes(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let lf = ListFilter::from_params(&p, Some(filtering::NODE))?;
    read_near(&st, &p, Q::CatalogNodes, |r| match r {
        QueryResult::Nodes(mut n) => {
            n.retain(|n| lf.meta_matches(&n.meta));
            n.iter_mut().for_each(|n| present::node(&st, n));
            Ok(json!(lf.apply(n.iter().map(json::node).collect())?))
        }
        r => Err(unexpected(r)),
    })
    .await
}

/// `GET /v1/catalog/services`: name to the union of its instances' tags. With `?filter=` or
/// `?node-meta=` the instances are filtered first (as `ServiceNode`s), then grouped.
pub async fn services(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let lf = ListFilter::from_params(&p, Some(filtering::SERVICE_NODE))?;
    if lf.is_empty() {
        return read(&st, &p, Q::CatalogServices, |r| match r {
            QueryResult::Services(s) => Ok(json!(s)),
            r => Err(unexpected(r)),
        })
        .await;
    }
    read(&st, &p, Q::CatalogServiceNodes, |r| match r {
        QueryResult::ServiceNodes(mut v) => {
            v.retain(|sn| lf.meta_matches(&sn.node.meta));
            let kept = lf.apply(v.iter().map(json::service_node).collect())?;
            let mut grouped: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for sn in &kept {
                let tags = grouped
                    .entry(sn["ServiceName"].as_str().unwrap_or_default().to_string())
                    .or_default();
                if let Some(t) = sn["ServiceTags"].as_array() {
                    tags.extend(t.iter().filter_map(Value::as_str).map(String::from));
                }
            }
            Ok(json!(grouped))
        }
        r => Err(unexpected(r)),
    })
    .await
}

pub async fn service(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let tag = p.get("tag").map(String::from);
    service_rows(&st, &p, Q::CatalogService { service: name, tag }).await
}

/// `GET /v1/catalog/connect/<service>`: the connect set as catalog rows.
pub async fn connect(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let tag = p.get("tag").map(String::from);
    service_rows(&st, &p, Q::CatalogConnect { service: name, tag }).await
}

async fn service_rows(st: &AppState, p: &Params, q: Q) -> ApiResult<Response> {
    let lf = ListFilter::from_params(p, Some(filtering::SERVICE_NODE))?;
    read_near(st, p, q, |r| match r {
        QueryResult::ServiceNodes(mut v) => {
            v.retain(|sn| lf.meta_matches(&sn.node.meta));
            for sn in v.iter_mut() {
                present::node(st, &mut sn.node);
                present::service(st, &sn.node.datacenter, &mut sn.service);
            }
            Ok(json!(lf.apply(v.iter().map(json::service_node).collect())?))
        }
        r => Err(unexpected(r)),
    })
    .await
}

pub async fn node(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let lf = ListFilter::from_params(&p, Some(filtering::NODE_SERVICE))?;
    read(&st, &p, Q::CatalogNode { node: name }, |r| match r {
        QueryResult::NodeServices(None) => Ok(Value::Null),
        QueryResult::NodeServices(Some((mut n, mut services))) => {
            present_node_services(&st, &mut n, &mut services);
            let m: BTreeMap<String, Value> = services
                .iter()
                .map(|s| (s.id.clone(), json::service(s)))
                .collect();
            Ok(json!({"Node": json::node(&n), "Services": lf.apply_map(m)?}))
        }
        r => Err(unexpected(r)),
    })
    .await
}

pub async fn node_services(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let lf = ListFilter::from_params(&p, Some(filtering::NODE_SERVICE))?;
    read(&st, &p, Q::CatalogNode { node: name }, |r| match r {
        QueryResult::NodeServices(None) => Ok(Value::Null),
        QueryResult::NodeServices(Some((mut n, mut services))) => {
            present_node_services(&st, &mut n, &mut services);
            Ok(json!({
                "Node": json::node(&n),
                "Services": lf.apply(services.iter().map(json::service).collect())?,
            }))
        }
        r => Err(unexpected(r)),
    })
    .await
}

/// Renders checks through `?filter=`; with `?node-meta=`, only checks of nodes whose meta
/// matches (read from the same datacenter's catalog, stale, as the checks carry no meta).
async fn read_checks(st: &AppState, p: &Params, q: Q, near: bool) -> ApiResult<Response> {
    let lf = ListFilter::from_params(p, Some(filtering::HEALTH_CHECK))?;
    let nodes: Option<BTreeSet<String>> = if lf.has_node_meta() {
        let mut req = p.query(Q::CatalogNodes)?;
        (req.consistency, req.min_index) = (Consistency::Stale, 0);
        match st.rpc.query(p, p.dc(), req).await?.output.result {
            QueryResult::Nodes(n) => Some(
                n.into_iter()
                    .filter(|n| lf.meta_matches(&n.meta))
                    .map(|n| n.node)
                    .collect(),
            ),
            r => return Err(unexpected(r)),
        }
    } else {
        None
    };
    let render = |r| match r {
        QueryResult::Checks(mut c) => {
            if let Some(nodes) = &nodes {
                c.retain(|c| nodes.contains(&c.node));
            }
            Ok(json!(lf.apply(c.iter().map(json::check).collect())?))
        }
        r => Err(unexpected(r)),
    };
    if near {
        read_near(st, p, q, render).await
    } else {
        read(st, p, q, render).await
    }
}

pub async fn health_node(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    read_checks(&st, &p, Q::HealthNode { node: name }, false).await
}

pub async fn health_checks(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    read_checks(&st, &p, Q::HealthChecks { service: name }, true).await
}

pub async fn health_state(
    State(st): State<AppState>,
    Path(state): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let state = match state.as_str() {
        "any" => None,
        s => Some(
            CheckStatus::parse(s)
                .ok()
                .ok_or_else(|| ApiError::BadRequest(format!("Invalid check state \"{s}\"")))?,
        ),
    };
    read_checks(&st, &p, Q::HealthState { state }, true).await
}

pub async fn health_service(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let q = Q::HealthService {
        service: name,
        tag: p.get("tag").map(String::from),
        passing_only: p.flag("passing"),
    };
    health_rows(&st, &p, q).await
}

/// `GET /v1/health/connect/<service>`: the service's connect set (its proxies and native
/// instances) in `/v1/health/service`'s shape.
pub async fn health_connect(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let q = Q::HealthConnect {
        service: name,
        tag: p.get("tag").map(String::from),
        passing_only: p.flag("passing"),
    };
    health_rows(&st, &p, q).await
}

async fn health_rows(st: &AppState, p: &Params, q: Q) -> ApiResult<Response> {
    let lf = ListFilter::from_params(p, Some(filtering::CHECK_SERVICE_NODE))?;
    read_near(st, p, q, |r| match r {
        QueryResult::CheckServiceNodes(mut v) => {
            v.retain(|c| lf.meta_matches(&c.node.meta));
            for c in v.iter_mut() {
                present::node(st, &mut c.node);
                present::service(st, &c.node.datacenter, &mut c.service);
            }
            Ok(json!(
                lf.apply(v.iter().map(json::check_service_node).collect())?
            ))
        }
        r => Err(unexpected(r)),
    })
    .await
}

/// Presents a node and its services through the translator.
fn present_node_services(st: &AppState, n: &mut Node, services: &mut [Service]) {
    present::node(st, n);
    for s in services.iter_mut() {
        present::service(st, &n.datacenter, s);
    }
}
