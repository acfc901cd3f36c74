//! `?filter=` expressions come from the network: mutated expressions never panic the parser or
//! the evaluator (see `praetor_fuzz`).

use serde_json::json;

#[test]
fn fuzz_filter_expressions() {
    let item = json!({
        "Node": {"Node": "n1", "Meta": {"env": "prod", "a b": "c"}},
        "Service": {"Service": "web", "Tags": ["v1", "primary"], "Port": 8080, "Meta": {}},
        "Checks": [{"Status": "passing", "Name": "ttl"}],
    });
    praetor_fuzz::run_text(
        "filter",
        &[
            r#"Service.Tags contains "v1" and Node.Meta.env == "prod""#,
            r#"Service.Service matches "^web.*" or not (Service.Port > 80)"#,
            r#"Node.Meta["a b"] is not empty and "primary" in Service.Tags"#,
            r#"Service.Port != 8080 and Checks is empty"#,
            r#"Service.Service == `web` and Node.Node not in Service.Tags"#,
        ],
        |expr| {
            if let Ok(f) = praetor_filter::parse(expr) {
                let _ = f.evaluate(&item);
            }
        },
    );
}
