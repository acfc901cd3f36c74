//! Autopilot on the leader: the configuration is stored on first leadership (Consul's
//! defaults), and with `CleanupDeadServers` failed servers are force-left (capped so a quorum
//! of voters stays), after which raft reconciliation removes them as servers that left.

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

/// Force-leaves failed servers that are raft voters, at most as many as keep a quorum and
/// `MinQuorum` voters.
pub(crate) async fn cleanup_dead_servers(
    shared: &Shared,
    consensus: &Consensus,
) -> Result<(), String> {
    let Some(config) = stored(consensus) else {
        return Ok(());
    };
    if !config.cleanup_dead_servers {
        return Ok(());
    }
    let peers = consensus.peers();
    let voters = peers.iter().filter(|p| p.voter).count();
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
    let n = removable_voters(voters, failed.len(), config.min_quorum as usize);
    for name in failed.into_iter().take(n) {
        tracing::info!(server = %name, "autopilot: removing dead server");
        shared
            .lan
            .force_leave(&name, false)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
