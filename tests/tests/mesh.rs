//! The mesh control plane (issue 10) with real processes: two WAN-joined datacenters with ACLs
//! default deny and the seed guide's replication token. Config entries written in the primary
//! replicate to the secondary, intentions written in the secondary land in the primary and
//! come back by replication, decisions go through the `intentions` plugin slot (swapped at
//! run time with no failed request), and bad input is refused with nothing stored.

use std::time::Duration;

use praetor_tests::acl_pair::{self, ROOT};
use praetor_tests::{Http, Resp, plugin_wasm, wait_for};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);
fn status(r: &Resp, want: u16, what: &str) {
    assert_eq!(r.status, want, "{what}: {}", r.text());
}

fn allowed(h: &Http, src: &str, dst: &str) -> Option<bool> {
    let r = h.get(&format!(
        "/v1/connect/intentions/check?source={src}&destination={dst}"
    ));
    (r.status == 200).then(|| r.json()["Allowed"].as_bool().unwrap_or(false))
}

/// The PEM blocks of a bundle, in order.
fn pem_blocks(bundle: &str) -> Vec<String> {
    bundle
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .map(|b| format!("{}\n", b.trim_start()))
        .collect()
}

/// `openssl verify` (a third-party verifier) of `leaf` against `roots` with `untrusted`
/// intermediates; `Ok` with its output, `Err` with its output when it refuses.
fn openssl_verify(dir: &std::path::Path, roots: &str, chain: &[String]) -> Result<String, String> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let roots = write("roots.pem", roots);
    let leaf = write("leaf.pem", &chain[0]);
    let inter = write("inter.pem", &chain[1..].concat());
    let mut cmd = std::process::Command::new("openssl");
    cmd.arg("verify").arg("-CAfile").arg(&roots);
    if chain.len() > 1 {
        cmd.arg("-untrusted").arg(&inter);
    }
    let out = cmd.arg(&leaf).output().expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The URI SANs of a certificate, as openssl prints them.
