//! The reads the web UI needs beyond Consul's public API: `/v1/internal/ui/services` (Consul's
//! own UI endpoint: one row per service with its health summary, blocking) and
//! `/v1/operator/routes` (praetor's: how a server reaches each datacenter, for the federation
//! map).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use praetor_rpc::{Request, Response as RpcResponse, RouteInfo};
use praetor_state::{CheckServiceNode, CheckStatus, Query as Q, QueryResult};
use serde_json::{Value, json};

use crate::AppState;
use crate::catalog::read;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/internal/ui/services", get(services))
        .route("/v1/operator/routes", get(operator_routes))
}

/// `GET /v1/internal/ui/services`: Consul's `ServiceListingSummary` rows, by name then kind.
async fn services(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let dc = p.dc().map(String::from);
    read(&st, &p, Q::HealthAll, move |r| match r {
        QueryResult::CheckServiceNodes(rows) => Ok(json!(summarize(&rows, dc.as_deref()))),
        r => Err(ApiError::unexpected_result(&r)),
    })
    .await
}

#[derive(Default)]
struct Summary<'a> {
    tags: BTreeSet<&'a str>,
    nodes: BTreeSet<&'a str>,
    instances: usize,
    /// (node, check ID) -> status: a node check counts once per node, as in Consul.
    checks: BTreeMap<(&'a str, &'a str), CheckStatus>,
    datacenter: &'a str,
}

/// Groups instances by (name, kind) and counts each distinct check once.
fn summarize(rows: &[CheckServiceNode], dc: Option<&str>) -> Vec<Value> {
    let proxied: HashSet<&str> = rows
        .iter()
        .filter(|r| r.service.kind == "connect-proxy")
        .filter_map(|r| r.service.proxy.as_ref())
        .map(|p| p.destination_service_name.as_str())
        .collect();
    let mut by_service: BTreeMap<(&str, &str), Summary<'_>> = BTreeMap::new();
    for row in rows {
        let s = by_service
            .entry((row.service.service.as_str(), row.service.kind.as_str()))
            .or_default();
        s.instances += 1;
        s.tags.extend(row.service.tags.iter().map(String::as_str));
        s.nodes.insert(row.node.node.as_str());
        s.datacenter = row.node.datacenter.as_str();
        for c in &row.checks {
            s.checks
                .insert((c.node.as_str(), c.check_id.as_str()), c.status);
        }
    }
    by_service
        .into_iter()
        .map(|((name, kind), s)| {
            let count = |want: fn(CheckStatus) -> bool| {
                s.checks.values().filter(|st| want(**st)).count()
            };
            json!({
                "Kind": kind,
                "Name": name,
                "Datacenter": dc.filter(|d| !d.is_empty()).unwrap_or(s.datacenter),
                "Tags": s.tags,
                "Nodes": s.nodes,
                "InstanceCount": s.instances,
                "ChecksPassing": count(|c| c == CheckStatus::Passing),
                "ChecksWarning": count(|c| c == CheckStatus::Warning),
                "ChecksCritical": count(|c| matches!(c, CheckStatus::Critical | CheckStatus::Maintenance)),
                "ExternalSources": Value::Null,
                "ConnectedWithProxy": proxied.contains(name),
                "ConnectedWithGateway": false,
            })
        })
        .collect()
}

/// `GET /v1/operator/routes`: every path the answering server (of `?dc`) has to each
/// datacenter, with its estimated RTT and how many of its servers are healthy
/// (`operator:read`).
async fn operator_routes(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    match st.rpc.call(&p, p.dc(), Request::Routes).await? {
        RpcResponse::Routes(routes) => {
            let local = routes
                .iter()
                .find(|r| r.path == "local")
                .map(|r| r.datacenter.clone())
                .unwrap_or_default();
            let rows: Vec<Value> = routes.iter().map(route_json).collect();
            Ok(axum::Json(json!({ "Datacenter": local, "Routes": rows })).into_response())
        }
        other => Err(ApiError::unexpected_response(&other)),
    }
}

fn route_json(r: &RouteInfo) -> Value {
    json!({
        "Datacenter": r.datacenter,
        "Path": r.path,
        "PathID": r.path_id,
        "RTT": r.rtt_ms,
        "Hops": r.hops,
        "Servers": r.servers,
        "HealthyServers": r.healthy_servers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use praetor_state::{HealthCheck, Node, Service, ServiceProxy};

    fn row(
        node: &str,
        id: &str,
        name: &str,
        checks: &[(&str, &str, CheckStatus)],
    ) -> CheckServiceNode {
        CheckServiceNode {
            node: Node {
                node: node.into(),
                datacenter: "dc1".into(),
                ..Default::default()
            },
            service: Service {
                id: id.into(),
                service: name.into(),
                tags: vec![format!("t-{id}")],
                ..Default::default()
            },
            checks: checks
                .iter()
                .map(|(cid, sid, status)| HealthCheck {
                    node: node.into(),
                    check_id: (*cid).into(),
                    service_id: (*sid).into(),
                    status: *status,
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn node_checks_count_once_per_node() {
        let rows = vec![
            row(
                "n1",
                "web1",
                "web",
                &[
                    ("serfHealth", "", CheckStatus::Passing),
                    ("c1", "web1", CheckStatus::Critical),
                ],
            ),
            row(
                "n1",
                "web2",
                "web",
                &[
                    ("serfHealth", "", CheckStatus::Passing),
                    ("c2", "web2", CheckStatus::Warning),
                ],
            ),
            row(
                "n2",
                "db1",
                "db",
                &[("serfHealth", "", CheckStatus::Maintenance)],
            ),
        ];
        let out = summarize(&rows, None);
        assert_eq!(out.len(), 2);
        let web = out.iter().find(|v| v["Name"] == "web").expect("web");
        assert_eq!(web["InstanceCount"], 2);
        assert_eq!(web["ChecksPassing"], 1);
        assert_eq!(web["ChecksWarning"], 1);
        assert_eq!(web["ChecksCritical"], 1);
        assert_eq!(web["Nodes"], json!(["n1"]));
        assert_eq!(web["Tags"], json!(["t-web1", "t-web2"]));
        assert_eq!(web["Datacenter"], "dc1");
        let db = out.iter().find(|v| v["Name"] == "db").expect("db");
        assert_eq!(db["ChecksCritical"], 1);
        assert_eq!(db["ConnectedWithProxy"], false);
    }

    #[test]
    fn a_proxy_marks_its_destination() {
        let mut proxy = row("n1", "web-sidecar-proxy", "web-sidecar-proxy", &[]);
        proxy.service.kind = "connect-proxy".into();
        proxy.service.proxy = Some(ServiceProxy {
            destination_service_name: "web".into(),
            ..Default::default()
        });
        let out = summarize(&[row("n1", "web1", "web", &[]), proxy], Some("dc9"));
        let web = out.iter().find(|v| v["Name"] == "web").expect("web");
        assert_eq!(web["ConnectedWithProxy"], true);
        assert_eq!(web["Datacenter"], "dc9");
        let sidecar = out
            .iter()
            .find(|v| v["Kind"] == "connect-proxy")
            .expect("proxy");
        assert_eq!(sidecar["Name"], "web-sidecar-proxy");
    }
}
