//! Helpers shared by the integration tests: fast timings, loopback pools, waiting on conditions.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use praetor_gossip::{MemberEvent, MemberStatus, Pool, PoolConfig, Profile, RttSample, Timing};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Generous bound for conditions that normally hold within a second.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub fn fast_timing() -> Timing {
    Timing {
        probe_period: Duration::from_millis(200),
        probe_rtt: Duration::from_millis(80),
        suspicion_mult: 3,
        gossip_interval: Duration::from_millis(50),
        gossip_nodes: NonZeroUsize::new(3).unwrap(),
        tags_interval: Duration::from_millis(500),
        rejoin_interval: Duration::from_millis(300),
        seed_announce_interval: Duration::from_secs(2),
        push_pull_interval: Duration::from_secs(2),
        reconnect_interval: Duration::from_secs(1),
    }
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A LAN config on loopback with fast timings and the given key.
pub fn config(name: &str, key: Option<[u8; 32]>) -> PoolConfig {
    init_tracing();
    let mut cfg = PoolConfig::new(name, loopback(), Profile::Lan);
    cfg.timing = Some(fast_timing());
    cfg.encrypt_key = key;
    cfg.tags = BTreeMap::from([("role".to_string(), "node".to_string())]);
    cfg
}

pub async fn start(name: &str, key: Option<[u8; 32]>) -> Pool {
    Pool::start(config(name, key)).await.expect("pool starts")
}

pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Exactly `names`, all alive.
pub fn sees_alive(pool: &Pool, names: &[&str]) -> bool {
    let members = pool.members();
    members.len() == names.len()
        && names.iter().all(|n| {
            members
                .iter()
                .any(|m| m.name == *n && m.status == MemberStatus::Alive)
        })
}

/// Joins every pool to the first one and waits until all see all alive.
pub async fn form(pools: &[&Pool]) {
    let seed = [pools[0].local_addr()];
    for p in &pools[1..] {
        p.join(&seed, WAIT).await.expect("join");
    }
    let names: Vec<&str> = pools.iter().map(|p| p.name()).collect();
    for p in pools {
        wait_until(&format!("{} to see {names:?} alive", p.name()), || {
            sees_alive(p, &names)
        })
        .await;
    }
}

pub fn drain(rx: &mut broadcast::Receiver<MemberEvent>) -> Vec<MemberEvent> {
    let mut out = Vec::new();
    while let Ok(event) = rx.try_recv() {
        out.push(event);
    }
    out
}

pub async fn shutdown_all(pools: &[&Pool]) {
    for p in pools {
        p.shutdown().await;
    }
}

/// A fresh directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "praetor-gossip-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits for a sample about `peer` and returns it.
pub async fn sample_from(rx: &mut broadcast::Receiver<RttSample>, peer: &str) -> RttSample {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(s) if s.name == peer => return s,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("rtt channel closed"),
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("no RTT sample about {peer} within {WAIT:?}"))
}
