//! praetor's replicated state machine: the catalog (nodes, services, checks), the KV store,
//! sessions, KV transactions, network coordinates and network areas, with Consul's raft-index rules and
//! change notification for blocking queries.
//!
//! Pure and deterministic: no I/O, no clock (time arrives inside commands as `now_ms`), no
//! configuration. Raft applies [`Command`]s through [`Store::apply`] (or [`SharedStore::apply`],
//! which also wakes blocking queries); readers run [`Query`]s.

mod acl;
mod areas;
mod autopilot;
mod ca;
mod catalog;
mod change;
mod command;
mod config_entry;
mod coordinates;
mod error;
pub mod format;
mod kv;
mod notify;
mod prepared_query;
mod query;
mod session;
mod shared;
mod store;
mod txn;
mod types;

#[cfg(test)]
mod tests;

pub use acl::{
    AclAuthMethod, AclBindingRule, AclLink, AclNodeIdentity, AclPolicy, AclReplicationSet,
    AclResolved, AclRole, AclServiceIdentity, AclTemplatedPolicy, AclToken, AclTokenFilter,
};
pub use areas::Area;
pub use autopilot::AutopilotConfig;
pub use ca::{CaConfiguration, CaRoot, CaSigner, CaState};
pub use catalog::SERF_CHECK_ID;
pub use change::{ChangeSet, Table, TableIndexes};
pub use command::{Command, CommandResult, KvOp, TxnError, TxnKvOp, TxnKvVerb, TxnOp, TxnResult};
pub use config_entry::ConfigEntry;
pub use error::StateError;
pub use notify::{Notifier, NotifierClosed, Watch};
pub use prepared_query::{
    PreparedQuery, QueryFailover, QueryTemplate, ServiceQuery, is_uuid,
    render as render_prepared_query,
};
pub use query::{Query, QueryOutput, QueryResult};
pub use session::MAX_LOCK_DELAY_MS;
pub use shared::SharedStore;
pub use store::{Store, StoreSnapshot};
pub use types::{
    CheckServiceNode, CheckStatus, HealthCheck, KvEntry, Node, NodeCoordinate, Service,
    ServiceAddress, ServiceCheckRef, ServiceNode, ServiceProxy, Session, SessionBehavior, Upstream,
    Weights,
};
