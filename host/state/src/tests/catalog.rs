//! Catalog writes: registration indexes, no-churn re-registration, deregistration, rollback,
//! node renames and name conflicts.

use super::{Harness, NOW, check, node, register, service};
use crate::{CheckStatus, Command, CommandResult, Query, QueryResult, Table};

#[test]
fn register_sets_indexes_and_fills_check_service_fields() {
    let mut h = Harness::new();
    let (idx, r, changes) = h.apply(register(
        node("n1"),
        Some(service("web1", "web", &["v1"])),
        vec![
            check("", "web-alive", CheckStatus::Passing, "web1"),
            check("n1", "serfHealth", CheckStatus::Passing, ""),
        ],
    ));
    assert_eq!(r, CommandResult::Ok);
    assert_eq!(
        changes.tables,
        [Table::Nodes, Table::Services, Table::Checks].into()
    );
    let n = h.store.nodes.get("n1").unwrap();
    assert_eq!((n.create_index, n.modify_index), (idx, idx));
    let s = h.store.services.get(&("n1".into(), "web1".into())).unwrap();
    assert_eq!((s.create_index, s.modify_index), (idx, idx));
    let c = h
        .store
        .checks
        .get(&("n1".into(), "web-alive".into()))
        .unwrap();
    assert_eq!(
        (
            c.node.as_str(),
            c.service_name.as_str(),
            c.service_tags.clone()
        ),
        ("n1", "web", vec!["v1".into()])
    );
    assert_eq!((c.create_index, c.modify_index), (idx, idx));
    for t in [Table::Nodes, Table::Services, Table::Checks] {
        assert_eq!(h.store.table_index(t), idx);
    }
}

#[test]
fn identical_reregistration_keeps_every_index() {
    let mut h = Harness::new();
    let cmd = register(
        node("n1"),
        Some(service("web1", "web", &["v1"])),
        vec![check("n1", "web-alive", CheckStatus::Passing, "web1")],
    );
    let first = h.ok(cmd.clone());
    let before = h.store.snapshot();
    let (_, r, changes) = h.apply(cmd);
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.is_empty());
    let mut after = h.store.snapshot();
    after.last_index = before.last_index;
    assert_eq!(after, before);
    assert_eq!(
        h.query(&Query::HealthService {
            service: "web".into(),
            tag: None,
            passing_only: false
        })
        .index,
        first
    );
}

#[test]
fn changing_one_object_bumps_only_it() {
    let mut h = Harness::new();
    let first = h.ok(register(
        node("n1"),
        Some(service("web1", "web", &[])),
        vec![],
    ));
    let mut svc = service("web1", "web", &[]);
    svc.port = 9090;
    let (second, _, changes) = h.apply(register(node("n1"), Some(svc), vec![]));
    assert_eq!(changes.tables, [Table::Services].into());
    assert_eq!(h.store.nodes.get("n1").unwrap().modify_index, first);
    let s = h.store.services.get(&("n1".into(), "web1".into())).unwrap();
    assert_eq!(
        (s.create_index, s.modify_index, s.port),
        (first, second, 9090)
    );

    let mut n = node("n1");
    n.address = "10.0.0.2".into();
    let (third, _, changes) = h.apply(register(n, None, vec![]));
    assert_eq!(changes.tables, [Table::Nodes].into());
    let n = h.store.nodes.get("n1").unwrap();
    assert_eq!((n.create_index, n.modify_index), (first, third));
    // The node change moves the index of the services on it.
    assert_eq!(
        h.query(&Query::CatalogService {
            service: "web".into(),
            tag: None
        })
        .index,
        third
    );
}

