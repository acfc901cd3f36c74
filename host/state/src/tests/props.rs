//! Properties over a long deterministic pseudo-random workload: index monotonicity, touched
//! objects carry the command's index, failed commands change nothing, snapshot/restore is exact.

use praetor_coordinate::{Config, Coordinate};

use super::{NOW, check, node, service};
use crate::{
    Area, CheckStatus, Command, CommandResult, KvEntry, KvOp, NodeCoordinate, Session,
    SessionBehavior, Store, StoreSnapshot, Table, TxnKvOp, TxnKvVerb, TxnOp,
};

/// A tiny deterministic generator (64-bit LCG).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const NODES: [&str; 4] = ["n0", "n1", "n2", "n3"];
const KEYS: [&str; 8] = ["a", "a/b", "a/c", "b", "b/x/y", "c", "lock/1", "lock/2"];
const SESSIONS: [&str; 4] = ["s0", "s1", "s2", "s3"];
const STATUSES: [CheckStatus; 4] = [
    CheckStatus::Passing,
    CheckStatus::Passing,
    CheckStatus::Warning,
    CheckStatus::Critical,
];

fn kv_entry(g: &mut Gen, key: &str) -> KvEntry {
    KvEntry {
        key: key.into(),
        value: vec![g.below(3) as u8],
        flags: g.below(2),
        session: Some(g.pick(&SESSIONS).to_string()),
        ..KvEntry::default()
    }
}

fn command(g: &mut Gen, now_ms: u64) -> Command {
    match g.below(10) {
        0 | 1 => {
            let n = g.pick(&NODES);
            let svc_id = format!("svc{}", g.below(3));
            let svc =
                (g.below(2) == 0).then(|| service(&svc_id, &format!("name{}", g.below(2)), &["t"]));
            let mut checks = vec![check(n, "serfHealth", STATUSES[g.below(4) as usize], "")];
            if svc.is_some() && g.below(2) == 0 {
                checks.push(check(
                    n,
                    "svc-check",
                    STATUSES[g.below(4) as usize],
                    &svc_id,
                ));
            }
            let mut nd = node(n);
            nd.address = format!("10.0.0.{}", g.below(2));
            Command::Register {
                node: nd,
                service: svc,
                checks,
                now_ms,
            }
        }
        2 => {
            let n = g.pick(&NODES).to_string();
            match g.below(3) {
                0 => Command::Deregister {
                    node: n,
                    service_id: Some(format!("svc{}", g.below(3))),
                    check_id: None,
                    now_ms,
                },
                1 => Command::Deregister {
                    node: n,
                    service_id: None,
                    check_id: Some("serfHealth".into()),
                    now_ms,
                },
                _ => Command::Deregister {
                    node: n,
                    service_id: None,
                    check_id: None,
                    now_ms,
                },
            }
        }
        3 => {
            let behavior = if g.below(2) == 0 {
                SessionBehavior::Release
            } else {
                SessionBehavior::Delete
            };
            let session = Session {
                id: g.pick(&SESSIONS).into(),
                node: g.pick(&NODES).into(),
                node_checks: vec!["serfHealth".into()],
                behavior,
                lock_delay_ms: g.below(3) * 1_000,
                ..Session::default()
            };
            Command::SessionCreate { session, now_ms }
        }
        4 => Command::SessionDestroy {
            id: g.pick(&SESSIONS).into(),
            now_ms,
        },
        5 => {
            let ops = (0..=g.below(3))
                .map(|_| {
                    let verbs = [
                        TxnKvVerb::Set,
                        TxnKvVerb::Cas,
                        TxnKvVerb::Delete,
                        TxnKvVerb::CheckIndex,
                        TxnKvVerb::Lock,
                    ];
                    let mut op = TxnKvOp::new(verbs[g.below(5) as usize], g.pick(&KEYS));
                    op.value = vec![g.below(3) as u8];
                    op.index = g.below(40);
                    op.session = Some(g.pick(&SESSIONS).into());
                    TxnOp::Kv(op)
                })
                .collect();
            Command::Txn { ops, now_ms }
        }
        6 if g.below(4) == 0 => Command::TombstoneReap {
            up_to_index: g.below(200),
        },
        6 if g.below(2) == 0 => {
            // Some for unknown nodes, repeated values, and now and then an invalid one.
            let updates = (0..=g.below(3))
                .map(|_| {
                    let mut coord = Coordinate::new(&Config::default());
                    coord.vec[0] = g.below(3) as f64 / 1000.0;
                    if g.below(10) == 0 {
                        coord.height = f64::NAN;
                    }
                    let nodes = ["n0", "n1", "n2", "n3", "ghost"];
                    NodeCoordinate {
                        node: nodes[g.below(5) as usize].into(),
                        segment: ["", "seg"][g.below(2) as usize].into(),
                        coord,
                    }
                })
                .collect();
            Command::CoordinateBatchUpdate { updates }
        }
        6 if g.below(2) == 0 => {
            // Creates, updates (some changing the peer, some identical), duplicate peers,
            // deletes of known and unknown areas.
            let id = g.pick(&["a0", "a1", "a2"]).to_string();
            if g.below(4) == 0 {
                Command::AreaDelete { id }
            } else {
                Command::AreaUpsert {
                    area: Area {
                        id,
                        peer_datacenter: g.pick(&["dc2", "dc3", "DC2", ""]).into(),
                        retry_join: vec![g.pick(&["10.0.0.1", "10.0.0.2"]).into()],
                        use_tls: g.below(2) == 0,
                        ..Area::default()
                    },
                }
            }
        }
        _ => {
            let ops = [
                KvOp::Set,
                KvOp::Cas,
                KvOp::Lock,
                KvOp::Unlock,
                KvOp::Delete,
                KvOp::DeleteCas,
                KvOp::DeleteTree,
            ];
            let op = ops[g.below(7) as usize];
            let key = g.pick(&KEYS);
            let entry = kv_entry(g, key);
            Command::KvSet {
                op,
                entry,
                cas_index: g.below(40),
                now_ms,
            }
        }
    }
}

