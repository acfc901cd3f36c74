//! The WAN router (Consul's `agent/router`): per datacenter, its known servers, their health
//! and network coordinates, fed by the agent from the WAN gossip pool. It answers which
//! datacenters exist, how far they are, and which server a forwarded request goes to. The
//! choices themselves are made by a [`RoutePolicy`] (the agent plugs in its router slot).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use praetor_coordinate::{Coordinate, distance_seconds};
use praetor_policy::{Candidate, PathKind, Route, RouteRequest, Server};

use crate::messages::DatacenterMap;

/// How long a server that failed a forwarded call is skipped (unless every server of its
/// datacenter is in that state, then calls fail at once with `DatacenterUnavailable`).
pub const FAILED_SERVER_BACKOFF: Duration = Duration::from_secs(5);

/// Decides datacenter order and server choice (the agent's router slot; [`NativePolicy`] is
/// the built-in logic).
pub trait RoutePolicy: Send + Sync + 'static {
    /// Datacenter names best first, local first.
    fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String>;
    /// Which candidate and server a request for `request.target` goes to.
    fn pick(&self, request: &RouteRequest) -> Option<Route>;
}

/// The built-in policy (`praetor_policy::rank` / `pick`).
pub struct NativePolicy;

impl RoutePolicy for NativePolicy {
    fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String> {
        praetor_policy::rank(local_datacenter, candidates)
    }

    fn pick(&self, request: &RouteRequest) -> Option<Route> {
        praetor_policy::pick(request)
    }
}

/// One server member of the WAN pool.
#[derive(Clone, Debug, PartialEq)]
pub struct WanServer {
    /// Node name without the `.<dc>` suffix.
    pub name: String,
    pub datacenter: String,
    /// WAN-advertised IP + the `port` tag.
    pub rpc_addr: SocketAddr,
    /// Gossip says alive (failed members stay listed, as in Consul, but are not chosen first).
    pub alive: bool,
    /// Its last WAN coordinate, if one was measured.
    pub coordinate: Option<Coordinate>,
}

/// What the agent knows from the WAN pool: every server member not `left`, and this server's
/// own WAN coordinate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WanView {
    pub servers: Vec<WanServer>,
    pub self_coordinate: Option<Coordinate>,
}

/// The router state.
pub(crate) struct Router {
    local_datacenter: String,
    view: RwLock<WanView>,
    /// Server RPC address -> until when it is skipped after a failed call.
    failed: Mutex<HashMap<SocketAddr, Instant>>,
}

