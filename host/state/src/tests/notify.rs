//! Change notification and the blocking-query loop.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

use super::{NOW, check, node, register};
use crate::{
    ChangeSet, CheckStatus, Command, KvEntry, KvOp, Notifier, Query, QueryResult, SharedStore,
    Store, Table,
};

/// Polls a future once without a runtime waker (the future must be resumable afterwards).
fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

fn set(key: &str, value: &str) -> Command {
    Command::KvSet {
        op: KvOp::Set,
        entry: KvEntry {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            ..KvEntry::default()
        },
        cas_index: 0,
        now_ms: NOW,
    }
}

#[test]
fn watch_fires_only_for_subscribed_tables() {
    let notifier = Notifier::new();
    let mut watch = notifier.subscribe(&[Table::Kvs, Table::Sessions]);
    let mut fut = Box::pin(watch.changed());
    assert!(poll_once(fut.as_mut()).is_pending());

    let nodes = ChangeSet {
        tables: [Table::Nodes].into(),
        ..ChangeSet::default()
    };
    notifier.notify(&nodes, 5);
    assert!(
        poll_once(fut.as_mut()).is_pending(),
        "a change of another table does not fire"
    );

    let kvs = ChangeSet {
        tables: [Table::Kvs].into(),
        ..ChangeSet::default()
    };
    notifier.notify(&kvs, 6);
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(())));
    drop(fut);

    // The change was consumed: the next wait is pending again.
    let mut fut = Box::pin(watch.changed());
    assert!(poll_once(fut.as_mut()).is_pending());
}

#[test]
fn watch_reports_a_closed_notifier() {
    let notifier = Notifier::new();
    let mut watch = notifier.subscribe(&[Table::Kvs]);
    drop(notifier);
    let mut fut = Box::pin(watch.changed());
    assert!(matches!(poll_once(fut.as_mut()), Poll::Ready(Err(_))));
}