#[test]
fn deregister_service_removes_its_checks_only() {
    let mut h = Harness::new();
    h.ok(register(
        node("n1"),
        Some(service("web1", "web", &[])),
        vec![
            check("n1", "web-alive", CheckStatus::Passing, "web1"),
            check("n1", "serfHealth", CheckStatus::Passing, ""),
        ],
    ));
    h.ok(register(
        node("n1"),
        Some(service("db1", "db", &[])),
        vec![check("n1", "db-alive", CheckStatus::Passing, "db1")],
    ));
    let (idx, r, changes) = h.apply(Command::Deregister {
        node: "n1".into(),
        service_id: Some("WEB1".into()),
        check_id: None,
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Ok);
    assert_eq!(changes.tables, [Table::Services, Table::Checks].into());
    let ids: Vec<&str> = h
        .store
        .checks
        .values()
        .map(|c| c.check_id.as_str())
        .collect();
    assert_eq!(ids, ["db-alive", "serfHealth"]);
    assert_eq!(h.store.services.len(), 1);
    assert_eq!(h.store.table_index(Table::Services), idx);

    // Deregistering something absent changes nothing.
    let (_, r, changes) = h.apply(Command::Deregister {
        node: "n1".into(),
        service_id: Some("nope".into()),
        check_id: None,
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.is_empty());

    h.ok(Command::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: None,
        now_ms: NOW,
    });
    assert!(h.store.nodes.is_empty() && h.store.services.is_empty() && h.store.checks.is_empty());
}

#[test]
fn failed_registration_is_rolled_back() {
    let mut h = Harness::new();
    let before = h.store.clone();
    let (idx, r, changes) = h.apply(register(
        node("n1"),
        Some(service("web1", "web", &[])),
        vec![check("n1", "c", CheckStatus::Passing, "missing-service")],
    ));
    assert_eq!(
        r,
        CommandResult::Error(
            "failed inserting check on node \"n1\": Missing service registration".into()
        )
    );
    assert!(changes.is_empty());
    assert_eq!(h.store.last_index(), idx);
    let mut after = h.store.clone();
    after.last_index = 0;
    assert_eq!(after, before);

    let (_, r, _) = h.apply(register(
        node("n1"),
        None,
        vec![check("n2", "c", CheckStatus::Passing, "")],
    ));
    assert_eq!(
        r,
        CommandResult::Error("check node \"n2\" does not match node \"n1\"".into())
    );
    assert!(h.store.nodes.is_empty());
    let (_, r, _) = h.apply(register(node(""), None, vec![]));
    assert_eq!(r, CommandResult::Error("Must provide node".into()));
    let mut nameless = service("", "", &[]);
    nameless.id = "x".into();
    let (_, r, _) = h.apply(register(node("n1"), Some(nameless), vec![]));
    assert_eq!(
        r,
        CommandResult::Error("Must provide service name with ID".into())
    );
}

#[test]
fn service_id_defaults_to_its_name() {
    let mut h = Harness::new();
    h.ok(register(
        node("n1"),
        Some(service("", "redis", &[])),
        vec![],
    ));
    assert!(
        h.store
            .services
            .contains_key(&("n1".into(), "redis".into()))
    );
}

#[test]
fn live_node_name_cannot_be_taken_by_another_id() {
    let mut h = Harness::new();
    let mut a = node("n1");
    a.id = "aaaa".into();
    h.ok(register(
        a,
        None,
        vec![check("n1", "serfHealth", CheckStatus::Passing, "")],
    ));
    let mut b = node("n1");
    b.id = "bbbb".into();
    let (_, r, _) = h.apply(register(b.clone(), None, vec![]));
    assert_eq!(
        r,
        CommandResult::Error(
            "failed inserting node: Error while renaming Node ID: \"bbbb\": Node name n1 is reserved by node aaaa with name n1 (10.0.0.1)"
                .into()
        )
    );
    assert_eq!(h.store.nodes.get("n1").unwrap().id, "aaaa");

    // Once the old node is failed, its name can be taken.
    h.ok(register(
        node_with_id("n1", "aaaa"),
        None,
        vec![check("n1", "serfHealth", CheckStatus::Critical, "")],
    ));
    h.ok(register(b, None, vec![]));
    assert_eq!(h.store.nodes.get("n1").unwrap().id, "bbbb");
}

fn node_with_id(name: &str, id: &str) -> crate::Node {
    let mut n = node(name);
    n.id = id.into();
    n
}

#[test]
fn node_renamed_under_the_same_id_replaces_the_old_one() {
    let mut h = Harness::new();
    h.ok(register(
        node_with_id("old", "id-1"),
        Some(service("web1", "web", &[])),
        vec![],
    ));
    let idx = h.ok(register(node_with_id("new", "id-1"), None, vec![]));
    assert!(!h.store.nodes.contains_key("old"));
    assert!(
        h.store.services.is_empty(),
        "services of the old name go with it"
    );
    let n = h.store.nodes.get("new").unwrap();
    assert_eq!((n.id.as_str(), n.create_index), ("id-1", idx));
}

#[test]
fn names_are_case_insensitive() {
    let mut h = Harness::new();
    h.ok(register(
        node("Node1"),
        Some(service("Web1", "Web", &["Primary"])),
        vec![],
    ));
    let out = h.query(&Query::CatalogNode {
        node: "node1".into(),
    });
    let QueryResult::NodeServices(Some((n, services))) = out.result else {
        panic!("node not found")
    };
    assert_eq!((n.node.as_str(), services.len()), ("Node1", 1));
    let out = h.query(&Query::CatalogService {
        service: "web".into(),
        tag: Some("primary".into()),
    });
    let QueryResult::ServiceNodes(rows) = out.result else {
        panic!("wrong result")
    };
    assert_eq!(rows.len(), 1);
    // Re-registering with another case is the same node and changes nothing.
    let (_, _, changes) = h.apply(register(node("NODE1"), None, vec![]));
    assert!(changes.is_empty());
}
