//! Datacenter ranking (Consul's `Router.GetDatacentersByDistance`) and the forwarding choice
//! for a request to another datacenter (Consul's `Router.FindRoute`).

use std::cmp::Ordering;

/// How a datacenter is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathKind {
    /// This agent's own datacenter.
    Local,
    /// The WAN gossip pool.
    #[default]
    Wan,
    /// A network area (`path_id` is the area ID).
    Area,
    /// Mesh gateways (`path_id` is the gateway address).
    Gateway,
}

/// A server of a candidate datacenter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Server {
    pub name: String,
    /// "ip:port" of its RPC listener.
    pub address: String,
    /// False when gossip reports it failed or it recently failed an RPC.
    pub healthy: bool,
}

/// One way to reach one datacenter. The same datacenter may appear once per path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Candidate {
    pub datacenter: String,
    pub path: PathKind,
    pub path_id: String,
    /// Median round-trip time in milliseconds; `None` without network coordinates.
    pub rtt_ms: Option<f64>,
    /// Operator labels of the datacenter (e.g. "region" -> "eu-west").
    pub labels: Vec<(String, String)>,
    pub servers: Vec<Server>,
}

impl Candidate {
    /// The RTT as a sort key: unknown (or NaN) sorts after every known value.
    pub fn rtt_key(&self) -> f64 {
        match self.rtt_ms {
            Some(rtt) if !rtt.is_nan() => rtt,
            _ => f64::INFINITY,
        }
    }

    /// Index of the first healthy server, if any.
    pub fn first_healthy(&self) -> Option<usize> {
        self.servers.iter().position(|s| s.healthy)
    }

    /// Whether the labels hold `key` = `value`.
    pub fn has_label(&self, key: &str, value: &str) -> bool {
        self.labels.iter().any(|(k, v)| k == key && v == value)
    }
}

/// A request to route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteRequest {
    pub local_datacenter: String,
    /// The datacenter the request is for.
    pub target: String,
    /// Every known path to `target` (possibly none).
    pub candidates: Vec<Candidate>,
}

/// The chosen path and server: indexes into `RouteRequest::candidates` and that candidate's
/// `servers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub candidate: u32,
    pub server: u32,
}

/// Datacenter names best first (Consul's `/v1/catalog/datacenters` order): the local datacenter
/// first, then by RTT ascending (a datacenter reached by several paths counts its best one),
/// unknown RTT last, ties by name. Exactly the candidates' names, each once: the local
/// datacenter is listed only when a candidate names it (Consul's endpoint answers `[local]`
/// when there is nothing at all; that is the caller's rule).
pub fn rank(local_datacenter: &str, candidates: &[Candidate]) -> Vec<String> {
    rank_by(local_datacenter, candidates, |_| 0)
}

/// [`rank`] with a class per candidate: a datacenter's class is the lowest of its candidates'
/// classes, and lower classes come first (after the local datacenter). `rank` is `class = 0`.
pub fn rank_by(
    local_datacenter: &str,
    candidates: &[Candidate],
    class: impl Fn(&Candidate) -> u8,
) -> Vec<String> {
    // (name, class, rtt) per datacenter; a linear scan keeps the first-seen order irrelevant
    // because the result is fully sorted below.
    let mut best: Vec<(&str, u8, f64)> = Vec::new();
    let mut has_local = false;
    for candidate in candidates {
        let name = candidate.datacenter.as_str();
        if name == local_datacenter {
            has_local = true;
            continue;
        }
        let (c, rtt) = (class(candidate), candidate.rtt_key());
        match best.iter_mut().find(|(n, _, _)| *n == name) {
            Some(entry) => {
                entry.1 = entry.1.min(c);
                entry.2 = entry.2.min(rtt);
            }
            None => best.push((name, c, rtt)),
        }
    }
    best.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then_with(|| a.2.partial_cmp(&b.2).unwrap_or(Ordering::Equal))
            .then_with(|| a.0.cmp(b.0))
    });
    let mut out = Vec::with_capacity(best.len() + 1);
    if has_local {
        out.push(local_datacenter.to_string());
    }
    out.extend(best.into_iter().map(|(name, _, _)| name.to_string()));
    out
}

/// Where to send a request for `target`: among the candidates for the target that have a
/// healthy server, the lowest RTT (unknown last; ties keep the given order, as Consul tries
/// its managers in order), then that candidate's first healthy server. `None` when no candidate
/// has a healthy server.
pub fn pick(request: &RouteRequest) -> Option<Route> {
    pick_by(request, |_| 0)
}

