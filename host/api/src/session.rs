//! `/v1/session/*`: create, destroy, renew, info, node, list.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use praetor_rpc::{QueryRequest, Request, Response as RpcResponse};
use praetor_state::{
    Command, CommandResult, Query as Q, QueryResult, ServiceCheckRef, Session, SessionBehavior,
};
use serde_json::{Value, json};

use crate::catalog::read;
use crate::error::{ApiError, ApiResult};
use crate::json::{self, SessionCreateRequest, decode};
use crate::params::Params;
use crate::{AppState, now_ms};

/// Consul's session TTL bounds and default lock delay.
const MIN_TTL: Duration = Duration::from_secs(10);
const MAX_TTL: Duration = Duration::from_secs(86_400);
const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);

pub async fn create(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let r: SessionCreateRequest = if body.is_empty() {
        SessionCreateRequest::default()
    } else {
        decode(&body)?
    };
    let behavior = match r.behavior.as_str() {
        "" | "release" => SessionBehavior::Release,
        "delete" => SessionBehavior::Delete,
        b => {
            return Err(ApiError::BadRequest(format!(
                "Invalid Behavior setting '{b}'"
            )));
        }
    };
    if !r.ttl.is_empty() {
        let ttl = praetor_config::parse_duration(&r.ttl).map_err(|_| {
            ApiError::BadRequest(format!("Request decode failed: invalid TTL '{}'", r.ttl))
        })?;
        if ttl != Duration::ZERO && (ttl < MIN_TTL || ttl > MAX_TTL) {
            return Err(ApiError::BadRequest(format!(
                "Invalid Session TTL '{}', must be between [10s=24h0m0s]",
                r.ttl
            )));
        }
    }
    let lock_delay = match &r.lock_delay {
        None => DEFAULT_LOCK_DELAY,
        Some(Value::Number(n)) => {
            // Consul: a bare number is nanoseconds, but values below 1s are taken as seconds.
            let v = n.as_u64().unwrap_or(0);
            if v < 1_000_000_000 {
                Duration::from_secs(v)
            } else {
                Duration::from_nanos(v)
            }
        }
        Some(Value::String(s)) => praetor_config::parse_duration(s).map_err(|_| {
            ApiError::BadRequest(format!("Request decode failed: invalid LockDelay '{s}'"))
        })?,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Request decode failed: invalid LockDelay".into(),
            ));
        }
    };
    let node = if r.node.is_empty() {
        st.agent.node_name()
    } else {
        r.node
    };
    let node_checks = r
        .node_checks
        .or(r.checks)
        .unwrap_or_else(|| vec!["serfHealth".to_string()]);
    let service_checks = r
        .service_checks
        .unwrap_or_default()
        .into_iter()
        .map(|c| ServiceCheckRef {
            id: c.id,
            namespace: c.namespace,
        })
        .collect();
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        name: r.name,
        node,
        node_checks,
        service_checks,
        lock_delay_ms: lock_delay.as_millis() as u64,
        behavior,
        ttl: r.ttl,
        ..Default::default()
    };
    let id = session.id.clone();
    match st
        .rpc
        .apply(
            &p,
            p.dc(),
            Command::SessionCreate {
                session,
                now_ms: now_ms(),
            },
        )
        .await?
    {
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        _ => Ok(axum::Json(json!({"ID": id})).into_response()),
    }
}

pub async fn destroy(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    match st
        .rpc
        .apply(
            &p,
            p.dc(),
            Command::SessionDestroy {
                id,
                now_ms: now_ms(),
            },
        )
        .await?
    {
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        _ => Ok(axum::Json(true).into_response()),
    }
}

pub async fn renew(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    match st
        .rpc
        .call(&p, p.dc(), Request::SessionRenew { id: id.clone() })
        .await?
    {
        RpcResponse::SessionRenew { found: true } => {}
        _ => return Err(ApiError::NotFound(format!("Session id '{id}' not found"))),
    }
    let resp = st
        .rpc
        .query(
            &p,
            p.dc(),
            QueryRequest::new(Q::SessionInfo { id: id.clone() }),
        )
        .await?;
    match resp.output.result {
        QueryResult::Sessions(s) if !s.is_empty() => {
            Ok(axum::Json(s.iter().map(json::session).collect::<Vec<_>>()).into_response())
        }
        _ => Err(ApiError::NotFound(format!("Session id '{id}' not found"))),
    }
}

fn sessions_json(r: QueryResult) -> ApiResult<Value> {
    match r {
        QueryResult::Sessions(s) => Ok(json!(s.iter().map(json::session).collect::<Vec<_>>())),
        r => Err(ApiError::unexpected_result(&r)),
    }
}

pub async fn info(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    read(&st, &p, Q::SessionInfo { id }, sessions_json).await
}

pub async fn node(
    State(st): State<AppState>,
    Path(node): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    read(&st, &p, Q::SessionNode { node }, sessions_json).await
}

pub async fn list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    read(&st, &p, Q::SessionList, sessions_json).await
}
