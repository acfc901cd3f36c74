//! Three raft servers in one process over real gRPC on loopback, with durable logs: election,
//! replication, a leader crash, snapshot + restart from disk.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use praetor_consensus::{Consensus, ConsensusConfig, RaftNode, Snapshots};
use praetor_state::{
    Command, CommandResult, KvEntry, KvOp, Query, QueryResult, SharedStore, Store,
};
use tokio::task::JoinHandle;

struct Server {
    consensus: Consensus,
    server: JoinHandle<()>,
    addr: SocketAddr,
    dir: PathBuf,
    id: u64,
}

async fn start(id: u64, addr: SocketAddr, dir: PathBuf) -> Server {
    start_with(id, addr, dir, Snapshots::ONLY_WHEN_ASKED).await
}

async fn start_with(id: u64, addr: SocketAddr, dir: PathBuf, snapshots: Snapshots) -> Server {
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let cfg = ConsensusConfig {
        node_id: id,
        node: RaftNode {
            name: format!("s{id}"),
            rpc_addr: addr.to_string(),
        },
        dir: Some(dir.clone()),
        raft_multiplier: 1,
        snapshots,
        dialer: None,
    };
    let consensus = Consensus::start(cfg, Arc::new(SharedStore::new(Store::new())))
        .await
        .expect("start raft");
    let svc = consensus.service().into_server();
    let server = tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let _ = tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(incoming)
            .await;
    });
    Server {
        consensus,
        server,
        addr,
        dir,
        id,
    }
}

async fn stop(s: Server) -> (u64, SocketAddr, PathBuf) {
    s.consensus.shutdown().await;
    s.server.abort();
    let _ = s.server.await;
    (s.id, s.addr, s.dir)
}

async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn put(key: &str, value: &str) -> Command {
    let entry = KvEntry {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        ..Default::default()
    };
    Command::KvSet {
        op: KvOp::Set,
        entry,
        cas_index: 0,
        now_ms: 0,
    }
}

fn get(s: &Server, key: &str) -> Option<Vec<u8>> {
    match s
        .consensus
        .store()
        .query(&Query::KvGet { key: key.into() })
        .result
    {
        QueryResult::Kv(Some(e)) => Some(e.value),
        _ => None,
    }
}

fn leader(servers: &[Server]) -> Option<usize> {
    servers.iter().position(|s| s.consensus.is_leader())
}

