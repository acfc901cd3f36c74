//! Autopilot's configuration (Consul `structs.AutopilotConfig`): one row, written by the leader
//! on first leadership (Consul's defaults) and by `PUT /v1/operator/autopilot/configuration`,
//! optionally check-and-set on its `modify_index`.

use serde::{Deserialize, Serialize};

use crate::query::QueryResult;
use crate::store::Store;

/// How autopilot manages the servers of a datacenter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotConfig {
    /// Remove failed and left servers from raft.
    pub cleanup_dead_servers: bool,
    /// A server whose last contact with the leader is older than this is unhealthy.
    pub last_contact_threshold_ms: u64,
    /// A server this many log entries behind the leader is unhealthy.
    pub max_trailing_logs: u64,
    /// Dead-server cleanup never leaves fewer voters than this.
    pub min_quorum: u32,
    /// How long a new server must be healthy before it counts as stable.
    pub server_stabilization_time_ms: u64,
    /// Enterprise keys, stored and shown only.
    pub redundancy_zone_tag: String,
    pub disable_upgrade_migration: bool,
    pub upgrade_version_tag: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Default for AutopilotConfig {
    /// Consul's defaults (`NewAutopilotConfiguration`).
    fn default() -> Self {
        AutopilotConfig {
            cleanup_dead_servers: true,
            last_contact_threshold_ms: 200,
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time_ms: 10_000,
            redundancy_zone_tag: String::new(),
            disable_upgrade_migration: false,
            upgrade_version_tag: String::new(),
            create_index: 0,
            modify_index: 0,
        }
    }
}

impl Store {
    /// Stores the configuration; with `cas`, only if the stored `modify_index` equals it (0 =
    /// only if none is stored). Returns whether it was written.
    pub(crate) fn autopilot_set(
        &mut self,
        idx: u64,
        mut config: AutopilotConfig,
        cas: Option<u64>,
    ) -> bool {
        let current = self.autopilot.as_ref().map_or(0, |c| c.modify_index);
        if cas.is_some_and(|cas| cas != current) {
            return false;
        }
        config.create_index = self.autopilot.as_ref().map_or(idx, |c| c.create_index);
        config.modify_index = idx;
        self.autopilot = Some(config);
        true
    }

    /// The stored configuration and its index.
    pub(crate) fn autopilot_get(&self) -> (u64, QueryResult) {
        let index = self.autopilot.as_ref().map_or(0, |c| c.modify_index);
        (index, QueryResult::Autopilot(self.autopilot.clone()))
    }
}
