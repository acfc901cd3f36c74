//! KV transactions: all-or-nothing, Consul's error texts, results.

use super::{Harness, NOW, session};
use crate::{
    Command, CommandResult, KvOp, SessionBehavior, Table, TxnError, TxnKvOp, TxnKvVerb, TxnOp,
    TxnResult,
};

fn op(verb: TxnKvVerb, key: &str) -> TxnKvOp {
    TxnKvOp::new(verb, key)
}

fn set(key: &str, value: &str) -> TxnOp {
    TxnOp::Kv(TxnKvOp {
        value: value.as_bytes().to_vec(),
        ..op(TxnKvVerb::Set, key)
    })
}

fn with_index(verb: TxnKvVerb, key: &str, index: u64) -> TxnOp {
    TxnOp::Kv(TxnKvOp {
        index,
        ..op(verb, key)
    })
}

fn with_session(verb: TxnKvVerb, key: &str, session: &str) -> TxnOp {
    TxnOp::Kv(TxnKvOp {
        session: Some(session.into()),
        ..op(verb, key)
    })
}

fn txn(h: &mut Harness, ops: Vec<TxnOp>) -> (u64, TxnResult, crate::ChangeSet) {
    let (idx, r, changes) = h.apply(Command::Txn { ops, now_ms: NOW });
    match r {
        CommandResult::Txn(t) => (idx, t, changes),
        other => panic!("unexpected {other:?}"),
    }
}

fn errors(h: &mut Harness, ops: Vec<TxnOp>) -> Vec<TxnError> {
    let (_, r, changes) = txn(h, ops);
    assert!(r.results.is_empty());
    assert!(changes.is_empty(), "a failed transaction changes nothing");
    r.errors
}

#[test]
fn failing_transaction_applies_nothing() {
    let mut h = Harness::new();
    let ix = h.set("x", "old");
    let before = h.store.clone();
    let (idx, r, changes) = txn(
        &mut h,
        vec![
            set("a", "new"),
            TxnOp::Kv(op(TxnKvVerb::Delete, "x")),
            with_index(TxnKvVerb::Cas, "b", 3),
            with_index(TxnKvVerb::CheckIndex, "x", 3),
        ],
    );
    assert!(r.results.is_empty());
    assert_eq!(
        r.errors,
        vec![
            TxnError {
                op_index: 2,
                what: "failed to set key \"b\", index is stale".into()
            },
            TxnError {
                op_index: 3,
                what: "failed to check index, key \"x\" doesn't exist".into()
            },
        ]
    );
    assert!(changes.is_empty());
    assert!(h.get("a").is_none());
    assert_eq!(h.get("x").unwrap().modify_index, ix);
    assert!(h.store.tombstones.is_empty());
    assert_eq!(h.store.table_index(Table::Kvs), ix);
    assert_eq!(h.store.last_index(), idx);
    // Apart from the applied index, the store is exactly as before.
    let mut after = h.store.clone();
    after.last_index = before.last_index;
    assert_eq!(after, before);
}

#[test]
fn index_check_reports_both_indexes() {
    let mut h = Harness::new();
    let ix = h.set("x", "v");
    let errs = errors(&mut h, vec![with_index(TxnKvVerb::CheckIndex, "x", ix + 7)]);
    assert_eq!(
        errs[0].what,
        format!(
            "failed index check for key \"x\", current modify index {ix} != {}",
            ix + 7
        )
    );
}

#[test]
fn successful_transaction_returns_entries() {
    let mut h = Harness::new();
    let ix = h.set("x", "old");
    let next = h.next;
    let (idx, r, changes) = txn(
        &mut h,
        vec![
            set("a", "va"),
            with_index(TxnKvVerb::Cas, "x", ix),
            TxnOp::Kv(op(TxnKvVerb::Get, "a")),
            // Later operations see earlier ones.
            with_index(TxnKvVerb::CheckIndex, "a", next),
            TxnOp::Kv(op(TxnKvVerb::CheckNotExists, "zzz")),
            TxnOp::Kv(op(TxnKvVerb::GetTree, "")),
        ],
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let summary: Vec<(&str, &[u8], u64)> = r
        .results
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_slice(), e.modify_index))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a", &b""[..], idx),
            ("x", &b""[..], idx),
            ("a", &b"va"[..], idx),
            ("a", &b""[..], idx),
            ("a", &b"va"[..], idx),
            ("x", &b""[..], idx),
        ]
    );
    assert!(changes.kv_keys.contains("a") && changes.kv_keys.contains("x"));
    assert_eq!(h.store.table_index(Table::Kvs), idx);
}

