//! The `Store`: tables, derived indexes, the undo journal that makes every command
//! all-or-nothing, command dispatch, and snapshots.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::acl::{AclAuthMethod, AclBindingRule, AclPolicy, AclRole, AclToken, SecretIndex};
use crate::areas::Area;
use crate::autopilot::AutopilotConfig;
use crate::change::{ChangeSet, Table, TableIndexes};
use crate::command::{Command, CommandResult};
use crate::config_entry::ConfigEntry;
use crate::error::StateError;
use crate::prepared_query::PreparedQuery;
use crate::types::{HealthCheck, KvEntry, Node, NodeCoordinate, Service, Session};

/// Key of a row that belongs to a node: (lowercased node name, lowercased ID).
pub(crate) type PairKey = (String, String);

/// Consul compares node names, service IDs/names and check IDs case-insensitively.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Case-insensitive equality (Go's `strings.EqualFold` for our purposes).
pub(crate) fn eq_fold(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// The previous value of one row, recorded before each write of a command so that a failed
/// command can be rolled back.
#[derive(Clone, Debug, PartialEq)]
enum Undo {
    AclToken(String, Option<AclToken>),
    AclPolicy(String, Option<AclPolicy>),
    AclRole(String, Option<AclRole>),
    AclBootstrap(Option<u64>),
    AclAuthMethod(String, Option<AclAuthMethod>),
    AclBindingRule(String, Option<AclBindingRule>),
    Node(String, Option<Node>),
    Service(PairKey, Option<Service>),
    Check(PairKey, Option<HealthCheck>),
    Session(String, Option<Session>),
    Kv(String, Option<KvEntry>),
    Tombstone(String, Option<u64>),
    LockDelay(String, Option<u64>),
    ServiceIndex(String, Option<u64>),
    Coordinate(PairKey, Option<NodeCoordinate>),
    Area(String, Option<Area>),
    PreparedQuery(String, Option<PreparedQuery>),
    ConfigEntry((String, String), Option<ConfigEntry>),
    Ca(Box<crate::ca::CaState>),
}

/// Whether a command's writes stay (`Commit`) or are rolled back (`Abort`).
pub(crate) enum Outcome {
    Commit(CommandResult),
    Abort(CommandResult),
}

impl From<Result<CommandResult, StateError>> for Outcome {
    fn from(r: Result<CommandResult, StateError>) -> Self {
        match r {
            Ok(res) => Outcome::Commit(res),
            Err(e @ StateError::AclDenied(_)) => {
                Outcome::Abort(CommandResult::Denied(e.to_string()))
            }
            Err(e @ StateError::AclNotFound(_)) => {
                Outcome::Abort(CommandResult::NotFound(e.to_string()))
            }
            Err(e) => Outcome::Abort(CommandResult::Error(e.to_string())),
        }
    }
}

/// The replicated state machine: catalog, KV, sessions. Pure and deterministic.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Store {
    /// Key: lowercased node name.
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) services: BTreeMap<PairKey, Service>,
    pub(crate) checks: BTreeMap<PairKey, HealthCheck>,
    pub(crate) sessions: BTreeMap<String, Session>,
    pub(crate) kvs: BTreeMap<String, KvEntry>,
    /// Deleted key -> raft index of the delete.
    pub(crate) tombstones: BTreeMap<String, u64>,
    /// Key -> time (ms) until which it cannot be locked.
    pub(crate) lock_delays: BTreeMap<String, u64>,
    pub(crate) indexes: TableIndexes,
    /// Lowercased service name -> last index that changed any of its instances (or their checks
    /// or nodes). Present exactly while the service has instances.
    pub(crate) service_indexes: BTreeMap<String, u64>,
    pub(crate) last_index: u64,
    /// Key: (lowercased node name, lowercased segment).
    pub(crate) coordinates: BTreeMap<PairKey, NodeCoordinate>,
    /// Key: area ID.
    pub(crate) areas: BTreeMap<String, Area>,
    /// Prepared queries by ID.
    pub(crate) prepared_queries: BTreeMap<String, PreparedQuery>,
    /// Autopilot's configuration, once the leader or an operator stored one.
    pub(crate) autopilot: Option<AutopilotConfig>,
    /// ACL tokens by AccessorID, policies and roles by ID.
    pub(crate) acl_tokens: BTreeMap<String, AclToken>,
    pub(crate) acl_policies: BTreeMap<String, AclPolicy>,
    pub(crate) acl_roles: BTreeMap<String, AclRole>,
    /// Auth methods by name, binding rules by ID.
    pub(crate) acl_auth_methods: BTreeMap<String, AclAuthMethod>,
    pub(crate) acl_binding_rules: BTreeMap<String, AclBindingRule>,
    /// The raft index of the ACL bootstrap, once done.
    pub(crate) acl_bootstrap_index: Option<u64>,
    /// Config entries by (kind, name).
    pub(crate) config_entries: BTreeMap<(String, String), ConfigEntry>,
    /// The Connect CA.
    pub(crate) ca: crate::ca::CaState,

    // Derived indexes, rebuilt on restore.
    node_ids: BTreeMap<String, BTreeSet<String>>,
    pub(crate) services_by_name: BTreeMap<String, BTreeSet<PairKey>>,
    pub(crate) sessions_by_node: BTreeMap<String, BTreeSet<String>>,
    pub(crate) sessions_by_check: BTreeMap<PairKey, BTreeSet<String>>,
    pub(crate) kvs_by_session: BTreeMap<String, BTreeSet<String>>,
    pub(crate) acl_tokens_by_secret: SecretIndex,

    // Per-command scratch state; empty between commands.
    journal: Vec<Undo>,
    pub(crate) changes: ChangeSet,
}

