//! KV: set, CAS, flags, locks, lock delay, deletes and tombstones, key listing.

use super::{Harness, NOW, session};
use crate::{Command, CommandResult, KvEntry, KvOp, Query, QueryResult, SessionBehavior, Table};

#[test]
fn set_stores_value_flags_and_indexes() {
    let mut h = Harness::new();
    let entry = KvEntry {
        key: "a".into(),
        value: b"v1".to_vec(),
        flags: 42,
        ..KvEntry::default()
    };
    let (i1, r, changes) = h.apply(Command::KvSet {
        op: KvOp::Set,
        entry: entry.clone(),
        cas_index: 0,
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Bool(true));
    assert!(changes.contains(Table::Kvs) && changes.kv_keys.contains("a"));
    let got = h.get("a").unwrap();
    assert_eq!(
        (
            got.value.as_slice(),
            got.flags,
            got.create_index,
            got.modify_index
        ),
        (&b"v1"[..], 42, i1, i1)
    );

    // An identical write changes nothing, not even the index.
    let (_, r, changes) = h.apply(Command::KvSet {
        op: KvOp::Set,
        entry,
        cas_index: 0,
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Bool(true));
    assert!(changes.is_empty());
    assert_eq!(h.get("a").unwrap().modify_index, i1);
    assert_eq!(h.store.table_index(Table::Kvs), i1);

    let i3 = h.set("a", "v2");
    let got = h.get("a").unwrap();
    assert_eq!((got.create_index, got.modify_index, got.flags), (i1, i3, 0));
}

#[test]
fn empty_key_is_rejected() {
    let mut h = Harness::new();
    let (_, r) = h.kv(KvOp::Set, "", "x", None, 0);
    assert_eq!(r, CommandResult::Error("Must provide key".into()));
}

#[test]
fn cas_with_index_zero_only_creates() {
    let mut h = Harness::new();
    let (i1, r) = h.kv(KvOp::Cas, "k", "first", None, 0);
    assert_eq!(r, CommandResult::Bool(true));
    let (_, r) = h.kv(KvOp::Cas, "k", "second", None, 0);
    assert_eq!(r, CommandResult::Bool(false));
    assert_eq!(h.get("k").unwrap().value, b"first");
    assert_eq!(h.get("k").unwrap().modify_index, i1);
}

#[test]
fn cas_with_index_n_needs_the_current_modify_index() {
    let mut h = Harness::new();
    let i1 = h.set("k", "v1");
    let (_, r) = h.kv(KvOp::Cas, "k", "stale", None, i1 + 100);
    assert_eq!(r, CommandResult::Bool(false));
    let (i3, r) = h.kv(KvOp::Cas, "k", "v2", None, i1);
    assert_eq!(r, CommandResult::Bool(true));
    assert_eq!(h.get("k").unwrap().modify_index, i3);
    // The old index is now stale.
    let (_, r) = h.kv(KvOp::Cas, "k", "v3", None, i1);
    assert_eq!(r, CommandResult::Bool(false));
    // A non-zero index on an absent key fails.
    let (_, r) = h.kv(KvOp::Cas, "absent", "x", None, 5);
    assert_eq!(r, CommandResult::Bool(false));
    assert!(h.get("absent").is_none());
}

#[test]
fn delete_cas_honours_the_index() {
    let mut h = Harness::new();
    let i1 = h.set("k", "v");
    let (_, r) = h.kv(KvOp::DeleteCas, "k", "", None, i1 + 1);
    assert_eq!(r, CommandResult::Bool(false));
    assert!(h.get("k").is_some());
    let (_, r) = h.kv(KvOp::DeleteCas, "k", "", None, i1);
    assert_eq!(r, CommandResult::Bool(true));
    assert!(h.get("k").is_none());
    // Consul: a delete-cas of an absent key succeeds.
    let (_, r) = h.kv(KvOp::DeleteCas, "k", "", None, 99);
    assert_eq!(r, CommandResult::Bool(true));
}

#[test]
fn lock_and_unlock_follow_the_session() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 0));
    h.create_session(session("s2", "n1", SessionBehavior::Release, 0));

    let (_, r) = h.kv(KvOp::Lock, "lock", "x", None, 0);
    assert_eq!(r, CommandResult::Error("missing session".into()));
    let (_, r) = h.kv(KvOp::Lock, "lock", "x", Some("nope"), 0);
    assert_eq!(r, CommandResult::Error("invalid session \"nope\"".into()));
    assert!(h.get("lock").is_none());

    let (i, r) = h.kv(KvOp::Lock, "lock", "held-by-1", Some("s1"), 0);
    assert_eq!(r, CommandResult::Bool(true));
    let e = h.get("lock").unwrap();
    assert_eq!(
        (e.session.as_deref(), e.lock_index, e.modify_index),
        (Some("s1"), 1, i)
    );

    // Re-acquiring by the holder keeps the lock index; another session cannot acquire.
    let (_, r) = h.kv(KvOp::Lock, "lock", "again", Some("s1"), 0);
    assert_eq!(r, CommandResult::Bool(true));
    assert_eq!(h.get("lock").unwrap().lock_index, 1);
    let (_, r) = h.kv(KvOp::Lock, "lock", "steal", Some("s2"), 0);
    assert_eq!(r, CommandResult::Bool(false));
    assert_eq!(h.get("lock").unwrap().value, b"again");

    // A plain set keeps the holder but, as in Consul (the entry is written as given), resets
    // the lock index; acquire again to restore it.
    h.set("lock", "plain");
    let e = h.get("lock").unwrap();
    assert_eq!((e.session.as_deref(), e.lock_index), (Some("s1"), 0));
    h.kv(KvOp::Unlock, "lock", "plain", Some("s1"), 0);
    h.kv(KvOp::Lock, "lock", "again", Some("s1"), 0);
    assert_eq!(h.get("lock").unwrap().lock_index, 1);

    // Only the holder can release.
    let (_, r) = h.kv(KvOp::Unlock, "lock", "x", Some("s2"), 0);
    assert_eq!(r, CommandResult::Bool(false));
    let (_, r) = h.kv(KvOp::Unlock, "lock", "released", Some("s1"), 0);
    assert_eq!(r, CommandResult::Bool(true));
    let e = h.get("lock").unwrap();
    assert_eq!(
        (e.session.as_deref(), e.value.as_slice()),
        (None, &b"released"[..])
    );
    let (_, r) = h.kv(KvOp::Unlock, "absent", "x", Some("s1"), 0);
    assert_eq!(r, CommandResult::Bool(false));

    // A new holder bumps the lock index.
    let (_, r) = h.kv(KvOp::Lock, "lock", "held-by-2", Some("s2"), 0);
    assert_eq!(r, CommandResult::Bool(true));
    let e = h.get("lock").unwrap();
    assert_eq!((e.session.as_deref(), e.lock_index), (Some("s2"), 1 + 1));
}