#[test]
fn error_messages_match_consul() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 0));
    h.create_session(session("s2", "n1", SessionBehavior::Release, 0));
    let ik = h.set("k", "v");
    h.kv(KvOp::Lock, "locked", "v", Some("s1"), 0);

    let cases: Vec<(TxnOp, String)> = vec![
        (
            TxnOp::Kv(op(TxnKvVerb::Get, "nope")),
            "key \"nope\" doesn't exist".into(),
        ),
        (
            TxnOp::Kv(op(TxnKvVerb::CheckNotExists, "k")),
            "key \"k\" exists".into(),
        ),
        (
            with_index(TxnKvVerb::DeleteCas, "k", ik + 1),
            "failed to delete key \"k\", index is stale".into(),
        ),
        (
            with_session(TxnKvVerb::Lock, "locked", "s2"),
            "failed to lock key \"locked\", lock is already held".into(),
        ),
        (
            with_session(TxnKvVerb::Unlock, "locked", "s2"),
            "failed to unlock key \"locked\", lock isn't held, or is held by another session"
                .into(),
        ),
        (
            with_session(TxnKvVerb::CheckSession, "locked", "s2"),
            "failed session check for key \"locked\", current session \"s1\" != \"s2\"".into(),
        ),
        (
            with_session(TxnKvVerb::CheckSession, "nope", "s2"),
            "failed to check session, key \"nope\" doesn't exist".into(),
        ),
        (
            with_session(TxnKvVerb::Lock, "k", "bogus"),
            "invalid session \"bogus\"".into(),
        ),
        (
            TxnOp::Kv(op(TxnKvVerb::Lock, "k")),
            "missing session".into(),
        ),
    ];
    for (o, want) in cases {
        let errs = errors(&mut h, vec![set("side-effect", "x"), o]);
        assert_eq!(
            errs,
            vec![TxnError {
                op_index: 1,
                what: want
            }]
        );
        assert!(h.get("side-effect").is_none());
    }
}

#[test]
fn lock_and_unlock_in_a_transaction() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 0));
    let (idx, r, _) = txn(&mut h, vec![with_session(TxnKvVerb::Lock, "l", "s1")]);
    assert!(r.errors.is_empty());
    assert_eq!(
        (r.results[0].session.as_deref(), r.results[0].lock_index),
        (Some("s1"), 1)
    );
    assert_eq!(h.get("l").unwrap().modify_index, idx);
    let (_, r, _) = txn(
        &mut h,
        vec![
            with_session(TxnKvVerb::CheckSession, "l", "s1"),
            with_session(TxnKvVerb::Unlock, "l", "s1"),
        ],
    );
    assert!(r.errors.is_empty());
    assert_eq!(h.get("l").unwrap().session, None);
}

#[test]
fn delete_verbs() {
    let mut h = Harness::new();
    h.set("t/a", "1");
    h.set("t/b", "2");
    let ic = h.set("c", "3");
    let (idx, r, _) = txn(
        &mut h,
        vec![
            TxnOp::Kv(op(TxnKvVerb::DeleteTree, "t/")),
            with_index(TxnKvVerb::DeleteCas, "c", ic),
        ],
    );
    assert!(r.errors.is_empty() && r.results.is_empty());
    assert!(h.store.kvs.is_empty());
    assert_eq!(h.store.tombstones.len(), 3);
    assert!(h.store.tombstones.values().all(|i| *i == idx));
}

#[test]
fn read_only_transaction() {
    let mut h = Harness::new();
    h.set("a", "1");
    let r = h.store.read_txn(&[
        TxnOp::Kv(op(TxnKvVerb::Get, "a")),
        TxnOp::Kv(op(TxnKvVerb::GetOrEmpty, "b")),
    ]);
    assert!(r.errors.is_empty());
    assert_eq!(r.results.len(), 2);
    assert_eq!(
        (r.results[0].value.as_slice(), r.results[1].key.as_str()),
        (&b"1"[..], "b")
    );
    let r = h.store.read_txn(&[set("a", "2")]);
    assert_eq!(
        r.errors[0].what,
        "operation \"set\" is not allowed in a read-only transaction"
    );
    assert!(TxnOp::Kv(op(TxnKvVerb::CheckIndex, "a")).is_read());
    assert!(!set("a", "2").is_read());
}

#[test]
fn verbs_round_trip_their_names() {
    for v in [
        TxnKvVerb::Set,
        TxnKvVerb::Delete,
        TxnKvVerb::DeleteCas,
        TxnKvVerb::DeleteTree,
        TxnKvVerb::Cas,
        TxnKvVerb::Lock,
        TxnKvVerb::Unlock,
        TxnKvVerb::Get,
        TxnKvVerb::GetOrEmpty,
        TxnKvVerb::GetTree,
        TxnKvVerb::CheckIndex,
        TxnKvVerb::CheckSession,
        TxnKvVerb::CheckNotExists,
    ] {
        assert_eq!(TxnKvVerb::parse(v.as_str()), Some(v));
    }
    assert_eq!(TxnKvVerb::parse("frobnicate"), None);
}