/// A serializable copy of the whole store (raft snapshot). Includes KV tombstones, lock delays
/// and all indexes, so a restored store answers exactly like the original.
///
/// Encoded with postcard (positional), so a field added here changes the format: snapshots
/// written before the coordinates table existed do not decode. `#[serde(default)]` only helps
/// self-describing encodings. New fields go at the end only: `postcard::from_bytes` ignores
/// trailing bytes, so an older version still decodes (and drops) what it does not know.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreSnapshot {
    pub last_index: u64,
    pub indexes: TableIndexes,
    pub service_indexes: Vec<(String, u64)>,
    pub nodes: Vec<Node>,
    /// (node name, service).
    pub services: Vec<(String, Service)>,
    pub checks: Vec<HealthCheck>,
    pub sessions: Vec<Session>,
    pub kvs: Vec<KvEntry>,
    pub tombstones: Vec<(String, u64)>,
    pub lock_delays: Vec<(String, u64)>,
    /// Sorted by (lowercased node, lowercased segment).
    #[serde(default)]
    pub coordinates: Vec<NodeCoordinate>,
    /// Network areas, sorted by ID.
    #[serde(default)]
    pub areas: Vec<Area>,
    /// The areas table index (kept out of `indexes` so that its layout does not change).
    #[serde(default)]
    pub areas_index: u64,
    /// Autopilot's configuration.
    #[serde(default)]
    pub autopilot: Option<AutopilotConfig>,
    /// Prepared queries, sorted by ID, and their table index.
    #[serde(default)]
    pub prepared_queries: Vec<PreparedQuery>,
    #[serde(default)]
    pub prepared_queries_index: u64,
    /// ACL tokens, policies, roles (sorted by ID), their table indexes and the bootstrap index.
    #[serde(default)]
    pub acl_tokens: Vec<AclToken>,
    #[serde(default)]
    pub acl_policies: Vec<AclPolicy>,
    #[serde(default)]
    pub acl_roles: Vec<AclRole>,
    #[serde(default)]
    pub acl_indexes: (u64, u64, u64),
    #[serde(default)]
    pub acl_bootstrap_index: Option<u64>,
    /// Auth methods, binding rules and their table index.
    #[serde(default)]
    pub acl_auth_methods: Vec<AclAuthMethod>,
    #[serde(default)]
    pub acl_binding_rules: Vec<AclBindingRule>,
    #[serde(default)]
    pub acl_auth_methods_index: u64,
    /// Config entries, sorted by (kind, name), and their table index.
    #[serde(default)]
    pub config_entries: Vec<ConfigEntry>,
    #[serde(default)]
    pub config_entries_index: u64,
    /// The Connect CA (its signer included: a snapshot is the datacenter's own) and its index.
    #[serde(default)]
    pub ca: crate::ca::CaState,
    #[serde(default)]
    pub ca_index: u64,
}

