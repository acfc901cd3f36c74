//! The `areas` table: create, update, delete and their rules, reads and their index, blocking
//! queries, and snapshots (including their layout towards older versions).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Harness, node, register};
use crate::{
    Area, Command, CommandResult, HealthCheck, KvEntry, Node, NodeCoordinate, Query, QueryResult,
    Service, Session, SharedStore, Store, StoreSnapshot, Table, TableIndexes,
};

fn area(id: &str, peer: &str, retry_join: &[&str], use_tls: bool) -> Area {
    Area {
        id: id.into(),
        peer_datacenter: peer.into(),
        retry_join: retry_join.iter().map(|a| a.to_string()).collect(),
        use_tls,
        ..Area::default()
    }
}

fn upsert(a: Area) -> Command {
    Command::AreaUpsert { area: a }
}

fn delete(id: &str) -> Command {
    Command::AreaDelete { id: id.into() }
}

fn areas(h: &Harness, q: Query) -> (u64, Vec<Area>) {
    let out = h.query(&q);
    match out.result {
        QueryResult::Areas(a) => (out.index, a),
        other => panic!("unexpected {other:?}"),
    }
}

fn list(h: &Harness) -> Vec<Area> {
    areas(h, Query::Areas).1
}

fn get(h: &Harness, id: &str) -> Vec<Area> {
    areas(h, Query::AreaGet { id: id.into() }).1
}

/// Applies a command that must fail with `text` and change nothing.
fn refused(h: &mut Harness, cmd: Command, text: &str) {
    let before = h.store.clone();
    let (idx, result, changes) = h.apply(cmd);
    assert_eq!(result, CommandResult::Error(text.into()), "at {idx}");
    assert!(changes.is_empty());
    let mut after = h.store.clone();
    after.last_index = before.last_index;
    assert_eq!(after, before);
}

#[test]
fn create_stores_the_area_with_its_indexes() {
    let mut h = Harness::new();
    h.node("n1");
    let (idx, result, changes) = h.apply(upsert(area("a-1", "dc2", &["10.1.2.3"], true)));
    assert_eq!(result, CommandResult::Ok);
    assert_eq!(changes.tables, [Table::Areas].into());
    assert_eq!(h.store.table_index(Table::Areas), idx);
    assert_eq!(
        get(&h, "a-1"),
        [Area {
            create_index: idx,
            modify_index: idx,
            ..area("a-1", "dc2", &["10.1.2.3"], true)
        }]
    );
    // Other tables do not move.
    assert!(h.store.table_index(Table::Nodes) < idx);
    assert_eq!(Query::Areas.tables(), &[Table::Areas]);
    assert_eq!(Query::AreaGet { id: "x".into() }.tables(), &[Table::Areas]);
}

#[test]
fn list_is_sorted_by_peer_datacenter_and_get_finds_zero_or_one() {
    let mut h = Harness::new();
    h.ok(upsert(area("z", "dc3", &[], false)));
    h.ok(upsert(area("y", "dc10", &[], false)));
    let idx = h.ok(upsert(area("x", "other", &[], false)));
    let peers: Vec<_> = list(&h)
        .iter()
        .map(|a| (a.id.clone(), a.peer_datacenter.clone()))
        .collect();
    assert_eq!(
        peers,
        [
            ("y".to_string(), "dc10".to_string()),
            ("z".into(), "dc3".into()),
            ("x".into(), "other".into())
        ]
    );
    let (index, one) = areas(&h, Query::AreaGet { id: "z".into() });
    assert_eq!(index, idx);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].peer_datacenter, "dc3");
    let (index, none) = areas(&h, Query::AreaGet { id: "nope".into() });
    assert_eq!(index, idx);
    assert!(none.is_empty());
}

#[test]
fn an_empty_table_reports_index_one() {
    let h = Harness::new();
    let (index, all) = areas(&h, Query::Areas);
    assert_eq!(index, 1);
    assert!(all.is_empty());
}

#[test]
fn create_needs_an_id_and_a_peer_datacenter() {
    let mut h = Harness::new();
    refused(
        &mut h,
        upsert(area("", "dc2", &[], false)),
        "Missing area ID",
    );
    refused(
        &mut h,
        upsert(area("a-1", "", &[], false)),
        "Must provide peer datacenter",
    );
    assert!(list(&h).is_empty());
    assert_eq!(h.store.table_index(Table::Areas), 0);
}

