//! The durable raft log: entries, vote and committed id as checksummed records appended to
//! segment files whose blocks are already allocated (`crate::segment`), each flush one data
//! write and `fdatasync`. A new segment is a purged segment's file when one is free (up to
//! `FREE_MAX` are kept), else a spare allocated by a helper thread (`fallocate`).
//!
//! One writer thread owns every write, in FIFO order. `append` hands its entries to the writer
//! and returns at once: the entries are readable from an in-memory tail until they are written,
//! and openraft is told they are flushed only after the `fdatasync`. Appends that queue up while
//! a flush runs are written together (group commit). openraft 0.9's core waits for that flush
//! before its next command (replication included), so one leader append is one fsync in series:
//! client writes are batched before they reach raft (`crate::propose`), and the flush is kept to
//! one write into blocks already allocated (no new space; in a fresh segment, a write entering a
//! block also marks it written). Truncate, purge and vote wait for the writer, so a reader never
//! sees an entry after it was truncated. A read finds an entry's place in an in-memory index and
//! reads it with `pread`.
//!
//! The committed log id is queued like an append but not waited for: it is written with the
//! appends grouped with it (all queued before it, so it is never ahead of the durable log),
//! synced by the next flush, and openraft's core goes on at once.
//!
//! A full disk: writes inside a segment need no new space; making the next segment waits (every
//! 250 ms, with a warning) until space returns, acknowledging nothing meanwhile, instead of
//! failing raft for good (openraft treats a storage error as fatal).
//!
//! In memory (`-dev`) nothing is written: the tail is the whole log.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::ops::RangeBounds;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};

use praetor_state::format::{self, BATCH_FORMAT, FORMAT_VERSION};

use crate::segment::{self, Checkpoint, Loc, LogError, Record, io_err, meta_bytes};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote, holds_batch};

/// Most appends written in one flush.
const MAX_GROUP: usize = 1024;
/// Most purged segment files kept for reuse (at the largest size, 256 MiB): a new segment made
/// from one needs no new space (it rolls on a full disk too), and its blocks are already written
/// (a write entering an allocated block also records that it is written).
const FREE_MAX: usize = 32;
/// How long making a segment waits between two tries while the disk is full.
const FULL_DISK_RETRY: Duration = Duration::from_millis(250);
/// Most stored bytes of entries handed to one `AppendEntries` (at least one entry). openraft
/// 0.9 gives that RPC one heartbeat interval (50 ms x `raft_multiplier`) and sends the same
/// range again after a timeout, so a follower far behind on big values must be caught up in
/// pieces that fit, or it never catches up.
const APPEND_BYTES: u64 = 1 << 20;

/// Segment sizes: the first of a new log, then doubling up to the largest (a record bigger
/// than that gets a segment of its own size).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    pub first: u64,
    pub max: u64,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            first: 1 << 20,
            max: 8 << 20,
        }
    }
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_logs(&e).into()
}

#[derive(Debug, thiserror::Error)]
#[error("raft log writer stopped")]
struct WriterGone;

#[derive(Debug, thiserror::Error)]
#[error("raft log is closed")]
struct Closed;

/// A full disk or an exhausted quota: wait for space. Any other I/O error stays fatal.
fn out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// What readers see: where each written entry is, the open segment files, the metadata.
#[derive(Default)]
struct Shared {
    index: BTreeMap<u64, Loc>,
    files: BTreeMap<u64, Arc<File>>,
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
    closed: bool,
}

/// Entries appended but not yet written, keyed by index (in memory: every entry).
type Tail = Arc<Mutex<BTreeMap<u64, Entry>>>;

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The raft log store. Cheap to clone: clones share one index, tail and writer.
#[derive(Clone)]
pub struct LogStore {
    shared: Arc<Mutex<Shared>>,
    tail: Tail,
    writer: mpsc::Sender<Op>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    stopping: Arc<AtomicBool>,
}

/// Work for the writer thread.
enum Op {
    /// Entries to write (index, log id, bytes); the callback fires after the flush. `batch`:
    /// one of them is a command batch (format version 2).
    Append {
        rows: Vec<(u64, LogId, Vec<u8>)>,
        batch: bool,
        callback: Flushed,
    },
    /// The encoded committed log id: written with the appends grouped with it (or alone,
    /// without fsync), never waited for.
    Committed(Vec<u8>),
    /// Written and synced, then acknowledged.
    Meta {
        edit: MetaEdit,
        done: tokio::sync::oneshot::Sender<std::io::Result<()>>,
    },
    /// Finish what is queued and stop (releases the files).
    Stop,
}

enum MetaEdit {
    Vote(Vec<u8>),
    /// Delete entries from this index on.
    TruncateFrom(u64),
    /// Record the purged id and delete entries up to its index.
    Purge(LogId),
}

impl LogStore {
    /// Opens (or creates) the log in `<raft_dir>/raft-log/`, importing a redb `raft.db` of an
    /// older build; `None` keeps it in memory (`-dev`). A log written in a format this build
    /// cannot read is refused.
    pub fn open(raft_dir: Option<&Path>) -> Result<Self, crate::ConsensusError> {
        Self::open_sized(raft_dir, Sizes::default())
    }

