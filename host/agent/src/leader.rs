//! Server duties: bootstrapping raft (`-bootstrap`, `-bootstrap-expect`, `-dev`), and, while
//! this server leads, reconciling gossip into the catalog (`serfHealth`, the `consul`
//! service), raft membership into gossip, and expiring sessions whose TTL ran out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use praetor_consensus::{Consensus, RaftNode};
use praetor_gossip::{Member, MemberStatus};
use praetor_rpc::now_ms;
use praetor_state::{CheckStatus, Command, HealthCheck, Node, Query, QueryResult, Service};

use crate::local::SERF_HEALTH;
use crate::{Shared, is_local_server, raft_id};

/// A task a leader runs while it leads (a secondary's replicators and watchers): started once,
/// started again if it ended, aborted when dropped with the leadership.
#[derive(Default)]
pub(crate) struct LeaderTask(Option<tokio::task::JoinHandle<()>>);

impl LeaderTask {
    /// Starts `task` unless it is running.
    pub(crate) fn ensure<F>(&mut self, task: impl FnOnce() -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if self.0.as_ref().is_none_or(|t| t.is_finished()) {
            self.0 = Some(tokio::spawn(task()));
        }
    }
}

impl Drop for LeaderTask {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.abort();
        }
    }
}

/// How often the leader reconciles even without gossip events.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);
/// Nodes unknown to gossip are reaped only once gossip has had time to learn the cluster.
const REAP_GRACE: Duration = Duration::from_secs(30);

