//! `/v1/kv/<key>`: reads (`?recurse`, `?keys`, `?separator`, `?raw`), writes (`?cas`, `?flags`,
//! `?acquire`, `?release`) and deletes (`?recurse`, `?cas`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use praetor_state::{Command, CommandResult, KvEntry, KvOp, Query as Q, QueryResult};

use crate::error::{ApiError, ApiResult};
use crate::params::{Params, query_headers};
use crate::{AppState, json, now_ms};

/// Consul's `kv_max_value_size` default.
pub const MAX_VALUE_SIZE: usize = 512 * 1024;

pub async fn kv(
    State(st): State<AppState>,
    method: Method,
    key: Option<Path<String>>,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let key = key.map(|Path(k)| k).unwrap_or_default();
    match method {
        Method::GET => get(&st, &p, key).await,
        Method::PUT | Method::POST => put(&st, &p, key, body).await,
        Method::DELETE => delete(&st, &p, key).await,
        m => Err(ApiError::MethodNotAllowed(m.to_string())),
    }
}

async fn get(st: &AppState, p: &Params, key: String) -> ApiResult<Response> {
    let keys = p.has("keys");
    let recurse = p.has("recurse");
    let query = if keys {
        Q::KvKeys {
            prefix: key,
            separator: p
                .get("separator")
                .filter(|s| !s.is_empty())
                .map(String::from),
        }
    } else if recurse {
        Q::KvList { prefix: key }
    } else {
        if key.is_empty() {
            return Err(ApiError::BadRequest("Missing key name".into()));
        }
        Q::KvGet { key }
    };
    let resp = st.rpc.query(p, p.dc(), p.query(query)?).await?;
    let headers = query_headers(&resp);
    let entries: Vec<KvEntry> = match resp.output.result {
        QueryResult::Keys(k) => {
            if k.is_empty() {
                return Ok((axum::http::StatusCode::NOT_FOUND, headers).into_response());
            }
            return Ok((headers, axum::Json(k)).into_response());
        }
        QueryResult::Kv(e) => e.into_iter().collect(),
        QueryResult::KvList(v) => v,
        other => return Err(ApiError::Internal(format!("unexpected result {other:?}"))),
    };
    if entries.is_empty() {
        return Ok((axum::http::StatusCode::NOT_FOUND, headers).into_response());
    }
    if p.has("raw") {
        let mut headers = headers;
        headers.insert(
            "Content-Type",
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Ok((headers, entries[0].value.clone()).into_response());
    }
    Ok((
        headers,
        axum::Json(entries.iter().map(json::kv).collect::<Vec<_>>()),
    )
        .into_response())
}

async fn put(st: &AppState, p: &Params, key: String, body: Bytes) -> ApiResult<Response> {
    if key.is_empty() {
        return Err(ApiError::BadRequest("Missing key name".into()));
    }
    if body.len() > MAX_VALUE_SIZE {
        return Err(ApiError::TooLarge(format!(
            "Request body({} bytes) too large, max size: {MAX_VALUE_SIZE} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.",
            body.len()
        )));
    }
    let flags = p.u64("flags", "flags")?.unwrap_or(0);
    let mut entry = KvEntry {
        key,
        value: body.to_vec(),
        flags,
        ..Default::default()
    };
    let mut cas_index = 0;
    let op = if let Some(s) = p.get("acquire") {
        entry.session = Some(s.to_string());
        KvOp::Lock
    } else if let Some(s) = p.get("release") {
        entry.session = Some(s.to_string());
        KvOp::Unlock
    } else if let Some(c) = p.u64("cas", "cas value")? {
        cas_index = c;
        KvOp::Cas
    } else {
        KvOp::Set
    };
    write(st, p, op, entry, cas_index).await
}

async fn delete(st: &AppState, p: &Params, key: String) -> ApiResult<Response> {
    let recurse = p.has("recurse");
    let mut cas_index = 0;
    let op = if recurse {
        KvOp::DeleteTree
    } else if let Some(c) = p.u64("cas", "cas value")? {
        cas_index = c;
        KvOp::DeleteCas
    } else {
        KvOp::Delete
    };
    if key.is_empty() && !recurse {
        return Err(ApiError::BadRequest("Missing key name".into()));
    }
    let entry = KvEntry {
        key,
        ..Default::default()
    };
    write(st, p, op, entry, cas_index).await
}

/// Applies one KV write and answers Consul's `true`/`false` body.
async fn write(
    st: &AppState,
    p: &Params,
    op: KvOp,
    entry: KvEntry,
    cas_index: u64,
) -> ApiResult<Response> {
    let cmd = Command::KvSet {
        op,
        entry,
        cas_index,
        now_ms: now_ms(),
    };
    bool_result(st.rpc.apply(p, p.dc(), cmd).await?)
}

fn bool_result(res: CommandResult) -> ApiResult<Response> {
    match res {
        CommandResult::Bool(b) => Ok(axum::Json(b).into_response()),
        CommandResult::Ok => Ok(axum::Json(true).into_response()),
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        other => Err(ApiError::Internal(format!("unexpected result {other:?}"))),
    }
}
