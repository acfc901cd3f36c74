//! A routing policy beyond Consul: prefer datacenters whose labels carry configured
//! `key = value` pairs, then RTT (the `route-prefer-region` example plugin).

use crate::json::{self, Value};
use crate::routing::{self, Candidate, Route, RouteRequest};

/// The labels a datacenter must carry (all of them) to be preferred. Empty: plain RTT order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelPreference {
    pub labels: Vec<(String, String)>,
}

impl LabelPreference {
    /// Reads a slot configuration such as `{"prefer": {"region": "eu"}}`. `{}` prefers nothing.
    ///
    /// Errors: not a JSON object, an unknown key, `prefer` not an object of strings.
    pub fn from_config_json(config_json: &str) -> Result<Self, String> {
        let mut labels = Vec::new();
        for (key, value) in json::parse_object(config_json)? {
            if key != "prefer" {
                return Err(format!(
                    "unknown configuration key \"{key}\" (expected \"prefer\")"
                ));
            }
            let Value::Object(members) = value else {
                return Err(format!(
                    "prefer: must be an object of label = value, not {}",
                    value.kind()
                ));
            };
            labels.clear();
            for (label, v) in members {
                let Some(text) = v.as_str() else {
                    return Err(format!(
                        "prefer.{label}: must be a string, not {}",
                        v.kind()
                    ));
                };
                labels.push((label, text.to_string()));
            }
        }
        Ok(LabelPreference { labels })
    }

    /// Whether the candidate carries every preferred label (false when nothing is preferred).
    pub fn matches(&self, candidate: &Candidate) -> bool {
        !self.labels.is_empty() && self.labels.iter().all(|(k, v)| candidate.has_label(k, v))
    }

    fn class(&self, candidate: &Candidate) -> u8 {
        if self.matches(candidate) { 0 } else { 1 }
    }

    /// The local datacenter first, then preferred datacenters, then the rest; each group by
    /// RTT (unknown last), ties by name.
    pub fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String> {
        routing::rank_by(local_datacenter, candidates, |c| self.class(c))
    }

    /// Among the target's candidates with a healthy server: preferred ones first, then the
    /// lowest RTT, then the first healthy server.
    pub fn pick(&self, request: &RouteRequest) -> Option<Route> {
        routing::pick_by(request, |c| self.class(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::PathKind;
    use crate::routing::tests::{candidate, server};

    fn labelled(dc: &str, rtt: Option<f64>, region: &str, healthy: bool) -> Candidate {
        let mut c = candidate(
            dc,
            PathKind::Wan,
            rtt,
            vec![server(&format!("{dc}-s1"), healthy)],
        );
        c.labels.push(("region".to_string(), region.to_string()));
        c
    }

    #[test]
    fn config_parsing() {
        let p = LabelPreference::from_config_json(r#"{"prefer": {"region": "eu"}}"#).unwrap();
        assert_eq!(p.labels, [("region".to_string(), "eu".to_string())]);
        assert_eq!(
            LabelPreference::from_config_json("{}").unwrap(),
            LabelPreference::default()
        );
        assert!(
            LabelPreference::from_config_json(r#"{"prefer": "eu"}"#)
                .unwrap_err()
                .contains("must be an object")
        );
        assert!(
            LabelPreference::from_config_json(r#"{"prefer": {"region": 1}}"#)
                .unwrap_err()
                .contains("prefer.region")
        );
        assert!(
            LabelPreference::from_config_json(r#"{"prefr": {}}"#)
                .unwrap_err()
                .contains("unknown configuration key")
        );
        assert!(LabelPreference::from_config_json("[]").is_err());
    }

    #[test]
    fn rank_prefers_label_then_rtt() {
        let p = LabelPreference::from_config_json(r#"{"prefer": {"region": "eu"}}"#).unwrap();
        let candidates = vec![
            labelled("us-1", Some(1.0), "us", true),
            labelled("eu-2", Some(30.0), "eu", true),
            labelled("eu-1", Some(20.0), "eu", true),
            labelled("eu-3", None, "eu", true),
            labelled("ap-1", Some(5.0), "ap", true),
        ];
        assert_eq!(
            p.rank("home", &candidates),
            ["eu-1", "eu-2", "eu-3", "us-1", "ap-1"]
        );
        // Without a preference it is the plain RTT order.
        assert_eq!(
            LabelPreference::default().rank("home", &candidates),
            routing::rank("home", &candidates)
        );
    }

    #[test]
    fn pick_prefers_label_then_rtt_then_health() {
        let p = LabelPreference::from_config_json(r#"{"prefer": {"region": "eu"}}"#).unwrap();
        let request = RouteRequest {
            local_datacenter: "home".to_string(),
            target: "dc2".to_string(),
            candidates: vec![
                labelled("dc2", Some(1.0), "us", true),
                labelled("dc2", Some(9.0), "eu", false),
                labelled("dc2", Some(12.0), "eu", true),
            ],
        };
        assert_eq!(
            p.pick(&request),
            Some(Route {
                candidate: 2,
                server: 0
            })
        );
        assert_eq!(
            routing::pick(&request),
            Some(Route {
                candidate: 0,
                server: 0
            })
        );
        // No healthy preferred path: fall back to the others.
        let fallback = RouteRequest {
            candidates: vec![
                labelled("dc2", Some(1.0), "us", true),
                labelled("dc2", Some(9.0), "eu", false),
            ],
            ..request
        };
        assert_eq!(
            p.pick(&fallback),
            Some(Route {
                candidate: 0,
                server: 0
            })
        );
    }
}
