//! The mesh control plane (issue 10) with real processes: two WAN-joined datacenters with ACLs
//! default deny and the seed guide's replication token. Config entries written in the primary
//! replicate to the secondary, intentions written in the secondary land in the primary and
//! come back by replication, decisions go through the `intentions` plugin slot (swapped at
//! run time with no failed request), and bad input is refused with nothing stored.

use std::time::Duration;

use praetor_tests::{Agent, AgentOptions, Http, Resp, plugin_wasm, wait_for};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);
const ROOT: &str = "6a0d3c1e-2f6a-4e7b-9a61-0c2b7d4e8f11";
const RECOVERY: &str = "1c9e1f2a-3b4c-4d5e-8f60-718293a4b5c7";
const REPL: &str = "8d0c3a52-9f3e-4c1b-8a55-2b6d1e0f4a78";

fn dc_options(dc: &str) -> AgentOptions {
    let mut tokens = json!({"agent_recovery": RECOVERY});
    if dc == "dc1" {
        tokens["initial_management"] = json!(ROOT);
    } else {
        tokens["replication"] = json!(REPL);
    }
    AgentOptions {
        config_json: json!({
            "performance": {"raft_multiplier": 1},
            "log_level": "debug",
            "primary_datacenter": "dc1",
            "acl": {
                "enabled": true,
                "default_policy": "deny",
                "enable_token_replication": true,
                "tokens": tokens,
            },
        })
        .to_string(),
        self_token: Some(RECOVERY.into()),
        ..AgentOptions::default()
    }
}

fn status(r: &Resp, want: u16, what: &str) {
    assert_eq!(r.status, want, "{what}: {}", r.text());
}

fn allowed(h: &Http, src: &str, dst: &str) -> Option<bool> {
    let r = h.get(&format!(
        "/v1/connect/intentions/check?source={src}&destination={dst}"
    ));
    (r.status == 200).then(|| r.json()["Allowed"].as_bool().unwrap_or(false))
}

