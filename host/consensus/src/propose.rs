//! Client writes batched into raft entries. openraft 0.9's core waits for the leader's own fsync
//! of each appended entry before it takes the next request, so every `client_write` costs one
//! leader fsync, in series (measured: 1 entry per log commit at 64 clients, ~1.9k writes/s).
//! The proposer takes the writes queued meanwhile and proposes them as one
//! [`Command::Batch`] entry: one fsync, one replication round and one apply for all of them.
//!
//! A write waits for nothing new: with one client a write goes alone, as itself. Batches are
//! proposed only while every server of the raft configuration has said it reads
//! [`BATCH_FORMAT`] (a server of an older build makes every write go alone, as before).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use praetor_state::format::BATCH_FORMAT;
use praetor_state::{Command, CommandResult};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::ConsensusError;
use crate::network::PeerReads;
use crate::types::Raft;

/// Raft entries proposed and not yet applied at once: a batch forms while they are in flight.
const IN_FLIGHT: usize = 2;
/// Most commands in one batch.
const MAX_BATCH: usize = 512;
/// Most (estimated) bytes in one batch; a raft message carries up to 64 MiB.
const MAX_BATCH_BYTES: usize = 4 << 20;
/// Writes queued for the proposer before `write` waits for room.
const QUEUE: usize = 4096;
/// How long a proposed entry holds its slot at most. A write can hang while this server leads
/// without a quorum; the writes behind it then still reach raft (and are told who leads).
const SLOT_HOLD: Duration = Duration::from_millis(50);

/// One write waiting for its result.
pub(crate) struct Proposal {
    pub cmd: Command,
    pub done: oneshot::Sender<Result<CommandResult, ConsensusError>>,
}

/// Starts the proposer of `raft` (this server is `node_id`); writes go to the returned queue.
pub(crate) fn spawn(
    raft: Raft,
    node_id: u64,
    reads: PeerReads,
) -> (mpsc::Sender<Proposal>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let task = tokio::spawn(run(raft, node_id, reads, rx));
    (tx, task)
}

async fn run(raft: Raft, node_id: u64, reads: PeerReads, mut rx: mpsc::Receiver<Proposal>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Waiting for a slot is what lets the next batch fill.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = approx_size(&first.cmd);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(p) => {
                    bytes += approx_size(&p.cmd);
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        if batch.len() > 1 && !every_server_reads_batches(&raft, node_id, &reads) {
            tracing::debug!(
                writes = batch.len(),
                "a server of the raft configuration does not read batches: proposing one by one"
            );
            let slot = Arc::new(slot);
            for p in batch {
                tokio::spawn(holding(slot.clone(), propose(raft.clone(), vec![p])));
            }
            continue;
        }
        tracing::trace!(writes = batch.len(), "proposing");
        tokio::spawn(holding(Arc::new(slot), propose(raft.clone(), batch)));
    }
}

/// Runs `write`, holding `slot` until it finishes or [`SLOT_HOLD`] passed.
async fn holding(slot: Arc<OwnedSemaphorePermit>, write: impl Future<Output = ()>) {
    let mut write = std::pin::pin!(write);
    if tokio::time::timeout(SLOT_HOLD, &mut write).await.is_err() {
        drop(slot);
        write.await;
    }
}

/// Proposes one write as itself, several as a batch, and hands each its own result.
async fn propose(raft: Raft, mut batch: Vec<Proposal>) {
    if batch.len() == 1 {
        let p = batch.remove(0);
        let _ = p.done.send(write(&raft, p.cmd).await);
        return;
    }
    let (cmds, dones): (Vec<Command>, Vec<_>) = batch.into_iter().map(|p| (p.cmd, p.done)).unzip();
    let n = cmds.len();
    match write(&raft, Command::Batch(cmds)).await {
        Ok(CommandResult::Batch(results)) if results.len() == n => {
            for (done, r) in dones.into_iter().zip(results) {
                let _ = done.send(Ok(r));
            }
        }
        // The whole entry refused (a stale index): the same answer for each.
        Ok(r) => {
            for done in dones {
                let _ = done.send(Ok(r.clone()));
            }
        }
        Err(e) => {
            for done in dones {
                let _ = done.send(Err(e.clone()));
            }
        }
    }
}

/// One raft entry, replicated and applied on this (leader) server.
async fn write(raft: &Raft, cmd: Command) -> Result<CommandResult, ConsensusError> {
    match raft.client_write(cmd).await {
        Ok(resp) => Ok(resp.data),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => Err(
            ConsensusError::ForwardToLeader(f.leader_id.zip(f.leader_node)),
        ),
        Err(e) => Err(ConsensusError::Raft(e.to_string())),
    }
}

/// True when every other server of the raft configuration has answered that it reads batches.
pub(crate) fn every_server_reads_batches(raft: &Raft, node_id: u64, reads: &PeerReads) -> bool {
    let peers: Vec<u64> = {
        let metrics = raft.metrics();
        let m = metrics.borrow();
        m.membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .filter(|id| *id != node_id)
            .collect()
    };
    reads.all_read(peers, BATCH_FORMAT)
}

/// A cheap estimate of a command's encoded size (values dominate; the rest is small).
fn approx_size(cmd: &Command) -> usize {
    const SMALL: usize = 512;
    match cmd {
        Command::KvSet { entry, .. } => SMALL + entry.key.len() + entry.value.len(),
        Command::Txn { ops, .. } => {
            SMALL
                + ops
                    .iter()
                    .map(|praetor_state::TxnOp::Kv(kv)| kv.key.len() + kv.value.len())
                    .sum::<usize>()
        }
        // A restore carries a whole snapshot: never batch anything after it.
        Command::Restore { .. } => MAX_BATCH_BYTES,
        _ => SMALL,
    }
}
