//! The `coordinates` table: batch updates and their index, deletion with the node, reads,
//! blocking queries, `?near` sorting and snapshots.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use praetor_coordinate::{Config, Coordinate};
use tokio::time::Instant;

use super::{Harness, NOW, check, node, register, service};
use crate::{
    CheckStatus, Command, CommandResult, Node, NodeCoordinate, Query, QueryResult, SessionBehavior,
    SharedStore, Store, StoreSnapshot, Table,
};

/// A 2-D coordinate at `x_ms` milliseconds from the origin on the first axis, no height.
fn coord_at(x_ms: f64) -> Coordinate {
    let mut c = Coordinate::new(&Config {
        dimensionality: 2,
        height_min: 0.0,
        ..Config::default()
    });
    c.vec[0] = x_ms / 1000.0;
    c
}

fn row(node: &str, segment: &str, x_ms: f64) -> NodeCoordinate {
    NodeCoordinate {
        node: node.into(),
        segment: segment.into(),
        coord: coord_at(x_ms),
    }
}

fn batch(updates: Vec<NodeCoordinate>) -> Command {
    Command::CoordinateBatchUpdate { updates }
}

fn rows(h: &Harness, q: Query) -> (u64, Vec<NodeCoordinate>) {
    let out = h.query(&q);
    match out.result {
        QueryResult::Coordinates(r) => (out.index, r),
        other => panic!("unexpected {other:?}"),
    }
}

fn all(h: &Harness) -> Vec<NodeCoordinate> {
    rows(h, Query::CoordinateNodes { segment: None }).1
}

fn names(r: &[NodeCoordinate]) -> Vec<(&str, &str)> {
    r.iter()
        .map(|c| (c.node.as_str(), c.segment.as_str()))
        .collect()
}

#[test]
fn batch_update_upserts_and_moves_the_index() {
    let mut h = Harness::new();
    h.node("n2");
    h.node("n1");
    let before = h.store.table_indexes().clone();
    let (idx, r, changes) = h.apply(batch(vec![
        row("n2", "", 1.0),
        row("n1", "seg", 2.0),
        row("n1", "", 3.0),
    ]));
    assert_eq!(r, CommandResult::Ok);
    assert_eq!(changes.tables, [Table::Coordinates].into());
    assert_eq!(h.store.table_index(Table::Coordinates), idx);
    // Only the coordinates index moved.
    let mut expected = before;
    expected.coordinates = idx;
    assert_eq!(h.store.table_indexes(), &expected);

    let (index, got) = rows(&h, Query::CoordinateNodes { segment: None });
    assert_eq!(index, idx);
    assert_eq!(names(&got), [("n1", ""), ("n1", "seg"), ("n2", "")]);
    assert_eq!(got[0].coord, coord_at(3.0));

    // Updating one row moves the index again; the others are untouched.
    let (idx2, r, changes) = h.apply(batch(vec![row("n2", "", 9.0)]));
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.contains(Table::Coordinates));
    assert_eq!(h.store.table_index(Table::Coordinates), idx2);
    assert_eq!(all(&h)[2].coord, coord_at(9.0));
    assert_eq!(all(&h)[0].coord, coord_at(3.0));

    // Later updates in one batch win.
    h.apply(batch(vec![row("n1", "", 4.0), row("N1", "", 5.0)]));
    let got = all(&h);
    assert_eq!(names(&got), [("N1", ""), ("n1", "seg"), ("n2", "")]);
    assert_eq!(got[0].coord, coord_at(5.0));
}

#[test]
fn an_unchanged_batch_keeps_the_index() {
    let mut h = Harness::new();
    h.node("n1");
    let (idx, _, _) = h.apply(batch(vec![row("n1", "", 1.0)]));
    let (_, r, changes) = h.apply(batch(vec![row("n1", "", 1.0)]));
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.is_empty());
    assert_eq!(h.store.table_index(Table::Coordinates), idx);
    let (_, r, changes) = h.apply(batch(vec![]));
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.is_empty());
}

#[test]
fn updates_for_unknown_nodes_are_skipped() {
    let mut h = Harness::new();
    h.node("n1");
    let (_, r, changes) = h.apply(batch(vec![row("ghost", "", 1.0)]));
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.is_empty());
    assert_eq!(h.store.table_index(Table::Coordinates), 0);
    assert!(all(&h).is_empty());

    let (idx, r, _) = h.apply(batch(vec![row("ghost", "", 1.0), row("n1", "", 2.0)]));
    assert_eq!(r, CommandResult::Ok);
    assert_eq!(names(&all(&h)), [("n1", "")]);
    assert_eq!(h.store.table_index(Table::Coordinates), idx);
}

