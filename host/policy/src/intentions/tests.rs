//! Intention precedence, matching, deny-wins ties, defaults and L7 permissions.

use super::*;

fn ixn(id: &str, src: &str, dst: &str, action: Action) -> Intention {
    Intention::new(id, src, dst, action)
}

fn l4(src: &str, dst: &str) -> Request {
    Request {
        source: Identity::service(src),
        destination: Identity::service(dst),
        http: None,
    }
}

fn http(src: &str, dst: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        http: Some(HttpRequest {
            method: method.to_string(),
            path: path.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
        ..l4(src, dst)
    }
}

fn decide(intentions: Vec<Intention>, default_allow: bool, request: &Request) -> Decision {
    Evaluator::new(intentions, default_allow)
        .unwrap()
        .evaluate(request)
}

fn with_ns(mut i: Intention, src_ns: &str, dst_ns: &str) -> Intention {
    i.source_namespace = src_ns.to_string();
    i.destination_namespace = dst_ns.to_string();
    i
}

#[test]
fn consul_precedence_table() {
    // (source ns, source name, destination ns, destination name) -> precedence, as in Consul's
    // TestIntentionPrecedenceSorter / UpdatePrecedence.
    let cases = [
        ("default", "web", "default", "db", 9),
        ("default", "*", "default", "db", 8),
        ("*", "*", "default", "db", 7),
        ("default", "web", "default", "*", 6),
        ("default", "*", "default", "*", 5),
        ("*", "*", "default", "*", 4),
        ("default", "web", "*", "*", 3),
        ("default", "*", "*", "*", 2),
        ("*", "*", "*", "*", 1),
        ("", "web", "", "db", 9),
    ];
    for (sns, s, dns, d, want) in cases {
        let i = with_ns(ixn("x", s, d, Action::Allow), sns, dns);
        assert_eq!(i.precedence(), want, "{sns}/{s} => {dns}/{d}");
    }
}

#[test]
fn exact_beats_wildcard() {
    let set = vec![
        ixn("any-any", "*", "*", Action::Deny),
        ixn("any-db", "*", "db", Action::Allow),
        ixn("web-any", "web", "*", Action::Deny),
        ixn("web-db", "web", "db", Action::Allow),
    ];
    let d = decide(set.clone(), false, &l4("web", "db"));
    assert_eq!(
        (d.allowed, d.intention_id.as_deref()),
        (true, Some("web-db"))
    );
    assert_eq!(d.reason, "intention web => db (allow)");
    // Wildcard source + exact destination (8) beats exact source + wildcard destination (6).
    let d = decide(set.clone(), false, &l4("api", "db"));
    assert_eq!(
        (d.allowed, d.intention_id.as_deref()),
        (true, Some("any-db"))
    );
    let d = decide(set.clone(), true, &l4("web", "cache"));
    assert_eq!(
        (d.allowed, d.intention_id.as_deref()),
        (false, Some("web-any"))
    );
    assert_eq!(d.reason, "intention web => * (deny)");
    let d = decide(set, true, &l4("api", "cache"));
    assert_eq!(
        (d.allowed, d.intention_id.as_deref()),
        (false, Some("any-any"))
    );
}

#[test]
fn input_order_does_not_matter() {
    let set = vec![
        ixn("web-any", "web", "*", Action::Deny),
        ixn("any-db", "*", "db", Action::Allow),
        ixn("web-db", "web", "db", Action::Deny),
    ];
    let mut reversed = set.clone();
    reversed.reverse();
    for request in [l4("web", "db"), l4("x", "db"), l4("web", "y"), l4("x", "y")] {
        assert_eq!(
            decide(set.clone(), true, &request),
            decide(reversed.clone(), true, &request)
        );
    }
}

#[test]
fn deny_wins_among_equal_precedence() {
    for order in [[0, 1], [1, 0]] {
        let pair = [
            ixn("allow", "web", "db", Action::Allow),
            ixn("deny", "web", "db", Action::Deny),
        ];
        let set = order.iter().map(|&i| pair[i].clone()).collect();
        let d = decide(set, true, &l4("web", "db"));
        assert_eq!(
            (d.allowed, d.intention_id.as_deref()),
            (false, Some("deny"))
        );
    }
    // A lower-precedence deny does not override a higher allow.
    let set = vec![
        ixn("deny", "*", "db", Action::Deny),
        ixn("allow", "web", "db", Action::Allow),
    ];
    assert!(decide(set, false, &l4("web", "db")).allowed);
}

#[test]
fn default_decides_without_match() {
    let set = vec![ixn("a", "web", "db", Action::Allow)];
    let d = decide(set.clone(), false, &l4("api", "db"));
    assert_eq!(
        (d.allowed, d.reason.as_str(), d.intention_id),
        (false, "default deny", None)
    );
    let d = decide(set, true, &l4("api", "db"));
    assert_eq!(
        (d.allowed, d.reason.as_str(), d.intention_id),
        (true, "default allow", None)
    );
    assert!(!Evaluator::default().evaluate(&l4("a", "b")).allowed);
}

#[test]
fn namespaces_and_partitions() {
    let set = vec![
        with_ns(ixn("ns-wild", "*", "db", Action::Allow), "*", "prod"),
        with_ns(ixn("ns-exact", "web", "db", Action::Deny), "dev", "prod"),
    ];
    let mut request = l4("web", "db");
    request.destination.namespace = "prod".to_string();
    request.source.namespace = "dev".to_string();
    assert_eq!(
        decide(set.clone(), true, &request).intention_id.as_deref(),
        Some("ns-exact")
    );
    request.source.namespace = "staging".to_string();
    assert_eq!(
        decide(set.clone(), false, &request).intention_id.as_deref(),
        Some("ns-wild")
    );
    // Destination in another namespace: nothing matches.
    request.destination.namespace = String::new();
    assert_eq!(decide(set, false, &request).intention_id, None);

    // Empty partition and "default" are the same; other partitions are not.
    let mut i = ixn("part", "web", "db", Action::Allow);
    i.destination_partition = "default".to_string();
    assert!(decide(vec![i.clone()], false, &l4("web", "db")).allowed);
    let mut request = l4("web", "db");
    request.destination.partition = "team-a".to_string();
    assert!(!decide(vec![i], false, &request).allowed);
}

#[test]
fn peer_sourced_intentions_do_not_match_local_sources() {
    let mut i = ixn("peer", "web", "db", Action::Deny);
    i.source_peer = "other-cluster".to_string();
    assert!(decide(vec![i], true, &l4("web", "db")).allowed);
}

#[test]
fn invalid_intentions_are_refused() {
    let bad = [
        (
            ixn("e1", "", "db", Action::Allow),
            "intention e1: SourceName must be set",
        ),
        (
            ixn("e2", "we*", "db", Action::Allow),
            "intention e2: SourceName: wildcard character '*' cannot be used with partial values",
        ),
        (
            with_ns(ixn("e3", "web", "db", Action::Allow), "*", ""),
            "intention e3: SourceName: exact value cannot follow wildcard namespace",
        ),
        (
            with_ns(ixn("e4", "web", "db", Action::Allow), "", "pr*d"),
            "intention e4: DestinationNS: wildcard character '*' cannot be used with partial values",
        ),
        (
            ixn("", "web", "", Action::Allow),
            "intention web => : DestinationName must be set",
        ),
    ];
    for (i, want) in bad {
        assert_eq!(Evaluator::new(vec![i], true).unwrap_err(), want);
    }
}

fn perm(action: Action) -> Permission {
    Permission {
        action,
        ..Permission::default()
    }
}

fn header(name: &str) -> HeaderMatch {
    HeaderMatch {
        name: name.to_string(),
        ..HeaderMatch::default()
    }
}

fn l7(permissions: Vec<Permission>) -> Intention {
    let mut i = ixn("l7", "web", "api", Action::Allow);
    i.permissions = permissions;
    i
}

#[test]
fn l7_first_matching_permission_decides() {
    let set = vec![l7(vec![
        Permission {
            path_prefix: Some("/admin".to_string()),
            ..perm(Action::Deny)
        },
        Permission {
            path_prefix: Some("/".to_string()),
            methods: vec!["GET".to_string(), "HEAD".to_string()],
            ..perm(Action::Allow)
        },
    ])];
    let e = Evaluator::new(set, true).unwrap();
    let d = e.evaluate(&http("web", "api", "GET", "/admin/users", &[]));
    assert_eq!(
        (d.allowed, d.reason.as_str()),
        (false, "intention web => api: permission 1 (deny)")
    );
    let d = e.evaluate(&http("web", "api", "GET", "/v1/items?x=1", &[]));
    assert_eq!(
        (d.allowed, d.reason.as_str()),
        (true, "intention web => api: permission 2 (allow)")
    );
    // No permission matches: deny, even with default allow.
    let d = e.evaluate(&http("web", "api", "POST", "/v1/items", &[]));
    assert_eq!(
        (d.allowed, d.reason.as_str(), d.intention_id.as_deref()),
        (
            false,
            "intention web => api: no permission matched (deny)",
            Some("l7")
        )
    );
    // An L4 request against an L7 intention is denied.
    let d = e.evaluate(&l4("web", "api"));
    assert!(!d.allowed);
    assert!(d.reason.contains("need an HTTP request"));
    // The intention's own action is ignored when it has permissions.
    assert!(!e.evaluate(&http("web", "api", "DELETE", "/", &[])).allowed);
}

#[test]
fn l7_paths() {
    let exact = l7(vec![Permission {
        path_exact: Some("/health".to_string()),
        ..perm(Action::Allow)
    }]);
    let e = Evaluator::new(vec![exact], false).unwrap();
    assert!(
        e.evaluate(&http("web", "api", "GET", "/health", &[]))
            .allowed
    );
    assert!(
        e.evaluate(&http("web", "api", "GET", "/health?verbose", &[]))
            .allowed
    );
    assert!(
        !e.evaluate(&http("web", "api", "GET", "/healthz", &[]))
            .allowed
    );

    let regex = l7(vec![Permission {
        path_regex: Some("/v[0-9]+/items".to_string()),
        ..perm(Action::Allow)
    }]);
    let e = Evaluator::new(vec![regex], false).unwrap();
    assert!(
        e.evaluate(&http("web", "api", "GET", "/v12/items", &[]))
            .allowed
    );
    // Full match, not a search.
    assert!(
        !e.evaluate(&http("web", "api", "GET", "/v1/items/x", &[]))
            .allowed
    );
    assert!(
        !e.evaluate(&http("web", "api", "GET", "/x/v1/items", &[]))
            .allowed
    );
}

#[test]
fn l7_headers() {
    type Case = (HeaderMatch, &'static [(&'static str, &'static str)], bool);
    let cases: Vec<Case> = vec![
        (
            HeaderMatch {
                present: true,
                ..header("x-debug")
            },
            &[("X-Debug", "")],
            true,
        ),
        (
            HeaderMatch {
                present: true,
                ..header("x-debug")
            },
            &[],
            false,
        ),
        (
            HeaderMatch {
                present: true,
                invert: true,
                ..header("x-debug")
            },
            &[],
            true,
        ),
        (
            HeaderMatch {
                present: true,
                invert: true,
                ..header("x-debug")
            },
            &[("x-debug", "1")],
            false,
        ),
        (
            HeaderMatch {
                exact: Some("v2".into()),
                ..header("x-version")
            },
            &[("x-version", "v2")],
            true,
        ),
        (
            HeaderMatch {
                exact: Some("v2".into()),
                ..header("x-version")
            },
            &[("x-version", "v20")],
            false,
        ),
        // Absent header: no match even inverted (Envoy).
        (
            HeaderMatch {
                exact: Some("v2".into()),
                invert: true,
                ..header("x-version")
            },
            &[],
            false,
        ),
        (
            HeaderMatch {
                exact: Some("v2".into()),
                invert: true,
                ..header("x-version")
            },
            &[("x-version", "v3")],
            true,
        ),
        (
            HeaderMatch {
                prefix: Some("Bearer ".into()),
                ..header("authorization")
            },
            &[("Authorization", "Bearer abc")],
            true,
        ),
        (
            HeaderMatch {
                suffix: Some(".internal".into()),
                ..header("host")
            },
            &[("host", "api.internal")],
            true,
        ),
        (
            HeaderMatch {
                suffix: Some(".internal".into()),
                ..header("host")
            },
            &[("host", "api.example")],
            false,
        ),
        (
            HeaderMatch {
                regex: Some("[a-f0-9]{4}".into()),
                ..header("x-id")
            },
            &[("x-id", "beef")],
            true,
        ),
        (
            HeaderMatch {
                regex: Some("[a-f0-9]{4}".into()),
                ..header("x-id")
            },
            &[("x-id", "beefy")],
            false,
        ),
        // Repeated headers are joined with ",".
        (
            HeaderMatch {
                exact: Some("a,b".into()),
                ..header("x-multi")
            },
            &[("x-multi", "a"), ("X-Multi", "b")],
            true,
        ),
    ];
    for (i, (h, headers, want)) in cases.into_iter().enumerate() {
        let intention = l7(vec![Permission {
            headers: vec![h],
            ..perm(Action::Allow)
        }]);
        let e = Evaluator::new(vec![intention], false).unwrap();
        assert_eq!(
            e.evaluate(&http("web", "api", "GET", "/", headers)).allowed,
            want,
            "case {i}"
        );
    }
}

#[test]
fn l7_validation() {
    let bad: Vec<(Permission, &str)> = vec![
        (
            Permission {
                path_exact: Some("/a".into()),
                path_prefix: Some("/b".into()),
                ..perm(Action::Allow)
            },
            "at most one of PathExact, PathPrefix, or PathRegex",
        ),
        (
            Permission {
                path_exact: Some("a".into()),
                ..perm(Action::Allow)
            },
            "PathExact doesn't start with '/'",
        ),
        (
            Permission {
                path_regex: Some("(".into()),
                ..perm(Action::Allow)
            },
            "Permissions[0].HTTP.PathRegex: invalid regex",
        ),
        (
            Permission {
                methods: vec!["FETCH".into()],
                ..perm(Action::Allow)
            },
            "invalid method \"FETCH\"",
        ),
        (
            Permission {
                methods: vec!["GET".into(), "GET".into()],
                ..perm(Action::Allow)
            },
            "contains \"GET\" more than once",
        ),
        (
            Permission {
                headers: vec![header("x")],
                ..perm(Action::Allow)
            },
            "Header[0] should only contain one of",
        ),
        (
            Permission {
                headers: vec![HeaderMatch {
                    present: true,
                    exact: Some("1".into()),
                    ..header("x")
                }],
                ..perm(Action::Allow)
            },
            "should only contain one of",
        ),
        (
            Permission {
                headers: vec![HeaderMatch {
                    present: true,
                    ..header("")
                }],
                ..perm(Action::Allow)
            },
            "missing required Name field",
        ),
        (
            Permission {
                headers: vec![HeaderMatch {
                    regex: Some("[".into()),
                    ..header("x")
                }],
                ..perm(Action::Allow)
            },
            "invalid regex",
        ),
        (perm(Action::Allow), "should not be empty"),
    ];
    for (p, want) in bad {
        let err = Evaluator::new(vec![l7(vec![p])], true).unwrap_err();
        assert!(err.starts_with("intention l7: Permissions[0]"), "{err}");
        assert!(err.contains(want), "{err} lacks {want}");
    }
}

#[test]
fn l7_and_l4_share_precedence_rules() {
    // An exact L7 intention outranks a wildcard L4 allow, and its "no match" denies.
    let set = vec![
        ixn("any", "*", "api", Action::Allow),
        l7(vec![Permission {
            methods: vec!["GET".into()],
            ..perm(Action::Allow)
        }]),
    ];
    let e = Evaluator::new(set, true).unwrap();
    assert!(e.evaluate(&http("web", "api", "GET", "/", &[])).allowed);
    assert!(!e.evaluate(&http("web", "api", "PUT", "/", &[])).allowed);
    assert!(e.evaluate(&http("other", "api", "PUT", "/", &[])).allowed);
    // Deny wins between an L7 allow and an L4 deny of the same precedence.
    let set = vec![
        ixn("deny", "web", "api", Action::Deny),
        l7(vec![Permission {
            methods: vec!["GET".into()],
            ..perm(Action::Allow)
        }]),
    ];
    let d = Evaluator::new(set, true)
        .unwrap()
        .evaluate(&http("web", "api", "GET", "/", &[]));
    assert_eq!(
        (d.allowed, d.intention_id.as_deref()),
        (false, Some("deny"))
    );
}