#[test]
fn one_area_per_peer_datacenter() {
    let mut h = Harness::new();
    h.ok(upsert(area("a-1", "dc2", &[], false)));
    refused(
        &mut h,
        upsert(area("a-2", "dc2", &["10.0.0.1"], false)),
        r#"area with peer datacenter "dc2" already exists (ID "a-1")"#,
    );
    // Datacenter names compare case-insensitively.
    refused(
        &mut h,
        upsert(area("a-3", "DC2", &[], false)),
        r#"area with peer datacenter "dc2" already exists (ID "a-1")"#,
    );
    assert_eq!(list(&h).len(), 1);
    // Once deleted, the peer can have an area again.
    h.ok(delete("a-1"));
    h.ok(upsert(area("a-2", "dc2", &[], false)));
    assert_eq!(list(&h)[0].id, "a-2");
}

#[test]
fn update_changes_retry_join_and_use_tls_only() {
    let mut h = Harness::new();
    let created = h.ok(upsert(area("a-1", "dc2", &["10.0.0.1"], false)));
    let idx = h.ok(upsert(area("a-1", "dc2", &["10.0.0.2", "10.0.0.3"], true)));
    let got = get(&h, "a-1");
    assert_eq!(
        got,
        [Area {
            create_index: created,
            modify_index: idx,
            ..area("a-1", "dc2", &["10.0.0.2", "10.0.0.3"], true)
        }]
    );
    assert_eq!(h.store.table_index(Table::Areas), idx);

    // An empty peer datacenter keeps the stored one; another spelling of it is the same peer.
    let idx = h.ok(upsert(area("a-1", "", &[], true)));
    assert_eq!(get(&h, "a-1")[0].peer_datacenter, "dc2");
    assert_eq!(get(&h, "a-1")[0].modify_index, idx);
    assert!(get(&h, "a-1")[0].retry_join.is_empty());
    let idx = h.ok(upsert(area("a-1", "DC2", &[], false)));
    assert_eq!(get(&h, "a-1")[0].peer_datacenter, "dc2");
    assert_eq!(get(&h, "a-1")[0].modify_index, idx);

    // The peer datacenter cannot change.
    refused(
        &mut h,
        upsert(area("a-1", "dc3", &[], false)),
        r#"cannot change the peer datacenter of area "a-1" from "dc2" to "dc3""#,
    );
}

#[test]
fn an_identical_update_changes_nothing() {
    let mut h = Harness::new();
    let idx = h.ok(upsert(area("a-1", "dc2", &["10.0.0.1"], true)));
    let (_, result, changes) = h.apply(upsert(area("a-1", "dc2", &["10.0.0.1"], true)));
    assert_eq!(result, CommandResult::Ok);
    assert!(changes.is_empty());
    assert_eq!(h.store.table_index(Table::Areas), idx);
    assert_eq!(get(&h, "a-1")[0].modify_index, idx);
    // Indexes sent by the proposer are ignored.
    let (_, _, changes) = h.apply(upsert(Area {
        create_index: 99,
        modify_index: 99,
        ..area("a-1", "", &["10.0.0.1"], true)
    }));
    assert!(changes.is_empty());
    assert_eq!(get(&h, "a-1")[0].create_index, idx);
}