#[test]
fn an_invalid_coordinate_rejects_the_whole_batch() {
    let mut h = Harness::new();
    h.node("n1");
    h.node("n2");
    let (idx, _, _) = h.apply(batch(vec![row("n1", "", 1.0)]));
    for bad_value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut bad = row("n2", "", 2.0);
        bad.coord.height = bad_value;
        let before = h.store.clone();
        let (_, r, changes) = h.apply(batch(vec![row("n1", "", 7.0), bad]));
        assert_eq!(r, CommandResult::Error("invalid coordinate".into()));
        assert!(changes.is_empty());
        assert_eq!(h.store.table_index(Table::Coordinates), idx);
        assert_eq!(h.store.coordinates, before.coordinates);
    }
    assert_eq!(all(&h), vec![row("n1", "", 1.0)]);
}

#[test]
fn deregistering_a_node_deletes_its_coordinates() {
    let mut h = Harness::new();
    h.node("n1");
    h.node("n2");
    h.ok(register(
        node("n1"),
        Some(service("web1", "web", &[])),
        vec![],
    ));
    h.ok(batch(vec![
        row("n1", "", 1.0),
        row("n1", "seg", 1.0),
        row("n2", "", 2.0),
    ]));

    // Removing a service or a check keeps the node's coordinates.
    let (_, r, changes) = h.apply(Command::Deregister {
        node: "n1".into(),
        service_id: Some("web1".into()),
        check_id: None,
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Ok);
    assert!(!changes.contains(Table::Coordinates));
    assert_eq!(all(&h).len(), 3);

    let (idx, r, changes) = h.apply(Command::Deregister {
        node: "N1".into(),
        service_id: None,
        check_id: None,
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.contains(Table::Coordinates) && changes.contains(Table::Nodes));
    assert_eq!(h.store.table_index(Table::Coordinates), idx);
    assert_eq!(names(&all(&h)), [("n2", "")]);

    // Deregistering an absent node changes nothing.
    let (_, _, changes) = h.apply(Command::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: None,
        now_ms: NOW,
    });
    assert!(changes.is_empty());
    assert_eq!(h.store.table_index(Table::Coordinates), idx);
}

fn node_with_id(name: &str, id: &str) -> Node {
    Node {
        id: id.into(),
        ..node(name)
    }
}

#[test]
fn a_node_rename_deletes_the_old_names_coordinates() {
    let id = "8f6a8c4e-8a41-4c1e-9d7e-000000000001";
    let mut h = Harness::new();
    h.ok(register(node_with_id("old", id), None, vec![]));
    h.ok(batch(vec![row("old", "", 1.0)]));
    let idx = h.ok(register(node_with_id("new", id), None, vec![]));
    assert!(all(&h).is_empty());
    assert_eq!(h.store.table_index(Table::Coordinates), idx);
}

#[test]
fn a_failed_command_restores_deleted_coordinates() {
    let id = "8f6a8c4e-8a41-4c1e-9d7e-000000000002";
    let mut h = Harness::new();
    h.ok(register(node_with_id("old", id), None, vec![]));
    let (cidx, _, _) = h.apply(batch(vec![row("old", "", 1.0)]));
    let before = h.store.clone();
    // The rename deletes "old" (and its coordinates), then the check on a missing service
    // fails the command: everything must come back.
    let (_, r, changes) = h.apply(register(
        node_with_id("new", id),
        None,
        vec![check("new", "c", CheckStatus::Passing, "missing-service")],
    ));
    assert!(matches!(r, CommandResult::Error(_)), "{r:?}");
    assert!(changes.is_empty());
    assert_eq!(all(&h), vec![row("old", "", 1.0)]);
    assert_eq!(h.store.table_index(Table::Coordinates), cidx);
    assert_eq!(h.store.coordinates, before.coordinates);
}

#[test]
fn coordinate_queries_and_segment_filter() {
    let mut h = Harness::new();
    let (_, empty) = rows(&h, Query::CoordinateNodes { segment: None });
    assert!(empty.is_empty());
    assert_eq!(h.query(&Query::CoordinateNodes { segment: None }).index, 1);

    h.node("a");
    h.node("b");
    let idx = h.ok(batch(vec![
        row("a", "", 1.0),
        row("a", "alpha", 2.0),
        row("b", "", 3.0),
        row("b", "beta", 4.0),
    ]));

    let seg = |s: Option<&str>| {
        rows(
            &h,
            Query::CoordinateNodes {
                segment: s.map(str::to_string),
            },
        )
    };
    let (index, got) = seg(None);
    assert_eq!(index, idx);
    assert_eq!(
        names(&got),
        [("a", ""), ("a", "alpha"), ("b", ""), ("b", "beta")]
    );
    // `?segment=` (empty) is the default segment only.
    assert_eq!(names(&seg(Some("")).1), [("a", ""), ("b", "")]);
    assert_eq!(names(&seg(Some("alpha")).1), [("a", "alpha")]);
    assert!(seg(Some("ALPHA")).1.is_empty(), "the filter is exact");
    assert!(seg(Some("gamma")).1.is_empty());

    let node_q = |n: &str| rows(&h, Query::CoordinateNode { node: n.into() });
    let (index, got) = node_q("B");
    assert_eq!(index, idx);
    assert_eq!(names(&got), [("b", ""), ("b", "beta")]);
    assert_eq!(got[1].coord, coord_at(4.0));
    let (index, got) = node_q("nobody");
    assert_eq!(index, idx);
    assert!(got.is_empty());

    assert_eq!(
        Query::CoordinateNodes { segment: None }.tables(),
        &[Table::Coordinates]
    );
    assert_eq!(
        Query::CoordinateNode { node: "a".into() }.tables(),
        &[Table::Coordinates]
    );
}

/// Polls a future once without a runtime waker.
fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test]
async fn blocking_query_wakes_on_a_coordinate_update() {
    let shared = SharedStore::new(Store::new());
    shared.apply(1, register(node("n1"), None, vec![]));
    shared.apply(2, batch(vec![row("n1", "", 1.0)]));
    let deadline = Instant::now() + Duration::from_secs(60);

    for q in [
        Query::CoordinateNodes { segment: None },
        Query::CoordinateNode { node: "n1".into() },
    ] {
        let start = shared.query(&q).index;
        let mut fut = Box::pin(shared.blocking_query(&q, start, deadline));
        assert!(poll_once(fut.as_mut()).is_pending());
        // A catalog change does not answer it (the index does not move).
        let next = shared.last_index() + 1;
        shared.apply(next, register(node("other"), None, vec![]));
        assert!(poll_once(fut.as_mut()).is_pending());

        let next = shared.last_index() + 1;
        let x = next as f64;
        shared.apply(next, batch(vec![row("n1", "", x)]));
        let out = fut.await;
        assert!(Instant::now() < deadline, "woken by the update");
        assert_eq!(out.index, next);
        let QueryResult::Coordinates(got) = out.result else {
            panic!("wrong result")
        };
        assert_eq!(got[0].coord, coord_at(x));
    }
}

