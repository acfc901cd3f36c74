//! Reads: `Query`, its `QueryResult`, and the index each read reports (Consul's rules, so a
//! blocking query wakes when its answer can have changed and never sees index 0).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::areas::Area;
use crate::change::Table;
use crate::store::{Store, eq_fold, fold};
use crate::types::{
    CheckServiceNode, CheckStatus, HealthCheck, KvEntry, Node, NodeCoordinate, Service,
    ServiceNode, Session,
};

/// A read of the state store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// One key.
    KvGet {
        key: String,
    },
    /// Every entry under a prefix, sorted by key.
    KvList {
        prefix: String,
    },
    /// Keys under a prefix; with a separator, keys are cut after the first separator following
    /// the prefix and deduplicated (Consul `?keys&separator=`).
    KvKeys {
        prefix: String,
        separator: Option<String>,
    },
    CatalogNodes,
    /// Service name -> union of its instances' tags.
    CatalogServices,
    CatalogService {
        service: String,
        tag: Option<String>,
    },
    CatalogNode {
        node: String,
    },
    HealthNode {
        node: String,
    },
    /// Checks of every instance of a service.
    HealthChecks {
        service: String,
    },
    /// Checks in one state (None = any).
    HealthState {
        state: Option<CheckStatus>,
    },
    /// Instances with their node and checks; `passing_only` drops instances with any
    /// non-passing check (node checks included).
    HealthService {
        service: String,
        tag: Option<String>,
        passing_only: bool,
    },
    SessionInfo {
        id: String,
    },
    SessionNode {
        node: String,
    },
    SessionList,
    /// Every node's coordinates, by node then segment; `Some(segment)` keeps only that segment
    /// (`/v1/coordinate/nodes[?segment=]`).
    CoordinateNodes {
        segment: Option<String>,
    },
    /// One node's coordinates in every segment (`/v1/coordinate/node/<node>`).
    CoordinateNode {
        node: String,
    },
    /// Every network area, sorted by peer datacenter (`GET /v1/operator/area`).
    Areas,
    /// One network area: zero or one element (`GET /v1/operator/area/<id>`).
    AreaGet {
        id: String,
    },
    /// Every service instance with its node, by node name then service ID
    /// (`/v1/catalog/services` with `?filter=` or `?node-meta=`, which Consul applies to
    /// instances before grouping them by name).
    CatalogServiceNodes,
    /// Autopilot's stored configuration (`GET /v1/operator/autopilot/configuration`).
    AutopilotConfig,
    /// Every prepared query, by ID.
    PreparedQueryList,
    /// One prepared query by ID: zero or one element.
    PreparedQueryGet {
        id: String,
    },
    /// The query `execute` would run for a name or an ID (not rendered): zero or one element.
    PreparedQueryResolve {
        name: String,
    },
    /// One token by AccessorID (zero or one).
    AclTokenGet {
        accessor_id: String,
    },
    /// One token by SecretID (zero or one).
    AclTokenBySecret {
        secret_id: String,
    },
    /// Tokens, optionally filtered (expired ones included: the edge drops them).
    AclTokenList {
        filter: crate::AclTokenFilter,
    },
    /// Policies: by ID, by name, or all.
    AclPolicies {
        id: Option<String>,
        name: Option<String>,
    },
    /// Roles: by ID, by name, linking a policy, or all.
    AclRoles {
        id: Option<String>,
        name: Option<String>,
        policy: Option<String>,
    },
    /// What a secret resolves to (token, policies, roles).
    AclResolve {
        secret_id: String,
    },
    /// Everything a secondary replicates (policies, roles, and global tokens if asked).
    AclReplication {
        tokens: bool,
    },
    /// Auth methods (one by name, or all), each with its binding rules.
    AclAuthMethods {
        name: Option<String>,
    },
    /// Binding rules: by ID, of one auth method, or all.
    AclBindingRules {
        id: Option<String>,
        auth_method: Option<String>,
    },
    /// Config entries: of one kind (or all), one name (or all).
    ConfigEntries {
        kind: Option<String>,
        name: Option<String>,
    },
    /// The Connect CA's roots (no key material).
    CaRoots,
    /// The Connect CA's configuration.
    CaConfig,
    /// The connect set of a service: `connect-proxy` instances whose destination it is, and
    /// its Connect-native instances (`/v1/health/connect/<svc>`), with their checks.
    HealthConnect {
        service: String,
        tag: Option<String>,
        passing_only: bool,
    },
    /// The same set as catalog rows (`/v1/catalog/connect/<svc>`).
    CatalogConnect {
        service: String,
        tag: Option<String>,
    },
    /// Every instance of a service kind (e.g. `mesh-gateway`) with its checks.
    HealthKind {
        kind: String,
        passing_only: bool,
    },
    /// Every service instance with its checks (`/v1/internal/ui/services`).
    HealthAll,
}