/// Every (table, modify index) pair of the stored objects.
fn modify_indexes(s: &Store) -> Vec<(Table, u64, u64)> {
    let mut out = Vec::new();
    out.extend(
        s.nodes
            .values()
            .map(|n| (Table::Nodes, n.create_index, n.modify_index)),
    );
    out.extend(
        s.services
            .values()
            .map(|v| (Table::Services, v.create_index, v.modify_index)),
    );
    out.extend(
        s.checks
            .values()
            .map(|c| (Table::Checks, c.create_index, c.modify_index)),
    );
    out.extend(
        s.kvs
            .values()
            .map(|e| (Table::Kvs, e.create_index, e.modify_index)),
    );
    out.extend(
        s.sessions
            .values()
            .map(|x| (Table::Sessions, x.create_index, x.modify_index)),
    );
    out.extend(
        s.areas
            .values()
            .map(|a| (Table::Areas, a.create_index, a.modify_index)),
    );
    out
}

fn roundtrip(s: &Store) -> Store {
    let bytes = postcard::to_allocvec(&s.snapshot()).expect("encode snapshot");
    let snap: StoreSnapshot = postcard::from_bytes(&bytes).expect("decode snapshot");
    Store::restore(snap)
}

#[test]
fn indexes_are_monotonic_and_touched_objects_carry_the_index() {
    let mut g = Gen(0x5eed);
    let mut store = Store::new();
    let mut now = NOW;
    let (mut commits, mut failures) = (0, 0);
    for idx in 1..=3_000u64 {
        now += g.below(3_000);
        let cmd = command(&mut g, now);
        let before = store.clone();
        let (result, changes) = store.apply(idx, cmd.clone());
        assert_eq!(store.last_index(), idx);

        let failed = matches!(&result, CommandResult::Error(_))
            || matches!(&result, CommandResult::Txn(t) if !t.errors.is_empty());
        if failed {
            failures += 1;
            assert!(
                changes.is_empty(),
                "{idx}: failed command reported changes: {cmd:?}"
            );
            let mut unchanged = store.clone();
            unchanged.last_index = before.last_index;
            assert_eq!(
                unchanged, before,
                "{idx}: failed command changed the store: {cmd:?} -> {result:?}"
            );
            continue;
        }
        commits += 1;

        for table in Table::ALL {
            let (old, new) = (before.table_index(table), store.table_index(table));
            assert!(new >= old, "{idx}: {table:?} index went back");
            assert_eq!(
                changes.contains(table),
                new != old,
                "{idx}: {table:?} change not reported: {cmd:?}"
            );
            if changes.contains(table) {
                assert_eq!(new, idx);
            }
        }
        for (table, create, modify) in modify_indexes(&store) {
            assert!(
                create <= modify && modify <= idx,
                "{idx}: bad indexes on {table:?}"
            );
            if modify == idx {
                assert!(
                    changes.contains(table),
                    "{idx}: {table:?} object written without a reported change"
                );
            }
        }
        for key in &changes.kv_keys {
            if let Some(e) = store.kvs.get(key) {
                assert_eq!(
                    e.modify_index, idx,
                    "{idx}: changed key {key} does not carry the index"
                );
            } else {
                assert_eq!(
                    store.tombstones.get(key),
                    Some(&idx),
                    "{idx}: deleted key {key} has no tombstone"
                );
            }
        }
        for (name, i) in &store.service_indexes {
            assert!(*i <= idx && before.service_indexes.get(name).is_none_or(|old| i >= old));
        }
        if idx % 97 == 0 {
            assert_eq!(roundtrip(&store), store, "{idx}: snapshot/restore differs");
        }
    }
    // The workload exercised both paths substantially.
    assert!(
        commits > 1_000 && failures > 100,
        "commits {commits}, failures {failures}"
    );
    assert!(!store.kvs.is_empty() || !store.tombstones.is_empty());
    assert!(store.table_index(Table::Coordinates) > 0);
    assert!(store.table_index(Table::Areas) > 0);
}

