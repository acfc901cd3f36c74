//! The rules language: HCL and JSON forms, Consul's validation errors, line numbers.

use std::time::{Duration, Instant};

use crate::{Level, MAX_RULES_BYTES, PolicyRules, Rule, RulesErrorKind, ServiceRule, parse_rules};

fn rule(name: &str, level: Level) -> Rule {
    Rule {
        name: name.into(),
        level,
    }
}

fn svc(name: &str, level: Level, intentions: Option<Level>) -> ServiceRule {
    ServiceRule {
        name: name.into(),
        level,
        intentions,
    }
}

fn ok(text: &str) -> PolicyRules {
    match parse_rules(text) {
        Ok(p) => p,
        Err(e) => panic!("{text:?} failed: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse_rules(text) {
        Ok(p) => panic!("{text:?} parsed: {p:?}"),
        Err(e) => e.to_string(),
    }
}

const BASIC_HCL: &str = r#"
agent_prefix "bar" {
	policy = "write"
}
agent "foo" {
	policy = "read"
}
event_prefix "" {
	policy = "read"
}
event "foo" {
	policy = "write"
}
event "bar" {
	policy = "deny"
}
key_prefix "" {
	policy = "read"
}
key_prefix "foo/" {
	policy = "write"
}
key_prefix "foo/bar/" {
	policy = "read"
}
key "foo/bar/baz" {
	policy = "deny"
}
keyring = "deny"
node_prefix "" {
	policy = "read"
}
node "foo" {
	policy = "write"
}
node "bar" {
	policy = "deny"
}
operator = "deny"
mesh = "deny"
peering = "deny"
service_prefix "" {
	policy = "write"
}
service "foo" {
	policy = "read"
}
session "foo" {
	policy = "write"
}
session "bar" {
	policy = "deny"
}
session_prefix "baz" {
	policy = "deny"
}
query_prefix "" {
	policy = "read"
}
query "foo" {
	policy = "write"
}
query "bar" {
	policy = "deny"
}
"#;

const BASIC_JSON: &str = r#"{
  "agent_prefix": { "bar": { "policy": "write" } },
  "agent": { "foo": { "policy": "read" } },
  "event_prefix": { "": { "policy": "read" } },
  "event": { "foo": { "policy": "write" }, "bar": { "policy": "deny" } },
  "key_prefix": {
    "": { "policy": "read" },
    "foo/": { "policy": "write" },
    "foo/bar/": { "policy": "read" }
  },
  "key": { "foo/bar/baz": { "policy": "deny" } },
  "keyring": "deny",
  "node_prefix": { "": { "policy": "read" } },
  "node": { "foo": { "policy": "write" }, "bar": { "policy": "deny" } },
  "operator": "deny",
  "mesh": "deny",
  "peering": "deny",
  "service_prefix": { "": { "policy": "write" } },
  "service": { "foo": { "policy": "read" } },
  "session": { "foo": { "policy": "write" }, "bar": { "policy": "deny" } },
  "session_prefix": { "baz": { "policy": "deny" } },
  "query_prefix": { "": { "policy": "read" } },
  "query": { "foo": { "policy": "write" }, "bar": { "policy": "deny" } }
}"#;

fn basic_expected() -> PolicyRules {
    PolicyRules {
        acl: None,
        agents: vec![rule("foo", Level::Read)],
        agent_prefixes: vec![rule("bar", Level::Write)],
        events: vec![rule("foo", Level::Write), rule("bar", Level::Deny)],
        event_prefixes: vec![rule("", Level::Read)],
        keys: vec![rule("foo/bar/baz", Level::Deny)],
        key_prefixes: vec![
            rule("", Level::Read),
            rule("foo/", Level::Write),
            rule("foo/bar/", Level::Read),
        ],
        keyring: Some(Level::Deny),
        mesh: Some(Level::Deny),
        nodes: vec![rule("foo", Level::Write), rule("bar", Level::Deny)],
        node_prefixes: vec![rule("", Level::Read)],
        operator: Some(Level::Deny),
        peering: Some(Level::Deny),
        queries: vec![rule("foo", Level::Write), rule("bar", Level::Deny)],
        query_prefixes: vec![rule("", Level::Read)],
        services: vec![svc("foo", Level::Read, None)],
        service_prefixes: vec![svc("", Level::Write, None)],
        sessions: vec![rule("foo", Level::Write), rule("bar", Level::Deny)],
        session_prefixes: vec![rule("baz", Level::Deny)],
    }
}

