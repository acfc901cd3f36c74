//! `/v1/connect/ca/*` and `/v1/agent/connect/ca/*`: the CA's roots (JSON or a PEM chain),
//! its configuration, and leaf certificates for a service (signed by this datacenter's CA,
//! cached and renewed by the agent).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use praetor_rpc::{Request, Response as RpcResponse};
use praetor_state::{CaConfiguration, CaRoot, Query as Q, QueryResult};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, parse_bool, query_headers};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/connect/ca/roots", get(roots))
        .route("/v1/agent/connect/ca/roots", get(roots))
        .route(
            "/v1/connect/ca/configuration",
            get(get_config).put(set_config),
        )
        .route("/v1/agent/connect/ca/leaf/{service}", get(leaf))
}

/// Consul's text while the CA has no root yet.
pub const CA_NOT_READY: &str = "CA has not finished initializing";

fn unix_rfc3339(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

fn root_json(r: &CaRoot) -> Value {
    json!({
        "ID": r.id,
        "Name": r.name,
        "SerialNumber": r.serial_number,
        "SigningKeyID": r.signing_key_id,
        "ExternalTrustDomain": r.external_trust_domain,
        "NotBefore": unix_rfc3339(r.not_before),
        "NotAfter": unix_rfc3339(r.not_after),
        "RootCert": r.root_cert,
        "IntermediateCerts": if r.intermediate_certs.is_empty() { Value::Null } else { json!(r.intermediate_certs) },
        "Active": r.active,
        "PrivateKeyType": r.private_key_type,
        "PrivateKeyBits": r.private_key_bits,
        "CreateIndex": r.create_index,
        "ModifyIndex": r.modify_index,
    })
}

/// `GET /v1/connect/ca/roots[?pem=true]` (also the agent's copy).
async fn roots(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let pem = match p.get("pem") {
        None => false,
        Some(v) => parse_bool(v).map_err(|_| {
            ApiError::BadRequest("The 'pem' query parameter must be a boolean value".into())
        })?,
    };
    let resp = st.rpc.query(&p, p.dc(), p.query(Q::CaRoots)?).await?;
    let QueryResult::CaRoots { cluster_id, roots } = &resp.output.result else {
        return Err(ApiError::unexpected_result(&resp.output.result));
    };
    if roots.is_empty() || cluster_id.is_empty() {
        return Err(ApiError::Internal(CA_NOT_READY.into()));
    }
    if pem {
        let mut body = String::new();
        for r in roots {
            body.push_str(&r.root_cert);
            for i in &r.intermediate_certs {
                body.push_str(i);
            }
        }
        return Ok((
            query_headers(&resp),
            [(CONTENT_TYPE, "application/pem-certificate-chain")],
            body,
        )
            .into_response());
    }
    let active = roots
        .iter()
        .find(|r| r.active)
        .map(|r| r.id.clone())
        .unwrap_or_default();
    let body = json!({
        "ActiveRootID": active,
        "TrustDomain": format!("{cluster_id}.consul"),
        "Roots": roots.iter().map(root_json).collect::<Vec<_>>(),
    });
    Ok((query_headers(&resp), axum::Json(body)).into_response())
}

fn config_json(c: &CaConfiguration) -> Value {
    let config: Value = serde_json::from_str(&c.config_json).unwrap_or(Value::Object(Map::new()));
    json!({
        "Provider": c.provider,
        "Config": config,
        "State": null,
        "ForceWithoutCrossSigning": false,
        "CreateIndex": c.create_index,
        "ModifyIndex": c.modify_index,
    })
}

/// `GET /v1/connect/ca/configuration` (`operator:write`).
async fn get_config(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let resp = st.rpc.query(&p, p.dc(), p.query(Q::CaConfig)?).await?;
    match &resp.output.result {
        QueryResult::CaConfig(Some(c)) => {
            Ok((query_headers(&resp), axum::Json(config_json(c))).into_response())
        }
        QueryResult::CaConfig(None) => Err(ApiError::Internal(CA_NOT_READY.into())),
        r => Err(ApiError::unexpected_result(r)),
    }
}

/// `PUT /v1/connect/ca/configuration` (`operator:write`): a new configuration, rotating to a
/// new root when the provider's key settings change (the agent's CA manager does it).
async fn set_config(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))?;
    let Value::Object(m) = v else {
        return Err(ApiError::BadRequest(
            "Request decode failed: expected an object".into(),
        ));
    };
    let field = |name: &str| {
        m.iter()
            .find(|(k, _)| k.replace('_', "").eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    if let Some(state) = field("State")
        && !state.is_null()
    {
        return Err(ApiError::BadRequest(
            "Provider State is read-only. It must be omitted or identical to the current value"
                .into(),
        ));
    }
    let provider = field("Provider")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let config = match field("Config") {
        Some(Value::Object(c)) => c,
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Request decode failed: Config must be an object".into(),
            ));
        }
    };
    let force = field("ForceWithoutCrossSigning")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let req = Request::CaSetConfig {
        provider,
        config_json: Value::Object(config).to_string(),
        force_without_cross_signing: force,
    };
    match st.rpc.call(&p, p.dc(), req).await? {
        RpcResponse::Apply(_) => Ok(().into_response()),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

/// `GET /v1/agent/connect/ca/leaf/<service>[?index=N]` (`service:write` on the service).
async fn leaf(
    State(st): State<AppState>,
    p: Params,
    Path(service): Path<String>,
) -> ApiResult<Response> {
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .service_write_allowed(&service)?;
    let min_index = p.u64("index", "index")?.unwrap_or(0);
    let wait = p.get("wait").map(str::to_string);
    let leaf = st
        .agent
        .leaf_cert(&service, st.rpc.secret(&p), min_index, wait.as_deref())
        .await?;
    let mut headers = axum::http::HeaderMap::new();
    if let Ok(v) = leaf.modify_index.to_string().parse() {
        headers.insert("X-Consul-Index", v);
    }
    if let Ok(v) = (if leaf.cache_hit { "HIT" } else { "MISS" }).parse() {
        headers.insert("X-Cache", v);
    }
    let body = json!({
        "SerialNumber": leaf.serial_hex,
        "CertPEM": leaf.cert_pem,
        "PrivateKeyPEM": leaf.private_key_pem,
        "Service": service,
        "ServiceURI": leaf.spiffe_uri,
        "ValidAfter": unix_rfc3339(leaf.valid_after),
        "ValidBefore": unix_rfc3339(leaf.valid_before),
        "CreateIndex": leaf.create_index,
        "ModifyIndex": leaf.modify_index,
    });
    Ok((headers, axum::Json(body)).into_response())
}
