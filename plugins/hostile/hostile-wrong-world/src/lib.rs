//! Sandbox test guest: a valid `router`-world component. Loaded into the address-translator
//! slot it must be refused (it exports `routing`, not `translation`).

use praetor_plugin_sdk::{Candidate, Route, RouteRequest, Router, export_plugin};

#[derive(Default)]
struct WrongWorld;

impl Router for WrongWorld {
    fn rank(&self, local_datacenter: &str, _candidates: &[Candidate]) -> Vec<String> {
        vec![local_datacenter.to_string()]
    }

    fn pick(&self, _request: &RouteRequest) -> Option<Route> {
        None
    }
}

export_plugin!(router: WrongWorld);