/// Nodes a..e; a at 0 ms, b at 30, c at 10, d without a coordinate, e at 10 (ties with c).
fn near_fixture() -> Harness {
    let mut h = Harness::new();
    for n in ["d", "b", "e", "c", "a"] {
        h.ok(register(
            node(n),
            Some(service("web1", "web", &[])),
            vec![check(n, "serfHealth", CheckStatus::Passing, "")],
        ));
    }
    h.ok(batch(vec![
        row("a", "", 0.0),
        row("b", "", 30.0),
        row("c", "", 10.0),
        row("e", "", 10.0),
    ]));
    h
}

fn node_names(result: &QueryResult) -> Vec<String> {
    match result {
        QueryResult::Nodes(v) => v.iter().map(|n| n.node.clone()).collect(),
        QueryResult::ServiceNodes(v) => v.iter().map(|r| r.node.node.clone()).collect(),
        QueryResult::CheckServiceNodes(v) => v.iter().map(|r| r.node.node.clone()).collect(),
        QueryResult::Checks(v) => v.iter().map(|c| c.node.clone()).collect(),
        other => panic!("unexpected {other:?}"),
    }
}

fn reversed(h: &Harness, q: &Query) -> QueryResult {
    // Start from reverse name order so that a sort is observable.
    let mut r = h.query(q).result;
    match &mut r {
        QueryResult::Nodes(v) => v.reverse(),
        QueryResult::ServiceNodes(v) => v.reverse(),
        QueryResult::CheckServiceNodes(v) => v.reverse(),
        QueryResult::Checks(v) => v.reverse(),
        _ => {}
    }
    r
}

#[test]
fn near_sorts_node_lists_by_distance() {
    let h = near_fixture();
    let queries = [
        Query::CatalogNodes,
        Query::CatalogService {
            service: "web".into(),
            tag: None,
        },
        Query::HealthService {
            service: "web".into(),
            tag: None,
            passing_only: false,
        },
        Query::HealthState { state: None },
    ];
    for q in &queries {
        let mut r = reversed(&h, q);
        assert_eq!(node_names(&r), ["e", "d", "c", "b", "a"], "{q:?}");
        h.store.sort_by_near(&mut r, "a");
        // c and e tie at 10 ms: stable, so e (first in the input) stays first; d has no
        // coordinate and goes last.
        assert_eq!(node_names(&r), ["a", "e", "c", "b", "d"], "{q:?}");

        // From b (30 ms): b, then c/e at 20, then a at 30, d last; the name is
        // case-insensitive.
        let mut r = h.query(q).result;
        h.store.sort_by_near(&mut r, "B");
        assert_eq!(node_names(&r), ["b", "c", "e", "a", "d"], "{q:?}");
    }
}