#[test]
fn basic_hcl_and_json_give_the_same_policy() {
    assert_eq!(ok(BASIC_HCL), basic_expected());
    assert_eq!(ok(BASIC_JSON), basic_expected());
}

#[test]
fn hcl_and_json_pairs_are_equal() {
    let pairs = [
        (
            r#"service "foo" { policy = "write" }"#,
            r#"{ "service": { "foo": { "policy": "write" }}}"#,
        ),
        (
            r#"service "foo" { policy = "write" intentions = "read" }"#,
            r#"{ "service": { "foo": { "policy": "write", "intentions": "read" }}}"#,
        ),
        (
            r#"key_prefix "foo/" { policy = "read" } operator = "read""#,
            r#"{"key_prefix":{"foo/":{"policy":"read"}},"operator":"read"}"#,
        ),
        (r#"keyring = """#, r#"{ "keyring": "" }"#),
        (r#"operator = """#, r#"{ "operator": "" }"#),
        (r#"mesh = """#, r#"{ "mesh": "" }"#),
        (r#"peering = """#, r#"{ "peering": "" }"#),
        (
            "key \"a\" { policy = \"list\" }\nkey_prefix \"b/\" { policy = \"LIST\" }",
            r#"{"key": {"a": {"policy": "list"}}, "key_prefix": {"b/": {"policy": "LIST"}}}"#,
        ),
    ];
    for (hcl, json) in pairs {
        assert_eq!(ok(hcl), ok(json), "{hcl} vs {json}");
    }
}

#[test]
fn empty_text_and_unset_strings() {
    assert_eq!(ok(""), PolicyRules::default());
    assert_eq!(ok("   \n\t\n"), PolicyRules::default());
    assert_eq!(
        ok("# only a comment\n// another\n/* and a block */"),
        PolicyRules::default()
    );
    assert_eq!(ok("{}"), PolicyRules::default());
    assert_eq!(ok("operator = \"\"").operator, None);
}

#[test]
fn hcl_v1_layouts() {
    let expected = PolicyRules {
        services: vec![svc("foo", Level::Write, Some(Level::Read))],
        node_prefixes: vec![rule("", Level::Read)],
        operator: Some(Level::Read),
        ..Default::default()
    };
    let layouts = [
        // Everything on one line, as `consul acl policy create -rules '...'` users write it.
        r#"service "foo" { policy = "write" intentions = "read" } node_prefix "" { policy = "read" } operator = "read""#,
        // Commas between items.
        r#"service "foo" { policy = "write", intentions = "read" }, node_prefix "" { policy = "read" }, operator = "read""#,
        // No spaces at all.
        r#"service "foo"{policy="write"intentions="read"}node_prefix ""{policy="read"}operator="read""#,
        // Newlines where HCL2 would not allow them.
        "service \"foo\"\n{\npolicy\n=\n\"write\"\nintentions =\n\"read\" }\nnode_prefix\n\"\"\n{ policy = \"read\"\n}\noperator\n=\n\"read\"",
        // Quoted names and bare labels.
        "\"service\" foo { \"policy\" = \"write\" \"intentions\" = \"read\" }\n\"node_prefix\" \"\" { policy = \"read\" }\n\"operator\" = \"read\"",
        // Comments everywhere.
        "service \"foo\" { # svc\n policy = \"write\" /* inline */ intentions = \"read\" // tail\n}\n/* multi\nline */ node_prefix \"\" { policy = \"read\" } operator = \"read\" # end",
        // The attribute form with an object value.
        "service = { \"foo\" = { policy = \"write\", intentions = \"read\" } }\nnode_prefix = { \"\" = { policy = \"read\" } }\noperator = \"read\"",
    ];
    for text in layouts {
        assert_eq!(ok(text), expected, "{text}");
    }
}

#[test]
fn json_forms() {
    // Arrays of objects are flattened into repeated keys (HCL v1's JSON decoding).
    let p = ok(r#"{"key": [{"foo": {"policy": "read"}}, {"bar": {"policy": "write"}}]}"#);
    assert_eq!(
        p.keys,
        vec![rule("foo", Level::Read), rule("bar", Level::Write)]
    );
    // Repeated resource keys are kept.
    let p = ok(r#"{"key": {"a": {"policy": "read"}}, "key": {"b": {"policy": "deny"}}}"#);
    assert_eq!(p.keys, vec![rule("a", Level::Read), rule("b", Level::Deny)]);
    // Non-string scalars become their text, as HCL v1 decodes them.
    assert!(err(r#"{"operator": true}"#).starts_with(r#"Invalid operator policy: "true""#));
}

#[test]
fn levels_are_case_insensitive() {
    let p = ok(r#"operator = "READ" key "k" { policy = "Write" } service "s" { policy = "rEaD" }"#);
    assert_eq!(p.operator, Some(Level::Read));
    assert_eq!(p.keys, vec![rule("k", Level::Write)]);
    // The implied intentions level follows the normalized service level.
    assert_eq!(p.services[0].effective_intentions(), Level::Read);
}

#[test]
fn repeated_blocks_are_kept() {
    let p = ok("key \"a\" { policy = \"read\" }\nkey \"a\" { policy = \"deny\" }");
    assert_eq!(p.keys, vec![rule("a", Level::Read), rule("a", Level::Deny)]);
}

#[test]
fn strings_are_literal_as_in_hcl_v1() {
    assert_eq!(
        ok(r#"key "a${b}" { policy = "read" }"#).keys[0].name,
        "a${b}"
    );
    assert_eq!(
        ok(r#"key "a%{b}" { policy = "read" }"#).keys[0].name,
        "a%{b}"
    );
    assert_eq!(
        ok(r#"key "${x("y")}" { policy = "read" }"#).keys[0].name,
        r#"${x("y")}"#
    );
    assert_eq!(
        ok(r#"key "a\"b\\c" { policy = "read" }"#).keys[0].name,
        "a\"b\\c"
    );
    assert_eq!(
        ok(r#"key "ключ/日本" { policy = "read" }"#).keys[0].name,
        "ключ/日本"
    );
    // A heredoc keeps its final newline, so it is not a valid level (as in Consul).
    assert_eq!(
        err("acl = <<EOF\nwrite\nEOF\n"),
        "Invalid acl policy: \"write\\n\" (line 1: acl)"
    );
}

#[test]
fn invalid_levels_use_consul_messages() {
    let cases = [
        (
            r#"acl = "list""#,
            "Invalid acl policy: \"list\" (line 1: acl)",
        ),
        (
            r#"agent "foo" { policy = "nope" }"#,
            "Invalid agent policy: &acl.AgentRule{Node:\"foo\", Policy:\"nope\"} (line 1: agent \"foo\")",
        ),
        (
            r#"agent_prefix "foo" { policy = "nope" }"#,
            "Invalid agent_prefix policy: &acl.AgentRule{Node:\"foo\", Policy:\"nope\"} (line 1: agent_prefix \"foo\")",
        ),
        (
            r#"key "foo" { policy = "nope" }"#,
            "Invalid key policy: &acl.KeyRule{Prefix:\"foo\", Policy:\"nope\", EnterpriseRule:acl.EnterpriseRule{}} (line 1: key \"foo\")",
        ),
        (
            r#"key_prefix "foo" { policy = "nope" }"#,
            "Invalid key_prefix policy: &acl.KeyRule{Prefix:\"foo\", Policy:\"nope\", EnterpriseRule:acl.EnterpriseRule{}} (line 1: key_prefix \"foo\")",
        ),
        (
            r#"node "foo" { policy = "list" }"#,
            "Invalid node policy: &acl.NodeRule{Name:\"foo\", Policy:\"list\", EnterpriseRule:acl.EnterpriseRule{}} (line 1: node \"foo\")",
        ),
        (
            r#"node_prefix "foo" { policy = "nope" }"#,
            "Invalid node_prefix policy: &acl.NodeRule{Name:\"foo\", Policy:\"nope\", EnterpriseRule:acl.EnterpriseRule{}} (line 1: node_prefix \"foo\")",
        ),
        (
            r#"service "foo" { policy = "nope" }"#,
            "Invalid service policy: &acl.ServiceRule{Name:\"foo\", Policy:\"nope\", Intentions:\"\", EnterpriseRule:acl.EnterpriseRule{}} (line 1: service \"foo\")",
        ),
        (
            r#"service_prefix "foo" { policy = "nope" }"#,
            "Invalid service_prefix policy: &acl.ServiceRule{Name:\"foo\", Policy:\"nope\", Intentions:\"\", EnterpriseRule:acl.EnterpriseRule{}} (line 1: service_prefix \"foo\")",
        ),
        (
            "service \"foo\" {\n  policy = \"write\"\n  intentions = \"foo\"\n}",
            "Invalid service intentions policy: &acl.ServiceRule{Name:\"foo\", Policy:\"write\", Intentions:\"foo\", EnterpriseRule:acl.EnterpriseRule{}} (line 3: service \"foo\")",
        ),
        (
            r#"service_prefix "" { policy = "read" intentions = "list" }"#,
            "Invalid service_prefix intentions policy: &acl.ServiceRule{Name:\"\", Policy:\"read\", Intentions:\"list\", EnterpriseRule:acl.EnterpriseRule{}} (line 1: service_prefix \"\")",
        ),
        (
            r#"session "foo" { policy = "nope" }"#,
            "Invalid session policy: &acl.SessionRule{Node:\"foo\", Policy:\"nope\"} (line 1: session \"foo\")",
        ),
        (
            r#"session_prefix "foo" { policy = "nope" }"#,
            "Invalid session_prefix policy: &acl.SessionRule{Node:\"foo\", Policy:\"nope\"} (line 1: session_prefix \"foo\")",
        ),
        (
            r#"event "foo" { policy = "nope" }"#,
            "Invalid event policy: &acl.EventRule{Event:\"foo\", Policy:\"nope\"} (line 1: event \"foo\")",
        ),
        (
            r#"event_prefix "foo" { policy = "nope" }"#,
            "Invalid event_prefix policy: &acl.EventRule{Event:\"foo\", Policy:\"nope\"} (line 1: event_prefix \"foo\")",
        ),
        (
            r#"query "foo" { policy = "nope" }"#,
            "Invalid query policy: &acl.PreparedQueryRule{Prefix:\"foo\", Policy:\"nope\"} (line 1: query \"foo\")",
        ),
        (
            r#"query_prefix "foo" { policy = "nope" }"#,
            "Invalid query_prefix policy: &acl.PreparedQueryRule{Prefix:\"foo\", Policy:\"nope\"} (line 1: query_prefix \"foo\")",
        ),
        (
            r#"keyring = "nope""#,
            "Invalid keyring policy: \"nope\" (line 1: keyring)",
        ),
        (
            r#"operator = "bogus""#,
            "Invalid operator policy: \"bogus\" (line 1: operator)",
        ),
        (
            r#"mesh = "nope""#,
            "Invalid mesh policy: \"nope\" (line 1: mesh)",
        ),
        (
            r#"peering = "nope""#,
            "Invalid peering policy: \"nope\" (line 1: peering)",
        ),
        // A rule without a policy has an empty one, which is invalid.
        (
            "\n\nkey \"x\" {\n}",
            "Invalid key policy: &acl.KeyRule{Prefix:\"x\", Policy:\"\", EnterpriseRule:acl.EnterpriseRule{}} (line 3: key \"x\")",
        ),
        // Go quoting of odd labels.
        (
            "key \"a\\tb\" { policy = \"x\" }",
            "Invalid key policy: &acl.KeyRule{Prefix:\"a\\tb\", Policy:\"x\", EnterpriseRule:acl.EnterpriseRule{}} (line 1: key \"a\\tb\")",
        ),
        // JSON: no line, the rule is still named.
        (
            r#"{"key": {"foo": {"policy": "nope"}}}"#,
            "Invalid key policy: &acl.KeyRule{Prefix:\"foo\", Policy:\"nope\", EnterpriseRule:acl.EnterpriseRule{}} (key \"foo\")",
        ),
        (
            r#"{ "operator": "nope" }"#,
            "Invalid operator policy: \"nope\" (operator)",
        ),
    ];
    for (text, expected) in cases {
        let e = parse_rules(text).expect_err(text);
        assert_eq!(e.to_string(), expected, "{text}");
        assert_eq!(e.kind(), RulesErrorKind::InvalidLevel);
    }
}

#[test]
fn invalid_levels_are_reported_in_consul_order() {
    // acl first, then agent, key, node, service, session, event, query, then the strings.
    assert!(err("operator = \"x\"\nacl = \"y\"").starts_with("Invalid acl policy: \"y\""));
    assert!(
        err("query \"q\" { policy = \"x\" }\nkey \"k\" { policy = \"x\" }\nagent \"a\" { policy = \"x\" }")
            .starts_with("Invalid agent policy")
    );
    assert!(
        err("peering = \"x\"\nevent \"e\" { policy = \"x\" }").starts_with("Invalid event policy")
    );
    assert!(
        err("peering = \"x\"\nmesh = \"y\"\nkeyring = \"z\"").starts_with("Invalid keyring policy")
    );
}

#[test]
fn syntax_errors_name_the_line_and_the_rule() {
    let cases: [(&str, usize, Option<&str>, &str); 12] = [
        (
            "acl = \"read\"\nkey \"foo\" {\n  policy = \"read\"\n  bogus\n}",
            5,
            Some("key \"foo\""),
            "Failed to parse ACL rules: At 5:1: ",
        ),
        (
            "acl = \"read\"\n\nkey_prefix \"foo/\" {\n  policy = \n}",
            5,
            Some("key_prefix \"foo/\""),
            "Failed to parse ACL rules: At 5:1: ",
        ),
        (
            "acl = \"read\"\nacl = \"write\"",
            2,
            None,
            "Failed to parse ACL rules: The argument \"acl\" at 2:1 was already set. Each argument can only be defined once",
        ),
        (
            "key \"x\" {\n  policy = \"read\"\n  policy = \"write\"\n}",
            3,
            Some("key \"x\""),
            "Failed to parse ACL rules: The argument \"policy\" at 3:3 was already set. Each argument can only be defined once (in key \"x\")",
        ),
        (
            "node_prefix \"\" { policy = \"read\" }\nkeys \"x\" { policy = \"read\" }",
            2,
            Some("keys"),
            "Failed to parse ACL rules: At 2:1: unknown ACL resource \"keys\"",
        ),
        (
            "service \"x\" {\n  policy = \"read\"\n  intention = \"read\"\n}",
            3,
            Some("service \"x\""),
            "Failed to parse ACL rules: At 3:3: unknown attribute \"intention\" in service \"x\"",
        ),
        (
            "key { policy = \"read\" }",
            1,
            Some("key"),
            "Failed to parse ACL rules: At 1:1: key needs a label, like key \"name\" { policy = \"read\" }",
        ),
        (
            "\noperator { policy = \"read\" }",
            2,
            Some("operator"),
            "Failed to parse ACL rules: At 2:1: operator must be a string, like operator = \"read\"",
        ),
        (
            "key \"foo\" {\n policy = read\n}",
            2,
            Some("key \"foo\""),
            "Failed to parse ACL rules: At 2:2: policy in key \"foo\" must be a string, not a bare word",
        ),
        (
            "acl = \"read\"\noperator = (\"read\")",
            2,
            None,
            "Failed to parse ACL rules: At 2:12: illegal char '('",
        ),
        (
            "key \"a\" {\n  policy = \"read\n}",
            2,
            None,
            "Failed to parse ACL rules: At 2:12: literal not terminated",
        ),
        (
            "key \"a\" \"b\" { policy = \"read\" }",
            1,
            Some("key \"a\""),
            "Failed to parse ACL rules: At 1:9: unknown attribute \"b\" in key \"a\"",
        ),
    ];
    for (text, line, rule, prefix) in cases {
        let e = parse_rules(text).expect_err(text);
        assert!(e.to_string().starts_with(prefix), "{text}: {e}");
        assert_eq!(e.line(), Some(line), "{text}: {e}");
        assert_eq!(e.rule(), rule, "{text}: {e}");
        assert_eq!(e.kind(), RulesErrorKind::Syntax);
        if let Some(rule) = rule {
            assert!(e.to_string().contains(rule), "{text}: {e}");
        }
    }
}

#[test]
fn json_syntax_errors() {
    let cases = [
        (
            r#"{"key": "#,
            "Failed to parse ACL rules: At 1:8: EOF while parsing a value",
        ),
        (
            r#"{"acl":"read","acl":"write"}"#,
            "Failed to parse ACL rules: The argument \"acl\" was already set. Each argument can only be defined once",
        ),
        (
            r#"{"key": {"foo": {"policy": "read", "policy": "write"}}}"#,
            "Failed to parse ACL rules: The argument \"policy\" was already set. Each argument can only be defined once (in key \"foo\")",
        ),
        (
            r#"{"key": {"foo": "read"}}"#,
            "Failed to parse ACL rules: key \"foo\" must be a block, like key \"foo\" { policy = \"read\" }",
        ),
        (
            r#"{"keys": {}}"#,
            "Failed to parse ACL rules: unknown ACL resource \"keys\"",
        ),
        (
            r#"{"acl": ["read"]}"#,
            "Failed to parse ACL rules: acl must be a string, like acl = \"read\"",
        ),
        (
            "{\n\"acl\": \"read\"\n} trailing",
            "Failed to parse ACL rules: At 3:3: trailing characters",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "{text}");
    }
}

#[test]
fn oversized_input_is_rejected() {
    let big = format!("acl = \"read\"\n#{}", "x".repeat(MAX_RULES_BYTES));
    let started = Instant::now();
    let e = err(&big);
    assert!(
        e.starts_with("Failed to parse ACL rules: rules are "),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[test]
fn a_one_mebibyte_policy_parses_quickly() {
    let mut text = String::new();
    let mut n = 0;
    while text.len() < MAX_RULES_BYTES - 64 {
        text.push_str(&format!(
            "key_prefix \"app/{n}/\" {{ policy = \"read\" }}\n"
        ));
        n += 1;
    }
    let started = Instant::now();
    let p = ok(&text);
    assert_eq!(p.key_prefixes.len(), n);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // The same size of garbage fails quickly too, as JSON and as HCL.
    for unit in [
        "{[\"x\" = ",
        "key \"a\" = x ",
        "acl = \"r\"\n",
        "\"\\\"${\"}",
    ] {
        let garbage = unit.repeat((MAX_RULES_BYTES - 64) / unit.len());
        let started = Instant::now();
        assert!(parse_rules(&garbage).is_err(), "{unit}");
        assert!(started.elapsed() < Duration::from_secs(10), "{unit}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    let hcl = format!("key = {}{}", "{ a = ".repeat(depth), "}".repeat(depth));
    let e = err(&hcl);
    assert!(e.contains("nested too deeply"), "{e}");
    let hcl = format!("key \"a\" {}{}", "{ ".repeat(depth), "}".repeat(depth));
    assert!(err(&hcl).contains("nested too deeply"));
    let hcl = format!("acl = {}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(err(&hcl).contains("nested too deeply"));
    let json = format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    assert!(err(&json).contains("recursion limit"));
    let json = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    assert!(err(&json).contains("recursion limit"));
}

#[test]
fn policy_rules_from_str() {
    let p: PolicyRules = "operator = \"read\"".parse().expect("parses");
    assert_eq!(p.operator, Some(Level::Read));
}