#[test]
fn delete_removes_the_area_and_unknown_ids_are_errors() {
    let mut h = Harness::new();
    h.ok(upsert(area("a-1", "dc2", &[], false)));
    h.ok(upsert(area("a-2", "dc3", &[], false)));
    let (idx, result, changes) = h.apply(delete("a-1"));
    assert_eq!(result, CommandResult::Ok);
    assert_eq!(changes.tables, [Table::Areas].into());
    assert_eq!(h.store.table_index(Table::Areas), idx);
    assert!(get(&h, "a-1").is_empty());
    assert_eq!(list(&h).len(), 1);
    refused(&mut h, delete("a-1"), r#"area "a-1" not found"#);
    refused(&mut h, delete(""), r#"area "" not found"#);
}

/// Polls a future once without a runtime waker.
fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test]
async fn blocking_queries_wake_on_area_writes_only() {
    let shared = SharedStore::new(Store::new());
    shared.apply(1, upsert(area("a-1", "dc2", &[], false)));
    let deadline = Instant::now() + Duration::from_secs(60);
    for q in [Query::Areas, Query::AreaGet { id: "a-1".into() }] {
        let start = shared.query(&q).index;
        let mut fut = Box::pin(shared.blocking_query(&q, start, deadline));
        assert!(poll_once(fut.as_mut()).is_pending());
        let next = shared.last_index() + 1;
        shared.apply(next, register(node(&format!("n{next}")), None, vec![]));
        assert!(poll_once(fut.as_mut()).is_pending());

        let next = shared.last_index() + 1;
        let addr = format!("10.0.0.{next}");
        shared.apply(next, upsert(area("a-1", "dc2", &[&addr], true)));
        let out = fut.await;
        assert!(Instant::now() < deadline, "woken by the update");
        assert_eq!(out.index, next);
        let QueryResult::Areas(got) = out.result else {
            panic!("wrong result")
        };
        assert_eq!(got[0].retry_join, [addr]);
    }
}

#[test]
fn snapshot_keeps_areas_and_their_index() {
    let mut h = Harness::new();
    h.ok(upsert(area("a-2", "dc3", &["10.0.0.1:8300"], true)));
    let idx = h.ok(upsert(area("a-1", "dc2", &[], false)));
    h.node("n1");
    let snap = h.store.snapshot();
    assert_eq!(snap.areas.len(), 2);
    assert_eq!(snap.areas[0].id, "a-1");
    assert_eq!(snap.areas_index, idx);

    let bytes = postcard::to_allocvec(&snap).expect("encode");
    let decoded: StoreSnapshot = postcard::from_bytes(&bytes).expect("decode");
    assert_eq!(decoded, snap);
    let restored = Store::restore(decoded);
    assert_eq!(restored, h.store);
    assert_eq!(restored.table_index(Table::Areas), idx);
    assert_eq!(restored.query(&Query::Areas), h.store.query(&Query::Areas));

    // The restored store keeps applying identically.
    let mut original = h.store.clone();
    let mut copy = restored;
    for cmd in [
        upsert(area("a-3", "dc4", &[], false)),
        upsert(area("a-4", "DC4", &[], false)),
        upsert(area("a-1", "", &["x"], true)),
        delete("a-2"),
    ] {
        let next = original.last_index() + 1;
        assert_eq!(original.apply(next, cmd.clone()), copy.apply(next, cmd));
    }
    assert_eq!(original, copy);
}

/// The snapshot layout of the version before areas existed.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SnapshotBeforeAreas {
    last_index: u64,
    indexes: TableIndexes,
    service_indexes: Vec<(String, u64)>,
    nodes: Vec<Node>,
    services: Vec<(String, Service)>,
    checks: Vec<HealthCheck>,
    sessions: Vec<Session>,
    kvs: Vec<KvEntry>,
    tombstones: Vec<(String, u64)>,
    lock_delays: Vec<(String, u64)>,
    coordinates: Vec<NodeCoordinate>,
}

#[test]
fn areas_are_appended_to_the_snapshot_layout() {
    let mut h = Harness::new();
    h.node("n1");
    h.set("k", "v");
    h.ok(upsert(area("a-1", "dc2", &["10.0.0.1"], true)));
    let snap = h.store.snapshot();
    let bytes = postcard::to_allocvec(&snap).expect("encode");

    // An older version decodes everything it knows and ignores the areas.
    let old: SnapshotBeforeAreas = postcard::from_bytes(&bytes).expect("old layout decodes");
    assert_eq!(old.last_index, snap.last_index);
    assert_eq!(old.kvs, snap.kvs);
    assert_eq!(old.nodes, snap.nodes);
    assert_eq!(old.indexes.kvs, snap.indexes.kvs);
    assert_eq!(
        old.indexes.areas, 0,
        "the areas index is not in the old part"
    );

    // The old part is byte for byte the old encoding.
    let old_bytes = postcard::to_allocvec(&old).expect("encode old");
    assert!(bytes.starts_with(&old_bytes));
}