impl Query {
    /// For KV reads, the key or prefix whose writes can change the answer.
    pub fn kv_prefix(&self) -> Option<&str> {
        match self {
            Query::KvGet { key } => Some(key),
            Query::KvList { prefix } | Query::KvKeys { prefix, .. } => Some(prefix),
            _ => None,
        }
    }

    /// The tables whose changes can change this query's answer.
    pub fn tables(&self) -> &'static [Table] {
        match self {
            Query::KvGet { .. } | Query::KvList { .. } | Query::KvKeys { .. } => &[Table::Kvs],
            Query::CatalogNodes => &[Table::Nodes],
            Query::CatalogServices => &[Table::Services],
            Query::CatalogNode { .. } | Query::CatalogServiceNodes => {
                &[Table::Nodes, Table::Services]
            }
            Query::CatalogService { .. }
            | Query::HealthService { .. }
            | Query::HealthConnect { .. }
            | Query::CatalogConnect { .. }
            | Query::HealthKind { .. }
            | Query::HealthAll => &[Table::Nodes, Table::Services, Table::Checks],
            Query::HealthNode { .. } | Query::HealthChecks { .. } | Query::HealthState { .. } => {
                &[Table::Checks]
            }
            Query::SessionInfo { .. } | Query::SessionNode { .. } | Query::SessionList => {
                &[Table::Sessions]
            }
            Query::CoordinateNodes { .. } | Query::CoordinateNode { .. } => &[Table::Coordinates],
            Query::Areas | Query::AreaGet { .. } => &[Table::Areas],
            // Not a table of its own: nobody blocks on it (a blocking read waits its time out).
            Query::AutopilotConfig => &[],
            Query::PreparedQueryList
            | Query::PreparedQueryGet { .. }
            | Query::PreparedQueryResolve { .. } => &[Table::PreparedQueries],
            Query::AclTokenGet { .. }
            | Query::AclTokenBySecret { .. }
            | Query::AclTokenList { .. } => {
                &[Table::AclTokens, Table::AclPolicies, Table::AclRoles]
            }
            Query::AclPolicies { .. } => &[Table::AclPolicies],
            Query::AclRoles { .. } => &[Table::AclRoles, Table::AclPolicies],
            Query::AclAuthMethods { .. } | Query::AclBindingRules { .. } => {
                &[Table::AclAuthMethods]
            }
            Query::AclResolve { .. } | Query::AclReplication { .. } => {
                &[Table::AclTokens, Table::AclPolicies, Table::AclRoles]
            }
            Query::ConfigEntries { .. } => &[Table::ConfigEntries],
            Query::CaRoots | Query::CaConfig => &[Table::ConnectCa],
        }
    }
}

/// The answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QueryResult {
    Kv(Option<KvEntry>),
    KvList(Vec<KvEntry>),
    Keys(Vec<String>),
    Nodes(Vec<Node>),
    Services(BTreeMap<String, Vec<String>>),
    ServiceNodes(Vec<ServiceNode>),
    NodeServices(Option<(Node, Vec<Service>)>),
    Checks(Vec<HealthCheck>),
    CheckServiceNodes(Vec<CheckServiceNode>),
    Sessions(Vec<Session>),
    Coordinates(Vec<NodeCoordinate>),
    Areas(Vec<Area>),
    Autopilot(Option<crate::AutopilotConfig>),
    PreparedQueries(Vec<crate::PreparedQuery>),
    AclTokens(Vec<crate::AclToken>),
    AclPolicies(Vec<crate::AclPolicy>),
    AclRoles(Vec<crate::AclRole>),
    AclResolved(Option<Box<crate::AclResolved>>),
    AclReplication(Box<crate::AclReplicationSet>),
    AclAuthMethods(Vec<(crate::AclAuthMethod, Vec<crate::AclBindingRule>)>),
    AclBindingRules(Vec<crate::AclBindingRule>),
    ConfigEntries(Vec<crate::ConfigEntry>),
    /// The roots and the cluster ID (trust domain `<cluster_id>.consul`; empty before the CA
    /// is initialized).
    CaRoots {
        cluster_id: String,
        roots: Vec<crate::CaRoot>,
    },
    CaConfig(Option<crate::CaConfiguration>),
}

