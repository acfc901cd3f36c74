//! The durable raft log: entries, vote and committed index in a redb database.
//!
//! One writer thread owns every write, in FIFO order. `append` hands its entries to the writer
//! and returns at once: the entries are readable from an in-memory tail until their commit
//! lands, and openraft is told they are flushed only after that commit (fsync). Appends that
//! queue up while a commit runs are written together (group commit). openraft 0.9's core waits
//! for that flush before its next command (replication included), so one leader append is one
//! fsync in series: client writes are batched before they reach raft (`crate::propose`).
//! Truncate, purge and vote wait for the writer, so a reader never sees an entry after it was
//! truncated.
//!
//! The committed log id is queued like an append but not waited for: it is written in the same
//! commit as the appends grouped with it (all queued before it, so it is never ahead of the
//! durable log), and openraft's core goes on at once instead of waiting behind the writer's
//! fsync for every commit (which kept it from appending and grouping the next entries).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use praetor_state::format::{self, BATCH_FORMAT, FORMAT_VERSION};

use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote, holds_batch};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_PURGED: &str = "last_purged";
/// The format version of the entries (`praetor_state::format`), little-endian u32. A database
/// without it is from before versions: version 1.
const KEY_FORMAT: &str = "format";

/// Most appends written in one commit.
const MAX_GROUP: usize = 1024;

fn enc<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(v)
}

fn dec<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(b)
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_logs(&e).into()
}

