//! Prepared queries (issue 11): CRUD with Consul's texts, templates and explain, execute with
//! filters, and failover to other datacenters in the order the router slot ranks them, the
//! ranking being swapped at run time by loading another router component.

use std::time::Duration;

use hickory_proto::rr::{RData, RecordType};
use praetor_tests::{Agent, Http, dns, plugin_wasm, wait_for};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);

fn server(dc: u8) -> Agent {
    Agent::start(
        &format!("q{dc}"),
        &format!("127.0.{dc}.31"),
        &["-server", "-bootstrap", &format!("-datacenter=dc{dc}")],
    )
}

/// An external node running `db`, with one service check in `status`.
fn register_db(h: &Http, node: &str, addr: &str, status: &str) {
    let body = json!({
        "Node": node, "Address": addr,
        "Service": {"ID": "db", "Service": "db", "Port": 5432, "Tags": ["primary"]},
        "Check": {"CheckID": "db-check", "Name": "db", "Status": status, "ServiceID": "db"},
    });
    let r = h.put("/v1/catalog/register", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

fn execute(h: &Http, name: &str) -> Value {
    let r = h.get(&format!("/v1/query/{name}/execute"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn load_router(h: &Http, order: &[&str]) {
    let wasm = std::fs::read(plugin_wasm("route_fixed_order")).unwrap();
    let config = json!({ "order": order }).to_string();
    let path = format!(
        "/v1/agent/plugin/load?slot=router&config={}",
        config
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    let r = h.put(&path, &wasm);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn crud_templates_and_failover_in_router_order() {
    let dc1 = server(1);
    let dc2 = server(2);
    let dc3 = server(3);
    let h = dc1.http();
    for a in [&dc1, &dc2, &dc3] {
        wait_for(&format!("{} leader", a.name), LONG, || a.http().leader());
    }
    for other in ["127.0.2.31", "127.0.3.31"] {
        let r = h.put(&format!("/v1/agent/join/{other}?wan=1"), b"");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    wait_for("three datacenters known to dc1", LONG, || {
        let dcs = h.get("/v1/catalog/datacenters").json();
        (dcs.as_array()?.len() == 3).then_some(())
    });

    // db is down in dc1, up in dc2 and dc3.
    register_db(&h, "db-1", "10.1.0.1", "critical");
    register_db(&dc2.http(), "db-2", "10.2.0.1", "passing");
    register_db(&dc3.http(), "db-3", "10.3.0.1", "passing");

    // Create, read, list; Consul's errors.
    let r = h.post_json(
        "/v1/query",
        &json!({"Name": "db", "Service": {"Service": "db", "Failover": {"NearestN": 2}}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["ID"].as_str().unwrap().to_string();
    let got = h.get(&format!("/v1/query/{id}")).json();
    assert_eq!(got[0]["Name"], "db", "{got}");
    assert_eq!(got[0]["Service"]["Failover"]["NearestN"], 2, "{got}");
    assert_eq!(got[0]["Service"]["Tags"], Value::Null, "{got}");
    assert_eq!(h.get("/v1/query").json().as_array().unwrap().len(), 1);
    let r = h.post_json(
        "/v1/query",
        &json!({"Name": "DB", "Service": {"Service": "x"}}),
    );
    assert_eq!(
        (r.status, r.text()),
        (
            500,
            "raft apply failed: name 'DB' aliases an existing query name".into()
        )
    );
    let r = h.post_json("/v1/query", &json!({"Service": {"Service": "x"}}));
    assert_eq!(
        (r.status, r.text()),
        (
            500,
            "Invalid prepared query: Must be bound to a session".into()
        )
    );
    let r = h.post_json("/v1/query", &json!({"Name": "y", "Bogus": 1}));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = h.get("/v1/query/nope/execute");
    assert_eq!((r.status, r.text()), (404, "Query not found".into()));

    // Failover follows the router slot: dc3 first, then (after a hot swap) dc2 first.
    load_router(&h, &["dc3", "dc2"]);
    let out = execute(&h, "db");
    assert_eq!(out["Datacenter"], "dc3", "{out}");
    assert_eq!(out["Failovers"], 1, "{out}");
    assert_eq!(out["Nodes"][0]["Node"]["Node"], "db-3", "{out}");
    // The same through DNS: `<name>.query.consul` answers with dc3's instance.
    let a = dns(dc1.dns_addr(), "db.query.consul.", RecordType::A);
    let addrs: Vec<String> = a
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(ip) => Some(ip.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(addrs, ["10.3.0.1"], "{a:?}");
    load_router(&h, &["dc2", "dc3"]);
    let out = execute(&h, "db");
    assert_eq!(out["Datacenter"], "dc2", "{out}");
    assert_eq!(out["Nodes"][0]["Node"]["Node"], "db-2", "{out}");

    // Datacenters: unknown ones skipped, in the listed order.
    let r = h.put_json(
        &format!("/v1/query/{id}"),
        &json!({"Name": "db", "Service": {"Service": "db",
                 "Failover": {"Datacenters": ["dc9", "dc3", "dc2"]}}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let out = execute(&h, "db");
    assert_eq!(
        (out["Datacenter"].clone(), out["Failovers"].clone()),
        (json!("dc3"), json!(1)),
        "{out}"
    );

    // Healthy locally: answered here, no failover; tag filters apply.
    register_db(&h, "db-1", "10.1.0.1", "passing");
    let out = execute(&h, "db");
    assert_eq!(
        (out["Datacenter"].clone(), out["Failovers"].clone()),
        (json!("dc1"), json!(0)),
        "{out}"
    );
    let r = h.put_json(
        &format!("/v1/query/{id}"),
        &json!({"Name": "db", "Service": {"Service": "db", "Tags": ["!primary"]}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let out = execute(&h, "db");
    assert_eq!(out["Nodes"], json!([]), "{out}");

    // A template: the longest name prefix, rendered with the name looked up.
    let r = h.post_json(
        "/v1/query",
        &json!({"Name": "geo-", "Template": {"Type": "name_prefix_match", "Regexp": "^geo-(.*)$"},
                "Service": {"Service": "${match(1)}"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let explained = h.get("/v1/query/geo-db/explain").json();
    assert_eq!(
        explained["Query"]["Service"]["Service"], "db",
        "{explained}"
    );
    let out = execute(&h, "geo-db");
    assert_eq!(out["Service"], "db", "{out}");
    assert_eq!(out["Nodes"][0]["Node"]["Node"], "db-1", "{out}");

    // Delete.
    let r = h.delete(&format!("/v1/query/{id}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = h.get(&format!("/v1/query/{id}"));
    assert_eq!(r.status, 404, "{}", r.text());
}
