//! Every command, result and query survives postcard (non-self-describing) encoding.

use std::collections::BTreeMap;

use praetor_coordinate::{Config, Coordinate};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{NOW, check, node, service, session};
use crate::{
    Area, CheckServiceNode, CheckStatus, Command, CommandResult, KvEntry, KvOp, NodeCoordinate,
    Query, QueryOutput, QueryResult, ServiceAddress, ServiceCheckRef, ServiceNode, SessionBehavior,
    StoreSnapshot, TxnError, TxnKvOp, TxnKvVerb, TxnOp, TxnResult,
};

fn roundtrip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = postcard::to_allocvec(value).expect("encode");
    let back: T = postcard::from_bytes(&bytes).expect("decode");
    assert_eq!(&back, value);
}

fn node_coordinate(node: &str, segment: &str) -> NodeCoordinate {
    let mut coord = Coordinate::new(&Config::default());
    coord.vec[3] = -0.0125;
    coord.adjustment = 1.0e-4;
    NodeCoordinate {
        node: node.into(),
        segment: segment.into(),
        coord,
    }
}

fn full_entry() -> KvEntry {
    KvEntry {
        key: "k/é".into(),
        value: vec![0, 1, 255],
        flags: u64::MAX,
        session: Some("s1".into()),
        lock_index: 3,
        create_index: 4,
        modify_index: 5,
    }
}

#[test]
fn every_command_variant_round_trips() {
    let mut n = node("n1");
    n.tagged_addresses.insert("wan".into(), "1.2.3.4".into());
    n.meta.insert("rack".into(), "r1".into());
    let mut svc = service("web1", "web", &["a", "b"]);
    svc.tagged_addresses.insert(
        "lan".into(),
        ServiceAddress {
            address: "10.0.0.1".into(),
            port: 80,
        },
    );
    svc.meta.insert("version".into(), "1".into());
    let mut sess = session("s1", "n1", SessionBehavior::Delete, 15_000);
    sess.service_checks.push(ServiceCheckRef {
        id: "c".into(),
        namespace: "default".into(),
    });
    sess.ttl = "30s".into();

    let mut txn_op = TxnKvOp::new(TxnKvVerb::CheckSession, "k");
    txn_op.session = Some("s1".into());
    let commands = vec![
        Command::Register {
            node: n,
            service: Some(svc),
            checks: vec![check("n1", "c", CheckStatus::Maintenance, "web1")],
            now_ms: NOW,
        },
        Command::Register {
            node: node("n2"),
            service: None,
            checks: vec![],
            now_ms: 0,
        },
        Command::Deregister {
            node: "n1".into(),
            service_id: Some("web1".into()),
            check_id: None,
            now_ms: NOW,
        },
        Command::Deregister {
            node: "n1".into(),
            service_id: None,
            check_id: Some("c".into()),
            now_ms: NOW,
        },
        Command::KvSet {
            op: KvOp::Lock,
            entry: full_entry(),
            cas_index: 9,
            now_ms: NOW,
        },
        Command::KvSet {
            op: KvOp::DeleteTree,
            entry: KvEntry::default(),
            cas_index: 0,
            now_ms: NOW,
        },
        Command::SessionCreate {
            session: sess,
            now_ms: NOW,
        },
        Command::SessionDestroy {
            id: "s1".into(),
            now_ms: NOW,
        },
        Command::Txn {
            ops: vec![
                TxnOp::Kv(txn_op),
                TxnOp::Kv(TxnKvOp::new(TxnKvVerb::GetTree, "a/")),
            ],
            now_ms: NOW,
        },
        Command::TombstoneReap { up_to_index: 77 },
        Command::CoordinateBatchUpdate {
            updates: vec![node_coordinate("n1", ""), node_coordinate("n2", "seg")],
        },
        Command::CoordinateBatchUpdate { updates: vec![] },
        Command::AreaUpsert {
            area: Area {
                id: "8f246b77-f3e1-ff88-5b48-8ec93abf3e05".into(),
                peer_datacenter: "dc2".into(),
                retry_join: vec!["10.1.2.3".into(), "host:8300".into()],
                use_tls: true,
                create_index: 3,
                modify_index: 4,
            },
        },
        Command::AreaUpsert {
            area: Area::default(),
        },
        Command::AreaDelete { id: "a-1".into() },
        Command::Restore {
            snapshot: Box::new(StoreSnapshot {
                last_index: 9,
                kvs: vec![full_entry()],
                ..StoreSnapshot::default()
            }),
        },
    ];
    for op in [
        KvOp::Set,
        KvOp::Cas,
        KvOp::Unlock,
        KvOp::Delete,
        KvOp::DeleteCas,
    ] {
        roundtrip(&Command::KvSet {
            op,
            entry: full_entry(),
            cas_index: 1,
            now_ms: 2,
        });
    }
    for cmd in &commands {
        roundtrip(cmd);
    }
    roundtrip(&commands);
}

