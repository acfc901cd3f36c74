//! `/v1/operator/area`: network areas (Consul Enterprise's API, offered here openly). Areas are
//! raft state of the datacenter named by `?dc` (create, list, get, update, delete); joining
//! and listing an area's members are answered by a server of that datacenter.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use praetor_rpc::{QueryRequest, Request, Response as RpcResponse};
use praetor_state::{Area, Command, CommandResult, Query as Q, QueryResult, StateError};
use serde_json::{Value, json};

use crate::AppState;
use crate::catalog::read;
use crate::error::{ApiError, ApiResult};
use crate::json::{self, AreaRequestBody, decode};
use crate::params::Params;

fn areas(r: QueryResult) -> ApiResult<Vec<Area>> {
    match r {
        QueryResult::Areas(a) => Ok(a),
        r => Err(ApiError::unexpected_result(&r)),
    }
}

fn areas_json(r: QueryResult) -> ApiResult<Value> {
    Ok(json!(areas(r)?.iter().map(json::area).collect::<Vec<_>>()))
}

/// A body that may be empty (then every field is absent).
fn body_or_default(body: &Bytes) -> ApiResult<AreaRequestBody> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(AreaRequestBody::default())
    } else {
        decode(body)
    }
}

/// A rejected write: an unknown area is a 404, anything else Consul's 500 with the text.
fn write_error(id: &str, e: String) -> ApiError {
    if e == StateError::AreaNotFound(id.to_string()).to_string() {
        ApiError::NotFound(e)
    } else {
        ApiError::Internal(e)
    }
}

/// `POST /v1/operator/area` with `{"PeerDatacenter","RetryJoin","UseTLS"}`: creates an area
/// with a new UUID and answers `{"ID": ...}`.
pub async fn create(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let req: AreaRequestBody = decode(&body)?;
    if req.id.as_deref().is_some_and(|id| !id.is_empty()) {
        return Err(ApiError::BadRequest(
            "ID must be empty when creating a new area".into(),
        ));
    }
    let peer = req.peer_datacenter.unwrap_or_default();
    if peer.is_empty() {
        return Err(ApiError::BadRequest(
            StateError::MissingPeerDatacenter.to_string(),
        ));
    }
    let local = p.dc().unwrap_or(st.rpc.datacenter());
    if peer.eq_ignore_ascii_case(local) {
        return Err(ApiError::BadRequest(format!(
            "Cannot create an area with the local datacenter {local:?}"
        )));
    }
    let area = Area {
        id: uuid::Uuid::new_v4().to_string(),
        peer_datacenter: peer,
        retry_join: req.retry_join.unwrap_or_default(),
        use_tls: req.use_tls.unwrap_or(false),
        ..Area::default()
    };
    let id = area.id.clone();
    match st
        .rpc
        .apply(&p, p.dc(), Command::AreaUpsert { area })
        .await?
    {
        CommandResult::Error(e) => Err(write_error(&id, e)),
        _ => {
            tracing::info!(%id, "Network area created");
            Ok(axum::Json(json!({ "ID": id })).into_response())
        }
    }
}

/// `GET /v1/operator/area`: every area, sorted by peer datacenter (blocking, consistency
/// modes and `?dc` as every read).
pub async fn list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    read(&st, &p, Q::Areas, areas_json).await
}

/// `GET /v1/operator/area/<id>`: a list of that one area (`[]` when it does not exist).
pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    read(&st, &p, Q::AreaGet { id }, areas_json).await
}

/// `PUT /v1/operator/area/<id>` with `{"RetryJoin","UseTLS"}`: absent (or null) fields keep
/// their value; a `PeerDatacenter` other than the area's is refused. Answers `{"ID": ...}`;
/// 404 for an unknown area.
pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let req = body_or_default(&body)?;
    let current = st
        .rpc
        .query(&p, p.dc(), QueryRequest::new(Q::AreaGet { id: id.clone() }))
        .await?;
    let Some(mut area) = areas(current.output.result)?.into_iter().next() else {
        return Err(ApiError::NotFound(
            StateError::AreaNotFound(id.clone()).to_string(),
        ));
    };
    if let Some(peer) = req.peer_datacenter.filter(|p| !p.is_empty()) {
        // The state machine refuses a different one.
        area.peer_datacenter = peer;
    }
    if let Some(retry_join) = req.retry_join {
        area.retry_join = retry_join;
    }
    if let Some(use_tls) = req.use_tls {
        area.use_tls = use_tls;
    }
    match st
        .rpc
        .apply(&p, p.dc(), Command::AreaUpsert { area })
        .await?
    {
        CommandResult::Error(e) => Err(write_error(&id, e)),
        _ => Ok(axum::Json(json!({ "ID": id })).into_response()),
    }
}

/// `DELETE /v1/operator/area/<id>`: an empty 200; 404 for an unknown area.
pub async fn delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    match st
        .rpc
        .apply(&p, p.dc(), Command::AreaDelete { id: id.clone() })
        .await?
    {
        CommandResult::Error(e) => Err(write_error(&id, e)),
        _ => {
            tracing::info!(%id, "Network area deleted");
            Ok(StatusCode::OK.into_response())
        }
    }
}

/// `PUT /v1/operator/area/<id>/join` with `["10.1.2.3", "host:8300", ...]`: one
/// `{"Address","Joined","Error"}` per address, from a server of the datacenter.
pub async fn join(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let addresses: Vec<String> = decode(&body)?;
    match st
        .rpc
        .call(&p, p.dc(), Request::AreaJoin { id, addresses })
        .await?
    {
        RpcResponse::AreaJoin(results) => {
            Ok(axum::Json(results.iter().map(json::area_join).collect::<Vec<_>>()).into_response())
        }
        other => Err(ApiError::unexpected_response(&other)),
    }
}

/// `GET /v1/operator/area/<id>/members`: the area's servers as the answering server sees
/// them (not blocking).
pub async fn members(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    match st.rpc.call(&p, p.dc(), Request::AreaMembers { id }).await? {
        RpcResponse::AreaMembers(members) => Ok(axum::Json(
            members.iter().map(json::area_member).collect::<Vec<_>>(),
        )
        .into_response()),
        other => Err(ApiError::unexpected_response(&other)),
    }
}
