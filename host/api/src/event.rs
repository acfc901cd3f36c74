//! `/v1/event/*`: user events. Firing goes to a server of the target datacenter, which sends
//! the event on its LAN pool; listing reads this agent's buffer and blocks on it.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use praetor_rpc::{Request, Response as RpcResponse, UserEvent};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::json;
use crate::params::Params;

/// Consul's default and longest `?wait` for blocking queries.
const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
const MAX_WAIT: Duration = Duration::from_secs(10 * 60);

/// `PUT /v1/event/fire/<name>?node=&service=&tag=[&dc=]`, body = payload.
pub async fn fire(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    if name.is_empty() {
        return Err(ApiError::BadRequest("Missing name".into()));
    }
    let filter = |k: &str| p.get(k).unwrap_or("").to_string();
    let event = UserEvent {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        payload: (!body.is_empty()).then(|| body.to_vec()),
        node_filter: filter("node"),
        service_filter: filter("service"),
        tag_filter: filter("tag"),
        version: 1,
        ltime: 0,
    };
    validate(&event)?;
    match st.rpc.call(&p, p.dc(), Request::EventFire(event)).await? {
        RpcResponse::EventFire(e) => Ok(axum::Json(json::user_event(&e)).into_response()),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

/// Consul's checks before an event is sent.
fn validate(e: &UserEvent) -> ApiResult<()> {
    if !e.tag_filter.is_empty() && e.service_filter.is_empty() {
        return Err(ApiError::BadRequest(
            "Cannot provide tag filter without service filter".into(),
        ));
    }
    for (what, f) in [
        ("node", &e.node_filter),
        ("service", &e.service_filter),
        ("tag", &e.tag_filter),
    ] {
        if !f.is_empty() && regex::Regex::new(f).is_err() {
            return Err(ApiError::BadRequest(format!(
                "Invalid {what} filter: {f:?} is not a valid regular expression"
            )));
        }
    }
    let size = e.name.len() + e.payload.as_ref().map_or(0, Vec::len);
    if size > praetor_gossip::MAX_EVENT_BYTES {
        return Err(ApiError::TooLarge(format!(
            "user event exceeds limit of {} bytes",
            praetor_gossip::MAX_EVENT_BYTES
        )));
    }
    Ok(())
}

/// `GET /v1/event/list[?name=][&index=&wait=]`: the events this agent kept, oldest first;
/// `X-Consul-Index` is derived from the newest event's ID, so it changes with each event.
pub async fn list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let min_index = p.u64("index", "index")?;
    if let Some(index) = min_index.filter(|i| *i > 0) {
        let wait = match p.get("wait") {
            None | Some("") => DEFAULT_WAIT,
            Some(w) => praetor_config::parse_duration(w)
                .map_err(|_| ApiError::BadRequest("Invalid wait time".into()))?
                .min(MAX_WAIT),
        };
        if st.agent.events().1 == index {
            st.agent.wait_events(index, wait).await;
        }
    }
    let (events, index) = st.agent.events();
    let name = p.get("name").filter(|n| !n.is_empty());
    let who = st.rpc.identity(&p).await?;
    let named: Vec<_> = events
        .iter()
        .filter(|e| name.is_none_or(|n| e.name == n))
        .collect();
    let shown: Vec<_> = named
        .iter()
        .filter(|e| who.authz.event_read(&e.name).is_allow())
        .map(|e| json::user_event(e))
        .collect();
    let filtered = shown.len() < named.len();
    let mut resp = axum::Json(shown).into_response();
    crate::agent::filtered_header(&mut resp, filtered, &st, &p);
    resp.headers_mut()
        .insert("X-Consul-Index", HeaderValue::from(index));
    Ok(resp)
}