impl Router {
    pub(crate) fn new(local_datacenter: &str) -> Self {
        Router {
            local_datacenter: local_datacenter.to_string(),
            view: RwLock::new(WanView::default()),
            failed: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn set_view(&self, view: WanView) {
        if let Ok(mut v) = self.view.write() {
            *v = view;
        }
    }

    pub(crate) fn view(&self) -> WanView {
        self.view.read().map(|v| v.clone()).unwrap_or_default()
    }

    /// Remembers that a call to `addr` failed.
    pub(crate) fn mark_failed(&self, addr: SocketAddr) {
        if let Ok(mut f) = self.failed.lock() {
            f.insert(addr, Instant::now() + FAILED_SERVER_BACKOFF);
        }
    }

    /// Forgets a past failure (a call succeeded).
    pub(crate) fn mark_ok(&self, addr: SocketAddr) {
        if let Ok(mut f) = self.failed.lock()
            && !f.is_empty()
        {
            f.remove(&addr);
        }
    }

    fn recently_failed(&self, now: Instant) -> HashMap<SocketAddr, Instant> {
        let Ok(mut f) = self.failed.lock() else {
            return HashMap::new();
        };
        f.retain(|_, until| *until > now);
        f.clone()
    }

    /// Whether any server of `dc` is known (Consul's `HasDatacenter`).
    pub(crate) fn has_datacenter(&self, dc: &str) -> bool {
        dc == self.local_datacenter || self.view().servers.iter().any(|s| s.datacenter == dc)
    }

    /// One candidate per known datacenter: its servers (healthy = alive and no recent failed
    /// call, minus `exclude`) and the median RTT from this server (local = 0).
    pub(crate) fn candidates(&self, exclude: &[SocketAddr]) -> Vec<Candidate> {
        let view = self.view();
        let failed = self.recently_failed(Instant::now());
        let mut per_dc: BTreeMap<&str, Vec<&WanServer>> = BTreeMap::new();
        for s in &view.servers {
            per_dc.entry(s.datacenter.as_str()).or_default().push(s);
        }
        let mut out = Vec::with_capacity(per_dc.len() + 1);
        if !per_dc.contains_key(self.local_datacenter.as_str()) {
            out.push(local_candidate(&self.local_datacenter));
        }
        for (dc, servers) in per_dc {
            let local = dc == self.local_datacenter;
            let rtt_ms = if local {
                Some(0.0)
            } else {
                median_rtt_ms(view.self_coordinate.as_ref(), &servers)
            };
            out.push(Candidate {
                datacenter: dc.to_string(),
                path: if local {
                    PathKind::Local
                } else {
                    PathKind::Wan
                },
                path_id: if local { String::new() } else { "wan".into() },
                rtt_ms,
                labels: Vec::new(),
                servers: servers
                    .iter()
                    .map(|s| Server {
                        name: s.name.clone(),
                        address: s.rpc_addr.to_string(),
                        healthy: s.alive
                            && !failed.contains_key(&s.rpc_addr)
                            && !exclude.contains(&s.rpc_addr),
                    })
                    .collect(),
            });
        }
        out
    }

    /// Datacenter names, local first, then by median RTT (Consul's `GetDatacentersByDistance`).
    pub(crate) fn datacenters(&self, policy: &dyn RoutePolicy) -> Vec<String> {
        let ranked = policy.rank(&self.local_datacenter, &self.candidates(&[]));
        if ranked.is_empty() {
            vec![self.local_datacenter.clone()]
        } else {
            ranked
        }
    }

    /// The server a request for `dc` goes to now, or `None` when no server of it is usable.
    pub(crate) fn route(
        &self,
        policy: &dyn RoutePolicy,
        dc: &str,
        exclude: &[SocketAddr],
    ) -> Option<SocketAddr> {
        let candidates: Vec<Candidate> = self
            .candidates(exclude)
            .into_iter()
            .filter(|c| c.datacenter == dc)
            .collect();
        let request = RouteRequest {
            local_datacenter: self.local_datacenter.clone(),
            target: dc.to_string(),
            candidates,
        };
        let route = policy.pick(&request)?;
        let server = request
            .candidates
            .get(route.candidate as usize)?
            .servers
            .get(route.server as usize)?;
        // The policy may only choose among healthy servers.
        if !server.healthy {
            return None;
        }
        server.address.parse().ok()
    }

    /// WAN coordinates per datacenter (members without a coordinate are left out).
    pub(crate) fn coordinate_maps(&self) -> Vec<DatacenterMap> {
        let view = self.view();
        let mut per_dc: BTreeMap<String, Vec<(String, Coordinate)>> = BTreeMap::new();
        for s in &view.servers {
            if let Some(c) = &s.coordinate {
                per_dc
                    .entry(s.datacenter.clone())
                    .or_default()
                    .push((s.name.clone(), c.clone()));
            }
        }
        per_dc
            .into_iter()
            .map(|(datacenter, mut coordinates)| {
                coordinates.sort_by(|a, b| a.0.cmp(&b.0));
                DatacenterMap {
                    datacenter,
                    area_id: "wan".into(),
                    coordinates,
                }
            })
            .collect()
    }
}

fn local_candidate(dc: &str) -> Candidate {
    Candidate {
        datacenter: dc.to_string(),
        path: PathKind::Local,
        path_id: String::new(),
        rtt_ms: Some(0.0),
        labels: Vec::new(),
        servers: Vec::new(),
    }
}

/// Consul's median: sort the per-server distances ascending and take index `len / 2` (the
/// upper median for even counts); a server without a coordinate counts as +Inf.
fn median_rtt_ms(me: Option<&Coordinate>, servers: &[&WanServer]) -> Option<f64> {
    let mut rtts: Vec<f64> = servers
        .iter()
        .map(|s| distance_seconds(me, s.coordinate.as_ref()))
        .collect();
    if rtts.is_empty() {
        return None;
    }
    rtts.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let rtt = rtts[rtts.len() / 2];
    rtt.is_finite().then_some(rtt * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coord(x_ms: f64) -> Coordinate {
        let mut vec = vec![0.0; 8];
        vec[0] = x_ms / 1000.0;
        Coordinate {
            vec,
            error: 1.5,
            adjustment: 0.0,
            height: 0.0,
        }
    }

    fn server(name: &str, dc: &str, port: u16, c: Option<f64>) -> WanServer {
        WanServer {
            name: name.into(),
            datacenter: dc.into(),
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], port)),
            alive: true,
            coordinate: c.map(coord),
        }
    }

