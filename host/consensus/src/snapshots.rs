//! When a server snapshots its state, as Consul does: every `raft_snapshot_interval` plus a
//! random part of up to as much again, a snapshot if at least `raft_snapshot_threshold`
//! entries were applied since the last one; the log then keeps `raft_trailing_logs` entries
//! behind it. (openraft's own policy, a snapshot the moment a count is reached, would snapshot
//! every second or two under a steady write load, each time copying and writing the whole
//! state next to the log's fsyncs.)

use std::hash::BuildHasher as _;
use std::time::{Duration, Instant};

use crate::types::Raft;

/// Consul's `raft_snapshot_threshold`, `raft_snapshot_interval` and `raft_trailing_logs` (their
/// defaults are the config crate's, which resolves them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshots {
    pub threshold: u64,
    pub interval: Duration,
    pub trailing_logs: u64,
}

impl Snapshots {
    /// No snapshot unless [`crate::Consensus::snapshot`] asks for one (tests that take them
    /// when they choose).
    pub const ONLY_WHEN_ASKED: Snapshots = Snapshots {
        threshold: u64::MAX,
        interval: Duration::from_secs(3600),
        trailing_logs: 1_000,
    };
}

/// Runs the checks until raft shuts down (or the task is aborted).
pub(crate) fn spawn(raft: Raft, settings: Snapshots) -> tokio::task::JoinHandle<()> {
    let metrics = raft.metrics();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(settings.interval + jitter(settings.interval)).await;
            if metrics.has_changed().is_err() {
                return; // raft has shut down
            }
            let since = {
                let m = metrics.borrow();
                let applied = m.last_applied.map_or(0, |l| l.index);
                applied.saturating_sub(m.snapshot.map_or(0, |l| l.index))
            };
            if since >= settings.threshold.max(1) {
                tracing::debug!(since, "raft: snapshot threshold reached");
                if raft.trigger().snapshot().await.is_err() {
                    return;
                }
            }
        }
    })
}

/// A random duration in `[0, max)` (std's per-process random keys; no RNG dependency).
fn jitter(max: Duration) -> Duration {
    let r = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    max.mul_f64((r >> 11) as f64 / (1u64 << 53) as f64)
}