fn openssl_sans(dir: &std::path::Path, cert: &str) -> String {
    let path = dir.join("sans.pem");
    std::fs::write(&path, cert).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&path)
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn config_entries_and_intentions_across_datacenters() {
    // The seed guide's two datacenters: replication policy and token, default deny.
    let (mut p, s) = acl_pair::start("mesh", "127.0.1.45", "127.0.2.45", &json!({}));
    let root1 = p.http().with_token(ROOT);
    let root2 = s.http().with_token(ROOT);

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

    // `praetor intention create web socat` in dc2 is stored in dc1 and replicated back.
    let (code, out, err) = s.cli(&[
        "intention",
        "create",
        &format!("-token={ROOT}"),
        "web",
        "socat",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "Created: web => socat (allow)");
    let exact = root1.get("/v1/connect/intentions/exact?source=web&destination=socat");
    status(&exact, 200, "intention in dc1");
    let id = exact.json()["ID"].as_str().unwrap().to_string();
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
    // L7 intentions need an HTTP protocol on the destination; decisions at L7 through the
    // slot (praetor's HTTP extension of authorize), L4 decisions on an L7 intention deny.
    let l7 = json!({"Kind": "service-intentions", "Name": "db", "Sources": [{"Name": "web",
        "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/v1/", "Methods": ["GET"]}}]}]});
    status(
        &root1.put_json(
            "/v1/config",
            &json!({"Kind": "service-defaults", "Name": "db", "Protocol": "tcp"}),
        ),
        200,
        "db speaks tcp (proxy-defaults say http)",
    );
    let r = root1.put_json("/v1/config", &l7);
    status(&r, 500, "L7 intention on a tcp service");
    assert_eq!(
        r.text(),
        "service \"db\" has protocol \"tcp\", which is incompatible with L7 intentions permissions"
    );
    status(
        &root1.put_json(
            "/v1/config",
            &json!({"Kind": "service-defaults", "Name": "db", "Protocol": "http"}),
        ),
        200,
        "db speaks http",
    );
    status(&root1.put_json("/v1/config", &l7), 200, "L7 intention");
    let authorize = |http: Value| {
        let mut body = json!({"Target": "db",
            "ClientCertURI": "spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/web"});
        if !http.is_null() {
            body["HTTP"] = http;
        }
        root1.post_json("/v1/agent/connect/authorize", &body).json()
    };
    wait_for("dc1's agent has the L7 intention", LONG, || {
        (authorize(json!({"Method": "GET", "Path": "/v1/kv"}))["Authorized"] == true).then_some(())
    });
    let denied = authorize(json!({"Method": "GET", "Path": "/admin"}));
    assert_eq!(denied["Authorized"], false, "{denied}");
    let l4 = authorize(Value::Null);
    assert_eq!(l4["Authorized"], false, "{l4}");
    assert!(
        l4["Reason"]
            .as_str()
            .unwrap()
            .starts_with("Matched L7 intention: default/web => default/db"),
        "{l4}"
    );
    status(
        &root1.delete("/v1/config/service-intentions/db"),
        200,
        "drop the L7 intention",
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

    // === Mesh registration (the seed guide): socat with a sidecar in dc1, web with an
    // upstream socat in dc1 on port 8181 in dc2 ===
    let socat = root1.put_json(
        "/v1/agent/service/register",
        &json!({"Name": "socat", "Port": 8181, "Connect": {"SidecarService": {}}}),
    );
    status(&socat, 200, "socat with a sidecar");
    let services = root1.get("/v1/agent/services").json();
    let sidecar = &services["socat-sidecar-proxy"];
    assert_eq!(sidecar["Kind"], "connect-proxy", "{services}");
    assert_eq!(sidecar["Port"], 21000, "{services}");
    assert_eq!(sidecar["Proxy"]["DestinationServiceName"], "socat");
    assert_eq!(sidecar["Proxy"]["LocalServicePort"], 8181);
    let web = root2.put_json(
        "/v1/agent/service/register",
        &json!({"Name": "web", "Port": 8080, "Connect": {"SidecarService": {"Proxy": {
            "Upstreams": [{"DestinationName": "socat", "Datacenter": "dc1", "LocalBindPort": 8181}]}}}}),
    );
    status(&web, 200, "web with an upstream in dc1");
    let connect = wait_for("socat's connect set in the catalog", LONG, || {
        let r = root1.get("/v1/health/connect/socat").json();
        r.as_array().is_some_and(|a| a.len() == 1).then_some(r)
    });
    assert_eq!(
        connect[0]["Service"]["ID"], "socat-sidecar-proxy",
        "{connect}"
    );
    let checks: Vec<&str> = connect[0]["Checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["Name"].as_str())
        .collect();
    assert!(checks.contains(&"Connect Sidecar Listening"), "{checks:?}");
    assert!(
        checks.contains(&"Connect Sidecar Aliasing socat"),
        "{checks:?}"
    );
    let web_proxy = wait_for("web's sidecar in dc2's catalog", LONG, || {
        let r = root2.get("/v1/catalog/connect/web").json();
        r.as_array().is_some_and(|a| a.len() == 1).then_some(r)
    });
    let up = &web_proxy[0]["ServiceProxy"]["Upstreams"][0];
    assert_eq!(up["DestinationName"], "socat", "{web_proxy}");
    assert_eq!(up["Datacenter"], "dc1");
    assert_eq!(up["LocalBindPort"], 8181);
    // One view per proxy: web's sidecar in dc2 gets its leaf, the roots, and socat in dc1
    // through the local mesh gateway (proxy-defaults MeshGateway local); registering a gateway
    // wakes a blocked view with the gateway as the endpoint.
    let view = wait_for("web's proxy view", LONG, || {
        let r = root2.get("/v1/agent/connect/proxy/web-sidecar-proxy");
        (r.status == 200).then(|| r.json())
    });
    assert!(
        view["Leaf"]["ServiceURI"]
            .as_str()
            .is_some_and(|u| u.ends_with("/dc/dc2/svc/web")),
        "{view}"
    );
    let up = &view["Upstreams"][0];
    assert_eq!(up["DestinationName"], "socat", "{view}");
    assert_eq!(up["LocalBindPort"], 8181);
    assert_eq!(up["Targets"][0]["Via"], "local-gateway", "{view}");
    assert_eq!(up["Targets"][0]["Endpoints"], json!([]), "no gateway yet");
    let hash = view["ContentHash"].as_str().unwrap().to_string();
    let blocked = {
        let h = root2.clone();
        std::thread::spawn(move || {
            h.get(&format!(
                "/v1/agent/connect/proxy/web-sidecar-proxy?hash={hash}&wait=30s"
            ))
            .json()
        })
    };
    status(
        &root2.put_json(
            "/v1/agent/service/register",
            &json!({"Name": "mesh-gateway", "Kind": "mesh-gateway", "Port": 8443,
                "TaggedAddresses": {"lan": {"Address": "127.0.2.45", "Port": 8443},
                                    "wan": {"Address": "127.0.2.45", "Port": 8443}}}),
        ),
        200,
        "mesh gateway in dc2",
    );
    let woke = blocked.join().unwrap();
    let ep = &woke["Upstreams"][0]["Targets"][0]["Endpoints"];
    assert_eq!(ep[0]["Address"], "127.0.2.45", "{woke}");
    assert_eq!(ep[0]["Port"], 8443, "{woke}");

    // Bad registrations: a proxy without a destination, a token that cannot write the target.
    let bad = root1.put_json(
        "/v1/agent/service/register",
        &json!({"Name": "p", "Kind": "connect-proxy", "Port": 21999}),
    );
    status(&bad, 400, "proxy without a destination");
    assert!(
        bad.text()
            .contains("Proxy.DestinationServiceName must be non-empty for Connect proxy services"),
        "{}",
        bad.text()
    );
    // A prepared query executed with ?connect=true answers the connect set (a Connect-native
    // instance here: the sidecar's listening check is critical, nothing listens on it).
    status(
        &root1.put_json(
            "/v1/agent/service/register",
            &json!({"Name": "socat", "ID": "socat-native", "Port": 9000, "Connect": {"Native": true}}),
        ),
        200,
        "native socat",
    );
    let q = root1.post_json(
        "/v1/query",
        &json!({"Name": "socat-q", "Service": {"Service": "socat"}}),
    );
    status(&q, 200, "prepared query");
    let connect = wait_for("native socat in the catalog", LONG, || {
        let r = root1.get("/v1/query/socat-q/execute?connect=true").json();
        (r["Nodes"].as_array().is_some_and(|n| !n.is_empty())).then_some(r)
    });
    let ids: Vec<&str> = connect["Nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["Service"]["ID"].as_str())
        .collect();
    assert_eq!(ids, ["socat-native"], "{connect}");
    status(
        &root1.put("/v1/agent/service/deregister/socat-native", b""),
        200,
        "deregister native socat",
    );
    // Deregistering the parent removes its sidecar.
    status(
        &root1.put("/v1/agent/service/deregister/socat", b""),
        200,
        "deregister socat",
    );
    let left = root1.get("/v1/agent/services").json();
    assert!(left.get("socat-sidecar-proxy").is_none(), "{left}");

    // === Connect CA ===
    let dir = std::env::temp_dir().join(format!("praetor-mesh-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let roots1 = root1.get("/v1/connect/ca/roots");
    status(&roots1, 200, "dc1 roots");
    let roots1 = roots1.json();
    let td = roots1["TrustDomain"].as_str().unwrap().to_string();
    assert!(td.ends_with(".consul"), "{roots1}");
    // dc2's leader got its intermediate signed by dc1: same active root, same trust domain.
    let roots2 = wait_for("dc2 CA initialized from dc1", LONG, || {
        let r = root2.get("/v1/connect/ca/roots");
        (r.status == 200 && r.json()["ActiveRootID"] == roots1["ActiveRootID"]).then(|| r.json())
    });
    assert_eq!(roots2["TrustDomain"], td.as_str());
    // A leaf for web in dc2: chained to dc1's root through dc2's intermediate.
    let leaf = root2.get("/v1/agent/connect/ca/leaf/web");
    status(&leaf, 200, "leaf in dc2");
    let leaf = leaf.json();
    assert_eq!(
        leaf["ServiceURI"],
        format!("spiffe://{td}/ns/default/dc/dc2/svc/web")
    );
    let chain = pem_blocks(leaf["CertPEM"].as_str().unwrap());
    assert_eq!(chain.len(), 2, "leaf + dc2 intermediate");
    let dc1_root = root1.get("/v1/connect/ca/roots?pem=true").text();
    openssl_verify(&dir, &dc1_root, &chain).expect("dc2 leaf verifies against dc1's root");
    assert!(
        openssl_verify(&dir, &dc1_root, &chain[..1]).is_err(),
        "without dc2's intermediate the leaf does not verify"
    );
    // The discovery chain web's upstream follows: socat in dc1, through the local gateway
    // (proxy-defaults written in dc1, replicated), SNI in the shared trust domain.
    let chain_json = root2.get("/v1/discovery-chain/socat?compile-dc=dc1").json();
    let target = &chain_json["Chain"]["Targets"]["socat.default.default.dc1"];
    assert_eq!(
        target["SNI"],
        format!("socat.default.dc1.internal.{td}"),
        "{chain_json}"
    );
    assert_eq!(target["MeshGateway"]["Mode"], "local", "{chain_json}");
    let sans = openssl_sans(&dir, &chain[0]);
    assert!(
        sans.contains(&format!("URI:spiffe://{td}/ns/default/dc/dc2/svc/web")),
        "{sans}"
    );
    // A token that cannot write the service gets no certificate.
    let denied = reader.get("/v1/agent/connect/ca/leaf/web");
    status(&denied, 403, "leaf without service:write");
    // The CA configuration needs operator:write.
    status(
        &reader.get("/v1/connect/ca/configuration"),
        403,
        "CA config without operator:write",
    );
    let bad = root1.put_json(
        "/v1/connect/ca/configuration",
        &json!({"Provider": "consul", "Config": {"LeafCertTTL": "1m"}}),
    );
    assert_eq!(
        bad.text(),
        "leaf cert TTL must be greater or equal than 1h0m0s"
    );

    // Rotation in dc1: a new root cross-signed by the old one; dc2 follows with a new
    // intermediate; new leaves chain to the new root, the old leaf still verifies while the
    // old root is listed.
    let old_active = roots1["ActiveRootID"].as_str().unwrap().to_string();
    let index = root2.get("/v1/agent/connect/ca/leaf/web").json()["ModifyIndex"]
        .as_u64()
        .unwrap();
    status(
        &root1.put_json(
            "/v1/connect/ca/configuration",
            &json!({"Provider": "consul", "Config": {"PrivateKeyType": "ec", "PrivateKeyBits": 384}}),
        ),
        200,
        "rotate",
    );
    let rotated = root1.get("/v1/connect/ca/roots").json();
    let new_active = rotated["ActiveRootID"].as_str().unwrap().to_string();
    assert_ne!(new_active, old_active);
    assert_eq!(rotated["Roots"].as_array().unwrap().len(), 2, "{rotated}");
    wait_for("dc2 follows the rotation", LONG, || {
        (root2.get("/v1/connect/ca/roots").json()["ActiveRootID"] == new_active.as_str())
            .then_some(())
    });
    // The blocking leaf request returns the re-issued certificate.
    let renewed = root2
        .get(&format!(
            "/v1/agent/connect/ca/leaf/web?index={index}&wait=30s"
        ))
        .json();
    assert!(
        renewed["ModifyIndex"].as_u64().unwrap() > index,
        "{renewed}"
    );
    let new_chain = pem_blocks(renewed["CertPEM"].as_str().unwrap());
    let all_roots = root1.get("/v1/connect/ca/roots?pem=true").text();
    openssl_verify(&dir, &all_roots, &new_chain).expect("new leaf verifies");
    openssl_verify(&dir, &all_roots, &chain).expect("old leaf still trusted");

    // The primary down: dc2 still issues leaves with its intermediate.
    p.kill();
    let api = root2.get("/v1/agent/connect/ca/leaf/api");
    status(&api, 200, "leaf in dc2 with dc1 down");
    let api_chain = pem_blocks(api.json()["CertPEM"].as_str().unwrap());
    openssl_verify(&dir, &all_roots, &api_chain).expect("leaf issued while dc1 is down");
    let _ = std::fs::remove_dir_all(&dir);
}
