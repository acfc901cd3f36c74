//! `/v1/coordinate/*`: network coordinates. WAN coordinates of the servers of every known
//! datacenter come from the router of the server that answers; LAN coordinates of nodes are
//! replicated state (written with `PUT /v1/coordinate/update`, read like any catalog data).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use praetor_coordinate::{Config, Coordinate};
use praetor_rpc::{Request, Response as RpcResponse};
use praetor_state::{Command, CommandResult, NodeCoordinate, Query as Q, QueryResult};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::json::{self, CoordinateUpdateRequest, decode};
use crate::params::{Params, query_headers};

/// `GET /v1/coordinate/datacenters`: the WAN coordinates of every known server, per
/// datacenter (answered by a server of this datacenter, never forwarded; `[]` when none).
pub async fn datacenters(State(st): State<AppState>) -> ApiResult<Response> {
    match st
        .rpc
        .inner()
        .call(None, Request::CoordinateDatacenters)
        .await?
    {
        RpcResponse::CoordinateDatacenters(maps) => Ok(axum::Json(
            maps.iter().map(json::datacenter_map).collect::<Vec<_>>(),
        )
        .into_response()),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

/// Consul's `filterCoordinates`: with `?segment` present (even empty), only that segment.
fn filter_segment(p: &Params, coords: Vec<NodeCoordinate>) -> Vec<NodeCoordinate> {
    match p.get("segment") {
        Some(segment) => coords
            .into_iter()
            .filter(|c| c.segment == segment)
            .collect(),
        None => coords,
    }
}

fn coordinates(r: QueryResult) -> ApiResult<Vec<NodeCoordinate>> {
    match r {
        QueryResult::Coordinates(c) => Ok(c),
        r => Err(ApiError::unexpected_result(&r)),
    }
}

/// `GET /v1/coordinate/nodes[?segment=]`: the LAN coordinates of the datacenter's nodes
/// (`?dc`, blocking and consistency modes as every catalog read).
pub async fn nodes(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let segment = p.get("segment").map(String::from);
    let resp = st
        .rpc
        .query(&p, p.dc(), p.query(Q::CoordinateNodes { segment })?)
        .await?;
    let headers = query_headers(&resp);
    let coords = filter_segment(&p, coordinates(resp.output.result)?);
    let body: Vec<_> = coords.iter().map(json::node_coordinate).collect();
    Ok((headers, axum::Json(body)).into_response())
}

/// `GET /v1/coordinate/node/<node>[?segment=]`: one node's LAN coordinates (one per
/// segment); 404 with an empty body when it has none.
pub async fn node(
    State(st): State<AppState>,
    Path(node): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let resp = st
        .rpc
        .query(&p, p.dc(), p.query(Q::CoordinateNode { node })?)
        .await?;
    let headers = query_headers(&resp);
    let coords = filter_segment(&p, coordinates(resp.output.result)?);
    if coords.is_empty() {
        return Ok((StatusCode::NOT_FOUND, headers).into_response());
    }
    let body: Vec<_> = coords.iter().map(json::node_coordinate).collect();
    Ok((headers, axum::Json(body)).into_response())
}

/// Consul's checks on a coordinate sent by a client: every component finite (`invalid
/// coordinate`) and the same dimensionality as ours (`incompatible coordinate`).
fn validate(c: &Coordinate) -> ApiResult<()> {
    if !c.is_valid() {
        return Err(ApiError::Internal("invalid coordinate".into()));
    }
    if !c.is_compatible_with(&Coordinate::new(&Config::default())) {
        return Err(ApiError::Internal("incompatible coordinate".into()));
    }
    Ok(())
}

/// `PUT /v1/coordinate/update` with `{"Node","Segment","Coord"}`: stores a node's LAN
/// coordinate (raft write); answers an empty 200 as Consul.
pub async fn update(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let req: CoordinateUpdateRequest = decode(&body)?;
    let coord: Coordinate = req
        .coord
        .ok_or_else(|| ApiError::Internal("invalid coordinate".into()))?
        .into();
    validate(&coord)?;
    let cmd = Command::CoordinateBatchUpdate {
        updates: vec![NodeCoordinate {
            node: req.node,
            segment: req.segment,
            coord,
        }],
    };
    match st.rpc.apply(&p, p.dc(), cmd).await? {
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        _ => Ok(().into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coord(vec: Vec<f64>) -> Coordinate {
        Coordinate {
            vec,
            error: 1.5,
            adjustment: 0.0,
            height: 1e-5,
        }
    }

    #[test]
    fn updates_need_finite_eight_dimensional_coordinates() {
        assert!(validate(&coord(vec![0.0; 8])).is_ok());
        let e = validate(&coord(vec![0.0; 3])).unwrap_err();
        assert_eq!(e.to_string(), "incompatible coordinate");
        let mut bad = coord(vec![0.0; 8]);
        bad.height = f64::NAN;
        assert_eq!(
            validate(&bad).unwrap_err().to_string(),
            "invalid coordinate"
        );
        let mut bad = coord(vec![0.0; 8]);
        bad.vec[2] = f64::INFINITY;
        assert_eq!(
            validate(&bad).unwrap_err().to_string(),
            "invalid coordinate"
        );
    }

    fn nc(node: &str, segment: &str) -> NodeCoordinate {
        NodeCoordinate {
            node: node.into(),
            segment: segment.into(),
            coord: coord(vec![0.0; 8]),
        }
    }

    #[test]
    fn segment_filter_applies_when_present_even_empty() {
        let all = || vec![nc("a", ""), nc("a", "alpha"), nc("b", "")];
        let p = Params::from_pairs;
        assert_eq!(filter_segment(&p(&[]), all()).len(), 3);
        let default_only = filter_segment(&p(&[("segment", "")]), all());
        assert_eq!(default_only.len(), 2);
        assert!(default_only.iter().all(|c| c.segment.is_empty()));
        let alpha = filter_segment(&p(&[("segment", "alpha")]), all());
        assert_eq!(alpha.len(), 1);
        assert_eq!(alpha[0].segment, "alpha");
    }
}
