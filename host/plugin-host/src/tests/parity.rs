//! Each built-in component through its WIT contract gives the same answers as praetor-policy's
//! native function, on fixed and on 1,000 generated inputs.

use praetor_policy as policy;

use super::host;
use super::inputs::{self, Rng};
use crate::PluginHostConfig;

fn assert_no_failures(host: &crate::PluginHost) {
    for info in host.list() {
        assert_eq!(info.failures, 0, "{}: {info:?}", info.slot);
    }
}

#[test]
fn translate_matches_native() {
    let host = host();
    let wan = |a: &str, p| policy::TaggedAddress::new("wan", a, p);
    let fixed = [
        policy::AddressQuery {
            local_datacenter: "dc1".into(),
            record_datacenter: "dc2".into(),
            enabled: true,
            address: "10.0.1.1".into(),
            port: 8080,
            tagged: vec![wan("198.18.0.1", 80)],
            accept: policy::Accept::ANY,
        },
        policy::AddressQuery {
            local_datacenter: "dc2".into(),
            record_datacenter: "dc2".into(),
            enabled: true,
            address: "10.0.1.1".into(),
            port: 8080,
            tagged: vec![wan("198.18.0.1", 80)],
            accept: policy::Accept::DNS_A,
        },
        policy::AddressQuery::default(),
    ];
    assert_eq!(
        host.translate_plugin(&fixed[0]).unwrap().address,
        "198.18.0.1"
    );
    assert_eq!(
        host.translate_plugin(&fixed[1]).unwrap().address,
        "10.0.1.1"
    );
    for q in &fixed {
        assert_eq!(
            host.translate_plugin(q).unwrap(),
            policy::translate(q),
            "{q:?}"
        );
    }
    let mut r = Rng::new(0x7a11);
    for _ in 0..1000 {
        let q = inputs::address_query(&mut r);
        assert_eq!(
            host.translate_plugin(&q).unwrap(),
            policy::translate(&q),
            "{q:?}"
        );
    }
    assert_no_failures(&host);
}

#[test]
fn rank_and_pick_match_native() {
    let host = host();
    let c = |dc: &str, rtt: Option<f64>, healthy: bool| policy::Candidate {
        datacenter: dc.into(),
        rtt_ms: rtt,
        servers: vec![policy::Server {
            name: format!("{dc}-s1"),
            address: "10.0.0.1:8300".into(),
            healthy,
        }],
        ..policy::Candidate::default()
    };
    let fixed = vec![
        c("dc3", Some(30.0), true),
        c("dc1", None, true),
        c("dc2", Some(10.0), false),
    ];
    assert_eq!(
        host.rank_plugin("dc1", &fixed).unwrap(),
        ["dc1", "dc2", "dc3"]
    );
    assert_eq!(
        host.rank_plugin("dc1", &fixed).unwrap(),
        policy::rank("dc1", &fixed)
    );
    let req = policy::RouteRequest {
        local_datacenter: "dc1".into(),
        target: "dc2".into(),
        candidates: vec![c("dc2", Some(5.0), false), c("dc2", Some(9.0), true)],
    };
    assert_eq!(host.pick_plugin(&req).unwrap(), policy::pick(&req));
    let empty = policy::RouteRequest::default();
    assert_eq!(host.pick_plugin(&empty).unwrap(), None);

    let mut r = Rng::new(0xd0c5);
    for _ in 0..1000 {
        let local = r.pick(&["dc1", "dc2"]).to_owned();
        let cs = inputs::candidates(&mut r);
        let got = host.rank_plugin(&local, &cs);
        let got = got.unwrap_or_else(|e| panic!("{e}: {local} {cs:?}"));
        assert_eq!(got, policy::rank(&local, &cs), "{cs:?}");
        let req = inputs::route_request(&mut r);
        assert_eq!(
            host.pick_plugin(&req).unwrap(),
            policy::pick(&req),
            "{req:?}"
        );
    }
    assert_no_failures(&host);
}

