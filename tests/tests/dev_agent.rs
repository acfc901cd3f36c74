//! One `-dev` agent on 127.0.5.1: the HTTP API's KV, catalog, health, session and blocking
//! semantics, DNS answers, and that bad input gets a clear error while the agent keeps serving.

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use praetor_tests::{Agent, dns, wait_for};

const IP: &str = "127.0.5.1";

fn dev() -> Agent {
    let a = Agent::start("dev1", IP, &["-dev"]);
    let h = a.http();
    wait_for(
        "dev agent elects itself leader",
        Duration::from_secs(20),
        || h.leader(),
    );
    // Anti-entropy registers the node itself shortly after the leader appears.
    wait_for(
        "dev node registered in the catalog",
        Duration::from_secs(20),
        || {
            let r = h.try_get("/v1/catalog/nodes").ok()?;
            (r.status == 200 && r.json().as_array()?.iter().any(|n| n["Node"] == "dev1"))
                .then_some(())
        },
    );
    a
}

#[test]
fn dev_agent_end_to_end() {
    let a = dev();
    let h = a.http();

    // --- KV: put, get (JSON and raw), flags, CAS, keys with separator, recurse, delete.
    assert_eq!(h.put("/v1/kv/hello", b"world").text(), "true");
    let r = h.get("/v1/kv/hello");
    assert_eq!(r.status, 200);
    assert!(r.index() > 0);
    assert_eq!(r.header("X-Consul-KnownLeader"), Some("true"));
    assert!(r.header("X-Consul-LastContact").is_some());
    let e = &r.json()[0];
    assert_eq!(e["Key"], "hello");
    assert_eq!(e["Value"], "d29ybGQ=");
    let modify = e["ModifyIndex"].as_u64().unwrap();
    assert_eq!(h.get("/v1/kv/hello?raw").body, b"world");
    assert_eq!(
        h.put(&format!("/v1/kv/hello?cas={}", modify + 1000), b"x")
            .text(),
        "false"
    );
    assert_eq!(
        h.put(&format!("/v1/kv/hello?cas={modify}&flags=42"), b"cas")
            .text(),
        "true"
    );
    assert_eq!(h.get("/v1/kv/hello").json()[0]["Flags"], 42);
    assert_eq!(h.put("/v1/kv/hello?cas=0", b"x").text(), "false");
    h.put("/v1/kv/app/a/1", b"1");
    h.put("/v1/kv/app/a/2", b"2");
    h.put("/v1/kv/app/b", b"3");
    assert_eq!(
        h.get("/v1/kv/app/?keys&separator=/").json(),
        serde_json::json!(["app/a/", "app/b"])
    );
    assert_eq!(
        h.get("/v1/kv/app?recurse").json().as_array().unwrap().len(),
        3
    );
    // Percent-encoded keys are decoded.
    h.put("/v1/kv/sp%20ace", b"v");
    assert_eq!(h.get("/v1/kv/sp%20ace?raw").body, b"v");
    assert_eq!(h.delete("/v1/kv/app?recurse").text(), "true");
    assert_eq!(h.get("/v1/kv/app/b").status, 404);
    assert_eq!(h.get("/v1/kv/missing").status, 404);
    // ?stale and ?consistent are served; both at once is a 400.
    assert_eq!(h.get("/v1/kv/hello?stale").status, 200);
    assert_eq!(h.get("/v1/kv/hello?consistent").status, 200);
    let r = h.get("/v1/kv/hello?stale&consistent");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("conflicting"), "{}", r.text());

    // --- Blocking query: held until the key changes, released by a write to it. The key exists
    // first, so its index is its own: the write to another key cannot release it, even if it
    // lands before the query reaches the server (the blocking-queries gauge below also counts
    // the agent's own watches, so it does not prove that this one is held yet).
    h.put("/v1/kv/watched", b"before");
    let idx = h.get("/v1/kv/watched").index();
    let h2 = h.clone();
    let started = Instant::now();
    let waiter =
        std::thread::spawn(move || h2.get(&format!("/v1/kv/watched?index={idx}&wait=20s")));
    // The watcher is held by the server before anything is written.
    wait_for(
        "the watcher is blocked on the server",
        Duration::from_secs(10),
        || {
            let m = h.get("/v1/agent/metrics?format=prometheus").text();
            m.lines()
                .any(|l| l.starts_with("consul_rpc_queries_blocking ") && !l.ends_with(" 0"))
                .then_some(())
        },
    );
    h.put("/v1/kv/unrelated", b"x");
    h.put("/v1/kv/watched", b"now");
    let r = waiter.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()[0]["Value"], "bm93", "released by the write to it"); // base64("now")
    assert!(r.index() > idx);
    assert!(started.elapsed() < Duration::from_secs(15));
    // A blocking query with nothing changing returns at its wait with the same index.
    let idx = h.get("/v1/kv/watched").index();
    let started = Instant::now();
    let r = h.get(&format!("/v1/kv/watched?index={idx}&wait=1s"));
    assert_eq!(r.index(), idx);
    assert!(started.elapsed() >= Duration::from_millis(900));

    // --- ?dc: the local one works, any other is Consul's error.
    assert_eq!(h.get("/v1/kv/hello?dc=dc1").status, 200);
    let r = h.get("/v1/kv/hello?dc=nope");
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "No path to datacenter");

    // --- Agent services with a TTL check; health and DNS follow the check.
    let svc = br#"{"Name":"web","ID":"web1","Port":8080,"Tags":["v1"],"Check":{"TTL":"30s"}}"#;
    assert_eq!(h.put("/v1/agent/service/register", svc).status, 200);
    wait_for(
        "web registered in the catalog",
        Duration::from_secs(10),
        || {
            let r = h.get("/v1/catalog/service/web");
            (r.json().as_array()?.len() == 1).then_some(())
        },
    );
    let q = dns(a.dns_addr(), "web.service.consul.", RecordType::A);
    assert_eq!(
        q.metadata.response_code,
        ResponseCode::NXDomain,
        "critical TTL check must hide the instance"
    );
    h.put("/v1/agent/check/pass/service:web1?note=ok", b"");
    wait_for("web passing in DNS", Duration::from_secs(10), || {
        let q = dns(a.dns_addr(), "web.service.consul.", RecordType::A);
        (q.answers.len() == 1).then_some(())
    });
    let q = dns(a.dns_addr(), "v1.web.service.dc1.consul.", RecordType::SRV);
    assert_eq!(q.answers.len(), 1);
    assert!(!q.additionals.is_empty(), "SRV needs the target's A record");
    let q = dns(a.dns_addr(), "dev1.node.consul.", RecordType::A);
    assert_eq!(q.answers.len(), 1);
    let r = h.get("/v1/health/service/web?passing");
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.json()[0]["Service"]["Port"], 8080);
    h.put("/v1/agent/check/fail/service:web1", b"");
    wait_for(
        "web critical hides it from ?passing",
        Duration::from_secs(10),
        || {
            (h.get("/v1/health/service/web?passing")
                .json()
                .as_array()?
                .is_empty())
            .then_some(())
        },
    );
    assert_eq!(h.put("/v1/agent/check/pass/nope", b"").status, 404);

    // --- HTTP and TCP checks really run: against this agent's own HTTP port, a listener we
    // hold, and a port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.5.1:0").unwrap();
    let open = listener.local_addr().unwrap();
    let checks = format!(
        r#"[{{"Name":"http-ok","HTTP":"http://{IP}:8500/v1/status/leader","Interval":"200ms"}},
            {{"Name":"http-404","HTTP":"http://{IP}:8500/v1/nope","Interval":"200ms"}},
            {{"Name":"tcp-ok","TCP":"{open}","Interval":"200ms"}},
            {{"Name":"tcp-closed","TCP":"127.0.5.1:9","Interval":"200ms","Timeout":"1s"}}]"#
    );
    for c in serde_json::from_str::<Vec<serde_json::Value>>(&checks).unwrap() {
        let r = h.put("/v1/agent/check/register", c.to_string().as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let want = [
        ("http-ok", "passing"),
        ("http-404", "critical"),
        ("tcp-ok", "passing"),
        ("tcp-closed", "critical"),
    ];
    wait_for(
        "HTTP and TCP checks reach their states in the catalog",
        Duration::from_secs(20),
        || {
            let checks = h.get("/v1/health/node/dev1").json();
            let ok = want.iter().all(|(id, status)| {
                checks.as_array().is_some_and(|a| {
                    a.iter()
                        .any(|c| c["CheckID"] == *id && c["Status"] == *status)
                })
            });
            ok.then_some(())
        },
    );
    let out = h.get("/v1/agent/checks").json();
    assert!(
        out["http-ok"]["Output"]
            .as_str()
            .unwrap()
            .contains("200 OK"),
        "{out}"
    );
    assert!(
        out["tcp-ok"]["Output"]
            .as_str()
            .unwrap()
            .contains("Success"),
        "{out}"
    );
    drop(listener);
    assert_eq!(
        h.put("/v1/agent/check/deregister/http-404", b"").status,
        200
    );
    assert_eq!(
        h.put("/v1/agent/check/deregister/http-404", b"").status,
        404
    );

    // --- Sessions and locks.
    let sid = h
        .put("/v1/session/create", br#"{"Name":"s","TTL":"15s"}"#)
        .json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        h.put(&format!("/v1/kv/lock?acquire={sid}"), b"me").text(),
        "true"
    );
    assert_eq!(h.get("/v1/kv/lock").json()[0]["Session"], sid.as_str());
    assert_eq!(h.put(&format!("/v1/session/renew/{sid}"), b"").status, 200);
    assert_eq!(
        h.put(&format!("/v1/session/destroy/{sid}"), b"").text(),
        "true"
    );
    assert!(h.get("/v1/kv/lock").json()[0].get("Session").is_none());
    assert_eq!(
        h.put(
            "/v1/session/renew/00000000-0000-0000-0000-000000000000",
            b""
        )
        .status,
        404
    );

    // --- Transactions.
    let txn =
        br#"[{"KV":{"Verb":"set","Key":"t1","Value":"dg=="}},{"KV":{"Verb":"get","Key":"t1"}}]"#;
    let r = h.put("/v1/txn", txn);
    assert_eq!(r.status, 200, "{}", r.text());
    let bad = br#"[{"KV":{"Verb":"set","Key":"t2","Value":"dg=="}},{"KV":{"Verb":"check-index","Key":"t1","Index":999999}}]"#;
    let r = h.put("/v1/txn", bad);
    assert_eq!(r.status, 409);
    assert_eq!(
        h.get("/v1/kv/t2").status,
        404,
        "a failed transaction changes nothing"
    );

    // --- Status and operator endpoints.
    assert_eq!(
        h.get("/v1/status/peers").json().as_array().unwrap().len(),
        1
    );
    let cfg = h.get("/v1/operator/raft/configuration").json();
    assert_eq!(cfg["Servers"][0]["Leader"], true);
    assert_eq!(
        h.get("/v1/catalog/datacenters").json(),
        serde_json::json!(["dc1"])
    );
    assert_eq!(h.get("/v1/agent/members").json()[0]["Name"], "dev1");
    assert!(
        h.get("/v1/agent/metrics?format=prometheus")
            .text()
            .contains("consul_raft_apply_total")
    );
}

/// SIGINT stops a `-dev` agent at once and cleanly: no task calls into raft after it stopped
/// (openraft logged ERRORs for those).
#[test]
fn an_interrupted_dev_agent_stops_without_errors() {
    let mut a = Agent::start("devstop", "127.0.5.12", &["-dev"]);
    let h = a.http();
    wait_for(
        "dev agent elects itself leader",
        Duration::from_secs(20),
        || h.leader(),
    );
    assert_eq!(h.put("/v1/kv/stop-test", b"v").status, 200);
    a.signal(libc::SIGINT);
    assert_eq!(
        a.wait_exit(Duration::from_secs(20)),
        Some(0),
        "the agent exits 0 on SIGINT"
    );
    let logs = a.logs();
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(
        errors.is_empty(),
        "errors while stopping:\n{}",
        errors.join("\n")
    );
}

#[test]
fn bad_input_gets_errors_and_loses_nothing() {
    let a = Agent::start("dev2", "127.0.5.2", &["-dev"]);
    let h = a.http();
    wait_for("leader", Duration::from_secs(20), || h.leader());
    h.put("/v1/kv/keep", b"safe");
    // The leader registers the `consul` service for each server it reconciles.
    wait_for("consul.service answered", Duration::from_secs(20), || {
        (dns(a.dns_addr(), "consul.service.consul.", RecordType::A)
            .answers
            .len()
            == 1)
            .then_some(())
    });

    let r = h.put("/v1/catalog/register", b"{not json");
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with("Request decode failed"),
        "{}",
        r.text()
    );
    let r = h.put("/v1/agent/service/register", br#"{"Port":"eighty"}"#);
    assert_eq!(r.status, 400);
    let r = h.put("/v1/kv/big", &vec![b'x'; 512 * 1024 + 1]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(h.get("/v1/kv/big").status, 404);
    assert_eq!(h.get("/v1/kv/keep?index=abc").status, 400);
    assert_eq!(h.get("/v1/kv/keep?index=1&wait=forever").status, 400);
    assert_eq!(h.put("/v1/txn", b"[]").status, 200);
    // Invalid keys: not UTF-8 once decoded, or missing.
    assert_eq!(h.put("/v1/kv/%ff%fe", b"x").status, 400);
    let r = h.put("/v1/kv/", b"x");
    assert_eq!((r.status, r.text().as_str()), (400, "Missing key name"));
    assert_eq!(
        h.put(
            "/v1/agent/check/register",
            br#"{"Name":"x","HTTP":"http://a"}"#
        )
        .status,
        400
    );
    assert_eq!(h.put("/v1/session/create", br#"{"TTL":"1s"}"#).status, 400);

    // Random bytes on the DNS and RPC ports are dropped.
    let udp = UdpSocket::bind("127.0.5.2:0").unwrap();
    let mut seed = 0x9e3779b97f4a7c15u64;
    for i in 0..200 {
        let len = (i * 7) % 600 + 1;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = udp.send_to(&junk, "127.0.5.2:8600");
        if i % 20 == 0 {
            if let Ok(mut t) = TcpStream::connect("127.0.5.2:8300") {
                let _ = t.write_all(&junk);
            }
            if let Ok(mut t) = TcpStream::connect("127.0.5.2:8600") {
                let _ = t.write_all(&junk);
            }
        }
    }
    let q = dns(a.dns_addr(), "consul.service.consul.", RecordType::A);
    assert_eq!(q.metadata.response_code, ResponseCode::NoError);
    assert_eq!(q.answers.len(), 1);
    assert_eq!(h.get("/v1/kv/keep?raw").body, b"safe");
    assert_eq!(h.put("/v1/kv/after", b"ok").text(), "true");
}

/// DNS answers are cached, but never across a write: after a catalog write through HTTP returns
/// (applied to this single server's store before the reply), the very next DNS query sees it.
#[test]
fn dns_answers_follow_catalog_writes_at_once() {
    let a = Agent::start("dnscache1", "127.0.5.9", &["-dev"]);
    let h = a.http();
    wait_for(
        "dev agent elects itself leader",
        Duration::from_secs(20),
        || h.leader(),
    );
    let register = |node: &str, ip: &str, id: &str| {
        let body = format!(
            r#"{{"Node":"{node}","Address":"{ip}","Service":{{"Service":"cached","ID":"{id}","Port":80}}}}"#
        );
        let r = h.put("/v1/catalog/register", body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    };
    let a_records = |name: &str| {
        let q = dns(a.dns_addr(), name, RecordType::A);
        let mut ips: Vec<String> = q.answers.iter().map(|r| r.data.to_string()).collect();
        ips.sort();
        (q.metadata.response_code, ips)
    };

    register("cache-n1", "10.9.0.1", "c1");
    for _ in 0..5 {
        assert_eq!(
            a_records("cached.service.consul."),
            (ResponseCode::NoError, vec!["10.9.0.1".to_string()])
        );
    }
    // A negative answer is cached too, and a write ends it.
    assert_eq!(a_records("later.service.consul.").0, ResponseCode::NXDomain);
    assert_eq!(a_records("later.service.consul.").0, ResponseCode::NXDomain);

    register("cache-n2", "10.9.0.2", "c2");
    assert_eq!(
        a_records("cached.service.consul."),
        (
            ResponseCode::NoError,
            vec!["10.9.0.1".to_string(), "10.9.0.2".to_string()]
        ),
        "the DNS answer right after the write must include the new instance"
    );
    let q = dns(a.dns_addr(), "Cached.Service.Consul.", RecordType::SRV);
    assert_eq!(q.answers.len(), 2);
    assert!(
        q.answers
            .iter()
            .all(|r| r.name.to_string() == "Cached.Service.Consul."),
        "answers keep the question's case"
    );

    let body =
        r#"{"Node":"cache-n3","Address":"10.9.0.3","Service":{"Service":"later","Port":81}}"#;
    assert_eq!(h.put("/v1/catalog/register", body.as_bytes()).status, 200);
    assert_eq!(
        a_records("later.service.consul."),
        (ResponseCode::NoError, vec!["10.9.0.3".to_string()])
    );

    let r = h.put(
        "/v1/catalog/deregister",
        br#"{"Node":"cache-n1","ServiceID":"c1"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        a_records("cached.service.consul."),
        (ResponseCode::NoError, vec!["10.9.0.2".to_string()])
    );
}
