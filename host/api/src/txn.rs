//! `/v1/txn`: atomic KV transactions (Consul's KV verbs; at most 64 operations).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use praetor_state::{Command, CommandResult, TxnKvOp, TxnKvVerb, TxnOp};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::json::{TxnOpBody, b64, decode};
use crate::params::Params;
use crate::{AppState, now_ms};

/// Consul's `txn_max_req_len` operation limit.
const MAX_OPS: usize = 64;

pub async fn txn(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let ops: Vec<TxnOpBody> = decode(&body)?;
    if ops.len() > MAX_OPS {
        return Err(ApiError::TooLarge(format!(
            "Transaction contains too many operations ({} > {MAX_OPS})",
            ops.len()
        )));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.into_iter().enumerate() {
        let Some(kv) = op.kv else {
            return Err(ApiError::BadRequest(format!(
                "Operation {i}: only KV operations are supported"
            )));
        };
        let verb = TxnKvVerb::parse(&kv.verb).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Failed to parse body: unknown KV verb \"{}\"",
                kv.verb
            ))
        })?;
        let value = match kv.value.as_deref() {
            Some(v) if !v.is_empty() => b64(v)?,
            _ => Vec::new(),
        };
        if value.len() > crate::kv::MAX_VALUE_SIZE {
            return Err(ApiError::TooLarge(format!(
                "Operation {i}: value for key \"{}\" is too large ({} > {} bytes)",
                kv.key,
                value.len(),
                crate::kv::MAX_VALUE_SIZE
            )));
        }
        out.push(TxnOp::Kv(TxnKvOp {
            verb,
            key: kv.key,
            value,
            flags: kv.flags,
            index: kv.index,
            session: if kv.session.is_empty() {
                None
            } else {
                Some(kv.session)
            },
        }));
    }
    match st
        .rpc
        .apply(
            &p,
            p.dc(),
            Command::Txn {
                ops: out,
                now_ms: now_ms(),
            },
        )
        .await?
    {
        CommandResult::Txn(r) => {
            if r.errors.is_empty() {
                let results: Vec<_> = r
                    .results
                    .iter()
                    .map(|e| json!({"KV": crate::json::kv(e)}))
                    .collect();
                Ok(axum::Json(json!({"Results": results, "Errors": null})).into_response())
            } else {
                let errors: Vec<_> = r
                    .errors
                    .iter()
                    .map(|e| json!({"OpIndex": e.op_index, "What": e.what}))
                    .collect();
                Ok((
                    StatusCode::CONFLICT,
                    axum::Json(json!({"Results": null, "Errors": errors})),
                )
                    .into_response())
            }
        }
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        other => Err(ApiError::Internal(format!("unexpected result {other:?}"))),
    }
}
