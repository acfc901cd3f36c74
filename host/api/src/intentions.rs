//! `/v1/connect/intentions*` (Consul's intention API over `service-intentions` config entries)
//! and `/v1/agent/connect/authorize`.
//!
//! Writes are read-modify-writes of the destination's entry with `?cas`, run against the
//! primary datacenter (where Consul's `Intention.Apply` runs), retried when another write
//! got in between. Decisions (`check`, `authorize`) come from the agent's `intentions` plugin
//! slot.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use praetor_mesh::entry::{IntentionPermission, ServiceIntentions, SourceIntention};
use praetor_mesh::intentions::{self as ixn, IntentionView};
use praetor_mesh::{ConfigEntry, Kind};
use praetor_state::Command;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::config_entry::{bool_result, invalid, query, stored, typed_of};
use crate::decode::{Unknown, from_slice};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, query_headers};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/connect/intentions", get(list).post(create))
        .route(
            "/v1/connect/intentions/exact",
            get(exact_get).put(exact_put).delete(exact_delete),
        )
        .route("/v1/connect/intentions/match", get(matches))
        .route("/v1/connect/intentions/check", get(check))
        .route(
            "/v1/connect/intentions/{id}",
            get(by_id_get).put(by_id_put).delete(by_id_delete),
        )
        .route("/v1/agent/connect/authorize", post(authorize))
}

/// How many times a read-modify-write is retried when another write got in between.
const CAS_ATTEMPTS: usize = 8;

/// A name as the intention API takes it: `name` or `ns/name` (`default` only).
fn parse_name(s: &str) -> ApiResult<String> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [name] => Ok((*name).to_string()),
        [ns, name] if *ns == "default" || *ns == "*" => Ok((*name).to_string()),
        [_, _] => Err(ApiError::BadRequest(format!(
            "Namespace {:?} is not supported: namespaces are a Consul Enterprise feature",
            parts[0]
        ))),
        [_, _, _] => Err(ApiError::BadRequest(
            "partitions are a Consul Enterprise feature".into(),
        )),
        _ => Err(ApiError::BadRequest(
            "input can contain at most two '/'".into(),
        )),
    }
}

fn required<'a>(p: &'a Params, key: &str) -> ApiResult<&'a str> {
    p.get(key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::Internal(format!("required query parameter '{key}' not set")))
}

/// The datacenter intention writes (and the reads they build on) run in: the primary.
fn write_dc(st: &AppState, p: &Params) -> Option<String> {
    let primary = st.rpc.inner().acl_settings().primary_datacenter;
    if primary.is_empty() {
        p.dc().map(str::to_string)
    } else {
        Some(primary)
    }
}

/// Every intention visible to the caller, in precedence order.
async fn all(
    st: &AppState,
    p: &Params,
) -> ApiResult<(praetor_rpc::QueryResponse, Vec<IntentionView>)> {
    let (resp, entries) = query(st, p, p.dc(), Kind::ServiceIntentions, None).await?;
    let typed = entries
        .iter()
        .map(|e| match typed_of(e)? {
            ConfigEntry::ServiceIntentions(x) => Ok((x, e.create_index, e.modify_index)),
            other => Err(ApiError::unexpected_result(&other)),
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let views = ixn::views(typed.iter().map(|(e, c, m)| (e, *c, *m)));
    Ok((resp, views))
}

/// `GET /v1/connect/intentions`.
async fn list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let (resp, views) = all(&st, &p).await?;
    let out: Vec<Value> = views.iter().map(IntentionView::to_json).collect();
    Ok((query_headers(&resp), axum::Json(out)).into_response())
}

/// Reads the destination's entry in `dc`, lets `change` edit its sources, and writes it back
/// with `?cas` (deleting the entry when no source is left). `change` answers what the
/// endpoint returns. Retried when another write got in between.
async fn modify<T>(
    st: &AppState,
    p: &Params,
    destination: &str,
    mut change: impl FnMut(&mut Vec<SourceIntention>) -> ApiResult<T>,
) -> ApiResult<T> {
    let dc = write_dc(st, p);
    for _ in 0..CAS_ATTEMPTS {
        let (_, entries) = query(
            st,
            p,
            dc.as_deref(),
            Kind::ServiceIntentions,
            Some(destination),
        )
        .await?;
        let current = entries.first();
        let (mut entry, cas) = match current {
            Some(e) => match typed_of(e)? {
                ConfigEntry::ServiceIntentions(x) => (x, e.modify_index),
                other => return Err(ApiError::unexpected_result(&other)),
            },
            None => (
                ServiceIntentions {
                    kind: Kind::ServiceIntentions.as_str().into(),
                    name: destination.to_string(),
                    ..ServiceIntentions::default()
                },
                0,
            ),
        };
        let answer = change(&mut entry.sources)?;
        let cmd = if entry.sources.is_empty() {
            if current.is_none() {
                return Ok(answer);
            }
            Command::ConfigEntryDelete {
                kind: Kind::ServiceIntentions.as_str().into(),
                name: destination.to_string(),
                cas: Some(cas),
            }
        } else {
            ixn::normalize_and_validate_with(&mut entry, true).map_err(invalid)?;
            let entry = ConfigEntry::ServiceIntentions(entry);
            crate::config_entry::check_l7(st, p, &entry).await?;
            Command::ConfigEntrySet {
                entry: stored(&entry),
                cas: Some(cas),
            }
        };
        if bool_result(st.rpc.apply(p, dc.as_deref(), cmd).await?)? {
            return Ok(answer);
        }
    }
    Err(ApiError::Internal(
        "intention write lost to concurrent writes; try again".into(),
    ))
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    now.format(&f).unwrap_or_default()
}

/// The legacy create body (`api.Intention`); unknown fields are ignored as in Go.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LegacyBody {
    #[serde(rename = "ID")]
    id: String,
    source_ns: String,
    source_name: String,
    destination_ns: String,
    destination_name: String,
    source_type: String,
    action: String,
    permissions: Vec<IntentionPermission>,
    description: String,
    meta: BTreeMap<String, String>,
}

