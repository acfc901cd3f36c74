//! Autopilot on the leader: the configuration is stored on first leadership (Consul's
//! defaults), and with `CleanupDeadServers` servers failed for a whole autopilot interval are
//! force-left (capped so a quorum of voters stays), after which raft reconciliation removes
//! them as servers that left.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use praetor_consensus::Consensus;
use praetor_gossip::MemberStatus;
use praetor_rpc::autopilot::removable_voters;
use praetor_state::{AutopilotConfig, Command, Query, QueryResult};

use crate::{Shared, is_local_server};

fn stored(consensus: &Consensus) -> Option<AutopilotConfig> {
    match consensus.store().query(&Query::AutopilotConfig).result {
        QueryResult::Autopilot(c) => c,
        _ => None,
    }
}

/// Stores Consul's default configuration unless one is stored (check-and-set on "none", so a
/// configuration an operator wrote in between wins).
pub(crate) async fn ensure_config(consensus: &Consensus) -> Result<(), String> {
    if stored(consensus).is_some() {
        return Ok(());
    }
    let cmd = Command::AutopilotSetConfig {
        config: AutopilotConfig::default(),
        cas: Some(0),
    };
    consensus.write(cmd).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Consul's autopilot interval: dead servers are looked for this often.
const INTERVAL: Duration = Duration::from_secs(10);

/// Dead-server cleanup state of the leader.
#[derive(Default)]
pub(crate) struct Cleanup {
    /// Failed servers and when this leader first saw them failed.
    failed_since: HashMap<String, Instant>,
    next_at: Option<Instant>,
}

impl Cleanup {
    /// Every [`INTERVAL`]: force-leaves servers that are raft voters and have been failed in
    /// gossip for a whole interval (a server that fails and comes back between two looks is
    /// left alone; meanwhile the catalog shows its `serfHealth` critical), at most as many as
    /// keep a quorum and `MinQuorum` voters.
    pub(crate) async fn run(
        &mut self,
        shared: &Shared,
        consensus: &Consensus,
    ) -> Result<(), String> {
        let now = Instant::now();
        if self.next_at.is_some_and(|at| now < at) {
            return Ok(());
        }
        self.next_at = Some(now + INTERVAL);
        let Some(config) = stored(consensus) else {
            return Ok(());
        };
        let peers = consensus.peers();
        let failed: Vec<String> = shared
            .lan
            .members()
            .into_iter()
            .filter(|m| {
                m.status == MemberStatus::Failed
                    && is_local_server(&m.tags, &shared.config.datacenter)
                    && peers.iter().any(|p| p.voter && p.node.name == m.name)
            })
            .map(|m| m.name)
            .collect();
        self.failed_since.retain(|name, _| failed.contains(name));
        for name in &failed {
            self.failed_since.entry(name.clone()).or_insert(now);
        }
        if !config.cleanup_dead_servers {
            return Ok(());
        }
        let dead: Vec<&String> = failed
            .iter()
            .filter(|n| {
                self.failed_since
                    .get(*n)
                    .is_some_and(|since| now.duration_since(*since) >= INTERVAL)
            })
            .collect();
        let voters = peers.iter().filter(|p| p.voter).count();
        let n = removable_voters(voters, dead.len(), config.min_quorum as usize);
        for name in dead.into_iter().take(n) {
            tracing::info!(server = %name, "autopilot: removing dead server");
            shared
                .lan
                .force_leave(name, false)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
