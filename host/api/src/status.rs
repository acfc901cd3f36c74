//! `/v1/status/*` and `/v1/operator/raft/*`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use praetor_rpc::{Request, Response as RpcResponse};
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;

/// The raft configuration. `/v1/status/*` need no permission (Consul), so they ask as the
/// agent (`as_request = false`); the operator endpoints ask as the request (`operator:read`).
async fn configuration(
    st: &AppState,
    p: &Params,
    as_request: bool,
) -> ApiResult<(Vec<praetor_rpc::RaftServerInfo>, u64)> {
    let r = if as_request {
        st.rpc.call(p, p.dc(), Request::RaftConfiguration).await?
    } else {
        st.rpc
            .inner()
            .call(p.dc(), Request::RaftConfiguration)
            .await?
    };
    match r {
        RpcResponse::RaftConfiguration { servers, index } => Ok((servers, index)),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

/// `GET /v1/status/leader`: the leader's RPC address, or `""`. A leader is reported only
/// once it has registered itself in the catalog (its node, `serfHealth` and the `consul`
/// service), so a client that waits for a leader can create a session on it at once.
pub async fn leader(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let (servers, _) = configuration(&st, &p, false).await?;
    let Some(leader) = servers.iter().find(|s| s.leader) else {
        return Ok(axum::Json("").into_response());
    };
    let registered = leader.node.is_empty() || leader_registered(&st, &p, &leader.node).await?;
    let address = if registered {
        leader.address.as_str()
    } else {
        ""
    };
    Ok(axum::Json(address).into_response())
}

/// Whether the catalog (as the answering server has applied it) holds `node`'s passing
/// `serfHealth` check and its `consul` service.
async fn leader_registered(st: &AppState, p: &Params, node: &str) -> ApiResult<bool> {
    let mut q = p.query(praetor_state::Query::HealthNode { node: node.into() })?;
    q.consistency = praetor_rpc::Consistency::Stale;
    q.min_index = 0;
    // The agent's own read: whether a leader is reported must not depend on the caller's
    // `node:read`.
    let checks = match st.rpc.inner().call(p.dc(), Request::Query(q)).await? {
        RpcResponse::Query(r) => match r.output.result {
            praetor_state::QueryResult::Checks(c) => c,
            other => return Err(ApiError::unexpected_result(&other)),
        },
        other => return Err(ApiError::unexpected_response(&other)),
    };
    Ok(checks
        .iter()
        .any(|c| c.check_id == "serfHealth" && c.status == praetor_state::CheckStatus::Passing))
}

pub async fn peers(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let (servers, _) = configuration(&st, &p, false).await?;
    let peers: Vec<String> = servers
        .iter()
        .filter(|s| s.voter)
        .map(|s| s.address.clone())
        .collect();
    Ok(axum::Json(peers).into_response())
}

pub async fn raft_configuration(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let (servers, index) = configuration(&st, &p, true).await?;
    let servers: Vec<_> = servers
        .iter()
        .map(|s| {
            json!({
                "ID": s.id, "Node": s.node, "Address": s.address, "Leader": s.leader,
                "ProtocolVersion": "3", "Voter": s.voter, "LastIndex": index,
            })
        })
        .collect();
    Ok(axum::Json(json!({"Servers": servers, "Index": index})).into_response())
}

pub async fn raft_remove_peer(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let (servers, _) = configuration(&st, &p, true).await?;
    let target = p
        .get("id")
        .or(p.get("address"))
        .unwrap_or_default()
        .to_string();
    let Some(s) = servers
        .iter()
        .find(|s| s.id == target || s.address == target)
    else {
        return Err(ApiError::BadRequest(format!(
            "id \"{target}\" was not found in the Raft configuration"
        )));
    };
    st.rpc
        .call(
            &p,
            p.dc(),
            Request::RemoveRaftPeer {
                node: s.node.clone(),
            },
        )
        .await?;
    Ok(().into_response())
}

/// `POST /v1/operator/raft/transfer-leader[?id=]`: refused with Consul's error shape. The raft
/// library praetor uses (openraft 0.9) cannot hand leadership over: its followers refuse votes
/// while the leader's lease holds, and it has no transfer call (that arrives in openraft 0.10).
pub async fn raft_transfer_leader() -> ApiResult<Response> {
    Err(ApiError::Internal(
        "Failed to transfer leadership: leadership transfer is not supported by praetor's raft (openraft 0.9)".into(),
    ))
}