/// An answer and its raft index (`X-Consul-Index`; never 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryOutput {
    pub index: u64,
    pub result: QueryResult,
}

fn tag_matches(svc: &Service, tag: Option<&str>) -> bool {
    tag.is_none_or(|tag| svc.tags.iter().any(|t| eq_fold(t, tag)))
}

impl Store {
    /// Runs a read.
    pub fn query(&self, q: &Query) -> QueryOutput {
        let (index, result) = match q {
            Query::KvGet { key } => self.kv_get(key),
            Query::KvList { prefix } => {
                let entries: Vec<KvEntry> = self.kv_range(prefix).cloned().collect();
                let max = entries.iter().map(|e| e.modify_index).max().unwrap_or(0);
                (
                    self.kv_prefix_index(prefix, max),
                    QueryResult::KvList(entries),
                )
            }
            Query::KvKeys { prefix, separator } => self.kv_keys(prefix, separator.as_deref()),
            Query::CatalogNodes => (
                self.indexes.nodes,
                QueryResult::Nodes(self.nodes.values().cloned().collect()),
            ),
            Query::CatalogServices => (
                self.indexes.services,
                QueryResult::Services(self.catalog_services()),
            ),
            Query::AutopilotConfig => self.autopilot_get(),
            Query::PreparedQueryList => self.prepared_query_list(),
            Query::PreparedQueryGet { id } => self.prepared_query_get(id),
            Query::PreparedQueryResolve { name } => self.prepared_query_resolve(name),
            Query::AclTokenGet { accessor_id } => self.acl_token_get(accessor_id),
            Query::AclTokenBySecret { secret_id } => self.acl_token_by_secret(secret_id),
            Query::AclTokenList { filter } => self.acl_token_list(filter),
            Query::AclPolicies { id, name } => self.acl_policy_get(id.as_deref(), name.as_deref()),
            Query::AclRoles { id, name, policy } => {
                self.acl_role_get(id.as_deref(), name.as_deref(), policy.as_deref())
            }
            Query::AclResolve { secret_id } => self.acl_resolve(secret_id),
            Query::AclReplication { tokens } => self.acl_replication_set(*tokens),
            Query::AclAuthMethods { name } => self.acl_auth_methods_get(name.as_deref()),
            Query::AclBindingRules { id, auth_method } => {
                self.acl_binding_rules_get(id.as_deref(), auth_method.as_deref())
            }
            Query::ConfigEntries { kind, name } => (
                self.indexes.config_entries,
                self.config_entries_get(kind.as_deref(), name.as_deref()),
            ),
            Query::CaRoots => (self.indexes.connect_ca, self.ca_roots_get()),
            Query::CaConfig => (self.indexes.connect_ca, self.ca_config_get()),
            Query::CatalogServiceNodes => {
                let rows = self
                    .services
                    .iter()
                    .filter_map(|(key, svc)| {
                        let node = self.nodes.get(&key.0)?;
                        Some(ServiceNode {
                            node: node.clone(),
                            service: svc.clone(),
                        })
                    })
                    .collect();
                (
                    self.indexes.nodes.max(self.indexes.services),
                    QueryResult::ServiceNodes(rows),
                )
            }
            Query::CatalogService { service, tag } => {
                let rows = self
                    .instances(service)
                    .filter(|(_, svc)| tag_matches(svc, tag.as_deref()))
                    .map(|(node, svc)| ServiceNode {
                        node: node.clone(),
                        service: svc.clone(),
                    })
                    .collect();
                (
                    self.service_index(service, false),
                    QueryResult::ServiceNodes(rows),
                )
            }
            Query::CatalogNode { node } => {
                let key = fold(node);
                let found = self.nodes.get(&key).map(|n| {
                    (
                        n.clone(),
                        self.node_services(&key).map(|(_, s)| s.clone()).collect(),
                    )
                });
                (
                    self.indexes.nodes.max(self.indexes.services),
                    QueryResult::NodeServices(found),
                )
            }
            Query::HealthNode { node } => {
                let checks = self
                    .node_checks(&fold(node))
                    .map(|(_, c)| c.clone())
                    .collect();
                (self.indexes.checks, QueryResult::Checks(checks))
            }
            Query::HealthChecks { service } => (
                self.indexes.checks,
                QueryResult::Checks(self.service_checks(service)),
            ),
            Query::HealthState { state } => {
                let checks = self
                    .checks
                    .values()
                    .filter(|c| state.is_none_or(|s| c.status == s))
                    .cloned()
                    .collect();
                (self.indexes.checks, QueryResult::Checks(checks))
            }
            Query::HealthConnect {
                service,
                tag,
                passing_only,
            } => (
                self.health_index(),
                self.health_rows(
                    self.connect_instances(service),
                    tag.as_deref(),
                    *passing_only,
                ),
            ),
            Query::HealthKind { kind, passing_only } => {
                let of_kind = self
                    .services
                    .iter()
                    .filter(|(_, svc)| svc.kind == *kind)
                    .filter_map(|(key, svc)| Some((self.nodes.get(&key.0)?, svc)));
                (
                    self.health_index(),
                    self.health_rows(of_kind, None, *passing_only),
                )
            }
            Query::HealthAll => {
                let all = self
                    .services
                    .iter()
                    .filter_map(|(key, svc)| Some((self.nodes.get(&key.0)?, svc)));
                (self.health_index(), self.health_rows(all, None, false))
            }
            Query::CatalogConnect { service, tag } => {
                let rows = self
                    .connect_instances(service)
                    .filter(|(_, svc)| tag_matches(svc, tag.as_deref()))
                    .map(|(node, svc)| ServiceNode {
                        node: node.clone(),
                        service: svc.clone(),
                    })
                    .collect();
                (
                    self.indexes.nodes.max(self.indexes.services),
                    QueryResult::ServiceNodes(rows),
                )
            }
            Query::HealthService {
                service,
                tag,
                passing_only,
            } => (
                self.service_index(service, true),
                self.health_rows(self.instances(service), tag.as_deref(), *passing_only),
            ),
            Query::SessionInfo { id } => {
                let found = self.sessions.get(id).cloned().into_iter().collect();
                (self.indexes.sessions, QueryResult::Sessions(found))
            }
            Query::SessionNode { node } => {
                let found = self
                    .sessions_by_node
                    .get(&fold(node))
                    .into_iter()
                    .flatten()
                    .filter_map(|id| self.sessions.get(id).cloned())
                    .collect();
                (self.indexes.sessions, QueryResult::Sessions(found))
            }
            Query::SessionList => (
                self.indexes.sessions,
                QueryResult::Sessions(self.sessions.values().cloned().collect()),
            ),
            Query::CoordinateNodes { segment } => (
                self.indexes.coordinates,
                QueryResult::Coordinates(self.coordinate_rows(segment.as_deref())),
            ),
            Query::CoordinateNode { node } => (
                self.indexes.coordinates,
                QueryResult::Coordinates(self.coordinate_rows_of(node)),
            ),
            Query::Areas => self.areas_list(),
            Query::AreaGet { id } => self.area_get(id),
        };
        QueryOutput {
            index: index.max(1),
            result,
        }
    }

