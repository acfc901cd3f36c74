//! Test router: datacenters in the order of the slot config `{"order": ["dc3", "dc2"]}` (the
//! local one first, the listed ones next, the rest as `route-rtt` ranks them); forwarding as
//! `route-rtt`. Lets tests see that whatever consumes the ranking (catalog datacenters,
//! prepared-query failover) follows the component in the slot.

use praetor_plugin_sdk::{Candidate, Route, RouteRequest, Router, export_plugin};

#[derive(Default)]
struct FixedOrder {
    order: Vec<String>,
}

impl Router for FixedOrder {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        let v: serde_json::Value =
            serde_json::from_str(config_json).map_err(|e| format!("config: {e}"))?;
        self.order = v["order"]
            .as_array()
            .ok_or("config: \"order\" must be a list of datacenters")?
            .iter()
            .map(|d| d.as_str().map(String::from).ok_or("config: order entries are strings"))
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String> {
        let default = praetor_policy::rank(local_datacenter, candidates);
        let mut out: Vec<String> = default
            .iter()
            .filter(|d| *d == local_datacenter)
            .cloned()
            .collect();
        for d in &self.order {
            if default.contains(d) && !out.contains(d) {
                out.push(d.clone());
            }
        }
        for d in default {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    fn pick(&self, request: &RouteRequest) -> Option<Route> {
        praetor_policy::pick(request)
    }
}

export_plugin!(router: FixedOrder);
