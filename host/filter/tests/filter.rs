//! Behaviour of the filter language through the public API.

use praetor_filter::{EvalError, Filter, MAX_DEPTH, parse};
use serde_json::{Value, json};

const PREFIX: &str = "Failed to create boolean expression evaluator: ";

fn eval(expr: &str, item: &Value) -> Result<bool, EvalError> {
    parse(expr)
        .unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
        .evaluate(item)
}

fn check(item: &Value, cases: &[(&str, bool)]) {
    for (expr, want) in cases {
        assert_eq!(eval(expr, item), Ok(*want), "{expr}");
    }
}

fn parse_error(expr: &str) -> String {
    match parse(expr) {
        Ok(_) => panic!("{expr:?} should not parse"),
        Err(e) => e.to_string(),
    }
}

fn service() -> Value {
    json!({
        "ID": "redis1",
        "Service": "redis",
        "Tags": ["primary", "production"],
        "Meta": {"env": "production", "foo": "bar", "key with space": "yes"},
        "Port": 1234,
        "Address": "",
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": false,
        "Ratio": 1.5,
        "Big": 18446744073709551615u64,
        "Proxy": null,
        "Checks": [
            {"CheckID": "serfHealth", "Status": "passing", "ServiceTags": []},
            {"CheckID": "service:redis1", "Status": "critical", "ServiceTags": ["primary"]}
        ]
    })
}

#[test]
fn filter_is_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Filter>();
    assert_traits::<praetor_filter::FilterError>();
    assert_traits::<EvalError>();
}

