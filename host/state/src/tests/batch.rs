//! Batches: several commands in one raft entry, each applied at the entry's index with its own
//! result and its own rollback.

use super::{Harness, NOW, node, register};
use crate::{ChangeSet, Command, CommandResult, KvEntry, KvOp, Table};

fn set(key: &str, value: &str, cas_index: u64) -> Command {
    Command::KvSet {
        op: if cas_index == 0 { KvOp::Set } else { KvOp::Cas },
        entry: KvEntry {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            ..KvEntry::default()
        },
        cas_index,
        now_ms: NOW,
    }
}

#[test]
fn each_command_applies_at_the_batch_index_and_a_refused_one_changes_nothing() {
    let mut h = Harness::new();
    let before = h.set("b", "old");
    let mut bad_node = node("");
    bad_node.node.clear();
    let (idx, result, changes) = h.apply(Command::Batch(vec![
        set("a", "1", 0),
        set("b", "lost", before + 100),
        register(bad_node, None, Vec::new()),
        Command::Batch(vec![set("nested", "x", 0)]),
        set("c", "3", 0),
    ]));
    let CommandResult::Batch(results) = result else {
        panic!("a batch answers Batch, got {result:?}")
    };
    assert_eq!(results.len(), 5);
    assert_eq!(results[0], CommandResult::Bool(true));
    assert_eq!(
        results[1],
        CommandResult::Bool(false),
        "CAS on a moved index"
    );
    assert_eq!(results[2], CommandResult::Error("Must provide node".into()));
    assert_eq!(
        results[3],
        CommandResult::Error("a command batch cannot contain a batch".into())
    );
    assert_eq!(results[4], CommandResult::Bool(true));
    for key in ["a", "c"] {
        let e = h.get(key).expect(key);
        assert_eq!((e.create_index, e.modify_index), (idx, idx), "{key}");
    }
    assert_eq!(h.get("b").expect("b").value, b"old".to_vec());
    assert!(h.get("nested").is_none());
    assert_eq!(h.store.last_index(), idx);
    assert_eq!(h.store.table_index(Table::Kvs), idx);
    assert!(
        !changes.contains(Table::Nodes),
        "the refused register left no change"
    );
    assert_eq!(
        changes
            .kv_keys
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["a", "c"]
    );
    // A stale index is refused for the whole batch, as for one command.
    let (r, _) = h.store.apply(idx, Command::Batch(vec![set("d", "4", 0)]));
    assert!(matches!(r, CommandResult::Error(_)), "{r:?}");
    assert!(h.get("d").is_none());
}

#[test]
fn merged_changes_keep_a_keyless_kv_change_waking_every_kv_waiter() {
    let keyed = |k: &str| ChangeSet {
        tables: [Table::Kvs].into(),
        kv_keys: [k.to_string()].into(),
    };
    let mut m = keyed("a");
    m.merge(keyed("b"));
    assert_eq!(m.kv_keys.len(), 2);
    m.merge(ChangeSet {
        tables: [Table::Tombstones].into(),
        kv_keys: Default::default(),
    });
    assert!(
        m.kv_keys.is_empty(),
        "a reap in the batch wakes every KV waiter"
    );
    assert!(m.contains(Table::Kvs) && m.contains(Table::Tombstones));
    let mut other = ChangeSet {
        tables: [Table::Nodes].into(),
        kv_keys: Default::default(),
    };
    other.merge(keyed("x"));
    assert_eq!(
        other.kv_keys.len(),
        1,
        "a catalog change names no keys but is not a KV one"
    );
}
