//! `/v1/query`: prepared queries (create, list, read, replace, delete) and
//! `/v1/query/<name-or-id>/execute|explain`. Definitions are validated here with Consul's texts
//! (500s, as Consul answers them); the rules that need the table (unique names, sessions that
//! exist) are the state machine's; execute and its failover run on a server (`rpc`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use praetor_rpc::{Consistency, QueryResponse, Request, Response as RpcResponse};
use praetor_state::{
    Command, CommandResult, PreparedQuery, Query as Q, QueryFailover, QueryResult, QueryTemplate,
    ServiceQuery, is_uuid, render_prepared_query,
};
use serde_json::json;

use crate::AppState;
use crate::decode::{Unknown, from_slice};
use crate::error::{ApiError, ApiResult};
use crate::json::{self, PreparedQueryBody};
use crate::params::{Params, meta_headers, query_headers};

fn internal(e: impl Into<String>) -> ApiError {
    ApiError::Internal(e.into())
}

fn not_found() -> ApiError {
    ApiError::NotFound("Query not found".into())
}

/// Consul's `parseQuery` checks (`Invalid prepared query: ...`), then the definition.
fn definition(b: PreparedQueryBody) -> ApiResult<PreparedQuery> {
    let invalid = |m: String| internal(format!("Invalid prepared query: {m}"));
    if b.name.is_empty() && b.template.kind.is_empty() && b.session.is_empty() {
        return Err(invalid("Must be bound to a session".into()));
    }
    if b.token == "<hidden>" {
        return Err(invalid(
            "Bad Token '<hidden>', it looks like a query definition with a redacted token was submitted".into(),
        ));
    }
    if !b.template.kind.is_empty() && b.template.kind != "name_prefix_match" {
        return Err(invalid(format!("Bad Template.Type '{}'", b.template.kind)));
    }
    let s = b.service;
    if s.service.is_empty() {
        return Err(invalid("Must provide a Service name to query".into()));
    }
    if s.failover.nearest_n < 0 {
        return Err(invalid(format!(
            "Bad NearestN '{}', must be >= 0",
            s.failover.nearest_n
        )));
    }
    if !s.failover.targets.is_empty() {
        if s.failover.nearest_n > 0 || !s.failover.datacenters.is_empty() {
            return Err(invalid(
                "Targets cannot be populated with NearestN or Datacenters".into(),
            ));
        }
        // Targets name cluster peers; praetor has no peering.
        return Err(invalid(
            "failover Targets need cluster peering, which praetor does not have".into(),
        ));
    }
    if !s.sameness_group.is_empty() {
        return Err(invalid(
            "sameness-groups are an enterprise-only feature".into(),
        ));
    }
    if !s.peer.is_empty() {
        return Err(invalid(
            "Peer needs cluster peering, which praetor does not have".into(),
        ));
    }
    if !b.dns.ttl.is_empty() {
        praetor_config::parse_duration(&b.dns.ttl)
            .map_err(|e| invalid(format!("Bad DNS TTL '{}': {e}", b.dns.ttl)))?;
    }
    let q = PreparedQuery {
        id: b.id,
        name: b.name,
        session: b.session,
        token: b.token,
        template: QueryTemplate {
            kind: b.template.kind,
            regexp: b.template.regexp,
            remove_empty_tags: b.template.remove_empty_tags,
        },
        service: ServiceQuery {
            service: s.service,
            failover: QueryFailover {
                nearest_n: u32::try_from(s.failover.nearest_n).unwrap_or(u32::MAX),
                datacenters: s.failover.datacenters,
            },
            only_passing: s.only_passing,
            ignore_check_ids: s.ignore_check_ids,
            near: s.near,
            tags: s.tags,
            node_meta: s.node_meta,
            service_meta: s.service_meta,
            connect: false,
        },
        dns_ttl: b.dns.ttl,
        create_index: 0,
        modify_index: 0,
    };
    // A template must render (Consul test-renders it with its own name).
    render_prepared_query(&q, &q.name)
        .map_err(|e| internal(format!("failed compiling template: {e}")))?;
    Ok(q)
}