    pub(crate) fn open_sized(
        raft_dir: Option<&Path>,
        sizes: Sizes,
    ) -> Result<Self, crate::ConsensusError> {
        let stopping = Arc::new(AtomicBool::new(false));
        let (files, shared) = match raft_dir {
            None => (None, Shared::default()),
            Some(d) => {
                let (files, shared) = Files::open(d, sizes, stopping.clone())?;
                (Some(files), shared)
            }
        };
        let shared = Arc::new(Mutex::new(shared));
        let tail: Tail = Arc::default();
        let (writer, ops) = mpsc::channel();
        let (wshared, wtail) = (shared.clone(), tail.clone());
        let thread = std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer_loop(files, &wshared, &wtail, &ops))
            .map_err(|e| crate::ConsensusError::Storage(e.to_string()))?;
        Ok(LogStore {
            shared,
            tail,
            writer,
            thread: Arc::new(Mutex::new(Some(thread))),
            stopping,
        })
    }

    /// Writes what is queued, stops the writer thread and closes the files (blocking). Call
    /// after raft stopped; reads after this fail, from every clone.
    pub fn close(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        let _ = self.writer.send(Op::Stop);
        if let Some(t) = locked(&self.thread).take() {
            let _ = t.join();
        }
        let mut shared = locked(&self.shared);
        shared.closed = true;
        shared.files.clear();
        shared.index.clear();
    }

    fn shared(&self) -> Result<MutexGuard<'_, Shared>, StorageError> {
        let s = locked(&self.shared);
        if s.closed {
            return Err(read_err(Closed));
        }
        Ok(s)
    }

    /// Queues a metadata write and waits until it is synced.
    async fn meta(&self, edit: MetaEdit) -> Result<(), StorageError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.writer
            .send(Op::Meta { edit, done })
            .map_err(|_| write_err(WriterGone))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(write_err(e)),
            Err(_) => Err(write_err(WriterGone)),
        }
    }

    /// Puts entries in the tail (readable at once) and queues them for the writer, which
    /// calls `flushed` once they are durable.
    fn queue_append(
        &self,
        entries: impl IntoIterator<Item = Entry>,
        flushed: Flushed,
    ) -> Result<(), StorageError> {
        let mut rows = Vec::new();
        let mut batch = false;
        let mut tail = self.tail();
        for e in entries {
            batch |= holds_batch(&e);
            rows.push((
                e.log_id.index,
                e.log_id,
                postcard::to_allocvec(&e).map_err(write_err)?,
            ));
            tail.insert(e.log_id.index, e);
        }
        drop(tail);
        self.writer
            .send(Op::Append {
                rows,
                batch,
                callback: flushed,
            })
            .map_err(|_| write_err(WriterGone))
    }

    fn tail(&self) -> MutexGuard<'_, BTreeMap<u64, Entry>> {
        locked(&self.tail)
    }
}

/// The writer's side of the files.
struct Files {
    dir: PathBuf,
    /// Held while open: a second process opening the log is refused.
    _lock: File,
    seq: u64,
    active: Arc<File>,
    /// Where the next record goes in the active segment.
    end: u64,
    size: u64,
    /// How the active segment's records are checksummed.
    key: segment::Key,
    /// The active segment has its `End` record: the next write starts a new segment.
    ended: bool,
    /// Purged segments' files, to become new segments.
    free: Vec<segment::Free>,
    sizes: Sizes,
    next_size: u64,
    /// Live segments and the highest entry index written in each (deleted once purged).
    seg_max: BTreeMap<u64, Option<u64>>,
    /// What a new segment starts with: the state as written so far.
    ck: Checkpoint,
    /// The next segment's allocated file, being made (size, or the error).
    spare: Option<JoinHandle<std::io::Result<u64>>>,
    stopping: Arc<AtomicBool>,
}

impl Files {
    fn open(
        raft_dir: &Path,
        sizes: Sizes,
        stopping: Arc<AtomicBool>,
    ) -> Result<(Files, Shared), crate::ConsensusError> {
        std::fs::create_dir_all(raft_dir).map_err(io_err(raft_dir))?;
        crate::migrate::prepare(raft_dir, sizes.first)?;
        let dir = raft_dir.join(segment::DIR);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock = segment::lock(&dir)?;
        let mut rep = segment::replay(&dir)?;
        if rep.format == 0 {
            rep.format = FORMAT_VERSION;
        }
        format::readable(rep.format)?;
        let ck = rep.checkpoint();
        if rep.segments.is_empty() {
            // A new log: its first segment, with the checkpoint (the format) at its start.
            let path = segment::segment_path(&dir, 1);
            let start = ck.segment_start(1);
            let file =
                segment::make_segment(&dir, &path, sizes.first, &start).map_err(io_err(&path))?;
            rep.segments.push(segment::Segment {
                seq: 1,
                file: Arc::new(file),
                size: sizes.first,
                max_index: None,
                key: segment::Key::Seq(1),
                ended: false,
            });
            rep.end = start.len() as u64;
        }
        let last = rep.segments.last().ok_or_else(|| {
            crate::ConsensusError::Storage("raft log: no segment after opening".into())
        })?;
        let files = Files {
            dir,
            _lock: lock,
            seq: last.seq,
            active: last.file.clone(),
            end: rep.end,
            size: last.size,
            key: last.key,
            ended: last.ended,
            free: std::mem::take(&mut rep.free),
            sizes,
            next_size: last.size.saturating_mul(2).clamp(sizes.first, sizes.max),
            seg_max: rep.segments.iter().map(|s| (s.seq, s.max_index)).collect(),
            ck,
            spare: None,
            stopping,
        };
        let shared = Shared {
            index: rep.index,
            files: rep.segments.into_iter().map(|s| (s.seq, s.file)).collect(),
            vote: rep.vote,
            committed: rep.committed,
            purged: rep.purged,
            closed: false,
        };
        Ok((files, shared))
    }