#[tokio::test]
async fn blocking_query_answers_at_once_without_an_index_or_with_a_newer_one() {
    let shared = SharedStore::new(Store::new());
    let idx = 7;
    shared.apply(idx, set("k", "v"));
    let q = Query::KvGet { key: "k".into() };
    let far = Instant::now() + Duration::from_secs(60);
    let started = Instant::now();
    assert_eq!(shared.blocking_query(&q, 0, far).await.index, idx);
    assert_eq!(shared.blocking_query(&q, idx - 1, far).await.index, idx);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn blocking_query_wakes_for_the_watched_key() {
    let shared = SharedStore::new(Store::new());
    shared.apply(1, set("watched", "v1"));
    let q = Query::KvGet {
        key: "watched".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);

    let mut fut = Box::pin(shared.blocking_query(&q, 1, deadline));
    assert!(
        poll_once(fut.as_mut()).is_pending(),
        "index 1 is not past 1: it blocks"
    );

    shared.apply(2, set("watched", "v2"));
    let out = fut.await;
    assert!(
        Instant::now() < deadline,
        "woken by the write, not by the deadline"
    );
    assert_eq!(out.index, 2);
    let QueryResult::Kv(Some(e)) = out.result else {
        panic!("missing key")
    };
    assert_eq!(e.value, b"v2");
}

#[tokio::test]
async fn blocking_query_ignores_unrelated_keys_until_the_deadline() {
    let shared = SharedStore::new(Store::new());
    shared.apply(1, set("watched", "v1"));
    let q = Query::KvGet {
        key: "watched".into(),
    };
    let wait = Duration::from_millis(300);
    let started = Instant::now();
    let deadline = started + wait;

    let mut fut = Box::pin(shared.blocking_query(&q, 1, deadline));
    assert!(poll_once(fut.as_mut()).is_pending());
    shared.apply(2, set("unrelated", "x"));
    // The query re-runs on the KV table change, sees the same index, and keeps waiting.
    assert!(poll_once(fut.as_mut()).is_pending());

    let out = fut.await;
    assert!(started.elapsed() >= wait, "returned before the deadline");
    assert_eq!(out.index, 1);
    assert_eq!(shared.last_index(), 2);
}

#[tokio::test]
async fn blocking_query_wakes_for_a_deleted_key_and_for_catalog_changes() {
    let shared = SharedStore::new(Store::new());
    shared.apply(1, set("k", "v"));
    let far = Instant::now() + Duration::from_secs(60);

    let get = Query::KvGet { key: "k".into() };
    let mut fut = Box::pin(shared.blocking_query(&get, 1, far));
    assert!(poll_once(fut.as_mut()).is_pending());
    shared.apply(
        2,
        Command::KvSet {
            op: KvOp::Delete,
            entry: KvEntry {
                key: "k".into(),
                ..KvEntry::default()
            },
            cas_index: 0,
            now_ms: NOW,
        },
    );
    let out = fut.await;
    assert_eq!((out.index, out.result), (2, QueryResult::Kv(None)));

    let health = Query::HealthService {
        service: "web".into(),
        tag: None,
        passing_only: true,
    };
    let start = shared.query(&health).index;
    let mut fut = Box::pin(shared.blocking_query(&health, start, far));
    assert!(poll_once(fut.as_mut()).is_pending());
    shared.apply(
        3,
        register(
            node("n1"),
            Some(super::service("web1", "web", &[])),
            vec![check("n1", "serfHealth", CheckStatus::Passing, "")],
        ),
    );
    let out = fut.await;
    assert_eq!(out.index, 3);
    assert!(matches!(out.result, QueryResult::CheckServiceNodes(ref rows) if rows.len() == 1));
}

#[tokio::test]
async fn restore_wakes_blocking_queries() {
    let source = SharedStore::new(Store::new());
    source.apply(1, set("k", "v1"));
    source.apply(5, set("k", "v2"));
    let snap = source.snapshot();

    let target = SharedStore::new(Store::new());
    target.apply(1, set("k", "v1"));
    let q = Query::KvGet { key: "k".into() };
    let mut fut = Box::pin(target.blocking_query(&q, 1, Instant::now() + Duration::from_secs(60)));
    assert!(poll_once(fut.as_mut()).is_pending());
    target.restore(snap);
    assert_eq!(fut.await.index, 5);
    assert_eq!(target.last_index(), 5);
}

fn kv_change(keys: &[&str]) -> ChangeSet {
    let mut c = ChangeSet::default();
    c.tables.insert(Table::Kvs);
    c.kv_keys.extend(keys.iter().map(|k| k.to_string()));
    c
}

#[test]
fn kv_watch_fires_only_for_its_key_or_prefix() {
    let notifier = Notifier::new();
    let mut watch = notifier.subscribe_kv("app/");
    {
        let mut fut = Box::pin(watch.changed());
        assert!(poll_once(fut.as_mut()).is_pending());
        notifier.notify(&kv_change(&["other/key", "ap"]), 5);
        assert!(
            poll_once(fut.as_mut()).is_pending(),
            "unrelated keys must not wake a prefix watch"
        );
        notifier.notify(&kv_change(&["app/db/url"]), 6);
        assert!(poll_once(fut.as_mut()).is_ready());
    }
    // A change naming no key (a tombstone reap) wakes every KV waiter.
    let mut fut = Box::pin(watch.changed());
    assert!(poll_once(fut.as_mut()).is_pending());
    let mut reap = ChangeSet::default();
    reap.tables.insert(Table::Tombstones);
    notifier.notify(&reap, 7);
    assert!(poll_once(fut.as_mut()).is_ready());
}

#[test]
fn dead_kv_channels_are_pruned() {
    let notifier = Notifier::new();
    for i in 0..100 {
        drop(notifier.subscribe_kv(&format!("k{i}")));
    }
    assert_eq!(notifier.kv_channels(), 100);
    let live = notifier.subscribe_kv("keep");
    notifier.notify(&kv_change(&["x"]), 1); // the first notification prunes
    assert_eq!(notifier.kv_channels(), 1);
    drop(live);
}