#[test]
fn restored_store_is_equal_and_evolves_identically() {
    let mut g = Gen(42);
    let mut original = Store::new();
    let mut now = NOW;
    for idx in 1..=800u64 {
        now += g.below(2_000);
        let cmd = command(&mut g, now);
        original.apply(idx, cmd);
    }
    assert!(
        !original.nodes.is_empty()
            && !original.tombstones.is_empty()
            && !original.coordinates.is_empty()
            && !original.areas.is_empty(),
        "workload left too little state"
    );

    let mut restored = roundtrip(&original);
    assert_eq!(restored, original);
    assert_eq!(restored.snapshot(), original.snapshot());

    for idx in 801..=1_200u64 {
        now += g.below(2_000);
        let cmd = command(&mut g, now);
        let a = original.apply(idx, cmd.clone());
        let b = restored.apply(idx, cmd);
        assert_eq!(a, b, "{idx}: results diverge");
    }
    assert_eq!(restored, original);
}

#[test]
fn stale_raft_index_is_rejected() {
    let mut store = Store::new();
    let set = |k: &str| Command::KvSet {
        op: KvOp::Set,
        entry: KvEntry {
            key: k.into(),
            ..KvEntry::default()
        },
        cas_index: 0,
        now_ms: NOW,
    };
    store.apply(5, set("a"));
    let (r, changes) = store.apply(5, set("b"));
    assert_eq!(
        r,
        CommandResult::Error("raft index 5 is not after the last applied index 5".into())
    );
    assert!(changes.is_empty());
    assert!(!store.kvs.contains_key("b"));
    assert_eq!(store.last_index(), 5);
}
