//! The Consul HTTP API (port 8500): Consul's paths, JSON, status codes and headers over axum.
//!
//! Reads and writes go through the one forwarding point ([`praetor_rpc::Rpc`]); `/v1/agent/*`
//! goes to the local agent through [`AgentApi`]. Consul's JSON shapes live in [`json`] only.

mod access;
mod acl;
mod agent;
mod agent_api;
mod area;
mod autopilot;
mod catalog;
mod config_entry;
mod connect_ca;
mod coordinate;
pub mod decode;
mod discovery_chain;
mod error;
mod event;
mod filtering;
mod intentions;
mod internal_ui;
pub mod json;
mod keyring;
mod kv;
pub mod monitor;
mod params;
mod prepared_query;
mod present;
mod proxy_view;
mod session;
mod snapshot;
mod status;
mod txn;
mod usage;

#[cfg(test)]
mod area_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod router_tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, get, put};

pub use access::ApiRpc;
pub use agent::prometheus_text;
pub use agent_api::{
    AgentApi, AgentError, AgentSelf, IntentionVerdict, LeafCert, MemberInfo, Metric, MetricKind,
    PluginInfo,
};
pub use error::ApiError;
pub use kv::MAX_VALUE_SIZE;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub rpc: ApiRpc,
    pub agent: Arc<dyn AgentApi>,
    pub http: Arc<HttpCounters>,
}

/// HTTP request counters (exported as metrics).
#[derive(Default, Debug)]
pub struct HttpCounters {
    requests: AtomicU64,
    request_nanos: AtomicU64,
    errors: AtomicU64,
}

impl HttpCounters {
    pub fn metrics(&self) -> Vec<Metric> {
        let c = |name: &str, value: f64, help: &'static str| Metric {
            name: name.into(),
            kind: MetricKind::Counter,
            value,
            labels: Default::default(),
            help,
        };
        vec![
            c(
                "consul_http_requests_total",
                self.requests.load(Ordering::Relaxed) as f64,
                "HTTP requests served",
            ),
            c(
                "consul_http_request_duration_seconds_sum",
                self.request_nanos.load(Ordering::Relaxed) as f64 / 1e9,
                "Total time spent serving HTTP requests (seconds)",
            ),
            c(
                "consul_http_errors_total",
                self.errors.load(Ordering::Relaxed) as f64,
                "HTTP requests answered 4xx/5xx",
            ),
        ]
    }
}