    /// Single key: its modify index, else its tombstone, else the KV table index.
    fn kv_get(&self, key: &str) -> (u64, QueryResult) {
        match self.kvs.get(key) {
            Some(e) => (e.modify_index, QueryResult::Kv(Some(e.clone()))),
            None => (
                self.tombstones
                    .get(key)
                    .copied()
                    .unwrap_or(self.indexes.kvs),
                QueryResult::Kv(None),
            ),
        }
    }

    /// Prefix: the highest modify or tombstone index under it, else the KV table index
    /// (always the table index for the empty prefix).
    fn kv_prefix_index(&self, prefix: &str, entries_max: u64) -> u64 {
        if prefix.is_empty() {
            return self.indexes.kvs;
        }
        let max = entries_max.max(self.tombstone_max(prefix));
        if max == 0 { self.indexes.kvs } else { max }
    }

    fn kv_keys(&self, prefix: &str, separator: Option<&str>) -> (u64, QueryResult) {
        let separator = separator.filter(|s| !s.is_empty());
        let mut keys: Vec<String> = Vec::new();
        let mut max = 0;
        for e in self.kv_range(prefix) {
            max = max.max(e.modify_index);
            let cut = separator.and_then(|sep| {
                let after = &e.key[prefix.len()..];
                after
                    .find(sep)
                    .map(|pos| &e.key[..prefix.len() + pos + sep.len()])
            });
            match cut {
                Some(key) => {
                    if keys.last().map(String::as_str) != Some(key) {
                        keys.push(key.to_string());
                    }
                }
                None => keys.push(e.key.clone()),
            }
        }
        (self.kv_prefix_index(prefix, max), QueryResult::Keys(keys))
    }

