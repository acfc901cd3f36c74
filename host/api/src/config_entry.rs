//! `/v1/config`: config entries (write with `?cas`, read one, list a kind, delete), decoded
//! and validated as Consul does before the write reaches the primary datacenter's raft.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use praetor_mesh::{ConfigEntry, Kind, MeshError};
use praetor_state::{Command, CommandResult, ConfigEntry as Stored, Query as Q, QueryResult};
use serde_json::{Map, Value};

use crate::AppState;
use crate::decode::{Unknown, from_value};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, query_headers};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/config", put(apply))
        .route("/v1/config/{kind}", get(list).delete(delete_without_name))
        .route("/v1/config/{kind}/{name}", get(read).delete(delete))
}

/// Decodes a request body into an entry (Consul's `DecodeConfigEntry`): `Kind`/`kind` picks
/// the type, keys match case-insensitively and snake_case, unknown keys are refused, indexes
/// in the body are ignored.
pub fn decode(raw: &[u8]) -> ApiResult<ConfigEntry> {
    let bad = |m: String| ApiError::BadRequest(format!("Request decoding failed: {m}"));
    let value: Value = serde_json::from_slice(raw).map_err(|e| bad(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(bad(
            "Payload does not contain a kind/Kind key at the top level".into(),
        ));
    };
    let kind = match map.iter().find(|(k, _)| k.eq_ignore_ascii_case("kind")) {
        None => {
            return Err(bad(
                "Payload does not contain a kind/Kind key at the top level".into(),
            ));
        }
        Some((_, Value::String(k))) => Kind::parse(k).map_err(|e| bad(e.to_string()))?,
        Some(_) => return Err(bad("Kind value in payload is not a string".into())),
    };
    map.retain(|k, _| {
        let l = k.to_ascii_lowercase().replace('_', "");
        !matches!(l.as_str(), "createindex" | "modifyindex" | "hash")
    });
    typed(kind, map).map_err(|e| {
        let text = e.to_string();
        // Consul's wording for an unknown key.
        match text.strip_prefix("json: unknown field ") {
            Some(key) => bad(format!("invalid config key {key}")),
            None => bad(text),
        }
    })
}

fn typed(kind: Kind, map: Map<String, Value>) -> Result<ConfigEntry, serde_json::Error> {
    let v = Value::Object(map);
    Ok(match kind {
        Kind::ProxyDefaults => ConfigEntry::ProxyDefaults(from_value(v, Unknown::Reject)?),
        Kind::ServiceDefaults => ConfigEntry::ServiceDefaults(from_value(v, Unknown::Reject)?),
        Kind::ServiceIntentions => ConfigEntry::ServiceIntentions(from_value(v, Unknown::Reject)?),
        Kind::ServiceResolver => ConfigEntry::ServiceResolver(from_value(v, Unknown::Reject)?),
        Kind::Mesh => ConfigEntry::Mesh(from_value(v, Unknown::Reject)?),
    })
}

/// A validation failure is a 500 with Consul's text (as Consul answers it).
pub fn invalid(e: MeshError) -> ApiError {
    match e {
        MeshError::InvalidKind(_) => ApiError::BadRequest(e.to_string()),
        MeshError::Invalid(_) | MeshError::Stored(_) => ApiError::Internal(e.to_string()),
    }
}

/// The stored form of a validated entry.
pub fn stored(e: &ConfigEntry) -> Stored {
    Stored {
        kind: e.kind().as_str().to_string(),
        name: e.name().to_string(),
        body: e.to_stored(),
        ..Stored::default()
    }
}

/// The typed entry of a stored one.
pub fn typed_of(s: &Stored) -> ApiResult<ConfigEntry> {
    ConfigEntry::from_stored(&s.kind, &s.body).map_err(invalid)
}

fn cas(p: &Params) -> ApiResult<Option<u64>> {
    p.u64("cas", "cas")
}

/// A config entry write's answer: whether it was applied (`?cas` may say no).
pub(crate) fn bool_result(r: CommandResult) -> ApiResult<bool> {
    match r {
        CommandResult::Bool(b) => Ok(b),
        CommandResult::Ok => Ok(true),
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        CommandResult::Denied(e) => Err(ApiError::Forbidden(e)),
        other => Err(ApiError::unexpected_result(&other)),
    }
}

/// The protocol `service` speaks: its `service-defaults`, else `proxy-defaults`' `protocol`,
/// else `tcp`.
async fn protocol_of(st: &AppState, p: &Params, service: &str) -> ApiResult<String> {
    for (kind, name) in [
        (Kind::ServiceDefaults, service),
        (
            Kind::ProxyDefaults,
            praetor_mesh::entry::PROXY_DEFAULTS_NAME,
        ),
    ] {
        let (_, entries) = query(st, p, p.dc(), kind, Some(name)).await?;
        if let Some(e) = entries.first()
            && let Some(proto) = typed_of(e)?.protocol().filter(|x| !x.is_empty())
        {
            return Ok(proto.to_string());
        }
    }
    Ok("tcp".into())
}

/// Consul's graph check between L7 intentions and protocols: an intention with permissions
/// needs an HTTP-family protocol on its destination, and a service with L7 intentions cannot
/// become `tcp` (500 with Consul's text).
pub async fn check_l7(st: &AppState, p: &Params, entry: &ConfigEntry) -> ApiResult<()> {
    let (service, l7) = match entry {
        ConfigEntry::ServiceIntentions(x) => (
            x.name.clone(),
            x.name != "*" && x.sources.iter().any(|s| !s.permissions.is_empty()),
        ),
        ConfigEntry::ServiceDefaults(x) if matches!(x.protocol.as_str(), "" | "tcp") => {
            let (_, entries) = query(st, p, p.dc(), Kind::ServiceIntentions, Some(&x.name)).await?;
            let l7 = match entries.first().map(typed_of).transpose()? {
                Some(ConfigEntry::ServiceIntentions(i)) => {
                    i.sources.iter().any(|s| !s.permissions.is_empty())
                }
                _ => false,
            };
            if l7 {
                return Err(l7_error(&x.name, "tcp"));
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    if !l7 {
        return Ok(());
    }
    let protocol = protocol_of(st, p, &service).await?;
    if matches!(protocol.as_str(), "http" | "http2" | "grpc") {
        Ok(())
    } else {
        Err(l7_error(&service, &protocol))
    }
}

fn l7_error(service: &str, protocol: &str) -> ApiError {
    ApiError::Internal(format!(
        "service {service:?} has protocol {protocol:?}, which is incompatible with L7 intentions permissions"
    ))
}

/// `PUT /v1/config[?cas=N]` → `true`/`false`.
async fn apply(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let mut entry = decode(&body)?;
    entry.normalize_and_validate().map_err(invalid)?;
    check_l7(&st, &p, &entry).await?;
    let r = st
        .rpc
        .apply(
            &p,
            p.dc(),
            Command::ConfigEntrySet {
                entry: stored(&entry),
                cas: cas(&p)?,
            },
        )
        .await?;
    Ok(axum::Json(bool_result(r)?).into_response())
}

fn kind_of(kind: &str) -> ApiResult<Kind> {
    Kind::parse(kind).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Reads stored entries (ACL-filtered on the server).
pub async fn query(
    st: &AppState,
    p: &Params,
    dc: Option<&str>,
    kind: Kind,
    name: Option<&str>,
) -> ApiResult<(praetor_rpc::QueryResponse, Vec<Stored>)> {
    let resp = st
        .rpc
        .query(
            p,
            dc,
            p.query(Q::ConfigEntries {
                kind: Some(kind.as_str().to_string()),
                name: name.map(str::to_string),
            })?,
        )
        .await?;
    match &resp.output.result {
        QueryResult::ConfigEntries(v) => {
            let v = v.clone();
            Ok((resp, v))
        }
        r => Err(ApiError::unexpected_result(r)),
    }
}

/// `GET /v1/config/<kind>/<name>`.
async fn read(
    State(st): State<AppState>,
    p: Params,
    Path((kind, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let k = kind_of(&kind)?;
    let (resp, entries) = query(&st, &p, p.dc(), k, Some(&name)).await?;
    let Some(e) = entries.first() else {
        return Err(ApiError::NotFound(format!(
            "Config entry not found for {kind:?} / {name:?}"
        )));
    };
    let json = typed_of(e)?.to_json(e.create_index, e.modify_index);
    Ok((query_headers(&resp), axum::Json(json)).into_response())
}

/// `GET /v1/config/<kind>`: every entry of the kind the token may read.
async fn list(
    State(st): State<AppState>,
    p: Params,
    Path(kind): Path<String>,
) -> ApiResult<Response> {
    let k = kind_of(&kind)?;
    let (resp, entries) = query(&st, &p, p.dc(), k, None).await?;
    let out = entries
        .iter()
        .map(|e| Ok(typed_of(e)?.to_json(e.create_index, e.modify_index)))
        .collect::<ApiResult<Vec<Value>>>()?;
    Ok((query_headers(&resp), axum::Json(out)).into_response())
}

/// `DELETE /v1/config/<kind>` without a name.
async fn delete_without_name(Path(kind): Path<String>) -> ApiResult<Response> {
    kind_of(&kind)?;
    Err(ApiError::NotFound(
        "Must provide both a kind and name to delete".into(),
    ))
}

/// `DELETE /v1/config/<kind>/<name>[?cas=N]` → `{}` (with `cas`: `true`/`false`).
async fn delete(
    State(st): State<AppState>,
    p: Params,
    Path((kind, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let k = kind_of(&kind)?;
    let cas = cas(&p)?;
    let r = st
        .rpc
        .apply(
            &p,
            p.dc(),
            Command::ConfigEntryDelete {
                kind: k.as_str().to_string(),
                name,
                cas,
            },
        )
        .await?;
    let ok = bool_result(r)?;
    Ok(match cas {
        Some(_) => axum::Json(ok).into_response(),
        None => axum::Json(serde_json::json!({})).into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: ApiResult<ConfigEntry>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn decode_matches_keys_like_consul() {
        let e = decode(
            br#"{"kind":"proxy-defaults","name":"global","mesh_gateway":{"mode":"local"},"CreateIndex":9}"#,
        )
        .unwrap();
        match e {
            ConfigEntry::ProxyDefaults(p) => assert_eq!(p.mesh_gateway.mode, "local"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            text(decode(br#"{"Name":"x"}"#)),
            "Request decoding failed: Payload does not contain a kind/Kind key at the top level"
        );
        assert_eq!(
            text(decode(br#"{"Kind":7}"#)),
            "Request decoding failed: Kind value in payload is not a string"
        );
        assert_eq!(
            text(decode(br#"{"Kind":"bogus"}"#)),
            "Request decoding failed: invalid config entry kind: bogus"
        );
        assert_eq!(
            text(decode(
                br#"{"Kind":"service-defaults","Name":"web","Colour":"red"}"#
            )),
            "Request decoding failed: invalid config key \"Colour\""
        );
        let e = decode(
            br#"{"Kind":"service-intentions","Name":"db","Sources":[{"name":"web","action":"allow"}]}"#,
        )
        .unwrap();
        assert_eq!(e.name(), "db");
    }
}
