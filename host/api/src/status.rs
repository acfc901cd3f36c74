//! `/v1/status/*` and `/v1/operator/raft/*`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use praetor_rpc::{Request, Response as RpcResponse};
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;

type Qs = Query<HashMap<String, String>>;

async fn configuration(
    st: &AppState,
    p: &Params,
) -> ApiResult<(Vec<praetor_rpc::RaftServerInfo>, u64)> {
    match st.rpc.call(p.dc(), Request::RaftConfiguration).await? {
        RpcResponse::RaftConfiguration { servers, index } => Ok((servers, index)),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

pub async fn leader(State(st): State<AppState>, Query(p): Qs) -> ApiResult<Response> {
    let p = Params(p);
    let (servers, _) = configuration(&st, &p).await?;
    let leader = servers
        .iter()
        .find(|s| s.leader)
        .map(|s| s.address.clone())
        .unwrap_or_default();
    Ok(axum::Json(leader).into_response())
}

pub async fn peers(State(st): State<AppState>, Query(p): Qs) -> ApiResult<Response> {
    let p = Params(p);
    let (servers, _) = configuration(&st, &p).await?;
    let peers: Vec<String> = servers
        .iter()
        .filter(|s| s.voter)
        .map(|s| s.address.clone())
        .collect();
    Ok(axum::Json(peers).into_response())
}

pub async fn raft_configuration(State(st): State<AppState>, Query(p): Qs) -> ApiResult<Response> {
    let p = Params(p);
    let (servers, index) = configuration(&st, &p).await?;
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

pub async fn raft_remove_peer(State(st): State<AppState>, Query(p): Qs) -> ApiResult<Response> {
    let p = Params(p);
    let (servers, _) = configuration(&st, &p).await?;
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
            p.dc(),
            Request::RemoveRaftPeer {
                node: s.node.clone(),
            },
        )
        .await?;
    Ok(().into_response())
}
