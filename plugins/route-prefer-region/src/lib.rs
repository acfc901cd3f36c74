//! Example router beyond Consul: prefer datacenters whose labels carry every configured
//! `key = value` (slot config `{"prefer": {"region": "eu"}}`), then RTT, using
//! `praetor_policy::prefer_labels`. Without a preference it routes like `route-rtt`.

use praetor_plugin_sdk::{Candidate, Route, RouteRequest, Router, export_plugin, log};
use praetor_policy::LabelPreference;

#[derive(Default)]
struct PreferRegion {
    preference: LabelPreference,
}

impl Router for PreferRegion {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        self.preference = LabelPreference::from_config_json(config_json)?;
        let wanted: Vec<String> = self
            .preference
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        log::info(&format!(
            "preferring datacenters labelled [{}]",
            wanted.join(", ")
        ));
        Ok(())
    }

    fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String> {
        self.preference.rank(local_datacenter, candidates)
    }

    fn pick(&self, request: &RouteRequest) -> Option<Route> {
        self.preference.pick(request)
    }
}

export_plugin!(router: PreferRegion);

#[cfg(test)]
mod tests {
    use super::*;
    use praetor_policy::{PathKind, Server};

    fn candidate(dc: &str, region: &str, rtt: f64) -> Candidate {
        Candidate {
            datacenter: dc.into(),
            path: PathKind::Wan,
            rtt_ms: Some(rtt),
            labels: vec![("region".into(), region.into())],
            servers: vec![Server {
                name: format!("{dc}-s1"),
                address: "10.0.0.1:8300".into(),
                healthy: true,
            }],
            ..Candidate::default()
        }
    }

    #[test]
    fn prefers_the_configured_region() {
        let mut router = PreferRegion::default();
        router.configure(r#"{"prefer": {"region": "eu"}}"#).unwrap();
        let all = [
            candidate("us-1", "us", 1.0),
            candidate("eu-2", "eu", 40.0),
            candidate("eu-1", "eu", 30.0),
        ];
        assert_eq!(router.rank("home", &all), ["eu-1", "eu-2", "us-1"]);
        let request = RouteRequest {
            local_datacenter: "home".into(),
            target: "dc2".into(),
            candidates: vec![candidate("dc2", "us", 1.0), candidate("dc2", "eu", 50.0)],
        };
        assert_eq!(
            router.pick(&request),
            Some(Route {
                candidate: 1,
                server: 0
            })
        );
        assert!(router.configure(r#"{"prefer": {"region": 7}}"#).is_err());
    }
}
