//! The router glue end to end (natively): WIT candidates in, Consul's logic, WIT route out.

use praetor_plugin_sdk::bindings::router::exports::praetor::plugins::routing::{
    self as wit, Guest,
};
use praetor_plugin_sdk::{Candidate, PathKind, Route, RouteRequest, Router, policy};

/// Consul's logic, but only through network areas: checks the path kind survives conversion.
#[derive(Default)]
struct AreasOnly;

impl Router for AreasOnly {
    fn rank(&self, local: &str, candidates: &[Candidate]) -> Vec<String> {
        policy::rank(local, candidates)
    }

    fn pick(&self, request: &RouteRequest) -> Option<Route> {
        let mut areas = request.clone();
        for c in &mut areas.candidates {
            if c.path != PathKind::Area {
                c.servers.clear();
            }
        }
        policy::pick(&areas)
    }
}

praetor_plugin_sdk::__export_slot!(
    TestSlot,
    AreasOnly,
    praetor_plugin_sdk::Router,
    __export_router_exports_impl,
    router
);

fn candidate(
    dc: &str,
    path: wit::PathKind,
    rtt: Option<f64>,
    servers: &[(&str, bool)],
) -> wit::Candidate {
    wit::Candidate {
        datacenter: dc.into(),
        path,
        path_id: "id".into(),
        rtt_ms: rtt,
        labels: vec![("region".into(), "eu".into())],
        servers: servers
            .iter()
            .map(|(name, healthy)| wit::Server {
                name: name.to_string(),
                address: format!("{name}:8300"),
                healthy: *healthy,
            })
            .collect(),
    }
}

#[test]
fn rank_and_pick_through_the_wit_types() {
    let all = vec![
        candidate("dc3", wit::PathKind::Wan, None, &[]),
        candidate("dc2", wit::PathKind::Wan, Some(4.0), &[]),
        candidate("dc1", wit::PathKind::Local, Some(0.0), &[]),
    ];
    assert_eq!(
        <TestSlot as Guest>::rank("dc1".into(), all),
        ["dc1", "dc2", "dc3"]
    );

    let request = wit::RouteRequest {
        local_datacenter: "dc1".into(),
        target: "dc2".into(),
        candidates: vec![
            candidate("dc2", wit::PathKind::Wan, Some(1.0), &[("a", true)]),
            candidate(
                "dc2",
                wit::PathKind::Area,
                Some(9.0),
                &[("b", false), ("c", true)],
            ),
        ],
    };
    <TestSlot as Guest>::set_request(request);
    let route = <TestSlot as Guest>::pick().expect("a route");
    assert_eq!((route.candidate, route.server), (1, 1));
    // `pick` answers for the request last given, as often as it is called.
    let again = <TestSlot as Guest>::pick().expect("a route");
    assert_eq!((again.candidate, again.server), (1, 1));

    // A new request replaces the old one: no area path, so no route.
    <TestSlot as Guest>::set_request(wit::RouteRequest {
        local_datacenter: "dc1".into(),
        target: "dc2".into(),
        candidates: vec![candidate(
            "dc2",
            wit::PathKind::Wan,
            Some(1.0),
            &[("a", true)],
        )],
    });
    assert!(<TestSlot as Guest>::pick().is_none());
}