    fn catalog_services(&self) -> BTreeMap<String, Vec<String>> {
        let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for svc in self.services.values() {
            tags.entry(svc.service.clone())
                .or_default()
                .extend(svc.tags.iter().cloned());
        }
        tags.into_iter()
            .map(|(name, t)| (name, t.into_iter().collect()))
            .collect()
    }

    /// Instances of a service (case-insensitive name) with their node, by node name then service ID.
    fn instances<'a>(&'a self, service: &str) -> impl Iterator<Item = (&'a Node, &'a Service)> {
        self.services_by_name
            .get(&fold(service))
            .into_iter()
            .flatten()
            .filter_map(|key| {
                let node = self.nodes.get(&key.0)?;
                let svc = self.services.get(key)?;
                Some((node, svc))
            })
    }

    /// Instances with their checks, filtered by tag and, with `passing_only`, by health.
    fn health_rows<'a>(
        &self,
        rows: impl Iterator<Item = (&'a Node, &'a Service)>,
        tag: Option<&str>,
        passing_only: bool,
    ) -> QueryResult {
        QueryResult::CheckServiceNodes(
            rows.filter(|(_, svc)| tag_matches(svc, tag))
                .map(|(node, svc)| self.check_service_node(node, svc))
                .filter(|csn| {
                    !passing_only || csn.checks.iter().all(|c| c.status == CheckStatus::Passing)
                })
                .collect(),
        )
    }

    /// The index of reads across the whole catalog (nodes, services and checks).
    fn health_index(&self) -> u64 {
        self.indexes
            .nodes
            .max(self.indexes.services)
            .max(self.indexes.checks)
    }

    /// A service's connect set: proxies whose destination it is, and its native instances.
    fn connect_instances<'a>(
        &'a self,
        service: &'a str,
    ) -> impl Iterator<Item = (&'a Node, &'a Service)> + 'a {
        self.services.iter().filter_map(move |(key, svc)| {
            let proxy_for = svc.kind == "connect-proxy"
                && svc
                    .proxy
                    .as_ref()
                    .is_some_and(|p| eq_fold(&p.destination_service_name, service));
            let native = svc.connect_native && eq_fold(&svc.service, service);
            if !(proxy_for || native) {
                return None;
            }
            Some((self.nodes.get(&key.0)?, svc))
        })
    }

    /// The checks that apply to an instance: the node's checks and the service's own.
    fn check_service_node(&self, node: &Node, svc: &Service) -> CheckServiceNode {
        let checks = self
            .node_checks(&fold(&node.node))
            .filter(|(_, c)| c.service_id.is_empty() || eq_fold(&c.service_id, &svc.id))
            .map(|(_, c)| c.clone())
            .collect();
        CheckServiceNode {
            node: node.clone(),
            service: svc.clone(),
            checks,
        }
    }

    /// Checks bound to any instance of a service, by node then check ID.
    fn service_checks(&self, service: &str) -> Vec<HealthCheck> {
        let mut found: BTreeMap<(String, String), HealthCheck> = BTreeMap::new();
        for key in self
            .services_by_name
            .get(&fold(service))
            .into_iter()
            .flatten()
        {
            for (check_key, c) in self.node_checks(&key.0) {
                if !c.service_id.is_empty() && fold(&c.service_id) == key.1 {
                    found.insert(check_key.clone(), c.clone());
                }
            }
        }
        found.into_values().collect()
    }

    /// Consul `maxIndexForService`: the service's own index while it has instances; for a
    /// missing service the last extinction index; else the catalog tables' index.
    fn service_index(&self, service: &str, with_checks: bool) -> u64 {
        let key = fold(service);
        if !self.services_by_name.contains_key(&key) && self.indexes.service_extinction > 0 {
            return self.indexes.service_extinction;
        }
        if let Some(i) = self.service_indexes.get(&key) {
            return *i;
        }
        let catalog = self.indexes.nodes.max(self.indexes.services);
        if with_checks {
            catalog.max(self.indexes.checks)
        } else {
            catalog
        }
    }
}