pub async fn run(shared: Arc<Shared>, consensus: Consensus) {
    let mut events = shared.lan.subscribe();
    let mut stop = shared.shutdown.subscribe();
    let mut leader_since: Option<Instant> = None;
    let mut tombstones = TombstoneGc::default();
    let mut autopilot = crate::autopilot::Cleanup::default();
    let mut acl = crate::acl::AclLeader::default();
    let mut config_replication = crate::replication::ConfigReplicator::default();
    let mut ca = crate::ca::CaLeader::default();
    let mut leadership = consensus.leadership();
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = bootstrap(&shared, &consensus).await {
            tracing::warn!(error = %e, "raft bootstrap failed");
        }
        if consensus.is_leader() {
            let since = *leader_since.get_or_insert_with(|| {
                tracing::info!("cluster leadership acquired");
                // Consul resets every session TTL timer when leadership changes hands.
                shared.rpc.sessions().clear();
                Instant::now()
            });
            if let Err(e) = reconcile(&shared, &consensus, since.elapsed()).await {
                tracing::warn!(error = %e, "leader reconcile failed");
            }
            if let Err(e) = autopilot.run(&shared, &consensus).await {
                tracing::warn!(error = %e, "autopilot dead-server cleanup failed");
            }
            if let Err(e) = acl.run(&shared, &consensus).await {
                tracing::warn!(error = %e, "ACL leader duties failed");
            }
            config_replication.run(&shared, &consensus);
            if let Err(e) = ca.run(&shared, &consensus).await {
                tracing::warn!(error = %e, "CA leader duties failed");
            }
            if let Some(up_to_index) = tombstones.due(Instant::now(), consensus.applied_index())
                && let Err(e) = write(&consensus, Command::TombstoneReap { up_to_index }).await
            {
                tracing::warn!(error = %e, "tombstone reap failed");
            }
        } else if leader_since.take().is_some() {
            tombstones = TombstoneGc::default();
            autopilot = crate::autopilot::Cleanup::default();
            acl = crate::acl::AclLeader::default();
            config_replication = crate::replication::ConfigReplicator::default();
            ca = crate::ca::CaLeader::default();
            tracing::info!("cluster leadership lost");
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONCILE_INTERVAL) => {}
            _ = events.recv() => {}
            // A new leader registers itself (and every member) at once, not a tick later:
            // clients that see a leader expect its node, `serfHealth` and `consul` service.
            _ = leadership.changed() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Consul's `tombstone_ttl`: KV tombstones are kept this long, so blocking queries on deleted
/// keys see their index move, then reaped by the leader.
const TOMBSTONE_TTL: Duration = Duration::from_secs(15 * 60);
/// How often the leader samples the applied index for tombstone reaping.
const TOMBSTONE_SAMPLE: Duration = Duration::from_secs(60);

/// Remembers (time, applied index) samples; a sample older than the TTL says which tombstones
/// may go (every tombstone up to that index is at least that old).
#[derive(Default)]
struct TombstoneGc {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl TombstoneGc {
    fn due(&mut self, now: Instant, applied: u64) -> Option<u64> {
        if self
            .samples
            .back()
            .is_none_or(|(t, _)| now.duration_since(*t) >= TOMBSTONE_SAMPLE)
        {
            self.samples.push_back((now, applied));
        }
        let mut reap = None;
        while let Some((t, idx)) = self.samples.front().copied() {
            if now.duration_since(t) < TOMBSTONE_TTL {
                break;
            }
            self.samples.pop_front();
            reap = Some(idx);
        }
        reap.filter(|i| *i > 0)
    }
}

/// The servers of this datacenter that gossip reports alive, with their raft ids.
fn alive_servers(shared: &Shared) -> Vec<(u64, RaftNode, Member)> {
    let servers: Vec<(u64, RaftNode, Member)> = shared
        .lan
        .members()
        .into_iter()
        .filter(|m| {
            m.status == MemberStatus::Alive && is_local_server(&m.tags, &shared.config.datacenter)
        })
        .filter_map(|m| {
            let id = raft_id(m.tags.get("id")?)?;
            let port = m.tags.get("port")?;
            Some((
                id,
                RaftNode {
                    name: m.name.clone(),
                    rpc_addr: format!("{}:{port}", m.addr),
                },
                m,
            ))
        })
        .collect();
    without_raft_id_collisions(servers)
}

/// Two servers whose node ids share their first 64 bits would share a raft id, and one
/// would silently stand for the other in the configuration. Both are left out, loudly,
/// until an operator gives one of them another node id.
fn without_raft_id_collisions(
    servers: Vec<(u64, RaftNode, Member)>,
) -> Vec<(u64, RaftNode, Member)> {
    let node_id = |m: &Member| m.tags.get("id").cloned().unwrap_or_default();
    let colliding: BTreeSet<u64> = servers
        .iter()
        .filter(|(id, _, m)| {
            servers
                .iter()
                .any(|(other, _, o)| other == id && node_id(o) != node_id(m))
        })
        .map(|(id, _, _)| *id)
        .collect();
    for id in &colliding {
        let names: Vec<&str> = servers
            .iter()
            .filter(|(i, _, _)| i == id)
            .map(|(_, n, _)| n.name.as_str())
            .collect();
        tracing::error!(raft_id = id, servers = ?names,
            "servers whose node ids share their first 64 bits (the raft id); \
             give one of them another -node-id");
    }
    servers
        .into_iter()
        .filter(|(id, _, _)| !colliding.contains(id))
        .collect()
}

async fn bootstrap(
    shared: &Shared,
    consensus: &Consensus,
) -> Result<(), praetor_consensus::ConsensusError> {
    if consensus.is_initialized().await {
        return Ok(());
    }
    let cfg = &shared.config;
    let me = RaftNode {
        name: cfg.node_name.clone(),
        rpc_addr: format!("{}:{}", cfg.advertise_addr, cfg.ports.server),
    };
    if cfg.bootstrap || cfg.dev {
        tracing::info!("bootstrapping raft as a single server");
        return consensus
            .initialize(BTreeMap::from([(consensus.node_id(), me)]))
            .await;
    }
    let expect = cfg.bootstrap_expect as usize;
    if expect == 0 {
        return Ok(());
    }
    let servers = alive_servers(shared);
    for (_, node, m) in &servers {
        if m.tags
            .get("expect")
            .and_then(|e| e.parse::<usize>().ok())
            .is_some_and(|e| e != expect)
        {
            tracing::error!(server = %node.name, "Member has bootstrap-expect value different from this server's");
            return Ok(());
        }
    }
    if servers.len() < expect {
        return Ok(());
    }
    // Exactly one server bootstraps: the first by name; the others are added by its leader.
    let first = servers.iter().map(|(_, n, _)| n.name.as_str()).min();
    if first != Some(cfg.node_name.as_str()) {
        return Ok(());
    }
    // Consul's maybeBootstrap: never initialize raft when another server already has raft
    // state (a cluster formed without this server, or one restarted with the flag still set);
    // its leader adds this server instead. A server that does not answer means: not yet.
    for (id, node, _) in &servers {
        if *id == consensus.node_id() {
            continue;
        }
        match shared.rpc.raft_stats_of(&node.rpc_addr).await {
            Ok(s) if s.last_term > 0 || s.last_index > 0 => {
                tracing::info!(server = %node.name, term = s.last_term,
                    "a server already has raft state; not bootstrapping (its leader adds this one)");
                return Ok(());
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(server = %node.name, error = %e,
                    "cannot ask a server whether it has raft state; bootstrap waits");
                return Ok(());
            }
        }
    }
    let voters: BTreeMap<u64, RaftNode> = servers.into_iter().map(|(id, n, _)| (id, n)).collect();
    tracing::info!(
        servers = voters.len(),
        "found expected number of servers, bootstrapping raft"
    );
    consensus.initialize(voters).await
}

async fn reconcile(
    shared: &Shared,
    consensus: &Consensus,
    leading_for: Duration,
) -> Result<(), String> {
    crate::autopilot::ensure_config(consensus).await?;
    reconcile_raft(shared, consensus).await?;
    reconcile_catalog(shared, consensus, leading_for).await?;
    expire_sessions(shared, consensus).await
}

/// Alive servers become voters; servers that left are removed; a server that came back with
/// a new id replaces its old entry.
async fn reconcile_raft(shared: &Shared, consensus: &Consensus) -> Result<(), String> {
    let peers = consensus.peers();
    for (id, node, _) in alive_servers(shared) {
        if !peers.iter().any(|p| p.id == id && p.voter) {
            if let Some(old) = peers
                .iter()
                .find(|p| p.node.name == node.name && p.id != id)
            {
                consensus
                    .remove_server(old.id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            tracing::info!(server = %node, "adding server to raft");
            consensus
                .add_voter(id, node)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    for m in shared.lan.members() {
        if m.status == MemberStatus::Left && is_local_server(&m.tags, &shared.config.datacenter) {
            let id = m.tags.get("id").and_then(|i| raft_id(i));
            if let Some(p) = peers
                .iter()
                .find(|p| Some(p.id) == id && p.id != consensus.node_id())
            {
                tracing::info!(server = %p.node, "removing server that left from raft");
                consensus
                    .remove_server(p.id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// Writes what gossip knows about members into the catalog.
async fn reconcile_catalog(
    shared: &Shared,
    consensus: &Consensus,
    leading_for: Duration,
) -> Result<(), String> {
    let store = consensus.store();
    let dc = &shared.config.datacenter;
    let mut members = shared.lan.members();
    // The leader registers itself first.
    members.sort_by_key(|m| m.name != shared.config.node_name);
    for m in &members {
        if m.tags.get("dc") != Some(dc) {
            continue;
        }
        let existing = match store
            .query(&Query::CatalogNode {
                node: m.name.clone(),
            })
            .result
        {
            QueryResult::NodeServices(n) => n,
            _ => None,
        };
        let checks = match store
            .query(&Query::HealthNode {
                node: m.name.clone(),
            })
            .result
        {
            QueryResult::Checks(c) => c,
            _ => Vec::new(),
        };
        let serf = checks.iter().find(|c| c.check_id == SERF_HEALTH);
        let (status, output) = match m.status {
            MemberStatus::Alive => (CheckStatus::Passing, "Agent alive and reachable"),
            MemberStatus::Failed => (CheckStatus::Critical, "Agent not live or unreachable"),
            MemberStatus::Left => {
                if existing.is_some() {
                    tracing::info!(member = %m.name, "deregistering member that left");
                    write(
                        consensus,
                        Command::Deregister {
                            node: m.name.clone(),
                            service_id: None,
                            check_id: None,
                            now_ms: now_ms(),
                        },
                    )
                    .await?;
                }
                continue;
            }
            MemberStatus::Leaving => continue,
        };
        let addr = m.addr.to_string();
        let server_port = if is_local_server(&m.tags, dc) {
            m.tags.get("port").and_then(|p| p.parse::<u16>().ok())
        } else {
            None
        };
        let has_consul_service = existing
            .as_ref()
            .is_some_and(|(_, s)| s.iter().any(|s| s.id == crate::local::CONSUL_SERVICE_ID));
        let in_sync = existing.as_ref().is_some_and(|(n, _)| n.address == addr)
            && serf.is_some_and(|c| c.status == status)
            && (server_port.is_none() || has_consul_service);
        if in_sync {
            continue;
        }
        // Keep what the node's own anti-entropy wrote (meta, tagged addresses).
        let node = match &existing {
            Some((n, _)) => Node {
                address: addr.clone(),
                ..n.clone()
            },
            None => Node {
                id: m.tags.get("id").cloned().unwrap_or_default(),
                node: m.name.clone(),
                address: addr.clone(),
                datacenter: dc.clone(),
                ..Default::default()
            },
        };
        let service = server_port.map(|port| Service {
            id: crate::local::CONSUL_SERVICE_ID.into(),
            service: crate::local::CONSUL_SERVICE_ID.into(),
            port,
            weights: praetor_state::Weights {
                passing: 1,
                warning: 1,
            },
            ..Default::default()
        });
        let check = HealthCheck {
            node: m.name.clone(),
            check_id: SERF_HEALTH.into(),
            name: "Serf Health Status".into(),
            status,
            output: output.into(),
            check_type: String::new(),
            ..Default::default()
        };
        write(
            consensus,
            Command::Register {
                node,
                service,
                checks: vec![check],
                now_ms: now_ms(),
            },
        )
        .await?;
    }
    // Nodes with a serfHealth check that gossip no longer knows were reaped: deregister them.
    if leading_for >= REAP_GRACE
        && shared.started.elapsed() >= REAP_GRACE
        && let QueryResult::Checks(all) = store.query(&Query::HealthState { state: None }).result
    {
        for c in all.iter().filter(|c| c.check_id == SERF_HEALTH) {
            if !members.iter().any(|m| m.name == c.node) {
                tracing::info!(node = %c.node, "reaping node unknown to gossip");
                write(
                    consensus,
                    Command::Deregister {
                        node: c.node.clone(),
                        service_id: None,
                        check_id: None,
                        now_ms: now_ms(),
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

pub(crate) async fn write(consensus: &Consensus, cmd: Command) -> Result<(), String> {
    match consensus.write(cmd).await.map_err(|e| e.to_string())? {
        praetor_state::CommandResult::Error(e)
        | praetor_state::CommandResult::Denied(e)
        | praetor_state::CommandResult::NotFound(e) => Err(e),
        _ => Ok(()),
    }
}

/// Starts timers for new TTL sessions and destroys the ones that expired.
async fn expire_sessions(shared: &Shared, consensus: &Consensus) -> Result<(), String> {
    let timers = shared.rpc.sessions();
    let QueryResult::Sessions(sessions) = consensus.store().query(&Query::SessionList).result
    else {
        return Ok(());
    };
    timers.retain(|id| sessions.iter().any(|s| s.id == id));
    for s in &sessions {
        if s.ttl.is_empty() || timers.contains(&s.id) {
            continue;
        }
        if let Ok(ttl) = praetor_config::parse_duration(&s.ttl)
            && !ttl.is_zero()
        {
            timers.reset(&s.id, ttl);
        }
    }
    for id in timers.take_expired(Instant::now()) {
        tracing::info!(session = %id, "session TTL expired, invalidating");
        write(
            consensus,
            Command::SessionDestroy {
                id,
                now_ms: now_ms(),
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, node_id: &str) -> (u64, RaftNode, Member) {
        let m = Member {
            name: name.into(),
            addr: "127.0.0.1".parse().expect("ip"),
            port: 8301,
            tags: BTreeMap::from([("id".to_string(), node_id.to_string())]),
            status: MemberStatus::Alive,
            incarnation: 1,
        };
        let node = RaftNode {
            name: name.into(),
            rpc_addr: "127.0.0.1:8300".into(),
        };
        (raft_id(node_id).expect("uuid"), node, m)
    }

    #[test]
    fn servers_whose_raft_ids_collide_are_left_out() {
        let kept = without_raft_id_collisions(vec![
            server("s1", "11111111-2222-3333-0000-000000000001"),
            server("s2", "11111111-2222-3333-0000-000000000002"),
            server("s3", "99999999-2222-3333-0000-000000000003"),
        ]);
        let names: Vec<&str> = kept.iter().map(|(_, n, _)| n.name.as_str()).collect();
        assert_eq!(names, ["s3"]);
    }

    #[test]
    fn tombstones_are_reaped_after_the_ttl_up_to_the_index_seen_then() {
        let mut gc = TombstoneGc::default();
        let t0 = Instant::now();
        assert_eq!(gc.due(t0, 10), None);
        assert_eq!(
            gc.due(t0 + Duration::from_secs(30), 20),
            None,
            "sampled once a minute"
        );
        assert_eq!(gc.due(t0 + TOMBSTONE_SAMPLE, 30), None);
        // Fifteen minutes after the first sample, everything up to index 10 may go.
        assert_eq!(gc.due(t0 + TOMBSTONE_TTL, 40), Some(10));
        assert_eq!(
            gc.due(t0 + TOMBSTONE_TTL + Duration::from_secs(1), 41),
            None
        );
        assert_eq!(gc.due(t0 + TOMBSTONE_TTL + TOMBSTONE_SAMPLE, 50), Some(30));
    }
}
