//! `/v1/operator/area` through the whole router: against a one-server in-memory raft (real
//! state machine, real `Rpc`) with fake agent operations for join and members, and against a
//! client agent without servers (the checks made before forwarding).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use praetor_consensus::{Consensus, ConsensusConfig, RaftNode};
use praetor_rpc::{
    AreaJoinResult, AreaMember, KeyringOp, KeyringResponse, LocalOps, Rpc, RpcError,
};
use praetor_state::{SharedStore, Store};
use serde_json::{Value, json};

use crate::router_tests::{FakeAgent, send, send_full};
use crate::{AppState, HttpCounters};

/// Answers area joins and members like an agent would, recording the joins.
#[derive(Default)]
struct FakeOps {
    joins: Mutex<Vec<(String, Vec<String>)>>,
}

#[async_trait::async_trait]
impl LocalOps for FakeOps {
    async fn keyring(&self, _: &KeyringOp, _: bool) -> Result<Vec<KeyringResponse>, RpcError> {
        Ok(Vec::new())
    }

    async fn area_join(
        &self,
        id: &str,
        addresses: &[String],
    ) -> Result<Vec<AreaJoinResult>, RpcError> {
        if let Ok(mut j) = self.joins.lock() {
            j.push((id.to_string(), addresses.to_vec()));
        }
        Ok(addresses
            .iter()
            .map(|a| AreaJoinResult {
                address: a.clone(),
                joined: a.starts_with("127."),
                error: if a.starts_with("127.") {
                    String::new()
                } else {
                    format!("failed to connect to {a:?}: i/o timeout")
                },
            })
            .collect())
    }

    async fn fire_event(
        &self,
        mut event: praetor_rpc::UserEvent,
    ) -> Result<praetor_rpc::UserEvent, RpcError> {
        event.ltime = 7;
        Ok(event)
    }

    fn server_members(&self) -> std::collections::BTreeMap<String, (String, String)> {
        Default::default()
    }

    async fn area_members(&self, id: &str) -> Result<Vec<AreaMember>, RpcError> {
        if id == "missing" {
            return Err(RpcError::Internal(format!("area {id:?} not found")));
        }
        Ok(vec![AreaMember {
            id: "afc5d95c-1eee-4b46-b85b-0efe4c76dd48".into(),
            node: "s2".into(),
            address: "127.0.9.2".into(),
            port: 8300,
            datacenter: "dc2".into(),
            role: "server".into(),
            build: "1.0.0".into(),
            protocol: 2,
            status: "alive".into(),
            rtt_ns: 594_191,
        }])
    }
}

/// A server agent of `dc1` whose raft (one voter, in memory) is the leader.
struct Server {
    app: axum::Router,
    ops: Arc<FakeOps>,
    consensus: Consensus,
    rpc: Rpc,
}

async fn server() -> Server {
    let node = RaftNode {
        name: "s1".into(),
        rpc_addr: "127.0.9.1:8300".into(),
    };
    let consensus = Consensus::start(
        ConsensusConfig {
            node_id: 1,
            node: node.clone(),
            dir: None,
            raft_multiplier: 1,
            snapshots: praetor_consensus::Snapshots::ONLY_WHEN_ASKED,
            dialer: None,
        },
        Arc::new(SharedStore::new(Store::new())),
    )
    .await
    .expect("start raft");
    consensus
        .initialize(BTreeMap::from([(1, node)]))
        .await
        .expect("initialize");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !consensus.is_leader() {
        assert!(tokio::time::Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rpc = Rpc::server("dc1", consensus.clone());
    let ops = Arc::new(FakeOps::default());
    rpc.set_local_ops(ops.clone());
    let state = AppState {
        rpc: rpc.clone().into(),
        agent: Arc::new(FakeAgent::default()),
        http: Arc::new(HttpCounters::default()),
    };
    Server {
        app: crate::router(state),
        ops,
        consensus,
        rpc,
    }
}

/// Sends a request; returns the status, headers and body parsed as JSON (`Null` if empty,
/// the text as a JSON string if not JSON).
async fn call(
    app: &axum::Router,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, text) = send_full(app, method, uri, body).await;
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, headers, value)
}

