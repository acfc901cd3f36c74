//! Conversions between praetor-policy's types (the host's API) and the generated WIT types.

use praetor_policy as policy;

use crate::bindings::intentions::exports::praetor::plugins::intentions as wi;
use crate::bindings::router::exports::praetor::plugins::routing as wr;
use crate::bindings::translator::exports::praetor::plugins::translation as wt;

// ---- translation ----

/// The tagged addresses of `q`, borrowed (the query's list is built from these).
pub(crate) fn tagged(q: &policy::AddressQuery) -> Vec<wt::TaggedAddress<'_>> {
    q.tagged
        .iter()
        .map(|t| wt::TaggedAddress {
            key: address_key(&t.key),
            address: &t.address,
            port: t.port,
        })
        .collect()
}

/// A catalog tagged-address key as WIT carries it: Consul's six well-known keys without a
/// string.
fn address_key(key: &str) -> wt::AddressKey<'_> {
    match key {
        policy::translate::TAGGED_LAN => wt::AddressKey::Lan,
        policy::translate::TAGGED_WAN => wt::AddressKey::Wan,
        policy::translate::TAGGED_LAN_IPV4 => wt::AddressKey::LanIpv4,
        policy::translate::TAGGED_WAN_IPV4 => wt::AddressKey::WanIpv4,
        policy::translate::TAGGED_LAN_IPV6 => wt::AddressKey::LanIpv6,
        policy::translate::TAGGED_WAN_IPV6 => wt::AddressKey::WanIpv6,
        other => wt::AddressKey::Other(other),
    }
}

pub(crate) fn address_query<'a>(
    q: &'a policy::AddressQuery,
    tagged: &'a [wt::TaggedAddress<'a>],
) -> wt::AddressQuery<'a> {
    let mut accept = wt::Accept::empty();
    if q.accept.ipv4 {
        accept |= wt::Accept::IPV4;
    }
    if q.accept.ipv6 {
        accept |= wt::Accept::IPV6;
    }
    if q.accept.domain {
        accept |= wt::Accept::DOMAIN;
    }
    wt::AddressQuery {
        record_datacenter: &q.record_datacenter,
        address: &q.address,
        port: q.port,
        tagged,
        accept,
    }
}

pub(crate) fn presented(p: wt::Presented) -> policy::Presented {
    policy::Presented {
        address: p.address,
        port: p.port,
    }
}

// ---- routing ----

fn path_kind(k: policy::PathKind) -> wr::PathKind {
    match k {
        policy::PathKind::Local => wr::PathKind::Local,
        policy::PathKind::Wan => wr::PathKind::Wan,
        policy::PathKind::Area => wr::PathKind::Area,
        policy::PathKind::Gateway => wr::PathKind::Gateway,
    }
}

/// The parts of the candidates that are lists, borrowed: the candidates' WIT records point
/// into these, so they are built first and kept for the call.
pub(crate) struct CandidateLists<'a> {
    labels: Vec<Vec<(&'a str, &'a str)>>,
    servers: Vec<Vec<wr::Server<'a>>>,
}

pub(crate) fn candidate_lists(cs: &[policy::Candidate]) -> CandidateLists<'_> {
    CandidateLists {
        labels: cs
            .iter()
            .map(|c| {
                c.labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect()
            })
            .collect(),
        servers: cs
            .iter()
            .map(|c| {
                c.servers
                    .iter()
                    .map(|s| wr::Server {
                        name: &s.name,
                        address: &s.address,
                        healthy: s.healthy,
                    })
                    .collect()
            })
            .collect(),
    }
}

pub(crate) fn candidates<'a>(
    cs: &'a [policy::Candidate],
    lists: &'a CandidateLists<'a>,
) -> Vec<wr::Candidate<'a>> {
    cs.iter()
        .zip(lists.labels.iter().zip(&lists.servers))
        .map(|(c, (labels, servers))| wr::Candidate {
            datacenter: &c.datacenter,
            path: path_kind(c.path),
            path_id: &c.path_id,
            rtt_ms: c.rtt_ms,
            labels,
            servers,
        })
        .collect()
}

pub(crate) fn route_request<'a>(
    r: &'a policy::RouteRequest,
    candidates: &'a [wr::Candidate<'a>],
) -> wr::RouteRequest<'a> {
    wr::RouteRequest {
        local_datacenter: &r.local_datacenter,
        target: &r.target,
        candidates,
    }
}

/// A plugin's route, with out-of-range indexes treated as `None` (as the WIT says).
pub(crate) fn route(r: Option<wr::Route>, request: &policy::RouteRequest) -> Option<policy::Route> {
    let r = r?;
    let candidate = request.candidates.get(r.candidate as usize)?;
    candidate.servers.get(r.server as usize)?;
    Some(policy::Route {
        candidate: r.candidate,
        server: r.server,
    })
}

// ---- intentions ----

fn action(a: policy::Action) -> wi::Action {
    match a {
        policy::Action::Allow => wi::Action::Allow,
        policy::Action::Deny => wi::Action::Deny,
    }
}

fn identity(i: &policy::Identity) -> wi::Identity {
    wi::Identity {
        service: i.service.clone(),
        namespace: i.namespace.clone(),
        partition: i.partition.clone(),
        datacenter: i.datacenter.clone(),
        trust_domain: i.trust_domain.clone(),
    }
}

fn permission(p: &policy::Permission) -> wi::Permission {
    wi::Permission {
        action: action(p.action),
        path_exact: p.path_exact.clone(),
        path_prefix: p.path_prefix.clone(),
        path_regex: p.path_regex.clone(),
        methods: p.methods.clone(),
        headers: p
            .headers
            .iter()
            .map(|h| wi::HeaderMatch {
                name: h.name.clone(),
                present: h.present,
                exact: h.exact.clone(),
                prefix: h.prefix.clone(),
                suffix: h.suffix.clone(),
                regex: h.regex.clone(),
                invert: h.invert,
            })
            .collect(),
    }
}

pub(crate) fn intention(i: &policy::Intention) -> wi::Intention {
    wi::Intention {
        id: i.id.clone(),
        source_name: i.source_name.clone(),
        source_namespace: i.source_namespace.clone(),
        source_partition: i.source_partition.clone(),
        source_peer: i.source_peer.clone(),
        destination_name: i.destination_name.clone(),
        destination_namespace: i.destination_namespace.clone(),
        destination_partition: i.destination_partition.clone(),
        action: action(i.action),
        permissions: i.permissions.iter().map(permission).collect(),
    }
}

pub(crate) fn request(r: &policy::Request) -> wi::Request {
    wi::Request {
        source: identity(&r.source),
        destination: identity(&r.destination),
        http: r.http.as_ref().map(|h| wi::HttpRequest {
            method: h.method.clone(),
            path: h.path.clone(),
            headers: h.headers.clone(),
        }),
    }
}

pub(crate) fn decision(d: wi::Decision) -> policy::Decision {
    policy::Decision {
        allowed: d.allowed,
        reason: d.reason,
        intention_id: d.intention_id,
    }
}