#[test]
fn lock_delay_blocks_reacquire_until_it_passes() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 15_000));
    h.create_session(session("s2", "n1", SessionBehavior::Release, 0));
    let (_, r) = h.kv(KvOp::Lock, "k", "v", Some("s1"), 0);
    assert_eq!(r, CommandResult::Bool(true));

    h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: NOW,
    });
    assert_eq!(h.store.lock_delays.get("k"), Some(&(NOW + 15_000)));

    let (_, r) = h.kv_at(KvOp::Lock, "k", "v2", Some("s2"), 0, NOW + 1);
    assert_eq!(r, CommandResult::Bool(false));
    let (_, r) = h.kv_at(KvOp::Lock, "k", "v2", Some("s2"), 0, NOW + 14_999);
    assert_eq!(r, CommandResult::Bool(false));
    assert_eq!(h.get("k").unwrap().session, None);
    // Other keys are not delayed.
    let (_, r) = h.kv_at(KvOp::Lock, "other", "v", Some("s2"), 0, NOW + 1);
    assert_eq!(r, CommandResult::Bool(true));

    let (_, r) = h.kv_at(KvOp::Lock, "k", "v2", Some("s2"), 0, NOW + 15_000);
    assert_eq!(r, CommandResult::Bool(true));
    assert_eq!(h.get("k").unwrap().session.as_deref(), Some("s2"));
    assert!(
        h.store.lock_delays.is_empty(),
        "expired delays are forgotten"
    );
}

#[test]
fn lock_delay_is_capped_at_sixty_seconds() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 3_600_000));
    h.kv(KvOp::Lock, "k", "v", Some("s1"), 0);
    h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: NOW,
    });
    assert_eq!(h.store.lock_delays.get("k"), Some(&(NOW + 60_000)));
}