fn legacy_body(raw: &[u8]) -> ApiResult<LegacyBody> {
    from_slice(raw, Unknown::Ignore)
        .map_err(|e| ApiError::Internal(format!("Failed to decode request body: {e}")))
}

/// `POST /v1/connect/intentions` (deprecated): `{"ID": "<uuid>"}`.
async fn create(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let b = legacy_body(&body)?;
    if !b.id.is_empty() {
        return Err(ApiError::BadRequest("ID must be empty".into()));
    }
    let src = parse_name(&format!("{}{}", ns_prefix(&b.source_ns), b.source_name))?;
    let dst = parse_name(&format!(
        "{}{}",
        ns_prefix(&b.destination_ns),
        b.destination_name
    ))?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_rfc3339();
    modify(&st, &p, &dst, |sources| {
        sources.push(SourceIntention {
            name: src.clone(),
            action: b.action.clone(),
            permissions: b.permissions.clone(),
            source_type: b.source_type.clone(),
            description: b.description.clone(),
            legacy_id: id.clone(),
            legacy_meta: b.meta.clone(),
            legacy_create_time: Some(now.clone()),
            legacy_update_time: Some(now.clone()),
            ..SourceIntention::default()
        });
        Ok(())
    })
    .await?;
    Ok(axum::Json(json!({ "ID": id })).into_response())
}

fn ns_prefix(ns: &str) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!("{ns}/")
    }
}

fn pair(p: &Params) -> ApiResult<(String, String)> {
    Ok((
        parse_name(required(p, "source")?)?,
        parse_name(required(p, "destination")?)?,
    ))
}

/// `GET /v1/connect/intentions/exact?source=&destination=`.
async fn exact_get(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let (src, dst) = pair(&p)?;
    let (resp, entries) = query(&st, &p, p.dc(), Kind::ServiceIntentions, Some(&dst)).await?;
    let found = entries
        .first()
        .map(|e| match typed_of(e)? {
            ConfigEntry::ServiceIntentions(x) => {
                Ok(ixn::views([(&x, e.create_index, e.modify_index)]))
            }
            other => Err(ApiError::unexpected_result(&other)),
        })
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.source.name == src);
    match found {
        Some(v) => Ok((query_headers(&resp), axum::Json(v.to_json())).into_response()),
        None => Err(ApiError::NotFound("Intention not found".into())),
    }
}

/// The `exact` PUT body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ExactBody {
    source_type: String,
    action: String,
    permissions: Vec<IntentionPermission>,
    description: String,
    meta: BTreeMap<String, String>,
}

