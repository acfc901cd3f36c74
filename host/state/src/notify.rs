//! Change notification for blocking queries: one `watch` channel per table carrying the raft
//! index of its last change. Waiters hold receivers; nothing runs per waiter.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::watch;

use crate::change::{ChangeSet, Table};

/// The notifier's channels are gone (every `Notifier` clone was dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("state store notifier closed")]
pub struct NotifierClosed;

/// Publishes table changes. Cheap to clone (shared channels).
#[derive(Clone, Debug)]
pub struct Notifier {
    senders: Arc<[watch::Sender<u64>; 6]>,
}

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
        }
    }

    /// Signals every table in `changes` as changed at `index`.
    pub fn notify(&self, changes: &ChangeSet, index: u64) {
        for table in &changes.tables {
            self.notify_table(*table, index);
        }
    }

    /// Signals every table as changed at `index` (after a restore).
    pub fn notify_all(&self, index: u64) {
        for table in Table::ALL {
            self.notify_table(table, index);
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
