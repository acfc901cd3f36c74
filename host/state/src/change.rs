//! Tables, their raft indexes, and the `ChangeSet` a command produces (what blocking queries wait on).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A table of the state store. Blocking queries wait on the tables their query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Table {
    Nodes,
    Services,
    Checks,
    Kvs,
    Sessions,
    Tombstones,
    /// Network coordinates (one row per node and segment).
    Coordinates,
    /// Network areas.
    Areas,
    PreparedQueries,
    AclTokens,
    AclPolicies,
    AclRoles,
    /// Auth methods and their binding rules.
    AclAuthMethods,
    /// Config entries (all kinds).
    ConfigEntries,
    /// The Connect CA (configuration, roots, signer).
    ConnectCa,
}

impl Table {
    /// Every table, in a fixed order.
    pub const ALL: [Table; 15] = [
        Table::Nodes,
        Table::Services,
        Table::Checks,
        Table::Kvs,
        Table::Sessions,
        Table::Tombstones,
        Table::Coordinates,
        Table::Areas,
        Table::PreparedQueries,
        Table::AclTokens,
        Table::AclPolicies,
        Table::AclRoles,
        Table::AclAuthMethods,
        Table::ConfigEntries,
        Table::ConnectCa,
    ];

    /// Position of the table in [`Table::ALL`].
    pub fn slot(self) -> usize {
        match self {
            Table::Nodes => 0,
            Table::Services => 1,
            Table::Checks => 2,
            Table::Kvs => 3,
            Table::Sessions => 4,
            Table::Tombstones => 5,
            Table::Coordinates => 6,
            Table::Areas => 7,
            Table::PreparedQueries => 8,
            Table::AclTokens => 9,
            Table::AclPolicies => 10,
            Table::AclRoles => 11,
            Table::AclAuthMethods => 12,
            Table::ConfigEntries => 13,
            Table::ConnectCa => 14,
        }
    }
}

/// The highest raft index that changed each table (0 = never changed), plus Consul's
/// "service extinction" index (the last time the last instance of some service went away).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableIndexes {
    pub nodes: u64,
    pub services: u64,
    pub checks: u64,
    pub kvs: u64,
    pub sessions: u64,
    pub tombstones: u64,
    pub service_extinction: u64,
    pub coordinates: u64,
    /// Network areas. Not serialized with the others: the snapshot format is positional, so
    /// this index travels at the end of `StoreSnapshot` (`areas_index`) and the layout of
    /// everything before it stays that of older versions.
    #[serde(skip)]
    pub areas: u64,
    /// Prepared queries; travels at the end of `StoreSnapshot` like `areas`.
    #[serde(skip)]
    pub prepared_queries: u64,
    /// The ACL tables; travel at the end of `StoreSnapshot` like `areas`.
    #[serde(skip)]
    pub acl_tokens: u64,
    #[serde(skip)]
    pub acl_policies: u64,
    #[serde(skip)]
    pub acl_roles: u64,
    #[serde(skip)]
    pub acl_auth_methods: u64,
    /// Config entries; travel at the end of `StoreSnapshot` like `areas`.
    #[serde(skip)]
    pub config_entries: u64,
    /// The Connect CA; travels at the end of `StoreSnapshot` like `areas`.
    #[serde(skip)]
    pub connect_ca: u64,
}

impl TableIndexes {
    /// The index of one table.
    pub fn get(&self, table: Table) -> u64 {
        match table {
            Table::Nodes => self.nodes,
            Table::Services => self.services,
            Table::Checks => self.checks,
            Table::Kvs => self.kvs,
            Table::Sessions => self.sessions,
            Table::Tombstones => self.tombstones,
            Table::Coordinates => self.coordinates,
            Table::Areas => self.areas,
            Table::PreparedQueries => self.prepared_queries,
            Table::AclTokens => self.acl_tokens,
            Table::AclPolicies => self.acl_policies,
            Table::AclRoles => self.acl_roles,
            Table::AclAuthMethods => self.acl_auth_methods,
            Table::ConfigEntries => self.config_entries,
            Table::ConnectCa => self.connect_ca,
        }
    }

    /// Raises the index of one table to `index` (never lowers it).
    pub(crate) fn bump(&mut self, table: Table, index: u64) {
        let slot = match table {
            Table::Nodes => &mut self.nodes,
            Table::Services => &mut self.services,
            Table::Checks => &mut self.checks,
            Table::Kvs => &mut self.kvs,
            Table::Sessions => &mut self.sessions,
            Table::Tombstones => &mut self.tombstones,
            Table::Coordinates => &mut self.coordinates,
            Table::Areas => &mut self.areas,
            Table::PreparedQueries => &mut self.prepared_queries,
            Table::AclTokens => &mut self.acl_tokens,
            Table::AclPolicies => &mut self.acl_policies,
            Table::AclRoles => &mut self.acl_roles,
            Table::AclAuthMethods => &mut self.acl_auth_methods,
            Table::ConfigEntries => &mut self.config_entries,
            Table::ConnectCa => &mut self.connect_ca,
        };
        *slot = (*slot).max(index);
    }
}

/// What one applied command changed: the tables, and the KV keys written or deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub tables: BTreeSet<Table>,
    pub kv_keys: BTreeSet<String>,
}

impl ChangeSet {
    /// True when the command changed nothing.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Adds `other`'s changes (the commands of a batch). A KV change without named keys (every
    /// KV waiter re-checks) stays one: the merged set then names no keys.
    pub fn merge(&mut self, other: ChangeSet) {
        let every_key = self.kv_without_keys() || other.kv_without_keys();
        self.tables.extend(other.tables);
        self.kv_keys.extend(other.kv_keys);
        if every_key {
            self.kv_keys.clear();
        }
    }

    fn kv_without_keys(&self) -> bool {
        self.kv_keys.is_empty()
            && (self.tables.contains(&Table::Kvs) || self.tables.contains(&Table::Tombstones))
    }

    /// True when `table` changed.
    pub fn contains(&self, table: Table) -> bool {
        self.tables.contains(&table)
    }
}