fn index(h: &HeaderMap) -> u64 {
    h.get("X-Consul-Index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("X-Consul-Index")
}

async fn create(app: &axum::Router, body: &str) -> String {
    let (status, _, v) = call(app, Method::POST, "/v1/operator/area", body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["ID"].as_str().expect("ID").to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    id
}

#[tokio::test]
async fn create_list_get_update_delete() {
    let Server { app, consensus, .. } = server().await;
    let id2 = create(
        &app,
        r#"{"PeerDatacenter":"dc2","RetryJoin":["10.1.2.3","10.1.2.4:8300"],"UseTLS":false}"#,
    )
    .await;
    let id0 = create(&app, r#"{"PeerDatacenter":"dc0","UseTLS":true}"#).await;

    let (status, headers, v) = call(&app, Method::GET, "/v1/operator/area", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!([
            {"ID": id0, "PeerDatacenter": "dc0", "RetryJoin": null, "UseTLS": true},
            {"ID": id2, "PeerDatacenter": "dc2", "RetryJoin": ["10.1.2.3", "10.1.2.4:8300"],
             "UseTLS": false},
        ])
    );
    let listed_at = index(&headers);
    assert_eq!(listed_at, consensus.store().last_index());
    assert_eq!(headers["X-Consul-KnownLeader"], "true");

    let (status, headers, v) =
        call(&app, Method::GET, &format!("/v1/operator/area/{id2}"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["ID"], id2.as_str());
    assert_eq!(index(&headers), listed_at);
    let (status, _, v) = call(&app, Method::GET, "/v1/operator/area/unknown", "").await;
    assert_eq!((status, v), (StatusCode::OK, json!([])));

    // Update: absent fields keep their value.
    let uri = format!("/v1/operator/area/{id2}");
    let (status, _, v) = call(&app, Method::PUT, &uri, r#"{"UseTLS":true}"#).await;
    assert_eq!((status, v), (StatusCode::OK, json!({"ID": id2})));
    let (_, headers, v) = call(&app, Method::GET, &uri, "").await;
    assert_eq!(v[0]["UseTLS"], true);
    assert_eq!(v[0]["RetryJoin"], json!(["10.1.2.3", "10.1.2.4:8300"]));
    assert!(index(&headers) > listed_at);
    // What Go's client sends (every field; null for no list) replaces only what it sets.
    let go = r#"{"ID":"","PeerDatacenter":"dc2","RetryJoin":["10.9.9.9"],"UseTLS":false}"#;
    assert_eq!(call(&app, Method::PUT, &uri, go).await.0, StatusCode::OK);
    let (_, _, v) = call(&app, Method::GET, &uri, "").await;
    assert_eq!(
        v,
        json!([{"ID": id2, "PeerDatacenter": "dc2", "RetryJoin": ["10.9.9.9"], "UseTLS": false}])
    );
    assert_eq!(call(&app, Method::PUT, &uri, "").await.0, StatusCode::OK);
    let (status, _, v) = call(&app, Method::PUT, &uri, r#"{"PeerDatacenter":"dc3"}"#).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        v,
        format!("cannot change the peer datacenter of area \"{id2}\" from \"dc2\" to \"dc3\"")
    );
    let (status, _, v) = call(&app, Method::PUT, "/v1/operator/area/nope", "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v, "area \"nope\" not found");

    // Delete, then it is gone.
    let (status, _, v) = call(&app, Method::DELETE, &uri, "").await;
    assert_eq!((status, v), (StatusCode::OK, Value::Null));
    let (_, _, v) = call(&app, Method::GET, "/v1/operator/area", "").await;
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    let (status, _, v) = call(&app, Method::DELETE, &uri, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v, format!("area \"{id2}\" not found"));
    consensus.shutdown().await;
}

#[tokio::test]
async fn create_is_validated() {
    let Server { app, consensus, .. } = server().await;
    let bad = |body: &'static str| {
        let app = app.clone();
        async move { call(&app, Method::POST, "/v1/operator/area", body).await }
    };
    let (status, _, v) = bad(r#"{"RetryJoin":["10.1.2.3"]}"#).await;
    assert_eq!(
        (status, v),
        (
            StatusCode::BAD_REQUEST,
            json!("Must provide peer datacenter")
        )
    );
    let (status, _, v) = bad(r#"{"PeerDatacenter":"DC1"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v, "Cannot create an area with the local datacenter \"dc1\"");
    let (status, _, v) = bad(r#"{"ID":"x","PeerDatacenter":"dc2"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v, "ID must be empty when creating a new area");
    let (status, _, v) = bad("{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v.as_str()
            .is_some_and(|t| t.starts_with("Request decode failed: ")),
        "{v}"
    );
    let (status, _, _) = bad("").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // One area per peer datacenter.
    let id = create(&app, r#"{"PeerDatacenter":"dc2","RetryJoin":null}"#).await;
    let (status, _, v) = bad(r#"{"PeerDatacenter":"dc2"}"#).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        v,
        format!("area with peer datacenter \"dc2\" already exists (ID \"{id}\")")
    );
    // The area of this datacenter with itself is checked against ?dc.
    let (status, _, v) = call(
        &app,
        Method::POST,
        "/v1/operator/area?dc=dc9",
        r#"{"PeerDatacenter":"dc9"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    // Another datacenter is reached through the router (none known here).
    let (status, _, v) = call(
        &app,
        Method::POST,
        "/v1/operator/area?dc=dc9",
        r#"{"PeerDatacenter":"dc1"}"#,
    )
    .await;
    assert_eq!(
        (status, v),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!("No path to datacenter")
        )
    );
    let (status, _, v) = call(&app, Method::GET, "/v1/operator/area?dc=dc9", "").await;
    assert_eq!(
        (status, v),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!("No path to datacenter")
        )
    );

    let (status, _, _) = call(&app, Method::PATCH, "/v1/operator/area", "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _, _) = call(
        &app,
        Method::GET,
        &format!("/v1/operator/area/{id}/join"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    consensus.shutdown().await;
}

#[tokio::test]
async fn list_blocks_until_an_area_changes() {
    let Server {
        app,
        consensus,
        rpc,
        ..
    } = server().await;
    let id = create(&app, r#"{"PeerDatacenter":"dc2"}"#).await;
    let (_, headers, _) = call(&app, Method::GET, "/v1/operator/area", "").await;
    let at = index(&headers);
    let uri = format!("/v1/operator/area?index={at}&wait=30s");
    let waiting = tokio::spawn({
        let app = app.clone();
        async move { call(&app, Method::GET, &uri, "").await }
    });
    let blocked = tokio::time::Instant::now() + Duration::from_secs(20);
    while rpc.counters().blocking_in_flight.load(Ordering::Relaxed) == 0 {
        assert!(
            tokio::time::Instant::now() < blocked,
            "the read never blocked"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!waiting.is_finished());
    let put = format!("/v1/operator/area/{id}");
    assert_eq!(
        call(&app, Method::PUT, &put, r#"{"UseTLS":true}"#).await.0,
        StatusCode::OK
    );
    let (status, headers, v) = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("woken by the update")
        .expect("task");
    assert_eq!(status, StatusCode::OK);
    assert!(index(&headers) > at);
    assert_eq!(v[0]["UseTLS"], true);
    consensus.shutdown().await;
}

#[tokio::test]
async fn join_and_members_are_answered_by_the_server() {
    let Server {
        app,
        ops,
        consensus,
        ..
    } = server().await;
    let (status, _, v) = call(
        &app,
        Method::PUT,
        "/v1/operator/area/a-1/join",
        r#"["127.0.9.2","10.1.2.3:8300"]"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!([
            {"Address": "127.0.9.2", "Joined": true, "Error": ""},
            {"Address": "10.1.2.3:8300", "Joined": false,
             "Error": "failed to connect to \"10.1.2.3:8300\": i/o timeout"},
        ])
    );
    let joins = ops.joins.lock().map(|j| j.clone()).unwrap_or_default();
    assert_eq!(
        joins,
        [(
            "a-1".to_string(),
            vec!["127.0.9.2".to_string(), "10.1.2.3:8300".to_string()]
        )]
    );
    let (status, _, v) = call(&app, Method::PUT, "/v1/operator/area/a-1/join", "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");

    let (status, _, v) = call(&app, Method::GET, "/v1/operator/area/a-1/members", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!([{"ID": "afc5d95c-1eee-4b46-b85b-0efe4c76dd48", "Name": "s2.dc2",
                "Addr": "127.0.9.2", "Port": 8300, "Datacenter": "dc2", "Role": "server",
                "Build": "1.0.0", "Protocol": 2, "Status": "alive", "RTT": 594191}])
    );
    let (status, _, v) = call(&app, Method::GET, "/v1/operator/area/missing/members", "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(v.as_str().is_some_and(|t| t.contains("not found")), "{v}");
    consensus.shutdown().await;
}

#[tokio::test]
async fn a_client_agent_checks_before_forwarding() {
    let state = AppState {
        rpc: Rpc::client("dc1").into(),
        agent: Arc::new(FakeAgent::default()),
        http: Arc::new(HttpCounters::default()),
    };
    let app = crate::router(state);
    let (status, body) = send(&app, Method::POST, "/v1/operator/area", "{}").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::BAD_REQUEST, "Must provide peer datacenter")
    );
    let (status, body) = send(
        &app,
        Method::POST,
        "/v1/operator/area",
        r#"{"PeerDatacenter":"dc2"}"#,
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "No known Consul servers")
    );
    for (method, uri) in [
        (Method::GET, "/v1/operator/area"),
        (Method::GET, "/v1/operator/area/x"),
        (Method::PUT, "/v1/operator/area/x"),
        (Method::DELETE, "/v1/operator/area/x"),
        (Method::GET, "/v1/operator/area/x/members"),
    ] {
        let (status, body) = send(&app, method.clone(), uri, "").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {uri}");
        assert_eq!(body, "No known Consul servers", "{method} {uri}");
    }
    let (status, body) = send(&app, Method::PUT, "/v1/operator/area/x/join", "nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("Request decode failed: "), "{body}");
}
