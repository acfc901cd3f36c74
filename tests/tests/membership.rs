//! Raft membership follows gossip: a fourth server that joins becomes a voter, and when it
//! leaves gracefully it is removed from the raft configuration and shown as left. Sessions
//! with a TTL that nobody renews are invalidated by the leader, releasing their locks.

use std::time::{Duration, Instant};

use praetor_tests::{Agent, wait_for};

const JOIN: [&str; 5] = [
    "-server",
    "-bootstrap-expect=3",
    "-retry-join=127.0.1.1",
    "-retry-join=127.0.1.2",
    "-retry-interval=1s",
];

fn voters(a: &Agent) -> Option<usize> {
    let r = a.http().try_get("/v1/operator/raft/configuration").ok()?;
    Some(
        r.json()["Servers"]
            .as_array()?
            .iter()
            .filter(|s| s["Voter"] == true)
            .count(),
    )
}

#[test]
fn servers_join_and_leave_raft_and_sessions_expire() {
    let s: Vec<Agent> = (1..=3)
        .map(|i| Agent::start(&format!("m{i}"), &format!("127.0.1.{i}"), &JOIN))
        .collect();
    wait_for("three voters", Duration::from_secs(60), || {
        (voters(&s[0])? == 3).then_some(())
    });

    // A fourth server (no bootstrap-expect: it joins an existing cluster) becomes a voter.
    let mut m4 = Agent::start(
        "m4",
        "127.0.1.4",
        &["-server", "-retry-join=127.0.1.1", "-retry-interval=1s"],
    );
    wait_for(
        "m4 added as the fourth voter",
        Duration::from_secs(60),
        || (voters(&s[0])? == 4).then_some(()),
    );
    wait_for("m4 serves reads", Duration::from_secs(30), || {
        (m4.http().try_put("/v1/kv/via/m4", b"x").ok()?.text() == "true").then_some(())
    });

    // It leaves gracefully: gossip shows it left and raft drops it.
    assert_eq!(m4.http().put("/v1/agent/leave", b"").status, 200);
    assert!(
        m4.wait_exit(Duration::from_secs(30)).is_some(),
        "agent exits after leave"
    );
    wait_for("m4 removed from raft", Duration::from_secs(60), || {
        (voters(&s[0])? == 3).then_some(())
    });
    wait_for("m4 listed as left", Duration::from_secs(30), || {
        let members = s[1].http().get("/v1/agent/members").json();
        members
            .as_array()?
            .iter()
            .any(|m| m["Name"] == "m4" && m["Status"] == 3)
            .then_some(())
    });
    wait_for(
        "m4 deregistered from the catalog",
        Duration::from_secs(30),
        || (s[0].http().get("/v1/catalog/node/m4").text() == "null").then_some(()),
    );

    // A TTL session that is never renewed is destroyed after 2 x TTL; its lock is released.
    let h = s[2].http();
    let sid = h
        .put("/v1/session/create", br#"{"TTL":"10s","LockDelay":"0s"}"#)
        .json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        h.put(&format!("/v1/kv/ttl-lock?acquire={sid}"), b"held")
            .text(),
        "true"
    );
    let created = Instant::now();
    wait_for("the session expires", Duration::from_secs(40), || {
        let r = h.get(&format!("/v1/session/info/{sid}"));
        r.json().as_array()?.is_empty().then_some(())
    });
    assert!(
        created.elapsed() >= Duration::from_secs(10),
        "expired before its TTL"
    );
    let lock = h.get("/v1/kv/ttl-lock").json();
    assert!(lock[0].get("Session").is_none(), "lock released: {lock}");
}
