//! Change notification for blocking queries: one `watch` channel per table carrying the raft
//! index of its last change, plus one channel per watched KV key or prefix so that a KV write
//! wakes only the waiters whose key or prefix it touches. Waiters hold receivers; nothing runs
//! per waiter.

use std::collections::BTreeMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use tokio::sync::watch;

use crate::change::{ChangeSet, Table};

/// Number of tables (one watch channel each).
const TABLES: usize = Table::ALL.len();

/// The notifier's channels are gone (every `Notifier` clone was dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("state store notifier closed")]
pub struct NotifierClosed;

/// Publishes table changes. Cheap to clone (shared channels).
#[derive(Clone, Debug)]
pub struct Notifier {
    senders: Arc<[watch::Sender<u64>; TABLES]>,
    /// KV key or prefix -> channel of its waiters (entries without receivers are pruned).
    kv: Arc<Mutex<BTreeMap<String, watch::Sender<u64>>>>,
    notifies: Arc<AtomicU64>,
}

/// Prune dead KV channels once every this many notifications.
const PRUNE_EVERY: u64 = 1024;

impl Default for Notifier {
    fn default() -> Self {
        Notifier::new()
    }
}

impl Notifier {
    /// A notifier whose tables are all at index 0.
    pub fn new() -> Self {
        Notifier {
            senders: Arc::new(std::array::from_fn(|_| watch::Sender::new(0))),
            kv: Arc::new(Mutex::new(BTreeMap::new())),
            notifies: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Signals every table in `changes` as changed at `index`.
    pub fn notify(&self, changes: &ChangeSet, index: u64) {
        for table in &changes.tables {
            self.notify_table(*table, index);
        }
        let kv_touched =
            changes.tables.contains(&Table::Kvs) || changes.tables.contains(&Table::Tombstones);
        if kv_touched {
            let mut kv = self.kv.lock().unwrap_or_else(PoisonError::into_inner);
            if changes.kv_keys.is_empty() {
                // A change without named keys (a tombstone reap): every KV waiter re-checks.
                kv.values().for_each(|tx| {
                    tx.send_replace(index);
                });
            } else {
                for key in &changes.kv_keys {
                    // Every prefix of the key (including "" and the key itself) may be watched.
                    let ends = key
                        .char_indices()
                        .map(|(i, _)| i)
                        .chain(std::iter::once(key.len()));
                    for end in ends {
                        if let Some(tx) = kv.get(&key[..end]) {
                            tx.send_replace(index);
                        }
                    }
                }
            }
            if self
                .notifies
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(PRUNE_EVERY)
            {
                kv.retain(|_, tx| tx.receiver_count() > 0);
            }
        }
    }

    /// A watch woken by writes to `prefix` or any key under it (a single key is a prefix too:
    /// a write to a longer key only causes a harmless re-check).
    pub fn subscribe_kv(&self, prefix: &str) -> Watch {
        let mut kv = self.kv.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = kv
            .entry(prefix.to_string())
            .or_insert_with(|| watch::Sender::new(0));
        Watch {
            receivers: vec![tx.subscribe()],
        }
    }

    /// Number of KV keys/prefixes with a channel (live or not yet pruned).
    pub fn kv_channels(&self) -> usize {
        self.kv.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Signals every table as changed at `index` (after a restore).
    pub fn notify_all(&self, index: u64) {
        for table in Table::ALL {
            self.notify_table(table, index);
        }
        for tx in self
            .kv
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            tx.send_replace(index);
        }
    }

    fn notify_table(&self, table: Table, index: u64) {
        self.senders[table.slot()].send_replace(index);
    }

    /// A watch on `tables` that fires for changes made after this call.
    pub fn subscribe(&self, tables: &[Table]) -> Watch {
        let mut slots: Vec<usize> = tables.iter().map(|t| t.slot()).collect();
        slots.sort_unstable();
        slots.dedup();
        Watch {
            receivers: slots
                .into_iter()
                .map(|s| self.senders[s].subscribe())
                .collect(),
        }
    }
}

/// A subscription to some tables. Dropping it (or the `changed` future) cancels the wait.
#[derive(Debug)]
pub struct Watch {
    receivers: Vec<watch::Receiver<u64>>,
}

type ChangedFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), watch::error::RecvError>> + Send + 'a>>;

impl Watch {
    /// Resolves once any watched table changed since the subscription or the previous
    /// `changed()`. Never resolves for a watch on no tables.
    pub async fn changed(&mut self) -> Result<(), NotifierClosed> {
        let mut waits: Vec<ChangedFuture<'_>> = self
            .receivers
            .iter_mut()
            .map(|rx| Box::pin(rx.changed()) as ChangedFuture<'_>)
            .collect();
        poll_fn(|cx| {
            for wait in waits.iter_mut() {
                if let Poll::Ready(r) = wait.as_mut().poll(cx) {
                    return Poll::Ready(r.map_err(|_| NotifierClosed));
                }
            }
            Poll::Pending
        })
        .await
    }
}
