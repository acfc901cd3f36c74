//! Raft for one datacenter's servers: openraft with a durable segment log (`segment`), an in-memory
//! state machine snapshotted to a file, and gRPC transport on the server RPC port.
//!
//! Every openraft type stays inside this crate; callers see [`Consensus`], [`RaftNode`] and
//! typed errors, so an openraft upgrade touches only this crate.

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod golden;
mod log_store;
mod migrate;
mod network;
mod propose;
mod segment;
mod snapshots;
mod state_machine;
mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, Config, ServerState, SnapshotPolicy};
use praetor_state::{Command, CommandResult, SharedStore};
use tonic::transport::Channel;

pub use network::{RaftService, channel};
pub use segment::LogError;
pub use snapshots::Snapshots;
pub use types::RaftNode;

use crate::log_store::LogStore;
use crate::network::NetworkFactory;
use crate::state_machine::StateMachine;
use crate::types::Raft;

/// Errors of this crate.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ConsensusError {
    #[error("raft storage: {0}")]
    Storage(String),
    /// The raft log's files cannot be opened or read.
    #[error(transparent)]
    Log(Arc<LogError>),
    #[error("raft snapshot: {0}")]
    Snapshot(String),
    #[error("raft config: {0}")]
    Config(String),
    /// This server is not the leader; the leader (if known) is attached.
    #[error("not the leader")]
    ForwardToLeader(Option<(u64, RaftNode)>),
    /// Consul's `ErrNoLeader`.
    #[error("No cluster leader")]
    NoLeader,
    /// Raft data (log or snapshot) written in a format this build cannot read.
    #[error("raft data: {0}")]
    Format(#[from] praetor_state::format::UnsupportedFormat),
    #[error("raft: {0}")]
    Raft(String),
}

/// The raft entry format (`praetor_state::format`) recorded in the log of a server's raft dir;
/// the server must be stopped.
pub fn stored_log_format(raft_dir: &std::path::Path) -> Result<u32, ConsensusError> {
    Ok(log_store::stored_format(raft_dir)?)
}

impl From<LogError> for ConsensusError {
    fn from(e: LogError) -> Self {
        ConsensusError::Log(Arc::new(e))
    }
}

/// Opens the gRPC channel to a peer's RPC port (`ip:port`); the agent passes one that speaks
/// TLS when the RPC port is secured. `None` in [`ConsensusConfig`] = plaintext.
pub type Dialer = Arc<dyn Fn(&str) -> Result<Channel, String> + Send + Sync>;

/// How a server's raft is set up.
#[derive(Clone)]
pub struct ConsensusConfig {
    pub node_id: u64,
    pub node: RaftNode,
    /// `<data_dir>/raft`; `None` keeps log and snapshots in memory (`-dev`).
    pub dir: Option<PathBuf>,
    /// Consul's `performance.raft_multiplier` (1 = fastest timings, 5 = Consul's production default).
    pub raft_multiplier: u32,
    /// How to reach peers (`None` = plaintext gRPC).
    pub dialer: Option<Dialer>,
    /// When to snapshot (Consul's `raft_snapshot_*` and `raft_trailing_logs`).
    pub snapshots: Snapshots,
}

/// Counters the agent exports as metrics.
#[derive(Default, Debug)]
pub struct RaftCounters {
    pub applies: AtomicU64,
    pub apply_nanos: AtomicU64,
    pub commits: AtomicU64,
    pub commit_nanos: AtomicU64,
    pub leader_changes: AtomicU64,
}