#[test]
fn deleted_key_reports_its_tombstone_index() {
    let mut h = Harness::new();
    h.set("gone", "v");
    let (del, r) = h.kv(KvOp::Delete, "gone", "", None, 0);
    assert_eq!(r, CommandResult::Bool(true));
    let out = h.query(&Query::KvGet { key: "gone".into() });
    assert_eq!((out.index, out.result), (del, QueryResult::Kv(None)));

    // Unrelated writes move the table index but not the deleted key's index.
    let later = h.set("other", "v");
    assert_eq!(h.query(&Query::KvGet { key: "gone".into() }).index, del);
    // A prefix containing only the deleted key reports the tombstone too.
    assert_eq!(
        h.query(&Query::KvList {
            prefix: "go".into()
        })
        .index,
        del
    );

    // Deleting an absent key is a no-op.
    let (_, r, changes) = h.apply(Command::KvSet {
        op: KvOp::Delete,
        entry: KvEntry {
            key: "never".into(),
            ..KvEntry::default()
        },
        cas_index: 0,
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Bool(true));
    assert!(changes.is_empty());

    // After reaping, the key falls back to the table index, which is not lower.
    let (reap, r, changes) = h.apply(Command::TombstoneReap { up_to_index: del });
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.contains(Table::Tombstones));
    assert!(h.store.tombstones.is_empty());
    assert_eq!(h.query(&Query::KvGet { key: "gone".into() }).index, later);
    assert_eq!(h.store.table_index(Table::Tombstones), reap);
}

#[test]
fn reap_keeps_newer_tombstones() {
    let mut h = Harness::new();
    h.set("a", "1");
    h.set("b", "1");
    let (da, _) = h.kv(KvOp::Delete, "a", "", None, 0);
    let (db, _) = h.kv(KvOp::Delete, "b", "", None, 0);
    h.apply(Command::TombstoneReap { up_to_index: da });
    assert!(!h.store.tombstones.contains_key("a"));
    assert_eq!(h.store.tombstones.get("b"), Some(&db));
}

#[test]
fn delete_tree_removes_the_prefix_and_leaves_tombstones() {
    let mut h = Harness::new();
    h.set("app/a", "1");
    h.set("app/b/c", "2");
    h.set("apple", "3");
    h.set("other", "4");
    let (del, r, changes) = h.apply(Command::KvSet {
        op: KvOp::DeleteTree,
        entry: KvEntry {
            key: "app/".into(),
            ..KvEntry::default()
        },
        cas_index: 0,
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Bool(true));
    assert_eq!(
        changes
            .kv_keys
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["app/a", "app/b/c"]
    );
    assert!(h.get("app/a").is_none() && h.get("app/b/c").is_none());
    assert!(h.get("apple").is_some() && h.get("other").is_some());
    let out = h.query(&Query::KvList {
        prefix: "app/".into(),
    });
    assert_eq!((out.index, out.result), (del, QueryResult::KvList(vec![])));
    assert_eq!(
        h.query(&Query::KvGet {
            key: "app/b/c".into()
        })
        .index,
        del
    );
}

#[test]
fn list_is_sorted_with_the_highest_index_under_the_prefix() {
    let mut h = Harness::new();
    let ib = h.set("p/b", "2");
    h.set("p/a", "1");
    h.set("q", "x");
    let out = h.query(&Query::KvList {
        prefix: "p/".into(),
    });
    let QueryResult::KvList(entries) = out.result else {
        panic!("wrong result")
    };
    assert_eq!(
        entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["p/a", "p/b"]
    );
    assert_eq!(out.index, ib + 1);
    // Empty prefix: the table index; unknown prefix: the table index too.
    let table = h.store.table_index(Table::Kvs);
    assert_eq!(h.query(&Query::KvList { prefix: "".into() }).index, table);
    assert_eq!(
        h.query(&Query::KvList {
            prefix: "zzz".into()
        })
        .index,
        table
    );
}

#[test]
fn keys_with_separator_stop_after_the_first_separator() {
    let mut h = Harness::new();
    for k in ["a/b/c", "a/b/d", "a/e", "a/", "f", "f/g"] {
        h.set(k, "v");
    }
    let keys = |h: &Harness, prefix: &str, sep: Option<&str>| match h
        .query(&Query::KvKeys {
            prefix: prefix.into(),
            separator: sep.map(str::to_string),
        })
        .result
    {
        QueryResult::Keys(k) => k,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(keys(&h, "a/", Some("/")), ["a/", "a/b/", "a/e"]);
    assert_eq!(keys(&h, "", Some("/")), ["a/", "f", "f/"]);
    assert_eq!(keys(&h, "a/", None), ["a/", "a/b/c", "a/b/d", "a/e"]);
    assert_eq!(keys(&h, "a/b", Some("/")), ["a/b/"]);
    assert_eq!(
        keys(&h, "", Some("")),
        ["a/", "a/b/c", "a/b/d", "a/e", "f", "f/g"]
    );
}

#[test]
fn empty_store_never_reports_index_zero() {
    let h = Harness::new();
    assert_eq!(h.query(&Query::KvGet { key: "x".into() }).index, 1);
    assert_eq!(h.query(&Query::CatalogNodes).index, 1);
    assert_eq!(h.query(&Query::SessionList).index, 1);
}
