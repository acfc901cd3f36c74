//! Router: Consul's datacenter order (local first, then RTT, unknown last, ties by name) and
//! forwarding choice (lowest-RTT path with a healthy server, its first healthy server), from
//! `praetor_policy::routing`.

use praetor_plugin_sdk::{Candidate, Route, RouteRequest, Router, export_plugin, json};

#[derive(Default)]
struct RouteRtt;

impl Router for RouteRtt {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        json::expect_empty_object(config_json)
    }

    fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String> {
        praetor_policy::rank(local_datacenter, candidates)
    }

    fn pick(&self, request: &RouteRequest) -> Option<Route> {
        praetor_policy::pick(request)
    }
}

export_plugin!(router: RouteRtt);

#[cfg(test)]
mod tests {
    use super::*;
    use praetor_policy::{PathKind, Server};

    fn candidate(dc: &str, rtt: Option<f64>, healthy: bool) -> Candidate {
        Candidate {
            datacenter: dc.into(),
            path: PathKind::Wan,
            rtt_ms: rtt,
            servers: vec![Server {
                name: format!("{dc}-s1"),
                address: "10.0.0.1:8300".into(),
                healthy,
            }],
            ..Candidate::default()
        }
    }

    #[test]
    fn ranks_and_picks_by_rtt() {
        let mut local = candidate("dc1", Some(0.0), true);
        local.path = PathKind::Local;
        let all = [
            candidate("dc3", None, true),
            candidate("dc2", Some(9.0), true),
            local,
            candidate("dc4", Some(3.0), true),
        ];
        assert_eq!(RouteRtt.rank("dc1", &all), ["dc1", "dc4", "dc2", "dc3"]);
        let request = RouteRequest {
            local_datacenter: "dc1".into(),
            target: "dc2".into(),
            candidates: vec![
                candidate("dc2", Some(1.0), false),
                candidate("dc2", Some(5.0), true),
            ],
        };
        assert_eq!(
            RouteRtt.pick(&request),
            Some(Route {
                candidate: 1,
                server: 0
            })
        );
    }
}
