//! `GET /v1/agent/connect/proxy/<proxy-id>`: everything a registered `connect-proxy` needs,
//! in one blocking answer (Consul's old managed-proxy endpoint, extended): its leaf and key,
//! the trusted roots, the intentions for its service with the default verdict, and for each
//! upstream the discovery chain's targets with their healthy endpoints (the service's proxies,
//! or mesh gateways, per the gateway mode). `?hash=<ContentHash>` waits (up to `?wait`,
//! default 5 min) until the view changes, so a proxy needs no other request to stay current.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::FutureExt;
use futures::future::BoxFuture;
use praetor_mesh::ConfigEntry;
use praetor_mesh::chain::{Chain, ChainInput, Target, compile};
use praetor_mesh::intentions::{self as ixn, IntentionView};
use praetor_rpc::{Consistency, QueryRequest};
use praetor_state::{CheckServiceNode, Query as Q, QueryResult, Service, ServiceProxy};
use serde_json::{Value, json};
use sha2::Digest;

use crate::AppState;
use crate::config_entry::{invalid, typed_of};
use crate::connect_ca::CA_NOT_READY;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/agent/connect/proxy/{id}", get(view))
}

const DEFAULT_WAIT: Duration = Duration::from_secs(300);
const MAX_WAIT: Duration = Duration::from_secs(600);

/// A read the view was built from, with the index it answered at (what a wait blocks on).
struct Source {
    dc: Option<String>,
    query: Q,
    index: u64,
}

async fn read(
    st: &AppState,
    p: &Params,
    dc: Option<&str>,
    q: Q,
    sources: &mut Vec<Source>,
) -> ApiResult<QueryResult> {
    let mut req = QueryRequest::new(q.clone());
    req.consistency = Consistency::Stale;
    let resp = st.rpc.query(p, dc, req).await?;
    sources.push(Source {
        dc: dc.map(str::to_string),
        query: q,
        index: resp.output.index,
    });
    Ok(resp.output.result)
}

fn endpoint(row: &CheckServiceNode, wan: bool) -> Value {
    let (n, s) = (&row.node, &row.service);
    let tagged = |key: &str| {
        s.tagged_addresses
            .get(key)
            .filter(|a| !a.address.is_empty())
            .map(|a| (a.address.clone(), if a.port == 0 { s.port } else { a.port }))
    };
    let node_wan = n.tagged_addresses.get("wan").filter(|a| !a.is_empty());
    let (address, port) = if wan {
        tagged("wan")
            .or_else(|| (!s.address.is_empty()).then(|| (s.address.clone(), s.port)))
            .or_else(|| node_wan.map(|a| (a.clone(), s.port)))
            .unwrap_or_else(|| (n.address.clone(), s.port))
    } else {
        tagged("lan")
            .or_else(|| (!s.address.is_empty()).then(|| (s.address.clone(), s.port)))
            .unwrap_or_else(|| (n.address.clone(), s.port))
    };
    json!({"Node": n.node, "Datacenter": n.datacenter, "Address": address, "Port": port})
}

fn rows(r: QueryResult) -> Vec<CheckServiceNode> {
    match r {
        QueryResult::CheckServiceNodes(v) => v,
        _ => Vec::new(),
    }
}

/// The endpoints a proxy dials for `target`: its proxies here, or the gateways the mode says
/// (FED §7.5).
async fn target_json(
    st: &AppState,
    p: &Params,
    local_dc: &str,
    t: &Target,
    sources: &mut Vec<Source>,
) -> ApiResult<Value> {
    let remote = t.datacenter != local_dc;
    let connect = |service: &str| Q::HealthConnect {
        service: service.to_string(),
        tag: None,
        passing_only: true,
    };
    let gateways = Q::HealthKind {
        kind: "mesh-gateway".into(),
        passing_only: true,
    };
    let (via, endpoints): (&str, Vec<Value>) = match (remote, t.mesh_gateway_mode.as_str()) {
        (false, _) => {
            let r = read(st, p, None, connect(&t.service), sources).await?;
            (
                "direct",
                rows(r).iter().map(|x| endpoint(x, false)).collect(),
            )
        }
        (true, "local") => {
            let r = read(st, p, None, gateways, sources).await?;
            (
                "local-gateway",
                rows(r).iter().map(|x| endpoint(x, false)).collect(),
            )
        }
        (true, "remote") => {
            let r = read(st, p, Some(&t.datacenter), gateways, sources).await?;
            (
                "remote-gateway",
                rows(r).iter().map(|x| endpoint(x, true)).collect(),
            )
        }
        (true, _) => {
            let r = read(st, p, Some(&t.datacenter), connect(&t.service), sources).await?;
            (
                "direct",
                rows(r).iter().map(|x| endpoint(x, true)).collect(),
            )
        }
    };
    Ok(json!({
        "ID": t.id,
        "Service": t.service,
        "Datacenter": t.datacenter,
        "SNI": t.sni,
        "MeshGatewayMode": t.mesh_gateway_mode,
        "Via": via,
        "Endpoints": endpoints,
    }))
}

