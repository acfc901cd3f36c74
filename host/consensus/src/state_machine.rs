//! The raft state machine: applies committed entries to the in-memory store and keeps the
//! latest snapshot in a file (`<data_dir>/raft/snapshot.bin`), so a restart is snapshot + log replay.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};
use praetor_state::format::{self, FORMAT_VERSION};
use praetor_state::{CommandResult, SharedStore, StoreSnapshot};
use serde::{Deserialize, Serialize};

use crate::types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

/// What a snapshot file holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotFile {
    pub(crate) meta: SnapshotMeta,
    pub(crate) data: Vec<u8>,
}

/// A snapshot file starts with this, then the format version (little-endian u32), then the
/// postcard bytes of [`SnapshotFile`]. A file without it is from before versions (version 1):
/// its first byte is `SnapshotMeta`'s option tag, 0 or 1, never `P`.
const SNAPSHOT_MAGIC: &[u8; 8] = b"PRAETORS";

impl SnapshotFile {
    pub(crate) fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        let mut out = SNAPSHOT_MAGIC.to_vec();
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        postcard::to_extend(self, out)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<SnapshotFile, crate::ConsensusError> {
        let body = match bytes.strip_prefix(SNAPSHOT_MAGIC.as_slice()) {
            Some(rest) => {
                let (version, body) = rest.split_first_chunk::<4>().ok_or_else(|| {
                    crate::ConsensusError::Snapshot("truncated snapshot header".into())
                })?;
                format::readable(u32::from_le_bytes(*version))?;
                body
            }
            None => bytes,
        };
        postcard::from_bytes(body).map_err(|e| crate::ConsensusError::Snapshot(e.to_string()))
    }
}

/// The state machine handed to openraft.
pub struct StateMachine {
    store: Arc<SharedStore>,
    applied: Option<LogId>,
    membership: StoredMembership,
    snapshot_path: Option<PathBuf>,
    /// The latest snapshot (also on disk when there is a data dir).
    current: Option<(SnapshotMeta, Vec<u8>)>,
    snapshot_seq: u64,
    metrics: Arc<crate::RaftCounters>,
}

fn sm_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(&e).into()
}

fn snap_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_snapshot(None, &e).into()
}

impl StateMachine {
    /// Opens the state machine, restoring the store from the snapshot file if there is one.
    pub(crate) fn open(
        store: Arc<SharedStore>,
        dir: Option<PathBuf>,
        metrics: Arc<crate::RaftCounters>,
    ) -> Result<Self, crate::ConsensusError> {
        let snapshot_path = dir.map(|d| d.join("snapshot.bin"));
        let mut sm = StateMachine {
            store,
            applied: None,
            membership: StoredMembership::default(),
            snapshot_path,
            current: None,
            snapshot_seq: 0,
            metrics,
        };
        if let Some(path) = &sm.snapshot_path
            && path.exists()
        {
            let bytes =
                std::fs::read(path).map_err(|e| crate::ConsensusError::Snapshot(e.to_string()))?;
            let file = SnapshotFile::decode(&bytes)?;
            sm.install(&file.meta, &file.data)
                .map_err(|e| crate::ConsensusError::Snapshot(e.to_string()))?;
            sm.current = Some((file.meta, file.data));
            tracing::info!(applied = ?sm.applied, "restored state from snapshot");
        }
        Ok(sm)
    }

    fn install(&mut self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), postcard::Error> {
        let snap: StoreSnapshot = postcard::from_bytes(data)?;
        self.store.restore(snap);
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        Ok(())
    }

    async fn persist(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StorageError> {
        let Some(path) = &self.snapshot_path else {
            return Ok(());
        };
        let file = SnapshotFile {
            meta: meta.clone(),
            data: data.to_vec(),
        };
        let bytes = file.encode().map_err(snap_err)?;
        write_durably(path.clone(), bytes).await
    }
}

/// Writes a snapshot file so that a crash leaves the old one or the new one, whole: a
/// temporary file, fsynced, renamed over the old one, then the directory fsynced (the rename
/// itself is durable only then). Runs off the async threads.
async fn write_durably(path: PathBuf, bytes: Vec<u8>) -> Result<(), StorageError> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })
    .await
    .map_err(snap_err)?
    .map_err(snap_err)
}

/// Builds a snapshot from a consistent copy of the store.
pub struct SnapshotBuilder {
    /// The store's bytes, or why it could not be serialized (never an empty stand-in).
    data: Result<Vec<u8>, String>,
    meta: SnapshotMeta,
    snapshot_path: Option<PathBuf>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let data = self
            .data
            .clone()
            .map_err(|e| snap_err(std::io::Error::other(format!("serializing the state: {e}"))))?;
        if let Some(path) = &self.snapshot_path {
            let file = SnapshotFile {
                meta: self.meta.clone(),
                data: data.clone(),
            };
            let bytes = file.encode().map_err(snap_err)?;
            write_durably(path.clone(), bytes).await?;
        }
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            let started = Instant::now();
            self.applied = Some(entry.log_id);
            let res = match entry.payload {
                EntryPayload::Blank => CommandResult::Ok,
                EntryPayload::Normal(cmd) => self.store.apply(entry.log_id.index, cmd),
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m);
                    CommandResult::Ok
                }
            };
            self.metrics.observe_apply(started.elapsed());
            out.push(res);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.snapshot_seq += 1;
        // Serialising here keeps the copy consistent with `applied` (apply is not running now).
        let data = postcard::to_allocvec(&self.store.snapshot()).map_err(|e| e.to_string());
        let snapshot_id = match self.applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, self.snapshot_seq),
            None => format!("0-0-{}", self.snapshot_seq),
        };
        let meta = SnapshotMeta {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        if let Ok(d) = &data {
            self.current = Some((meta.clone(), d.clone()));
        }
        SnapshotBuilder {
            data,
            meta,
            snapshot_path: self.snapshot_path.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        self.install(meta, &data).map_err(sm_err)?;
        self.persist(meta, &data).await?;
        self.current = Some((meta.clone(), data));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.current.as_ref().map(|(meta, data)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(data.clone())),
        }))
    }
}