#[test]
fn command_results_round_trip() {
    for r in [
        CommandResult::Ok,
        CommandResult::Bool(true),
        CommandResult::Error("Missing node registration".into()),
        CommandResult::Txn(TxnResult {
            results: vec![full_entry()],
            errors: vec![TxnError {
                op_index: 2,
                what: "x".into(),
            }],
        }),
    ] {
        roundtrip(&r);
    }
}

#[test]
fn every_query_and_query_result_round_trips() {
    let queries = vec![
        Query::KvGet { key: "a".into() },
        Query::KvList {
            prefix: "a/".into(),
        },
        Query::KvKeys {
            prefix: "a/".into(),
            separator: Some("/".into()),
        },
        Query::CatalogNodes,
        Query::CatalogServices,
        Query::CatalogService {
            service: "web".into(),
            tag: Some("v1".into()),
        },
        Query::CatalogNode { node: "n1".into() },
        Query::HealthNode { node: "n1".into() },
        Query::HealthChecks {
            service: "web".into(),
        },
        Query::HealthState {
            state: Some(CheckStatus::Critical),
        },
        Query::HealthState { state: None },
        Query::HealthService {
            service: "web".into(),
            tag: None,
            passing_only: true,
        },
        Query::SessionInfo { id: "s1".into() },
        Query::SessionNode { node: "n1".into() },
        Query::SessionList,
        Query::CoordinateNodes { segment: None },
        Query::CoordinateNodes {
            segment: Some(String::new()),
        },
        Query::CoordinateNode { node: "n1".into() },
        Query::Areas,
        Query::AreaGet { id: "a-1".into() },
    ];
    for q in &queries {
        roundtrip(q);
    }

    let n = node("n1");
    let s = service("web1", "web", &["t"]);
    let c = check("n1", "c", CheckStatus::Warning, "web1");
    let results = vec![
        QueryResult::Kv(Some(full_entry())),
        QueryResult::Kv(None),
        QueryResult::KvList(vec![full_entry(), KvEntry::default()]),
        QueryResult::Keys(vec!["a/".into(), "b".into()]),
        QueryResult::Nodes(vec![n.clone()]),
        QueryResult::Services(BTreeMap::from([
            ("web".into(), vec!["t".into()]),
            ("db".into(), vec![]),
        ])),
        QueryResult::ServiceNodes(vec![ServiceNode {
            node: n.clone(),
            service: s.clone(),
        }]),
        QueryResult::NodeServices(Some((n.clone(), vec![s.clone()]))),
        QueryResult::NodeServices(None),
        QueryResult::Checks(vec![c.clone()]),
        QueryResult::CheckServiceNodes(vec![CheckServiceNode {
            node: n,
            service: s,
            checks: vec![c],
        }]),
        QueryResult::Sessions(vec![session("s1", "n1", SessionBehavior::Release, 0)]),
        QueryResult::Coordinates(vec![node_coordinate("n1", "")]),
        QueryResult::Coordinates(vec![]),
        QueryResult::Areas(vec![Area {
            id: "a-1".into(),
            peer_datacenter: "dc2".into(),
            retry_join: vec!["10.1.2.3".into()],
            use_tls: false,
            create_index: 1,
            modify_index: 2,
        }]),
        QueryResult::Areas(vec![]),
    ];
    for result in results {
        roundtrip(&QueryOutput { index: 12, result });
    }
}

#[test]
fn snapshot_round_trips() {
    let mut h = super::Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 10_000));
    h.kv(KvOp::Lock, "k", "v", Some("s1"), 0);
    h.set("gone", "x");
    h.kv(KvOp::Delete, "gone", "", None, 0);
    h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: NOW,
    });
    h.ok(Command::CoordinateBatchUpdate {
        updates: vec![node_coordinate("n1", "")],
    });
    h.ok(Command::AreaUpsert {
        area: Area {
            id: "a-1".into(),
            peer_datacenter: "dc2".into(),
            ..Area::default()
        },
    });
    let snap: StoreSnapshot = h.store.snapshot();
    assert!(!snap.tombstones.is_empty() && !snap.lock_delays.is_empty());
    assert_eq!(snap.areas.len(), 1);
    assert!(snap.areas_index > 0);
    assert_eq!(snap.coordinates.len(), 1);
    roundtrip(&snap);
}
