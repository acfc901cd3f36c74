//! Moving a raft log from the redb database of builds before 2026-12-07 (`<raft dir>/raft.db`)
//! into the segment log (`<raft dir>/raft-log/`), once, at start.
//!
//! The import is written to `raft-log.tmp/` and renamed into place, so a crash leaves either the
//! old database or the whole new log. Then `raft.db` is replaced by a short text file (the
//! "tombstone", also written beside every new log): a build from before the segment log would
//! otherwise find no `raft.db`, create an empty log beside the server's snapshots and vote
//! again; redb refuses to open the tombstone, so that build stops at start instead.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use praetor_state::format::{self, FORMAT_VERSION};

use crate::segment::{self, Checkpoint, LogError, Record, io_err};

/// The old database's file name in the raft dir.
pub(crate) const REDB_FILE: &str = "raft.db";
const TOMBSTONE: &[u8] = b"praetor: this server's raft log is in raft-log/ (segment log, \
container version 1). This file stops a build older than 2026-12-07 from starting with an \
empty log.\n";

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

/// Imports `raft.db` when the segment log does not exist yet, then makes sure `raft.db` is
/// the tombstone.
pub(crate) fn prepare(raft_dir: &Path, segment_bytes: u64) -> Result<(), LogError> {
    let log_dir = raft_dir.join(segment::DIR);
    let old = raft_dir.join(REDB_FILE);
    let old_is_redb = match std::fs::read(&old) {
        Ok(bytes) => bytes != TOMBSTONE,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io_err(&old)(e)),
    };
    if old_is_redb && !log_dir.exists() {
        import(&old, raft_dir, segment_bytes)?;
    }
    if old_is_redb || !old.exists() {
        // After an import, or beside a new log (or an import finished by a crashed run).
        let tmp = raft_dir.join("raft.db.tmp");
        std::fs::write(&tmp, TOMBSTONE).map_err(io_err(&tmp))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &old).map_err(io_err(&old))?;
        segment::sync_dir(raft_dir).map_err(io_err(raft_dir))?;
    }
    Ok(())
}

fn import(old: &Path, raft_dir: &Path, segment_bytes: u64) -> Result<(), LogError> {
    let fail = |reason: String| LogError::Import {
        path: old.to_path_buf(),
        reason,
    };
    let db = redb::Database::open(old).map_err(|e| fail(e.to_string()))?;
    let tx = db.begin_read().map_err(|e| fail(e.to_string()))?;
    let mut ck = Checkpoint {
        format: FORMAT_VERSION,
        ..Checkpoint::default()
    };
    let mut entries = Vec::new();
    match tx.open_table(META) {
        Ok(meta) => {
            let get = |key: &str| -> Result<Option<Vec<u8>>, LogError> {
                Ok(meta
                    .get(key)
                    .map_err(|e| fail(e.to_string()))?
                    .map(|v| v.value().to_vec()))
            };
            if let Some(v) = get("format")? {
                let v = <[u8; 4]>::try_from(v.as_slice()).map_or(u32::MAX, u32::from_le_bytes);
                format::readable(v).map_err(|e| fail(e.to_string()))?;
                ck.format = v;
            }
            ck.vote = get("vote")?;
            ck.committed = get("committed")?;
            ck.purged = get("last_purged")?;
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    match tx.open_table(LOG) {
        Ok(log) => {
            for row in log.iter().map_err(|e| fail(e.to_string()))? {
                let (k, v) = row.map_err(|e| fail(e.to_string()))?;
                entries.push((k.value(), v.value().to_vec()));
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    drop(tx);
    drop(db);

    let mut bytes = ck.segment_start(1);
    for (index, entry) in &entries {
        segment::put(&mut bytes, &Record::Entry(*index, entry));
    }
    segment::seal(
        &mut bytes[segment::HEADER_LEN as usize..],
        segment::Key::Seq(1),
    );
    let tmp_dir = raft_dir.join(format!("{}.tmp", segment::DIR));
    if tmp_dir.exists() {
        std::fs::remove_dir_all(&tmp_dir).map_err(io_err(&tmp_dir))?;
    }
    std::fs::create_dir_all(&tmp_dir).map_err(io_err(&tmp_dir))?;
    let path = segment::segment_path(&tmp_dir, 1);
    // Room for the `End` written when the log moves on to the next segment.
    let size = (bytes.len() as u64 + segment::END_LEN).max(segment_bytes);
    segment::make_segment(&tmp_dir, &path, size, &bytes).map_err(io_err(&path))?;
    let log_dir = raft_dir.join(segment::DIR);
    std::fs::rename(&tmp_dir, &log_dir).map_err(io_err(&log_dir))?;
    segment::sync_dir(raft_dir).map_err(io_err(raft_dir))?;
    tracing::info!(entries = entries.len(), from = %old.display(), to = %log_dir.display(),
        "raft log moved from the redb database to the segment log");
    Ok(())
}