/// `pick` carries no request and `translate` no agent part: an instance is given them
/// (`set-request`, `set-agent`) when it does not hold the caller's. Threads with different
/// ones share the slots' instances (and the host's "last given"), and every answer must still
/// be the caller's.
#[test]
fn given_state_follows_the_caller_across_instances() {
    let host = host();
    let mut r = Rng::new(0x5e7);
    let requests: Vec<policy::RouteRequest> = (0..8)
        .map(|_| {
            let mut req = inputs::route_request(&mut r);
            // Give every request a healthy server, so that answers differ between requests.
            if let Some(s) = req
                .candidates
                .first_mut()
                .and_then(|c| c.servers.first_mut())
            {
                s.healthy = true;
            }
            req
        })
        .collect();
    let queries: Vec<policy::AddressQuery> = (0..8)
        .map(|i| policy::AddressQuery {
            // Remote with translation on answers the WAN address; the others the record's own.
            local_datacenter: ["dc1", "dc2"][i % 2].into(),
            record_datacenter: "dc2".into(),
            enabled: i % 4 < 2,
            address: "10.0.0.1".into(),
            port: 8080,
            tagged: vec![policy::TaggedAddress::new("wan", "198.18.0.1", 80)],
            accept: policy::Accept::ANY,
        })
        .collect();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (host, requests, queries) = (&host, &requests, &queries);
            scope.spawn(move || {
                for i in 0..500 {
                    let req = &requests[(i * (t + 1) + t) % requests.len()];
                    assert_eq!(
                        host.pick_plugin(req).unwrap(),
                        policy::pick(req),
                        "thread {t}, call {i}: {req:?}"
                    );
                    let q = &queries[(i * (t + 1) + t) % queries.len()];
                    assert_eq!(
                        host.translate_plugin(q).unwrap(),
                        policy::translate(q),
                        "thread {t}, call {i}: {q:?}"
                    );
                }
            });
        }
    });
    assert_no_failures(&host);
}

#[test]
fn intentions_match_native() {
    let host = host();
    let fixed = vec![
        policy::Intention::new("i1", "web", "db", policy::Action::Allow),
        policy::Intention::new("i2", "*", "db", policy::Action::Deny),
    ];
    host.update_intentions(fixed.clone(), false).unwrap();
    let native = policy::Evaluator::new(fixed, false).unwrap();
    let req = |s: &str, d: &str| policy::Request {
        source: policy::Identity::service(s),
        destination: policy::Identity::service(d),
        http: None,
    };
    let d = host.evaluate_plugin(&req("web", "db")).unwrap();
    assert!(d.allowed);
    assert_eq!(d.intention_id.as_deref(), Some("i1"));
    assert!(!host.evaluate_plugin(&req("api", "db")).unwrap().allowed);
    for (s, dst) in [("web", "db"), ("api", "db"), ("web", "api")] {
        assert_eq!(
            host.evaluate_plugin(&req(s, dst)).unwrap(),
            native.evaluate(&req(s, dst))
        );
    }

    let mut r = Rng::new(0x1e7);
    let mut checked = 0;
    let mut refused = 0;
    while checked < 1000 {
        let n = 1 + r.below(20);
        let set: Vec<_> = (0..n).map(|i| inputs::intention(&mut r, i)).collect();
        let default_allow = r.bool();
        let native = policy::Evaluator::new(set.clone(), default_allow);
        let loaded = host.update_intentions(set, default_allow);
        let Ok(native) = native else {
            assert!(
                loaded.is_err(),
                "the host took a set the native evaluator refuses"
            );
            refused += 1;
            continue;
        };
        loaded.unwrap();
        for _ in 0..5 {
            let q = inputs::request(&mut r);
            assert_eq!(
                host.evaluate_plugin(&q).unwrap(),
                native.evaluate(&q),
                "{q:?}"
            );
            checked += 1;
        }
    }
    assert!(
        refused > 0 && refused < checked,
        "refused {refused} sets, checked {checked} requests"
    );
    assert_no_failures(&host);
}

#[test]
fn intentions_with_1000_loaded() {
    let host = host();
    let mut r = Rng::new(42);
    let set: Vec<_> = (0..1000)
        .map(|i| {
            loop {
                let mut it = inputs::intention(&mut r, i);
                it.source_name = format!("svc-{i}");
                it.source_namespace = String::new();
                if policy::Evaluator::new(vec![it.clone()], true).is_ok() {
                    break it;
                }
            }
        })
        .collect();
    host.update_intentions(set.clone(), true).unwrap();
    let native = policy::Evaluator::new(set, true).unwrap();
    for _ in 0..200 {
        let mut q = inputs::request(&mut r);
        q.source.service = format!("svc-{}", r.below(1200));
        assert_eq!(host.evaluate_plugin(&q).unwrap(), native.evaluate(&q));
    }
    assert_no_failures(&host);
}

