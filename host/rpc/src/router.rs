//! The WAN router (Consul's `agent/router`): per datacenter, its known servers, their health
//! and network coordinates, fed by the agent from the WAN gossip pool. It answers which
//! datacenters exist, how far they are, and which server a forwarded request goes to. The
//! choices themselves are made by a [`RoutePolicy`] (the agent plugs in its router slot).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use praetor_coordinate::{Coordinate, distance_seconds};
use praetor_policy::{Candidate, PathKind, Route, RouteRequest, Server};

use crate::messages::{DatacenterMap, RouteInfo};

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

/// What the agent knows from one server-only pool (the WAN pool or a network area): every
/// server member not `left`, and this server's own coordinate in that pool.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WanView {
    pub servers: Vec<WanServer>,
    pub self_coordinate: Option<Coordinate>,
}

/// A datacenter that the servers of `via` say they can reach (multi-hop routing): gossiped as
/// the `reach` tag of area members.
#[derive(Clone, Debug, PartialEq)]
pub struct Advert {
    /// The advertising server's datacenter (the next hop).
    pub via: String,
    pub target: String,
    /// Their estimated cost to `target`, in milliseconds.
    pub rtt_ms: f64,
    /// How many datacenter hops they need to reach `target` (1 = adjacent to them).
    pub hops: u32,
}

/// Routes learned through more hops than this are ignored (bounds count-to-infinity).
pub const MAX_ROUTE_HOPS: u32 = 4;
/// The cost assumed for an adjacent datacenter without coordinates yet.
const UNKNOWN_RTT_MS: f64 = 1000.0;

struct PathState {
    kind: PathKind,
    view: WanView,
    adverts: Vec<Advert>,
}

/// The router state: one entry per path ("wan" and each network area's ID).
pub(crate) struct Router {
    local_datacenter: String,
    paths: RwLock<BTreeMap<String, PathState>>,
    multi_hop: AtomicBool,
    /// Server RPC address -> until when it is skipped after a failed call.
    failed: Mutex<HashMap<SocketAddr, Instant>>,
}

