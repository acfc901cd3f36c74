//! Sessions: creation with Consul's validation, and invalidation (release or delete the held
//! keys, start their lock delay).

use crate::change::Table;
use crate::error::StateError;
use crate::store::{PairKey, Store, fold};
use crate::types::{CheckStatus, Session, SessionBehavior};

/// Consul's `structs.MaxLockDelay`: a session's lock delay is capped at 60 s.
pub const MAX_LOCK_DELAY_MS: u64 = 60_000;

impl Store {
    /// Creates a session (Consul `sessionCreateTxn`): the node and every check must exist, and no
    /// check may be critical.
    pub(crate) fn session_create(
        &mut self,
        idx: u64,
        mut session: Session,
    ) -> Result<(), StateError> {
        if session.id.is_empty() {
            return Err(StateError::MissingSessionId);
        }
        if self.sessions.contains_key(&session.id) {
            return Err(StateError::SessionExists(session.id));
        }
        let node_key = fold(&session.node);
        if !self.nodes.contains_key(&node_key) {
            return Err(StateError::MissingNode);
        }
        for check_id in session.check_ids() {
            match self.checks.get(&(node_key.clone(), fold(check_id))) {
                None => return Err(StateError::MissingCheck(check_id.to_string())),
                Some(c) if c.status == CheckStatus::Critical => {
                    return Err(StateError::CheckCritical(check_id.to_string()));
                }
                Some(_) => {}
            }
        }
        session.create_index = idx;
        session.modify_index = idx;
        self.put_session(session.id.clone(), Some(session));
        self.touch(Table::Sessions, idx);
        Ok(())
    }

    /// Invalidates a session (no-op if absent): deletes it, releases or deletes every key it
    /// holds, and starts the lock delay of those keys at `now_ms`.
    pub(crate) fn invalidate_session(&mut self, idx: u64, id: &str, now_ms: u64) {
        let Some(session) = self.sessions.get(id).cloned() else {
            return;
        };
        self.put_session(id.to_string(), None);
        self.touch(Table::Sessions, idx);
        self.delete_queries_of_session(idx, id);

        let delay = session.lock_delay_ms.min(MAX_LOCK_DELAY_MS);
        let keys: Vec<String> = self
            .kvs_by_session
            .get(id)
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default();
        for key in &keys {
            match session.behavior {
                SessionBehavior::Release => {
                    if let Some(mut entry) = self.kvs.get(key).cloned() {
                        entry.session = None;
                        self.kv_set(idx, entry, true);
                    }
                }
                SessionBehavior::Delete => {
                    self.kv_delete(idx, key);
                }
            }
            if delay > 0 {
                let until = now_ms.saturating_add(delay);
                let until = self
                    .lock_delays
                    .get(key)
                    .map_or(until, |old| until.max(*old));
                self.put_lock_delay(key.clone(), Some(until));
            }
        }
        tracing::debug!(session = id, node = %session.node, keys = keys.len(), "Session invalidated");
    }

    /// Invalidates every session bound to a check (it went critical or was deregistered).
    pub(crate) fn invalidate_sessions_of_check(
        &mut self,
        check_key: &PairKey,
        idx: u64,
        now_ms: u64,
    ) {
        let ids: Vec<String> = self
            .sessions_by_check
            .get(check_key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for id in ids {
            self.invalidate_session(idx, &id, now_ms);
        }
    }
}