#[test]
fn config_entries_and_intentions_across_datacenters() {
    let p = Agent::start_with(
        "meshp",
        "127.0.1.45",
        &["-server", "-bootstrap", "-datacenter=dc1"],
        &dc_options("dc1"),
    );
    let root1 = p.http().with_token(ROOT);
    wait_for("primary bootstrapped", LONG, || {
        (root1.get("/v1/acl/token/self").status == 200).then_some(())
    });
    // The seed guide's replication policy and token.
    status(
        &root1.put_json(
            "/v1/acl/policy",
            &json!({"Name": "replication", "Rules":
                "acl = \"write\"\noperator = \"write\"\nservice_prefix \"\" { policy = \"read\" intentions = \"read\" }"}),
        ),
        200,
        "replication policy",
    );
    status(
        &root1.put_json(
            "/v1/acl/token",
            &json!({"SecretID": REPL, "Description": "replication", "Policies": [{"Name": "replication"}]}),
        ),
        200,
        "replication token",
    );
    let s = Agent::start_with(
        "meshs",
        "127.0.2.45",
        &[
            "-server",
            "-bootstrap",
            "-datacenter=dc2",
            "-retry-join-wan=127.0.1.45",
            "-retry-interval-wan=1s",
        ],
        &dc_options("dc2"),
    );
    let root2 = s.http().with_token(ROOT);
    wait_for("management token resolves in dc2", LONG, || {
        (root2.get("/v1/acl/token/self").status == 200).then_some(())
    });

    // proxy-defaults written in dc1 is readable in dc2 (replication).
    let pd = json!({"Kind": "proxy-defaults", "Name": "global",
        "MeshGateway": {"Mode": "local"}, "Config": {"protocol": "http"}});
    let w = root1.put_json("/v1/config", &pd);
    status(&w, 200, "proxy-defaults in dc1");
    assert_eq!(w.json(), json!(true));
    let got = wait_for("proxy-defaults replicated to dc2", LONG, || {
        let r = root2.get("/v1/config/proxy-defaults/global");
        (r.status == 200).then(|| r.json())
    });
    assert_eq!(got["MeshGateway"]["Mode"], "local", "{got}");
    assert_eq!(got["Config"]["protocol"], "http", "{got}");
    // Anyone may read proxy-defaults; nobody anonymous may write it.
    status(
        &s.http().get("/v1/config/proxy-defaults/global"),
        200,
        "anonymous read of proxy-defaults",
    );
    let denied = s.http().put_json("/v1/config", &pd);
    status(&denied, 403, "anonymous proxy-defaults write");
    // ?cas: create-only refused when present.
    let again = root1.put_json("/v1/config?cas=0", &pd);
    status(&again, 200, "cas=0 write");
    assert_eq!(again.json(), json!(false));

    // A config entry written in dc2 is stored in dc1 (writes go to the primary).
    let sd = json!({"kind": "service-defaults", "name": "socat", "protocol": "tcp"});
    status(
        &root2.put_json("/v1/config", &sd),
        200,
        "service-defaults via dc2",
    );
    let in_dc1 = root1.get("/v1/config/service-defaults/socat");
    status(&in_dc1, 200, "service-defaults in dc1");
    assert_eq!(in_dc1.json()["Protocol"], "tcp");

    // Intention created in dc2 (legacy API) is stored in dc1 and replicated back.
    let c = root2.post_json(
        "/v1/connect/intentions",
        &json!({"SourceName": "web", "DestinationName": "socat", "Action": "allow"}),
    );
    status(&c, 200, "intention create via dc2");
    let id = c.json()["ID"].as_str().unwrap().to_string();
    let exact = root1.get("/v1/connect/intentions/exact?source=web&destination=socat");
    status(&exact, 200, "intention in dc1");
    assert_eq!(exact.json()["ID"], id.as_str());
    assert_eq!(exact.json()["Precedence"], 9);
    wait_for("intention replicated to dc2", LONG, || {
        (root2
            .get("/v1/connect/intentions/exact?source=web&destination=socat")
            .status
            == 200)
            .then_some(())
    });
    // Decisions: the intention allows web, the ACL default (deny) refuses the rest.
    wait_for("dc2 agent decides with the new intention", LONG, || {
        (allowed(&root2, "web", "socat") == Some(true)).then_some(())
    });
    assert_eq!(allowed(&root2, "api", "socat"), Some(false));
    let a = root2.post_json(
        "/v1/agent/connect/authorize",
        &json!({"Target": "socat", "ClientCertURI": "spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc2/svc/web"}),
    );
    status(&a, 200, "authorize");
    let a = a.json();
    assert_eq!(a["Authorized"], true, "{a}");
    assert_eq!(
        a["Reason"],
        format!(
            "Matched L4 intention: default/web => default/socat (ID: {id}, Precedence: 9, Action: ALLOW)"
        ),
        "{a}"
    );
    let a = root2
        .post_json(
            "/v1/agent/connect/authorize",
            &json!({"Target": "socat", "ClientCertURI": "spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc2/svc/api"}),
        )
        .json();
    assert_eq!(a["Authorized"], false, "{a}");
    assert_eq!(a["Reason"], "Default behavior configured by ACLs", "{a}");

    // Swap the intentions component at run time: the verdict changes, no request fails.
    let wasm = std::fs::read(plugin_wasm("intentions_fixed")).expect("test plugin built");
    let checker = {
        let h = root2.clone();
        std::thread::spawn(move || {
            let mut failed = Vec::new();
            for _ in 0..200 {
                let r = h.get("/v1/connect/intentions/check?source=api&destination=socat");
                if r.status != 200 {
                    failed.push(r.status);
                }
            }
            failed
        })
    };
    let load = root2.put(
        "/v1/agent/plugin/load?slot=intentions&config=%7B%22allowed%22%3Atrue%7D",
        &wasm,
    );
    status(&load, 200, "load intentions_fixed");
    assert_eq!(allowed(&root2, "api", "socat"), Some(true), "fixed verdict");
    status(
        &root2.put("/v1/agent/plugin/revert?slot=intentions", b""),
        200,
        "revert",
    );
    assert_eq!(
        allowed(&root2, "api", "socat"),
        Some(false),
        "built-in again"
    );
    let failed = checker.join().unwrap();
    assert!(
        failed.is_empty(),
        "checks failed during the swap: {failed:?}"
    );

    // Bad input: nothing stored.
    let bad = root1.put_json(
        "/v1/config",
        &json!({"Kind": "service-defaults", "Name": "web", "Protocol": "smtp"}),
    );
    status(&bad, 500, "invalid protocol");
    assert_eq!(bad.text(), "invalid value for protocol: smtp");
    let bad = root1.put_json(
        "/v1/config",
        &json!({"Kind": "service-intentions", "Name": "db", "Sources": [{"Name": "web", "Action": "allow", "Colour": "red"}]}),
    );
    status(&bad, 400, "unknown field in an intention");
    assert!(
        bad.text().contains("invalid config key \"Colour\""),
        "{}",
        bad.text()
    );
    status(
        &root1.get("/v1/config/service-defaults/web"),
        404,
        "nothing stored",
    );
    status(
        &root1.get("/v1/config/service-intentions/db"),
        404,
        "nothing stored",
    );
    // A token with service read only may not write intentions.
    let pol = root1.put_json(
        "/v1/acl/policy",
        &json!({"Name": "reader", "Rules": "service_prefix \"\" { policy = \"read\" }"}),
    );
    status(&pol, 200, "reader policy");
    let tok = root1.put_json("/v1/acl/token", &json!({"Policies": [{"Name": "reader"}]}));
    let reader = p
        .http()
        .with_token(tok.json()["SecretID"].as_str().unwrap());
    let r = reader.put_json(
        "/v1/connect/intentions/exact?source=web&destination=db",
        &json!({"Action": "allow"}),
    );
    status(&r, 403, "intention write without intentions:write");
    assert!(
        r.text()
            .contains("lacks permission 'intention:write' on \"db\""),
        "{}",
        r.text()
    );
    // Deleting the intention (in dc2) removes it everywhere.
    status(
        &root2.delete("/v1/connect/intentions/exact?source=web&destination=socat"),
        200,
        "delete intention",
    );
    status(
        &root1.get("/v1/connect/intentions/exact?source=web&destination=socat"),
        404,
        "deleted in dc1",
    );
    let list: Value = wait_for("deletion replicated to dc2", LONG, || {
        let l = root2.get("/v1/connect/intentions").json();
        (l.as_array().is_some_and(|a| a.is_empty())).then_some(l)
    });
    assert_eq!(list, json!([]));
}
