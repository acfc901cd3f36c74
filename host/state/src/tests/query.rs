//! Catalog and health reads: contents, filters, ordering and index rules.

use super::{Harness, NOW, check, node, register, service, session};
use crate::{CheckStatus, Command, Query, QueryResult, SessionBehavior, Table};

/// n1: web1 (web, v1) passing; n2: web2 (web, v2) warning; n3: web3 (web, v1) passing but its
/// node check is critical; n2 also runs db1 (db).
fn catalog() -> Harness {
    let mut h = Harness::new();
    let setups = [
        (
            "n2",
            "web2",
            &["v2"][..],
            CheckStatus::Warning,
            CheckStatus::Passing,
        ),
        (
            "n1",
            "web1",
            &["v1"][..],
            CheckStatus::Passing,
            CheckStatus::Passing,
        ),
        (
            "n3",
            "web3",
            &["v1"][..],
            CheckStatus::Passing,
            CheckStatus::Critical,
        ),
    ];
    for (n, id, tags, svc_status, node_status) in setups {
        h.ok(register(
            node(n),
            Some(service(id, "web", tags)),
            vec![
                check(n, "serfHealth", node_status, ""),
                check(n, &format!("{id}-check"), svc_status, id),
            ],
        ));
    }
    h.ok(register(
        node("n2"),
        Some(service("db1", "db", &["primary"])),
        vec![],
    ));
    h
}

#[test]
fn catalog_reads() {
    let h = catalog();
    let QueryResult::Nodes(nodes) = h.query(&Query::CatalogNodes).result else {
        panic!()
    };
    assert_eq!(
        nodes.iter().map(|n| n.node.as_str()).collect::<Vec<_>>(),
        ["n1", "n2", "n3"]
    );

    let QueryResult::Services(services) = h.query(&Query::CatalogServices).result else {
        panic!()
    };
    assert_eq!(
        services.get("web").unwrap(),
        &vec!["v1".to_string(), "v2".to_string()]
    );
    assert_eq!(services.get("db").unwrap(), &vec!["primary".to_string()]);

    let QueryResult::ServiceNodes(rows) = h
        .query(&Query::CatalogService {
            service: "web".into(),
            tag: None,
        })
        .result
    else {
        panic!()
    };
    let ids: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.node.node.as_str(), r.service.id.as_str()))
        .collect();
    assert_eq!(ids, [("n1", "web1"), ("n2", "web2"), ("n3", "web3")]);
    let QueryResult::ServiceNodes(rows) = h
        .query(&Query::CatalogService {
            service: "web".into(),
            tag: Some("v1".into()),
        })
        .result
    else {
        panic!()
    };
    assert_eq!(rows.len(), 2);

    let QueryResult::NodeServices(Some((n, services))) =
        h.query(&Query::CatalogNode { node: "n2".into() }).result
    else {
        panic!()
    };
    assert_eq!(n.node, "n2");
    assert_eq!(
        services.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["db1", "web2"]
    );
    assert_eq!(
        h.query(&Query::CatalogNode {
            node: "nope".into()
        })
        .result,
        QueryResult::NodeServices(None)
    );
}

#[test]
fn health_reads() {
    let h = catalog();
    let all = |passing_only| {
        let QueryResult::CheckServiceNodes(rows) = h
            .query(&Query::HealthService {
                service: "web".into(),
                tag: None,
                passing_only,
            })
            .result
        else {
            panic!()
        };
        rows
    };
    let rows = all(false);
    assert_eq!(rows.len(), 3);
    let n1_checks: Vec<&str> = rows[0].checks.iter().map(|c| c.check_id.as_str()).collect();
    assert_eq!(n1_checks, ["serfHealth", "web1-check"]);
    // Warning (n2) and a critical node check (n3) are both excluded by ?passing.
    let passing = all(true);
    assert_eq!(
        passing
            .iter()
            .map(|r| r.service.id.as_str())
            .collect::<Vec<_>>(),
        ["web1"]
    );
    // n2's db check list holds only the node check.
    let QueryResult::CheckServiceNodes(db) = h
        .query(&Query::HealthService {
            service: "db".into(),
            tag: Some("PRIMARY".into()),
            passing_only: false,
        })
        .result
    else {
        panic!()
    };
    assert_eq!(
        db[0]
            .checks
            .iter()
            .map(|c| c.check_id.as_str())
            .collect::<Vec<_>>(),
        ["serfHealth"]
    );

    let QueryResult::Checks(checks) = h
        .query(&Query::HealthChecks {
            service: "web".into(),
        })
        .result
    else {
        panic!()
    };
    assert_eq!(
        checks
            .iter()
            .map(|c| c.check_id.as_str())
            .collect::<Vec<_>>(),
        ["web1-check", "web2-check", "web3-check"]
    );

    let QueryResult::Checks(checks) = h.query(&Query::HealthNode { node: "n3".into() }).result
    else {
        panic!()
    };
    assert_eq!(checks.len(), 2);

    let state = |s| match h.query(&Query::HealthState { state: s }).result {
        QueryResult::Checks(c) => c.len(),
        _ => panic!(),
    };
    assert_eq!(
        (
            state(None),
            state(Some(CheckStatus::Passing)),
            state(Some(CheckStatus::Warning)),
            state(Some(CheckStatus::Critical))
        ),
        (6, 4, 1, 1)
    );
}