    /// Writes `records` (laid out by `segment::put`) at the end of the log, in a new segment
    /// when they do not fit before the room kept for an `End`, sealed for the segment they go
    /// into, synced when `sync`. Returns the segment and offset written.
    fn write(
        &mut self,
        records: &mut [u8],
        sync: bool,
        shared: &Mutex<Shared>,
    ) -> std::io::Result<(u64, u64)> {
        let len = records.len() as u64;
        if self.ended || self.end + len + segment::END_LEN > self.size {
            self.roll(len, shared)?;
        }
        segment::seal(records, self.key);
        self.active.write_all_at(records, self.end)?;
        let at = self.end;
        self.end += len;
        if sync {
            self.active.sync_data()?;
        }
        if self.spare.is_none()
            && self.end > self.size / 2
            && !self.free.iter().any(|f| f.size >= self.next_size)
        {
            let (path, size) = (self.dir.join(segment::SPARE), self.next_size);
            self.spare = Some(std::thread::spawn(move || {
                segment::allocate_file(&path, size).map(|()| size)
            }));
        }
        Ok((self.seq, at))
    }

    /// Ends the active segment and starts the next with room for `need` bytes after its
    /// checkpoint (and an `End`): a purged segment's file when one is big enough and no reader
    /// holds it, else the allocated spare.
    fn roll(&mut self, need: u64, shared: &Mutex<Shared>) -> std::io::Result<()> {
        if !self.ended && self.end + segment::END_LEN <= self.size {
            // Durable before anything is written into the next segment: replay knows where
            // this one's data ends although a reused file has old records after it.
            let mut end = Vec::new();
            segment::put(&mut end, &Record::End);
            segment::seal(&mut end, self.key);
            self.active.write_all_at(&end, self.end)?;
            self.active.sync_data()?;
            self.end += segment::END_LEN;
        } else if !self.ended && self.key != segment::Key::Plain {
            // Every writer keeps room for it; without it the log would not replay.
            return Err(std::io::Error::other(
                "raft log: no room for the active segment's end record",
            ));
        }
        // (A version 1 segment without room for it ends at the zeros after its data.)
        self.ended = true;
        let seq = self.seq + 1;
        let start = self.ck.segment_start(seq);
        let want = start.len() as u64 + need + segment::END_LEN;
        let path = segment::segment_path(&self.dir, seq);
        let reuse = self
            .free
            .iter()
            .position(|f| f.size >= want && Arc::strong_count(&f.file) == 1);
        let (file, size) = if let Some(i) = reuse {
            let f = self.free.swap_remove(i);
            std::fs::rename(&f.path, &path)?;
            (f.file, f.size)
        } else {
            let size = if want <= self.next_size {
                self.next_size
            } else {
                want.next_multiple_of(1 << 20)
            };
            let spare = self.dir.join(segment::SPARE);
            let ready = match self.spare.take().map(JoinHandle::join) {
                Some(Ok(Ok(made))) => made == size,
                _ => false,
            };
            if !ready {
                self.until_space(|| segment::allocate_file(&spare, size))?;
            }
            std::fs::rename(&spare, &path)?;
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            (Arc::new(file), size)
        };
        segment::sync_dir(&self.dir)?;
        // Synced with the first flush into it.
        file.write_all_at(&start, 0)?;
        self.seq = seq;
        self.active = file.clone();
        self.end = start.len() as u64;
        self.size = size;
        self.key = segment::Key::Seq(seq);
        self.ended = false;
        self.next_size = self.next_size.saturating_mul(2).min(self.sizes.max);
        self.seg_max.insert(seq, None);
        locked(shared).files.insert(seq, file);
        Ok(())
    }

    /// Runs `f` until it does not fail for lack of space (or the log is closing).
    fn until_space(&self, f: impl FnMut() -> std::io::Result<()>) -> std::io::Result<()> {
        until_space(&self.stopping, FULL_DISK_RETRY, f)
    }

    /// Takes the oldest segments whose entries are all purged (never the active one) out of
    /// the log: kept as free files while there is room for one of the largest size, else
    /// deleted.
    fn drop_purged(&mut self, upto: u64, shared: &Mutex<Shared>) {
        while let Some((&seq, &max)) = self.seg_max.first_key_value() {
            if seq == self.seq || max.is_some_and(|m| m > upto) {
                break;
            }
            let path = segment::segment_path(&self.dir, seq);
            let size = locked(shared)
                .files
                .get(&seq)
                .and_then(|f| f.metadata().ok())
                .map_or(0, |m| m.len());
            let keep = self.free.len() < FREE_MAX && size >= self.sizes.max;
            let free = segment::free_path(&self.dir, seq);
            let done = if keep {
                std::fs::rename(&path, &free)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, path = %path.display(), "raft log: removing a purged segment");
                break;
            }
            self.seg_max.remove(&seq);
            // Readers that took the file before this still read its old bytes: it is reused
            // only once no one else holds it.
            let file = locked(shared).files.remove(&seq);
            if let (true, Some(file)) = (keep, file) {
                self.free.push(segment::Free {
                    path: free,
                    file,
                    size,
                });
            }
        }
    }

    /// Waits for a spare being made (so no thread writes in the directory after close).
    fn finish(mut self) {
        if let Some(h) = self.spare.take() {
            let _ = h.join();
        }
    }
}

/// The entry format recorded in the log of `raft_dir` (for tests and tools; the log must not
/// be open).
pub(crate) fn stored_format(raft_dir: &Path) -> Result<u32, LogError> {
    let dir = raft_dir.join(segment::DIR);
    let _lock = segment::lock(&dir)?;
    Ok(segment::replay(&dir)?.format.max(FORMAT_VERSION))
}

