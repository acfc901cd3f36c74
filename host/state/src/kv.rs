//! KV writes with Consul's semantics: set, check-and-set, lock/unlock with sessions and lock
//! delay, deletes with tombstones.

use crate::change::Table;
use crate::command::KvOp;
use crate::error::StateError;
use crate::store::Store;
use crate::types::KvEntry;

/// Treats an empty session ID as no session (Consul uses "" for none).
pub(crate) fn norm_session(session: Option<String>) -> Option<String> {
    session.filter(|s| !s.is_empty())
}

/// Consul `DirEntry.Equal`: the fields a write can change.
fn same_entry(a: &KvEntry, b: &KvEntry) -> bool {
    a.lock_index == b.lock_index
        && a.key == b.key
        && a.flags == b.flags
        && a.value == b.value
        && a.session == b.session
}

impl Store {
    /// Applies a single-key KV command (`Command::KvSet`).
    pub(crate) fn kv_apply(
        &mut self,
        idx: u64,
        op: KvOp,
        mut entry: KvEntry,
        cas_index: u64,
        now_ms: u64,
    ) -> Result<bool, StateError> {
        if entry.key.is_empty() && op != KvOp::DeleteTree {
            return Err(StateError::MissingKey);
        }
        entry.session = norm_session(entry.session);
        match op {
            KvOp::Set => {
                self.kv_set(idx, entry, false);
                Ok(true)
            }
            KvOp::Cas => Ok(self.kv_cas(idx, entry, cas_index).is_some()),
            KvOp::Lock => {
                if let Some(until) = self
                    .lock_delays
                    .get(&entry.key)
                    .filter(|until| now_ms < **until)
                {
                    tracing::warn!(key = %entry.key, until_ms = *until, "Rejecting lock of key due to lock-delay");
                    return Ok(false);
                }
                Ok(self.kv_lock(idx, entry)?.is_some())
            }
            KvOp::Unlock => Ok(self.kv_unlock(idx, entry)?.is_some()),
            KvOp::Delete => {
                self.kv_delete(idx, &entry.key);
                Ok(true)
            }
            KvOp::DeleteCas => Ok(self.kv_delete_cas(idx, &entry.key, cas_index)),
            KvOp::DeleteTree => {
                self.kv_delete_tree(idx, &entry.key);
                Ok(true)
            }
        }
    }

    /// Writes an entry (Consul `kvsSetTxn`). Unless `update_session`, the key keeps its current
    /// session. An identical write keeps the indexes. Returns the entry as stored.
    pub(crate) fn kv_set(&mut self, idx: u64, mut entry: KvEntry, update_session: bool) -> KvEntry {
        let existing = self.kvs.get(&entry.key);
        entry.create_index = existing.map_or(idx, |e| e.create_index);
        if !update_session {
            entry.session = existing.and_then(|e| e.session.clone());
        }
        if let Some(e) = existing
            && same_entry(e, &entry)
        {
            entry.modify_index = e.modify_index;
            return entry;
        }
        entry.modify_index = idx;
        self.put_kv(entry.key.clone(), Some(entry.clone()));
        self.touch(Table::Kvs, idx);
        self.changes.kv_keys.insert(entry.key.clone());
        entry
    }

    /// Check-and-set: writes only if the key's modify index is `cas` (0 = only if absent).
    pub(crate) fn kv_cas(&mut self, idx: u64, entry: KvEntry, cas: u64) -> Option<KvEntry> {
        let allowed = match self.kvs.get(&entry.key) {
            None => cas == 0,
            Some(e) => cas != 0 && e.modify_index == cas,
        };
        allowed.then(|| self.kv_set(idx, entry, false))
    }

    /// Acquires the lock on a key for `entry.session` and writes the entry. `Ok(None)` when
    /// another session holds it.
    pub(crate) fn kv_lock(
        &mut self,
        idx: u64,
        mut entry: KvEntry,
    ) -> Result<Option<KvEntry>, StateError> {
        let Some(session) = norm_session(entry.session.take()) else {
            return Err(StateError::MissingSession);
        };
        if !self.sessions.contains_key(&session) {
            return Err(StateError::InvalidSession(session));
        }
        match self.kvs.get(&entry.key) {
            Some(e) if e.session.as_deref() == Some(session.as_str()) => {
                entry.lock_index = e.lock_index
            }
            Some(e) if e.session.is_some() => return Ok(None),
            Some(e) => entry.lock_index = e.lock_index.saturating_add(1),
            None => entry.lock_index = 1,
        }
        entry.session = Some(session);
        Ok(Some(self.kv_set(idx, entry, true)))
    }

    /// Releases the lock `entry.session` holds on a key and writes the entry. `Ok(None)` when
    /// the key is absent or not held by that session.
    pub(crate) fn kv_unlock(
        &mut self,
        idx: u64,
        mut entry: KvEntry,
    ) -> Result<Option<KvEntry>, StateError> {
        let Some(session) = norm_session(entry.session.take()) else {
            return Err(StateError::MissingSession);
        };
        let Some(e) = self.kvs.get(&entry.key) else {
            return Ok(None);
        };
        if e.session.as_deref() != Some(session.as_str()) {
            return Ok(None);
        }
        entry.lock_index = e.lock_index;
        Ok(Some(self.kv_set(idx, entry, true)))
    }

    /// Deletes a key and leaves a tombstone. Returns false if the key was absent.
    pub(crate) fn kv_delete(&mut self, idx: u64, key: &str) -> bool {
        if !self.kvs.contains_key(key) {
            return false;
        }
        self.put_kv(key.to_string(), None);
        self.put_tombstone(key.to_string(), Some(idx));
        self.touch(Table::Kvs, idx);
        self.touch(Table::Tombstones, idx);
        self.changes.kv_keys.insert(key.to_string());
        true
    }

    /// Deletes a key only if its modify index is `cas`; true also when the key is absent.
    pub(crate) fn kv_delete_cas(&mut self, idx: u64, key: &str, cas: u64) -> bool {
        match self.kvs.get(key) {
            None => true,
            Some(e) if e.modify_index != cas => false,
            Some(_) => self.kv_delete(idx, key),
        }
    }

    /// Deletes every key starting with `prefix` (a tombstone for each).
    pub(crate) fn kv_delete_tree(&mut self, idx: u64, prefix: &str) {
        let keys: Vec<String> = self.kv_range(prefix).map(|e| e.key.clone()).collect();
        for key in keys {
            self.kv_delete(idx, &key);
        }
    }

    /// The entries whose key starts with `prefix`, in key order.
    pub(crate) fn kv_range<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a KvEntry> {
        self.kvs
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e)
    }

    /// The highest tombstone index under `prefix` (0 if none).
    pub(crate) fn tombstone_max(&self, prefix: &str) -> u64 {
        self.tombstones
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0)
    }
}