    /// Consul's `TestRouter_GetDatacentersByDistance` vector (one area).
    #[test]
    fn datacenters_by_distance_follow_consul() {
        let r = Router::new("dc0");
        r.set_view(WanView {
            servers: vec![
                server("node0", "dc0", 1, Some(10.0)),
                server("node1", "dc1", 2, Some(3.0)),
                server("node2", "dc1", 3, Some(2.0)),
                server("node3", "dc1", 4, Some(5.0)),
                server("node4", "dc1", 5, None),
                server("node5", "dc2", 6, Some(8.0)),
                server("node6", "dcX", 7, None),
            ],
            self_coordinate: Some(coord(10.0)),
        });
        assert_eq!(r.datacenters(&NativePolicy), ["dc0", "dc2", "dc1", "dcX"]);
    }

    #[test]
    fn without_wan_only_the_local_datacenter() {
        let r = Router::new("dc1");
        assert_eq!(r.datacenters(&NativePolicy), ["dc1"]);
        assert!(r.has_datacenter("dc1"));
        assert!(!r.has_datacenter("dc2"));
    }

    #[test]
    fn route_skips_failed_and_excluded_servers() {
        let r = Router::new("dc1");
        r.set_view(WanView {
            servers: vec![server("a", "dc2", 10, None), server("b", "dc2", 11, None)],
            self_coordinate: None,
        });
        let a: SocketAddr = "127.0.0.1:10".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:11".parse().unwrap();
        assert_eq!(r.route(&NativePolicy, "dc2", &[]), Some(a));
        assert_eq!(r.route(&NativePolicy, "dc2", &[a]), Some(b));
        r.mark_failed(a);
        assert_eq!(r.route(&NativePolicy, "dc2", &[]), Some(b));
        r.mark_failed(b);
        assert_eq!(r.route(&NativePolicy, "dc2", &[]), None);
        assert!(r.has_datacenter("dc2"));
        r.mark_ok(a);
        assert_eq!(r.route(&NativePolicy, "dc2", &[]), Some(a));
        assert_eq!(r.route(&NativePolicy, "dc3", &[]), None);
    }

    #[test]
    fn coordinate_maps_group_and_skip_missing() {
        let r = Router::new("dc1");
        r.set_view(WanView {
            servers: vec![
                server("b", "dc1", 1, Some(1.0)),
                server("a", "dc1", 2, Some(2.0)),
                server("c", "dc2", 3, None),
            ],
            self_coordinate: None,
        });
        let maps = r.coordinate_maps();
        assert_eq!(maps.len(), 1);
        assert_eq!(maps[0].datacenter, "dc1");
        assert_eq!(maps[0].coordinates[0].0, "a");
    }
}