/// Runs `f` until it does not fail for lack of space, waiting `retry` between tries, or until
/// `stopping` is set. Any other error is returned at once.
fn until_space(
    stopping: &AtomicBool,
    retry: Duration,
    mut f: impl FnMut() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut waiting = false;
    loop {
        match f() {
            Err(e) if out_of_space(&e) && !stopping.load(Ordering::Relaxed) => {
                if !waiting {
                    tracing::warn!(error = %e,
                        "raft log: out of disk space for a new segment; waiting for space \
                         (nothing is acknowledged meanwhile)");
                    waiting = true;
                }
                std::thread::sleep(retry);
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

/// The writer thread: takes ops in order, groups consecutive appends (and committed ids) into
/// one flush.
fn writer_loop(
    mut files: Option<Files>,
    shared: &Mutex<Shared>,
    tail: &Tail,
    ops: &mpsc::Receiver<Op>,
) {
    let mut stop = false;
    while !stop {
        let Ok(first) = ops.recv() else { break };
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
                Op::Meta { edit, done } => {
                    flush_group(files.as_mut(), shared, tail, std::mem::take(&mut group));
                    let _ = done.send(apply_meta(files.as_mut(), shared, edit));
                }
                Op::Stop => stop = true,
            }
        }
        flush_group(files.as_mut(), shared, tail, group);
    }
    if let Some(f) = files {
        f.finish();
    }
}

/// Whom to tell that an append is durable (openraft's `LogFlushed`, or a test).
type Flushed = Box<dyn FnOnce(std::io::Result<()>) + Send>;

/// One append request: its encoded entries (index, log id, bytes) and whom to tell once durable.
type PendingAppend = (Vec<(u64, LogId, Vec<u8>)>, Flushed);

/// What the writer flushes at once: appends in queue order, and the latest committed log id
/// queued among (or after) them.
#[derive(Default)]
struct Group {
    appends: Vec<PendingAppend>,
    committed: Option<Vec<u8>>,
    /// An append holds a command batch.
    batch: bool,
}

/// Writes and syncs a group, then makes its entries readable from the files. The first batch
/// written is preceded by a format record ([`BATCH_FORMAT`]) in the same write, so a build that
/// reads only version 1 refuses the log at start.
fn flush_group(files: Option<&mut Files>, shared: &Mutex<Shared>, tail: &Tail, group: Group) {
    let Group {
        appends,
        committed,
        batch,
    } = group;
    let Some(files) = files else {
        // In memory: the tail keeps every entry.
        for (_, callback) in appends {
            callback(Ok(()));
        }
        return;
    };
    if appends.is_empty() {
        if let Some(bytes) = committed {
            // Only bounds the replay on restart: rides on the next flush's fsync.
            let mut buf = Vec::new();
            segment::put(&mut buf, &Record::Committed(&bytes));
            match files.write(&mut buf, false, shared) {
                Ok(_) => files.ck.committed = Some(bytes),
                Err(e) => tracing::warn!(error = %e, "raft log: saving the committed index failed"),
            }
        }
        return;
    }
    let stamp = batch && files.ck.format < BATCH_FORMAT;
    let mut buf = Vec::new();
    if stamp {
        segment::put(&mut buf, &Record::Format(BATCH_FORMAT));
    }
    let mut placed = Vec::new();
    for (rows, _) in &appends {
        for (idx, log_id, bytes) in rows {
            let at = segment::put(&mut buf, &Record::Entry(*idx, bytes));
            placed.push((*idx, *log_id, at as u64, bytes.len()));
        }
    }
    if let Some(bytes) = &committed {
        segment::put(&mut buf, &Record::Committed(bytes));
    }
    let res = files.write(&mut buf, true, shared);
    if let Ok((seq, base)) = res {
        if stamp {
            files.ck.format = BATCH_FORMAT;
        }
        if let Some(bytes) = committed {
            files.ck.committed = Some(bytes);
        }
        let mut s = locked(shared);
        for (idx, log_id, at, len) in placed {
            s.index.insert(
                idx,
                Loc {
                    seq,
                    offset: base + at,
                    len: u32::try_from(len).unwrap_or(u32::MAX),
                    log_id,
                },
            );
            let max = files.seg_max.entry(seq).or_default();
            *max = (*max).max(Some(idx));
        }
        drop(s);
        // Written: readers find these in the files now. Keep a tail entry that was replaced
        // (truncated and appended again) after this append was queued.
        let mut t = locked(tail);
        for (rows, _) in &appends {
            for (idx, log_id, _) in rows {
                if t.get(idx).is_some_and(|e| e.log_id == *log_id) {
                    t.remove(idx);
                }
            }
        }
    }
    let res = res.map(|_| ()).map_err(|e| e.to_string());
    for (_, callback) in appends {
        callback(res.clone().map_err(std::io::Error::other));
    }
}

/// Writes and syncs a metadata record and applies it to what readers see.
fn apply_meta(
    files: Option<&mut Files>,
    shared: &Mutex<Shared>,
    edit: MetaEdit,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut purged_bytes = None;
    match &edit {
        MetaEdit::Vote(bytes) => segment::put(&mut buf, &Record::Vote(bytes)),
        MetaEdit::TruncateFrom(from) => segment::put(&mut buf, &Record::Truncate(*from)),
        MetaEdit::Purge(id) => segment::put(
            &mut buf,
            &Record::Purge(purged_bytes.insert(meta_bytes(id))),
        ),
    };
    let mut files = files;
    if let Some(f) = files.as_deref_mut() {
        f.write(&mut buf, true, shared)?;
    }
    match edit {
        MetaEdit::Vote(bytes) => {
            if let Some(f) = files {
                f.ck.vote = Some(bytes);
            }
        }
        MetaEdit::TruncateFrom(from) => {
            locked(shared).index.split_off(&from);
        }
        MetaEdit::Purge(id) => {
            {
                let mut s = locked(shared);
                s.index = s.index.split_off(&(id.index + 1));
                s.purged = Some(id);
            }
            if let Some(f) = files {
                f.ck.purged = purged_bytes;
                f.drop_purged(id.index, shared);
            }
        }
    }
    Ok(())
}

/// The end of the longest run of entries from `start` (below `end`) whose stored sizes add up
/// to at most `budget`, with at least one entry. Entries not written yet (the tail) are not
/// counted: they are the few being appended now.
fn within_budget(index: &BTreeMap<u64, Loc>, start: u64, end: u64, budget: u64) -> u64 {
    let mut bytes = 0;
    for (&i, loc) in index.range(start..end) {
        bytes += u64::from(loc.len);
        if bytes > budget && i > start {
            return i;
        }
    }
    end
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        let end = within_budget(&self.shared()?.index, start, end, APPEND_BYTES);
        self.try_get_log_entries(start..end).await
    }

    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        // Snapshot the tail first: an entry leaves the tail only after it is in the index, so
        // each index is found in one of the two.
        let tail: Vec<Entry> = self
            .tail()
            .range(range.clone())
            .map(|(_, e)| e.clone())
            .collect();
        let places: Vec<(Loc, Option<Arc<File>>)> = {
            let s = self.shared()?;
            s.index
                .range(range)
                .map(|(_, loc)| (*loc, s.files.get(&loc.seq).cloned()))
                .collect()
        };
        let mut out = BTreeMap::new();
        let mut bytes = Vec::new();
        for (loc, file) in places {
            let file = file.ok_or_else(|| read_err(Closed))?;
            bytes.resize(loc.len as usize, 0);
            file.read_exact_at(&mut bytes, loc.offset)
                .map_err(read_err)?;
            let e: Entry = postcard::from_bytes(&bytes).map_err(read_err)?;
            out.insert(loc.log_id.index, e);
        }
        for e in tail {
            out.insert(e.log_id.index, e);
        }
        Ok(out.into_values().collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let tail_last = self.tail().last_key_value().map(|(_, e)| e.log_id);
        let s = self.shared()?;
        let written_last = s.index.last_key_value().map(|(_, l)| l.log_id);
        let last = tail_last.max(written_last).or(s.purged);
        Ok(LogState {
            last_purged_log_id: s.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.meta(MetaEdit::Vote(meta_bytes(vote))).await?;
        self.shared()?.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.shared()?.vote)
    }

    /// The committed index only bounds the replay on restart, so it is queued without waiting:
    /// openraft calls this for every commit, and waiting here would stall its core behind the
    /// writer's fsync. The writer stores it in order, with (or after) every append queued
    /// before this call, which hold the committed entries: it is never ahead of the durable log.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.shared()?.committed = committed;
        self.writer
            .send(Op::Committed(meta_bytes(&committed)))
            .map_err(|_| write_err(WriterGone))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.shared()?.committed)
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
        self.queue_append(entries, Box::new(move |r| callback.log_io_completed(r)))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let from = log_id.index;
        self.tail().retain(|idx, _| *idx < from);
        self.meta(MetaEdit::TruncateFrom(from)).await?;
        // Appends queued before the truncate were written (and dropped from the index) first.
        self.tail().retain(|idx, _| *idx < from);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.meta(MetaEdit::Purge(log_id)).await?;
        let upto = log_id.index;
        self.tail().retain(|idx, _| *idx > upto);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;

    fn log_id(term: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, 0), index)
    }

    fn blank(term: u64, index: u64) -> Entry {
        Entry {
            log_id: log_id(term, index),
            payload: EntryPayload::Blank,
        }
    }

    /// A scratch directory for the log test `name`.
    fn scratch(name: &str) -> PathBuf {
        crate::scratch(&format!("log-{name}"))
    }

    /// Appends and waits until the writer says they are durable.
    async fn append(log: &LogStore, entries: Vec<Entry>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        log.queue_append(
            entries,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )
        .expect("queue");
        rx.await.expect("flushed").expect("durable");
    }

    async fn indexes(log: &mut LogStore) -> Vec<u64> {
        log.try_get_log_entries(..)
            .await
            .expect("read")
            .iter()
            .map(|e| e.log_id.index)
            .collect()
    }

    fn segments(dir: &Path) -> usize {
        files(dir, "seg-").len()
    }

    /// The files of the log's directory whose names start with `prefix`, with their inodes.
    fn files(dir: &Path, prefix: &str) -> BTreeMap<String, u64> {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir(dir.join(segment::DIR))
            .expect("log dir")
            .map(|e| e.expect("entry"))
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| {
                let ino = e.metadata().expect("metadata").ino();
                (e.file_name().to_string_lossy().into_owned(), ino)
            })
            .collect()
    }

    /// Opening the log in `dir` is refused as corrupt, naming `path`.
    fn refused_as_corrupt(dir: &Path, path: &Path, what: &str) {
        match LogStore::open_sized(Some(dir), SMALL) {
            Err(crate::ConsensusError::Log(e)) => match &*e {
                LogError::Corrupt { path: named, .. } => assert_eq!(named, path, "{what}"),
                other => panic!("wrong error for {what}: {other}"),
            },
            Err(e) => panic!("wrong error for {what}: {e}"),
            Ok(_) => panic!("{what} was accepted"),
        }
    }

    const SMALL: Sizes = Sizes {
        first: 1024,
        max: 2048,
    };

    #[tokio::test]
    async fn save_committed_does_not_wait_and_the_last_one_is_read_back() {
        let dir = scratch("committed");
        let mut log = LogStore::open(Some(&dir)).expect("open");
        append(&log, vec![blank(1, 1)]).await;
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
        let mut log = LogStore::open(Some(&dir)).expect("reopen");
        assert_eq!(
            log.read_committed().await.expect("read"),
            Some(log_id(1, 50))
        );
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A clone of the store that outlives raft (a task still being dropped) must not keep the
    /// log locked: a server restarted in the same process opens it at once (failed a CI run).
    #[tokio::test]
    async fn close_frees_the_log_while_clones_are_alive() {
        let dir = scratch("close");
        let mut log = LogStore::open(Some(&dir)).expect("open");
        log.save_vote(&Vote::new(3, 0)).await.expect("vote");
        let mut lingering = log.clone();
        assert!(
            matches!(
                LogStore::open(Some(&dir)),
                Err(crate::ConsensusError::Log(e)) if matches!(*e, LogError::Locked(_))
            ),
            "a second open while the log is open is refused"
        );
        log.close();
        let mut again = LogStore::open(Some(&dir)).expect("reopen while a clone is alive");
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

    /// Entries, truncation, purge, vote and committed id come back after a reopen from
    /// segments rolled many times; purged segments are deleted.
    #[tokio::test]
    async fn a_reopened_log_is_the_log_that_was_written_across_segments() {
        let dir = scratch("reopen");
        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("open");
        for i in 1..=600 {
            append(&log, vec![blank(1, i)]).await;
        }
        log.truncate(log_id(1, 501)).await.expect("truncate");
        append(&log, (501..=520).map(|i| blank(2, i)).collect()).await;
        let rolled = segments(&dir);
        assert!(
            rolled > 5,
            "600 entries in 2 KiB segments took {rolled} segments"
        );
        log.purge(log_id(1, 400)).await.expect("purge");
        assert!(
            segments(&dir) < rolled,
            "purged segments are deleted ({rolled} before, {} after)",
            segments(&dir)
        );
        log.save_vote(&Vote::new(2, 1)).await.expect("vote");
        log.save_committed(Some(log_id(2, 510)))
            .await
            .expect("committed");
        let before = log.get_log_state().await.expect("state");
        let written = indexes(&mut log).await;
        assert_eq!(written, (401..=520).collect::<Vec<_>>());
        log.close();

        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("reopen");
        let after = log.get_log_state().await.expect("state");
        assert_eq!(after.last_log_id, before.last_log_id);
        assert_eq!(after.last_log_id, Some(log_id(2, 520)));
        assert_eq!(after.last_purged_log_id, Some(log_id(1, 400)));
        assert_eq!(indexes(&mut log).await, written);
        let terms: Vec<u64> = log
            .try_get_log_entries(499..=502)
            .await
            .expect("read")
            .iter()
            .map(|e| e.log_id.leader_id.term)
            .collect();
        assert_eq!(
            terms,
            vec![1, 1, 2, 2],
            "the truncated entries stay replaced"
        );
        assert_eq!(log.read_vote().await.expect("vote"), Some(Vote::new(2, 1)));
        assert_eq!(
            log.read_committed().await.expect("committed"),
            Some(log_id(2, 510))
        );
        // Writing goes on after the reopen.
        append(&log, vec![blank(2, 521)]).await;
        log.close();
        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("reopen");
        assert_eq!(indexes(&mut log).await.last(), Some(&521));
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The active segment's file: the highest seq.
    fn last_segment(dir: &Path) -> PathBuf {
        let segs = files(dir, "seg-");
        let (name, _) = segs.last_key_value().expect("a segment");
        dir.join(segment::DIR).join(name)
    }

    /// A write torn by a crash (its checksum fails) ends the log there and is cleaned so later
    /// writes read back; the same damage in an older segment refuses the log.
    #[tokio::test]
    async fn a_torn_tail_is_dropped_and_older_damage_is_refused() {
        let dir = scratch("torn");
        let log = LogStore::open(Some(&dir)).expect("open");
        for i in 1..=10 {
            append(&log, vec![blank(1, i)]).await;
        }
        log.close();
        // Damage the last record's payload: its checksum no longer matches.
        let path = last_segment(&dir);
        let bytes = std::fs::read(&path).expect("read");
        let end = bytes.iter().rposition(|b| *b != 0).expect("data");
        let f = OpenOptions::new().write(true).open(&path).expect("open");
        f.write_all_at(&[bytes[end] ^ 0xff], end as u64)
            .expect("damage");
        drop(f);
        let mut log = LogStore::open(Some(&dir)).expect("reopen past a torn write");
        assert_eq!(indexes(&mut log).await, (1..=9).collect::<Vec<_>>());
        append(&log, vec![blank(1, 10), blank(1, 11)]).await;
        log.close();
        let mut log = LogStore::open(Some(&dir)).expect("reopen");
        assert_eq!(indexes(&mut log).await, (1..=11).collect::<Vec<_>>());
        log.close();

        let _ = std::fs::remove_dir_all(&dir);

        // The same in a segment that is not the last: corruption, named.
        let dir = scratch("torn-older");
        let log = LogStore::open_sized(Some(&dir), SMALL).expect("open");
        for i in 1..=400 {
            append(&log, vec![blank(1, i)]).await;
        }
        log.close();
        let first = segment::segment_path(&dir.join(segment::DIR), 1);
        let f = OpenOptions::new().write(true).open(&first).expect("open");
        f.write_all_at(&[0xee], segment::HEADER_LEN + 12)
            .expect("damage");
        drop(f);
        refused_as_corrupt(&dir, &first, "a damaged older segment");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Purged segments' files become later segments; the old records still in them never
    /// replay (each record's checksum is keyed by its segment's seq), and each segment before
    /// the last ends with its `End` record.
    #[tokio::test]
    async fn purged_segments_are_reused_and_their_old_records_never_replay() {
        let dir = scratch("reuse");
        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("open");
        for i in 1..=600 {
            append(&log, vec![blank(1, i)]).await;
        }
        log.purge(log_id(1, 400)).await.expect("purge");
        let free = files(&dir, "free-");
        assert!(free.len() >= 3, "purged segments kept for reuse: {free:?}");
        // A few entries: the next segment is a reused file, its old records after the new.
        let segs_before = files(&dir, "seg-");
        let mut i = 601;
        while files(&dir, "seg-") == segs_before || i < 640 {
            append(&log, vec![blank(2, i)]).await;
            i += 1;
            assert!(i < 2000, "no new segment after 1,400 entries");
        }
        let last = i - 1;
        let segs = files(&dir, "seg-");
        let (newest, ino) = segs.last_key_value().expect("a segment");
        assert!(
            free.values().any(|f| f == ino),
            "{newest} was made from a purged segment's file"
        );
        assert!(
            files(&dir, "free-").len() < free.len(),
            "a free file was taken"
        );
        assert!(!dir.join(segment::DIR).join(segment::SPARE).exists());
        let written = indexes(&mut log).await;
        assert_eq!(written, (401..=last).collect::<Vec<_>>());
        log.close();

        for round in 0..2 {
            let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("reopen");
            assert_eq!(
                indexes(&mut log).await,
                (401..=last + round).collect::<Vec<_>>(),
                "no purged entry came back from a reused file (round {round})"
            );
            let state = log.get_log_state().await.expect("state");
            assert_eq!(state.last_purged_log_id, Some(log_id(1, 400)));
            // Written on after the reopen, into the reused file.
            append(&log, vec![blank(2, last + round + 1)]).await;
            log.close();
        }
        // Every segment but the last ends with its `End`: without it the log is refused.
        let log_dir = dir.join(segment::DIR);
        let segs = files(&dir, "seg-");
        let first = log_dir.join(segs.keys().next().expect("a segment"));
        let bytes = std::fs::read(&first).expect("read");
        let end = bytes
            .windows(segment::END_LEN as usize)
            .position(|w| w[0] == 1 && w[1..4] == [0, 0, 0] && w[8] == 7)
            .expect("an end record");
        let f = OpenOptions::new().write(true).open(&first).expect("open");
        f.write_all_at(&[0; segment::END_LEN as usize], end as u64)
            .expect("erase");
        drop(f);
        refused_as_corrupt(
            &dir,
            &first,
            "a segment before the last without its end record",
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A crash between making the next segment from a free file and its first flush: that file
    /// still has its old header and is dropped, the segment before it (ended) is the last, and
    /// the next write starts a new one.
    #[tokio::test]
    async fn a_reused_file_whose_header_never_reached_the_disk_is_dropped() {
        let dir = scratch("reuse-crash");
        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("open");
        for i in 1..=300 {
            append(&log, vec![blank(1, i)]).await;
        }
        log.purge(log_id(1, 200)).await.expect("purge");
        log.close();
        let log_dir = dir.join(segment::DIR);
        let rep = segment::replay(&log_dir).expect("replay");
        let last = rep.segments.last().expect("a segment");
        let mut end = Vec::new();
        segment::put(&mut end, &Record::End);
        segment::seal(&mut end, last.key);
        last.file.write_all_at(&end, rep.end).expect("end");
        let next = segment::segment_path(&log_dir, last.seq + 1);
        let free = rep.free.first().expect("a free file");
        std::fs::rename(&free.path, &next).expect("rename");
        drop(rep);

        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("reopen");
        assert!(!next.exists(), "the header-less segment is removed");
        assert_eq!(indexes(&mut log).await, (201..=300).collect::<Vec<_>>());
        append(&log, vec![blank(1, 301)]).await;
        log.close();
        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("reopen");
        assert_eq!(indexes(&mut log).await, (201..=301).collect::<Vec<_>>());
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A log written by a build of container version 1 (golden files: three segments, entries
    /// truncated and purged, a vote and a committed id) is read, written on in its last segment
    /// and then in version 2 segments, and reads back whole.
    #[tokio::test]
    async fn a_log_of_container_version_1_is_read_and_written_on() {
        let dir = scratch("container-1");
        let log_dir = dir.join(segment::DIR);
        std::fs::create_dir_all(&log_dir).expect("dir");
        let golden =
            praetor_golden::dir(env!("CARGO_MANIFEST_DIR"), 1).join("raft-log-container-1");
        for item in std::fs::read_dir(&golden).expect("golden dir") {
            let item = item.expect("entry");
            std::fs::copy(item.path(), log_dir.join(item.file_name())).expect("copy");
        }
        let want: Vec<u64> = (4..=148).collect();
        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("open");
        assert_eq!(indexes(&mut log).await, want);
        let terms: Vec<u64> = log
            .try_get_log_entries(145..=146)
            .await
            .expect("read")
            .iter()
            .map(|e| e.log_id.leader_id.term)
            .collect();
        assert_eq!(terms, vec![1, 2], "the truncation is replayed");
        assert_eq!(log.read_vote().await.expect("vote"), Some(Vote::new(2, 1)));
        assert_eq!(
            log.read_committed().await.expect("committed"),
            Some(log_id(2, 147))
        );
        let state = log.get_log_state().await.expect("state");
        assert_eq!(state.last_purged_log_id, Some(log_id(1, 3)));
        for i in 149..=400 {
            append(&log, vec![blank(2, i)]).await;
        }
        log.close();
        let versions: Vec<u32> = files(&dir, "seg-")
            .keys()
            .map(|name| {
                let b = std::fs::read(log_dir.join(name)).expect("read");
                u32::from_le_bytes([b[8], b[9], b[10], b[11]])
            })
            .collect();
        assert_eq!(versions[..3], [1, 1, 1]);
        assert!(
            versions.len() > 4
                && versions[3..]
                    .iter()
                    .all(|v| *v == segment::CONTAINER_VERSION),
            "later segments are of this build's version: {versions:?}"
        );
        let mut log = LogStore::open_sized(Some(&dir), SMALL).expect("reopen");
        assert_eq!(indexes(&mut log).await, (4..=400).collect::<Vec<_>>());
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A log written by the redb store of older builds is imported once; `raft.db` becomes a
    /// file that redb (so an older build) refuses to open.
    #[tokio::test]
    async fn a_redb_log_is_imported_and_left_unopenable_for_older_builds() {
        use redb::TableDefinition;
        let dir = scratch("import");
        let old = dir.join(crate::migrate::REDB_FILE);
        {
            let db = redb::Database::create(&old).expect("redb");
            let tx = db.begin_write().expect("tx");
            {
                let mut t = tx
                    .open_table(TableDefinition::<u64, &[u8]>::new("raft_log"))
                    .expect("log");
                for i in 3..=7 {
                    let bytes = postcard::to_allocvec(&blank(4, i)).expect("enc");
                    t.insert(i, bytes.as_slice()).expect("row");
                }
                let mut m = tx
                    .open_table(TableDefinition::<&str, &[u8]>::new("raft_meta"))
                    .expect("meta");
                let put = |m: &mut redb::Table<&str, &[u8]>, k, v: Vec<u8>| {
                    m.insert(k, v.as_slice()).expect("meta row");
                };
                put(&mut m, "format", 1u32.to_le_bytes().to_vec());
                put(&mut m, "vote", meta_bytes(&Vote::new(4, 2)));
                put(&mut m, "committed", meta_bytes(&Some(log_id(4, 6))));
                put(&mut m, "last_purged", meta_bytes(&log_id(3, 2)));
            }
            tx.commit().expect("commit");
        }
        let mut log = LogStore::open(Some(&dir)).expect("import");
        assert_eq!(indexes(&mut log).await, (3..=7).collect::<Vec<_>>());
        assert_eq!(log.read_vote().await.expect("vote"), Some(Vote::new(4, 2)));
        assert_eq!(
            log.read_committed().await.expect("committed"),
            Some(log_id(4, 6))
        );
        let state = log.get_log_state().await.expect("state");
        assert_eq!(state.last_purged_log_id, Some(log_id(3, 2)));
        assert_eq!(state.last_log_id, Some(log_id(4, 7)));
        log.close();
        assert!(
            redb::Database::create(&old).is_err(),
            "an older build could open raft.db after the import"
        );
        // Imported once: a second open reads the segment log, the tombstone untouched.
        let mut log = LogStore::open(Some(&dir)).expect("reopen");
        assert_eq!(indexes(&mut log).await, (3..=7).collect::<Vec<_>>());
        log.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_append_carries_entries_up_to_the_byte_budget_and_at_least_one() {
        let index: BTreeMap<u64, Loc> = (1..=6)
            .map(|i| {
                let len = if i == 5 { 5_000 } else { 300 };
                let loc = Loc {
                    seq: 1,
                    offset: 0,
                    len,
                    log_id: log_id(1, i),
                };
                (i, loc)
            })
            .collect();
        for (start, end, want, why) in [
            (1, 7, 4, "three fit, the fourth does not"),
            (5, 7, 6, "one entry over the budget goes alone"),
            (2, 4, 4, "the whole range fits"),
            (7, 9, 9, "entries not written yet are not counted"),
        ] {
            assert_eq!(within_budget(&index, start, end, 1_000), want, "{why}");
        }
    }

    #[test]
    fn a_full_disk_is_waited_out_and_other_errors_are_not() {
        let stopping = AtomicBool::new(false);
        let mut tries = 0;
        let full = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        let res = until_space(&stopping, Duration::from_millis(1), || {
            tries += 1;
            if tries < 3 { Err(full()) } else { Ok(()) }
        });
        assert!(res.is_ok());
        assert_eq!(tries, 3, "retried until space returned");
        let mut tries = 0;
        let res = until_space(&stopping, Duration::from_millis(1), || {
            tries += 1;
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        });
        assert!(res.is_err());
        assert_eq!(tries, 1, "other errors are not retried");
        stopping.store(true, Ordering::Relaxed);
        assert!(
            until_space(&stopping, Duration::from_millis(1), || Err(full())).is_err(),
            "closing gives up waiting"
        );
    }

    #[tokio::test]
    async fn in_memory_the_tail_is_the_log() {
        let mut log = LogStore::open(None).expect("open");
        append(&log, (1..=5).map(|i| blank(1, i)).collect()).await;
        log.truncate(log_id(1, 4)).await.expect("truncate");
        log.purge(log_id(1, 1)).await.expect("purge");
        assert_eq!(indexes(&mut log).await, vec![2, 3]);
        let state = log.get_log_state().await.expect("state");
        assert_eq!(state.last_log_id, Some(log_id(1, 3)));
        assert_eq!(state.last_purged_log_id, Some(log_id(1, 1)));
        log.close();
    }
}
