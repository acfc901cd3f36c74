//! A small deterministic PRNG and random policy inputs.

use praetor_policy as policy;

/// xorshift64*: deterministic, seedable, good enough for test inputs.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }

    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ADDRS: &[&str] = &[
    "",
    "10.0.0.1",
    "10.1.2.3",
    "fd00::1",
    "2001:db8::9",
    "node.example",
    "198.18.0.5",
    "::1",
];
const TAGS: &[&str] = &[
    "lan", "wan", "lan_ipv4", "wan_ipv4", "lan_ipv6", "wan_ipv6", "other",
];
const DCS: &[&str] = &["dc1", "dc2", "dc3", "dc4", "dc5"];

pub(crate) fn address_query(r: &mut Rng) -> policy::AddressQuery {
    let tagged = (0..r.below(5))
        .map(|_| policy::TaggedAddress {
            key: r.pick(TAGS).to_owned(),
            address: r.pick(ADDRS).to_owned(),
            port: [0u16, 80, 8300, 65535][r.below(4)],
        })
        .collect();
    policy::AddressQuery {
        local_datacenter: r.pick(&DCS[..3]).to_owned(),
        record_datacenter: r.pick(&DCS[..3]).to_owned(),
        enabled: r.below(4) != 0,
        address: r.pick(ADDRS).to_owned(),
        port: [0u16, 8080, 8500][r.below(3)],
        tagged,
        accept: policy::Accept {
            ipv4: r.bool(),
            ipv6: r.bool(),
            domain: r.bool(),
        },
    }
}

pub(crate) fn candidates(r: &mut Rng) -> Vec<policy::Candidate> {
    (0..r.below(7))
        .map(|_| policy::Candidate {
            datacenter: r.pick(DCS).to_owned(),
            path: [
                policy::PathKind::Local,
                policy::PathKind::Wan,
                policy::PathKind::Area,
                policy::PathKind::Gateway,
            ][r.below(4)],
            path_id: r.pick(&["", "area-1", "10.9.9.9:8443"]).to_owned(),
            rtt_ms: match r.below(4) {
                0 => None,
                1 => Some(f64::NAN),
                _ => Some((r.below(20_000) as f64) / 100.0),
            },
            labels: (0..r.below(3))
                .map(|_| {
                    (
                        r.pick(&["region", "zone"]).to_owned(),
                        r.pick(&["eu", "us", "ap"]).to_owned(),
                    )
                })
                .collect(),
            servers: (0..r.below(4))
                .map(|i| policy::Server {
                    name: format!("s{i}"),
                    address: format!("10.0.{i}.1:8300"),
                    healthy: r.below(3) != 0,
                })
                .collect(),
        })
        .collect()
}

pub(crate) fn route_request(r: &mut Rng) -> policy::RouteRequest {
    policy::RouteRequest {
        local_datacenter: r.pick(DCS).to_owned(),
        target: r.pick(DCS).to_owned(),
        candidates: candidates(r),
    }
}

const NAMES: &[&str] = &["web", "db", "api", "cache", "*"];
const TENANCY: &[&str] = &["", "default", "ns1", "*"];

/// A random L7 permission: one path condition (or none), distinct methods, headers with one
/// condition each; about one in 40 is invalid (two path conditions), which must be refused.
fn permission(r: &mut Rng) -> policy::Permission {
    let mut p = policy::Permission {
        action: if r.bool() {
            policy::Action::Allow
        } else {
            policy::Action::Deny
        },
        ..policy::Permission::default()
    };
    match r.below(4) {
        0 => p.path_exact = Some("/health".to_owned()),
        1 => p.path_prefix = Some(r.pick(&["/api", "/", "/v1/"]).to_owned()),
        2 => p.path_regex = Some("/v[0-9]+/.*".to_owned()),
        _ => {}
    }
    if r.below(40) == 0 {
        p.path_exact = Some("/x".to_owned());
        p.path_prefix = Some("/y".to_owned());
    }
    for m in ["GET", "POST", "PUT"] {
        if r.below(3) == 0 {
            p.methods.push(m.to_owned());
        }
    }
    for _ in 0..r.below(3) {
        let mut h = policy::HeaderMatch {
            name: r.pick(&["x-env", "x-team"]).to_owned(),
            invert: r.below(4) == 0,
            ..policy::HeaderMatch::default()
        };
        match r.below(5) {
            0 => h.present = true,
            1 => h.exact = Some(r.pick(&["prod", "dev"]).to_owned()),
            2 => h.prefix = Some("pr".to_owned()),
            3 => h.suffix = Some("od".to_owned()),
            _ => h.regex = Some("(prod|dev)".to_owned()),
        }
        p.headers.push(h);
    }
    if p.path_exact.is_none()
        && p.path_prefix.is_none()
        && p.path_regex.is_none()
        && p.methods.is_empty()
        && p.headers.is_empty()
    {
        p.path_prefix = Some("/".to_owned());
    }
    p
}

/// A random intention; about one in 50 has an exact name under a wildcard namespace, which
/// the evaluator must refuse.
pub(crate) fn intention(r: &mut Rng, i: usize) -> policy::Intention {
    let mut it = raw_intention(r, i);
    if r.below(50) != 0 {
        if it.source_namespace == "*" {
            it.source_name = "*".to_owned();
        }
        if it.destination_namespace == "*" {
            it.destination_name = "*".to_owned();
        }
    }
    it
}

fn raw_intention(r: &mut Rng, i: usize) -> policy::Intention {
    policy::Intention {
        id: format!("id-{i}"),
        source_name: r.pick(NAMES).to_owned(),
        source_namespace: r.pick(TENANCY).to_owned(),
        source_partition: r.pick(&["", "default"]).to_owned(),
        source_peer: if r.below(10) == 0 {
            "peer1".to_owned()
        } else {
            String::new()
        },
        destination_name: r.pick(NAMES).to_owned(),
        destination_namespace: r.pick(TENANCY).to_owned(),
        destination_partition: r.pick(&["", "default"]).to_owned(),
        action: if r.bool() {
            policy::Action::Allow
        } else {
            policy::Action::Deny
        },
        permissions: if r.below(3) == 0 {
            (0..1 + r.below(3)).map(|_| permission(r)).collect()
        } else {
            Vec::new()
        },
    }
}

fn identity(r: &mut Rng) -> policy::Identity {
    policy::Identity {
        service: r.pick(&NAMES[..4]).to_owned(),
        namespace: r.pick(&["", "default", "ns1"]).to_owned(),
        partition: r.pick(&["", "default"]).to_owned(),
        datacenter: "dc1".to_owned(),
        trust_domain: "11111111-2222.consul".to_owned(),
    }
}

pub(crate) fn request(r: &mut Rng) -> policy::Request {
    policy::Request {
        source: identity(r),
        destination: identity(r),
        http: r.bool().then(|| policy::HttpRequest {
            method: r.pick(&["GET", "POST", "DELETE"]).to_owned(),
            path: r
                .pick(&["/", "/api/x", "/v1/kv", "/v2/y", "/health"])
                .to_owned(),
            headers: (0..r.below(3))
                .map(|_| {
                    (
                        r.pick(&["x-env", "x-team", "accept"]).to_owned(),
                        r.pick(&["prod", "dev", "x"]).to_owned(),
                    )
                })
                .collect(),
        }),
    }
}
