//! Requests through the whole router against a recording fake agent and an `Rpc` with no
//! servers: the parameter rules and error answers that are decided before any forwarding.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use praetor_config::{CheckDefinition, ServiceDefinition};
use praetor_rpc::Rpc;
use praetor_state::{CheckStatus, HealthCheck, Service};
use tower::ServiceExt as _;

use crate::{
    AgentApi, AgentError, AgentSelf, AppState, HttpCounters, IntentionVerdict, MemberInfo, Metric,
    PluginInfo,
};

/// Records the membership calls it gets.
#[derive(Default)]
pub(crate) struct FakeAgent {
    calls: Mutex<Vec<String>>,
}

impl FakeAgent {
    fn record(&self, call: String) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(call);
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

fn member() -> MemberInfo {
    MemberInfo {
        name: "agent-1".into(),
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 8301,
        tags: BTreeMap::new(),
        status: 1,
    }
}

#[async_trait::async_trait]
impl AgentApi for FakeAgent {
    fn node_name(&self) -> String {
        "agent-1".into()
    }
    fn self_info(&self) -> AgentSelf {
        AgentSelf {
            datacenter: "dc1".into(),
            primary_datacenter: "dc1".into(),
            node_name: "agent-1".into(),
            node_id: String::new(),
            server: false,
            version: String::new(),
            praetor_version: String::new(),
            revision: String::new(),
            meta: BTreeMap::new(),
            member: member(),
            coord: praetor_coordinate::Coordinate::new(&Default::default()),
            debug_config: serde_json::Value::Null,
            stats: BTreeMap::new(),
        }
    }
    fn members(&self, wan: bool) -> Result<Vec<MemberInfo>, AgentError> {
        self.record(format!("members wan={wan}"));
        Ok(vec![member()])
    }
    async fn join(&self, addr: &str, wan: bool) -> Result<usize, AgentError> {
        self.record(format!("join {addr} wan={wan}"));
        Ok(1)
    }
    async fn leave(&self) -> Result<(), AgentError> {
        Ok(())
    }
    async fn force_leave(&self, node: &str, prune: bool, wan: bool) -> Result<(), AgentError> {
        self.record(format!("force-leave {node} prune={prune} wan={wan}"));
        Ok(())
    }
    fn services(&self) -> Vec<Service> {
        Vec::new()
    }
    fn checks(&self) -> Vec<HealthCheck> {
        Vec::new()
    }
    async fn register_service(&self, _: ServiceDefinition, _: bool) -> Result<(), AgentError> {
        Ok(())
    }
    async fn deregister_service(&self, _: &str) -> Result<(), AgentError> {
        Ok(())
    }
    async fn register_check(&self, _: CheckDefinition) -> Result<(), AgentError> {
        Ok(())
    }
    async fn deregister_check(&self, _: &str) -> Result<(), AgentError> {
        Ok(())
    }
    async fn update_ttl(
        &self,
        _: &str,
        _: CheckStatus,
        _: Option<String>,
    ) -> Result<(), AgentError> {
        Ok(())
    }
    async fn reload(&self) -> Result<(), AgentError> {
        Ok(())
    }
    async fn node_maintenance(&self, enable: bool, reason: &str) -> Result<(), AgentError> {
        self.record(format!("maintenance enable={enable} reason={reason}"));
        Ok(())
    }
    async fn service_maintenance(
        &self,
        id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), AgentError> {
        self.record(format!("maintenance {id} enable={enable} reason={reason}"));
        Ok(())
    }
    fn events(&self) -> (Vec<praetor_rpc::UserEvent>, u64) {
        (Vec::new(), 0)
    }
    async fn wait_events(&self, _: u64, _: std::time::Duration) {}
    fn metrics(&self) -> Vec<Metric> {
        Vec::new()
    }
    fn translate_enabled(&self) -> bool {
        false
    }
    fn translate(&self, q: &praetor_policy::AddressQuery) -> praetor_policy::Presented {
        praetor_policy::Presented {
            address: q.address.clone(),
            port: q.port,
        }
    }
    fn plugins(&self) -> Vec<PluginInfo> {
        Vec::new()
    }
    async fn load_plugin(&self, _: &str, _: Vec<u8>, _: &str) -> Result<PluginInfo, AgentError> {
        Err(AgentError::Internal("no plugins".into()))
    }
    async fn revert_plugin(&self, _: &str) -> Result<PluginInfo, AgentError> {
        Err(AgentError::Internal("no plugins".into()))
    }
    async fn leaf_cert(
        &self,
        service: &str,
        _: String,
        _: u64,
        _: Option<&str>,
    ) -> Result<crate::LeafCert, AgentError> {
        Err(AgentError::Internal(format!("no CA for {service}")))
    }
    fn authorize_intention(
        &self,
        source: &str,
        destination: &str,
        _: Option<praetor_policy::HttpRequest>,
    ) -> IntentionVerdict {
        self.record(format!("authorize {source} {destination}"));
        IntentionVerdict {
            allowed: false,
            reason: "Default behavior configured by ACLs".into(),
        }
    }
}

/// A client agent's API with no known server: anything forwarded fails with Consul's
/// `No known Consul servers`.
pub(crate) fn api() -> (axum::Router, Arc<FakeAgent>) {
    let agent = Arc::new(FakeAgent::default());
    let state = AppState {
        rpc: Rpc::client("dc1").into(),
        agent: agent.clone(),
        http: Arc::new(HttpCounters::default()),
    };
    (crate::router(state), agent)
}

pub(crate) async fn send(
    app: &axum::Router,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, String) {
    let (status, _, text) = send_full(app, method, uri, body).await;
    (status, text)
}

/// Sends a request; returns the status, headers and body text.
pub(crate) async fn send_full(
    app: &axum::Router,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn members_wan_is_any_non_empty_value_and_rejects_segments() {
    let (app, agent) = api();
    for (uri, status) in [
        ("/v1/agent/members", StatusCode::OK),
        ("/v1/agent/members?wan", StatusCode::OK),
        ("/v1/agent/members?wan=0", StatusCode::OK),
        ("/v1/agent/members?wan=1&segment=_all", StatusCode::OK),
    ] {
        assert_eq!(send(&app, Method::GET, uri, "").await.0, status, "{uri}");
    }
    assert_eq!(
        agent.calls(),
        [
            "members wan=false",
            "members wan=false",
            "members wan=true",
            "members wan=true"
        ]
    );
    let (status, body) = send(
        &app,
        Method::GET,
        "/v1/agent/members?wan=1&segment=alpha",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, "Cannot provide a segment with wan=true");
}

#[tokio::test]
async fn join_and_force_leave_read_wan_as_consul() {
    let (app, agent) = api();
    for uri in [
        "/v1/agent/join/127.0.2.1?wan",
        "/v1/agent/join/127.0.2.1:8302?wan=1",
        "/v1/agent/force-leave/s1.dc2?wan",
        "/v1/agent/force-leave/s1?prune",
    ] {
        assert_eq!(
            send(&app, Method::PUT, uri, "").await.0,
            StatusCode::OK,
            "{uri}"
        );
    }
    assert_eq!(
        agent.calls(),
        [
            "join 127.0.2.1 wan=false",
            "join 127.0.2.1:8302 wan=true",
            "force-leave s1.dc2 prune=false wan=true",
            "force-leave s1 prune=true wan=false",
        ]
    );
}

#[tokio::test]
async fn agent_self_shows_the_lan_coordinate() {
    let (app, _) = api();
    let (status, body) = send(&app, Method::GET, "/v1/agent/self", "").await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Coord"]["Vec"].as_array().map(Vec::len), Some(8), "{v}");
    assert_eq!(v["Coord"]["Error"], 1.5);
    assert_eq!(v["Coord"]["Height"], 1e-5);
}

#[tokio::test]
async fn datacenters_come_from_a_server_not_the_agent() {
    let (app, _) = api();
    let (status, body) = send(&app, Method::GET, "/v1/catalog/datacenters", "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "No known Consul servers");
    let (status, body) = send(&app, Method::GET, "/v1/coordinate/datacenters", "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "No known Consul servers");
}

#[tokio::test]
async fn keyring_rejects_bad_requests_before_forwarding() {
    let (app, _) = api();
    let (status, body) = send(&app, Method::POST, "/v1/operator/keyring", "{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("Request decode failed: "), "{body}");
    let (status, body) = send(&app, Method::DELETE, "/v1/operator/keyring", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("Request decode failed: "), "{body}");
    let (status, body) = send(
        &app,
        Method::PUT,
        "/v1/operator/keyring?local-only=true",
        r#"{"Key":"k"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        "Invalid use of local-only: local-only can only be set for list requests"
    );
    let (status, _) = send(&app, Method::PATCH, "/v1/operator/keyring", "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // A valid list is forwarded (and fails here: no server).
    let (status, body) = send(&app, Method::GET, "/v1/operator/keyring?local-only=1", "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "No known Consul servers");
}

#[tokio::test]
async fn coordinate_update_validates_its_body() {
    let (app, _) = api();
    let (status, body) = send(&app, Method::PUT, "/v1/coordinate/update", "nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("Request decode failed: "), "{body}");
    let three = r#"{"Node":"n1","Coord":{"Vec":[0,0,0],"Error":1.5,"Adjustment":0,"Height":0}}"#;
    let (status, body) = send(&app, Method::PUT, "/v1/coordinate/update", three).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "incompatible coordinate");
    let eight =
        r#"{"Node":"n1","Coord":{"Vec":[0,0,0,0,0,0,0,0],"Error":1.5,"Adjustment":0,"Height":0}}"#;
    let (status, body) = send(&app, Method::PUT, "/v1/coordinate/update", eight).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "No known Consul servers");
}

/// With ACLs off, loading or reverting a plugin over HTTP is refused unless the caller is on a
/// loopback address (an unknown caller is refused too); from loopback it reaches the agent.
#[tokio::test]
async fn plugin_load_is_loopback_only_with_acls_off() {
    let (app, _) = api();
    let load = |from: Option<&str>| {
        let mut req = Request::builder()
            .method(Method::PUT)
            .uri("/v1/agent/plugin/load?slot=translator")
            .body(Body::from("wasm"))
            .expect("request");
        if let Some(ip) = from {
            let addr: std::net::SocketAddr = format!("{ip}:40000").parse().unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
        }
        let app = app.clone();
        async move { app.oneshot(req).await.expect("infallible").status() }
    };
    assert_eq!(load(Some("10.1.2.3")).await, StatusCode::FORBIDDEN);
    assert_eq!(load(None).await, StatusCode::FORBIDDEN);
    // From loopback the request reaches the agent (whose fake refuses with a 500).
    assert_eq!(
        load(Some("127.0.0.1")).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let (status, body) = send(&app, Method::PUT, "/v1/agent/plugin/revert?slot=router", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("enable_remote_plugin_load"), "{body}");
}
