//! Synthetic policies, templated policies and names.

use crate::builtin::{ANONYMOUS_TOKEN_ID, alias_if_anonymous, is_reserved_id};
use crate::{
    IdentityError, IdentityOwner, NameError, NodeIdentity, ServiceIdentity, TemplateError,
    TemplateVariables, TemplatedPolicy, is_valid_node_identity_name,
    is_valid_service_identity_name, node_identity_rules, parse_rules, policy_applies_in,
    render_templated_policy, service_identity_rules, templated_policies, templated_policy,
    validate_policy_name, validate_role_name,
};

fn vars(name: &str) -> Option<TemplateVariables> {
    Some(TemplateVariables { name: name.into() })
}

#[test]
fn identity_names() {
    let long_ok = "a".repeat(256);
    let too_long = "a".repeat(257);
    let cases = [
        ("a", true),
        ("web", true),
        ("web-1_x", true),
        ("0", true),
        ("9abc9", true),
        (long_ok.as_str(), true),
        ("", false),
        ("-web", false),
        ("web-", false),
        ("_web", false),
        ("web_", false),
        ("Web", false),
        ("web.1", false),
        ("web 1", false),
        ("wéb", false),
        (too_long.as_str(), false),
    ];
    for (name, valid) in cases {
        assert_eq!(is_valid_service_identity_name(name), valid, "{name:?}");
        assert_eq!(is_valid_node_identity_name(name), valid, "{name:?}");
    }
}

#[test]
fn policy_and_role_names() {
    let long = "a".repeat(128);
    let too_long = "a".repeat(129);
    assert_eq!(validate_policy_name("my-policy_1"), Ok(()));
    assert_eq!(validate_policy_name("team/policy"), Ok(()));
    assert_eq!(validate_policy_name("team/"), Ok(()));
    assert_eq!(validate_policy_name(&long), Ok(()));
    assert_eq!(validate_policy_name(""), Err(NameError::PolicyLength));
    assert_eq!(
        validate_policy_name(&too_long),
        Err(NameError::PolicyLength)
    );
    assert_eq!(
        validate_policy_name("/x"),
        Err(NameError::PolicyReservedPrefix)
    );
    assert_eq!(
        validate_policy_name("builtin/x"),
        Err(NameError::PolicyReservedPrefix)
    );
    assert_eq!(
        validate_policy_name("a/b/c"),
        Err(NameError::PolicyCharacters)
    );
    assert_eq!(
        validate_policy_name("a b"),
        Err(NameError::PolicyCharacters)
    );
    assert_eq!(
        validate_policy_name("a.b"),
        Err(NameError::PolicyCharacters)
    );
    assert_eq!(
        NameError::PolicyLength.to_string(),
        "Invalid Policy: invalid Name. Length must be greater than 0 and less than 128"
    );
    assert_eq!(
        NameError::PolicyReservedPrefix.to_string(),
        "Invalid Policy: invalid Name. Names cannot be prefixed with '/' or 'builtin/'"
    );
    assert_eq!(
        NameError::PolicyCharacters.to_string(),
        "Invalid Policy: invalid Name. Only alphanumeric characters, a single '/', '-' and '_' are allowed"
    );
    assert_eq!(validate_role_name("Role-1_x"), Ok(()));
    assert_eq!(validate_role_name(&"r".repeat(256)), Ok(()));
    assert_eq!(validate_role_name(""), Err(NameError::RoleMissing));
    assert_eq!(
        validate_role_name(&"r".repeat(257)),
        Err(NameError::RoleCharacters)
    );
    assert_eq!(validate_role_name("a/b"), Err(NameError::RoleCharacters));
    assert_eq!(
        NameError::RoleMissing.to_string(),
        "Invalid Role: no Name is set"
    );
    assert_eq!(
        NameError::RoleCharacters.to_string(),
        "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
    );
}

#[test]
fn identity_rules_and_synthetic_policies() {
    assert_eq!(
        service_identity_rules("web"),
        "\nservice \"web\" {\n\tpolicy = \"write\"\n}\nservice \"web-sidecar-proxy\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}"
    );
    assert_eq!(
        node_identity_rules("n1"),
        "\nnode \"n1\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}"
    );
    let s = ServiceIdentity {
        service_name: "web".into(),
        datacenters: vec!["dc2".into()],
    }
    .synthetic_policy();
    assert_eq!(
        s.description,
        "synthetic policy for service identity \"web\""
    );
    assert_eq!(s.name, format!("synthetic-policy-{}", s.id));
    assert!(s.id.ends_with("6c62272e07bb014262b821756295c58d"));
    assert!(s.id.starts_with("0a7365727669636520")); // "\nservice " in hex
    assert!(s.applies_in("dc2") && !s.applies_in("dc1"));
    let n = NodeIdentity {
        node_name: "n1".into(),
        datacenter: "dc1".into(),
    }
    .synthetic_policy();
    assert_eq!(n.description, "synthetic policy for node identity \"n1\"");
    assert_eq!(n.datacenters, vec!["dc1".to_string()]);
    assert!(policy_applies_in(&[], "anywhere"));
}