#[test]
fn invalid_intention_set_is_refused_and_previous_kept() {
    let host = host();
    let good = vec![policy::Intention::new(
        "ok",
        "web",
        "db",
        policy::Action::Allow,
    )];
    host.update_intentions(good, false).unwrap();
    let mut bad = policy::Intention::new("bad", "web", "api", policy::Action::Allow);
    bad.permissions.push(policy::Permission {
        action: policy::Action::Allow,
        path_regex: Some("(".into()),
        ..policy::Permission::default()
    });
    let err = host.update_intentions(vec![bad], false).unwrap_err();
    assert!(err.contains("bad"), "{err}");
    let d = host
        .evaluate_plugin(&policy::Request {
            source: policy::Identity::service("web"),
            destination: policy::Identity::service("db"),
            http: None,
        })
        .unwrap();
    assert_eq!(d.intention_id.as_deref(), Some("ok"));
}

#[test]
fn join_static_matches_native() {
    let host = host();
    let mut r = Rng::new(5);
    for i in 0..200 {
        let addrs: Vec<String> = (0..r.below(5))
            .map(|j| format!("10.0.{i}.{j}:8301"))
            .collect();
        let entry = format!("provider=static addrs=\"{}\"", addrs.join(" "));
        let args = policy::parse_args(&entry).unwrap();
        let got = host.discover_blocking("static", &args);
        assert_eq!(
            got,
            crate::host::native_discover("static", &args),
            "{entry}"
        );
        if !addrs.is_empty() {
            assert_eq!(got.unwrap(), addrs);
        }
    }
    assert_no_failures(&host);
}

#[test]
fn join_file_matches_native_within_grants() {
    let dir = std::env::temp_dir().join(format!("praetor-ph-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("join.txt");
    std::fs::write(
        &file,
        "10.0.0.1 # first\n\n10.0.0.2:8301 10.0.0.3\n# done\n",
    )
    .unwrap();
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "# nothing\n").unwrap();
    let mut settings = crate::SlotSettings::join_default();
    settings.grants.read_paths.push(dir.clone());
    let host = super::host_with(PluginHostConfig::default().with_slot("join:file", settings));
    for path in [&file, &empty, &dir.join("missing.txt")] {
        let args = policy::parse_args(&format!("provider=file path={}", path.display())).unwrap();
        assert_eq!(
            host.discover_blocking("file", &args),
            crate::host::native_discover("file", &args),
            "{}",
            path.display()
        );
    }
    let args = policy::parse_args(&format!("provider=file path={}", file.display())).unwrap();
    assert_eq!(
        host.discover_blocking("file", &args).unwrap(),
        ["10.0.0.1", "10.0.0.2:8301", "10.0.0.3"]
    );
    // Outside the grant: denied by the host, whatever exists there.
    let args = policy::parse_args("provider=file path=/etc/hostname").unwrap();
    let err = host.discover_blocking("file", &args).unwrap_err();
    assert!(err.contains("denied: /etc/hostname"), "{err}");
    assert_no_failures(&host);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn join_dns_matches_native() {
    let host = host();
    for entry in [
        "provider=dns name=localhost type=A port=8301",
        "provider=dns name=localhost",
        "provider=dns name=localhost type=MX",
        "provider=dns name=localhost port=0",
        "provider=dns",
    ] {
        let args = policy::parse_args(entry).unwrap();
        assert_eq!(
            host.discover_blocking("dns", &args),
            crate::host::native_discover("dns", &args),
            "{entry}"
        );
    }
    let args = policy::parse_args("provider=dns name=localhost type=A port=8301").unwrap();
    assert_eq!(
        host.discover_blocking("dns", &args).unwrap(),
        ["127.0.0.1:8301"]
    );
    assert_no_failures(&host);
}

#[test]
fn join_dns_without_grant_is_denied() {
    let host = super::host_with(
        PluginHostConfig::default().with_slot("join:dns", crate::SlotSettings::join_default()),
    );
    let args = policy::parse_args("provider=dns name=localhost").unwrap();
    let err = host.discover_blocking("dns", &args).unwrap_err();
    assert!(err.contains("denied: dns"), "{err}");
}