/// `PUT /v1/connect/intentions/exact?source=&destination=` → `true`.
async fn exact_put(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let (src, dst) = pair(&p)?;
    let b: ExactBody = from_slice(&body, Unknown::Ignore)
        .map_err(|e| ApiError::BadRequest(format!("Failed to decode request body: {e}")))?;
    modify(&st, &p, &dst, |sources| {
        let existing = sources.iter().position(|s| s.name == src);
        let legacy = existing.map(|i| sources[i].clone());
        match &legacy {
            None if !b.meta.is_empty() => {
                return Err(ApiError::Internal("Meta must not be specified".into()));
            }
            Some(old) if !b.meta.is_empty() && b.meta != old.legacy_meta => {
                return Err(ApiError::Internal(
                    "Meta must not be specified, or should be unchanged during an update.".into(),
                ));
            }
            _ => {}
        }
        let mut new = SourceIntention {
            name: src.clone(),
            action: b.action.clone(),
            permissions: b.permissions.clone(),
            source_type: b.source_type.clone(),
            description: b.description.clone(),
            ..SourceIntention::default()
        };
        if let Some(old) = legacy {
            new.legacy_id = old.legacy_id;
            new.legacy_meta = old.legacy_meta;
            new.legacy_create_time = old.legacy_create_time;
            if !new.legacy_id.is_empty() {
                new.legacy_update_time = Some(now_rfc3339());
            }
        }
        match existing {
            Some(i) => sources[i] = new,
            None => sources.push(new),
        }
        Ok(())
    })
    .await?;
    Ok(axum::Json(true).into_response())
}

/// `DELETE /v1/connect/intentions/exact?source=&destination=` → `true` (also when absent).
async fn exact_delete(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let (src, dst) = pair(&p)?;
    modify(&st, &p, &dst, |sources| {
        sources.retain(|s| s.name != src);
        Ok(())
    })
    .await?;
    Ok(axum::Json(true).into_response())
}

/// `GET /v1/connect/intentions/match?by=source|destination&name=a[&name=b]`.
async fn matches(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let by = p
        .get("by")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::Internal("required query parameter 'by' not set".into()))?;
    let by_source = match by {
        "source" => true,
        "destination" => false,
        _ => {
            return Err(ApiError::Internal(
                "'by' parameter must be one of 'source' or 'destination'".into(),
            ));
        }
    };
    let names = p.all("name");
    if names.is_empty() {
        return Err(ApiError::Internal(
            "required query parameter 'name' not set".into(),
        ));
    }
    let id = st.rpc.identity(&p).await?;
    for n in &names {
        id.enforcer().intention_read_allowed(&parse_name(n)?)?;
    }
    let (resp, views) = all(&st, &p).await?;
    let mut out = serde_json::Map::new();
    for n in names {
        let name = parse_name(&n)?;
        let list: Vec<Value> = ixn::matching(&views, &name, by_source)
            .into_iter()
            .map(IntentionView::to_json)
            .collect();
        out.insert(n, Value::Array(list));
    }
    Ok((query_headers(&resp), axum::Json(Value::Object(out))).into_response())
}

/// `GET /v1/connect/intentions/check?source=&destination=` → `{"Allowed": bool}`.
async fn check(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let (src, dst) = pair(&p)?;
    if let Some(t) = p.get("source-type")
        && t != "consul"
    {
        return Err(ApiError::Internal(format!("unsupported SourceType: {t:?}")));
    }
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .service_read_allowed(&dst)?;
    let v = st.agent.authorize_intention(&src, &dst, None);
    Ok(axum::Json(json!({ "Allowed": v.allowed })).into_response())
}

/// The legacy by-ID endpoints find the intention among all of them.
async fn find_by_id(st: &AppState, p: &Params, id: &str) -> ApiResult<IntentionView> {
    let (_, views) = all(st, p).await?;
    views
        .into_iter()
        .find(|v| v.source.legacy_id == id)
        .ok_or_else(|| ApiError::NotFound("Intention not found".into()))
}

/// `GET /v1/connect/intentions/<id>`.
async fn by_id_get(
    State(st): State<AppState>,
    p: Params,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(axum::Json(find_by_id(&st, &p, &id).await?.to_json()).into_response())
}