#[test]
fn service_index_moves_only_for_that_service() {
    let mut h = catalog();
    let web = Query::HealthService {
        service: "web".into(),
        tag: None,
        passing_only: false,
    };
    let db = Query::HealthService {
        service: "db".into(),
        tag: None,
        passing_only: false,
    };
    let web_before = h.query(&web).index;

    // A check of db1 changes: db moves, web does not.
    let idx = h.ok(register(
        node("n2"),
        None,
        vec![check("n2", "db-check", CheckStatus::Passing, "db1")],
    ));
    assert_eq!(h.query(&db).index, idx);
    assert_eq!(h.query(&web).index, web_before);

    // A node check of n2 changes: both services on n2 move.
    let idx = h.ok(register(
        node("n2"),
        None,
        vec![check("n2", "serfHealth", CheckStatus::Critical, "")],
    ));
    assert_eq!((h.query(&web).index, h.query(&db).index), (idx, idx));

    // A KV write moves neither.
    h.set("k", "v");
    assert_eq!(h.query(&web).index, idx);

    // The last db instance goes: db reports the extinction index, and so does any missing service.
    let gone = h.ok(Command::Deregister {
        node: "n2".into(),
        service_id: Some("db1".into()),
        check_id: None,
        now_ms: NOW,
    });
    assert_eq!(h.query(&db).index, gone);
    assert_eq!(
        h.query(&Query::CatalogService {
            service: "never".into(),
            tag: None
        })
        .index,
        gone
    );
    assert_eq!(h.store.table_indexes().service_extinction, gone);
    assert!(!h.store.service_indexes.contains_key("db"));
}

#[test]
fn missing_service_before_any_extinction_uses_the_catalog_index() {
    let mut h = Harness::new();
    let idx = h.node("n1");
    assert_eq!(
        h.query(&Query::HealthService {
            service: "x".into(),
            tag: None,
            passing_only: false
        })
        .index,
        idx
    );
    assert_eq!(h.store.table_index(Table::Checks), idx);
}

#[test]
fn session_reads() {
    let mut h = Harness::new();
    h.node("n1");
    h.node("n2");
    h.create_session(session("b", "n1", SessionBehavior::Release, 0));
    h.create_session(session("a", "n2", SessionBehavior::Release, 0));
    let idx = h.create_session(session("c", "n1", SessionBehavior::Release, 0));
    let ids = |q| {
        let out = h.query(&q);
        assert_eq!(out.index, idx);
        let QueryResult::Sessions(s) = out.result else {
            panic!()
        };
        s.into_iter().map(|s| s.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(Query::SessionList), ["a", "b", "c"]);
    assert_eq!(ids(Query::SessionNode { node: "N1".into() }), ["b", "c"]);
    assert_eq!(ids(Query::SessionInfo { id: "a".into() }), ["a"]);
    assert!(ids(Query::SessionInfo { id: "zz".into() }).is_empty());
}

#[test]
fn check_status_spelling() {
    for s in [
        CheckStatus::Passing,
        CheckStatus::Warning,
        CheckStatus::Critical,
        CheckStatus::Maintenance,
    ] {
        assert_eq!(CheckStatus::parse(s.as_str()), Ok(s));
    }
    assert_eq!(
        CheckStatus::parse("bogus").unwrap_err().to_string(),
        "unknown check status \"bogus\""
    );
    assert_eq!(
        crate::SessionBehavior::parse(""),
        Ok(SessionBehavior::Release)
    );
    assert_eq!(
        crate::SessionBehavior::parse("delete"),
        Ok(SessionBehavior::Delete)
    );
    assert_eq!(
        crate::SessionBehavior::parse("explode")
            .unwrap_err()
            .to_string(),
        "Invalid session behavior: explode"
    );
}