/// Builds the view and the reads it came from.
async fn assemble(
    st: &AppState,
    p: &Params,
    svc: &Service,
    proxy: &ServiceProxy,
    sources: &mut Vec<Source>,
) -> ApiResult<(Value, u64)> {
    let local_dc = st.rpc.datacenter().to_string();
    let target = proxy.destination_service_name.clone();
    let QueryResult::CaRoots { cluster_id, roots } = read(st, p, None, Q::CaRoots, sources).await?
    else {
        return Err(ApiError::Internal(CA_NOT_READY.into()));
    };
    if cluster_id.is_empty() {
        return Err(ApiError::Internal(CA_NOT_READY.into()));
    }
    let trust_domain = format!("{cluster_id}.consul");
    let leaf = st
        .agent
        .leaf_cert(&target, st.rpc.secret(p), 0, None)
        .await?;
    let QueryResult::ConfigEntries(stored) = read(
        st,
        p,
        None,
        Q::ConfigEntries {
            kind: None,
            name: None,
        },
        sources,
    )
    .await?
    else {
        return Err(ApiError::Internal(
            "unexpected config entries answer".into(),
        ));
    };
    let entries = stored
        .iter()
        .map(|e| typed_of(e).map(|t| (t, e.create_index, e.modify_index)))
        .collect::<ApiResult<Vec<_>>>()?;
    let mut input = ChainInput {
        service: "",
        datacenter: "",
        trust_domain: &trust_domain,
        ..ChainInput::default()
    };
    let mut intentions = Vec::new();
    for (e, c, m) in &entries {
        match e {
            ConfigEntry::ProxyDefaults(x) => input.proxy_defaults = Some(x),
            ConfigEntry::ServiceDefaults(x) => {
                input.service_defaults.insert(&x.name, x);
            }
            ConfigEntry::ServiceResolver(x) => {
                input.resolvers.insert(&x.name, x);
            }
            ConfigEntry::ServiceIntentions(x) => intentions.push((x, *c, *m)),
            ConfigEntry::Mesh(_) => {}
        }
    }
    let all = ixn::views(intentions.iter().map(|(e, c, m)| (*e, *c, *m)));
    let mine: Vec<Value> = ixn::matching(&all, &target, false)
        .into_iter()
        .map(IntentionView::to_json)
        .collect();
    let acl = st.rpc.inner().acl_settings();
    let default_allow = !acl.enabled || acl.default_policy == praetor_acl::DefaultPolicy::Allow;
    let mut upstreams = Vec::new();
    for u in &proxy.upstreams {
        if u.destination_type == "prepared_query" {
            continue;
        }
        let dc = if u.datacenter.is_empty() {
            local_dc.clone()
        } else {
            u.datacenter.clone()
        };
        let mode = if u.mesh_gateway_mode.is_empty() {
            proxy.mesh_gateway_mode.as_str()
        } else {
            u.mesh_gateway_mode.as_str()
        };
        let chain_input = ChainInput {
            service: &u.destination_name,
            datacenter: &dc,
            override_mesh_gateway: Some(mode).filter(|m| !m.is_empty()),
            ..input.clone()
        };
        let chain: Chain = compile(&chain_input).map_err(invalid)?;
        let mut targets = Vec::new();
        for t in std::iter::once(&chain.target).chain(&chain.failover) {
            targets.push(target_json(st, p, &local_dc, t, sources).await?);
        }
        upstreams.push(json!({
            "DestinationName": u.destination_name,
            "Datacenter": dc,
            "LocalBindAddress": if u.local_bind_address.is_empty() { "127.0.0.1" } else { &u.local_bind_address },
            "LocalBindPort": u.local_bind_port,
            "Protocol": chain.protocol,
            "ConnectTimeout": praetor_config::format_duration(chain.connect_timeout),
            "Targets": targets,
        }));
    }
    let config: Value = if proxy.config_json.is_empty() {
        json!({})
    } else {
        serde_json::from_str(&proxy.config_json).unwrap_or(json!({}))
    };
    let trusted: Vec<&str> = roots.iter().map(|r| r.root_cert.as_str()).collect();
    let view = json!({
        "ProxyServiceID": svc.id,
        "ProxyServiceName": svc.service,
        "TargetServiceID": proxy.destination_service_id,
        "TargetServiceName": target,
        "Datacenter": local_dc,
        "TrustDomain": trust_domain,
        "Address": svc.address,
        "Port": svc.port,
        "LocalServiceAddress": if proxy.local_service_address.is_empty() { "127.0.0.1" } else { &proxy.local_service_address },
        "LocalServicePort": proxy.local_service_port,
        "Config": config,
        "Leaf": {
            "CertPEM": leaf.cert_pem,
            "PrivateKeyPEM": leaf.private_key_pem,
            "SerialNumber": leaf.serial_hex,
            "ServiceURI": leaf.spiffe_uri,
            "ValidAfter": leaf.valid_after,
            "ValidBefore": leaf.valid_before,
        },
        "Roots": trusted,
        "Intentions": {"DefaultAllow": default_allow, "Matching": mine},
        "Upstreams": upstreams,
    });
    Ok((view, leaf.modify_index))
}

