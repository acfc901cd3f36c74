//! `/v1/discovery-chain/<service>`: the compiled chain a proxy follows for an upstream
//! (`praetor_mesh::chain`), from the config entries and CA of the compile datacenter.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use praetor_mesh::ConfigEntry;
use praetor_mesh::chain::{ChainInput, compile};
use praetor_state::{Query as Q, QueryResult};
use serde::Deserialize;

use crate::AppState;
use crate::config_entry::{invalid, typed_of};
use crate::connect_ca::CA_NOT_READY;
use crate::decode::{Unknown, from_slice};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, query_headers};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/discovery-chain/", get(missing).post(missing))
        .route("/v1/discovery-chain/{name}", get(read).post(read_with))
}

async fn missing() -> ApiResult<Response> {
    Err(ApiError::BadRequest("Missing chain name".into()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct GatewayBody {
    mode: String,
}

/// The POST body (Consul's `discoveryChainReadRequest`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Overrides {
    override_protocol: String,
    override_connect_timeout: String,
    override_mesh_gateway: GatewayBody,
}

async fn read(st: State<AppState>, p: Params, name: Path<String>) -> ApiResult<Response> {
    chain(st, p, name, Overrides::default()).await
}

async fn read_with(
    st: State<AppState>,
    p: Params,
    name: Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let o: Overrides = if body.iter().all(u8::is_ascii_whitespace) {
        Overrides::default()
    } else {
        from_slice(&body, Unknown::Ignore)
            .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))?
    };
    chain(st, p, name, o).await
}

async fn chain(
    State(st): State<AppState>,
    p: Params,
    Path(name): Path<String>,
    o: Overrides,
) -> ApiResult<Response> {
    let mode = o.override_mesh_gateway.mode.to_ascii_lowercase();
    if !matches!(mode.as_str(), "" | "none" | "local" | "remote") {
        return Err(ApiError::BadRequest(
            "Invalid OverrideMeshGateway.Mode parameter".into(),
        ));
    }
    let timeout = match o.override_connect_timeout.as_str() {
        "" => None,
        t => Some(praetor_config::parse_duration(t).map_err(|e| {
            ApiError::BadRequest(format!(
                "Request decode failed: OverrideConnectTimeout: {e}"
            ))
        })?),
    };
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .service_read_allowed(&name)?;
    let dc = p
        .get("compile-dc")
        .filter(|d| !d.is_empty())
        .or(p.dc())
        .map(str::to_string);
    let roots = st
        .rpc
        .query(&p, dc.as_deref(), p.query(Q::CaRoots)?)
        .await?;
    let QueryResult::CaRoots { cluster_id, .. } = &roots.output.result else {
        return Err(ApiError::unexpected_result(&roots.output.result));
    };
    if cluster_id.is_empty() {
        return Err(ApiError::Internal(CA_NOT_READY.into()));
    }
    let trust_domain = format!("{cluster_id}.consul");
    let resp = st
        .rpc
        .query(
            &p,
            dc.as_deref(),
            p.query(Q::ConfigEntries {
                kind: None,
                name: None,
            })?,
        )
        .await?;
    let QueryResult::ConfigEntries(stored) = &resp.output.result else {
        return Err(ApiError::unexpected_result(&resp.output.result));
    };
    let entries = stored
        .iter()
        .map(typed_of)
        .collect::<ApiResult<Vec<ConfigEntry>>>()?;
    let datacenter = dc.unwrap_or_else(|| st.rpc.datacenter().to_string());
    let mut input = ChainInput {
        service: &name,
        datacenter: &datacenter,
        trust_domain: &trust_domain,
        override_protocol: Some(o.override_protocol.as_str()).filter(|s| !s.is_empty()),
        override_connect_timeout: timeout,
        override_mesh_gateway: Some(mode.as_str()).filter(|s| !s.is_empty()),
        proxy_defaults: None,
        service_defaults: BTreeMap::new(),
        resolvers: BTreeMap::new(),
    };
    for e in &entries {
        match e {
            ConfigEntry::ProxyDefaults(x) => input.proxy_defaults = Some(x),
            ConfigEntry::ServiceDefaults(x) => {
                input.service_defaults.insert(&x.name, x);
            }
            ConfigEntry::ServiceResolver(x) => {
                input.resolvers.insert(&x.name, x);
            }
            ConfigEntry::ServiceIntentions(_) | ConfigEntry::Mesh(_) => {}
        }
    }
    let chain = compile(&input).map_err(invalid)?;
    Ok((query_headers(&resp), axum::Json(chain.to_json())).into_response())
}
