//! Consul clients work unchanged (issue 11): agents started the way client test harnesses
//! start them, request bodies in any case, `?filter=` and `?node-meta=`, maintenance, events,
//! version reporting, DNS PTR and TXT, and a snapshot restored into a new cluster.

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use praetor_tests::{Agent, Resp, dns, praetor_bin, run_cli, scratch, wait_for};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);

fn ok(r: Resp, what: &str) -> Resp {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    r
}

/// Strips what differs between otherwise equal registrations (IDs, indexes, names).
fn scrub(mut v: Value, drop: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in drop {
            o.remove(*k);
        }
    }
    v
}

/// `-pid-file` beside a data dir that does not exist yet, `-bootstrap`, then clients joining:
/// the first answer naming a leader already sees the leader registered, and a session, an
/// event and a maintenance toggle work right then.
#[test]
fn harness_start_order_and_first_requests() {
    let pid_dir = scratch("compat-pid");
    let pid_file = pid_dir.join("node1").join("pid");
    let s = Agent::start(
        "h1",
        "127.0.1.21",
        &[
            "-server",
            "-bootstrap",
            &format!("-pid-file={}", pid_file.display()),
        ],
    );
    assert!(pid_file.exists(), "pid file written into a new directory");
    let h = s.http();
    let until = Instant::now() + LONG;
    while h.leader().is_none() {
        assert!(Instant::now() < until, "no leader:\n{}", s.logs());
        std::thread::sleep(Duration::from_millis(5));
    }
    // At the first answer naming a leader: node, serfHealth and the consul service are there.
    let checks = ok(h.get("/v1/health/node/h1"), "health/node").json();
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["CheckID"] == "serfHealth" && c["Status"] == "passing"),
        "{checks}"
    );
    let consul = ok(h.get("/v1/catalog/service/consul"), "catalog/service").json();
    assert_eq!(consul[0]["Node"], "h1", "{consul}");
    assert!(!ok(h.get("/v1/health/state/any"), "health/state").json()[0].is_null());

    // A session as a PostgreSQL HA manager creates it (lower-case keys).
    let sess = ok(
        h.put(
            "/v1/session/create",
            br#"{"name": "leader", "ttl": "20s", "behavior": "delete", "lock_delay": "1s"}"#,
        ),
        "session/create",
    )
    .json();
    let id = sess["ID"].as_str().unwrap().to_string();
    let info = ok(h.get(&format!("/v1/session/info/{id}")), "session/info").json();
    assert_eq!(info[0]["TTL"], "20s", "{info}");
    assert_eq!(info[0]["Behavior"], "delete", "{info}");
    assert_eq!(info[0]["LockDelay"], 1_000_000_000u64, "{info}");

    let fired = ok(h.put("/v1/event/fire/deploy", b"v1"), "event/fire").json();
    assert_eq!(fired["Name"], "deploy");
    ok(
        h.put("/v1/agent/maintenance?enable=true&reason=upgrade", b""),
        "maintenance",
    );
    let checks = ok(h.get("/v1/agent/checks"), "agent/checks").json();
    assert_eq!(
        checks["_node_maintenance"]["Status"], "critical",
        "{checks}"
    );
    assert_eq!(checks["_node_maintenance"]["Notes"], "upgrade", "{checks}");
    ok(
        h.put("/v1/agent/maintenance?enable=false", b""),
        "maintenance off",
    );
    let r = h.put("/v1/agent/maintenance", b"");
    assert_eq!(
        (r.status, r.text()),
        (400, "Missing value for enable".into())
    );

    // Clients join; an event fired now reaches them through gossip.
    let c1 = Agent::start("h2", "127.0.1.22", &["-retry-join=127.0.1.21"]);
    let c2 = Agent::start("h3", "127.0.1.23", &["-retry-join=127.0.1.21"]);
    wait_for("three members", LONG, || {
        let m = h.get("/v1/agent/members").json();
        (m.as_array()?.iter().filter(|m| m["Status"] == 1).count() == 3).then_some(())
    });
    let fired = ok(h.put("/v1/event/fire/restart", b""), "event/fire").json();
    let event_id = fired["ID"].as_str().unwrap().to_string();
    for c in [&c1, &c2] {
        wait_for(&format!("{} to list the event", c.name), LONG, || {
            let list = c.http().get("/v1/event/list?name=restart").json();
            list.as_array()?
                .iter()
                .any(|e| e["ID"] == event_id.as_str())
                .then_some(())
        });
    }
    // `praetor event` prints Consul's line.
    let (code, out, err) = c1.cli(&["event", "-name=cli-made", "payload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("Event ID: "), "{out}");

    // Version: the Consul API level where clients read it, praetor's alongside.
    let me = h.get("/v1/agent/self").json();
    assert_eq!(me["Config"]["Version"], "1.21.4", "{me}");
    assert!(me["Config"]["PraetorVersion"].is_string(), "{me}");
    assert_eq!(me["Meta"]["consul-version"], "1.21.4", "{me}");
    let node = h.get("/v1/catalog/node/h1").json();
    assert_eq!(node["Node"]["Meta"]["consul-network-segment"], "", "{node}");
}

/// The same registration in canonical, lower and snake case gives the same stored state;
/// filters select, a malformed filter is a 400; DNS answers PTR and node TXT.
#[test]
fn bodies_in_any_case_filters_and_dns() {
    let s = Agent::start(
        "k1",
        "127.0.1.24",
        &["-server", "-bootstrap", "-node-meta=rack:r1"],
    );
    let h = s.http();
    wait_for("leader", LONG, || h.leader());

    // agent/service/register
    let bodies = [
        json!({"ID": "web-a", "Name": "web", "Port": 80, "Tags": ["a", "b"],
               "Meta": {"v": "1"}, "EnableTagOverride": true,
               "Check": {"TTL": "30s", "DeregisterCriticalServiceAfter": "90m"}}),
        json!({"id": "web-b", "name": "web", "port": 80, "tags": ["a", "b"],
               "meta": {"v": "1"}, "enabletagoverride": true,
               "check": {"ttl": "30s", "deregistercriticalserviceafter": "90m"}}),
        json!({"id": "web-c", "name": "web", "port": 80, "tags": ["a", "b"],
               "meta": {"v": "1"}, "enable_tag_override": true,
               "check": {"ttl": "30s", "deregister_critical_service_after": "90m"}}),
    ];
    for b in &bodies {
        ok(
            h.put("/v1/agent/service/register", b.to_string().as_bytes()),
            &format!("register {b}"),
        );
    }
    let services: Vec<Value> = ["web-a", "web-b", "web-c"]
        .iter()
        .map(|id| {
            let v = ok(h.get(&format!("/v1/agent/service/{id}")), id).json();
            scrub(v, &["ID", "ContentHash"])
        })
        .collect();
    assert_eq!(services[0]["Port"], 80, "{}", services[0]);
    assert_eq!(services[0]["Tags"], json!(["a", "b"]), "{}", services[0]);
    assert_eq!(services[0], services[1]);
    assert_eq!(services[0], services[2]);
    let checks = h.get("/v1/agent/checks").json();
    for id in ["web-a", "web-b", "web-c"] {
        let c = &checks[format!("service:{id}")];
        assert_eq!(c["Type"], "ttl", "{checks}");
    }

    // catalog/register
    let catalog = [
        json!({"Node": "ext-a", "Address": "10.9.0.1", "NodeMeta": {"zone": "z1"},
               "Service": {"Service": "db", "Port": 5432, "Tags": ["primary"]}}),
        json!({"node": "ext-b", "address": "10.9.0.2", "nodemeta": {"zone": "z1"},
               "service": {"service": "db", "port": 5432, "tags": ["primary"]}}),
        json!({"node": "ext-c", "address": "10.9.0.3", "node_meta": {"zone": "z1"},
               "service": {"service": "db", "port": 5432, "tags": ["primary"]}}),
    ];
    for b in &catalog {
        ok(
            h.put("/v1/catalog/register", b.to_string().as_bytes()),
            &format!("catalog/register {b}"),
        );
    }
    let db = ok(h.get("/v1/catalog/service/db"), "catalog/service/db").json();
    let rows: Vec<Value> = db
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            scrub(
                r.clone(),
                &["ID", "Node", "Address", "CreateIndex", "ModifyIndex"],
            )
        })
        .collect();
    assert_eq!(rows.len(), 3, "{db}");
    assert_eq!(rows[0]["ServicePort"], 5432, "{db}");
    assert_eq!(rows[0]["NodeMeta"]["zone"], "z1", "{db}");
    assert!(rows.iter().all(|r| r == &rows[0]), "{db}");

    // agent/check/register and session/create
    let checks = [
        json!({"ID": "ttl-a", "Name": "ttl", "TTL": "30s", "ServiceID": "web-a", "Notes": "n"}),
        json!({"id": "ttl-b", "name": "ttl", "ttl": "30s", "serviceid": "web-a", "notes": "n"}),
        json!({"id": "ttl-c", "name": "ttl", "ttl": "30s", "service_id": "web-a", "notes": "n"}),
    ];
    for b in &checks {
        ok(
            h.put("/v1/agent/check/register", b.to_string().as_bytes()),
            &format!("check/register {b}"),
        );
    }
    let all = h.get("/v1/agent/checks").json();
    let stored: Vec<Value> = ["ttl-a", "ttl-b", "ttl-c"]
        .iter()
        .map(|id| scrub(all[*id].clone(), &["CheckID"]))
        .collect();
    assert_eq!(stored[0]["ServiceID"], "web-a", "{all}");
    assert_eq!(stored[0]["Type"], "ttl", "{all}");
    assert!(stored.iter().all(|c| c == &stored[0]), "{all}");
    let sessions = [
        json!({"Name": "s", "TTL": "20s", "Behavior": "delete", "LockDelay": "2s"}),
        json!({"name": "s", "ttl": "20s", "behavior": "delete", "lockdelay": "2s"}),
        json!({"name": "s", "ttl": "20s", "behavior": "delete", "lock_delay": "2s"}),
    ];
    let stored: Vec<Value> = sessions
        .iter()
        .map(|b| {
            let id = ok(
                h.put("/v1/session/create", b.to_string().as_bytes()),
                "session",
            )
            .json()["ID"]
                .as_str()
                .unwrap()
                .to_string();
            let info = h.get(&format!("/v1/session/info/{id}")).json();
            scrub(info[0].clone(), &["ID", "CreateIndex", "ModifyIndex"])
        })
        .collect();
    assert_eq!(stored[0]["TTL"], "20s", "{}", stored[0]);
    assert_eq!(stored[0]["Behavior"], "delete", "{}", stored[0]);
    assert!(stored.iter().all(|c| c == &stored[0]), "{stored:?}");

    // txn with lower-case ops
    ok(
        h.put(
            "/v1/txn",
            br#"[{"kv": {"verb": "set", "key": "t/x", "value": "eA=="}}]"#,
        ),
        "txn",
    );
    assert_eq!(h.kv_get("t/x", "").as_deref(), Some(&b"x"[..]));

    // ?filter= and ?node-meta=
    let r = ok(
        h.get("/v1/catalog/service/db?filter=Node%20%3D%3D%20%22ext-b%22"),
        "filter",
    )
    .json();
    assert_eq!(r.as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r[0]["Node"], "ext-b");
    let r = ok(
        h.get("/v1/agent/services?filter=%22a%22%20in%20Tags%20and%20Port%20%3D%3D%2080"),
        "agent services filter",
    )
    .json();
    assert_eq!(r.as_object().unwrap().len(), 3, "{r}");
    let r = h.get("/v1/catalog/nodes?filter=Node%20%3D%3D");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .starts_with("Failed to create boolean expression evaluator"),
        "{}",
        r.text()
    );
    let r = h.get("/v1/catalog/nodes?filter=Bogus%20%3D%3D%201");
    assert_eq!(r.status, 400, "{}", r.text());
    let nodes = ok(h.get("/v1/catalog/nodes?node-meta=zone:z1"), "node-meta").json();
    assert_eq!(nodes.as_array().unwrap().len(), 3, "{nodes}");
    let nodes = ok(
        h.get("/v1/catalog/nodes?node-meta=zone:z1&node-meta=rack:r1"),
        "node-meta and",
    )
    .json();
    assert_eq!(nodes.as_array().unwrap().len(), 0, "{nodes}");
    // (The agent's services reach the catalog through anti-entropy: wait for them.)
    let services = wait_for("web in the catalog under k1's meta", LONG, || {
        let v = ok(h.get("/v1/catalog/services?node-meta=rack:r1"), "services").json();
        v.get("web").is_some().then_some(v)
    });
    assert!(services.get("db").is_none(), "{services}");
    assert_eq!(services["web"], json!(["a", "b"]), "{services}");

    // DNS: PTR for a node address, TXT from node meta.
    let ptr = dns(s.dns_addr(), "24.1.0.127.in-addr.arpa.", RecordType::PTR);
    assert_eq!(ptr.metadata.response_code, ResponseCode::NoError, "{ptr:?}");
    let target = match ptr.answers.first().map(|r| &r.data) {
        Some(RData::PTR(p)) => p.to_string(),
        other => panic!("no PTR answer: {other:?}"),
    };
    assert_eq!(target, "k1.node.dc1.consul.");
    let txt = dns(s.dns_addr(), "k1.node.consul.", RecordType::TXT);
    let texts: Vec<String> = txt
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.to_string()),
            _ => None,
        })
        .collect();
    assert!(texts.iter().any(|t| t.contains("rack=r1")), "{texts:?}");
    let none = dns(s.dns_addr(), "9.9.9.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(none.metadata.response_code, ResponseCode::NXDomain);

    // Autopilot: Consul's defaults stored by the leader, check-and-set, health, state.
    let conf = wait_for("autopilot configuration stored", LONG, || {
        let r = h.get("/v1/operator/autopilot/configuration");
        (r.status == 200).then(|| r.json())
    });
    assert_eq!(conf["CleanupDeadServers"], true, "{conf}");
    assert_eq!(conf["LastContactThreshold"], "200ms", "{conf}");
    assert_eq!(conf["MaxTrailingLogs"], 250, "{conf}");
    assert_eq!(conf["ServerStabilizationTime"], "10s", "{conf}");
    let stale = conf["ModifyIndex"].as_u64().unwrap() + 1000;
    let body = br#"{"CleanupDeadServers": false, "MaxTrailingLogs": 300}"#;
    let r = ok(
        h.put(
            &format!("/v1/operator/autopilot/configuration?cas={stale}"),
            body,
        ),
        "cas",
    );
    assert_eq!(r.text(), "false");
    let r = ok(
        h.put(
            &format!(
                "/v1/operator/autopilot/configuration?cas={}",
                conf["ModifyIndex"]
            ),
            body,
        ),
        "cas",
    );
    assert_eq!(r.text(), "true");
    let conf = h.get("/v1/operator/autopilot/configuration").json();
    assert_eq!(conf["CleanupDeadServers"], false, "{conf}");
    assert_eq!(conf["MaxTrailingLogs"], 300, "{conf}");
    assert_eq!(
        conf["LastContactThreshold"], "200ms",
        "omitted fields reset: {conf}"
    );
    let r = h.put("/v1/operator/autopilot/configuration", br#"{"Bogus": 1}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    let health = ok(h.get("/v1/operator/autopilot/health"), "health").json();
    assert_eq!(health["Healthy"], true, "{health}");
    assert_eq!(health["Servers"][0]["Name"], "k1", "{health}");
    assert_eq!(health["Servers"][0]["Leader"], true, "{health}");
    assert_eq!(health["Servers"][0]["SerfStatus"], "alive", "{health}");
    let state = ok(h.get("/v1/operator/autopilot/state"), "state").json();
    assert_eq!(state["Voters"].as_array().unwrap().len(), 1, "{state}");
    let (code, out, err) = s.cli(&["operator", "autopilot", "get-config"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("MaxTrailingLogs = 300"), "{out}");

    // transfer-leader is refused with a reason, not accepted and ignored.
    let r = h
        .try_post("/v1/operator/raft/transfer-leader", b"")
        .unwrap();
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("not supported"), "{}", r.text());

    // Usage: distinct services (consul, web, db), instances, billable ones, nodes.
    let usage = ok(h.get("/v1/operator/usage"), "usage").json();
    let dc1 = &usage["Usage"]["dc1"];
    assert_eq!(dc1["Services"], 3, "{usage}");
    assert_eq!(dc1["ServiceInstances"], 7, "{usage}");
    assert_eq!(dc1["BillableServiceInstances"], 6, "{usage}");
    assert_eq!(dc1["Nodes"], 4, "{usage}");

    // Monitor refuses an unknown level with Consul's text, and `praetor monitor` streams lines.
    let r = h.get("/v1/agent/monitor?loglevel=bogus");
    assert_eq!(
        (r.status, r.text()),
        (400, "Unknown log level: bogus".into())
    );
    let mut monitor = std::process::Command::new(praetor_bin())
        .args(["monitor", "-http-addr=127.0.1.24:8500", "-log-level=info"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("praetor monitor");
    let stdout = monitor.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Toggle maintenance until the stream (subscribed when its request arrives) shows it.
    let until = Instant::now() + LONG;
    let line = loop {
        assert!(Instant::now() < until, "no monitor line:\n{}", s.logs());
        ok(h.put("/v1/agent/maintenance?enable=true", b""), "maint on");
        ok(
            h.put("/v1/agent/maintenance?enable=false", b""),
            "maint off",
        );
        if let Some(l) = rx
            .recv_timeout(Duration::from_millis(200))
            .ok()
            .filter(|l| l.contains("maintenance mode"))
        {
            break l;
        }
    };
    assert!(line.contains(" [INFO]  agent"), "{line}");
    let _ = monitor.kill();
    let _ = monitor.wait();
}

/// `praetor snapshot save` from one cluster, `restore` into a fresh one: every key, service
/// and session is back; a damaged archive is refused and changes nothing.
#[test]
fn snapshot_restores_into_a_new_cluster() {
    let a = Agent::start("p1", "127.0.1.25", &["-server", "-bootstrap"]);
    let ha = a.http();
    wait_for("leader in the first cluster", LONG, || ha.leader());
    for i in 0..50 {
        ok(
            ha.put(&format!("/v1/kv/snap/{i}"), format!("v{i}").as_bytes()),
            "kv",
        );
    }
    ok(
        ha.put(
            "/v1/agent/service/register",
            br#"{"Name": "api", "Port": 9000}"#,
        ),
        "register",
    );
    let sess = ok(
        ha.put("/v1/session/create", br#"{"Name": "keep", "TTL": "60s"}"#),
        "session",
    )
    .json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("service in the catalog", LONG, || {
        let r = ha.get("/v1/catalog/service/api").json();
        (!r.as_array()?.is_empty()).then_some(())
    });

    let dir = scratch("compat-snap");
    let file = dir.join("backup.snap");
    let file_arg = file.display().to_string();
    let (code, out, err) = run_cli(&dir, Some(&a), &["snapshot", "save", &file_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("Saved and verified snapshot to index "),
        "{out}"
    );
    let (code, out, err) = run_cli(&dir, None, &["snapshot", "inspect", &file_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" KVS ") && out.contains(" Total"), "{out}");

    let b = Agent::start("p2", "127.0.1.26", &["-server", "-bootstrap"]);
    let hb = b.http();
    wait_for("leader in the second cluster", LONG, || hb.leader());
    ok(hb.put("/v1/kv/only-in-b", b"x"), "kv in b");

    // A damaged archive is refused before anything changes.
    let mut damaged = std::fs::read(&file).unwrap();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x55;
    let r = hb.put("/v1/snapshot", &damaged);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(hb.kv_get("only-in-b", "").as_deref(), Some(&b"x"[..]));

    let (code, out, err) = run_cli(&dir, Some(&b), &["snapshot", "restore", &file_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "Restored snapshot");
    // Checked first: p1 is not a member of this cluster, so its leader reconciles the restored
    // node away after its reap grace (30 s after it took leadership), as Consul's would.
    let api = ok(hb.get("/v1/catalog/service/api"), "catalog").json();
    assert_eq!(api[0]["ServicePort"], 9000, "{api}");
    let info = ok(hb.get(&format!("/v1/session/info/{sess}")), "session").json();
    assert_eq!(info[0]["Name"], "keep", "{info}");
    for i in 0..50 {
        assert_eq!(
            hb.kv_get(&format!("snap/{i}"), "").as_deref(),
            Some(format!("v{i}").as_bytes()),
            "key snap/{i}"
        );
    }
    assert_eq!(hb.kv_get("only-in-b", ""), None);
}

/// Autopilot's dead-server cleanup: a killed server of three is force-left and leaves the raft
/// configuration; the two others stay voters.
#[test]
fn autopilot_removes_a_dead_server() {
    let join = [
        "-server",
        "-bootstrap-expect=3",
        "-retry-join=127.0.1.27",
        "-retry-join=127.0.1.28",
        "-retry-interval=1s",
    ];
    let mut servers: Vec<Agent> = (7..=9)
        .map(|i| Agent::start(&format!("ap{i}"), &format!("127.0.1.2{i}"), &join))
        .collect();
    let h = servers[0].http();
    wait_for("three raft voters", LONG, || {
        let c = h.get("/v1/operator/raft/configuration").json();
        (c["Servers"].as_array()?.len() == 3).then_some(())
    });
    wait_for("a healthy autopilot", LONG, || {
        let r = h.get("/v1/operator/autopilot/health");
        (r.status == 200 && r.json()["FailureTolerance"] == 1).then_some(())
    });
    servers[2].kill();
    let peers = wait_for("the dead server removed from raft", LONG, || {
        let c = servers[0]
            .http()
            .get("/v1/operator/raft/configuration")
            .json();
        let names: Vec<String> = c["Servers"]
            .as_array()?
            .iter()
            .filter_map(|s| s["Node"].as_str().map(String::from))
            .collect();
        (names.len() == 2).then_some(names)
    });
    assert!(!peers.contains(&"ap9".to_string()), "{peers:?}");
    let members = servers[0].http().get("/v1/agent/members").json();
    let ap9 = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Name"] == "ap9")
        .cloned();
    assert!(
        ap9.is_none_or(|m| m["Status"] == 3),
        "the dead server is left (3) or gone from gossip: {members}"
    );
}