#[test]
fn equality_on_strings_numbers_and_booleans() {
    check(
        &service(),
        &[
            (r#"Service == "redis""#, true),
            ("Service == redis", true),
            ("Service == `redis`", true),
            (r#"Service != "redis""#, false),
            (r#"Service == "Redis""#, false),
            (r#"Address == """#, true),
            (r#"Address != """#, false),
            ("Port == 1234", true),
            (r#"Port == "1234""#, true),
            (r#"Port == "0x4d2""#, true),
            ("Port != 1234", false),
            ("Port == 80", false),
            ("EnableTagOverride == false", true),
            ("EnableTagOverride == true", false),
            ("EnableTagOverride == F", true),
            ("EnableTagOverride != 1", true),
            ("Ratio == 1.5", true),
            ("Ratio == 1.50", true),
            ("Ratio == 2", false),
            ("Big == 18446744073709551615", true),
            ("Weights.Passing == 1", true),
            ("Weights.Passing == -1", false),
        ],
    );
}

#[test]
fn coercion_failures_are_evaluation_errors() {
    let item = service();
    assert_eq!(
        eval("Port == abc", &item).map_err(|e| e.to_string()),
        Err(
            "error getting match value in expression: strconv.ParseInt: parsing \"abc\": invalid syntax"
                .to_string()
        )
    );
    assert_eq!(
        eval("Port == 1.5", &item).map_err(|e| e.to_string()),
        Err(
            "error getting match value in expression: strconv.ParseInt: parsing \"1.5\": invalid syntax"
                .to_string()
        )
    );
    assert!(eval("EnableTagOverride == yes", &item).is_err());
    assert!(eval("Ratio == x", &item).is_err());
    assert_eq!(
        eval("Tags == primary", &item),
        Err(EvalError::NotComparable)
    );
    assert_eq!(eval("Meta == x", &item), Err(EvalError::NotComparable));
    assert_eq!(eval("Proxy == x", &item), Err(EvalError::NotComparable));
    // matches() folds errors into "no match".
    let f = parse("Port == abc").unwrap();
    assert!(!f.matches(&item));
    let f = parse("Port != abc").unwrap();
    assert!(!f.matches(&item));
}

#[test]
fn membership_in_lists_maps_and_strings() {
    check(
        &service(),
        &[
            (r#""primary" in Tags"#, true),
            ("primary in Tags", true),
            (r#""prim" in Tags"#, false),
            (r#""qa" not in Tags"#, true),
            (r#"Tags contains "production""#, true),
            (r#"Tags not contains "production""#, false),
            ("env in Meta", true),
            (r#"Meta contains "foo""#, true),
            (r#""bar" in Meta"#, false),
            (r#""key with space" in Meta"#, true),
            (r#""dis" in Service"#, true),
            (r#"Service contains "edi""#, true),
            (r#"Service not contains "x""#, true),
            (r#""" in Service"#, true),
            ("x in Proxy", false),
            ("x not in Proxy", true),
        ],
    );
    let numbers = json!({"Ports": [80, 443], "Mixed": ["a", 1, true, 2.5], "Nested": [{"a": 1}]});
    check(
        &numbers,
        &[
            ("80 in Ports", true),
            ("81 in Ports", false),
            (r#""0x50" in Ports"#, true),
            ("abc in Ports", false),
            ("a in Mixed", true),
            ("1 in Mixed", true),
            ("true in Mixed", true),
            ("2.5 in Mixed", true),
            ("3 in Mixed", false),
        ],
    );
    assert_eq!(
        eval("99999999999999999999 in Ports", &numbers),
        Err(EvalError::InListValue)
    );
    assert_eq!(
        eval("a in Nested", &numbers).map_err(|e| e.to_string()),
        Err(
            "unable to find suitable primitive comparison function for \"in\" comparison in interface slice: map"
                .to_string()
        )
    );
    assert_eq!(
        eval("1 in Port", &service()).map_err(|e| e.to_string()),
        Err("Cannot perform in/contains operations on type int for selector: \"Port\"".to_string())
    );
}

#[test]
fn emptiness() {
    check(
        &service(),
        &[
            ("Tags is empty", false),
            ("Tags is not empty", true),
            ("Address is empty", true),
            ("Service is empty", false),
            ("Meta is not empty", true),
            ("Proxy is empty", true),
            ("Checks.0.ServiceTags is empty", true),
            ("Checks.1.ServiceTags is empty", false),
        ],
    );
    assert_eq!(
        eval("Port is empty", &service()).map_err(|e| e.to_string()),
        Err("cannot perform is-empty operations on type int for selector: \"Port\"".to_string())
    );
}

#[test]
fn regular_expressions() {
    check(
        &service(),
        &[
            (r#"Service matches "^re""#, true),
            ("Service matches `d.s`", true),
            (r#"Service matches "^edis""#, false),
            (r#"Service not matches "^x""#, true),
            (r#"Meta.env matches "prod(uction)?$""#, true),
            (r#"ID matches "[0-9]+""#, true),
        ],
    );
    assert_eq!(
        eval(r#"Port matches "1""#, &service()).map_err(|e| e.to_string()),
        Err("Value of type int is not convertible to []byte".to_string())
    );
    // A bad pattern parses; evaluating it fails (go-bexpr compiles lazily).
    let f = parse(r#"Service matches "(""#).expect("syntax is fine");
    match f.evaluate(&service()) {
        Err(EvalError::Regex { pattern, .. }) => assert_eq!(pattern, "("),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(f.filter_values(Vec::new()), Ok(Vec::new()));
}

#[test]
fn map_and_list_selectors() {
    check(
        &service(),
        &[
            (r#"Meta.env == "production""#, true),
            (r#"Meta["env"] == "production""#, true),
            (r#"Meta[ `key with space` ] == yes"#, true),
            (r#""/Meta/env" == production"#, true),
            (r#"Checks.1.Status == critical"#, true),
            (r#"Checks["0"].CheckID == serfHealth"#, true),
            (r#""/Checks/1/Status" == critical"#, true),
            (r#""primary" in Checks.1.ServiceTags"#, true),
        ],
    );
}

#[test]
fn missing_fields_are_absent() {
    check(
        &service(),
        &[
            (r#"Meta.nope == "x""#, false),
            (r#"Meta.nope != "x""#, true),
            (r#""x" in Meta.nope"#, false),
            (r#""x" not in Meta.nope"#, true),
            ("Meta.nope is empty", true),
            ("Meta.nope is not empty", false),
            (r#"Meta.nope matches ".*""#, false),
            (r#"Meta.nope not matches ".*""#, true),
            ("Nope == 1", false),
            ("Nope != 1", true),
            ("Proxy.Upstreams is empty", true),
            ("Proxy.Mode == direct", false),
            ("not Nope == 1", true),
        ],
    );
}

#[test]
fn selectors_through_lists_follow_go_bexpr() {
    let item = service();
    assert_eq!(
        eval("Checks.Status == passing", &item).map_err(|e| e.to_string()),
        Err(
            "error finding value in datum: /Checks/Status at part 1: couldn't convert value \"Status\" to type int"
                .to_string()
        )
    );
    assert_eq!(
        eval("Checks.5.Status == passing", &item).map_err(|e| e.to_string()),
        Err(
            "error finding value in datum: /Checks/5/Status at part 1: index 5 is out of range (length = 2)"
                .to_string()
        )
    );
    assert_eq!(
        eval("Service.Name == x", &item).map_err(|e| e.to_string()),
        Err(
            "error finding value in datum: /Service/Name: at part 1, invalid value kind: string"
                .to_string()
        )
    );
    check(
        &item,
        &[
            (r#"any Checks as c { c.Status == "critical" }"#, true),
            (r#"all Checks as c { c.Status == "passing" }"#, false),
            (r#"all Checks as c { c.Status != "warning" }"#, true),
            (r#"any Checks as c { "primary" in c.ServiceTags }"#, true),
        ],
    );
}

#[test]
fn collections() {
    let item = json!({
        "TopInt": 5,
        "Ints": [1, 3, 5, 7, 9],
        "Map": {"foo": "bar", "bar": "baz", "abc": "123"},
        "Structs": [{"X": 1, "Y": 2}, {"X": 3, "Y": 5}],
        "Nested": [{"Items": [{"Name": "a"}]}, {"Items": [{"Name": "b"}]}],
        "Empty": [],
        "None": null
    });
    check(
        &item,
        &[
            ("all Ints as i { i != 42 }", true),
            ("all Ints as i { i == 1 }", false),
            ("any Ints as i { i == 1 }", true),
            ("any Ints as i { i == 42 }", false),
            ("any Ints as i, _ { i == 4 }", true),
            ("any Ints as i, v { i == 4 and v == 9 }", true),
            ("any Ints as _, v { v == 9 }", true),
            (r#"all Map as v { v == "bar" }"#, false),
            (r#"all Map as k { k != "hello" }"#, true),
            (r#"any Map as k { k == "bar" }"#, true),
            (r#"all Map as k, _ { k != "foo" }"#, false),
            (r#"all Map as k, v { k != "foo" or v != "baz" }"#, true),
            (r#"any Map as k, v { k == "foo" and v == "bar" }"#, true),
            (r#"any Map as _, v { v == "123" }"#, true),
            (r#"any Structs as s { "/s/X" == 3 }"#, true),
            (r#"any Structs as s { s.X == 3 and s.Y == 5 }"#, true),
            (r#"any Structs as s { s.X == 3 and s.Y == 2 }"#, false),
            (
                r#"any Nested as n { any n.Items as it { it.Name == "b" } }"#,
                true,
            ),
            (
                r#"all Nested as n { any n.Items as it { it.Name == "b" } }"#,
                false,
            ),
            ("any Empty as e { e == 1 }", false),
            ("all Empty as e { e == 1 }", true),
            ("any None as e { e == 1 }", false),
            ("all Missing as e { e == 1 }", true),
            ("any Missing as e { e == 1 }", false),
            ("TopInt == 5 or any Ints as i { i == 0 }", true),
            ("(any Ints as i { i == 0 }) or TopInt == 5", true),
            ("not (any Ints as i { i == 7 })", false),
        ],
    );
    let err = |expr: &str| eval(expr, &item).map_err(|e| e.to_string());
    assert_eq!(
        err("all Map as k, k { TopInt == 5 }"),
        Err("\"k\" cannot be used as a placeholder for both the index and the value".to_string())
    );
    assert_eq!(
        err("all TopInt as k, v { k == 1 }"),
        Err("TopInt is not a list or a map".to_string())
    );
    assert_eq!(
        err(r#"any Map as k { k.Color == "red" }"#),
        Err("/k references a string so /k/Color is invalid".to_string())
    );
    assert_eq!(
        err(r#"any Ints as i, _ { i.Color == "red" }"#),
        Err("/i references a int so /i/Color is invalid".to_string())
    );
}

#[test]
fn logic_and_precedence() {
    // x in foo and not str == something or list is empty
    //   = ((x in foo) and (not str == something)) or (list is empty)
    let expr = "x in foo and not str == something or list is empty";
    let item = |foo: &[&str], s: &str, list: &[i32]| json!({"foo": foo, "str": s, "list": list});
    let f = parse(expr).unwrap();
    assert!(f.matches(&item(&["x"], "other", &[1])));
    assert!(!f.matches(&item(&["x"], "something", &[1])));
    assert!(f.matches(&item(&["y"], "something", &[])));
    assert!(!f.matches(&item(&["y"], "other", &[1])));
    // not (a or b)
    let g = parse("x in foo and not (str == something or list is empty)").unwrap();
    assert!(!g.matches(&item(&["x"], "other", &[])));
    assert!(g.matches(&item(&["x"], "other", &[1])));
    check(
        &json!({"a": 1, "b": 2}),
        &[
            ("a == 1 and b == 2", true),
            ("a == 1 and b == 3", false),
            ("a == 2 or b == 2", true),
            ("a == 2 or b == 3", false),
            ("not a == 2", true),
            ("not not a == 1", true),
            ("not not not a == 1", false),
            ("a == 2 or a == 1 and b == 3", false),
            ("(a == 2 or a == 1) and b == 2", true),
            ("a == 1 and b == 2 and a != 3 and b != 4", true),
            ("a == 3 or a == 4 or b == 2", true),
            ("((a == 1))", true),
            (" ( a == 1 ) ", true),
            ("\t\r\n a \t\r\n == \t\r\n 1 \t\r\n", true),
            ("a==1", true),
            ("a!=1", false),
            ("(a == 1) and (b == 2)", true),
        ],
    );
    // A selector may be spelled like a keyword where the grammar allows it.
    check(
        &json!({"not": 3, "and": "x", "in": ["y"]}),
        &[("not == 3", true), ("and == x", true), ("y in in", true)],
    );
}

#[test]
fn quoting() {
    let item = json!({
        "Name": "a\tb",
        "Raw": "a\\tb",
        "Quote": "say \"hi\"",
        "Unicode": "é😀",
        "Path": "api",
        "Slash": "/"
    });
    check(
        &item,
        &[
            (r#"Name == "a\tb""#, true),
            (r#"Name == "a\x09b""#, true),
            (r#"Name == "a\011b""#, true),
            (r"Raw == `a\tb`", true),
            (r#"Raw == "a\\tb""#, true),
            (r#"Quote == `say "hi"`"#, true),
            (r#"Unicode == "\u00e9\U0001F600""#, true),
            (r#"Unicode == "é😀""#, true),
            // A quoted value that reads as a JSON pointer is its path joined by "/".
            (r#"Path == "/api""#, true),
            (r#"Slash == "/""#, true),
        ],
    );
    // `\"` ends the literal early and what is left is not valid Go syntax.
    assert_eq!(
        parse_error(r#"Quote == "say \"hi\"""#),
        format!("{PREFIX}1:10 (9): rule \"string\": invalid syntax")
    );
    assert_eq!(
        parse_error(r#"Name == "a\qb""#),
        format!("{PREFIX}1:9 (8): rule \"string\": invalid syntax")
    );
}

#[test]
fn malformed_expressions_report_like_consul() {
    let table: &[(&str, &str)] = &[
        (
            "foo == \"12x",
            "1:12 (11): rule \"string\": Unterminated string literal",
        ),
        (
            "foo == `12x",
            "1:12 (11): rule \"string\": Unterminated string literal",
        ),
        (
            "foo == 3x",
            "1:9 (8): rule \"number\": Invalid number literal",
        ),
        (
            "foo == 1.x",
            "1:9 (8): rule \"number\": Invalid number literal",
        ),
        ("foo[3] == abc", "1:5 (4): rule \"index\": Invalid index"),
        (
            "x in foo[\"abc\"",
            "1:15 (14): rule \"index\": Unclosed index expression",
        ),
        (
            "foo[\"abc\" == 3",
            "1:11 (10): rule \"index\": Unclosed index expression",
        ),
        ("x in 32", "1:6 (5): rule \"match\": Invalid selector"),
        (
            "(foo == 4",
            "1:10 (9): rule \"grouping\": Unmatched parentheses",
        ),
        (
            "32 == 32",
            r#"1:4 (3): no match found, expected: "in", "not" or [ \t\r\n]"#,
        ),
        (
            "32 is empty",
            r#"1:4 (3): no match found, expected: "in", "not" or [ \t\r\n]"#,
        ),
        (
            "x in foo abc",
            r#"1:10 (9): no match found, expected: "and", "or", [ \t\r\n] or EOF"#,
        ),
        (
            "x in foo and ",
            r#"1:14 (13): no match found, expected: "(", "-", "0", "\"", "`", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#,
        ),
        (
            "x in foo or ",
            r#"1:13 (12): no match found, expected: "(", "-", "0", "\"", "`", "all", "any", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#,
        ),
        (
            "x in foo or not ",
            r#"1:17 (16): no match found, expected: "!=", "(", "-", "0", "==", "\"", "`", "contains", "in", "is", "matches", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#,
        ),
        (
            "\"/hy-phen/under_score/pi|pe/do.t/ti~lde/\" == 3",
            r#"1:43 (42): no match found, expected: "in", "not" or [ \t\r\n]"#,
        ),
        (
            "Node==host-name",
            r#"1:11 (10): no match found, expected: ".", "[", [ \t\r\n], [a-zA-Z0-9_/] or EOF"#,
        ),
        (
            "   ",
            r#"1:4 (3): no match found, expected: "(", "-", "0", "\"", "`", "all", "any", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#,
        ),
        (
            "a == 1\nand",
            r#"2:4 (10): no match found, expected: [ \t\r\n]"#,
        ),
        (
            "a ==\n",
            r#"2:1 (5): no match found, expected: "-", "0", "\"", "`", [ \t\r\n], [1-9] or [a-zA-Z]"#,
        ),
        (
            "not(a == 1)",
            r#"1:4 (3): no match found, expected: "!=", ".", "==", "[", [ \t\r\n] or [a-zA-Z0-9_/]"#,
        ),
    ];
    for (expr, want) in table {
        assert_eq!(parse_error(expr), format!("{PREFIX}{want}"), "{expr:?}");
    }
    let err = parse("foo == 3x").expect_err("error");
    assert_eq!(err.errors.len(), 1);
    assert_eq!(
        (
            err.errors[0].line,
            err.errors[0].column,
            err.errors[0].offset
        ),
        (1, 9, 8)
    );
    assert_eq!(err.errors[0].rule, Some("number"));
}

#[test]
fn go_bexpr_grammar_forms_parse() {
    for expr in [
        "foo == 3",
        "\"/foo\" == 3",
        "\"/hy-phen/under_score/pi|pe/do.t/ti~lde/co:lon\" == 3",
        "foo/bar == 3",
        "foo != xyz",
        "list is empty",
        "list is not empty",
        "foo in bar",
        "foo not in bar",
        "bar contains foo",
        "bar not contains foo",
        "foo matches bar",
        "foo not matches bar",
        "not prod in tags",
        "port != 80 and port != 8080",
        "port == 80 or port == 443",
        "`environment` in foo.bar[\"meta\"].tags[\t`ENV` ]",
        "environment in \"/hy-phen/under_score/pi|pe/do.t/ti~lde\"",
        "environment in foo[\"bar\"][\"meta\"][\"tags\"][\"ENV\"]",
        "environment in foo[\"abc-def ghi åß∂ƒ\"]",
        "foo == 0.2",
        "foo == 11.11",
        "foo == -0.2",
        "not not foo == 3",
        "all group.tasks as t { t.name == \"hello\" }",
        "any group.tasks as k, v { v.name == \"hello\" }",
        "any group.tasks as k, _ { k == \"hello\" }",
        "any group.tasks as _, v { v.name == \"hello\" }",
        "(foo == 1)",
        "Service.Meta[\"a b\"] == `c`",
    ] {
        assert!(parse(expr).is_ok(), "{expr:?}: {:?}", parse(expr).err());
    }
}

#[test]
fn selectors_are_listed_for_validation() {
    let expr = r#"Service == web and Meta["a b"] == x or "x" in Tags and Service != y or any Checks as c { c.Status == passing and Node == n }"#;
    let f = parse(expr).unwrap();
    let got: Vec<Vec<&str>> = f
        .selectors()
        .iter()
        .map(|p| p.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        got,
        vec![
            vec!["Service"],
            vec!["Meta", "a b"],
            vec!["Tags"],
            vec!["Checks"],
            vec!["Node"],
        ]
    );
    assert_eq!(f.expression(), expr);
}

#[test]
fn consul_documentation_examples() {
    let services = vec![
        json!({"ID": "redis1", "Service": "redis", "Tags": ["primary", "production"],
               "Meta": {"env": "production", "foo": "bar"}, "Port": 1234}),
        json!({"ID": "redis2", "Service": "redis", "Tags": ["secondary", "production"],
               "Meta": {"env": "production", "foo": "bar"}, "Port": 1235}),
        json!({"ID": "redis3", "Service": "redis", "Tags": ["primary", "qa"],
               "Meta": {"env": "qa"}, "Port": 1234}),
    ];
    let ids = |expr: &str| -> Vec<String> {
        parse(expr)
            .unwrap()
            .filter_values(services.clone())
            .unwrap()
            .iter()
            .map(|v| v["ID"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(ids(r#"Meta.env == "qa""#), vec!["redis3"]);
    assert_eq!(ids(r#"ServiceMeta.foo == "bar""#), Vec::<String>::new());
    assert_eq!(
        ids("Port == 1234 and primary in Tags"),
        vec!["redis1", "redis3"]
    );
    assert_eq!(ids(r#"Meta.foo == "bar""#), vec!["redis1", "redis2"]);
    assert_eq!(ids(""), vec!["redis1", "redis2", "redis3"]);

    let checks = vec![
        json!({"Node": "node-1", "CheckID": "node-health", "ServiceName": "", "Status": "critical"}),
        json!({"Node": "node-1", "CheckID": "svc-web-health", "ServiceName": "web", "Status": "warning"}),
    ];
    let kept = parse(r#"ServiceName != """#)
        .unwrap()
        .filter_values(checks)
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["CheckID"], "svc-web-health");

    let nodes = json!({"Node": "node-2", "NodeMeta": {"os": "linux", "arch": "arm"}});
    check(
        &nodes,
        &[
            (r#"NodeMeta.os == "linux""#, true),
            (r#"NodeMeta["os"] == "linux""#, true),
        ],
    );
}

#[test]
fn filter_values_fails_on_first_error() {
    let items = vec![
        json!({"Port": 80}),
        json!({"Port": "x"}),
        json!({"Port": [1]}),
    ];
    let f = parse("Port == 80").unwrap();
    assert_eq!(f.filter_values(items), Err(EvalError::NotComparable));
}

#[test]
fn nesting_is_bounded() {
    let deep = |n: usize| format!("{}a == 1{}", "(".repeat(n), ")".repeat(n));
    let item = json!({"a": 1});
    assert!(parse(&deep(MAX_DEPTH - 1)).is_ok_and(|f| f.matches(&item)));
    let too_deep = parse_error(&deep(MAX_DEPTH + 5));
    assert!(too_deep.contains("Nesting deeper than"), "{too_deep}");
    // The deepest accepted nesting fits comfortably in half of a 2 MiB (tokio, test) stack,
    // even unoptimised.
    let small_stack = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let ok = parse(&deep(MAX_DEPTH - 1)).is_ok_and(|f| f.matches(&json!({"a": 1})));
            let any = format!(
                "{}any L as x {{ x == 1 }}{}",
                "(".repeat(MAX_DEPTH - 2),
                ")".repeat(MAX_DEPTH - 2)
            );
            let ok_any = parse(&any).is_ok_and(|f| f.matches(&json!({"L": [1]})));
            let refused = parse(&"(".repeat(MAX_DEPTH * 3)).is_err();
            ok && ok_any && refused
        })
        .expect("spawn");
    assert!(small_stack.join().unwrap_or(false));
    // Unbalanced nesting does not blow up (pigeon re-parses each level twice).
    assert!(parse(&"(".repeat(60)).is_err());
    assert!(parse(&format!("{}a == 1", "(".repeat(60))).is_err());
    // Long flat chains are loops, not recursion.
    let chain = vec!["a == 1"; 20_000].join(" and ");
    assert!(parse(&chain).is_ok_and(|f| f.matches(&item)));
    let nots = format!("{}a == 1", "not ".repeat(20_001));
    assert!(parse(&nots).is_ok_and(|f| !f.matches(&item)));
}

/// A small deterministic PRNG (xorshift64*), so the fuzz loop needs no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_input_never_panics() {
    let tokens = [
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "`",
        ".",
        ",",
        "_",
        "-",
        "/",
        "~",
        ":",
        "|",
        "\\",
        "==",
        "!=",
        "and",
        "or",
        "not",
        "in",
        "contains",
        "matches",
        "is",
        "empty",
        "any",
        "all",
        "as",
        "Service",
        "Tags",
        "Meta",
        "Checks",
        "0",
        "1",
        "80",
        "1.5",
        "-1",
        "x",
        "\"a\"",
        "`b`",
        "\"/Meta/env\"",
        "\"\\x41\"",
        "\"\\\"",
        " ",
        "  ",
        "\n",
        "\t",
        "é",
        "😀",
        "\u{0}",
        "Service == x",
        "x in Tags",
        "Tags is empty",
        " and ",
        " or ",
        "not ",
        "Port != 80",
        "any Checks as c { c.Status == passing }",
        "Meta.env matches `^p`",
    ];
    let items = [
        service(),
        json!(null),
        json!([1, 2]),
        json!("s"),
        json!({"Service": null, "Tags": [null, {}, []], "Meta": {"": 1}}),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for round in 0..6000 {
        let text = if round % 3 == 0 {
            // Raw characters, including control and multi-byte ones.
            let len = rng.below(40);
            (0..len)
                .map(|_| match rng.below(4) {
                    0 => char::from_u32(rng.below(0x80) as u32).unwrap_or('?'),
                    1 => char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'),
                    _ => " ()[]{}\"`.=!/_-0123456789abcnotdisyme"
                        .chars()
                        .nth(rng.below(37))
                        .unwrap_or(' '),
                })
                .collect::<String>()
        } else {
            let len = 1 + rng.below(16);
            (0..len)
                .map(|_| {
                    let t = tokens[rng.below(tokens.len())];
                    if rng.below(2) == 0 {
                        format!("{t} ")
                    } else {
                        t.to_string()
                    }
                })
                .collect::<String>()
        };
        match parse(&text) {
            Ok(filter) => {
                parsed += 1;
                for item in &items {
                    let _ = filter.evaluate(item);
                }
            }
            Err(e) => {
                let message = e.to_string();
                assert!(message.starts_with(PREFIX), "{message}");
                assert!(!e.errors.is_empty());
                for error in &e.errors {
                    assert!(error.offset <= text.len());
                    assert!(text.is_char_boundary(error.offset));
                }
            }
        }
    }
    assert!(parsed > 50, "only {parsed} random expressions parsed");
}

#[test]
fn well_formed_random_expressions_parse_and_evaluate() {
    // Build expressions from the grammar and check that they parse and evaluate without
    // panicking, and that `not` inverts whenever evaluation succeeds.
    let selectors = [
        "Service",
        "Port",
        "Tags",
        "Meta.env",
        "Meta[\"foo\"]",
        "Checks.0.Status",
        "Nope",
    ];
    let values = [
        "redis",
        "1234",
        "\"primary\"",
        "`production`",
        "-1",
        "0.5",
        "true",
    ];
    let mut rng = Rng(42);
    fn pick<'a>(rng: &mut Rng, xs: &[&'a str]) -> &'a str {
        xs[rng.below(xs.len())]
    }
    fn build(rng: &mut Rng, depth: usize, sels: &[&str], vals: &[&str]) -> String {
        if depth == 0 || rng.below(3) == 0 {
            let s = pick(rng, sels);
            let v = pick(rng, vals);
            return match rng.below(8) {
                0 => format!("{s} == {v}"),
                1 => format!("{s} != {v}"),
                2 => format!("{v} in {s}"),
                3 => format!("{v} not in {s}"),
                4 => format!("{s} contains {v}"),
                5 => format!("{s} is empty"),
                6 => format!("{s} is not empty"),
                _ => format!("{s} matches \"^r\""),
            };
        }
        let a = build(rng, depth - 1, sels, vals);
        let b = build(rng, depth - 1, sels, vals);
        match rng.below(3) {
            0 => format!("({a}) and ({b})"),
            1 => format!("{a} or {b}"),
            _ => format!("not ({a})"),
        }
    }
    let item = service();
    for _ in 0..500 {
        let expr = build(&mut rng, 4, &selectors, &values);
        let f = parse(&expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let g = parse(&format!("not ({expr})")).unwrap_or_else(|e| panic!("{expr}: {e}"));
        if let Ok(result) = f.evaluate(&item) {
            assert_eq!(g.evaluate(&item), Ok(!result), "{expr}");
        }
    }
}
