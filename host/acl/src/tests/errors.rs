//! Consul's permission-denied texts (`acl/errors_test.go`) and the enforcer's names.

use crate::builtin::ANONYMOUS_TOKEN_ID;
use crate::{
    Authorizer, DefaultPolicy, Level, PermissionDenied, PermissionDeniedCause, Resource,
    parse_rules,
};

const ANON_SUFFIX: &str =
    ". The anonymous token is used implicitly when a request does not specify a token.";

#[test]
fn permission_denied_texts() {
    let cases = [
        (
            PermissionDenied::new("", Resource::Service, Level::Read, Some("foobar")),
            "Permission denied: token with AccessorID '' lacks permission 'service:read' on \"foobar\"".to_string(),
        ),
        (
            PermissionDenied::new("", Resource::Service, Level::Read, None),
            "Permission denied: token with AccessorID '' lacks permission 'service:read'".to_string(),
        ),
        (
            PermissionDenied::new(ANONYMOUS_TOKEN_ID, Resource::Service, Level::Read, None),
            format!("Permission denied: anonymous token lacks permission 'service:read'{ANON_SUFFIX}"),
        ),
        (
            PermissionDenied::new(ANONYMOUS_TOKEN_ID, Resource::Key, Level::Read, Some("foo")),
            format!("Permission denied: anonymous token lacks permission 'key:read' on \"foo\"{ANON_SUFFIX}"),
        ),
        (
            PermissionDenied::new("6a8c1e0f-2d2b-4b5e-9a0c-1f2e3d4c5b6a", Resource::Intention, Level::Write, Some("db")),
            "Permission denied: token with AccessorID '6a8c1e0f-2d2b-4b5e-9a0c-1f2e3d4c5b6a' lacks permission 'intention:write' on \"db\"".to_string(),
        ),
        (
            // An empty name is left out, as Consul does.
            PermissionDenied::new("a", Resource::Key, Level::List, Some("")),
            "Permission denied: token with AccessorID 'a' lacks permission 'key:list'".to_string(),
        ),
    ];
    for (err, expected) in cases {
        assert_eq!(err.to_string(), expected);
    }
    assert_eq!(
        PermissionDeniedCause { cause: None }.to_string(),
        "Permission denied"
    );
    assert_eq!(
        PermissionDeniedCause {
            cause: Some("simon says".into())
        }
        .to_string(),
        "Permission denied: simon says"
    );
}

#[test]
fn resource_names() {
    let names: Vec<&str> = [
        Resource::Acl,
        Resource::Agent,
        Resource::Event,
        Resource::Intention,
        Resource::Key,
        Resource::Keyring,
        Resource::Node,
        Resource::Operator,
        Resource::Mesh,
        Resource::Query,
        Resource::Service,
        Resource::Session,
        Resource::Peering,
    ]
    .iter()
    .map(|r| r.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "acl",
            "agent",
            "event",
            "intention",
            "key",
            "keyring",
            "node",
            "operator",
            "mesh",
            "query",
            "service",
            "session",
            "peering"
        ]
    );
}

#[test]
fn enforcer_errors() {
    let rules = parse_rules(r#"service "web" { policy = "read" } node "n1" { policy = "read" }"#)
        .expect("rules");
    let a = Authorizer::new(&[rules], DefaultPolicy::Deny);
    let anon = a.enforcer(ANONYMOUS_TOKEN_ID);
    let tok = a.enforcer("acc-1");
    assert_eq!(tok.service_read_allowed("web"), Ok(()));
    assert_eq!(tok.node_read_allowed("n1"), Ok(()));
    let text = |r: Result<(), PermissionDenied>| r.expect_err("denied").to_string();
    assert_eq!(
        text(tok.service_write_allowed("web")),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'service:write' on \"web\""
    );
    assert_eq!(
        text(anon.acl_read_allowed()),
        format!("Permission denied: anonymous token lacks permission 'acl:read'{ANON_SUFFIX}")
    );
    assert_eq!(
        text(tok.snapshot_allowed()),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'acl:write'"
    );
    assert_eq!(
        text(tok.node_read_all_allowed()),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'node:read' on \"all nodes\""
    );
    assert_eq!(
        text(tok.service_read_all_allowed()),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'service:read' on \"all services\""
    );
    assert_eq!(
        text(tok.service_write_any_allowed()),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'service:write' on \"any service\""
    );
    assert_eq!(
        text(tok.key_write_prefix_allowed("app/")),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'key:write' on \"app/\""
    );
    assert_eq!(
        text(tok.key_list_allowed("app/")),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'key:list' on \"app/\""
    );
    assert_eq!(
        text(anon.intention_read_allowed("db")),
        format!(
            "Permission denied: anonymous token lacks permission 'intention:read' on \"db\"{ANON_SUFFIX}"
        )
    );
    assert_eq!(
        text(tok.mesh_write_allowed()),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'mesh:write'"
    );
    assert_eq!(
        text(tok.peering_read_allowed()),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'peering:read'"
    );
    assert_eq!(
        text(tok.query_write_allowed("q")),
        "Permission denied: token with AccessorID 'acc-1' lacks permission 'query:write' on \"q\""
    );
    assert_eq!(
        tok.intention_default_allow_allowed()
            .expect_err("denied")
            .to_string(),
        "Permission denied: Denied by intention default"
    );
    assert_eq!(
        Authorizer::allow_all()
            .enforcer("x")
            .intention_default_allow_allowed(),
        Ok(())
    );
}
