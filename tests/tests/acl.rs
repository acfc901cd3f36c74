//! ACLs (issue 9) with real processes: a server with `default_policy = "deny"` and an
//! `initial_management` token, a client agent joined to it. Denials carry Consul's texts,
//! listings are filtered, tokens travel with forwarded requests, the plugin API is privileged,
//! bad policies are refused with nothing stored.

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use praetor_tests::{Agent, AgentOptions, Http, Resp, dns, plugin_wasm, wait_for};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);
const ROOT: &str = "5e1d3c1e-2f6a-4e7b-9a61-0c2b7d4e8f10";
/// Every test agent's `acl.tokens.agent_recovery` (the harness waits for it with this).
const RECOVERY: &str = "0c9e1f2a-3b4c-4d5e-8f60-718293a4b5c6";

fn acl_options() -> AgentOptions {
    AgentOptions {
        config_json: json!({
            "performance": {"raft_multiplier": 1},
            "log_level": "debug",
            "primary_datacenter": "dc1",
            "acl": {
                "enabled": true,
                "default_policy": "deny",
                "enable_token_persistence": true,
                "tokens": {"initial_management": ROOT, "agent_recovery": RECOVERY},
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

/// Creates a policy and a token holding it; returns (accessor, secret).
fn token_with_rules(root: &Http, name: &str, rules: &str) -> (String, String) {
    let p = root.put_json("/v1/acl/policy", &json!({"Name": name, "Rules": rules}));
    status(&p, 200, "create policy");
    let t = root.put_json(
        "/v1/acl/token",
        &json!({"Description": name, "Policies": [{"Name": name}]}),
    );
    status(&t, 200, "create token");
    let t = t.json();
    (
        t["AccessorID"].as_str().unwrap().to_string(),
        t["SecretID"].as_str().unwrap().to_string(),
    )
}

#[test]
fn default_deny_tokens_policies_and_enforcement() {
    let opts = acl_options();
    let mut s = Agent::start_with("acl1", "127.0.1.41", &["-server", "-bootstrap"], &opts);
    let anon = s.http();
    let root = anon.with_token(ROOT);
    // The leader writes the built-ins and the initial management token.
    wait_for("initial management token usable", LONG, || {
        (root.get("/v1/acl/token/self").status == 200).then_some(())
    });
    let me = root.get("/v1/acl/token/self").json();
    assert_eq!(me["Description"], "Initial Management Token", "{me}");
    assert_eq!(me["SecretID"], ROOT);

    // The initial management token used the bootstrap up.
    let b = anon.put("/v1/acl/bootstrap", b"");
    status(&b, 403, "second bootstrap");
    assert!(
        b.text()
            .starts_with("Permission denied: ACL bootstrap no longer allowed (reset index: "),
        "{}",
        b.text()
    );

    // The CLI, as Consul's: a second bootstrap fails with the server's reason; lists print
    // Consul's blocks.
    let (code, _, err) = s.cli(&["acl", "bootstrap"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL bootstrap no longer allowed"),
        "{err}"
    );
    let token_flag = format!("-token={ROOT}");
    let (code, out, err) = s.cli(&["acl", "policy", "list", &token_flag]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("global-management:"), "{out}");
    let (code, out, err) = s.cli(&[
        "acl",
        "policy",
        "create",
        "-name",
        "cli-made",
        "-rules",
        "key \"cli\" { policy = \"read\" }",
        &token_flag,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Name:         cli-made"), "{out}");
    let (code, out, err) = s.cli(&["acl", "token", "read", "-self", &token_flag]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("AccessorID:       "), "{out}");
    assert!(
        out.contains("00000000-0000-0000-0000-000000000001 - global-management"),
        "{out}"
    );

    // Anonymous with default deny: denied with Consul's text, listings empty, header set.
    let r = anon.get("/v1/kv/app/x");
    status(&r, 403, "anonymous kv read");
    assert_eq!(
        r.text(),
        "Permission denied: anonymous token lacks permission 'key:read' on \"app/x\". The anonymous token is used implicitly when a request does not specify a token."
    );
    assert_eq!(r.header("X-Consul-Default-ACL-Policy"), Some("deny"));
    let nodes = anon.get("/v1/catalog/nodes");
    status(&nodes, 200, "anonymous node list");
    assert_eq!(nodes.json(), json!([]), "anonymous sees no node");
    assert_eq!(
        nodes.header("X-Consul-Results-Filtered-By-ACLs"),
        None,
        "never for anonymous"
    );
    status(&anon.get("/v1/acl/policies"), 403, "anonymous acl:read");
    status(&anon.get("/v1/snapshot"), 403, "anonymous snapshot");

    // An unknown secret.
    let r = anon
        .with_token("3f1b52c4-5a1e-4c59-9d4e-000000000000")
        .get("/v1/kv/app/x");
    status(&r, 403, "unknown token");
    assert_eq!(r.text(), "ACL not found");

    // A KV token: exact beats prefix, write implies read, a list is filtered.
    let (accessor, secret) = token_with_rules(
        &root,
        "app-kv",
        r#"
key_prefix "app/" { policy = "write" }
key "app/secret" { policy = "deny" }
node_prefix "" { policy = "read" }
"#,
    );
    let app = anon.with_token(&secret);
    status(&root.put("/v1/kv/app/secret", b"s"), 200, "root writes");
    status(
        &app.put("/v1/kv/app/x", b"1"),
        200,
        "write under the prefix",
    );
    let r = app.put("/v1/kv/other", b"1");
    status(&r, 403, "write outside the prefix");
    assert_eq!(
        r.text(),
        format!(
            "Permission denied: token with AccessorID '{accessor}' lacks permission 'key:write' on \"other\""
        )
    );
    status(
        &app.get("/v1/kv/app/secret"),
        403,
        "exact deny beats the prefix",
    );
    let list = app.get("/v1/kv/app/?recurse");
    status(&list, 200, "recurse");
    let keys: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, vec!["app/x".to_string()]);
    assert_eq!(
        list.header("X-Consul-Results-Filtered-By-ACLs"),
        Some("true")
    );
    let nodes = app.get("/v1/catalog/nodes").json();
    assert_eq!(
        nodes.as_array().unwrap().len(),
        1,
        "node_prefix read: {nodes}"
    );
    status(&app.get("/v1/acl/policies"), 403, "no acl:read");

    // Malformed rules and a 1 MiB body: 400, nothing stored.
    let before = root
        .get("/v1/acl/policies")
        .json()
        .as_array()
        .unwrap()
        .len();
    let r = root.put_json(
        "/v1/acl/policy",
        &json!({"Name": "bad", "Rules": "key_prefix \"\" { policy = \"sometimes\" }"}),
    );
    assert!(
        r.status == 400 || r.status == 500,
        "bad rules: {} {}",
        r.status,
        r.text()
    );
    assert!(
        r.text().contains("Invalid key_prefix policy"),
        "{}",
        r.text()
    );
    let r = root.put_json(
        "/v1/acl/policy",
        &json!({"Name": "unknown-resource", "Rules": "bogus \"x\" { policy = \"read\" }"}),
    );
    assert!(r.status >= 400, "unknown resource: {}", r.text());
    let huge = "#".repeat((1 << 20) + 16);
    let r = root.put_json("/v1/acl/policy", &json!({"Name": "huge", "Rules": huge}));
    assert!(r.status >= 400, "1 MiB rules: {}", r.status);
    let after = root
        .get("/v1/acl/policies")
        .json()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "nothing stored");

    // The plugin API: anonymous and read-only refused, operator:write loads.
    let wasm = std::fs::read(plugin_wasm("translate_fixed")).expect("test plugin built");
    let path = "/v1/agent/plugin/load?slot=translator&config=%7B%22address%22%3A%2210.9.9.9%22%7D";
    status(&anon.put(path, &wasm), 403, "anonymous plugin load");
    status(&anon.get("/v1/agent/plugins"), 403, "anonymous plugin list");
    let (_, reader) = token_with_rules(&root, "op-read", r#"operator = "read""#);
    let reader = anon.with_token(&reader);
    status(&reader.get("/v1/agent/plugins"), 200, "operator:read lists");
    let r = reader.put(path, &wasm);
    status(&r, 403, "operator:read cannot load");
    assert!(
        r.text().contains("lacks permission 'operator:write'"),
        "{}",
        r.text()
    );
    status(&root.put(path, &wasm), 200, "management loads");

    // DNS runs as the anonymous token: a registered service is invisible.
    status(
        &root.put_json(
            "/v1/agent/service/register",
            &json!({"Name": "web", "Port": 80}),
        ),
        200,
        "register web",
    );
    wait_for("web in the catalog", LONG, || {
        let v: Value = root.get("/v1/catalog/service/web").json();
        (!v.as_array()?.is_empty()).then_some(())
    });
    let m = dns(s.dns_addr(), "web.service.consul.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{m:?}");

    // The agent's DNS token changed over the API (no raft write): the very next answer uses it,
    // though the anonymous one was cached (the DNS cache's stamp includes the ACL generation).
    let (_, dns_secret) = token_with_rules(
        &root,
        "dns-reader",
        r#"service_prefix "" { policy = "read" } node_prefix "" { policy = "read" }"#,
    );
    for _ in 0..3 {
        let m = dns(s.dns_addr(), "web.service.consul.", RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{m:?}");
    }
    status(
        &root.put_json("/v1/agent/token/dns", &json!({"Token": dns_secret})),
        200,
        "set the DNS token",
    );
    let m = dns(s.dns_addr(), "web.service.consul.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    assert_eq!(m.answers.len(), 1, "{m:?}");
    status(
        &root.put_json("/v1/agent/token/dns", &json!({"Token": ""})),
        200,
        "clear the DNS token",
    );
    let m = dns(s.dns_addr(), "web.service.consul.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{m:?}");

    // A token deleted is gone at once on the server.
    status(
        &root.delete(&format!("/v1/acl/token/{accessor}")),
        200,
        "delete token",
    );
    let r = app.get("/v1/kv/app/x");
    status(&r, 403, "deleted token");
    assert_eq!(r.text(), "ACL not found");

    // A client agent forwards the request's token; its own agent endpoints check it too.
    let c = Agent::start_with("acl2", "127.0.1.42", &["-retry-join=127.0.1.41"], &opts);
    let (_, secret) = token_with_rules(
        &root,
        "app-kv2",
        r#"key_prefix "app/" { policy = "write" }"#,
    );
    let via_client = c.http().with_token(&secret);
    wait_for("client forwards a write with the token", LONG, || {
        (via_client.put("/v1/kv/app/from-client", b"1").status == 200).then_some(())
    });
    status(
        &c.http().put("/v1/kv/app/anon", b"1"),
        403,
        "anonymous via client",
    );
    status(
        &c.http().get("/v1/agent/self"),
        403,
        "agent:read on the client",
    );
    status(
        &c.http().with_token(ROOT).get("/v1/agent/self"),
        200,
        "management on the client",
    );

    // An agent token set over the API is used at once and persists across a restart.
    let (_, reader) = token_with_rules(&root, "kv-reader", r#"key_prefix "" { policy = "read" }"#);
    status(
        &root.put_json("/v1/agent/token/default", &json!({"Token": reader})),
        200,
        "set the default token",
    );
    status(
        &anon.get("/v1/kv/app/x"),
        200,
        "no token: the default token",
    );
    s.restart();
    wait_for("default token after a restart", LONG, || {
        (s.http().get("/v1/kv/app/x").status == 200).then_some(())
    });
}

/// Two WAN-joined datacenters, default deny, the seed guide's replication token: objects made
/// in the primary work in the secondary, global writes in the secondary land in the primary,
/// local tokens stay home, and the secondary keeps authorizing while the primary is down.
#[test]
fn replication_from_the_primary_and_primary_down() {
    // The seed guide's setup (`acl_pair`): its own management token.
    use praetor_tests::acl_pair::{self, ROOT};
    let (mut p, s) = acl_pair::start("acl", "127.0.1.43", "127.0.2.43", &json!({}));
    let root1 = p.http().with_token(ROOT);

    // A policy and a global token made in the primary work in the secondary.
    let (_, app) = token_with_rules(&root1, "app", r#"key_prefix "app/" { policy = "write" }"#);
    let app2 = s.http().with_token(&app);
    wait_for("global token replicated to dc2", LONG, || {
        (app2.put("/v1/kv/app/one", b"1").status == 200).then_some(())
    });
    status(
        &app2.put("/v1/kv/other", b"1"),
        403,
        "policy enforced in dc2",
    );
    let repl = s.http().get("/v1/acl/replication").json();
    assert_eq!(repl["Enabled"], true, "{repl}");
    assert_eq!(repl["SourceDatacenter"], "dc1", "{repl}");
    assert_eq!(repl["ReplicationType"], "tokens", "{repl}");

    // A token unknown to dc2 is resolved in dc1 at once; the copy follows by replication.
    let root2 = s.http().with_token(ROOT);
    wait_for("policy replicated to dc2", LONG, || {
        (root2.get("/v1/acl/policy/name/app").status == 200).then_some(())
    });
    // A global token created in the secondary is stored in the primary; a local one is not.
    let g = root2.put_json(
        "/v1/acl/token",
        &json!({"Description": "made in dc2", "Policies": [{"Name": "app"}]}),
    );
    status(&g, 200, "global token via dc2");
    let g = g.json()["AccessorID"].as_str().unwrap().to_string();
    status(
        &root1.get(&format!("/v1/acl/token/{g}")),
        200,
        "global token in dc1",
    );
    let l = root2.put_json(
        "/v1/acl/token",
        &json!({"Description": "local to dc2", "Local": true, "Policies": [{"Name": "app"}]}),
    );
    status(&l, 200, "local token in dc2");
    let l = l.json()["AccessorID"].as_str().unwrap().to_string();
    status(
        &root2.get(&format!("/v1/acl/token/{l}")),
        200,
        "local token readable in dc2",
    );
    status(
        &root1.get(&format!("/v1/acl/token/{l}")),
        403,
        "local token not in dc1",
    );

    // The primary dies: dc2 keeps authorizing from its copy and takes local writes.
    p.kill();
    status(
        &app2.put("/v1/kv/app/two", b"2"),
        200,
        "write in dc2, primary down",
    );
    status(
        &app2.put("/v1/kv/other", b"2"),
        403,
        "still enforced, primary down",
    );
    wait_for("replication reports the primary unreachable", LONG, || {
        let r = s.http().get("/v1/acl/replication").json();
        (!r["LastErrorMessage"].as_str()?.is_empty()).then_some(())
    });

    // Back: replication resumes by itself.
    p.restart();
    let root1 = p.http().with_token(ROOT);
    wait_for("primary serves again", LONG, || {
        (root1.get("/v1/acl/token/self").status == 200).then_some(())
    });
    let (_, later) = token_with_rules(
        &root1,
        "later",
        r#"key_prefix "later/" { policy = "write" }"#,
    );
    let later2 = s.http().with_token(&later);
    wait_for("replication resumed", LONG, || {
        (later2.put("/v1/kv/later/x", b"1").status == 200).then_some(())
    });
}

/// A P-256 key pair made for this test (`openssl ecparam -name prime256v1`).
const JWT_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgsoRq3FixFk0Ee02j
1UCMBzoTrFt5ldOlXUCzAv8JV8ShRANCAATbSp1bD+PvgOXiP6+6SlwjVACSiOUO
bZ3UmV/6cyk3EQJs+KoRk2KONeCcQPuuQs6BUa7p46mfUln2qmbg+U0J
-----END PRIVATE KEY-----";
const JWT_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE20qdWw/j74Dl4j+vukpcI1QAkojl
Dm2d1Jlf+nMpNxECbPiqEZNijjXgnED7rkLOgVGu6eOpn1JZ9qpm4PlNCQ==
-----END PUBLIC KEY-----";

fn jwt(claims: Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_ec_pem(JWT_PRIVATE.as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &key,
    )
    .unwrap()
}

/// A `jwt` auth method with a binding rule: a signed JWT logs in and gets the service
/// identity its claim names; a forged or wrong-issuer JWT is refused; logout deletes the token;
/// other method types are refused with Consul's message.
#[test]
fn jwt_login_binding_rules_and_logout() {
    let s = Agent::start_with(
        "acljwt",
        "127.0.1.44",
        &["-server", "-bootstrap"],
        &acl_options(),
    );
    let anon = s.http();
    let root = anon.with_token(ROOT);
    wait_for("initial management token usable", LONG, || {
        (root.get("/v1/acl/token/self").status == 200).then_some(())
    });
    let r = root.put_json(
        "/v1/acl/auth-method",
        &json!({"Name": "k8s", "Type": "kubernetes", "Config": {}}),
    );
    status(&r, 500, "unsupported type");
    assert!(r.text().contains("Type should be one of"), "{}", r.text());
    status(
        &root.put_json(
            "/v1/acl/auth-method",
            &json!({"Name": "ci", "Type": "jwt", "MaxTokenTTL": "10m", "Config": {
                "JWTValidationPubKeys": [JWT_PUBLIC],
                "JWTSupportedAlgs": ["ES256"],
                "BoundIssuer": "https://ci.example",
                "ClaimMappings": {"svc": "service"},
            }}),
        ),
        200,
        "jwt method",
    );
    status(
        &root.put_json(
            "/v1/acl/binding-rule",
            &json!({"AuthMethod": "ci", "BindType": "service", "BindName": "${value.service}",
                    "Selector": "value.service != \"\""}),
        ),
        200,
        "binding rule",
    );
    let methods = root.get("/v1/acl/auth-methods").json();
    assert_eq!(methods[0]["Name"], "ci", "{methods}");

    let login = |claims: Value| {
        anon.post_json(
            "/v1/acl/login",
            &json!({"AuthMethod": "ci", "BearerToken": jwt(claims)}),
        )
    };
    status(
        &login(json!({"iss": "https://evil.example", "svc": "web"})),
        403,
        "wrong issuer",
    );
    let t = login(json!({"iss": "https://ci.example", "svc": "web"}));
    status(&t, 200, "login");
    let t = t.json();
    assert_eq!(t["AuthMethod"], "ci", "{t}");
    assert_eq!(t["ServiceIdentities"][0]["ServiceName"], "web", "{t}");
    assert_eq!(t["Local"], true);
    assert!(
        t["ExpirationTime"].is_string(),
        "MaxTokenTTL sets an expiry: {t}"
    );
    let web = anon.with_token(t["SecretID"].as_str().unwrap());
    status(
        &web.put_json(
            "/v1/agent/service/register",
            &json!({"Name": "web", "Port": 80}),
        ),
        200,
        "service identity writes web",
    );
    status(
        &web.put_json(
            "/v1/agent/service/register",
            &json!({"Name": "db", "Port": 5432}),
        ),
        403,
        "but not db",
    );
    status(&web.post_json("/v1/acl/logout", &json!({})), 200, "logout");
    status(&web.get("/v1/acl/token/self"), 403, "logged-out token");
    // The management token was not made by a login: logout refuses it.
    status(
        &root.post_json("/v1/acl/logout", &json!({})),
        403,
        "logout of a non-login token",
    );
}
