//! Routing policies (world `router`): the [`Router`] trait and its bridge to the generated
//! bindings.

use crate::bindings::router::exports::praetor::plugins::routing as wit;
use std::cell::RefCell;

use crate::slot::Slot;
use praetor_policy::routing::{Candidate, PathKind, Route, RouteRequest, Server};

/// Ranks datacenters and picks the server a request to another datacenter goes to. Export
/// with `export_plugin!(router: MyType)`. [`praetor_policy::routing`] holds Consul's logic to
/// reuse.
///
/// ```
/// use praetor_plugin_sdk::{Candidate, Route, RouteRequest, Router, policy};
///
/// /// Consul's order, but never route through mesh gateways.
/// #[derive(Default)]
/// struct NoGateways;
///
/// impl Router for NoGateways {
///     fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String> {
///         policy::rank(local_datacenter, candidates)
///     }
///
///     fn pick(&self, request: &RouteRequest) -> Option<Route> {
///         let mut usable = request.clone();
///         for c in &mut usable.candidates {
///             if c.path == policy::PathKind::Gateway {
///                 c.servers.iter_mut().for_each(|s| s.healthy = false);
///             }
///         }
///         policy::pick(&usable)
///     }
/// }
///
/// let gateway = Candidate {
///     datacenter: "dc2".into(),
///     path: policy::PathKind::Gateway,
///     rtt_ms: Some(1.0),
///     servers: vec![policy::Server { name: "s1".into(), address: "10.0.0.1:8300".into(), healthy: true }],
///     ..Candidate::default()
/// };
/// let request = RouteRequest { local_datacenter: "dc1".into(), target: "dc2".into(), candidates: vec![gateway] };
/// assert_eq!(NoGateways.pick(&request), None);
///
/// praetor_plugin_sdk::export_plugin!(router: NoGateways);
/// ```
pub trait Router: Default + 'static {
    /// Applies the slot's configuration (see [`crate::AddressTranslator::configure`]). The
    /// default accepts any configuration.
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        let _ = config_json;
        Ok(())
    }

    /// Datacenter names best first; each name of `candidates` once.
    fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String>;

    /// Where to send a request for `request.target`; `None` when no candidate has a healthy
    /// server. Out-of-range indexes are treated as `None` by the host.
    fn pick(&self, request: &RouteRequest) -> Option<Route>;
}

impl<S> wit::Guest for S
where
    S: Slot,
    S::Plugin: Router,
{
    fn rank(local_datacenter: String, candidates: Vec<wit::Candidate>) -> Vec<String> {
        let candidates: Vec<Candidate> = candidates.into_iter().map(Candidate::from).collect();
        S::with(|plugin| plugin.rank(&local_datacenter, &candidates))
    }

    fn set_request(request: wit::RouteRequest) {
        let request = RouteRequest {
            local_datacenter: request.local_datacenter,
            target: request.target,
            candidates: request
                .candidates
                .into_iter()
                .map(Candidate::from)
                .collect(),
        };
        REQUEST.with(|r| *r.borrow_mut() = request);
    }

    fn pick() -> Option<wit::Route> {
        REQUEST
            .with(|r| S::with(|plugin| plugin.pick(&r.borrow())))
            .map(|r| wit::Route {
                candidate: r.candidate,
                server: r.server,
            })
    }
}

thread_local! {
    /// The request of the last `set-request` (the host gives it again whenever it changes).
    static REQUEST: RefCell<RouteRequest> = RefCell::new(RouteRequest::default());
}

impl From<wit::Candidate> for Candidate {
    fn from(c: wit::Candidate) -> Self {
        Candidate {
            datacenter: c.datacenter,
            path: match c.path {
                wit::PathKind::Local => PathKind::Local,
                wit::PathKind::Wan => PathKind::Wan,
                wit::PathKind::Area => PathKind::Area,
                wit::PathKind::Gateway => PathKind::Gateway,
            },
            path_id: c.path_id,
            rtt_ms: c.rtt_ms,
            labels: c.labels,
            servers: c
                .servers
                .into_iter()
                .map(|s| Server {
                    name: s.name,
                    address: s.address,
                    healthy: s.healthy,
                })
                .collect(),
        }
    }
}
