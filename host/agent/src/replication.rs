//! A secondary datacenter leader's config entry replication (Consul's
//! `replicateConfig`): blocking reads of every entry in the primary (with the replication
//! token when ACLs are on), the difference applied through raft, at most one round a second,
//! exponential backoff on errors. Intentions travel this way (they are `service-intentions`
//! entries).

use std::time::{Duration, Instant};

use praetor_consensus::Consensus;
use praetor_rpc::{Caller, Consistency, QueryRequest, Rpc};
use praetor_state::{Command, Query, QueryResult};

use crate::Shared;
use crate::leader::{LeaderTask, write};

/// Consul's `config_replication` rate: one round a second at most.
const MIN_ROUND: Duration = Duration::from_secs(1);
/// How long one blocking read of the primary waits for a change.
const WAIT: Duration = Duration::from_secs(60);

/// The leader's replicator, stopped with the leadership (dropped).
#[derive(Default)]
pub(crate) struct ConfigReplicator(LeaderTask);

impl ConfigReplicator {
    /// Starts the replication in a secondary datacenter (once per leadership).
    pub(crate) fn run(&mut self, shared: &Shared, consensus: &Consensus) {
        let cfg = &shared.config;
        if cfg.primary_datacenter.is_empty() || cfg.primary_datacenter == cfg.datacenter {
            return;
        }
        let (rpc, consensus) = (shared.rpc.clone(), consensus.clone());
        let (primary, acl) = (cfg.primary_datacenter.clone(), cfg.acl.enabled);
        self.0.ensure(|| replicate(rpc, consensus, primary, acl));
    }
}

async fn replicate(rpc: Rpc, consensus: Consensus, primary: String, acl: bool) {
    let mut last_remote = 0u64;
    let mut failures = 0u32;
    loop {
        let round = Instant::now();
        let caller = if acl {
            let secret = rpc.agent_tokens().replication;
            if secret.is_empty() {
                tokio::time::sleep(MIN_ROUND).await;
                continue;
            }
            Caller::Token(secret)
        } else {
            Caller::Internal
        };
        let mut q = QueryRequest::new(Query::ConfigEntries {
            kind: None,
            name: None,
        });
        q.consistency = Consistency::Stale;
        q.min_index = last_remote;
        q.wait_ms = WAIT.as_millis() as u64;
        let outcome = match rpc.query_as(&caller, Some(&primary), q).await {
            Ok(r) if r.output.index < last_remote => {
                tracing::warn!(
                    "Config Entry replication remote index moved backwards, forcing a full Config Entry sync"
                );
                last_remote = 0;
                continue;
            }
            Ok(r) if r.output.index == last_remote => Ok(last_remote),
            Ok(r) => match r.output.result {
                QueryResult::ConfigEntries(entries) => {
                    let index = r.output.index;
                    write(&consensus, Command::ConfigEntriesReplicate { entries })
                        .await
                        .map(|()| index)
                }
                other => Err(format!("unexpected answer {other:?}")),
            },
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(index) => {
                if index != last_remote {
                    tracing::debug!(index, "config entry replication round done");
                }
                last_remote = index;
                failures = 0;
                let spent = round.elapsed();
                if spent < MIN_ROUND {
                    tokio::time::sleep(MIN_ROUND - spent).await;
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                last_remote = 0;
                tracing::warn!(%error, datacenter = %primary, "config entry replication failed");
                tokio::time::sleep(Duration::from_secs(1 << failures.min(5))).await;
            }
        }
    }
}