/// `PUT /v1/connect/intentions/<id>` (deprecated) → `{"ID": ...}`.
async fn by_id_put(
    State(st): State<AppState>,
    p: Params,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let b = legacy_body(&body)?;
    let Ok(old) = find_by_id(&st, &p, &id).await else {
        return Err(ApiError::Internal(format!(
            "Cannot modify non-existent intention: '{id}'"
        )));
    };
    let src = parse_name(&format!("{}{}", ns_prefix(&b.source_ns), b.source_name))?;
    let dst = parse_name(&format!(
        "{}{}",
        ns_prefix(&b.destination_ns),
        b.destination_name
    ))?;
    if dst != old.destination {
        return Err(ApiError::Internal(
            "Cannot modify Destination partition/namespace/name for an intention once it exists."
                .into(),
        ));
    }
    modify(&st, &p, &dst, |sources| {
        let Some(s) = sources.iter_mut().find(|s| s.legacy_id == id) else {
            return Err(ApiError::Internal(format!(
                "Cannot modify non-existent intention: '{id}'"
            )));
        };
        s.name = src.clone();
        s.action = b.action.clone();
        s.permissions = b.permissions.clone();
        s.source_type = b.source_type.clone();
        s.description = b.description.clone();
        s.legacy_meta = b.meta.clone();
        s.legacy_update_time = Some(now_rfc3339());
        Ok(())
    })
    .await?;
    Ok(axum::Json(json!({ "ID": id })).into_response())
}

/// `DELETE /v1/connect/intentions/<id>` → `true`.
async fn by_id_delete(
    State(st): State<AppState>,
    p: Params,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let old = find_by_id(&st, &p, &id).await?;
    modify(&st, &p, &old.destination, |sources| {
        sources.retain(|s| s.legacy_id != id);
        Ok(())
    })
    .await?;
    Ok(axum::Json(true).into_response())
}

/// The `/v1/agent/connect/authorize` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AuthorizeBody {
    target: String,
    /// `ClientCertSerial` is not read: Consul decides by the URI only.
    #[serde(rename = "ClientCertURI")]
    client_cert_uri: String,
    /// praetor's extension: an HTTP request to decide at L7 (Consul decides L4 only).
    #[serde(rename = "HTTP")]
    http: Option<HttpBody>,
}

/// The request an L7 decision is about.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HttpBody {
    method: String,
    path: String,
    header: std::collections::BTreeMap<String, String>,
}

/// The service of a SPIFFE service ID (`spiffe://<td>/ns/<ns>/dc/<dc>/svc/<name>`).
fn spiffe_service(uri: &str) -> Result<String, &'static str> {
    let rest = uri
        .strip_prefix("spiffe://")
        .ok_or("ClientCertURI not a valid Connect identifier")?;
    let path = rest
        .split_once('/')
        .map(|(_, p)| p)
        .ok_or("ClientCertURI not a valid Connect identifier")?;
    let parts: Vec<&str> = path.split('/').collect();
    let parts = match parts.as_slice() {
        ["ap", _, rest @ ..] => rest.to_vec(),
        _ => parts,
    };
    match parts.as_slice() {
        ["ns", _, "dc", _, "svc", name] if !name.is_empty() => Ok((*name).to_string()),
        ["agent", ..] | ["gateway", ..] => Err("ClientCertURI not a valid Service identifier"),
        _ => Err("ClientCertURI not a valid Connect identifier"),
    }
}

/// `POST /v1/agent/connect/authorize` → `{"Authorized": bool, "Reason": "..."}`.
async fn authorize(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let b: AuthorizeBody = from_slice(&body, Unknown::Ignore)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))?;
    if b.target.is_empty() {
        return Err(ApiError::BadRequest(
            "Target service must be specified".into(),
        ));
    }
    let src = spiffe_service(&b.client_cert_uri).map_err(|e| ApiError::BadRequest(e.into()))?;
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .service_write_allowed(&b.target)?;
    let http = b.http.map(|h| praetor_policy::HttpRequest {
        method: h.method.to_ascii_uppercase(),
        path: h.path,
        headers: h.header.into_iter().collect(),
    });
    let v = st.agent.authorize_intention(&src, &b.target, http);
    Ok(axum::Json(json!({ "Authorized": v.allowed, "Reason": v.reason })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_spiffe_ids() {
        assert_eq!(parse_name("web").unwrap(), "web");
        assert_eq!(parse_name("default/web").unwrap(), "web");
        assert!(parse_name("a/b/c/d").is_err());
        assert_eq!(
            spiffe_service("spiffe://11.consul/ns/default/dc/dc1/svc/web").unwrap(),
            "web"
        );
        assert_eq!(
            spiffe_service("spiffe://11.consul/agent/client/dc/dc1/id/x").unwrap_err(),
            "ClientCertURI not a valid Service identifier"
        );
        assert_eq!(
            spiffe_service("http://x").unwrap_err(),
            "ClientCertURI not a valid Connect identifier"
        );
    }
}