/// Consul sets `X-Consul-Translate-Addresses: true` on every answer of an agent with
/// `translate_wan_addrs` on.
/// Consul also sets `X-Consul-Default-ACL-Policy` on every answer (ACLs on or off).
async fn translate_header(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let policy = match st.rpc.inner().acl_settings().default_policy {
        praetor_acl::DefaultPolicy::Allow => "allow",
        praetor_acl::DefaultPolicy::Deny => "deny",
    };
    resp.headers_mut().insert(
        "X-Consul-Default-ACL-Policy",
        axum::http::HeaderValue::from_static(policy),
    );
    if st.agent.translate_enabled() {
        resp.headers_mut().insert(
            "X-Consul-Translate-Addresses",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    resp
}

async fn count(State(c): State<Arc<HttpCounters>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let resp = next.run(req).await;
    c.requests.fetch_add(1, Ordering::Relaxed);
    c.request_nanos
        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    if resp.status().is_client_error() || resp.status().is_server_error() {
        c.errors.fetch_add(1, Ordering::Relaxed);
    }
    resp
}

pub(crate) use praetor_rpc::now_ms;

/// The whole API as an axum router.
pub fn router(state: AppState) -> Router {
    let http = state.http.clone();
    Router::new()
        .route("/v1/status/leader", get(status::leader))
        .route("/v1/status/peers", get(status::peers))
        .route(
            "/v1/operator/raft/configuration",
            get(status::raft_configuration),
        )
        .route(
            "/v1/operator/raft/peer",
            axum::routing::delete(status::raft_remove_peer),
        )
        .route(
            "/v1/operator/raft/transfer-leader",
            axum::routing::post(status::raft_transfer_leader),
        )
        .route("/v1/operator/keyring", any(keyring::keyring))
        .route(
            "/v1/operator/autopilot/configuration",
            get(autopilot::get_config).put(autopilot::set_config),
        )
        .route("/v1/operator/autopilot/health", get(autopilot::health))
        .route("/v1/operator/autopilot/state", get(autopilot::state))
        .route("/v1/operator/usage", get(usage::usage))
        .route("/v1/operator/area", get(area::list).post(area::create))
        .route(
            "/v1/operator/area/{id}",
            get(area::get).put(area::update).delete(area::delete),
        )
        .route("/v1/operator/area/{id}/join", put(area::join))
        .route("/v1/operator/area/{id}/members", get(area::members))
        .route("/v1/coordinate/datacenters", get(coordinate::datacenters))
        .route("/v1/coordinate/nodes", get(coordinate::nodes))
        .route("/v1/coordinate/node/{node}", get(coordinate::node))
        .route("/v1/coordinate/update", put(coordinate::update))
        .route("/v1/agent/self", get(agent::self_))
        .route("/v1/agent/version", get(agent::version))
        .route("/v1/agent/members", get(agent::members))
        .route("/v1/agent/join/{addr}", put(agent::join))
        .route("/v1/agent/leave", put(agent::leave))
        .route("/v1/agent/force-leave/{node}", put(agent::force_leave))
        .route("/v1/agent/services", get(agent::services))
        .route("/v1/agent/service/{id}", get(agent::service))
        .route("/v1/agent/checks", get(agent::checks))
        .route("/v1/agent/service/register", put(agent::register_service))
        .route(
            "/v1/agent/service/deregister/{id}",
            put(agent::deregister_service),
        )
        .route("/v1/agent/check/register", put(agent::register_check))
        .route(
            "/v1/agent/check/deregister/{id}",
            put(agent::deregister_check),
        )
        .route("/v1/agent/check/{verb}/{id}", put(agent::check_ttl))
        .route("/v1/agent/reload", put(agent::reload))
        .route("/v1/agent/maintenance", put(agent::node_maintenance))
        .route(
            "/v1/agent/service/maintenance/{id}",
            put(agent::service_maintenance),
        )
        .route("/v1/agent/metrics", get(agent::metrics))
        .route("/v1/agent/monitor", get(monitor::monitor))
        .route("/v1/agent/plugins", get(agent::plugins))
        .route(
            "/v1/agent/plugin/load",
            put(agent::plugin_load).layer(DefaultBodyLimit::max(64 << 20)),
        )
        .route("/v1/agent/plugin/revert", put(agent::plugin_revert))
        .route("/v1/catalog/register", put(catalog::register))
        .route("/v1/catalog/deregister", put(catalog::deregister))
        .route("/v1/catalog/datacenters", get(catalog::datacenters))
        .route("/v1/catalog/nodes", get(catalog::nodes))
        .route("/v1/catalog/services", get(catalog::services))
        .route("/v1/catalog/service/{name}", get(catalog::service))
        .route("/v1/catalog/connect/{name}", get(catalog::connect))
        .route("/v1/catalog/node/{name}", get(catalog::node))
        .route(
            "/v1/catalog/node-services/{name}",
            get(catalog::node_services),
        )
        .route("/v1/health/node/{node}", get(catalog::health_node))
        .route("/v1/health/checks/{service}", get(catalog::health_checks))
        .route("/v1/health/service/{service}", get(catalog::health_service))
        .route("/v1/health/connect/{service}", get(catalog::health_connect))
        .route("/v1/health/state/{state}", get(catalog::health_state))
        .route("/v1/kv/", any(kv::kv))
        .route("/v1/kv/{*key}", any(kv::kv))
        .route("/v1/session/create", put(session::create))
        .route("/v1/session/destroy/{id}", put(session::destroy))
        .route("/v1/session/renew/{id}", put(session::renew))
        .route("/v1/session/info/{id}", get(session::info))
        .route("/v1/session/node/{node}", get(session::node))
        .route("/v1/session/list", get(session::list))
        .route("/v1/txn", put(txn::txn).post(txn::txn))
        .route("/v1/event/fire/{name}", put(event::fire))
        .route("/v1/event/list", get(event::list))
        .route(
            "/v1/query",
            get(prepared_query::list).post(prepared_query::create),
        )
        .route("/v1/query/{*rest}", any(prepared_query::by_path))
        .route(
            "/v1/snapshot",
            get(snapshot::save)
                .put(snapshot::restore)
                .layer(DefaultBodyLimit::max(snapshot::MAX_ARCHIVE_BYTES)),
        )
        .merge(acl::routes())
        .merge(config_entry::routes())
        .merge(connect_ca::routes())
        .merge(discovery_chain::routes())
        .merge(proxy_view::routes())
        .merge(intentions::routes())
        .merge(internal_ui::routes())
        .layer(DefaultBodyLimit::max(4 << 20))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            translate_header,
        ))
        .layer(axum::middleware::from_fn_with_state(http, count))
        .with_state(state)
}
