//! `-bootstrap-expect` never forms a second cluster: three servers (127.0.1.51-53) form one;
//! the lowest-named server (127.0.1.50) starts late with the same flags, finds raft state on
//! the others, does not bootstrap, and is added to the existing cluster by its leader.
//! (A full restart of a bootstrapped cluster with the flag still set is in `cluster.rs`.)
//! A server whose `-retry-join` names only itself (127.0.1.60) is done joining at once.

use std::time::Duration;

use praetor_tests::{Agent, wait_for};

const LONG: Duration = Duration::from_secs(60);
const FLAGS: [&str; 5] = [
    "-server",
    "-bootstrap-expect=3",
    "-retry-join=127.0.1.51",
    "-retry-join=127.0.1.52",
    "-retry-interval=1s",
];

#[test]
fn a_late_lowest_named_server_joins_instead_of_bootstrapping() {
    let late_later: Vec<Agent> = (2..=4)
        .map(|i| Agent::start(&format!("b{i}"), &format!("127.0.1.5{}", i - 1), &FLAGS))
        .collect();
    let leader = wait_for("three servers agree on a leader", LONG, || {
        let leaders: Vec<String> = late_later
            .iter()
            .map(|s| s.http().leader())
            .collect::<Option<_>>()?;
        leaders
            .windows(2)
            .all(|w| w[0] == w[1])
            .then(|| leaders[0].clone())
    });
    let h = late_later[0].http();
    assert_eq!(h.put("/v1/kv/formed-before", b"yes").status, 200);

    let b1 = Agent::start("b1", "127.0.1.50", &FLAGS);
    let voters = wait_for("b1 added to the existing cluster as a voter", LONG, || {
        let cfg = h.get("/v1/operator/raft/configuration");
        if cfg.status != 200 {
            return None;
        }
        let servers = cfg.json()["Servers"].as_array()?.clone();
        let b1_voter = servers
            .iter()
            .any(|s| s["Node"] == "b1" && s["Voter"] == true);
        (servers.len() == 4 && b1_voter).then_some(servers)
    });
    assert_eq!(voters.len(), 4, "{voters:?}");
    // b1 follows the same leader and has the cluster's data: it never started one of its own.
    wait_for("b1 sees the same leader", LONG, || {
        (b1.http().leader().as_deref() == Some(leader.as_str())).then_some(())
    });
    let value = wait_for("b1 has the key written before it started", LONG, || {
        b1.http().kv_get("formed-before", "&stale")
    });
    assert_eq!(value, b"yes");
    let logs = b1.logs();
    assert!(
        !logs.contains("bootstrapping raft"),
        "b1 bootstrapped a cluster of its own:\n{logs}"
    );
    assert!(
        logs.contains("not bootstrapping"),
        "b1 did not report why it skipped bootstrap:\n{logs}"
    );
}

/// `-retry-join` naming only the agent's own address is done at once, as in Consul (which
/// joins itself and stops): no "will retry" warning every `retry_interval` for the agent's life.
#[test]
fn retry_join_naming_only_its_own_address_completes() {
    let solo = Agent::start(
        "solo",
        "127.0.1.60",
        &[
            "-server",
            "-bootstrap-expect=1",
            "-retry-join=127.0.1.60",
            "-retry-interval=1s",
        ],
    );
    let logs = wait_for("the join loop to finish", LONG, || {
        let logs = solo.logs();
        logs.contains("Join cluster completed").then_some(logs)
    });
    assert!(!logs.contains("will retry"), "{logs}");
}
