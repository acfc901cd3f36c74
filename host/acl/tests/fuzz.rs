//! ACL rules arrive in policy bodies over HTTP: mutated rules (HCL and JSON) never panic the
//! parser (see `praetor_fuzz`).

#[test]
fn fuzz_rules() {
    praetor_fuzz::run_text(
        "acl rules",
        &[
            "key_prefix \"\" { policy = \"read\" }\nservice \"web\" { policy = \"write\" intentions = \"read\" }",
            "node_prefix \"\" {\n  policy = \"read\"\n}\noperator = \"write\"\nacl = \"read\"",
            r#"{"key_prefix": {"app/": {"policy": "write"}}, "session_prefix": {"": {"policy": "read"}}}"#,
            "agent_prefix \"\" { policy = \"read\" }\nquery_prefix \"q\" { policy = \"write\" }\nkeyring = \"write\"",
            r#"{"service": [{"web": [{"policy": "read"}]}], "event_prefix": {"": {"policy": "deny"}}}"#,
        ],
        |text| {
            let _ = praetor_acl::parse_rules(text);
        },
    );
}
