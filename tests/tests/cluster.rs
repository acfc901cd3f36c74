//! Three servers on 127.0.1.1-3 form a cluster through `-retry-join` and `-bootstrap-expect`,
//! serve reads and writes from any server, survive a SIGKILL of the leader without losing an
//! acknowledged write, and keep every key across a restart of all three from their data dirs.
//! A client agent on 127.0.1.10 registers a service whose TTL check decides what DNS returns.

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use praetor_tests::{Agent, agreed_leader, dns, wait_for};

const JOIN: [&str; 5] = [
    "-server",
    "-bootstrap-expect=3",
    "-retry-join=127.0.1.1",
    "-retry-join=127.0.1.2",
    "-retry-interval=1s",
];

fn servers() -> Vec<Agent> {
    (1..=3)
        .map(|i| Agent::start(&format!("s{i}"), &format!("127.0.1.{i}"), &JOIN))
        .collect()
}

#[test]
fn three_servers_a_client_a_leader_crash_and_a_full_restart() {
    let mut s = servers();
    let l = agreed_leader(&s, None);
    let peers = s[0].http().get("/v1/status/peers").json();
    assert_eq!(peers.as_array().unwrap().len(), 3, "{peers}");

    // Writes through every server are readable from every server (default and ?consistent).
    for (i, srv) in s.iter().enumerate() {
        assert_eq!(
            srv.http()
                .put(&format!("/v1/kv/from/{i}"), format!("v{i}").as_bytes())
                .text(),
            "true"
        );
    }
    for srv in &s {
        for i in 0..3 {
            assert_eq!(
                srv.http().kv_get(&format!("from/{i}"), "").unwrap(),
                format!("v{i}").as_bytes()
            );
            assert_eq!(
                srv.http()
                    .kv_get(&format!("from/{i}"), "&consistent")
                    .unwrap(),
                format!("v{i}").as_bytes()
            );
        }
    }
    let members = s[1].http().get("/v1/agent/members").json();
    assert_eq!(members.as_array().unwrap().len(), 3);

    // A client agent joins, registers a service with a TTL check, and DNS follows the check.
    let c = Agent::start(
        "c1",
        "127.0.1.10",
        &["-retry-join=127.0.1.2", "-retry-interval=1s"],
    );
    let ch = c.http();
    wait_for("client sees the servers", Duration::from_secs(30), || {
        let r = ch.try_get("/v1/agent/members").ok()?;
        (r.json().as_array()?.len() == 4).then_some(())
    });
    wait_for(
        "client can write through a server",
        Duration::from_secs(30),
        || (ch.try_put("/v1/kv/from/client", b"c").ok()?.text() == "true").then_some(()),
    );
    // Unknown datacenters: a server answers Consul's error, a client agent wraps what its
    // server said, DNS answers NXDOMAIN.
    let r = s[0].http().get("/v1/kv/from/0?dc=nope");
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "No path to datacenter")
    );
    let r = ch.get("/v1/kv/from/0?dc=nope");
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "rpc error making call: No path to datacenter")
    );
    let q = dns(c.dns_addr(), "consul.service.nope.consul.", RecordType::A);
    assert_eq!(q.metadata.response_code, ResponseCode::NXDomain);
    let svc = br#"{"Name":"web","ID":"web1","Port":80,"Check":{"CheckID":"web-ttl","Name":"web ttl","TTL":"60s"}}"#;
    assert_eq!(ch.put("/v1/agent/service/register", svc).status, 200);
    wait_for("web in the catalog", Duration::from_secs(30), || {
        (s[0]
            .http()
            .get("/v1/catalog/service/web")
            .json()
            .as_array()?
            .len()
            == 1)
            .then_some(())
    });
    let q = dns(c.dns_addr(), "web.service.consul.", RecordType::A);
    assert_eq!(
        q.metadata.response_code,
        ResponseCode::NXDomain,
        "a critical check hides the service"
    );
    ch.put("/v1/agent/check/pass/web-ttl", b"");
    wait_for(
        "web answered by DNS while passing",
        Duration::from_secs(30),
        || {
            let q = dns(c.dns_addr(), "web.service.consul.", RecordType::A);
            (q.answers.len() == 1).then_some(())
        },
    );
    ch.put("/v1/agent/check/fail/web-ttl", b"");
    wait_for(
        "web hidden again once failing",
        Duration::from_secs(30),
        || {
            let q = dns(c.dns_addr(), "web.service.consul.", RecordType::A);
            (q.metadata.response_code == ResponseCode::NXDomain).then_some(())
        },
    );
    // The catalog knows the client node with a passing serfHealth (written by the leader
    // when it sees the member join).
    wait_for("c1's serfHealth passing", Duration::from_secs(30), || {
        let checks = s[0].http().get("/v1/health/node/c1").json();
        checks
            .as_array()?
            .iter()
            .any(|c| c["CheckID"] == "serfHealth" && c["Status"] == "passing")
            .then_some(())
    });
    drop(c);

    // SIGKILL the leader: the others elect a new one; no acknowledged write is lost.
    s[l].kill();
    let l2 = agreed_leader(&s, Some(l));
    assert_ne!(l2, l);
    assert_eq!(s[l2].http().put("/v1/kv/after/crash", b"1").text(), "true");
    for (i, srv) in s.iter().enumerate() {
        if i != l {
            for k in ["from/0", "from/1", "from/2", "from/client", "after/crash"] {
                assert!(srv.http().kv_get(k, "").is_some(), "{k} lost on s{}", i + 1);
            }
        }
    }
    // The failed leader is reported failed by gossip and critical in the catalog.
    let dead = s[l].name.clone();
    wait_for(
        "serfHealth of the killed server goes critical",
        Duration::from_secs(60),
        || {
            let checks = s[l2].http().get(&format!("/v1/health/node/{dead}")).json();
            checks
                .as_array()?
                .iter()
                .any(|c| c["CheckID"] == "serfHealth" && c["Status"] == "critical")
                .then_some(())
        },
    );

    // It comes back from its data dir and catches up.
    s[l].restart();
    wait_for(
        "restarted server catches up",
        Duration::from_secs(60),
        || s[l].http().kv_get("after/crash", "&stale"),
    );

    // All three restart from their data dirs and keep every key.
    for srv in s.iter_mut() {
        srv.kill();
    }
    for srv in s.iter_mut() {
        srv.restart();
    }
    agreed_leader(&s, None);
    for srv in &s {
        for k in ["from/0", "from/1", "from/2", "from/client", "after/crash"] {
            wait_for(
                "key kept across a full restart",
                Duration::from_secs(30),
                || srv.http().kv_get(k, ""),
            );
        }
    }
}
