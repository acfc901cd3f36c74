//! Decisions: exact vs prefix, merges, `*_all`/`any`, recursive KV writes, fallbacks.

use std::sync::Arc;

use crate::builtin::{GLOBAL_MANAGEMENT_POLICY_RULES, GLOBAL_READ_ONLY_POLICY_RULES};
use crate::{
    Authorizer, Decision, DefaultPolicy, NodeIdentity, PolicyAuthorizer, PolicyRules,
    ServiceIdentity, StaticAuthorizer, parse_rules,
};

use Decision::{Allow, Default as Dflt, Deny};

fn rules(text: &str) -> PolicyRules {
    parse_rules(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn authz(texts: &[&str]) -> PolicyAuthorizer {
    let policies: Vec<PolicyRules> = texts.iter().map(|t| rules(t)).collect();
    PolicyAuthorizer::new(&policies)
}

#[test]
fn no_rules_means_no_decision() {
    let a = authz(&[""]);
    let checks = [
        a.acl_read(),
        a.acl_write(),
        a.agent_read("foo"),
        a.agent_write("foo"),
        a.event_read("foo"),
        a.event_write("foo"),
        a.intention_default_allow(),
        a.intention_read("foo"),
        a.intention_write("foo"),
        a.intention_read("*"),
        a.intention_write("*"),
        a.key_read("foo"),
        a.key_list("foo"),
        a.key_write("foo"),
        a.key_write_prefix("foo"),
        a.keyring_read(),
        a.keyring_write(),
        a.mesh_read(),
        a.mesh_write(),
        a.peering_read(),
        a.peering_write(),
        a.node_read("foo"),
        a.node_read_all(),
        a.node_write("foo"),
        a.operator_read(),
        a.operator_write(),
        a.query_read("foo"),
        a.query_write("foo"),
        a.service_read("foo"),
        a.service_read_all(),
        a.service_write("foo"),
        a.service_write_any(),
        a.session_read("foo"),
        a.session_write("foo"),
        a.snapshot(),
    ];
    assert!(checks.iter().all(|d| *d == Dflt), "{checks:?}");
}

/// Consul's "Prefer Exact Matches": exact `foo` write, exact `football` deny, prefixes `foot`
/// and `fo` read, for every labelled resource.
#[test]
fn exact_rules_win_over_prefixes() {
    let mut text = String::new();
    for res in [
        "agent", "key", "node", "service", "session", "event", "query",
    ] {
        text.push_str(&format!(
            "{res} \"foo\" {{ policy = \"write\" }}\n{res} \"football\" {{ policy = \"deny\" }}\n\
             {res}_prefix \"foot\" {{ policy = \"read\" }}\n{res}_prefix \"fo\" {{ policy = \"read\" }}\n"
        ));
    }
    text.push_str("service \"foo\" { policy = \"write\" intentions = \"write\" }\n");
    let a = authz(&[&text]);
    type Check = fn(&PolicyAuthorizer, &str) -> Decision;
    let pairs: [(&str, Check, Check); 8] = [
        ("agent", |a, n| a.agent_read(n), |a, n| a.agent_write(n)),
        ("key", |a, n| a.key_read(n), |a, n| a.key_write(n)),
        ("node", |a, n| a.node_read(n), |a, n| a.node_write(n)),
        (
            "service",
            |a, n| a.service_read(n),
            |a, n| a.service_write(n),
        ),
        (
            "session",
            |a, n| a.session_read(n),
            |a, n| a.session_write(n),
        ),
        ("event", |a, n| a.event_read(n), |a, n| a.event_write(n)),
        ("query", |a, n| a.query_read(n), |a, n| a.query_write(n)),
        (
            "intention",
            |a, n| a.intention_read(n),
            |a, n| a.intention_write(n),
        ),
    ];
    let table = [
        ("fo", Allow, Deny),
        ("for", Allow, Deny),
        ("foo", Allow, Allow),
        ("foot", Allow, Deny),
        ("foot2", Allow, Deny),
        ("food", Allow, Deny),
        ("football", Deny, Deny),
        ("f", Dflt, Dflt),
        ("bar", Dflt, Dflt),
    ];
    for (res, read, write) in pairs {
        for (name, r, w) in table {
            assert_eq!(read(&a, name), r, "{res} read {name}");
            assert_eq!(write(&a, name), w, "{res} write {name}");
        }
    }
    assert_eq!(a.service_write_any(), Allow);
}

#[test]
fn exact_read_beats_catch_all_deny() {
    let a = authz(&[r#"key_prefix "" { policy = "deny" } key "foo" { policy = "read" }"#]);
    assert_eq!(a.key_read("foo"), Allow);
    assert_eq!(a.key_write("foo"), Deny);
    assert_eq!(a.key_read("foo2"), Deny);
    assert_eq!(a.key_read("fo"), Deny);
}

#[test]
fn longest_prefix_wins() {
    let a = authz(&[r#"
        key_prefix "a" { policy = "read" }
        key_prefix "ab" { policy = "deny" }
        key_prefix "abc" { policy = "write" }
        key_prefix "aa" { policy = "write" }
        key_prefix "b/" { policy = "list" }
    "#]);
    assert_eq!(a.key_write("abcd"), Allow);
    assert_eq!(a.key_write("abc"), Allow);
    assert_eq!(a.key_read("abx"), Deny);
    assert_eq!(a.key_read("ab"), Deny);
    assert_eq!(a.key_read("ax"), Allow);
    assert_eq!(a.key_write("ax"), Deny);
    // "aa" sorts between "a" and "ab" but is not a prefix of "ab..." names.
    assert_eq!(a.key_read("a"), Allow);
    assert_eq!(a.key_write("aab"), Allow);
    assert_eq!(a.key_read("b"), Dflt);
    assert_eq!(a.key_list("b/x"), Allow);
    assert_eq!(a.key_read("b/x"), Allow);
    assert_eq!(a.key_write("b/x"), Deny);
    assert_eq!(a.key_read(""), Dflt);
}

#[test]
fn merge_precedence_is_deny_write_list_read() {
    let read = r#"key "k" { policy = "read" } operator = "read""#;
    let list = r#"key "k" { policy = "list" }"#;
    let write = r#"key "k" { policy = "write" } operator = "write""#;
    let deny = r#"key "k" { policy = "deny" } operator = "deny""#;
    assert_eq!(authz(&[read, write]).key_write("k"), Allow);
    assert_eq!(authz(&[write, read]).key_write("k"), Allow);
    assert_eq!(authz(&[read, list]).key_list("k"), Allow);
    assert_eq!(authz(&[list, read]).key_write("k"), Deny);
    assert_eq!(authz(&[read, write, deny]).key_read("k"), Deny);
    assert_eq!(authz(&[deny, write]).key_read("k"), Deny);
    assert_eq!(authz(&[read, write]).operator_write(), Allow);
    assert_eq!(authz(&[write, deny]).operator_read(), Deny);
    // Exact and prefix rules with the same label do not merge with each other.
    let a = authz(&[
        r#"key "k" { policy = "read" }"#,
        r#"key_prefix "k" { policy = "deny" }"#,
    ]);
    assert_eq!(a.key_read("k"), Allow);
    assert_eq!(a.key_read("k2"), Deny);
    // Within one policy too.
    let a = authz(&["key \"a\" { policy = \"write\" }\nkey \"a\" { policy = \"deny\" }"]);
    assert_eq!(a.key_read("a"), Deny);
}

#[test]
fn merged_rules_are_in_first_seen_order() {
    let p1 = rules(r#"key "b" { policy = "read" } key "a" { policy = "write" }"#);
    let p2 = rules(r#"key "a" { policy = "deny" } key "c" { policy = "read" }"#);
    let merged = PolicyRules::merge([&p1, &p2]);
    let names: Vec<(&str, crate::Level)> = merged
        .keys
        .iter()
        .map(|r| (r.name.as_str(), r.level))
        .collect();
    assert_eq!(
        names,
        [
            ("b", crate::Level::Read),
            ("a", crate::Level::Deny),
            ("c", crate::Level::Read)
        ]
    );
}

#[test]
fn intentions_default_from_the_service_level() {
    let a = authz(&[r#"
        service "r" { policy = "read" }
        service "w" { policy = "write" }
        service "d" { policy = "deny" }
        service "x" { policy = "write" intentions = "deny" }
        service "y" { policy = "deny" intentions = "write" }
        service_prefix "p-" { policy = "read" intentions = "write" }
    "#]);
    let table = [
        ("r", Allow, Deny),
        ("w", Allow, Deny),
        ("d", Deny, Deny),
        ("x", Deny, Deny),
        ("y", Allow, Allow),
        ("p-1", Allow, Allow),
        ("other", Dflt, Dflt),
    ];
    for (name, read, write) in table {
        assert_eq!(a.intention_read(name), read, "read {name}");
        assert_eq!(a.intention_write(name), write, "write {name}");
    }
}

#[test]
fn explicit_intentions_merge_separately() {
    // write + (read, intentions=write) -> write, intentions write.
    let a = authz(&[
        r#"service "s" { policy = "write" }"#,
        r#"service "s" { policy = "read" intentions = "write" }"#,
    ]);
    assert_eq!(a.service_write("s"), Allow);
    assert_eq!(a.intention_write("s"), Allow);
    // read (implied intentions read) + deny -> deny, implied deny.
    let a = authz(&[
        r#"service "s" { policy = "read" }"#,
        r#"service "s" { policy = "deny" }"#,
    ]);
    assert_eq!(a.intention_read("s"), Deny);
    // An explicit deny on intentions survives a later write policy.
    let a = authz(&[
        r#"service "s" { policy = "read" intentions = "deny" }"#,
        r#"service "s" { policy = "write" }"#,
    ]);
    assert_eq!(a.service_write("s"), Allow);
    assert_eq!(a.intention_read("s"), Deny);
}

#[test]
fn intention_wildcards() {
    let cases = [
        // (rules, read *, write *)
        (
            r#"service "foo" { policy = "write" intentions = "write" } service_prefix "" { policy = "deny" intentions = "deny" }"#,
            Allow,
            Deny,
        ),
        (
            r#"service "foo" { policy = "write" intentions = "deny" } service_prefix "" { policy = "write" intentions = "write" }"#,
            Allow,
            Deny,
        ),
        (
            r#"service "foo" { policy = "write" intentions = "write" } service_prefix "" { policy = "write" intentions = "write" }"#,
            Allow,
            Allow,
        ),
        (
            r#"service "foo" { policy = "write" intentions = "write" }"#,
            Allow,
            Dflt,
        ),
        (
            r#"service "foo" { policy = "write" intentions = "deny" }"#,
            Dflt,
            Deny,
        ),
    ];
    for (text, read, write) in cases {
        let a = authz(&[text]);
        assert_eq!(a.intention_read("*"), read, "{text}");
        assert_eq!(a.intention_write("*"), write, "{text}");
    }
}

/// Consul's TestAnyAllowed / TestAllAllowed tables, on service rules.
#[test]
fn any_and_all_allowed() {
    // (rules, any: read list write, all: read list write)
    let cases = [
        ("", [Dflt, Dflt, Dflt], [Dflt, Dflt, Dflt]),
        (
            r#"key_prefix "" { policy = "write" }"#,
            [Allow, Allow, Allow],
            [Allow, Allow, Allow],
        ),
        (
            r#"key_prefix "" { policy = "list" }"#,
            [Allow, Allow, Deny],
            [Allow, Allow, Deny],
        ),
        (
            r#"key_prefix "" { policy = "read" }"#,
            [Allow, Deny, Deny],
            [Allow, Deny, Deny],
        ),
        (
            r#"key_prefix "" { policy = "deny" }"#,
            [Deny, Deny, Deny],
            [Deny, Deny, Deny],
        ),
        (
            r#"key_prefix "" { policy = "write" } key_prefix "foo" { policy = "deny" }"#,
            [Allow, Allow, Allow],
            [Deny, Deny, Deny],
        ),
        (
            r#"key_prefix "" { policy = "deny" } key_prefix "foo" { policy = "write" }"#,
            [Allow, Allow, Allow],
            [Deny, Deny, Deny],
        ),
        (
            r#"key_prefix "" { policy = "deny" } key "foo" { policy = "list" }"#,
            [Allow, Allow, Deny],
            [Deny, Deny, Deny],
        ),
        (
            r#"key_prefix "" { policy = "write" } key "foo" { policy = "read" }"#,
            [Allow, Allow, Allow],
            [Allow, Deny, Deny],
        ),
        (
            r#"key "foo" { policy = "write" }"#,
            [Allow, Allow, Allow],
            [Dflt, Dflt, Dflt],
        ),
        (
            r#"key "foo" { policy = "read" }"#,
            [Allow, Dflt, Dflt],
            [Dflt, Deny, Deny],
        ),
    ];
    for (text, any, all) in cases {
        // Keys are the only resource with `list`; move the rules onto nodes/services for the
        // `*_all` and `*_any` entry points where the level exists there.
        let a = authz(&[text]);
        let levels = [crate::Level::Read, crate::Level::List, crate::Level::Write];
        for (i, level) in levels.iter().enumerate() {
            assert_eq!(a.keys_any_allowed(*level), any[i], "any {level} {text}");
            assert_eq!(a.keys_all_allowed(*level), all[i], "all {level} {text}");
        }
    }
    let a = authz(&[r#"service_prefix "" { policy = "read" } service "x" { policy = "write" }"#]);
    assert_eq!(a.service_read_all(), Allow);
    assert_eq!(a.service_write_any(), Allow);
    let a = authz(&[r#"service_prefix "" { policy = "read" } service "x" { policy = "deny" }"#]);
    assert_eq!(a.service_read_all(), Deny);
    assert_eq!(a.service_write_any(), Deny);
    let a = authz(&[r#"node "x" { policy = "read" }"#]);
    assert_eq!(a.node_read_all(), Dflt);
    let a = authz(&[r#"node_prefix "" { policy = "read" }"#]);
    assert_eq!(a.node_read_all(), Allow);
}

#[test]
fn recursive_key_writes() {
    let cases = [
        // (rules, prefix, decision)
        ("", "foo/", Dflt),
        (r#"key_prefix "" { policy = "write" }"#, "foo/", Allow),
        (r#"key_prefix "" { policy = "write" }"#, "", Allow),
        (
            r#"key_prefix "" { policy = "write" } key "foo/bar" { policy = "read" }"#,
            "foo/",
            Deny,
        ),
        (
            r#"key_prefix "" { policy = "write" } key "foo/bar" { policy = "read" }"#,
            "baz/",
            Allow,
        ),
        (
            r#"key_prefix "" { policy = "write" } key "foo/bar" { policy = "read" }"#,
            "",
            Deny,
        ),
        (r#"key_prefix "foo/" { policy = "read" }"#, "foo/", Deny),
        (r#"key_prefix "foo/" { policy = "read" }"#, "foo/x/", Deny),
        (r#"key_prefix "foo/" { policy = "list" }"#, "foo/", Deny),
        (r#"key_prefix "foo/" { policy = "write" }"#, "foo/x/", Allow),
        // No covering prefix rule: only rules below can decide, and only to deny.
        (r#"key "foo/" { policy = "write" }"#, "foo/", Dflt),
        (
            r#"key_prefix "foo/bar/" { policy = "write" }"#,
            "foo/",
            Dflt,
        ),
        (r#"key_prefix "foo/bar/" { policy = "deny" }"#, "foo/", Deny),
        (r#"key "foo/" { policy = "read" }"#, "foo/", Deny),
        (
            r#"key_prefix "foo/" { policy = "write" } key_prefix "foo/bar/" { policy = "list" }"#,
            "foo/",
            Deny,
        ),
        (
            r#"key_prefix "foo/" { policy = "write" } key_prefix "foo/bar/" { policy = "list" }"#,
            "foo/baz",
            Allow,
        ),
        (
            r#"key_prefix "foo/" { policy = "write" } key_prefix "fop" { policy = "deny" }"#,
            "foo/",
            Allow,
        ),
    ];
    for (text, prefix, decision) in cases {
        assert_eq!(
            authz(&[text]).key_write_prefix(prefix),
            decision,
            "{text} on {prefix:?}"
        );
    }
}

#[test]
fn mesh_and_peering_fall_back_to_operator() {
    let a = authz(&[r#"operator = "read""#]);
    assert_eq!((a.mesh_read(), a.mesh_write()), (Allow, Deny));
    assert_eq!((a.peering_read(), a.peering_write()), (Allow, Deny));
    let a = authz(&[r#"operator = "read" mesh = "write" peering = "deny""#]);
    assert_eq!((a.mesh_read(), a.mesh_write()), (Allow, Allow));
    assert_eq!((a.peering_read(), a.peering_write()), (Deny, Deny));
    let a = authz(&[r#"mesh = "read""#]);
    assert_eq!(
        (a.mesh_read(), a.peering_read(), a.operator_read()),
        (Allow, Dflt, Dflt)
    );
}

#[test]
fn acl_and_snapshot() {
    let a = authz(&[r#"acl = "read""#]);
    assert_eq!(
        (a.acl_read(), a.acl_write(), a.snapshot()),
        (Allow, Deny, Deny)
    );
    let a = authz(&[r#"acl = "write""#]);
    assert_eq!(
        (a.acl_read(), a.acl_write(), a.snapshot()),
        (Allow, Allow, Allow)
    );
    let a = authz(&[r#"keyring = "read""#]);
    assert_eq!((a.keyring_read(), a.keyring_write()), (Allow, Deny));
}

#[test]
fn default_policy_allow_never_grants_acl_or_snapshot() {
    let a = Authorizer::new(
        &[rules(r#"key "secret" { policy = "deny" }"#)],
        DefaultPolicy::Allow,
    );
    assert_eq!(a.key_read("anything"), Allow);
    assert_eq!(a.key_read("secret"), Deny);
    assert_eq!(a.service_write("web"), Allow);
    assert_eq!(a.operator_write(), Allow);
    assert_eq!(a.intention_default_allow(), Allow);
    assert_eq!(a.acl_read(), Deny);
    assert_eq!(a.acl_write(), Deny);
    assert_eq!(a.snapshot(), Deny);
    let a = Authorizer::allow_all();
    assert_eq!(
        (a.acl_read(), a.snapshot(), a.key_write("k")),
        (Deny, Deny, Allow)
    );
}

#[test]
fn default_policy_deny() {
    let a = Authorizer::new(
        &[rules(r#"key_prefix "app/" { policy = "read" }"#)],
        DefaultPolicy::Deny,
    );
    assert_eq!(a.key_read("app/x"), Allow);
    assert_eq!(a.key_write("app/x"), Deny);
    assert_eq!(a.key_read("other"), Deny);
    assert_eq!(a.intention_default_allow(), Deny);
    assert_eq!(Authorizer::deny_all().node_read("n"), Deny);
}

#[test]
fn static_authorizers() {
    let m = Authorizer::manage_all();
    assert_eq!(
        [
            m.acl_read(),
            m.acl_write(),
            m.snapshot(),
            m.key_write_prefix(""),
            m.intention_default_allow()
        ],
        [Allow; 5]
    );
    assert_eq!(
        StaticAuthorizer::root("manage"),
        Some(StaticAuthorizer::ManageAll)
    );
    assert_eq!(
        StaticAuthorizer::root("allow"),
        Some(StaticAuthorizer::AllowAll)
    );
    assert_eq!(
        StaticAuthorizer::root("deny"),
        Some(StaticAuthorizer::DenyAll)
    );
    assert_eq!(StaticAuthorizer::root("root"), None);
    assert_eq!(DefaultPolicy::parse("allow"), Some(DefaultPolicy::Allow));
    assert_eq!(DefaultPolicy::parse("Deny"), None);
}

#[test]
fn global_management_and_read_only() {
    let gm = Authorizer::new(
        &[rules(GLOBAL_MANAGEMENT_POLICY_RULES)],
        DefaultPolicy::Deny,
    );
    let all = [
        gm.acl_write(),
        gm.snapshot(),
        gm.key_write_prefix(""),
        gm.service_write_any(),
        gm.node_read_all(),
        gm.service_read_all(),
        gm.intention_write("*"),
        gm.mesh_write(),
        gm.peering_write(),
        gm.keyring_write(),
        gm.operator_write(),
        gm.agent_write("n"),
        gm.session_write("n"),
        gm.event_write("e"),
        gm.query_write("q"),
    ];
    assert!(all.iter().all(|d| *d == Allow), "{all:?}");
    let ro = Authorizer::new(&[rules(GLOBAL_READ_ONLY_POLICY_RULES)], DefaultPolicy::Deny);
    assert_eq!(
        (ro.acl_read(), ro.acl_write(), ro.snapshot()),
        (Allow, Deny, Deny)
    );
    assert_eq!(
        (ro.key_read("k"), ro.key_list("k"), ro.key_write("k")),
        (Allow, Deny, Deny)
    );
    assert_eq!(
        (ro.service_read_all(), ro.service_write_any()),
        (Allow, Deny)
    );
    assert_eq!(
        (ro.intention_read("*"), ro.intention_write("x")),
        (Allow, Deny)
    );
}

#[test]
fn identities() {
    let svc = ServiceIdentity {
        service_name: "web".into(),
        datacenters: vec![],
    }
    .synthetic_policy();
    let node = NodeIdentity {
        node_name: "n1".into(),
        datacenter: "dc1".into(),
    }
    .synthetic_policy();
    let a = Authorizer::new(
        &[
            svc.parse().expect("service identity"),
            node.parse().expect("node identity"),
        ],
        DefaultPolicy::Deny,
    );
    assert_eq!(a.service_write("web"), Allow);
    assert_eq!(a.service_write("web-sidecar-proxy"), Allow);
    assert_eq!(a.service_write("web2"), Deny);
    assert_eq!(a.service_read("anything"), Allow);
    assert_eq!(a.node_read("other"), Allow);
    assert_eq!(a.node_write("n1"), Allow);
    assert_eq!(a.node_write("n2"), Deny);
    assert_eq!(a.intention_read("web"), Allow);
    assert_eq!(a.intention_write("web"), Deny);
    assert_eq!(a.key_read("k"), Deny);
}

#[test]
fn shared_rules_and_thread_safety() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Authorizer>();
    assert_send_sync::<PolicyAuthorizer>();
    let compiled = Arc::new(authz(&[r#"key "k" { policy = "read" }"#]));
    let allow = Authorizer::with_rules(compiled.clone(), DefaultPolicy::Allow);
    let deny = Authorizer::with_rules(compiled, DefaultPolicy::Deny);
    assert_eq!((allow.key_write("k"), deny.key_write("k")), (Deny, Deny));
    assert_eq!((allow.key_read("x"), deny.key_read("x")), (Allow, Deny));
    let handle = std::thread::spawn(move || deny.key_read("k"));
    assert_eq!(handle.join().ok(), Some(Allow));
}

#[test]
fn agent_recovery() {
    let a = Authorizer::agent_recovery("node1");
    assert_eq!(
        (a.agent_read("node1"), a.agent_write("node1")),
        (Allow, Allow)
    );
    assert_eq!(a.agent_read("node10"), Deny);
    assert_eq!(
        (a.node_read("x"), a.node_read_all(), a.node_write("node1")),
        (Allow, Allow, Deny)
    );
    assert_eq!(
        (a.key_read("k"), a.service_read("s"), a.acl_read()),
        (Deny, Deny, Deny)
    );
}
