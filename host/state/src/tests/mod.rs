//! Unit tests of the state machine, with a small harness that numbers raft indexes.

mod acl;
mod areas;
mod batch;
mod catalog;
mod config_entry;
mod coordinates;
mod kv;
mod notify;
mod prepared_query;
mod props;
mod query;
mod restore;
mod serde_roundtrip;
mod session;
mod txn;

use crate::{
    ChangeSet, CheckStatus, Command, CommandResult, HealthCheck, KvEntry, KvOp, Node, Query,
    QueryOutput, QueryResult, Service, Session, SessionBehavior, Store,
};

/// Milliseconds "now" used by the tests (any fixed value).
pub(crate) const NOW: u64 = 1_700_000_000_000;

/// A store plus the next raft index to use.
pub(crate) struct Harness {
    pub store: Store,
    pub next: u64,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            store: Store::new(),
            next: 1,
        }
    }

    /// Applies at the next index; returns (index, result, changes).
    pub fn apply(&mut self, cmd: Command) -> (u64, CommandResult, ChangeSet) {
        let idx = self.next;
        self.next += 1;
        let (r, c) = self.store.apply(idx, cmd);
        (idx, r, c)
    }

    pub fn ok(&mut self, cmd: Command) -> u64 {
        let (idx, r, _) = self.apply(cmd);
        assert_eq!(r, CommandResult::Ok, "command at {idx}");
        idx
    }

    /// Registers a node with a passing serfHealth check.
    pub fn node(&mut self, name: &str) -> u64 {
        self.ok(register(
            node(name),
            None,
            vec![check(name, "serfHealth", CheckStatus::Passing, "")],
        ))
    }

    pub fn kv(
        &mut self,
        op: KvOp,
        key: &str,
        value: &str,
        session: Option<&str>,
        cas: u64,
    ) -> (u64, CommandResult) {
        self.kv_at(op, key, value, session, cas, NOW)
    }

    pub fn kv_at(
        &mut self,
        op: KvOp,
        key: &str,
        value: &str,
        session: Option<&str>,
        cas: u64,
        now_ms: u64,
    ) -> (u64, CommandResult) {
        let entry = KvEntry {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            session: session.map(str::to_string),
            ..KvEntry::default()
        };
        let (idx, r, _) = self.apply(Command::KvSet {
            op,
            entry,
            cas_index: cas,
            now_ms,
        });
        (idx, r)
    }

    pub fn set(&mut self, key: &str, value: &str) -> u64 {
        let (idx, r) = self.kv(KvOp::Set, key, value, None, 0);
        assert_eq!(r, CommandResult::Bool(true));
        idx
    }

    pub fn get(&self, key: &str) -> Option<KvEntry> {
        match self.query(&Query::KvGet { key: key.into() }).result {
            QueryResult::Kv(e) => e,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn query(&self, q: &Query) -> QueryOutput {
        self.store.query(q)
    }

    pub fn create_session(&mut self, s: Session) -> u64 {
        self.ok(Command::SessionCreate {
            session: s,
            now_ms: NOW,
        })
    }
}

pub(crate) fn node(name: &str) -> Node {
    Node {
        node: name.into(),
        address: "10.0.0.1".into(),
        datacenter: "dc1".into(),
        ..Node::default()
    }
}

pub(crate) fn service(id: &str, name: &str, tags: &[&str]) -> Service {
    Service {
        id: id.into(),
        service: name.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        port: 8080,
        ..Service::default()
    }
}

pub(crate) fn check(node: &str, id: &str, status: CheckStatus, service_id: &str) -> HealthCheck {
    HealthCheck {
        node: node.into(),
        check_id: id.into(),
        name: id.into(),
        status,
        service_id: service_id.into(),
        ..HealthCheck::default()
    }
}

pub(crate) fn register(node: Node, service: Option<Service>, checks: Vec<HealthCheck>) -> Command {
    Command::Register {
        node,
        service,
        checks,
        now_ms: NOW,
    }
}

pub(crate) fn session(
    id: &str,
    node: &str,
    behavior: SessionBehavior,
    lock_delay_ms: u64,
) -> Session {
    Session {
        id: id.into(),
        node: node.into(),
        node_checks: vec!["serfHealth".into()],
        behavior,
        lock_delay_ms,
        ..Session::default()
    }
}