#[test]
fn identity_validation_messages() {
    let svc = |name: &str, dcs: &[&str]| ServiceIdentity {
        service_name: name.into(),
        datacenters: dcs.iter().map(|s| s.to_string()).collect(),
    };
    let cases = [
        (
            svc("", &[]).validate(IdentityOwner::Token, false),
            "Service identity is missing the service name field on this token",
        ),
        (
            svc("", &[]).validate(IdentityOwner::Role, false),
            "Service identity is missing the service name field on this role",
        ),
        (
            svc("web", &["dc1"]).validate(IdentityOwner::Token, true),
            "Service identity \"web\" cannot specify a list of datacenters on a local token",
        ),
        (
            svc("Web!", &[]).validate(IdentityOwner::Token, false),
            "Service identity \"Web!\" has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
        ),
    ];
    for (result, expected) in cases {
        assert_eq!(result.expect_err(expected).to_string(), expected);
    }
    assert_eq!(
        svc("web", &["dc1"]).validate(IdentityOwner::Token, false),
        Ok(())
    );
    assert_eq!(
        svc("web", &["dc1"]).validate(IdentityOwner::Role, true),
        Ok(())
    );
    let node = |name: &str, dc: &str| NodeIdentity {
        node_name: name.into(),
        datacenter: dc.into(),
    };
    assert_eq!(
        node("", "dc1")
            .validate(IdentityOwner::Token)
            .expect_err("no name")
            .to_string(),
        "Node identity is missing the node name field on this token"
    );
    assert_eq!(
        node("n", "").validate(IdentityOwner::Role),
        Err(IdentityError::MissingDatacenter(IdentityOwner::Role))
    );
    assert_eq!(
        node("N", "dc1")
            .validate(IdentityOwner::Token)
            .expect_err("bad")
            .to_string(),
        "Node identity has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed"
    );
    assert_eq!(node("n-1", "dc1").validate(IdentityOwner::Token), Ok(()));
}

#[test]
fn templated_policy_list() {
    let names: Vec<&str> = templated_policies()
        .iter()
        .map(|t| t.template_name)
        .collect();
    assert_eq!(names, ["builtin/service", "builtin/node", "builtin/dns"]);
    let service = templated_policy("builtin/service").expect("service");
    assert_eq!(
        service.schema,
        "{\n\t\"type\": \"object\",\n\t\"properties\": {\n\t\t\"name\": { \"type\": \"string\", \"$ref\": \"#/definitions/min-length-one\" }\n\t},\n\t\"required\": [\"name\"],\n\t\"definitions\": {\n\t\t\"min-length-one\": {\n\t\t\t\t\"type\": \"string\",\n\t\t\t\t\"minLength\": 1\n\t\t}\n\t}\n}"
    );
    let _: serde_json::Value = serde_json::from_str(service.schema).expect("schema is JSON");
    assert_eq!(templated_policy("builtin/dns").map(|t| t.schema), Some(""));
    assert!(templated_policy("builtin/nope").is_none());
    let json = serde_json::to_value(templated_policy("builtin/dns")).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "TemplateName": "builtin/dns",
            "Schema": "",
            "Template": "\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}\nquery_prefix \"\" {\n\tpolicy = \"read\"\n}",
            "Description": "Gives the token or role permissions for the Consul DNS to query services in the network."
        })
    );
    for t in templated_policies() {
        let rendered =
            render_templated_policy(t.template_name, vars("x").as_ref()).expect("renders");
        parse_rules(&rendered).expect("template rules parse");
    }
}

#[test]
fn templated_policy_rendering_and_errors() {
    assert_eq!(
        render_templated_policy("builtin/service", vars("api").as_ref()),
        Ok(service_identity_rules("api"))
    );
    assert_eq!(
        render_templated_policy("builtin/node", vars("node-1").as_ref()),
        Ok(node_identity_rules("node-1"))
    );
    assert!(render_templated_policy("builtin/dns", None).is_ok());
    let cases: [(&str, Option<TemplateVariables>, &str); 6] = [
        (
            "builtin/nope",
            vars("x"),
            "acl templated policy does not exist: builtin/nope",
        ),
        (
            "builtin/service",
            vars("API"),
            "service identity \"API\" has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
        ),
        (
            "builtin/service",
            vars(""),
            "service identity \"\" has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
        ),
        (
            "builtin/node",
            vars("node 1"),
            "node identity \"node 1\"  has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
        ),
        (
            "builtin/service",
            None,
            "1 error occurred:\n\t* Invalid type. Expected: object, given: null\n\n",
        ),
        (
            "builtin/node",
            None,
            "1 error occurred:\n\t* Invalid type. Expected: object, given: null\n\n",
        ),
    ];
    for (name, v, expected) in cases {
        let e = render_templated_policy(name, v.as_ref()).expect_err(expected);
        assert_eq!(e.to_string(), expected);
    }
    assert_eq!(
        TemplateError::Schema(vec!["a".into(), "b".into()]).to_string(),
        "2 errors occurred:\n\t* a\n\t* b\n\n"
    );
    let p = TemplatedPolicy {
        template_name: "builtin/service".into(),
        variables: vars("api"),
        datacenters: vec!["dc1".into()],
    }
    .synthetic_policy()
    .expect("synthetic");
    assert_eq!(
        p.description,
        "synthetic policy generated from templated policy: builtin/service"
    );
    assert_eq!(p.rules, service_identity_rules("api"));
    assert_eq!(p.datacenters, vec!["dc1".to_string()]);
}

#[test]
fn builtin_helpers() {
    assert!(is_reserved_id("00000000-0000-0000-0000-000000000042"));
    assert!(!is_reserved_id("00000000-0000-0000-0000-000000000142"));
    assert!(!is_reserved_id("10000000-0000-0000-0000-000000000001"));
    assert_eq!(alias_if_anonymous(ANONYMOUS_TOKEN_ID), "anonymous token");
    assert_eq!(alias_if_anonymous("abc"), "abc");
}