/// Three fresh servers on 127.0.6.(first+1..=first+3) with dirs under `base`, one of them
/// bootstrapping the cluster; returns them and the leader's position.
async fn start_three(base: &Path, first: u8) -> (Vec<Server>, usize) {
    let _ = std::fs::remove_dir_all(base);
    let mut servers = Vec::new();
    for id in 1..=3u64 {
        let addr: SocketAddr = format!("127.0.6.{}:0", u64::from(first) + id)
            .parse()
            .unwrap();
        servers.push(start(id, addr, base.join(format!("s{id}"))).await);
    }
    let members: BTreeMap<u64, RaftNode> = servers
        .iter()
        .map(|s| {
            (
                s.id,
                RaftNode {
                    name: format!("s{}", s.id),
                    rpc_addr: s.addr.to_string(),
                },
            )
        })
        .collect();
    servers[0]
        .consensus
        .initialize(members)
        .await
        .expect("initialize");
    let l = wait_for("a leader", || leader(&servers)).await;
    (servers, l)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_replicate_survive_a_crash_and_restart_from_disk() {
    let base = std::env::temp_dir().join(format!("praetor-consensus-{}", std::process::id()));
    let (mut servers, l) = start_three(&base, 0).await;
    assert_eq!(
        servers[l]
            .consensus
            .peers()
            .iter()
            .filter(|p| p.voter)
            .count(),
        3
    );

    // Writes on the leader are applied everywhere.
    for i in 0..50 {
        let r = servers[l]
            .consensus
            .write(put(&format!("k{i}"), &format!("v{i}")))
            .await
            .expect("write");
        assert_eq!(r, CommandResult::Bool(true));
    }
    wait_for("k49 on every server", || {
        servers
            .iter()
            .all(|s| get(s, "k49").is_some())
            .then_some(())
    })
    .await;
    // A follower refuses writes and names the leader.
    let f = (l + 1) % 3;
    match servers[f].consensus.write(put("x", "y")).await {
        Err(praetor_consensus::ConsensusError::ForwardToLeader(Some((id, _)))) => {
            assert_eq!(id, servers[l].id)
        }
        other => panic!("follower accepted a write: {other:?}"),
    }

    // Snapshot on every server, then more writes that only live in the log.
    for s in &servers {
        s.consensus.snapshot().await.expect("snapshot");
    }
    wait_for("snapshot files", || {
        servers
            .iter()
            .all(|s| s.dir.join("snapshot.bin").exists())
            .then_some(())
    })
    .await;
    for i in 50..60 {
        servers[l]
            .consensus
            .write(put(&format!("k{i}"), "late"))
            .await
            .expect("write");
    }

    // Crash the leader: the other two elect a new one and keep every write.
    let old = servers.remove(l);
    let (id, addr, dir) = stop(old).await;
    let l2 = wait_for("a new leader", || leader(&servers)).await;
    servers[l2]
        .consensus
        .write(put("after-crash", "1"))
        .await
        .expect("write after crash");
    for s in &servers {
        wait_for("k59 kept", || get(s, "k59")).await;
    }

    // The old leader restarts from its data dir (snapshot + log) and catches up.
    let back = start(id, addr, dir).await;
    wait_for("restarted server has its old data", || get(&back, "k10")).await;
    wait_for("restarted server catches up", || get(&back, "after-crash")).await;
    assert_eq!(get(&back, "k55").as_deref(), Some(&b"late"[..]));
    servers.push(back);

    // Everybody stops; all restart from disk with every key.
    let mut saved = Vec::new();
    for s in servers.drain(..) {
        saved.push(stop(s).await);
    }
    for (id, addr, dir) in saved {
        servers.push(start(id, addr, dir).await);
    }
    wait_for("a leader after full restart", || leader(&servers)).await;
    for s in &servers {
        for k in ["k0", "k49", "k59", "after-crash"] {
            wait_for("key survives full restart", || get(s, k)).await;
        }
    }
    let l3 = leader(&servers).unwrap();
    servers[l3]
        .consensus
        .write(put("final", "ok"))
        .await
        .expect("write after restart");
    for s in servers {
        stop(s).await;
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// Writes that arrive together go as one raft entry, each with its own result: 200 concurrent
/// writes (a CAS among them refused) take far fewer than 200 log indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_batched_into_fewer_entries_with_their_own_results() {
    let base = std::env::temp_dir().join(format!("praetor-consensus-batch-{}", std::process::id()));
    let (mut servers, l) = start_three(&base, 10).await;
    servers[l]
        .consensus
        .write(put("warm", "1"))
        .await
        .expect("first write");
    // Until both followers have answered once, the leader does not know they read batches.
    wait_for("the followers to have said they read batches", || {
        servers[l].consensus.batches_enabled().then_some(())
    })
    .await;
    let before = servers[l].consensus.applied_index();
    let leader = servers[l].consensus.clone();
    let mut writes = Vec::new();
    for i in 0..200 {
        let c = leader.clone();
        let cmd = if i == 7 {
            // A CAS against an index "warm" does not have: refused, alone.
            Command::KvSet {
                op: KvOp::Cas,
                entry: KvEntry {
                    key: "warm".into(),
                    value: b"lost".to_vec(),
                    ..Default::default()
                },
                cas_index: 1,
                now_ms: 0,
            }
        } else {
            put(&format!("b{i}"), &i.to_string())
        };
        writes.push(tokio::spawn(async move { c.write(cmd).await }));
    }
    for (i, w) in writes.into_iter().enumerate() {
        let r = w.await.expect("task").expect("write");
        let want = CommandResult::Bool(i != 7);
        assert_eq!(r, want, "write {i}");
    }
    let entries = servers[l].consensus.applied_index() - before;
    assert!(
        entries < 100,
        "200 concurrent writes took {entries} raft entries: not batched"
    );
    for s in &servers {
        wait_for("every write on every server", || get(s, "b199")).await;
        assert_eq!(get(s, "b42").as_deref(), Some(&b"42"[..]));
        assert_eq!(get(s, "warm").as_deref(), Some(&b"1"[..]));
    }

    // The log holding batches is stamped version 2 (a version-1 build refuses it), and every
    // server restarts from it with every write.
    let mut saved = Vec::new();
    for s in servers.drain(..) {
        saved.push(stop(s).await);
    }
    for (_, _, dir) in &saved {
        assert_eq!(
            praetor_consensus::stored_log_format(dir).expect("log format"),
            praetor_state::format::BATCH_FORMAT
        );
    }
    for (id, addr, dir) in saved {
        servers.push(start(id, addr, dir).await);
    }
    for s in &servers {
        wait_for("batched writes survive a restart", || get(s, "b199")).await;
        assert_eq!(get(s, "b0").as_deref(), Some(&b"0"[..]));
    }
    for s in servers {
        stop(s).await;
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// Snapshots follow Consul's cadence, not a request: once at least the threshold of entries
/// were applied since the last snapshot, a check (every interval plus up to as much again)
/// writes one without anyone asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_taken_at_the_first_check_past_the_threshold() {
    let base =
        std::env::temp_dir().join(format!("praetor-consensus-cadence-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let snapshots = Snapshots {
        threshold: 40,
        interval: Duration::from_millis(100),
        trailing_logs: 5,
    };
    let addr: SocketAddr = "127.0.6.21:0".parse().unwrap();
    let s = start_with(1, addr, base.join("s1"), snapshots).await;
    let me = RaftNode {
        name: "s1".into(),
        rpc_addr: s.addr.to_string(),
    };
    s.consensus
        .initialize(BTreeMap::from([(1, me)]))
        .await
        .expect("initialize");
    wait_for("a leader", || s.consensus.is_leader().then_some(())).await;
    for i in 0..50 {
        s.consensus
            .write(put(&format!("k{i}"), "v"))
            .await
            .expect("write");
    }
    let snapshot = s.dir.join("snapshot.bin");
    wait_for("a snapshot past the threshold", || {
        snapshot.exists().then_some(())
    })
    .await;
    stop(s).await;
    let _ = std::fs::remove_dir_all(&base);
}