/// [`pick`] with a class per candidate: lower classes win before RTT is compared.
pub fn pick_by(request: &RouteRequest, class: impl Fn(&Candidate) -> u8) -> Option<Route> {
    let mut best: Option<(u8, f64, usize, usize)> = None;
    for (index, candidate) in request.candidates.iter().enumerate() {
        if candidate.datacenter != request.target {
            continue;
        }
        let Some(server) = candidate.first_healthy() else {
            continue;
        };
        let key = (class(candidate), candidate.rtt_key());
        let better = match best {
            None => true,
            Some((c, rtt, _, _)) => key.0 < c || (key.0 == c && key.1 < rtt),
        };
        if better {
            best = Some((key.0, key.1, index, server));
        }
    }
    let (_, _, candidate, server) = best?;
    Some(Route {
        candidate: u32::try_from(candidate).ok()?,
        server: u32::try_from(server).ok()?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn server(name: &str, healthy: bool) -> Server {
        Server {
            name: name.to_string(),
            address: format!("{name}:8300"),
            healthy,
        }
    }

    pub(crate) fn candidate(
        dc: &str,
        path: PathKind,
        rtt: Option<f64>,
        servers: Vec<Server>,
    ) -> Candidate {
        Candidate {
            datacenter: dc.to_string(),
            path,
            path_id: String::new(),
            rtt_ms: rtt,
            labels: Vec::new(),
            servers,
        }
    }

    /// `agent/router/router_test.go:TestRouter_GetDatacentersByDistance`: dc2 at 2 ms, dc1's
    /// median 8 ms, dcX without coordinates; then an area where dc1 is 1 ms away.
    #[test]
    fn consul_reference_vector() {
        let mut candidates = vec![
            candidate(
                "dc0",
                PathKind::Local,
                Some(0.0),
                vec![server("node0", true)],
            ),
            candidate("dc1", PathKind::Wan, Some(8.0), vec![server("a", true)]),
            candidate("dc2", PathKind::Wan, Some(2.0), vec![server("b", true)]),
            candidate("dcX", PathKind::Wan, None, vec![server("c", true)]),
        ];
        assert_eq!(rank("dc0", &candidates), ["dc0", "dc2", "dc1", "dcX"]);
        candidates.push(candidate(
            "dc1",
            PathKind::Area,
            Some(1.0),
            vec![server("a", true)],
        ));
        assert_eq!(rank("dc0", &candidates), ["dc0", "dc1", "dc2", "dcX"]);
    }

    #[test]
    fn rank_ties_by_name_and_unknown_last_by_name() {
        let candidates = vec![
            candidate("zeta", PathKind::Wan, None, vec![]),
            candidate("beta", PathKind::Wan, Some(5.0), vec![]),
            candidate("alpha", PathKind::Wan, Some(5.0), vec![]),
            candidate("gamma", PathKind::Wan, Some(f64::NAN), vec![]),
            candidate("delta", PathKind::Wan, None, vec![]),
        ];
        assert_eq!(
            rank("home", &candidates),
            ["alpha", "beta", "delta", "gamma", "zeta"]
        );
    }

    #[test]
    fn rank_local_first_even_when_slow_and_only_when_named() {
        let candidates = vec![
            candidate("a", PathKind::Wan, Some(0.0), vec![]),
            candidate("local", PathKind::Local, Some(50.0), vec![]),
        ];
        assert_eq!(rank("local", &candidates), ["local", "a"]);
        assert_eq!(rank("elsewhere", &candidates), ["a", "local"]);
        assert!(rank("solo", &[]).is_empty());
    }

    #[test]
    fn rank_lists_each_name_once() {
        let candidates = vec![
            candidate("dc2", PathKind::Wan, Some(9.0), vec![]),
            candidate("dc2", PathKind::Gateway, None, vec![]),
            candidate("dc2", PathKind::Area, Some(3.0), vec![]),
            candidate("dc1", PathKind::Local, None, vec![]),
        ];
        assert_eq!(rank("dc1", &candidates), ["dc1", "dc2"]);
    }

    #[test]
    fn pick_lowest_rtt_with_a_healthy_server() {
        let request = RouteRequest {
            local_datacenter: "dc1".to_string(),
            target: "dc2".to_string(),
            candidates: vec![
                candidate("dc2", PathKind::Wan, Some(10.0), vec![server("s1", true)]),
                candidate(
                    "dc2",
                    PathKind::Area,
                    Some(2.0),
                    vec![server("s2", false), server("s3", false)],
                ),
                candidate(
                    "dc2",
                    PathKind::Gateway,
                    Some(4.0),
                    vec![server("s4", false), server("s5", true), server("s6", true)],
                ),
                candidate("dc3", PathKind::Wan, Some(0.5), vec![server("s7", true)]),
            ],
        };
        assert_eq!(
            pick(&request),
            Some(Route {
                candidate: 2,
                server: 1
            })
        );
    }

    #[test]
    fn pick_unknown_rtt_last_and_ties_keep_order() {
        let request = RouteRequest {
            local_datacenter: "dc1".to_string(),
            target: "dc2".to_string(),
            candidates: vec![
                candidate("dc2", PathKind::Wan, None, vec![server("s1", true)]),
                candidate("dc2", PathKind::Area, Some(7.0), vec![server("s2", true)]),
                candidate(
                    "dc2",
                    PathKind::Gateway,
                    Some(7.0),
                    vec![server("s3", true)],
                ),
            ],
        };
        assert_eq!(
            pick(&request),
            Some(Route {
                candidate: 1,
                server: 0
            })
        );
        let only_unknown = RouteRequest {
            candidates: vec![
                candidate("dc2", PathKind::Wan, None, vec![server("s1", false)]),
                candidate("dc2", PathKind::Area, None, vec![server("s2", true)]),
            ],
            ..request
        };
        assert_eq!(
            pick(&only_unknown),
            Some(Route {
                candidate: 1,
                server: 0
            })
        );
    }

    #[test]
    fn pick_none_without_healthy_server_or_candidates() {
        let mut request = RouteRequest {
            local_datacenter: "dc1".to_string(),
            target: "dc2".to_string(),
            candidates: vec![candidate(
                "dc2",
                PathKind::Wan,
                Some(1.0),
                vec![server("s1", false)],
            )],
        };
        assert_eq!(pick(&request), None);
        request.candidates.clear();
        assert_eq!(pick(&request), None);
    }
}
