//! `/v1/snapshot`: save (`GET`) a consistent copy of the leader's state store as Consul's
//! archive (gzipped tar of `meta.json`, `state.bin`, `SHA256SUMS`), and restore (`PUT`) one.
//! A restore is a raft entry ([`Command::Restore`]), so every server replaces its tables at
//! the same index. Until ACLs land, both are open to anyone who can reach the HTTP port, as
//! every other write is.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use praetor_rpc::{Request, Response as RpcResponse};
use praetor_snapshot::Meta;
use praetor_state::{Command, CommandResult, StoreSnapshot};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;

/// Largest archive accepted by `PUT /v1/snapshot` (the RPC layer's message limit).
pub const MAX_ARCHIVE_BYTES: usize = 64 << 20;

/// `GET /v1/snapshot[?dc=]`: answered by the leader after a read barrier.
pub async fn save(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let copy = match st.rpc.call(&p, p.dc(), Request::SnapshotSave).await? {
        RpcResponse::SnapshotSave(c) => c,
        other => return Err(ApiError::unexpected_response(&other)),
    };
    let meta = Meta {
        id: format!("{}-{}-{}", copy.term, copy.index, crate::now_ms()),
        index: copy.index,
        term: copy.term,
        configuration_index: copy.index,
        ..Meta::default()
    };
    let archive = praetor_snapshot::write(meta, &copy.state)
        .map_err(|e| ApiError::Internal(format!("Raft error when taking snapshot: {e}")))?;
    let mut headers = HeaderMap::new();
    headers.insert("X-Consul-Index", HeaderValue::from(copy.index.max(1)));
    headers.insert("X-Consul-KnownLeader", HeaderValue::from_static("true"));
    headers.insert("X-Consul-LastContact", HeaderValue::from_static("0"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-gzip"),
    );
    Ok((headers, archive).into_response())
}

/// `PUT /v1/snapshot[?dc=]`: the archive is verified (checksums, sizes) and decoded before
/// anything is proposed, so a damaged file changes nothing.
pub async fn restore(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    if p.has("stale") {
        return Err(ApiError::Internal("stale not allowed for restore".into()));
    }
    let (_meta, state) = praetor_snapshot::read(&body)
        .map_err(|e| ApiError::BadRequest(format!("failed to read snapshot file: {e}")))?;
    let snapshot: StoreSnapshot = postcard::from_bytes(&state)
        .map_err(|e| ApiError::BadRequest(format!("failed to decode snapshot state: {e}")))?;
    let cmd = Command::Restore {
        snapshot: Box::new(snapshot),
    };
    match st.rpc.apply(&p, p.dc(), cmd).await? {
        CommandResult::Ok => Ok(().into_response()),
        CommandResult::Error(e) => Err(ApiError::Internal(format!(
            "Raft error when restoring snapshot: {e}"
        ))),
        other => Err(ApiError::unexpected_result(&other)),
    }
}
