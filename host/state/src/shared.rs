//! `SharedStore`: the store behind a lock plus its notifier, and the blocking-query loop.

use std::sync::{PoisonError, RwLock};

use tokio::time::Instant;

use crate::command::{Command, CommandResult};
use crate::notify::Notifier;
use crate::query::{Query, QueryOutput, QueryResult};
use crate::store::{Store, StoreSnapshot};

/// A store shared between the raft apply loop (writer) and readers, with change notification.
#[derive(Debug, Default)]
pub struct SharedStore {
    inner: RwLock<Store>,
    notifier: Notifier,
}

impl SharedStore {
    /// Wraps a store.
    pub fn new(store: Store) -> Self {
        SharedStore {
            inner: RwLock::new(store),
            notifier: Notifier::new(),
        }
    }

    /// The notifier (to subscribe to table changes directly).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Applies a command and wakes the blocking queries on the tables it changed.
    pub fn apply(&self, index: u64, cmd: Command) -> CommandResult {
        let (result, changes) = {
            let mut store = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            store.apply(index, cmd)
        };
        if !changes.is_empty() {
            tracing::trace!(index, tables = ?changes.tables, "State changed");
            self.notifier.notify(&changes, index);
        }
        result
    }

    /// Runs `f` with read access to the store.
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        let store = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        f(&store)
    }

    /// Runs a read now.
    pub fn query(&self, q: &Query) -> QueryOutput {
        self.read(|s| s.query(q))
    }

    /// Sorts node lists by estimated round-trip time from node `near` (see
    /// [`Store::sort_by_near`]).
    pub fn sort_by_near(&self, result: &mut QueryResult, near: &str) {
        self.read(|s| s.sort_by_near(result, near));
    }

    /// The raft index of the last applied command.
    pub fn last_index(&self) -> u64 {
        self.read(Store::last_index)
    }

    /// A serializable copy of the store.
    pub fn snapshot(&self) -> StoreSnapshot {
        self.read(Store::snapshot)
    }

    /// Replaces the store with a snapshot's content and wakes every blocking query.
    pub fn restore(&self, snap: StoreSnapshot) {
        let restored = Store::restore(snap);
        let index = restored.last_index();
        {
            let mut store = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            *store = restored;
        }
        tracing::debug!(index, "State store restored from a snapshot");
        self.notifier.notify_all(index);
    }

    /// Consul's blocking query: answers at once when `min_index` is 0 or the answer's index is
    /// already past it; otherwise waits for a change of the query's tables and re-runs it, until
    /// the index moves past `min_index` or `deadline` passes (then answers with the current state).
    pub async fn blocking_query(
        &self,
        q: &Query,
        min_index: u64,
        deadline: Instant,
    ) -> QueryOutput {
        if min_index == 0 {
            return self.query(q);
        }
        let mut watch = match q.kv_prefix() {
            Some(prefix) => self.notifier.subscribe_kv(prefix),
            None => self.notifier.subscribe(q.tables()),
        };
        loop {
            let out = self.query(q);
            if out.index > min_index {
                return out;
            }
            match tokio::time::timeout_at(deadline, watch.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(closed)) => {
                    tracing::debug!(%closed, "Waiting out a blocking query without notifications");
                    tokio::time::sleep_until(deadline).await;
                    return self.query(q);
                }
                Err(_elapsed) => return self.query(q),
            }
        }
    }
}
