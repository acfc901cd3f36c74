//! ACL tables: built-ins, bootstrap once (and again with the reset index), links by ID or
//! name, unique names and secrets, immutable token fields, deletes, expiry, snapshots.

use super::{Harness, NOW};
use crate::{
    AclLink, AclPolicy, AclResolved, AclRole, AclToken, Command, CommandResult, Query, QueryResult,
    Store, Table,
};

const MGMT: &str = "00000000-0000-0000-0000-000000000001";
const A1: &str = "a1111111-2222-3333-4444-555555555555";
const A2: &str = "a2111111-2222-3333-4444-555555555555";
const P1: &str = "b1111111-2222-3333-4444-555555555555";
const R1: &str = "c1111111-2222-3333-4444-555555555555";

fn token(accessor: &str, secret: &str) -> AclToken {
    AclToken {
        accessor_id: accessor.into(),
        secret_id: secret.into(),
        create_time_ms: NOW,
        ..AclToken::default()
    }
}

fn policy(id: &str, name: &str) -> AclPolicy {
    AclPolicy {
        id: id.into(),
        name: name.into(),
        rules: r#"key_prefix "" { policy = "read" }"#.into(),
        ..AclPolicy::default()
    }
}

fn link_name(name: &str) -> AclLink {
    AclLink {
        id: String::new(),
        name: name.into(),
    }
}