fn decode_body(body: &[u8]) -> ApiResult<PreparedQueryBody> {
    if body.is_empty() {
        return Ok(PreparedQueryBody::default());
    }
    from_slice(body, Unknown::Reject)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))
}

async fn apply(st: &AppState, p: &Params, cmd: Command) -> ApiResult<()> {
    match st.rpc.apply(p, p.dc(), cmd).await? {
        CommandResult::Ok => Ok(()),
        CommandResult::Error(e) => Err(internal(format!("raft apply failed: {e}"))),
        other => Err(ApiError::unexpected_result(&other)),
    }
}

/// `POST /v1/query`: `{"ID": "<uuid>"}`.
pub async fn create(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let b = decode_body(&body)?;
    if !b.id.is_empty() {
        return Err(internal(
            "ID must be empty when creating a new prepared query",
        ));
    }
    let mut q = definition(b)?;
    q.id = uuid::Uuid::new_v4().to_string();
    let id = q.id.clone();
    apply(
        &st,
        &p,
        Command::PreparedQuerySet {
            query: q,
            create: true,
        },
    )
    .await?;
    Ok(axum::Json(json!({ "ID": id })).into_response())
}

/// `GET /v1/query`: every query, by ID (`[]` when none).
pub async fn list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    crate::catalog::read(&st, &p, Q::PreparedQueryList, |r| match r {
        QueryResult::PreparedQueries(q) => Ok(json!(
            q.iter().map(json::prepared_query).collect::<Vec<_>>()
        )),
        r => Err(ApiError::unexpected_result(&r)),
    })
    .await
}

/// Reads the query with this ID (Consul looks IDs up in a UUID index, hence its error).
async fn read_by_id(st: &AppState, p: &Params, id: &str) -> ApiResult<QueryResponse> {
    if !is_uuid(id) {
        return Err(internal(
            "failed prepared query lookup: UUID must be 36 characters",
        ));
    }
    let q = Q::PreparedQueryGet {
        id: id.to_lowercase(),
    };
    Ok(st.rpc.query(p, p.dc(), p.query(q)?).await?)
}

/// The stored query with this ID.
async fn existing(st: &AppState, p: &Params, id: &str) -> ApiResult<Option<PreparedQuery>> {
    match read_by_id(st, p, id).await?.output.result {
        QueryResult::PreparedQueries(mut q) => Ok(q.pop()),
        r => Err(ApiError::unexpected_result(&r)),
    }
}

/// `/v1/query/<rest>`: `<id>` (GET, PUT, DELETE), `<name-or-id>/execute`, `<name-or-id>/explain`
/// (GET). A name may contain slashes.
pub async fn by_path(
    State(st): State<AppState>,
    method: Method,
    Path(rest): Path<String>,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    if let Some(name) = rest.strip_suffix("/execute") {
        return match method {
            Method::GET => execute(&st, &p, name).await,
            m => Err(ApiError::MethodNotAllowed(m.to_string())),
        };
    }
    if let Some(name) = rest.strip_suffix("/explain") {
        return match method {
            Method::GET => explain(&st, &p, name).await,
            m => Err(ApiError::MethodNotAllowed(m.to_string())),
        };
    }
    let id = rest.as_str();
    match method {
        Method::GET => {
            let resp = read_by_id(&st, &p, id).await?;
            match &resp.output.result {
                QueryResult::PreparedQueries(q) if q.is_empty() => Err(not_found()),
                QueryResult::PreparedQueries(q) => Ok((
                    query_headers(&resp),
                    axum::Json(q.iter().map(json::prepared_query).collect::<Vec<_>>()),
                )
                    .into_response()),
                r => Err(ApiError::unexpected_result(r)),
            }
        }
        Method::PUT => {
            let mut q = definition(decode_body(&body)?)?;
            if existing(&st, &p, id).await?.is_none() {
                return Err(internal(format!(
                    "Cannot modify non-existent prepared query: '{id}'"
                )));
            }
            q.id = id.to_lowercase();
            apply(
                &st,
                &p,
                Command::PreparedQuerySet {
                    query: q,
                    create: false,
                },
            )
            .await?;
            Ok(().into_response())
        }
        Method::DELETE => {
            if existing(&st, &p, id).await?.is_none() {
                return Err(internal(format!(
                    "Cannot modify non-existent prepared query: '{id}'"
                )));
            }
            apply(
                &st,
                &p,
                Command::PreparedQueryDelete {
                    id: id.to_lowercase(),
                },
            )
            .await?;
            Ok(().into_response())
        }
        m => Err(ApiError::MethodNotAllowed(m.to_string())),
    }
}

