//! KV transactions (Consul `/v1/txn`): every operation runs in order against the state the
//! previous ones left; if any fails, the command is rolled back and only the errors are returned.

use crate::command::{TxnError, TxnKvOp, TxnKvVerb, TxnOp, TxnResult};
use crate::error::StateError;
use crate::kv::norm_session;
use crate::store::Store;
use crate::types::KvEntry;

/// A copy of an entry without its value (Consul returns values only for `get` and `get-tree`).
fn without_value(e: &KvEntry) -> KvEntry {
    KvEntry {
        value: Vec::new(),
        ..e.clone()
    }
}

impl Store {
    /// Runs a read-write transaction. The caller rolls back when `errors` is not empty.
    pub(crate) fn txn(&mut self, idx: u64, ops: &[TxnOp]) -> TxnResult {
        let mut result = TxnResult::default();
        for (op_index, op) in ops.iter().enumerate() {
            match self.txn_op(idx, op) {
                Ok(entries) => result.results.extend(entries),
                Err(e) => result.errors.push(TxnError {
                    op_index,
                    what: e.to_string(),
                }),
            }
        }
        if !result.errors.is_empty() {
            result.results.clear();
        }
        result
    }

    /// Runs a transaction of read operations only, without raft (Consul `TxnRO`). A write
    /// operation is reported as an error.
    pub fn read_txn(&self, ops: &[TxnOp]) -> TxnResult {
        let mut result = TxnResult::default();
        for (op_index, op) in ops.iter().enumerate() {
            let TxnOp::Kv(op) = op;
            match self.txn_read_op(op) {
                Ok(entries) => result.results.extend(entries),
                Err(e) => result.errors.push(TxnError {
                    op_index,
                    what: e.to_string(),
                }),
            }
        }
        if !result.errors.is_empty() {
            result.results.clear();
        }
        result
    }

    fn txn_op(&mut self, idx: u64, op: &TxnOp) -> Result<Vec<KvEntry>, StateError> {
        let TxnOp::Kv(op) = op;
        let entry = KvEntry {
            key: op.key.clone(),
            value: op.value.clone(),
            flags: op.flags,
            session: norm_session(op.session.clone()),
            ..KvEntry::default()
        };
        let written = match op.verb {
            TxnKvVerb::Set => Some(self.kv_set(idx, entry, false)),
            TxnKvVerb::Delete => {
                self.kv_delete(idx, &op.key);
                None
            }
            TxnKvVerb::DeleteCas => {
                if !self.kv_delete_cas(idx, &op.key, op.index) {
                    return Err(StateError::TxnDeleteStale(op.key.clone()));
                }
                None
            }
            TxnKvVerb::DeleteTree => {
                self.kv_delete_tree(idx, &op.key);
                None
            }
            TxnKvVerb::Cas => Some(
                self.kv_cas(idx, entry, op.index)
                    .ok_or_else(|| StateError::TxnSetStale(op.key.clone()))?,
            ),
            TxnKvVerb::Lock => Some(
                self.kv_lock(idx, entry)?
                    .ok_or_else(|| StateError::TxnLockHeld(op.key.clone()))?,
            ),
            TxnKvVerb::Unlock => Some(
                self.kv_unlock(idx, entry)?
                    .ok_or_else(|| StateError::TxnUnlockNotHeld(op.key.clone()))?,
            ),
            TxnKvVerb::Get
            | TxnKvVerb::GetOrEmpty
            | TxnKvVerb::GetTree
            | TxnKvVerb::CheckIndex
            | TxnKvVerb::CheckSession
            | TxnKvVerb::CheckNotExists => return self.txn_read_op(op),
        };
        Ok(written.map(|e| without_value(&e)).into_iter().collect())
    }

    fn txn_read_op(&self, op: &TxnKvOp) -> Result<Vec<KvEntry>, StateError> {
        let key = &op.key;
        match op.verb {
            TxnKvVerb::Get => match self.kvs.get(key) {
                Some(e) => Ok(vec![e.clone()]),
                None => Err(StateError::TxnKeyMissing(key.clone())),
            },
            TxnKvVerb::GetOrEmpty => Ok(vec![self.kvs.get(key).cloned().unwrap_or_else(|| {
                KvEntry {
                    key: key.clone(),
                    flags: op.flags,
                    session: norm_session(op.session.clone()),
                    ..KvEntry::default()
                }
            })]),
            TxnKvVerb::GetTree => Ok(self.kv_range(key).cloned().collect()),
            TxnKvVerb::CheckIndex => {
                let e = self
                    .kvs
                    .get(key)
                    .ok_or_else(|| StateError::TxnCheckIndexMissing(key.clone()))?;
                if e.modify_index != op.index {
                    return Err(StateError::TxnIndexMismatch {
                        key: key.clone(),
                        current: e.modify_index,
                        wanted: op.index,
                    });
                }
                Ok(vec![without_value(e)])
            }
            TxnKvVerb::CheckSession => {
                let e = self
                    .kvs
                    .get(key)
                    .ok_or_else(|| StateError::TxnCheckSessionMissing(key.clone()))?;
                let wanted = norm_session(op.session.clone());
                if e.session != wanted {
                    return Err(StateError::TxnSessionMismatch {
                        key: key.clone(),
                        current: e.session.clone().unwrap_or_default(),
                        wanted: wanted.unwrap_or_default(),
                    });
                }
                Ok(vec![without_value(e)])
            }
            TxnKvVerb::CheckNotExists => match self.kvs.get(key) {
                Some(_) => Err(StateError::TxnKeyExists(key.clone())),
                None => Ok(Vec::new()),
            },
            TxnKvVerb::Set
            | TxnKvVerb::Delete
            | TxnKvVerb::DeleteCas
            | TxnKvVerb::DeleteTree
            | TxnKvVerb::Cas
            | TxnKvVerb::Lock
            | TxnKvVerb::Unlock => Err(StateError::TxnNotReadOnly(op.verb.as_str())),
        }
    }
}
