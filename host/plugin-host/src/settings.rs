//! Operator-facing configuration: per-slot limits and grants, and the host's configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Capabilities a join provider may use through `discovery-host`; everything is denied by
/// default. Only join-provider slots use them (other worlds cannot import `discovery-host`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// `resolve` (A, AAAA, SRV through the system resolver).
    pub dns: bool,
    /// Directories whose files (after canonicalization) `read-file` may read.
    pub read_paths: Vec<PathBuf>,
    /// Host names (or IP literals) `http-get` may fetch from, compared case-insensitively.
    pub http_hosts: Vec<String>,
}

/// Limits of one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSettings {
    /// Wall-clock budget of one call (enforced by epoch interruption, 1 ms resolution).
    pub deadline: Duration,
    /// Linear-memory cap of one instance (at most [`crate::MAX_MEMORY_BYTES`]).
    pub memory_bytes: usize,
    /// Warm instances kept per slot.
    pub pool_size: usize,
    /// Consecutive failed calls after which the slot reverts to its built-in component.
    pub max_consecutive_failures: u32,
    /// Capabilities (join providers only).
    pub grants: Grants,
}

impl Default for SlotSettings {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(5),
            memory_bytes: 16 << 20,
            pool_size: 4,
            max_consecutive_failures: 5,
            grants: Grants::default(),
        }
    }
}

impl SlotSettings {
    /// Defaults for a join provider: discovery does I/O, so its deadline is 10 s.
    pub fn join_default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
            pool_size: 1,
            ..Self::default()
        }
    }
}

/// Configuration of a [`crate::PluginHost`].
#[derive(Debug, Clone, Default)]
pub struct PluginHostConfig {
    /// Settings per slot name (`translator`, `router`, `intentions`, `join:<provider>`);
    /// slots not listed use [`SlotSettings::default`] (join providers
    /// [`SlotSettings::join_default`]; the built-in `join:dns` is granted `dns`).
    pub slots: BTreeMap<String, SlotSettings>,
    /// Verdict when no intention matches (ACL default policy "allow").
    pub default_allow: bool,
}

impl PluginHostConfig {
    /// The settings a slot uses.
    pub fn settings_for(&self, slot: &str) -> SlotSettings {
        if let Some(s) = self.slots.get(slot) {
            return s.clone();
        }
        if slot == "join:dns" {
            return SlotSettings {
                grants: Grants {
                    dns: true,
                    ..Grants::default()
                },
                ..SlotSettings::join_default()
            };
        }
        if slot.starts_with("join:") {
            SlotSettings::join_default()
        } else {
            SlotSettings::default()
        }
    }

    /// Sets one slot's settings (builder style).
    pub fn with_slot(mut self, slot: &str, settings: SlotSettings) -> Self {
        self.slots.insert(slot.to_owned(), settings);
        self
    }
}
