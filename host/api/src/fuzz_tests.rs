//! HTTP requests from the network, mutated (method, path, query string and body): the whole
//! router never panics on them, and every answer is an HTTP status (see `praetor_fuzz`). Runs
//! against the client agent of `router_tests` (no servers), so decoding and validation run and
//! forwarding fails fast.

use std::time::Duration;

use axum::http::Method;

use crate::router_tests::{api, send};

const SEEDS: &[&str] = &[
    "PUT /v1/catalog/register\n{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Service\":{\"Service\":\"web\",\"Port\":80,\"Tags\":[\"v1\"],\"Weights\":{\"Passing\":2}},\"Check\":{\"CheckID\":\"c\",\"Status\":\"passing\",\"Definition\":{\"HTTP\":\"http://x\",\"Interval\":\"10s\"}}}",
    "PUT /v1/txn\n[{\"KV\":{\"Verb\":\"cas\",\"Key\":\"a\",\"Value\":\"dmFsdWU=\",\"Index\":3}},{\"KV\":{\"Verb\":\"get\",\"Key\":\"b\"}}]",
    "PUT /v1/session/create\n{\"Name\":\"lock\",\"TTL\":\"15s\",\"LockDelay\":\"1s\",\"Behavior\":\"delete\",\"NodeChecks\":[\"serfHealth\"]}",
    "POST /v1/query\n{\"Name\":\"q\",\"Service\":{\"Service\":\"web\",\"Failover\":{\"NearestN\":2,\"Datacenters\":[\"dc2\"]},\"OnlyPassing\":true},\"DNS\":{\"TTL\":\"10s\"}}",
    "PUT /v1/kv/app/config?cas=5&flags=42&acquire=abc\nvalue",
    "GET /v1/kv/app/?recurse&separator=/&index=10&wait=1s&filter=Key%20matches%20%22a%22",
    "GET /v1/health/service/web?passing&near=_agent&node-meta=env:prod&filter=Service.Port%20%3E%2080&tag=v1",
    "PUT /v1/acl/token\n{\"Description\":\"t\",\"Policies\":[{\"Name\":\"p\"}],\"ServiceIdentities\":[{\"ServiceName\":\"web\",\"Datacenters\":[\"dc1\"]}],\"ExpirationTTL\":\"1h\"}",
    "PUT /v1/acl/policy\n{\"Name\":\"p\",\"Rules\":\"key_prefix \\\"\\\" { policy = \\\"read\\\" }\"}",
    "PUT /v1/config\n{\"Kind\":\"service-defaults\",\"Name\":\"web\",\"Protocol\":\"http\",\"UpstreamConfig\":{\"Defaults\":{\"ConnectTimeoutMs\":500}}}",
    "PUT /v1/config\n{\"Kind\":\"service-intentions\",\"Name\":\"db\",\"Sources\":[{\"Name\":\"web\",\"Permissions\":[{\"Action\":\"allow\",\"HTTP\":{\"PathPrefix\":\"/\",\"Methods\":[\"GET\"]}}]}]}",
    "POST /v1/connect/intentions\n{\"SourceName\":\"web\",\"DestinationName\":\"db\",\"Action\":\"allow\"}",
    "PUT /v1/agent/service/register?replace-existing-checks=true\n{\"Name\":\"api\",\"Port\":9090,\"Check\":{\"TTL\":\"30s\"},\"Connect\":{\"SidecarService\":{\"Proxy\":{\"Upstreams\":[{\"DestinationName\":\"db\",\"LocalBindPort\":9191}]}}}}",
    "PUT /v1/agent/check/register\n{\"Name\":\"mem\",\"Args\":[\"/bin/true\"],\"Interval\":\"10s\",\"TLSSkipVerify\":true}",
    "PUT /v1/coordinate/update\n{\"Node\":\"n1\",\"Coord\":{\"Vec\":[0,0,0,0,0,0,0,0],\"Error\":1.5,\"Adjustment\":0,\"Height\":0.00001}}",
    "POST /v1/operator/area\n{\"PeerDatacenter\":\"dc2\",\"RetryJoin\":[\"10.0.0.2\"],\"UseTLS\":true}",
    "PUT /v1/operator/keyring\n{\"Key\":\"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=\"}",
    "PUT /v1/event/fire/deploy?node=web&service=api&tag=v1\npayload",
    "PUT /v1/snapshot\nmeta.json\x00\x00\x00SHA256SUMS state.bin",
    "POST /v1/discovery-chain/web?compile-dc=dc1\n{\"OverrideConnectTimeout\":\"5s\",\"OverrideMeshGateway\":{\"Mode\":\"local\"}}",
    "PUT /v1/agent/connect/authorize\n{\"Target\":\"db\",\"ClientCertURI\":\"spiffe://x.consul/ns/default/dc/dc1/svc/web\"}",
    "GET /v1/catalog/services?dc=dc1&stale&cached&consistent",
];

fn method(m: &str) -> Option<Method> {
    Some(match m {
        "GET" => Method::GET,
        "PUT" => Method::PUT,
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        _ => return None,
    })
}

#[test]
fn fuzz_http_requests() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (app, _) = api();
    let mut answered = 0u64;
    praetor_fuzz::run_text("http requests", SEEDS, |input| {
        let (line, body) = input.split_once('\n').unwrap_or((input, ""));
        let Some((m, uri)) = line.split_once(' ') else {
            return;
        };
        let Some(m) = method(m) else { return };
        // `Request::builder` refuses what is not a URI; a real client could not send it either.
        if uri.parse::<axum::http::Uri>().is_err() {
            return;
        }
        rt.block_on(async {
            if let Ok((status, _)) =
                tokio::time::timeout(Duration::from_secs(2), send(&app, m, uri, body)).await
            {
                assert!(status.as_u16() >= 200, "{status}");
                answered += 1;
            }
        });
    });
    assert!(answered > 0, "no request reached the router");
}