impl RaftCounters {
    fn observe_apply(&self, d: Duration) {
        self.applies.fetch_add(1, Ordering::Relaxed);
        self.apply_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// One peer of the raft configuration, as `/v1/operator/raft/configuration` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub id: u64,
    pub node: RaftNode,
    pub voter: bool,
    pub leader: bool,
}

/// The running raft of this server.
#[derive(Clone)]
pub struct Consensus {
    raft: Raft,
    node_id: u64,
    store: Arc<SharedStore>,
    last_contact: Arc<std::sync::Mutex<Option<Instant>>>,
    counters: Arc<RaftCounters>,
    log: LogStore,
    /// How recently a quorum must have acknowledged this leader for it to answer default reads
    /// (the shortest election timeout: no other leader can have been elected since).
    read_lease: Duration,
    /// Writes go through the proposer, which batches those queued together (`propose`).
    proposals: tokio::sync::mpsc::Sender<propose::Proposal>,
    proposer: Arc<tokio::task::JoinHandle<()>>,
    /// Starts snapshots on Consul's cadence (`snapshots`).
    snapshotter: Arc<tokio::task::JoinHandle<()>>,
    /// What each peer reads, from its raft replies (the batch gate).
    reads: network::PeerReads,
}

impl Consensus {
    /// Opens the log and snapshot under `cfg.dir` and starts raft. A server with existing state
    /// rejoins its cluster on its own; a fresh one waits for [`Consensus::initialize`] or for a
    /// leader to add it.
    pub async fn start(
        cfg: ConsensusConfig,
        store: Arc<SharedStore>,
    ) -> Result<Self, ConsensusError> {
        let m = u64::from(cfg.raft_multiplier.max(1));
        let config = Config {
            cluster_name: "praetor".into(),
            heartbeat_interval: 50 * m,
            election_timeout_min: 200 * m,
            election_timeout_max: 400 * m,
            install_snapshot_timeout: 10_000,
            // Snapshots are started by `snapshots`, on Consul's cadence.
            snapshot_policy: SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: cfg.snapshots.trailing_logs,
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| ConsensusError::Config(e.to_string()))?,
        );
        if let Some(dir) = &cfg.dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| ConsensusError::Storage(format!("{}: {e}", dir.display())))?;
        }
        let log = LogStore::open(cfg.dir.as_deref())?;
        let counters = Arc::new(RaftCounters::default());
        let sm = StateMachine::open(store.clone(), cfg.dir.clone(), counters.clone())?;
        let reads = network::PeerReads::default();
        let factory = NetworkFactory {
            dialer: cfg.dialer.clone(),
            reads: reads.clone(),
        };
        let raft = Raft::new(cfg.node_id, config, factory, log.clone(), sm)
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        let (proposals, proposer) = propose::spawn(raft.clone(), cfg.node_id, reads.clone());
        let snapshotter = snapshots::spawn(raft.clone(), cfg.snapshots);
        let me = Consensus {
            raft,
            node_id: cfg.node_id,
            store,
            last_contact: Arc::new(std::sync::Mutex::new(None)),
            counters,
            log,
            read_lease: Duration::from_millis(200 * m),
            proposals,
            proposer: Arc::new(proposer),
            snapshotter: Arc::new(snapshotter),
            reads,
        };
        me.spawn_leader_watch();
        Ok(me)
    }

    fn spawn_leader_watch(&self) {
        let mut rx = self.raft.metrics();
        let counters = self.counters.clone();
        tokio::spawn(async move {
            let mut leader = rx.borrow().current_leader;
            while rx.changed().await.is_ok() {
                let now = rx.borrow().current_leader;
                if now != leader {
                    counters.leader_changes.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(leader = ?now, "raft leader changed");
                    leader = now;
                }
            }
        });
    }

    /// The tonic service that receives this server's raft traffic.
    pub fn service(&self) -> RaftService {
        RaftService::new(self.raft.clone(), self.last_contact.clone())
    }

    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    pub fn store(&self) -> &Arc<SharedStore> {
        &self.store
    }

    pub fn counters(&self) -> &Arc<RaftCounters> {
        &self.counters
    }

    /// True once this server has a raft configuration (bootstrapped, or joined by a leader).
    pub async fn is_initialized(&self) -> bool {
        self.raft.is_initialized().await.unwrap_or(false)
    }

    /// Bootstraps a new cluster with these voters. Call on one server only.
    pub async fn initialize(&self, voters: BTreeMap<u64, RaftNode>) -> Result<(), ConsensusError> {
        self.raft
            .initialize(voters)
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))
    }

    /// Replicates a command and returns its result once applied on this (leader) server.
    /// Writes queued together go as one raft entry (see `propose`); each gets its own result.
    pub async fn write(&self, cmd: Command) -> Result<CommandResult, ConsensusError> {
        let started = Instant::now();
        let stopped = || ConsensusError::Raft("raft stopped".into());
        let (done, result) = tokio::sync::oneshot::channel();
        self.proposals
            .send(propose::Proposal { cmd, done })
            .await
            .map_err(|_| stopped())?;
        let res = result.await.map_err(|_| stopped())?;
        if res.is_ok() {
            self.counters.commits.fetch_add(1, Ordering::Relaxed);
            self.counters
                .commit_nanos
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        res
    }

    /// True when writes queued together may go as one entry: every other server of the raft
    /// configuration has answered that it reads batches (see `propose`).
    pub fn batches_enabled(&self) -> bool {
        propose::every_server_reads_batches(&self.raft, self.node_id, &self.reads)
    }

    /// Confirms leadership with a quorum round (read-index) and waits until this server has
    /// applied up to it: a read after this is linearizable (`?consistent`).
    pub async fn read_barrier(&self) -> Result<(), ConsensusError> {
        match self.raft.ensure_linearizable().await {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(ConsensusError::ForwardToLeader(
                    f.leader_id.zip(f.leader_node),
                ))
            }
            Err(e) => Err(ConsensusError::Raft(e.to_string())),
        }
    }

    /// Waits until this leader may answer a default-consistency read: it has applied an entry of
    /// its own term (its blank entry after the election; before that its state may miss writes
    /// a previous leader committed), and a quorum acknowledged it within the read lease (the
    /// shortest election timeout), so no newer leader can have been elected meanwhile. A leader
    /// cut off from its quorum stops answering (`No cluster leader` after `timeout`) instead of
    /// serving stale data. Immediate in the steady state.
    pub async fn wait_ready_for_reads(&self, timeout: Duration) -> Result<(), ConsensusError> {
        let mut rx = self.raft.metrics();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let m = rx.borrow_and_update();
                if m.state != ServerState::Leader {
                    return Err(ConsensusError::ForwardToLeader(None));
                }
                let own_term = m
                    .last_applied
                    .is_some_and(|l| l.leader_id.term == m.current_term);
                let leased = m
                    .millis_since_quorum_ack
                    .is_some_and(|ms| u128::from(ms) <= self.read_lease.as_millis());
                if own_term && leased {
                    return Ok(());
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ConsensusError::Raft("raft stopped".into())),
                Err(_) => return Err(ConsensusError::NoLeader),
            }
        }
    }

    /// The current leader, if known, with its address.
    pub fn leader(&self) -> Option<(u64, RaftNode)> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let id = m.current_leader?;
        let node = m.membership_config.membership().get_node(&id).cloned()?;
        Some((id, node))
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// A watch that wakes when this server gains or loses leadership.
    pub fn leadership(&self) -> LeadershipWatch {
        let rx = self.raft.metrics();
        let leader = rx.borrow().state == ServerState::Leader;
        LeadershipWatch { rx, leader }
    }

    /// Time since the leader last contacted this follower (zero on the leader), for
    /// `X-Consul-LastContact`. `None` when there has been no contact.
    pub fn last_contact(&self) -> Option<Duration> {
        if self.is_leader() {
            return Some(Duration::ZERO);
        }
        self.last_contact
            .lock()
            .ok()
            .and_then(|lc| lc.map(|t| t.elapsed()))
    }

    /// Last log index applied to the state machine on this server.
    pub fn applied_index(&self) -> u64 {
        self.raft
            .metrics()
            .borrow()
            .last_applied
            .map(|l| l.index)
            .unwrap_or(0)
    }

    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// The raft configuration: voters and learners.
    pub fn peers(&self) -> Vec<Peer> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, node)| Peer {
                id: *id,
                node: node.clone(),
                voter: voters.contains(id),
                leader: m.current_leader == Some(*id),
            })
            .collect()
    }

    /// Adds a server as a voter (learner first, promoted once it has caught up). Leader only.
    pub async fn add_voter(&self, id: u64, node: RaftNode) -> Result<(), ConsensusError> {
        if self
            .peers()
            .iter()
            .any(|p| p.id == id && p.voter && p.node == node)
        {
            return Ok(());
        }
        self.raft
            .add_learner(id, node, true)
            .await
            .map_err(map_membership_err)?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(map_membership_err)?;
        Ok(())
    }

    /// Removes a server from the raft configuration. Leader only.
    pub async fn remove_server(&self, id: u64) -> Result<(), ConsensusError> {
        if !self.peers().iter().any(|p| p.id == id) {
            return Ok(());
        }
        let voters: BTreeSet<u64> = BTreeSet::from([id]);
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(voters.clone()), false)
            .await
            .map_err(map_membership_err)?;
        self.raft
            .change_membership(ChangeMembers::RemoveNodes(voters), false)
            .await
            .map_err(map_membership_err)?;
        Ok(())
    }

    /// Takes a snapshot now (and lets raft purge the log behind it).
    pub async fn snapshot(&self) -> Result<(), ConsensusError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))
    }

    /// Stops raft, then flushes and closes the log (its file is free when this returns).
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
        self.proposer.abort();
        self.snapshotter.abort();
        let log = self.log.clone();
        let _ = tokio::task::spawn_blocking(move || log.close()).await;
    }
}

/// Wakes its owner when this server's leadership changes (see [`Consensus::leadership`]).
pub struct LeadershipWatch {
    rx: tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, RaftNode>>,
    leader: bool,
}

impl LeadershipWatch {
    /// Waits until this server becomes leader or stops being leader, and returns whether it
    /// leads now. Never returns once raft has shut down.
    pub async fn changed(&mut self) -> bool {
        loop {
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            let leader = self.rx.borrow().state == ServerState::Leader;
            if leader != self.leader {
                self.leader = leader;
                return leader;
            }
        }
    }
}

fn map_membership_err(e: RaftError<u64, ClientWriteError<u64, RaftNode>>) -> ConsensusError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
            ConsensusError::ForwardToLeader(f.leader_id.zip(f.leader_node))
        }
        e => ConsensusError::Raft(e.to_string()),
    }
}

/// An empty directory `praetor-<name>-<pid>` in the temp dir, for a test.
#[cfg(test)]
pub(crate) fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("praetor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