fn err(r: CommandResult) -> String {
    match r {
        CommandResult::Error(e) | CommandResult::Denied(e) | CommandResult::NotFound(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn resolve(h: &Harness, secret: &str) -> Option<AclResolved> {
    match h
        .store
        .query(&Query::AclResolve {
            secret_id: secret.into(),
        })
        .result
    {
        QueryResult::AclResolved(r) => r.map(|r| *r),
        other => panic!("{other:?}"),
    }
}

#[test]
fn builtins_then_bootstrap_once_and_reset() {
    let mut h = Harness::new();
    h.ok(Command::AclInitBuiltins { now_ms: NOW });
    let anon = resolve(&h, "anonymous").expect("anonymous token");
    assert!(anon.policies.is_empty());
    // Writing the built-ins again changes nothing.
    let (_, r, changes) = h.apply(Command::AclInitBuiltins { now_ms: NOW });
    assert_eq!(r, CommandResult::Ok);
    assert!(changes.is_empty(), "{changes:?}");

    let mut t = token(A1, "s1");
    t.policies = vec![AclLink {
        id: MGMT.into(),
        name: String::new(),
    }];
    let idx = h.ok(Command::AclBootstrap {
        token: t.clone(),
        reset_index: 0,
    });
    let r = resolve(&h, "s1").unwrap();
    assert_eq!(r.token.policies[0].name, "global-management");
    assert_eq!(r.policies.len(), 1);

    let again = h
        .apply(Command::AclBootstrap {
            token: token(A2, "s2"),
            reset_index: 0,
        })
        .1;
    assert_eq!(
        again,
        CommandResult::Denied(format!(
            "Permission denied: ACL bootstrap no longer allowed (reset index: {idx})"
        ))
    );
    let wrong = err(h
        .apply(Command::AclBootstrap {
            token: token(A2, "s2"),
            reset_index: idx + 5,
        })
        .1);
    assert_eq!(
        wrong,
        format!(
            "Invalid bootstrap reset index (specified {}, reset index: {idx})",
            idx + 5
        )
    );
    h.ok(Command::AclBootstrap {
        token: token(A2, "s2"),
        reset_index: idx,
    });
}

#[test]
fn links_by_name_unique_names_and_secrets() {
    let mut h = Harness::new();
    h.ok(Command::AclPolicySet {
        policy: policy(P1, "kv-read"),
        create: true,
    });
    let dup = err(h
        .apply(Command::AclPolicySet {
            policy: policy("b2111111-2222-3333-4444-555555555555", "kv-read"),
            create: true,
        })
        .1);
    assert_eq!(
        dup,
        "Invalid Policy: A Policy with name \"kv-read\" already exists"
    );

    h.ok(Command::AclRoleSet {
        role: AclRole {
            id: R1.into(),
            name: "readers".into(),
            policies: vec![link_name("kv-read")],
            ..AclRole::default()
        },
        create: true,
    });
    let mut t = token(A1, "s1");
    t.roles = vec![link_name("readers")];
    t.policies = vec![link_name("kv-read"), link_name("kv-read")];
    h.ok(Command::AclTokenSet {
        token: t,
        create: true,
    });
    let r = resolve(&h, "s1").unwrap();
    assert_eq!(r.token.policies.len(), 1, "duplicate links collapse");
    assert_eq!(r.token.policies[0].id, P1);
    assert_eq!(r.roles[0].policies[0].name, "kv-read");
    assert_eq!(r.policies.len(), 1, "a policy reached twice counts once");

    let mut missing = token(A2, "s2");
    missing.policies = vec![link_name("nope")];
    assert_eq!(
        err(h
            .apply(Command::AclTokenSet {
                token: missing,
                create: true,
            })
            .1),
        "No such ACL policy with name \"nope\""
    );
    assert_eq!(
        err(h
            .apply(Command::AclTokenSet {
                token: token(A2, "s1"),
                create: true,
            })
            .1),
        "Invalid Token: SecretID is already in use"
    );

    // A renamed policy shows its new name through the link.
    let mut renamed = policy(P1, "kv-reader");
    renamed.description = "renamed".into();
    h.ok(Command::AclPolicySet {
        policy: renamed,
        create: false,
    });
    assert_eq!(
        resolve(&h, "s1").unwrap().token.policies[0].name,
        "kv-reader"
    );
}

#[test]
fn immutable_fields_deletes_and_expiry() {
    let mut h = Harness::new();
    h.ok(Command::AclInitBuiltins { now_ms: NOW });
    let mut t = token(A1, "s1");
    t.expiration_time_ms = Some(NOW + 60_000);
    let created = h.ok(Command::AclTokenSet {
        token: t.clone(),
        create: true,
    });
    let mut changed = t.clone();
    changed.local = true;
    assert_eq!(
        err(h
            .apply(Command::AclTokenSet {
                token: changed,
                create: false,
            })
            .1),
        format!("Cannot toggle local mode of {A1}")
    );
    let mut other_secret = t.clone();
    other_secret.secret_id = "s9".into();
    assert_eq!(
        err(h
            .apply(Command::AclTokenSet {
                token: other_secret,
                create: false,
            })
            .1),
        "Changing a token's SecretID is not permitted"
    );
    let mut update = t.clone();
    update.description = "new".into();
    update.secret_id = String::new();
    update.expiration_time_ms = None;
    h.ok(Command::AclTokenSet {
        token: update,
        create: false,
    });
    let r = resolve(&h, "s1").unwrap().token;
    assert_eq!(r.description, "new");
    assert_eq!(r.create_index, created, "create index kept");
    assert_eq!(r.expiration_time_ms, Some(NOW + 60_000), "expiry kept");

    h.ok(Command::AclTokensReap { now_ms: NOW + 1 });
    assert!(resolve(&h, "s1").is_some(), "not yet expired");
    h.ok(Command::AclTokensReap {
        now_ms: NOW + 60_000,
    });
    assert!(resolve(&h, "s1").is_none(), "expired token reaped");

    assert_eq!(
        h.apply(Command::AclTokenDelete {
            accessor_id: A1.into()
        })
        .1,
        CommandResult::NotFound("Cannot find token to delete".into())
    );
    assert_eq!(
        err(h
            .apply(Command::AclTokenDelete {
                accessor_id: "00000000-0000-0000-0000-000000000002".into()
            })
            .1),
        "Delete operation not permitted on the anonymous token"
    );
    assert_eq!(
        err(h.apply(Command::AclPolicyDelete { id: MGMT.into() }).1),
        "Delete operation not permitted on the builtin global-management policy"
    );
    let mut mgmt = match h
        .store
        .query(&Query::AclPolicies {
            id: Some(MGMT.into()),
            name: None,
        })
        .result
    {
        QueryResult::AclPolicies(mut p) => p.remove(0),
        other => panic!("{other:?}"),
    };
    mgmt.rules = "acl = \"read\"".into();
    assert_eq!(
        err(h
            .apply(Command::AclPolicySet {
                policy: mgmt,
                create: false,
            })
            .1),
        "Changing the Rules for the builtin global-management policy is not permitted"
    );
}

#[test]
fn snapshot_round_trip_keeps_acl_tables() {
    let mut h = Harness::new();
    h.ok(Command::AclInitBuiltins { now_ms: NOW });
    h.ok(Command::AclPolicySet {
        policy: policy(P1, "kv-read"),
        create: true,
    });
    let mut t = token(A1, "s1");
    t.policies = vec![link_name("kv-read")];
    h.ok(Command::AclBootstrap {
        token: t,
        reset_index: 0,
    });
    let snap = h.store.snapshot();
    let bytes = postcard::to_allocvec(&snap).unwrap();
    let back: crate::StoreSnapshot = postcard::from_bytes(&bytes).unwrap();
    let restored = Store::restore(back);
    assert_eq!(restored, h.store, "identical after restore");
    assert_eq!(
        restored.table_index(Table::AclTokens),
        h.store.table_index(Table::AclTokens)
    );
    assert!(restored.acl_bootstrap_index().is_some());
}

#[test]
fn deleting_an_auth_method_takes_its_rules_and_tokens() {
    use crate::{AclAuthMethod, AclBindingRule};
    let mut h = Harness::new();
    let method = AclAuthMethod {
        name: "ci".into(),
        method_type: "jwt".into(),
        config: "{}".into(),
        ..AclAuthMethod::default()
    };
    h.ok(Command::AclAuthMethodSet {
        method: method.clone(),
    });
    let changed = AclAuthMethod {
        method_type: "oidc".into(),
        ..method
    };
    assert!(
        err(h.apply(Command::AclAuthMethodSet { method: changed }).1).contains("cannot be changed")
    );
    let rule = AclBindingRule {
        id: R1.into(),
        auth_method: "ci".into(),
        bind_type: "service".into(),
        bind_name: "web".into(),
        ..AclBindingRule::default()
    };
    h.ok(Command::AclBindingRuleSet {
        rule: rule.clone(),
        create: true,
    });
    let orphan = AclBindingRule {
        id: "d1111111-2222-3333-4444-555555555555".into(),
        auth_method: "nope".into(),
        ..rule
    };
    assert!(
        err(h
            .apply(Command::AclBindingRuleSet {
                rule: orphan,
                create: true,
            })
            .1)
        .contains("unknown auth method")
    );
    let mut t = token(A1, "s1");
    t.auth_method = "ci".into();
    h.ok(Command::AclTokenSet {
        token: t,
        create: true,
    });
    h.ok(Command::AclAuthMethodDelete { name: "ci".into() });
    assert!(resolve(&h, "s1").is_none(), "its tokens went with it");
    assert_eq!(
        h.store
            .query(&Query::AclBindingRules {
                id: None,
                auth_method: None,
            })
            .result,
        QueryResult::AclBindingRules(Vec::new())
    );
}
