//! The `config_entries` table: Consul's config entries (`proxy-defaults`, `service-defaults`,
//! `service-intentions`, ...), keyed by kind and name, with `?cas` writes and the diff a
//! secondary datacenter applies when it replicates the primary's entries.
//!
//! The body is the entry's canonical JSON, validated by the proposer (`praetor-mesh`); the
//! state machine only keys, indexes and compares it.

use serde::{Deserialize, Serialize};

use crate::change::Table;
use crate::query::QueryResult;
use crate::store::Store;

/// One stored config entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// Canonical kind name, e.g. `proxy-defaults`.
    pub kind: String,
    pub name: String,
    /// Canonical JSON without indexes (`praetor_mesh::ConfigEntry::to_stored`).
    pub body: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl ConfigEntry {
    pub(crate) fn key(&self) -> (String, String) {
        (self.kind.clone(), self.name.clone())
    }
}

impl Store {
    /// `ConfigEntry.Apply`: with `cas`, only when the stored entry's modify index equals it
    /// (`0` = only if absent). A body equal to the stored one changes nothing (and succeeds).
    pub(crate) fn config_entry_set(
        &mut self,
        idx: u64,
        mut entry: ConfigEntry,
        cas: Option<u64>,
    ) -> bool {
        let key = entry.key();
        let existing = self.config_entries.get(&key);
        match (cas, existing) {
            (Some(0), Some(_)) => return false,
            (Some(n), Some(e)) if n != 0 && e.modify_index != n => return false,
            (Some(n), None) if n != 0 => return false,
            _ => {}
        }
        if let Some(e) = existing {
            if e.body == entry.body {
                return true;
            }
            entry.create_index = e.create_index;
        } else {
            entry.create_index = idx;
        }
        entry.modify_index = idx;
        self.put_config_entry(key, Some(entry));
        self.touch(Table::ConfigEntries, idx);
        true
    }

    /// `ConfigEntry.Delete`: an absent entry is a success; with `cas`, only when the stored
    /// entry's modify index equals it.
    pub(crate) fn config_entry_delete(
        &mut self,
        idx: u64,
        kind: String,
        name: String,
        cas: Option<u64>,
    ) -> bool {
        let key = (kind, name);
        let Some(existing) = self.config_entries.get(&key) else {
            return cas.is_none_or(|n| n == 0);
        };
        if cas.is_some_and(|n| n != existing.modify_index) {
            return false;
        }
        self.put_config_entry(key, None);
        self.touch(Table::ConfigEntries, idx);
        true
    }

    /// A secondary's copy of the primary's entries: entries missing in `remote` are deleted,
    /// new ones created, changed bodies updated; unchanged ones keep their indexes.
    pub(crate) fn config_entries_replicate(&mut self, idx: u64, remote: Vec<ConfigEntry>) {
        let remote: std::collections::BTreeMap<_, _> =
            remote.into_iter().map(|e| (e.key(), e)).collect();
        let gone: Vec<_> = self
            .config_entries
            .keys()
            .filter(|k| !remote.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            self.put_config_entry(key, None);
            self.touch(Table::ConfigEntries, idx);
        }
        for (key, entry) in remote {
            if self
                .config_entries
                .get(&key)
                .is_some_and(|e| e.body == entry.body)
            {
                continue;
            }
            self.config_entry_set(idx, entry, None);
        }
    }

    pub(crate) fn config_entries_get(&self, kind: Option<&str>, name: Option<&str>) -> QueryResult {
        QueryResult::ConfigEntries(
            self.config_entries
                .values()
                .filter(|e| kind.is_none_or(|k| e.kind == k))
                .filter(|e| name.is_none_or(|n| e.name == n))
                .cloned()
                .collect(),
        )
    }
}