async fn execute(st: &AppState, p: &Params, name: &str) -> ApiResult<Response> {
    let limit = match p.get("limit") {
        None | Some("") => 0,
        Some(l) => l
            .parse::<usize>()
            .map_err(|e| internal(format!("Bad limit: strconv.Atoi: parsing {l:?}: {e}")))?,
    };
    let connect = match p.get("connect").filter(|c| !c.is_empty()) {
        Some(c) => crate::params::parse_bool(c)
            .map_err(|e| internal(format!("Error parsing 'connect' value: {e}")))?,
        None => false,
    };
    let stale = p.flag("stale");
    let req = Request::PreparedQueryExecute {
        name: name.to_string(),
        near: p.near(&st.agent.node_name()),
        limit,
        stale,
        connect,
    };
    let r = match st.rpc.call(p, p.dc(), req).await? {
        RpcResponse::PreparedQueryExecute(Some(r)) => r,
        RpcResponse::PreparedQueryExecute(None) => return Err(not_found()),
        other => return Err(ApiError::unexpected_response(&other)),
    };
    let consistency = if stale {
        Consistency::Stale
    } else {
        Consistency::Default
    };
    let mut nodes = r.nodes;
    for n in nodes.iter_mut() {
        crate::present::node(st, &mut n.node);
        crate::present::service(st, &n.node.datacenter, &mut n.service);
    }
    let headers = meta_headers(r.index, r.known_leader, r.last_contact_ms, consistency);
    let body = json!({
        "Service": r.service,
        "Nodes": nodes.iter().map(json::check_service_node).collect::<Vec<_>>(),
        "DNS": {"TTL": r.dns_ttl},
        "Datacenter": r.datacenter,
        "PeerName": "",
        "Failovers": r.failovers,
        "Index": r.index,
        "LastContact": r.last_contact_ms * 1_000_000,
        "KnownLeader": r.known_leader,
        "ConsistencyLevel": consistency.as_str(),
        "NotModified": false,
        "Backend": 0,
        "ResultsFilteredByACLs": false,
    });
    Ok((headers, axum::Json(body)).into_response())
}

async fn explain(st: &AppState, p: &Params, name: &str) -> ApiResult<Response> {
    let resp = st
        .rpc
        .query(
            p,
            p.dc(),
            p.query(Q::PreparedQueryResolve {
                name: name.to_string(),
            })?,
        )
        .await?;
    let q = match &resp.output.result {
        QueryResult::PreparedQueries(q) => q.first().cloned().ok_or_else(not_found)?,
        r => return Err(ApiError::unexpected_result(r)),
    };
    let rendered = render_prepared_query(&q, name)
        .map_err(|e| internal(format!("failed to render query: {e}")))?;
    let mut body = json::query_meta(&resp);
    body.insert("Query".into(), json::prepared_query(&rendered));
    Ok((query_headers(&resp), axum::Json(body)).into_response())
}