/// Opens the database and its tables; a new database is stamped with this build's format.
/// Returns the format a database already had (`None`: new, or from before versions).
fn open_db(path: Option<&Path>) -> Result<(Database, Option<u32>), redb::Error> {
    let db = match path {
        Some(p) => Database::create(p)?,
        None => Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?,
    };
    let tx = db.begin_write()?;
    tx.open_table(LOG)?;
    let stored = {
        let mut meta = tx.open_table(META)?;
        let stored = meta
            .get(KEY_FORMAT)?
            .map(|v| <[u8; 4]>::try_from(v.value()).map_or(u32::MAX, u32::from_le_bytes));
        if stored.is_none() {
            meta.insert(KEY_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
        }
        stored
    };
    tx.commit()?;
    Ok((db, stored))
}

/// Work for the writer thread.
enum Op {
    /// Entries to write (index, log id, bytes); the callback fires after the commit. `batch`:
    /// one of them is a command batch (format version 2).
    Append {
        rows: Vec<(u64, LogId, Vec<u8>)>,
        batch: bool,
        callback: LogFlushed<TypeConfig>,
    },
    /// The encoded committed log id: written with the appends grouped with it (or alone, without
    /// fsync), never waited for.
    Committed(Vec<u8>),
    /// Acknowledged once everything queued before it is written.
    Barrier(tokio::sync::oneshot::Sender<()>),
    /// Metadata and deletions, acknowledged after their commit.
    Meta {
        durability: Durability,
        edit: MetaEdit,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// Finish what is queued and stop (releases the database file).
    Stop,
}

enum MetaEdit {
    Put(&'static str, Vec<u8>),
    /// Delete entries from this index on.
    TruncateFrom(u64),
    /// Record the purged id and delete entries up to its index.
    Purge(u64, Vec<u8>),
}

/// The log database. After an I/O error redb refuses every operation (`PreviousIo`) until the
/// database is opened again (which repairs it). A full disk must not stop raft for good
/// (openraft treats a storage error as fatal), so when a write fails for lack of space the
/// database is reopened and the write retried until space returns: the server stalls, then
/// goes on, and nothing is acknowledged that is not durable.
struct Db {
    /// `None`: in memory (`-dev`), never reopened.
    path: Option<PathBuf>,
    current: RwLock<Option<Arc<Database>>>,
    /// Set by [`LogStore::close`]: a write waiting for space gives up (shutdown never hangs).
    stopping: AtomicBool,
}

/// How long a write waits between two tries while the disk is full.
const FULL_DISK_RETRY: Duration = Duration::from_millis(250);

impl Db {
    fn get(&self) -> Result<Arc<Database>, redb::Error> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(redb::Error::DatabaseClosed)
    }

    /// Runs `f` on the database; when redb reports an earlier I/O failure the database is
    /// reopened (by whoever gets there first) and `f` runs again.
    fn with<T, E>(&self, f: impl Fn(&Database) -> Result<T, E>) -> Result<T, E>
    where
        E: From<redb::Error> + NeedsReopen + std::fmt::Display,
    {
        let mut waiting = false;
        loop {
            let db = self.get()?;
            match f(&db) {
                Err(e)
                    if self.path.is_some()
                        && e.needs_reopen()
                        && !self.stopping.load(Ordering::Relaxed) =>
                {
                    if !waiting {
                        tracing::warn!(error = %e,
                            "raft log: out of disk space; waiting for space (nothing is acknowledged meanwhile)");
                        waiting = true;
                    }
                    self.reopen(db);
                    std::thread::sleep(FULL_DISK_RETRY);
                }
                other => {
                    if waiting && other.is_ok() {
                        tracing::info!("raft log: writing again");
                    }
                    return other;
                }
            }
        }
    }

    /// Replaces `failed` with a freshly opened database, retrying until the open succeeds (it
    /// repairs the file, which needs space). A no-op when another thread already did it.
    fn reopen(&self, failed: Arc<Database>) {
        let Some(path) = &self.path else { return };
        let failed_ptr = Arc::as_ptr(&failed);
        drop(failed);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().map(Arc::as_ptr) != Some(failed_ptr) {
            return;
        }
        release(current.take());
        let mut logged = false;
        loop {
            match Database::create(path) {
                Ok(db) => {
                    tracing::debug!(path = %path.display(), "raft log database reopened");
                    *current = Some(Arc::new(db));
                    return;
                }
                Err(e) => {
                    if self.stopping.load(Ordering::Relaxed) {
                        return;
                    }
                    if !logged {
                        tracing::warn!(error = %e, path = %path.display(),
                            "raft log database cannot be reopened yet; retrying");
                        logged = true;
                    }
                    std::thread::sleep(FULL_DISK_RETRY);
                }
            }
        }
    }
}

/// Drops the database once readers that took it before it was taken out finish with it (30 s
/// at most): the file lock goes with the last reference.
fn release(db: Option<Arc<Database>>) {
    if let Some(db) = db {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Arc::strong_count(&db) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(db);
    }
}

/// Errors after which the database must be reopened before it can be used again.
trait NeedsReopen {
    fn needs_reopen(&self) -> bool;
}

impl NeedsReopen for redb::Error {
    fn needs_reopen(&self) -> bool {
        match self {
            redb::Error::PreviousIo => true,
            redb::Error::Io(e) => out_of_space(e),
            _ => false,
        }
    }
}

/// A full disk or an exhausted quota: wait for space. Any other I/O error stays fatal.
fn out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// A read's failure: the database, or an entry that does not decode.
#[derive(Debug, thiserror::Error)]
enum ReadFail {
    #[error(transparent)]
    Db(#[from] redb::Error),
    #[error(transparent)]
    Decode(#[from] postcard::Error),
}

impl NeedsReopen for ReadFail {
    fn needs_reopen(&self) -> bool {
        matches!(self, ReadFail::Db(e) if e.needs_reopen())
    }
}

fn db_err(e: impl Into<redb::Error>) -> ReadFail {
    ReadFail::Db(e.into())
}

/// Entries appended but not yet committed to redb, keyed by index.
type Tail = Arc<Mutex<BTreeMap<u64, Entry>>>;

/// The raft log store. Cheap to clone: clones share one database, tail and writer.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Db>,
    tail: Tail,
    writer: mpsc::Sender<Op>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl LogStore {
    /// Opens (or creates) the log database at `path`; `None` keeps it in memory (`-dev`).
    /// A database written in a format this build cannot read is refused.
    pub fn open(path: Option<&Path>) -> Result<Self, crate::ConsensusError> {
        let storage = |e: redb::Error| crate::ConsensusError::Storage(e.to_string());
        let (db, stored_format) = open_db(path).map_err(storage)?;
        if let Some(v) = stored_format {
            format::readable(v)?;
        }
        let stamped_batch = stored_format.is_some_and(|v| v >= BATCH_FORMAT);
        let db = Arc::new(Db {
            path: path.map(Path::to_path_buf),
            current: RwLock::new(Some(Arc::new(db))),
            stopping: AtomicBool::new(false),
        });
        let tail: Tail = Arc::default();
        let (writer, ops) = mpsc::channel();
        let (wdb, wtail) = (db.clone(), tail.clone());
        let thread = std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer_loop(&wdb, &wtail, &ops, stamped_batch))
            .map_err(|e| storage(redb::Error::Io(e)))?;
        Ok(LogStore {
            db,
            tail,
            writer,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// Writes what is queued, stops the writer thread and closes the database file (blocking).
    /// Call after raft stopped; reads after this fail with `DatabaseClosed`.
    pub fn close(&self) {
        self.db.stopping.store(true, Ordering::Relaxed);
        let _ = self.writer.send(Op::Stop);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = thread {
            let _ = t.join();
        }
        // Clones of this store may outlive raft (a replication or snapshot task still being
        // dropped); the file must be free when this returns so the server can start again.
        let db = self
            .db
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        release(db);
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        self.db
            .with(|db| -> Result<Option<T>, ReadFail> {
                let tx = db.begin_read().map_err(db_err)?;
                let t = tx.open_table(META).map_err(db_err)?;
                match t.get(key).map_err(db_err)? {
                    Some(v) => Ok(Some(dec(v.value())?)),
                    None => Ok(None),
                }
            })
            .map_err(read_err)
    }

    /// Waits until everything queued before this call is written.
    async fn barrier(&self) -> Result<(), StorageError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.writer
            .send(Op::Barrier(done))
            .map_err(|_| write_err(WriterGone))?;
        wait.await.map_err(|_| write_err(WriterGone))
    }

    /// Queues a metadata write or deletion and waits until it is committed.
    async fn meta(&self, durability: Durability, edit: MetaEdit) -> Result<(), StorageError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.writer
            .send(Op::Meta {
                durability,
                edit,
                done,
            })
            .map_err(|_| write_err(WriterGone))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(write_err(std::io::Error::other(e))),
            Err(_) => Err(write_err(WriterGone)),
        }
    }

    fn tail(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.tail.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("raft log writer stopped")]
struct WriterGone;

/// The writer thread: takes ops in order, groups consecutive appends (and committed ids) into
/// one commit. `stamped_batch`: the database is already stamped with [`BATCH_FORMAT`].
fn writer_loop(db: &Db, tail: &Tail, ops: &mpsc::Receiver<Op>, mut stamped_batch: bool) {
    let mut stop = false;
    while !stop {
        let Ok(first) = ops.recv() else { return };
        let mut group = Group::default();
        let mut next = Some(first);
        // Group the appends that are already queued (never reorder around a meta op).
        while let Some(op) = next.take() {
            match op {
                Op::Append {
                    rows,
                    batch,
                    callback,
                } => {
                    group.batch |= batch;
                    group.appends.push((rows, callback));
                    if group.appends.len() < MAX_GROUP {
                        next = ops.try_recv().ok();
                    }
                }
                Op::Committed(bytes) => {
                    // Everything queued before it is in this group or already written.
                    group.committed = Some(bytes);
                    if group.appends.len() < MAX_GROUP {
                        next = ops.try_recv().ok();
                    }
                }
                Op::Barrier(done) => {
                    flush_group(db, tail, std::mem::take(&mut group), &mut stamped_batch);
                    let _ = done.send(());
                }
                Op::Meta {
                    durability,
                    edit,
                    done,
                } => {
                    flush_group(db, tail, std::mem::take(&mut group), &mut stamped_batch);
                    let res = db
                        .with(|db| apply_meta(db, durability, &edit))
                        .map_err(|e| e.to_string());
                    let _ = done.send(res);
                }
                Op::Stop => stop = true,
            }
        }
        flush_group(db, tail, group, &mut stamped_batch);
    }
}

/// One append request: its encoded entries (index, log id, bytes) and whom to tell once durable.
type PendingAppend = (Vec<(u64, LogId, Vec<u8>)>, LogFlushed<TypeConfig>);

/// What the writer commits at once: appends in queue order, and the latest committed log id
/// queued among (or after) them.
#[derive(Default)]
struct Group {
    appends: Vec<PendingAppend>,
    committed: Option<Vec<u8>>,
    /// An append holds a command batch.
    batch: bool,
}

/// Commits a group. The first batch written stamps the database with [`BATCH_FORMAT`] in the
/// same transaction, so a build that reads only version 1 refuses the file at start.
fn flush_group(db: &Db, tail: &Tail, group: Group, stamped_batch: &mut bool) {
    let Group {
        appends,
        committed,
        batch,
    } = group;
    let stamp = batch && !*stamped_batch;
    if appends.is_empty() {
        if let Some(bytes) = committed {
            // Only bounds the replay on restart: rides on the next append's fsync.
            let edit = MetaEdit::Put(KEY_COMMITTED, bytes);
            if let Err(e) = db.with(|db| apply_meta(db, Durability::None, &edit)) {
                tracing::warn!(error = %e, "raft log: saving the committed index failed");
            }
        }
        return;
    }
    let res = db.with(|db| -> Result<(), redb::Error> {
        let tx = db.begin_write()?;
        {
            let mut t = tx.open_table(LOG)?;
            for (rows, _) in &appends {
                for (idx, _, bytes) in rows {
                    t.insert(*idx, bytes.as_slice())?;
                }
            }
        }
        if let Some(bytes) = &committed {
            tx.open_table(META)?
                .insert(KEY_COMMITTED, bytes.as_slice())?;
        }
        if stamp {
            tx.open_table(META)?
                .insert(KEY_FORMAT, BATCH_FORMAT.to_le_bytes().as_slice())?;
        }
        tx.commit()?;
        Ok(())
    });
    if res.is_ok() && stamp {
        *stamped_batch = true;
    }
    if res.is_ok() {
        // Committed: readers find these in redb now. Keep a tail entry that was replaced
        // (truncated and appended again) after this append was queued.
        let mut t = tail.lock().unwrap_or_else(PoisonError::into_inner);
        for (rows, _) in &appends {
            for (idx, log_id, _) in rows {
                if t.get(idx).is_some_and(|e| e.log_id == *log_id) {
                    t.remove(idx);
                }
            }
        }
    }
    for (_, callback) in appends {
        let r = res
            .as_ref()
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()));
        callback.log_io_completed(r);
    }
}

fn apply_meta(db: &Database, durability: Durability, edit: &MetaEdit) -> Result<(), redb::Error> {
    let mut tx = db.begin_write()?;
    tx.set_durability(durability)?;
    match edit {
        MetaEdit::Put(key, bytes) => {
            tx.open_table(META)?.insert(*key, bytes.as_slice())?;
        }
        MetaEdit::TruncateFrom(from) => {
            tx.open_table(LOG)?.retain_in(*from.., |_, _| false)?;
        }
        MetaEdit::Purge(upto, purged) => {
            tx.open_table(META)?.insert(KEY_PURGED, purged.as_slice())?;
            tx.open_table(LOG)?.retain_in(..=*upto, |_, _| false)?;
        }
    }
    tx.commit()?;
    Ok(())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        // Snapshot the tail first: an entry leaves the tail only after it is in redb, so each
        // index is found in one of the two.
        let tail: Vec<Entry> = self
            .tail()
            .range(range.clone())
            .map(|(_, e)| e.clone())
            .collect();
        let mut out = self
            .db
            .with(|db| -> Result<BTreeMap<u64, Entry>, ReadFail> {
                let mut out = BTreeMap::new();
                let tx = db.begin_read().map_err(db_err)?;
                let t = tx.open_table(LOG).map_err(db_err)?;
                for row in t.range(range.clone()).map_err(db_err)? {
                    let (k, v) = row.map_err(db_err)?;
                    out.insert(k.value(), dec(v.value())?);
                }
                Ok(out)
            })
            .map_err(read_err)?;
        for e in tail {
            out.insert(e.log_id.index, e);
        }
        Ok(out.into_values().collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta(KEY_PURGED)?;
        let tail_last = self.tail().last_key_value().map(|(_, e)| e.log_id);
        let db_last = self
            .db
            .with(|db| -> Result<Option<LogId>, ReadFail> {
                let tx = db.begin_read().map_err(db_err)?;
                let t = tx.open_table(LOG).map_err(db_err)?;
                Ok(match t.last().map_err(db_err)? {
                    Some((_, v)) => Some(dec::<Entry>(v.value())?.log_id),
                    None => None,
                })
            })
            .map_err(read_err)?;
        let last = tail_last.max(db_last).or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let bytes = enc(vote).map_err(write_err)?;
        self.meta(Durability::Immediate, MetaEdit::Put(KEY_VOTE, bytes))
            .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.get_meta(KEY_VOTE)
    }

    /// The committed index only bounds the replay on restart, so it is queued without waiting:
    /// openraft calls this for every commit, and waiting here would stall its core behind the
    /// writer's fsync. The writer stores it in order, with (or after) every append queued
    /// before this call, which hold the committed entries: it is never ahead of the durable log.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let bytes = enc(&committed).map_err(write_err)?;
        self.writer
            .send(Op::Committed(bytes))
            .map_err(|_| write_err(WriterGone))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        // A committed id saved just before is still queued: let the writer get past it.
        self.barrier().await?;
        Ok(self.get_meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut rows = Vec::new();
        let mut batch = false;
        let mut tail = self.tail();
        for e in entries {
            batch |= holds_batch(&e);
            rows.push((e.log_id.index, e.log_id, enc(&e).map_err(write_err)?));
            tail.insert(e.log_id.index, e);
        }
        drop(tail);
        // Readable now (tail); durable when the writer's commit returns and fires the callback.
        self.writer
            .send(Op::Append {
                rows,
                batch,
                callback,
            })
            .map_err(|_| write_err(WriterGone))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let from = log_id.index;
        self.tail().retain(|idx, _| *idx < from);
        self.meta(Durability::Immediate, MetaEdit::TruncateFrom(from))
            .await?;
        // An append queued before the truncate may have re-added rows to redb only: gone now.
        self.tail().retain(|idx, _| *idx < from);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let bytes = enc(&log_id).map_err(write_err)?;
        let upto = log_id.index;
        self.meta(Durability::Immediate, MetaEdit::Purge(upto, bytes))
            .await?;
        self.tail().retain(|idx, _| *idx > upto);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;

    use super::*;

    fn log_id(term: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, 0), index)
    }

    #[tokio::test]
    async fn save_committed_does_not_wait_and_the_last_one_is_read_back() {
        let dir =
            std::env::temp_dir().join(format!("praetor-log-committed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("raft.db");
        let mut log = LogStore::open(Some(&path)).expect("open");
        for i in 1..=50 {
            log.save_committed(Some(log_id(1, i))).await.expect("save");
        }
        assert_eq!(
            log.read_committed().await.expect("read"),
            Some(log_id(1, 50))
        );
        // A durable write after it (the vote) makes it durable too: it survives a reopen.
        log.save_vote(&Vote::new(1, 0)).await.expect("vote");
        log.close();
        drop(log);
        let mut log = LogStore::open(Some(&path)).expect("reopen");
        assert_eq!(
            log.read_committed().await.expect("read"),
            Some(log_id(1, 50))
        );
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A clone of the store that outlives raft (a task still being dropped) must not keep the
    /// file locked: a server restarted in the same process opens it at once (failed a CI run).
    #[tokio::test]
    async fn close_frees_the_file_while_clones_are_alive() {
        let dir = std::env::temp_dir().join(format!("praetor-log-close-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("raft.db");
        let mut log = LogStore::open(Some(&path)).expect("open");
        log.save_vote(&Vote::new(3, 0)).await.expect("vote");
        let mut lingering = log.clone();
        log.close();
        let mut again = LogStore::open(Some(&path)).expect("reopen while a clone is alive");
        assert_eq!(
            again.read_vote().await.expect("vote"),
            Some(Vote::new(3, 0))
        );
        assert!(
            lingering.read_vote().await.is_err(),
            "a closed store reads nothing"
        );
        again.close();
        drop(lingering);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
