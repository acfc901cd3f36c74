//! Prepared queries: unique names, session binding, resolution by ID, name and template
//! prefix, template rendering.

use super::{Harness, session};
use crate::{
    Command, CommandResult, PreparedQuery, Query, QueryResult, QueryTemplate, ServiceQuery,
    SessionBehavior, render_prepared_query,
};

const ID1: &str = "11111111-2222-3333-4444-555555555555";
const ID2: &str = "21111111-2222-3333-4444-555555555555";
const ID3: &str = "31111111-2222-3333-4444-555555555555";

fn pq(id: &str, name: &str, service: &str) -> PreparedQuery {
    PreparedQuery {
        id: id.into(),
        name: name.into(),
        service: ServiceQuery {
            service: service.into(),
            ..ServiceQuery::default()
        },
        ..PreparedQuery::default()
    }
}

fn template(id: &str, name: &str, service: &str) -> PreparedQuery {
    PreparedQuery {
        template: QueryTemplate {
            kind: "name_prefix_match".into(),
            regexp: "^geo-db-(.*?)-([^-]*)$".into(),
            remove_empty_tags: true,
        },
        ..pq(id, name, service)
    }
}

fn set(h: &mut Harness, q: PreparedQuery, create: bool) -> CommandResult {
    h.apply(Command::PreparedQuerySet { query: q, create }).1
}

fn resolve(h: &Harness, name: &str) -> Option<PreparedQuery> {
    match h
        .query(&Query::PreparedQueryResolve { name: name.into() })
        .result
    {
        QueryResult::PreparedQueries(mut q) => q.pop(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn create_update_delete_with_consuls_rules() {
    let mut h = Harness::new();
    assert_eq!(set(&mut h, pq(ID1, "db", "db"), true), CommandResult::Ok);
    assert_eq!(
        set(&mut h, pq(ID2, "DB", "other"), true),
        CommandResult::Error("name 'DB' aliases an existing query name".into())
    );
    assert_eq!(
        set(&mut h, pq(ID2, ID1, "other"), true),
        CommandResult::Error(format!("name '{ID1}' aliases an existing query ID"))
    );
    assert_eq!(
        set(&mut h, pq(ID3, "x", "x"), false),
        CommandResult::Error(format!(
            "Cannot modify non-existent prepared query: '{ID3}'"
        ))
    );
    let mut bound = pq(ID2, "", "web");
    bound.session = "nope".into();
    assert_eq!(
        set(&mut h, bound, true),
        CommandResult::Error("invalid session \"nope\"".into())
    );
    // Update keeps the create index.
    let created = resolve(&h, "db").unwrap();
    assert_eq!(set(&mut h, pq(ID1, "db", "db2"), false), CommandResult::Ok);
    let updated = resolve(&h, "db").unwrap();
    assert_eq!(updated.service.service, "db2");
    assert_eq!(updated.create_index, created.create_index);
    assert!(updated.modify_index > created.modify_index);
    assert_eq!(
        h.apply(Command::PreparedQueryDelete { id: ID1.into() }).1,
        CommandResult::Ok
    );
    assert!(resolve(&h, "db").is_none());
}

#[test]
fn a_session_bound_query_goes_with_its_session() {
    let mut h = Harness::new();
    h.node("n1");
    h.create_session(session("s1", "n1", SessionBehavior::Release, 0));
    let mut q = pq(ID1, "", "web");
    q.session = "s1".into();
    assert_eq!(set(&mut h, q, true), CommandResult::Ok);
    assert!(resolve(&h, ID1).is_some());
    h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: super::NOW,
    });
    assert!(resolve(&h, ID1).is_none());
}

#[test]
fn resolution_prefers_id_then_name_then_longest_template() {
    let mut h = Harness::new();
    set(&mut h, pq(ID1, "geo-db-exact", "exact"), true);
    set(&mut h, template(ID2, "geo-db-", "${match(1)}"), true);
    set(&mut h, template(ID3, "", "catch-all"), true);
    assert_eq!(resolve(&h, ID1).unwrap().id, ID1);
    assert_eq!(resolve(&h, "GEO-DB-EXACT").unwrap().id, ID1);
    assert_eq!(resolve(&h, "geo-db-mysql-west").unwrap().id, ID2);
    assert_eq!(resolve(&h, "anything").unwrap().id, ID3);
    // A template is never resolved by its ID.
    assert_eq!(resolve(&h, ID2).map(|q| q.id), Some(ID3.to_string()));
}

#[test]
fn templates_render_names_and_matches() {
    let mut t = template(ID2, "geo-db-", "${match(1)}");
    t.service.tags = vec!["${match(2)}".into(), "${match(9)}".into()];
    t.service.near = "${name.suffix}".into();
    t.service.failover.datacenters = vec!["${name.prefix}x".into()];
    let r = render_prepared_query(&t, "geo-db-mysql-west").unwrap();
    assert_eq!(r.service.service, "mysql");
    assert_eq!(
        r.service.tags,
        vec!["west".to_string()],
        "empty tags removed"
    );
    assert_eq!(r.service.near, "mysql-west");
    assert_eq!(r.service.failover.datacenters, vec!["geo-db-x".to_string()]);
    t.service.service = "${bogus}".into();
    assert!(render_prepared_query(&t, "geo-db-a-b").is_err());
}
