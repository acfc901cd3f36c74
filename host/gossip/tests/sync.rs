//! Push-pull state sync over real UDP on loopback: a newcomer learns every member and its tags
//! from the sync it does when joining, not from whoever happens to gossip to it.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use praetor_gossip::{MemberStatus, Pool};

/// Fast timings, but tags are not re-sent periodically and push-pull is rare: what a newcomer
/// learns quickly, it learns from the sync it does when joining.
fn quiet_config(name: &str) -> praetor_gossip::PoolConfig {
    let mut cfg = config(name, Some([9; 32]));
    let mut t = fast_timing();
    t.tags_interval = Duration::from_secs(3600);
    t.push_pull_interval = Duration::from_secs(3600);
    cfg.timing = Some(t);
    cfg.tags = BTreeMap::from([
        ("role".to_string(), "consul".to_string()),
        ("id".to_string(), format!("id-{name}")),
    ]);
    cfg
}

/// Waits until the pools only probe each other: their broadcast backlogs are drained, so
/// nothing but a state sync can tell a newcomer about tags. Probing alone (a foca probe and
/// an RTT probe every 200 ms, each answered) is ~20 datagrams/s per pool; gossiping a backlog
/// adds ~60/s.
async fn wait_for_quiet(pools: &[Pool]) {
    let sent = || pools.iter().map(|p| p.stats().packets_out).sum::<u64>();
    let window = Duration::from_millis(500);
    let quiet = 30 * pools.len() as u64 / 2;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let before = sent();
        tokio::time::sleep(window).await;
        if sent() - before <= quiet {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pools never went quiet"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_learns_every_member_and_its_tags_from_the_join_sync() {
    let mut pools = Vec::new();
    for i in 0..12 {
        pools.push(
            Pool::start(quiet_config(&format!("m{i:02}")))
                .await
                .unwrap(),
        );
    }
    let refs: Vec<&Pool> = pools.iter().collect();
    form(&refs).await;
    // Tags spread by broadcast while the pool forms, and with hourly re-sends and push-pulls a
    // broadcast lost then is never repaired (it happened in CI). A second join is a state sync
    // with the seed, which holds every member's tags from their joins.
    for p in &pools[1..] {
        p.join(&[pools[0].local_addr()], WAIT)
            .await
            .expect("join again");
    }
    for p in &pools {
        wait_until(&format!("{} to know all tags", p.name()), || {
            p.members().iter().all(|m| m.tags.contains_key("id"))
        })
        .await;
    }
    wait_for_quiet(&pools).await;

    // Joins through the seed; everything else it must learn from the seed's state.
    let newcomer = Pool::start(quiet_config("newcomer")).await.unwrap();
    newcomer.join(&[pools[0].local_addr()], WAIT).await.unwrap();
    wait_until(
        "the newcomer to know all 13 members with their tags",
        || {
            let members = newcomer.members();
            members.len() == 13
                && members.iter().all(|m| {
                    m.status == MemberStatus::Alive
                        && m.tags.get("id") == Some(&format!("id-{}", m.name))
                })
        },
    )
    .await;
    for p in &pools {
        wait_until(&format!("{} to see the newcomer", p.name()), || {
            p.members()
                .iter()
                .any(|m| m.name == "newcomer" && m.status == MemberStatus::Alive)
        })
        .await;
    }
    newcomer.shutdown().await;
    shutdown_all(&refs).await;
}
