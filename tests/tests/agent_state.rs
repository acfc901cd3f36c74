//! Agent state across restarts (issue 12): services and checks registered through the HTTP
//! API are kept in the data dir and registered again when the agent restarts; deregistered
//! ones stay gone.

use std::time::Duration;

use praetor_tests::{Agent, wait_for};
use serde_json::json;

#[test]
fn api_registrations_survive_a_restart() {
    let mut a = Agent::start("statefull", "127.0.1.47", &["-server", "-bootstrap"]);
    let h = a.http();
    let r = h.put_json(
        "/v1/agent/service/register",
        &json!({"Name": "web", "ID": "web/1", "Port": 8080, "Tags": ["v1"],
            "Check": {"TTL": "30s"}, "Connect": {"SidecarService": {}}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = h.put_json(
        "/v1/agent/service/register",
        &json!({"Name": "gone", "Port": 9090}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = h.put_json(
        "/v1/agent/check/register",
        &json!({"Name": "disk", "TTL": "1m"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = h.put("/v1/agent/service/deregister/gone", b"");
    assert_eq!(r.status, 200, "{}", r.text());

    a.restart();
    let h = a.http();
    let services = wait_for("services restored", Duration::from_secs(30), || {
        let s = h.get("/v1/agent/services").json();
        s.get("web/1").is_some().then_some(s)
    });
    assert_eq!(services["web/1"]["Port"], 8080, "{services}");
    assert_eq!(services["web/1"]["Tags"], json!(["v1"]), "{services}");
    assert_eq!(
        services["web/1-sidecar-proxy"]["Port"], 21000,
        "the sidecar comes back with its parent: {services}"
    );
    assert!(
        services.get("gone").is_none(),
        "deregistered stays gone: {services}"
    );
    let checks = h.get("/v1/agent/checks").json();
    assert!(checks.get("disk").is_some(), "{checks}");
    assert!(checks.get("service:web/1").is_some(), "{checks}");
}