fn content_hash(v: &Value) -> String {
    let digest = sha2::Sha256::digest(v.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Waits until one of the view's reads (or the leaf) moves past what the view saw, or the
/// deadline.
async fn wait_change(
    st: &AppState,
    p: &Params,
    target: &str,
    sources: Vec<Source>,
    leaf_index: u64,
    deadline: tokio::time::Instant,
) {
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    let mut waits: Vec<BoxFuture<'_, ()>> = sources
        .into_iter()
        .map(|s| {
            let mut req = QueryRequest::new(s.query);
            req.consistency = Consistency::Stale;
            req.min_index = s.index;
            req.wait_ms = remaining.as_millis() as u64;
            async move {
                let _ = st.rpc.query(p, s.dc.as_deref(), req).await;
            }
            .boxed()
        })
        .collect();
    let wait = format!("{}ms", remaining.as_millis());
    waits.push(
        async move {
            let _ = st
                .agent
                .leaf_cert(target, st.rpc.secret(p), leaf_index, Some(&wait))
                .await;
        }
        .boxed(),
    );
    waits.push(tokio::time::sleep_until(deadline).boxed());
    let _ = futures::future::select_all(waits).await;
}

/// `GET /v1/agent/connect/proxy/<id>[?hash=<h>&wait=<d>]` (`service:write` on the proxy).
async fn view(
    State(st): State<AppState>,
    p: Params,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let Some(svc) = st.agent.services().into_iter().find(|s| s.id == id) else {
        return Err(ApiError::NotFound(format!(
            "unknown proxy service ID: {id}"
        )));
    };
    let Some(proxy) = svc.proxy.clone().filter(|_| svc.kind == "connect-proxy") else {
        return Err(ApiError::BadRequest(format!(
            "service {id:?} is not a connect-proxy"
        )));
    };
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .service_write_allowed(&svc.service)?;
    let wait = match p.get("wait").filter(|w| !w.is_empty()) {
        Some(w) => praetor_config::parse_duration(w)
            .map_err(|e| ApiError::BadRequest(format!("Invalid wait time: {e}")))?
            .min(MAX_WAIT),
        None => DEFAULT_WAIT,
    };
    let deadline = tokio::time::Instant::now() + wait;
    let want = p.get("hash").map(str::to_string);
    loop {
        let mut sources = Vec::new();
        let (mut v, leaf_index) = assemble(&st, &p, &svc, &proxy, &mut sources).await?;
        let hash = content_hash(&v);
        if want.as_deref() != Some(hash.as_str()) || tokio::time::Instant::now() >= deadline {
            v["ContentHash"] = json!(hash);
            let mut headers = HeaderMap::new();
            if let Ok(h) = hash.parse() {
                headers.insert("X-Consul-ContentHash", h);
            }
            return Ok((headers, axum::Json(v)).into_response());
        }
        let target = proxy.destination_service_name.clone();
        wait_change(&st, &p, &target, sources, leaf_index, deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_short() {
        let a = content_hash(&json!({"a": 1, "b": [1, 2]}));
        assert_eq!(a, content_hash(&json!({"b": [1, 2], "a": 1})));
        assert_eq!(a.len(), 16);
        assert_ne!(a, content_hash(&json!({"a": 2})));
    }
}
