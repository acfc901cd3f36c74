//! Policy plugins in the agent: the plugin host built from config, the `plugin "<slot>"` blocks
//! loaded at start and on every reload, and the go-discover `provider=...` entries of
//! `retry_join` answered by join-provider slots.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use praetor_api::PluginInfo;
use praetor_config::PluginSlot;
use praetor_plugin_host::{
    Grants, LoadRequest, PluginHost, PluginHostConfig, SlotInfo, SlotSettings,
};

/// Slot settings (deadline, memory, failure limit, grants) from a config block.
fn settings(slot: &PluginSlot, host_default: SlotSettings) -> SlotSettings {
    SlotSettings {
        deadline: slot.call_timeout.unwrap_or(host_default.deadline),
        memory_bytes: slot
            .memory_limit
            .map(|m| m as usize)
            .unwrap_or(host_default.memory_bytes),
        max_consecutive_failures: slot
            .max_failures
            .unwrap_or(host_default.max_consecutive_failures),
        grants: Grants {
            dns: slot.grants.dns || host_default.grants.dns,
            read_paths: slot.grants.read_paths.clone(),
            http_hosts: slot.grants.http_hosts.clone(),
        },
        ..host_default
    }
}

/// The host's configuration for these plugin blocks.
pub fn host_config(slots: &[PluginSlot]) -> PluginHostConfig {
    let mut cfg = PluginHostConfig {
        default_allow: true,
        ..PluginHostConfig::default()
    };
    for s in slots {
        let base = cfg.settings_for(&s.slot);
        cfg = cfg.with_slot(&s.slot, settings(s, base));
    }
    cfg
}

/// Reads and loads every configured slot; slots no longer configured get their built-in back.
/// Returns the first error (start-up treats it as a configuration error).
pub async fn apply(
    host: &PluginHost,
    slots: &[PluginSlot],
    loaded: &Mutex<BTreeSet<String>>,
) -> Result<(), String> {
    let mut now = BTreeSet::new();
    for s in slots {
        // A block without a path only sets the limits of the slot's built-in.
        let Some(path) = &s.path else { continue };
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| format!("plugin.{}.path: {}: {e}", s.slot, path.display()))?;
        let req = LoadRequest {
            bytes,
            config_json: s.config_json.clone(),
            name: None,
            path: Some(path.clone()),
        };
        let info = host
            .load_request(&s.slot, req)
            .await
            .map_err(|e| format!("plugin.{}: {e}", s.slot))?;
        tracing::info!(slot = %info.slot, component = %info.component, sha256 = info.short_hash(), "plugin loaded");
        now.insert(s.slot.clone());
    }
    let before = std::mem::replace(
        &mut *loaded.lock().unwrap_or_else(|e| e.into_inner()),
        now.clone(),
    );
    for gone in before.difference(&now) {
        match host.revert(gone) {
            Ok(()) => tracing::info!(slot = %gone, "plugin slot back to its built-in"),
            Err(e) => tracing::warn!(slot = %gone, error = %e, "cannot revert plugin slot"),
        }
    }
    Ok(())
}

pub fn info(i: &SlotInfo) -> PluginInfo {
    PluginInfo {
        slot: i.slot.clone(),
        world: i.world.to_string(),
        component: i.component.clone(),
        source: i.source.to_string(),
        sha256: i.sha256.clone(),
        loaded_at_unix: i
            .loaded_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        calls: i.calls,
        failures: i.failures,
        consecutive_failures: i.consecutive_failures,
        state: i.state.to_string(),
    }
}

/// Expands a `retry_join` entry: "provider=NAME k=v ..." goes to the join provider slot
/// `join:NAME`; anything else is an address as written.
pub async fn expand_join(host: &PluginHost, entry: &str) -> Vec<String> {
    if !entry.trim_start().starts_with("provider=") {
        return vec![entry.to_string()];
    }
    let args = match praetor_policy::parse_args(entry) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(entry, error = %e, "invalid go-discover entry");
            return Vec::new();
        }
    };
    let provider = args
        .iter()
        .find(|(k, _)| k == "provider")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    match host.discover(&provider, args).await {
        Ok(addrs) => {
            tracing::info!(provider, ?addrs, "Discovered join addresses");
            addrs
        }
        Err(e) => {
            tracing::warn!(provider, error = %e, "discovery failed");
            Vec::new()
        }
    }
}

/// The router slot as the rpc layer's [`praetor_rpc::RoutePolicy`]: datacenter ranking and the
/// choice of a server in another datacenter go through the (swappable) component.
pub struct RouterSlot(pub PluginHost);

impl praetor_rpc::RoutePolicy for RouterSlot {
    fn rank(
        &self,
        local_datacenter: &str,
        candidates: &[praetor_policy::Candidate],
    ) -> Vec<String> {
        self.0.rank(local_datacenter, candidates)
    }

    fn pick(&self, request: &praetor_policy::RouteRequest) -> Option<praetor_policy::Route> {
        self.0.pick(request)
    }
}
