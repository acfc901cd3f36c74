//! Golden files of format version 1 for what this crate writes and sends: a log entry, a
//! snapshot file (with its header, and one from before the header), and a raft message. They
//! must keep decoding in every later build (see `praetor_state::format`). A missing file is
//! written with `PRAETOR_BLESS_GOLDEN=1`; an existing one is never overwritten.

use openraft::raft::AppendEntriesRequest;
use openraft::{CommittedLeaderId, EntryPayload, Membership};
use praetor_state::{Command, KvEntry, KvOp};

use crate::state_machine::SnapshotFile;
use crate::types::{Entry, LogId, RaftNode, SnapshotMeta, StoredMembership, Vote};

fn check_golden(name: &str, bytes: &[u8]) -> Vec<u8> {
    praetor_golden::check(env!("CARGO_MANIFEST_DIR"), 1, name, bytes)
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn membership() -> Membership<u64, RaftNode> {
    let nodes = [(1u64, "s1", "10.0.0.1:8300"), (2, "s2", "10.0.0.2:8300")]
        .into_iter()
        .map(|(id, name, addr)| {
            (
                id,
                RaftNode {
                    name: name.into(),
                    rpc_addr: addr.into(),
                },
            )
        })
        .collect::<std::collections::BTreeMap<_, _>>();
    Membership::new(vec![nodes.keys().copied().collect()], nodes)
}

fn entries() -> Vec<Entry> {
    vec![
        Entry {
            log_id: log_id(2, 6),
            payload: EntryPayload::Membership(membership()),
        },
        Entry {
            log_id: log_id(3, 7),
            payload: EntryPayload::Normal(Command::KvSet {
                op: KvOp::Set,
                entry: KvEntry {
                    key: "config/db".into(),
                    value: b"postgres".to_vec(),
                    ..Default::default()
                },
                cas_index: 0,
                now_ms: 1_765_000_000_000,
            }),
        },
        Entry {
            log_id: log_id(3, 8),
            payload: EntryPayload::Blank,
        },
    ]
}

#[test]
fn log_entries_of_version_1_still_decode() {
    let entries = entries();
    let bytes = postcard::to_allocvec(&entries).expect("encode");
    let golden = check_golden("entries.bin", &bytes);
    let decoded: Vec<Entry> = postcard::from_bytes(&golden).expect("golden entries decode");
    assert_eq!(decoded, entries);
}

#[test]
fn snapshot_files_with_and_without_the_header_decode() {
    let file = SnapshotFile {
        meta: SnapshotMeta {
            last_log_id: Some(log_id(3, 7)),
            last_membership: StoredMembership::new(Some(log_id(2, 6)), membership()),
            snapshot_id: "3-7-1".into(),
        },
        data: b"state".to_vec(),
    };
    let golden = check_golden("snapshot-file.bin", &file.encode().expect("encode"));
    let decoded = SnapshotFile::decode(&golden).expect("golden snapshot file decodes");
    assert_eq!(decoded.meta, file.meta);
    assert_eq!(decoded.data, file.data);
    // A file written before the header existed.
    let legacy = postcard::to_allocvec(&file).expect("encode");
    let decoded = SnapshotFile::decode(&legacy).expect("headerless file decodes");
    assert_eq!(decoded.meta, file.meta);
    // A header naming a newer format is refused, not misread.
    let mut newer = golden.clone();
    newer[8..12].copy_from_slice(&99u32.to_le_bytes());
    assert!(matches!(
        SnapshotFile::decode(&newer),
        Err(crate::ConsensusError::Format(_))
    ));
}

#[test]
fn raft_messages_of_version_1_still_decode() {
    let req = AppendEntriesRequest::<crate::types::TypeConfig> {
        vote: Vote::new_committed(3, 1),
        prev_log_id: Some(log_id(2, 6)),
        entries: entries()[1..].to_vec(),
        leader_commit: Some(log_id(3, 7)),
    };
    let golden = check_golden(
        "append-entries.bin",
        &postcard::to_allocvec(&req).expect("encode"),
    );
    let decoded: AppendEntriesRequest<crate::types::TypeConfig> =
        postcard::from_bytes(&golden).expect("golden message decodes");
    assert_eq!(decoded.vote, req.vote);
    assert_eq!(decoded.prev_log_id, req.prev_log_id);
    assert_eq!(decoded.entries, req.entries);
    assert_eq!(decoded.leader_commit, req.leader_commit);
}
