//! The JSON form of each plugin call's input and output (for `praetor plugin test`), as serde
//! mirrors of praetor-policy's types. Field names are the WIT names with `_` for `-`.

use praetor_policy as policy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accept {
    pub ipv4: bool,
    pub ipv6: bool,
    pub domain: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaggedAddress {
    pub key: String,
    pub address: String,
    pub port: u16,
}

/// Input of `translate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AddressQuery {
    pub local_datacenter: String,
    pub record_datacenter: String,
    pub enabled: bool,
    pub address: String,
    pub port: u16,
    pub tagged: Vec<TaggedAddress>,
    pub accept: Accept,
}

impl Default for AddressQuery {
    fn default() -> Self {
        AddressQuery {
            local_datacenter: String::new(),
            record_datacenter: String::new(),
            enabled: true,
            address: String::new(),
            port: 0,
            tagged: Vec::new(),
            accept: Accept {
                ipv4: true,
                ipv6: true,
                domain: true,
            },
        }
    }
}

impl From<AddressQuery> for policy::AddressQuery {
    fn from(q: AddressQuery) -> Self {
        policy::AddressQuery {
            local_datacenter: q.local_datacenter,
            record_datacenter: q.record_datacenter,
            enabled: q.enabled,
            address: q.address,
            port: q.port,
            tagged: q
                .tagged
                .into_iter()
                .map(|t| policy::TaggedAddress {
                    key: t.key,
                    address: t.address,
                    port: t.port,
                })
                .collect(),
            accept: policy::Accept {
                ipv4: q.accept.ipv4,
                ipv6: q.accept.ipv6,
                domain: q.accept.domain,
            },
        }
    }
}

/// Output of `translate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Presented {
    pub address: String,
    pub port: u16,
}

impl From<policy::Presented> for Presented {
    fn from(p: policy::Presented) -> Self {
        Presented {
            address: p.address,
            port: p.port,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    Local,
    #[default]
    Wan,
    Area,
    Gateway,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    pub name: String,
    pub address: String,
    pub healthy: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Candidate {
    pub datacenter: String,
    pub path: PathKind,
    pub path_id: String,
    pub rtt_ms: Option<f64>,
    pub labels: Vec<(String, String)>,
    pub servers: Vec<Server>,
}

impl From<Candidate> for policy::Candidate {
    fn from(c: Candidate) -> Self {
        policy::Candidate {
            datacenter: c.datacenter,
            path: match c.path {
                PathKind::Local => policy::PathKind::Local,
                PathKind::Wan => policy::PathKind::Wan,
                PathKind::Area => policy::PathKind::Area,
                PathKind::Gateway => policy::PathKind::Gateway,
            },
            path_id: c.path_id,
            rtt_ms: c.rtt_ms,
            labels: c.labels,
            servers: c
                .servers
                .into_iter()
                .map(|s| policy::Server {
                    name: s.name,
                    address: s.address,
                    healthy: s.healthy,
                })
                .collect(),
        }
    }
}

/// Input of the router: `{"rank": {...}}` or `{"pick": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RouterInput {
    Rank {
        local_datacenter: String,
        #[serde(default)]
        candidates: Vec<Candidate>,
    },
    Pick {
        local_datacenter: String,
        target: String,
        #[serde(default)]
        candidates: Vec<Candidate>,
    },
}

/// Output of `pick` (`null` for none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Route {
    pub candidate: u32,
    pub server: u32,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    #[default]
    Deny,
}

impl From<Action> for policy::Action {
    fn from(a: Action) -> Self {
        match a {
            Action::Allow => policy::Action::Allow,
            Action::Deny => policy::Action::Deny,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Identity {
    pub service: String,
    pub namespace: String,
    pub partition: String,
    pub datacenter: String,
    pub trust_domain: String,
}

impl From<Identity> for policy::Identity {
    fn from(i: Identity) -> Self {
        policy::Identity {
            service: i.service,
            namespace: i.namespace,
            partition: i.partition,
            datacenter: i.datacenter,
            trust_domain: i.trust_domain,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderMatch {
    pub name: String,
    pub present: bool,
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub regex: Option<String>,
    pub invert: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Permission {
    pub action: Action,
    pub path_exact: Option<String>,
    pub path_prefix: Option<String>,
    pub path_regex: Option<String>,
    pub methods: Vec<String>,
    pub headers: Vec<HeaderMatch>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Intention {
    pub id: String,
    pub source_name: String,
    pub source_namespace: String,
    pub source_partition: String,
    pub source_peer: String,
    pub destination_name: String,
    pub destination_namespace: String,
    pub destination_partition: String,
    pub action: Action,
    pub permissions: Vec<Permission>,
}

impl From<Intention> for policy::Intention {
    fn from(i: Intention) -> Self {
        policy::Intention {
            id: i.id,
            source_name: i.source_name,
            source_namespace: i.source_namespace,
            source_partition: i.source_partition,
            source_peer: i.source_peer,
            destination_name: i.destination_name,
            destination_namespace: i.destination_namespace,
            destination_partition: i.destination_partition,
            action: i.action.into(),
            permissions: i
                .permissions
                .into_iter()
                .map(|p| policy::Permission {
                    action: p.action.into(),
                    path_exact: p.path_exact,
                    path_prefix: p.path_prefix,
                    path_regex: p.path_regex,
                    methods: p.methods,
                    headers: p
                        .headers
                        .into_iter()
                        .map(|h| policy::HeaderMatch {
                            name: h.name,
                            present: h.present,
                            exact: h.exact,
                            prefix: h.prefix,
                            suffix: h.suffix,
                            regex: h.regex,
                            invert: h.invert,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Request {
    pub source: Identity,
    pub destination: Identity,
    pub http: Option<HttpRequest>,
}

impl From<Request> for policy::Request {
    fn from(r: Request) -> Self {
        policy::Request {
            source: r.source.into(),
            destination: r.destination.into(),
            http: r.http.map(|h| policy::HttpRequest {
                method: h.method,
                path: h.path,
                headers: h.headers,
            }),
        }
    }
}

/// Input of the intention evaluator: a set, then requests decided against it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntentionsInput {
    pub intentions: Vec<Intention>,
    pub default_allow: bool,
    pub requests: Vec<Request>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
    pub intention_id: Option<String>,
}

impl From<policy::Decision> for Decision {
    fn from(d: policy::Decision) -> Self {
        Decision {
            allowed: d.allowed,
            reason: d.reason,
            intention_id: d.intention_id,
        }
    }
}

/// Input of a join provider: the parsed arguments, or a go-discover entry string.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum JoinInput {
    Args(Vec<(String, String)>),
    Entry(String),
}

/// Output of a join provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinOutput {
    Ok(Vec<String>),
    Err(String),
}
