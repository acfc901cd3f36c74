//! Autopilot's view of the servers (Consul's `/v1/operator/autopilot/health` and `state`): the
//! leader asks every raft peer for its raft stats and judges each one against the stored
//! [`AutopilotConfig`]. The judging is pure; the fan-out lives in `lib.rs`.

use serde::{Deserialize, Serialize};

use praetor_state::AutopilotConfig;

/// What a server reports about its own raft (`Request::RaftStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftStats {
    /// Time since this server last heard from the leader; `None` if it never did (and 0 on
    /// the leader itself).
    pub last_contact_ms: Option<u64>,
    pub last_term: u64,
    pub last_index: u64,
}

/// One server as autopilot sees it (Consul `api.ServerHealth`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHealth {
    /// The raft ID (the node ID's first 64 bits, as `/v1/operator/raft/configuration` shows it).
    pub id: String,
    pub name: String,
    pub address: String,
    /// Gossip status: `alive`, `leaving`, `left`, `failed` or `none` (not in gossip).
    pub serf_status: String,
    pub version: String,
    pub leader: bool,
    pub voter: bool,
    /// `None` when the server did not answer.
    pub stats: Option<RaftStats>,
    pub healthy: bool,
    /// When the server last changed between healthy and unhealthy (unix milliseconds).
    pub stable_since_ms: u64,
}

/// The whole datacenter (Consul `api.OperatorHealthReply`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotHealth {
    pub healthy: bool,
    pub failure_tolerance: usize,
    pub servers: Vec<ServerHealth>,
}

/// raft-autopilot's `isServerHealthy`: alive in gossip, heard from the leader within the
/// threshold, on the leader's term, and at most `max_trailing_logs` behind it.
pub fn is_healthy(
    config: &AutopilotConfig,
    serf_status: &str,
    stats: Option<&RaftStats>,
    leader_term: u64,
    leader_index: u64,
) -> bool {
    let Some(s) = stats else {
        return false;
    };
    serf_status == "alive"
        && s.last_contact_ms
            .is_some_and(|ms| ms <= config.last_contact_threshold_ms)
        && s.last_term == leader_term
        && s.last_index + config.max_trailing_logs >= leader_index
}

/// Healthy voters beyond a quorum of all voters (never negative).
pub fn failure_tolerance(servers: &[ServerHealth]) -> usize {
    let voters = servers.iter().filter(|s| s.voter).count();
    let healthy = servers.iter().filter(|s| s.voter && s.healthy).count();
    healthy.saturating_sub(voters / 2 + 1)
}

/// How many failed voters one cleanup pass may remove (raft-autopilot's `pruneDeadServers`):
/// at most `(voters - 1) / 2`, and never leaving fewer than `min_quorum` voters.
pub fn removable_voters(voters: usize, failed: usize, min_quorum: usize) -> usize {
    let by_quorum = voters.saturating_sub(1) / 2;
    let by_min = voters.saturating_sub(min_quorum);
    failed.min(by_quorum).min(by_min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(contact: Option<u64>, term: u64, index: u64) -> RaftStats {
        RaftStats {
            last_contact_ms: contact,
            last_term: term,
            last_index: index,
        }
    }

    #[test]
    fn health_needs_gossip_contact_term_and_log() {
        let c = AutopilotConfig::default();
        let good = stats(Some(10), 3, 1000);
        assert!(is_healthy(&c, "alive", Some(&good), 3, 1200));
        assert!(!is_healthy(&c, "failed", Some(&good), 3, 1200));
        assert!(!is_healthy(&c, "alive", None, 3, 1200));
        assert!(!is_healthy(
            &c,
            "alive",
            Some(&stats(Some(500), 3, 1000)),
            3,
            1000
        ));
        assert!(!is_healthy(
            &c,
            "alive",
            Some(&stats(None, 3, 1000)),
            3,
            1000
        ));
        assert!(!is_healthy(&c, "alive", Some(&good), 4, 1000));
        assert!(!is_healthy(&c, "alive", Some(&good), 3, 1251));
    }

    #[test]
    fn tolerance_counts_healthy_voters_beyond_quorum() {
        let s = |voter, healthy| ServerHealth {
            voter,
            healthy,
            ..ServerHealth::default()
        };
        assert_eq!(
            failure_tolerance(&[s(true, true), s(true, true), s(true, true)]),
            1
        );
        assert_eq!(
            failure_tolerance(&[s(true, true), s(true, false), s(true, true)]),
            0
        );
        assert_eq!(failure_tolerance(&[s(true, true)]), 0);
        assert_eq!(
            failure_tolerance(&vec![s(true, true); 5]),
            2,
            "five healthy voters tolerate two failures"
        );
    }

    #[test]
    fn cleanup_keeps_a_quorum_and_the_minimum() {
        assert_eq!(removable_voters(3, 1, 0), 1);
        assert_eq!(removable_voters(3, 2, 0), 1);
        assert_eq!(removable_voters(5, 2, 0), 2);
        assert_eq!(removable_voters(5, 2, 4), 1);
        assert_eq!(removable_voters(1, 1, 0), 0);
    }
}
