//! The intention-evaluator glue end to end (natively): every field of the WIT intention and
//! request reaches Consul's evaluator.

use praetor_plugin_sdk::bindings::intentions::exports::praetor::plugins::intentions::{
    self as wit, Guest,
};
use praetor_plugin_sdk::{Decision, Evaluator, Intention, IntentionEvaluator, Request};

#[derive(Default)]
struct Consul {
    evaluator: Evaluator,
}

impl IntentionEvaluator for Consul {
    fn update(&mut self, intentions: Vec<Intention>, default_allow: bool) -> Result<(), String> {
        self.evaluator = Evaluator::new(intentions, default_allow)?;
        Ok(())
    }

    fn evaluate(&self, request: &Request) -> Decision {
        self.evaluator.evaluate(request)
    }
}

praetor_plugin_sdk::__export_slot!(
    TestSlot,
    Consul,
    praetor_plugin_sdk::IntentionEvaluator,
    __export_intentions_exports_impl,
    intentions
);

fn identity(service: &str, namespace: &str) -> wit::Identity {
    wit::Identity {
        service: service.into(),
        namespace: namespace.into(),
        partition: String::new(),
        datacenter: "dc1".into(),
        trust_domain: "11111111-2222-3333-4444-555555555555.consul".into(),
    }
}

fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> wit::Request {
    wit::Request {
        source: identity("web", "prod"),
        destination: identity("api", "prod"),
        http: Some(wit::HttpRequest {
            method: method.into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
    }
}

#[test]
fn update_and_evaluate_through_the_wit_types() {
    let l7 = wit::Intention {
        id: "l7".into(),
        source_name: "web".into(),
        source_namespace: "prod".into(),
        source_partition: String::new(),
        source_peer: String::new(),
        destination_name: "api".into(),
        destination_namespace: "prod".into(),
        destination_partition: "default".into(),
        action: wit::Action::Deny,
        permissions: vec![wit::Permission {
            action: wit::Action::Allow,
            path_exact: None,
            path_prefix: Some("/v1/".into()),
            path_regex: None,
            methods: vec!["GET".into()],
            headers: vec![wit::HeaderMatch {
                name: "x-team".into(),
                present: false,
                exact: None,
                prefix: None,
                suffix: None,
                regex: Some("blue|green".into()),
                invert: false,
            }],
        }],
    };
    assert_eq!(<TestSlot as Guest>::update(vec![l7.clone()], true), Ok(()));
    let allowed =
        <TestSlot as Guest>::evaluate(request("GET", "/v1/items", &[("X-Team", "green")]));
    assert!(allowed.allowed, "{}", allowed.reason);
    assert_eq!(allowed.intention_id.as_deref(), Some("l7"));
    assert!(
        !<TestSlot as Guest>::evaluate(request("GET", "/v1/items", &[("X-Team", "red")])).allowed
    );
    assert!(
        !<TestSlot as Guest>::evaluate(request("POST", "/v1/items", &[("X-Team", "green")]))
            .allowed
    );

    // A refused set (invalid regex) reports why and keeps the previous one.
    let mut bad = l7;
    bad.permissions[0].path_regex = Some("(".into());
    bad.permissions[0].path_prefix = None;
    assert!(
        <TestSlot as Guest>::update(vec![bad], false)
            .unwrap_err()
            .contains("invalid regex")
    );
    assert!(<TestSlot as Guest>::evaluate(request("GET", "/v1/x", &[("x-team", "blue")])).allowed);

    // Another namespace: no match, so the default (allow) decides.
    let mut other = request("GET", "/v1/x", &[]);
    other.source = identity("web", "dev");
    let d = <TestSlot as Guest>::evaluate(other);
    assert_eq!(
        (d.allowed, d.reason.as_str(), d.intention_id),
        (true, "default allow", None)
    );
}
