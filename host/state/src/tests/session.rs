//! Sessions: validation on create, and invalidation (destroy, critical check, deregistration).

use super::{Harness, NOW, check, node, register, service, session};
use crate::{
    CheckStatus, Command, CommandResult, KvOp, Query, QueryResult, ServiceCheckRef, Session,
    SessionBehavior, Table,
};

fn sessions(h: &Harness, q: Query) -> Vec<Session> {
    match h.query(&q).result {
        QueryResult::Sessions(s) => s,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn create_validates_node_and_checks() {
    let mut h = Harness::new();
    let create = |h: &mut Harness, s: Session| {
        h.apply(Command::SessionCreate {
            session: s,
            now_ms: NOW,
        })
        .1
    };

    let r = create(&mut h, session("s1", "n1", SessionBehavior::Release, 0));
    assert_eq!(r, CommandResult::Error("Missing node registration".into()));

    h.ok(register(node("n1"), None, vec![]));
    let r = create(&mut h, session("s1", "n1", SessionBehavior::Release, 0));
    assert_eq!(
        r,
        CommandResult::Error("Missing check 'serfHealth' registration".into())
    );

    h.ok(register(
        node("n1"),
        None,
        vec![check("n1", "serfHealth", CheckStatus::Critical, "")],
    ));
    let r = create(&mut h, session("s1", "n1", SessionBehavior::Release, 0));
    assert_eq!(
        r,
        CommandResult::Error("Check 'serfHealth' is in critical state".into())
    );
    assert_eq!(h.store.table_index(Table::Sessions), 0);

    h.ok(register(
        node("n1"),
        None,
        vec![check("n1", "serfHealth", CheckStatus::Warning, "")],
    ));
    let (idx, r, changes) = h.apply(Command::SessionCreate {
        session: session("s1", "N1", SessionBehavior::Release, 0),
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.contains(Table::Sessions));
    let got = sessions(&h, Query::SessionInfo { id: "s1".into() });
    assert_eq!((got[0].create_index, got[0].modify_index), (idx, idx));
    assert_eq!(
        sessions(&h, Query::SessionNode { node: "n1".into() }).len(),
        1
    );

    let r = create(&mut h, session("s1", "n1", SessionBehavior::Release, 0));
    assert_eq!(
        r,
        CommandResult::Error("Session ID \"s1\" already exists".into())
    );
    let r = create(&mut h, session("", "n1", SessionBehavior::Release, 0));
    assert_eq!(r, CommandResult::Error("Missing session ID".into()));
}

#[test]
fn destroy_with_release_keeps_the_keys() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 0));
    h.kv(KvOp::Lock, "a", "va", Some("s1"), 0);
    h.kv(KvOp::Lock, "b", "vb", Some("s1"), 0);
    let destroy = h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: NOW,
    });
    for key in ["a", "b"] {
        let e = h.get(key).unwrap();
        assert_eq!(
            (e.session.as_deref(), e.lock_index, e.modify_index),
            (None, 1, destroy)
        );
    }
    assert!(sessions(&h, Query::SessionList).is_empty());
    assert!(h.store.lock_delays.is_empty(), "no delay configured");
    // Destroying again is a no-op.
    let (_, r, changes) = h.apply(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: NOW,
    });
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.is_empty());
}

#[test]
fn destroy_with_delete_removes_the_keys() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Delete, 5_000));
    h.kv(KvOp::Lock, "a", "va", Some("s1"), 0);
    let keep = h.set("unlocked", "v");
    let destroy = h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: NOW,
    });
    assert!(h.get("a").is_none());
    assert_eq!(h.store.tombstones.get("a"), Some(&destroy));
    assert_eq!(h.store.lock_delays.get("a"), Some(&(NOW + 5_000)));
    assert_eq!(h.get("unlocked").unwrap().modify_index, keep);
}

#[test]
fn node_check_going_critical_invalidates_the_session() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 1_000));
    h.kv(KvOp::Lock, "leader", "me", Some("s1"), 0);

    // A passing update keeps the session.
    h.ok(register(
        node("n1"),
        None,
        vec![check("n1", "serfHealth", CheckStatus::Warning, "")],
    ));
    assert_eq!(sessions(&h, Query::SessionList).len(), 1);

    let (idx, r, changes) = h.apply(register(
        node("n1"),
        None,
        vec![check("n1", "serfHealth", CheckStatus::Critical, "")],
    ));
    assert_eq!(r, CommandResult::Ok);
    assert!(
        changes.contains(Table::Sessions)
            && changes.contains(Table::Kvs)
            && changes.kv_keys.contains("leader")
    );
    assert!(sessions(&h, Query::SessionList).is_empty());
    let e = h.get("leader").unwrap();
    assert_eq!((e.session, e.modify_index), (None, idx));
    assert_eq!(h.store.lock_delays.get("leader"), Some(&(NOW + 1_000)));
}

#[test]
fn node_deregistration_invalidates_the_session() {
    let mut h = Harness::new();
    h.node("n1");
    h.node("n2");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 0));
    h.create_session(session("s2", "n2", SessionBehavior::Release, 0));
    h.kv(KvOp::Lock, "k1", "v", Some("s1"), 0);
    h.kv(KvOp::Lock, "k2", "v", Some("s2"), 0);
    h.ok(Command::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: None,
        now_ms: NOW,
    });
    let left = sessions(&h, Query::SessionList);
    assert_eq!(
        left.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s2"]
    );
    assert_eq!(h.get("k1").unwrap().session, None);
    assert_eq!(h.get("k2").unwrap().session.as_deref(), Some("s2"));
}

#[test]
fn check_deregistration_invalidates_the_session() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 0));
    h.ok(Command::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: Some("serfHealth".into()),
        now_ms: NOW,
    });
    assert!(sessions(&h, Query::SessionList).is_empty());
}

#[test]
fn service_check_binding_follows_the_service() {
    let mut h = Harness::new();
    h.ok(register(
        node("n1"),
        Some(service("web1", "web", &[])),
        vec![check("n1", "web-alive", CheckStatus::Passing, "web1")],
    ));
    let mut s = session("s1", "n1", SessionBehavior::Release, 0);
    s.node_checks.clear();
    s.service_checks = vec![ServiceCheckRef {
        id: "web-alive".into(),
        namespace: String::new(),
    }];
    h.create_session(s);
    assert_eq!(sessions(&h, Query::SessionList).len(), 1);
    h.ok(Command::Deregister {
        node: "n1".into(),
        service_id: Some("web1".into()),
        check_id: None,
        now_ms: NOW,
    });
    assert!(sessions(&h, Query::SessionList).is_empty());
}