#[test]
fn near_without_a_source_coordinate_keeps_the_order() {
    let mut h = near_fixture();
    let q = Query::CatalogNodes;
    for near in ["d", "unknown", ""] {
        let mut r = reversed(&h, &q);
        let original = r.clone();
        h.store.sort_by_near(&mut r, near);
        assert_eq!(r, original, "near {near:?}");
    }
    // A source with a coordinate only in another segment does not sort either.
    h.ok(batch(vec![row("d", "seg", 5.0)]));
    let mut r = reversed(&h, &q);
    let original = r.clone();
    h.store.sort_by_near(&mut r, "d");
    assert_eq!(r, original);
}

#[test]
fn near_leaves_other_results_alone() {
    let mut h = near_fixture();
    h.create_session(super::session("s2", "b", SessionBehavior::Release, 0));
    h.create_session(super::session("s1", "c", SessionBehavior::Release, 0));
    for q in [
        Query::SessionList,
        Query::CatalogServices,
        Query::CatalogNode { node: "b".into() },
        Query::CoordinateNodes { segment: None },
    ] {
        let original = h.query(&q).result;
        let mut r = original.clone();
        h.store.sort_by_near(&mut r, "a");
        assert_eq!(r, original, "{q:?}");
    }
}

#[test]
fn near_uses_a_single_segment_of_the_other_node() {
    let mut h = Harness::new();
    for n in ["src", "x", "y"] {
        h.node(n);
    }
    // The source is a server (several segments); x is a client of segment "seg" only, far in
    // the default segment's terms but close in "seg".
    h.ok(batch(vec![
        row("src", "", 0.0),
        row("src", "seg", 100.0),
        row("x", "seg", 101.0),
        row("y", "", 50.0),
    ]));
    let mut r = QueryResult::Nodes(vec![node("y"), node("x")]);
    h.store.sort_by_near(&mut r, "src");
    assert_eq!(node_names(&r), ["x", "y"]);

    // Through the shared store too.
    let shared = SharedStore::new(h.store.clone());
    let mut r = QueryResult::Nodes(vec![node("y"), node("x")]);
    shared.sort_by_near(&mut r, "src");
    assert_eq!(node_names(&r), ["x", "y"]);
}

#[test]
fn incompatible_coordinates_sort_last() {
    let mut h = Harness::new();
    for n in ["a", "b", "c"] {
        h.node(n);
    }
    let mut alien = row("b", "", 1.0);
    alien.coord = Coordinate::new(&Config::default()); // 8 dimensions vs 2
    h.ok(batch(vec![row("a", "", 0.0), alien, row("c", "", 40.0)]));
    let mut r = QueryResult::Nodes(vec![node("b"), node("c"), node("a")]);
    h.store.sort_by_near(&mut r, "a");
    assert_eq!(node_names(&r), ["a", "c", "b"]);
}

#[test]
fn snapshot_keeps_coordinates_and_their_index() {
    let mut h = Harness::new();
    h.node("n1");
    h.node("n2");
    let idx = h.ok(batch(vec![
        row("n1", "", 1.0),
        row("n1", "seg", 2.0),
        row("n2", "", 3.0),
    ]));
    h.node("n3");
    let snap = h.store.snapshot();
    assert_eq!(snap.coordinates.len(), 3);
    assert_eq!(snap.indexes.coordinates, idx);

    let bytes = postcard::to_allocvec(&snap).expect("encode");
    let decoded: StoreSnapshot = postcard::from_bytes(&bytes).expect("decode");
    assert_eq!(decoded, snap);
    let restored = Store::restore(decoded);
    assert_eq!(restored, h.store);
    assert_eq!(restored.table_index(Table::Coordinates), idx);
    let q = Query::CoordinateNode { node: "n1".into() };
    assert_eq!(restored.query(&q), h.store.query(&q));

    // The restored store keeps applying identically (deletion with the node included).
    let mut original = h.store.clone();
    let mut copy = restored;
    let cmd = Command::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: None,
        now_ms: NOW,
    };
    let next = original.last_index() + 1;
    assert_eq!(original.apply(next, cmd.clone()), copy.apply(next, cmd));
    assert_eq!(original, copy);
    assert_eq!(original.coordinates.len(), 1);
}

#[test]
fn restore_skips_invalid_coordinates() {
    let mut h = Harness::new();
    h.node("n1");
    h.node("n2");
    h.ok(batch(vec![row("n1", "", 1.0)]));
    let mut snap = h.store.snapshot();
    let mut bad = row("n2", "", 2.0);
    bad.coord.vec[1] = f64::NAN;
    snap.coordinates.push(bad);
    let restored = Store::restore(snap);
    assert_eq!(
        restored.coordinates.values().cloned().collect::<Vec<_>>(),
        vec![row("n1", "", 1.0)]
    );
}