fn multi_insert<K: Ord, V: Ord>(map: &mut BTreeMap<K, BTreeSet<V>>, key: K, value: V) {
    map.entry(key).or_default().insert(value);
}

fn multi_remove<K: Ord, V: Ord>(map: &mut BTreeMap<K, BTreeSet<V>>, key: &K, value: &V) {
    if let Some(set) = map.get_mut(key) {
        set.remove(value);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

fn write<K: Ord, V>(map: &mut BTreeMap<K, V>, key: K, value: Option<V>) -> Option<V> {
    match value {
        Some(v) => map.insert(key, v),
        None => map.remove(&key),
    }
}

// === impl Store: public surface ===

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// The raft index of the last applied command (0 before any).
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// The highest raft index that changed `table` (0 if it never changed).
    pub fn table_index(&self, table: Table) -> u64 {
        self.indexes.get(table)
    }

    /// All table indexes.
    pub fn table_indexes(&self) -> &TableIndexes {
        &self.indexes
    }

    /// Applies one raft log entry at `index`. Every object the command writes carries `index` as
    /// its modify index (and create index when new). A command that fails changes nothing and
    /// returns an empty `ChangeSet`.
    pub fn apply(&mut self, index: u64, cmd: Command) -> (CommandResult, ChangeSet) {
        if index <= self.last_index {
            let err = StateError::StaleRaftIndex {
                index,
                last: self.last_index,
            };
            warn!(
                index,
                last = self.last_index,
                "Ignoring a command at an already applied raft index"
            );
            return (CommandResult::Error(err.to_string()), ChangeSet::default());
        }
        self.last_index = index;
        match cmd {
            Command::Batch(cmds) => {
                let mut results = Vec::with_capacity(cmds.len());
                let mut changes = ChangeSet::default();
                for cmd in cmds {
                    let (result, changed) = self.apply_one(index, cmd);
                    results.push(result);
                    changes.merge(changed);
                }
                (CommandResult::Batch(results), changes)
            }
            cmd => self.apply_one(index, cmd),
        }
    }

    /// Applies one command at `index`; a rejected command is rolled back on its own.
    fn apply_one(&mut self, index: u64, cmd: Command) -> (CommandResult, ChangeSet) {
        let saved_indexes = self.indexes.clone();
        self.journal.clear();
        self.changes = ChangeSet::default();

        match self.dispatch(index, cmd) {
            Outcome::Commit(result) => {
                self.journal.clear();
                (result, std::mem::take(&mut self.changes))
            }
            Outcome::Abort(result) => {
                debug!(index, ?result, "Command rejected, rolling back");
                self.rollback();
                self.indexes = saved_indexes;
                self.changes = ChangeSet::default();
                (result, ChangeSet::default())
            }
        }
    }

    /// A serializable copy of the whole store.
    pub fn snapshot(&self) -> StoreSnapshot {
        StoreSnapshot {
            last_index: self.last_index,
            // The areas index travels as `areas_index` (see `TableIndexes::areas`).
            indexes: TableIndexes {
                areas: 0,
                prepared_queries: 0,
                acl_tokens: 0,
                acl_policies: 0,
                acl_roles: 0,
                acl_auth_methods: 0,
                config_entries: 0,
                connect_ca: 0,
                ..self.indexes.clone()
            },
            service_indexes: self
                .service_indexes
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            nodes: self.nodes.values().cloned().collect(),
            services: self
                .services
                .iter()
                .map(|((node_key, _), s)| {
                    let node = self
                        .nodes
                        .get(node_key)
                        .map_or_else(|| node_key.clone(), |n| n.node.clone());
                    (node, s.clone())
                })
                .collect(),
            checks: self.checks.values().cloned().collect(),
            sessions: self.sessions.values().cloned().collect(),
            kvs: self.kvs.values().cloned().collect(),
            tombstones: self
                .tombstones
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            lock_delays: self
                .lock_delays
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            coordinates: self.coordinates.values().cloned().collect(),
            areas: self.areas.values().cloned().collect(),
            areas_index: self.indexes.areas,
            autopilot: self.autopilot.clone(),
            prepared_queries: self.prepared_queries.values().cloned().collect(),
            prepared_queries_index: self.indexes.prepared_queries,
            acl_tokens: self.acl_tokens.values().cloned().collect(),
            acl_policies: self.acl_policies.values().cloned().collect(),
            acl_roles: self.acl_roles.values().cloned().collect(),
            acl_indexes: (
                self.indexes.acl_tokens,
                self.indexes.acl_policies,
                self.indexes.acl_roles,
            ),
            acl_bootstrap_index: self.acl_bootstrap_index,
            acl_auth_methods: self.acl_auth_methods.values().cloned().collect(),
            acl_binding_rules: self.acl_binding_rules.values().cloned().collect(),
            acl_auth_methods_index: self.indexes.acl_auth_methods,
            config_entries: self.config_entries.values().cloned().collect(),
            config_entries_index: self.indexes.config_entries,
            ca: self.ca.clone(),
            ca_index: self.indexes.connect_ca,
        }
    }

    /// Rebuilds a store from a snapshot (derived indexes included).
    pub fn restore(snap: StoreSnapshot) -> Store {
        let mut s = Store {
            last_index: snap.last_index,
            indexes: snap.indexes,
            ..Store::default()
        };
        s.service_indexes = snap.service_indexes.into_iter().collect();
        for n in snap.nodes {
            s.raw_node(fold(&n.node), Some(n));
        }
        for (node, svc) in snap.services {
            s.raw_service((fold(&node), fold(&svc.id)), Some(svc));
        }
        for c in snap.checks {
            s.raw_check((fold(&c.node), fold(&c.check_id)), Some(c));
        }
        for sess in snap.sessions {
            s.raw_session(sess.id.clone(), Some(sess));
        }
        for e in snap.kvs {
            s.raw_kv(e.key.clone(), Some(e));
        }
        s.tombstones = snap.tombstones.into_iter().collect();
        s.lock_delays = snap.lock_delays.into_iter().collect();
        // Like Consul's restore, skip bad data a past bug may have stored.
        s.coordinates = snap
            .coordinates
            .into_iter()
            .filter(|c| c.coord.is_valid())
            .map(|c| ((fold(&c.node), fold(&c.segment)), c))
            .collect();
        s.areas = snap.areas.into_iter().map(|a| (a.id.clone(), a)).collect();
        s.indexes.areas = snap.areas_index;
        s.autopilot = snap.autopilot;
        s.prepared_queries = snap
            .prepared_queries
            .into_iter()
            .map(|q| (q.id.clone(), q))
            .collect();
        s.indexes.prepared_queries = snap.prepared_queries_index;
        for t in snap.acl_tokens {
            s.raw_acl_token(t.accessor_id.clone(), Some(t));
        }
        s.acl_policies = snap
            .acl_policies
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        s.acl_roles = snap
            .acl_roles
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        (
            s.indexes.acl_tokens,
            s.indexes.acl_policies,
            s.indexes.acl_roles,
        ) = snap.acl_indexes;
        s.acl_bootstrap_index = snap.acl_bootstrap_index;
        s.acl_auth_methods = snap
            .acl_auth_methods
            .into_iter()
            .map(|m| (m.name.clone(), m))
            .collect();
        s.acl_binding_rules = snap
            .acl_binding_rules
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        s.indexes.acl_auth_methods = snap.acl_auth_methods_index;
        s.config_entries = snap
            .config_entries
            .into_iter()
            .map(|e| (e.key(), e))
            .collect();
        s.indexes.config_entries = snap.config_entries_index;
        s.ca = snap.ca;
        s.indexes.connect_ca = snap.ca_index;
        s
    }
}

// === impl Store: dispatch ===

impl Store {
    fn dispatch(&mut self, idx: u64, cmd: Command) -> Outcome {
        match cmd {
            Command::Register {
                node,
                service,
                checks,
                now_ms,
            } => {
                self.expire_lock_delays(now_ms);
                self.register(idx, node, service, checks, now_ms)
                    .map(|()| CommandResult::Ok)
                    .into()
            }
            Command::Deregister {
                node,
                service_id,
                check_id,
                now_ms,
            } => {
                self.expire_lock_delays(now_ms);
                self.deregister(
                    idx,
                    &node,
                    service_id.as_deref(),
                    check_id.as_deref(),
                    now_ms,
                )
                .map(|()| CommandResult::Ok)
                .into()
            }
            Command::KvSet {
                op,
                entry,
                cas_index,
                now_ms,
            } => {
                self.expire_lock_delays(now_ms);
                self.kv_apply(idx, op, entry, cas_index, now_ms)
                    .map(CommandResult::Bool)
                    .into()
            }
            Command::SessionCreate { session, now_ms } => {
                self.expire_lock_delays(now_ms);
                self.session_create(idx, session)
                    .map(|()| CommandResult::Ok)
                    .into()
            }
            Command::SessionDestroy { id, now_ms } => {
                self.expire_lock_delays(now_ms);
                self.invalidate_session(idx, &id, now_ms);
                Outcome::Commit(CommandResult::Ok)
            }
            Command::Txn { ops, now_ms } => {
                self.expire_lock_delays(now_ms);
                let result = self.txn(idx, &ops);
                if result.errors.is_empty() {
                    Outcome::Commit(CommandResult::Txn(result))
                } else {
                    Outcome::Abort(CommandResult::Txn(result))
                }
            }
            Command::TombstoneReap { up_to_index } => {
                self.reap_tombstones(idx, up_to_index);
                Outcome::Commit(CommandResult::Ok)
            }
            Command::CoordinateBatchUpdate { updates } => self
                .coordinate_batch_update(idx, updates)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AreaUpsert { area } => self
                .area_upsert(idx, area)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AreaDelete { id } => self
                .area_delete(idx, &id)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::PreparedQuerySet { query, create } => self
                .prepared_query_set(idx, query, create)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::PreparedQueryDelete { id } => self
                .prepared_query_delete(idx, &id)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclBootstrap { token, reset_index } => self
                .acl_bootstrap(idx, token, reset_index)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclTokenSet { token, create } => self
                .acl_token_set(idx, token, create)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclTokenDelete { accessor_id } => self
                .acl_token_delete(idx, &accessor_id)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclTokensReap { now_ms } => {
                self.acl_tokens_reap(idx, now_ms);
                Outcome::Commit(CommandResult::Ok)
            }
            Command::AclPolicySet { policy, create } => self
                .acl_policy_set(idx, policy, create)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclPolicyDelete { id } => self
                .acl_policy_delete(idx, &id)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclRoleSet { role, create } => self
                .acl_role_set(idx, role, create)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclRoleDelete { id } => self
                .acl_role_delete(idx, &id)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclReplicate { set } => {
                self.acl_replicate(idx, *set);
                Outcome::Commit(CommandResult::Ok)
            }
            Command::AclAuthMethodSet { method } => self
                .acl_auth_method_set(idx, method)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclAuthMethodDelete { name } => self
                .acl_auth_method_delete(idx, &name)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclBindingRuleSet { rule, create } => self
                .acl_binding_rule_set(idx, rule, create)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclBindingRuleDelete { id } => self
                .acl_binding_rule_delete(idx, &id)
                .map(|()| CommandResult::Ok)
                .into(),
            Command::AclInitBuiltins { now_ms } => {
                self.acl_init_builtins(idx, now_ms);
                Outcome::Commit(CommandResult::Ok)
            }
            Command::AutopilotSetConfig { config, cas } => {
                Outcome::Commit(CommandResult::Bool(self.autopilot_set(idx, config, cas)))
            }
            Command::ConfigEntrySet { entry, cas } => {
                Outcome::Commit(CommandResult::Bool(self.config_entry_set(idx, entry, cas)))
            }
            Command::ConfigEntryDelete { kind, name, cas } => Outcome::Commit(CommandResult::Bool(
                self.config_entry_delete(idx, kind, name, cas),
            )),
            Command::CaSet { state, cas } => {
                Outcome::Commit(CommandResult::Bool(self.ca_set(idx, *state, cas)))
            }
            Command::ConfigEntriesReplicate { entries } => {
                self.config_entries_replicate(idx, entries);
                Outcome::Commit(CommandResult::Ok)
            }
            Command::Restore { snapshot } => {
                self.restore_at(idx, *snapshot);
                Outcome::Commit(CommandResult::Ok)
            }
            Command::Batch(_) => {
                Outcome::Abort(CommandResult::Error(StateError::NestedBatch.to_string()))
            }
        }
    }

    /// Swaps in a snapshot's tables at raft index `idx`; every table counts as changed.
    fn restore_at(&mut self, idx: u64, snap: StoreSnapshot) {
        let mut restored = Store::restore(snap);
        restored.last_index = idx;
        for table in Table::ALL {
            restored.indexes.bump(table, idx);
        }
        restored.indexes.service_extinction = idx;
        for i in restored.service_indexes.values_mut() {
            *i = idx;
        }
        restored.changes = ChangeSet {
            tables: Table::ALL.into_iter().collect(),
            kv_keys: Default::default(),
        };
        *self = restored;
    }

    /// Records that `table` changed at `idx`.
    pub(crate) fn touch(&mut self, table: Table, idx: u64) {
        self.indexes.bump(table, idx);
        self.changes.tables.insert(table);
    }

    fn rollback(&mut self) {
        while let Some(undo) = self.journal.pop() {
            match undo {
                Undo::Node(k, v) => {
                    self.raw_node(k, v);
                }
                Undo::Service(k, v) => {
                    self.raw_service(k, v);
                }
                Undo::Check(k, v) => {
                    self.raw_check(k, v);
                }
                Undo::Session(k, v) => {
                    self.raw_session(k, v);
                }
                Undo::Kv(k, v) => {
                    self.raw_kv(k, v);
                }
                Undo::Tombstone(k, v) => {
                    write(&mut self.tombstones, k, v);
                }
                Undo::LockDelay(k, v) => {
                    write(&mut self.lock_delays, k, v);
                }
                Undo::ServiceIndex(k, v) => {
                    write(&mut self.service_indexes, k, v);
                }
                Undo::Coordinate(k, v) => {
                    write(&mut self.coordinates, k, v);
                }
                Undo::Area(k, v) => {
                    write(&mut self.areas, k, v);
                }
                Undo::Ca(v) => self.ca = *v,
                Undo::ConfigEntry(k, v) => {
                    write(&mut self.config_entries, k, v);
                }
                Undo::PreparedQuery(k, v) => {
                    write(&mut self.prepared_queries, k, v);
                }
                Undo::AclToken(k, v) => {
                    self.raw_acl_token(k, v);
                }
                Undo::AclPolicy(k, v) => {
                    write(&mut self.acl_policies, k, v);
                }
                Undo::AclRole(k, v) => {
                    write(&mut self.acl_roles, k, v);
                }
                Undo::AclAuthMethod(k, v) => {
                    write(&mut self.acl_auth_methods, k, v);
                }
                Undo::AclBindingRule(k, v) => {
                    write(&mut self.acl_binding_rules, k, v);
                }
                Undo::AclBootstrap(v) => {
                    self.acl_bootstrap_index = v;
                }
            }
        }
    }

    fn reap_tombstones(&mut self, idx: u64, up_to_index: u64) {
        let reaped: Vec<String> = self
            .tombstones
            .iter()
            .filter(|(_, i)| **i <= up_to_index)
            .map(|(k, _)| k.clone())
            .collect();
        if reaped.is_empty() {
            return;
        }
        debug!(count = reaped.len(), up_to_index, "Reaping KV tombstones");
        for key in reaped {
            self.put_tombstone(key, None);
        }
        self.touch(Table::Tombstones, idx);
    }

    /// Forgets lock delays that ended at or before `now_ms`.
    fn expire_lock_delays(&mut self, now_ms: u64) {
        if self.lock_delays.is_empty() {
            return;
        }
        let expired: Vec<String> = self
            .lock_delays
            .iter()
            .filter(|(_, until)| **until <= now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            self.put_lock_delay(key, None);
        }
    }
}

// === impl Store: journaled writes ===
//
// Every write of a command goes through one of these: they keep the derived indexes right and
// record the previous value for rollback.

impl Store {
    pub(crate) fn put_node(&mut self, key: String, value: Option<Node>) {
        let old = self.raw_node(key.clone(), value);
        self.journal.push(Undo::Node(key, old));
    }

    pub(crate) fn put_service(&mut self, key: PairKey, value: Option<Service>) {
        let old = self.raw_service(key.clone(), value);
        self.journal.push(Undo::Service(key, old));
    }

    pub(crate) fn put_check(&mut self, key: PairKey, value: Option<HealthCheck>) {
        let old = self.raw_check(key.clone(), value);
        self.journal.push(Undo::Check(key, old));
    }

    pub(crate) fn put_session(&mut self, key: String, value: Option<Session>) {
        let old = self.raw_session(key.clone(), value);
        self.journal.push(Undo::Session(key, old));
    }

    pub(crate) fn put_kv(&mut self, key: String, value: Option<KvEntry>) {
        let old = self.raw_kv(key.clone(), value);
        self.journal.push(Undo::Kv(key, old));
    }

    pub(crate) fn put_tombstone(&mut self, key: String, value: Option<u64>) {
        let old = write(&mut self.tombstones, key.clone(), value);
        self.journal.push(Undo::Tombstone(key, old));
    }

    pub(crate) fn put_lock_delay(&mut self, key: String, value: Option<u64>) {
        let old = write(&mut self.lock_delays, key.clone(), value);
        self.journal.push(Undo::LockDelay(key, old));
    }

    pub(crate) fn put_service_index(&mut self, key: String, value: Option<u64>) {
        let old = write(&mut self.service_indexes, key.clone(), value);
        self.journal.push(Undo::ServiceIndex(key, old));
    }

    pub(crate) fn put_coordinate(&mut self, key: PairKey, value: Option<NodeCoordinate>) {
        let old = write(&mut self.coordinates, key.clone(), value);
        self.journal.push(Undo::Coordinate(key, old));
    }

    pub(crate) fn put_area(&mut self, key: String, value: Option<Area>) {
        let old = write(&mut self.areas, key.clone(), value);
        self.journal.push(Undo::Area(key, old));
    }

    pub(crate) fn put_acl_token(&mut self, key: String, value: Option<AclToken>) {
        let old = self.raw_acl_token(key.clone(), value);
        self.journal.push(Undo::AclToken(key, old));
    }

    pub(crate) fn put_acl_policy(&mut self, key: String, value: Option<AclPolicy>) {
        let old = write(&mut self.acl_policies, key.clone(), value);
        self.journal.push(Undo::AclPolicy(key, old));
    }

    pub(crate) fn put_acl_role(&mut self, key: String, value: Option<AclRole>) {
        let old = write(&mut self.acl_roles, key.clone(), value);
        self.journal.push(Undo::AclRole(key, old));
    }

    pub(crate) fn put_acl_auth_method(&mut self, key: String, value: Option<AclAuthMethod>) {
        let old = write(&mut self.acl_auth_methods, key.clone(), value);
        self.journal.push(Undo::AclAuthMethod(key, old));
    }

    pub(crate) fn put_acl_binding_rule(&mut self, key: String, value: Option<AclBindingRule>) {
        let old = write(&mut self.acl_binding_rules, key.clone(), value);
        self.journal.push(Undo::AclBindingRule(key, old));
    }

    pub(crate) fn put_acl_bootstrap(&mut self, value: Option<u64>) {
        let old = std::mem::replace(&mut self.acl_bootstrap_index, value);
        self.journal.push(Undo::AclBootstrap(old));
    }

    pub(crate) fn journal_ca(&mut self, old: crate::ca::CaState) {
        self.journal.push(Undo::Ca(Box::new(old)));
    }

    pub(crate) fn put_config_entry(&mut self, key: (String, String), value: Option<ConfigEntry>) {
        let old = write(&mut self.config_entries, key.clone(), value);
        self.journal.push(Undo::ConfigEntry(key, old));
    }

    pub(crate) fn put_prepared_query(&mut self, key: String, value: Option<PreparedQuery>) {
        let old = write(&mut self.prepared_queries, key.clone(), value);
        self.journal.push(Undo::PreparedQuery(key, old));
    }
}

// === impl Store: raw writes (maintain derived indexes, no journal) ===

impl Store {
    fn raw_acl_token(&mut self, key: String, value: Option<AclToken>) -> Option<AclToken> {
        let old = write(&mut self.acl_tokens, key.clone(), value);
        if let Some(o) = &old {
            self.acl_tokens_by_secret.remove(&o.secret_id);
        }
        if let Some(t) = self.acl_tokens.get(&key) {
            self.acl_tokens_by_secret
                .insert(t.secret_id.clone(), key.clone());
        }
        old
    }

    fn raw_node(&mut self, key: String, value: Option<Node>) -> Option<Node> {
        let old = write(&mut self.nodes, key.clone(), value);
        if let Some(o) = &old
            && !o.id.is_empty()
        {
            multi_remove(&mut self.node_ids, &fold(&o.id), &key);
        }
        if let Some(n) = self.nodes.get(&key)
            && !n.id.is_empty()
        {
            multi_insert(&mut self.node_ids, fold(&n.id), key);
        }
        old
    }

    fn raw_service(&mut self, key: PairKey, value: Option<Service>) -> Option<Service> {
        let old = write(&mut self.services, key.clone(), value);
        if let Some(o) = &old {
            multi_remove(&mut self.services_by_name, &fold(&o.service), &key);
        }
        if let Some(s) = self.services.get(&key) {
            multi_insert(&mut self.services_by_name, fold(&s.service), key);
        }
        old
    }

    fn raw_check(&mut self, key: PairKey, value: Option<HealthCheck>) -> Option<HealthCheck> {
        write(&mut self.checks, key, value)
    }

    fn raw_session(&mut self, id: String, value: Option<Session>) -> Option<Session> {
        let old = write(&mut self.sessions, id.clone(), value);
        if let Some(o) = &old {
            let node = fold(&o.node);
            multi_remove(&mut self.sessions_by_node, &node, &id);
            for check in o.check_ids() {
                multi_remove(
                    &mut self.sessions_by_check,
                    &(node.clone(), fold(check)),
                    &id,
                );
            }
        }
        if let Some(s) = self.sessions.get(&id) {
            let node = fold(&s.node);
            let checks: Vec<String> = s.check_ids().map(fold).collect();
            multi_insert(&mut self.sessions_by_node, node.clone(), id.clone());
            for check in checks {
                multi_insert(
                    &mut self.sessions_by_check,
                    (node.clone(), check),
                    id.clone(),
                );
            }
        }
        old
    }

    fn raw_kv(&mut self, key: String, value: Option<KvEntry>) -> Option<KvEntry> {
        let old = write(&mut self.kvs, key.clone(), value);
        if let Some(session) = old.as_ref().and_then(|o| o.session.as_ref()) {
            multi_remove(&mut self.kvs_by_session, session, &key);
        }
        if let Some(session) = self.kvs.get(&key).and_then(|e| e.session.clone()) {
            multi_insert(&mut self.kvs_by_session, session, key);
        }
        old
    }
}

// === impl Store: lookups shared by writes and reads ===

impl Store {
    /// The services registered on a node (by lowercased node name), ordered by service ID.
    pub(crate) fn node_services<'a>(
        &'a self,
        node_key: &'a str,
    ) -> impl Iterator<Item = (&'a PairKey, &'a Service)> {
        self.services
            .range((node_key.to_string(), String::new())..)
            .take_while(move |((n, _), _)| n == node_key)
    }

    /// The checks registered on a node (by lowercased node name), ordered by check ID.
    pub(crate) fn node_checks<'a>(
        &'a self,
        node_key: &'a str,
    ) -> impl Iterator<Item = (&'a PairKey, &'a HealthCheck)> {
        self.checks
            .range((node_key.to_string(), String::new())..)
            .take_while(move |((n, _), _)| n == node_key)
    }

    /// A node registered with the given node ID.
    pub(crate) fn node_by_id(&self, id: &str) -> Option<&Node> {
        let key = self.node_ids.get(&fold(id))?.iter().next()?;
        self.nodes.get(key)
    }
}