impl Router {
    pub(crate) fn new(local_datacenter: &str) -> Self {
        Router {
            local_datacenter: local_datacenter.to_string(),
            paths: RwLock::new(BTreeMap::new()),
            multi_hop: AtomicBool::new(false),
            failed: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn set_view(&self, view: WanView) {
        self.set_path("wan", PathKind::Wan, view, Vec::new());
    }

    /// Replaces what network area `id` says (its members and their adverts).
    pub(crate) fn set_area(&self, id: &str, view: WanView, adverts: Vec<Advert>) {
        self.set_path(id, PathKind::Area, view, adverts);
    }

    pub(crate) fn remove_area(&self, id: &str) {
        if let Ok(mut p) = self.paths.write() {
            p.remove(id);
        }
    }

    fn set_path(&self, id: &str, kind: PathKind, view: WanView, adverts: Vec<Advert>) {
        if let Ok(mut p) = self.paths.write() {
            p.insert(
                id.to_string(),
                PathState {
                    kind,
                    view,
                    adverts,
                },
            );
        }
    }

    pub(crate) fn set_multi_hop(&self, on: bool) {
        self.multi_hop.store(on, Ordering::Relaxed);
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

    /// Whether `dc` is known: local, adjacent through a path, or (multi-hop) advertised
    /// (Consul's `HasDatacenter`).
    pub(crate) fn has_datacenter(&self, dc: &str) -> bool {
        dc == self.local_datacenter || self.candidates(&[]).iter().any(|c| c.datacenter == dc)
    }

    /// One candidate per (path, datacenter): its servers (healthy = alive and no recent failed
    /// call, minus `exclude`) and the median RTT from this server in that path (local = 0).
    /// With multi-hop routing, datacenters that no path reaches directly but an adjacent
    /// datacenter advertises get a candidate too: the adjacent datacenter's servers, path ID
    /// `via:<dc>`, cost = RTT to it + its advertised cost.
    pub(crate) fn candidates(&self, exclude: &[SocketAddr]) -> Vec<Candidate> {
        self.candidates_with_hops(exclude)
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    /// [`Router::candidates`] with each one's datacenter hops from here (local 0, adjacent 1,
    /// multi-hop one more than the advert it comes from).
    fn candidates_with_hops(&self, exclude: &[SocketAddr]) -> Vec<(Candidate, u32)> {
        let Ok(paths) = self.paths.read() else {
            return vec![(local_candidate(&self.local_datacenter), 0)];
        };
        let failed = self.recently_failed(Instant::now());
        let mut out = Vec::new();
        let mut has_local = false;
        for (id, state) in paths.iter() {
            let mut per_dc: BTreeMap<&str, Vec<&WanServer>> = BTreeMap::new();
            for s in &state.view.servers {
                per_dc.entry(s.datacenter.as_str()).or_default().push(s);
            }
            for (dc, servers) in per_dc {
                let local = dc == self.local_datacenter;
                has_local |= local;
                let rtt_ms = if local {
                    Some(0.0)
                } else {
                    median_rtt_ms(state.view.self_coordinate.as_ref(), &servers)
                };
                out.push(Candidate {
                    datacenter: dc.to_string(),
                    path: if local { PathKind::Local } else { state.kind },
                    path_id: if local { String::new() } else { id.clone() },
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
        }
        if !has_local {
            out.push(local_candidate(&self.local_datacenter));
        }
        let mut out: Vec<(Candidate, u32)> = out
            .into_iter()
            .map(|c| {
                let hops = u32::from(c.path != PathKind::Local);
                (c, hops)
            })
            .collect();
        if self.multi_hop.load(Ordering::Relaxed) {
            let indirect = self.indirect(&paths, &out);
            out.extend(indirect);
        }
        out
    }

    /// Multi-hop candidates: for each advertised target without a direct candidate, the
    /// cheapest adjacent datacenter that advertises it, with the hops from here (one more
    /// than the advert's).
    fn indirect(
        &self,
        paths: &BTreeMap<String, PathState>,
        direct: &[(Candidate, u32)],
    ) -> Vec<(Candidate, u32)> {
        let mut best: BTreeMap<&str, (f64, &Candidate, u32)> = BTreeMap::new();
        for state in paths.values() {
            for ad in &state.adverts {
                if ad.hops >= MAX_ROUTE_HOPS
                    || ad.target == self.local_datacenter
                    || direct.iter().any(|(c, _)| c.datacenter == ad.target)
                {
                    continue;
                }
                // The cheapest direct candidate of the next hop.
                let Some(via) = direct
                    .iter()
                    .map(|(c, _)| c)
                    .filter(|c| c.datacenter == ad.via && c.path != PathKind::Local)
                    .min_by(|a, b| a.rtt_key().total_cmp(&b.rtt_key()))
                else {
                    continue;
                };
                let via_rtt = via
                    .rtt_ms
                    .filter(|r| r.is_finite())
                    .unwrap_or(UNKNOWN_RTT_MS);
                let cost = via_rtt + ad.rtt_ms;
                let hops = ad.hops.saturating_add(1);
                let entry = best.entry(ad.target.as_str()).or_insert((cost, via, hops));
                if cost < entry.0 {
                    *entry = (cost, via, hops);
                }
            }
        }
        best.into_iter()
            .map(|(target, (cost, via, hops))| {
                let candidate = Candidate {
                    datacenter: target.to_string(),
                    path: PathKind::Area,
                    path_id: format!("via:{}", via.datacenter),
                    rtt_ms: Some(cost),
                    labels: Vec::new(),
                    servers: via.servers.clone(),
                };
                (candidate, hops)
            })
            .collect()
    }

    /// What this server can reach, to advertise to the members of network areas: every
    /// datacenter with a candidate except the local one, with its cost and hop count.
    pub(crate) fn reach(&self) -> Vec<(String, f64, u32)> {
        let mut best: BTreeMap<String, (f64, u32)> = BTreeMap::new();
        for (c, hops) in self.candidates_with_hops(&[]) {
            if c.datacenter == self.local_datacenter || c.first_healthy().is_none() {
                continue;
            }
            let cost = c.rtt_ms.filter(|r| r.is_finite()).unwrap_or(UNKNOWN_RTT_MS);
            let e = best.entry(c.datacenter.clone()).or_insert((cost, hops));
            if cost < e.0 {
                *e = (cost, hops);
            }
        }
        best.into_iter().map(|(dc, (c, h))| (dc, c, h)).collect()
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

    /// Coordinates per (path, datacenter) (members without a coordinate are left out).
    /// Every way this server reaches a datacenter, local first, then by datacenter and cost
    /// (`/v1/operator/routes`).
    pub(crate) fn routes(&self) -> Vec<RouteInfo> {
        let mut out: Vec<RouteInfo> = self
            .candidates_with_hops(&[])
            .into_iter()
            .map(|(c, hops)| {
                let path = match c.path {
                    PathKind::Local => "local",
                    PathKind::Wan => "wan",
                    PathKind::Area if c.path_id.starts_with("via:") => "multi-hop",
                    PathKind::Area => "area",
                    PathKind::Gateway => "mesh-gateway",
                };
                RouteInfo {
                    path: path.to_string(),
                    path_id: c.path_id.clone(),
                    rtt_ms: c.rtt_ms.filter(|r| r.is_finite()),
                    hops,
                    servers: u32::try_from(c.servers.len()).unwrap_or(u32::MAX),
                    healthy_servers: u32::try_from(c.servers.iter().filter(|s| s.healthy).count())
                        .unwrap_or(u32::MAX),
                    datacenter: c.datacenter,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (a.path != "local")
                .cmp(&(b.path != "local"))
                .then_with(|| a.datacenter.cmp(&b.datacenter))
                .then_with(|| {
                    a.rtt_ms
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&b.rtt_ms.unwrap_or(f64::INFINITY))
                })
        });
        out
    }

    pub(crate) fn coordinate_maps(&self) -> Vec<DatacenterMap> {
        let Ok(paths) = self.paths.read() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (id, state) in paths.iter() {
            let mut per_dc: BTreeMap<String, Vec<(String, Coordinate)>> = BTreeMap::new();
            for s in &state.view.servers {
                if let Some(c) = &s.coordinate {
                    per_dc
                        .entry(s.datacenter.clone())
                        .or_default()
                        .push((s.name.clone(), c.clone()));
                }
            }
            for (datacenter, mut coordinates) in per_dc {
                coordinates.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(DatacenterMap {
                    datacenter,
                    area_id: id.clone(),
                    coordinates,
                });
            }
        }
        out
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

    /// A path's view from a server at the origin.
    fn view(servers: Vec<WanServer>) -> WanView {
        WanView {
            servers,
            self_coordinate: Some(coord(0.0)),
        }
    }

    /// `via` reaches `target` at 5 ms in `hops`.
    fn advert(via: &str, target: &str, hops: u32) -> Advert {
        Advert {
            via: via.into(),
            target: target.into(),
            rtt_ms: 5.0,
            hops,
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

    /// Hub and spoke: dc2 has an area with dc1 only; dc1 advertises dc3.
    #[test]
    fn multi_hop_goes_through_the_advertising_neighbour() {
        let r = Router::new("dc2");
        r.set_area(
            "a1",
            view(vec![
                server("hub", "dc1", 20, Some(2.0)),
                server("me", "dc2", 21, Some(0.0)),
            ]),
            vec![advert("dc1", "dc3", 1)],
        );
        let hub: SocketAddr = "127.0.0.1:20".parse().unwrap();
        assert_eq!(r.route(&NativePolicy, "dc1", &[]), Some(hub));
        assert!(!r.has_datacenter("dc3"));
        assert_eq!(r.route(&NativePolicy, "dc3", &[]), None);
        assert_eq!(r.datacenters(&NativePolicy), ["dc2", "dc1"]);
        r.set_multi_hop(true);
        assert!(r.has_datacenter("dc3"));
        assert_eq!(r.route(&NativePolicy, "dc3", &[]), Some(hub));
        assert_eq!(r.datacenters(&NativePolicy), ["dc2", "dc1", "dc3"]);
        let reach = r.reach();
        assert_eq!(reach.len(), 2);
        assert_eq!((reach[1].0.as_str(), reach[1].2), ("dc3", 2));
        // Too many hops away: ignored.
        r.set_area(
            "a1",
            view(vec![server("hub", "dc1", 20, Some(2.0))]),
            vec![advert("dc1", "dc9", MAX_ROUTE_HOPS)],
        );
        assert!(!r.has_datacenter("dc9"));
    }

    /// Hops add up along a chain of areas, so the advert limit bounds how far a route travels.
    #[test]
    fn multi_hop_adverts_count_every_hop() {
        let r = Router::new("dc2");
        r.set_multi_hop(true);
        r.set_area(
            "a1",
            view(vec![
                server("hub", "dc1", 20, Some(2.0)),
                server("me", "dc2", 21, Some(0.0)),
            ]),
            vec![
                advert("dc1", "dc4", 2),
                advert("dc1", "dc5", MAX_ROUTE_HOPS - 1),
            ],
        );
        let hops: BTreeMap<String, u32> = r.reach().into_iter().map(|(dc, _, h)| (dc, h)).collect();
        assert_eq!(hops.get("dc1"), Some(&1));
        assert_eq!(hops.get("dc4"), Some(&3));
        assert_eq!(hops.get("dc5"), Some(&MAX_ROUTE_HOPS));
        // A neighbour hearing dc5 from here at MAX_ROUTE_HOPS ignores it.
        let next = Router::new("dc0");
        next.set_multi_hop(true);
        next.set_area(
            "a0",
            view(vec![server("me", "dc2", 21, Some(1.0))]),
            vec![advert("dc2", "dc5", hops["dc5"])],
        );
        assert!(!next.has_datacenter("dc5"));
    }

    /// The same peer through the WAN pool and an area: when gossip says the WAN path is down
    /// (members failed), requests go through the area.
    #[test]
    fn a_failed_wan_path_falls_back_to_the_area() {
        let r = Router::new("dc1");
        let mut wan_peer = server("s1", "dc2", 30, Some(1.0));
        r.set_view(view(vec![wan_peer.clone()]));
        r.set_area(
            "a1",
            view(vec![server("s1", "dc2", 30, Some(5.0))]),
            Vec::new(),
        );
        let s1: SocketAddr = "127.0.0.1:30".parse().unwrap();
        let path_of = |r: &Router| {
            let cands = r.candidates(&[]);
            let req = RouteRequest {
                local_datacenter: "dc1".into(),
                target: "dc2".into(),
                candidates: cands,
            };

            NativePolicy
                .pick(&req)
                .map(|rt| req.candidates[rt.candidate as usize].path_id.clone())
        };
        assert_eq!(path_of(&r).as_deref(), Some("wan"), "the closer path wins");
        wan_peer.alive = false;
        r.set_view(view(vec![wan_peer]));
        assert_eq!(path_of(&r).as_deref(), Some("a1"));
        assert_eq!(r.route(&NativePolicy, "dc2", &[]), Some(s1));
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
