//! The state machine behind its decoders: mutated snapshot bytes (a `/v1/snapshot` restore, a
//! raft snapshot from the leader), raft commands and queries never panic the decoder nor what
//! runs on a decoded value (`Store::restore`, `apply`, `query`, `snapshot`); see `praetor_fuzz`.
//! The seeds are the golden files of format version 1 and a query of every kind.

use praetor_state::{CheckStatus, Command, Query, Store, StoreSnapshot};

fn golden(name: &str) -> Vec<u8> {
    let path = praetor_golden::dir(env!("CARGO_MANIFEST_DIR"), 1).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The golden snapshot, restored: what the mutated commands and queries run against.
fn golden_store() -> Store {
    let snap: StoreSnapshot = postcard::from_bytes(&golden("snapshot.bin")).expect("decodes");
    Store::restore(snap)
}

fn queries() -> Vec<Query> {
    let s = || "web".to_string();
    let tag = || Some("v1".to_string());
    vec![
        Query::KvGet {
            key: "config/db".into(),
        },
        Query::KvList {
            prefix: "config/".into(),
        },
        Query::KvKeys {
            prefix: "config/".into(),
            separator: Some("/".into()),
        },
        Query::CatalogNodes,
        Query::CatalogServices,
        Query::CatalogService {
            service: s(),
            tag: tag(),
        },
        Query::CatalogNode { node: "n1".into() },
        Query::HealthNode { node: "n1".into() },
        Query::HealthChecks { service: s() },
        Query::HealthState {
            state: Some(CheckStatus::Critical),
        },
        Query::HealthService {
            service: s(),
            tag: tag(),
            passing_only: true,
        },
        Query::SessionInfo { id: "x".into() },
        Query::SessionNode { node: "n1".into() },
        Query::SessionList,
        Query::CoordinateNodes { segment: None },
        Query::CoordinateNode { node: "n1".into() },
        Query::Areas,
        Query::AreaGet { id: "a".into() },
        Query::CatalogServiceNodes,
        Query::AutopilotConfig,
        Query::PreparedQueryList,
        Query::PreparedQueryGet { id: "q".into() },
        Query::PreparedQueryResolve { name: s() },
        Query::AclTokenGet {
            accessor_id: "a".into(),
        },
        Query::AclTokenBySecret {
            secret_id: "s".into(),
        },
        Query::AclTokenList {
            filter: Default::default(),
        },
        Query::AclPolicies {
            id: None,
            name: Some("p".into()),
        },
        Query::AclRoles {
            id: None,
            name: None,
            policy: Some("p".into()),
        },
        Query::AclResolve {
            secret_id: "s".into(),
        },
        Query::AclReplication { tokens: true },
        Query::AclAuthMethods { name: None },
        Query::AclBindingRules {
            id: None,
            auth_method: Some("m".into()),
        },
        Query::ConfigEntries {
            kind: Some("service-defaults".into()),
            name: Some(s()),
        },
        Query::CaRoots,
        Query::CaConfig,
        Query::HealthConnect {
            service: s(),
            tag: tag(),
            passing_only: false,
        },
        Query::CatalogConnect {
            service: s(),
            tag: None,
        },
        Query::HealthKind {
            kind: "mesh-gateway".into(),
            passing_only: true,
        },
        Query::HealthAll,
    ]
}

#[test]
fn fuzz_snapshot_restore() {
    let seed = golden("snapshot.bin");
    praetor_fuzz::run("state snapshot", &[&seed], |bytes| {
        if let Ok(snap) = postcard::from_bytes::<StoreSnapshot>(bytes) {
            let store = Store::restore(snap);
            let _ = store.snapshot();
            let _ = store.query(&Query::HealthAll);
            let _ = store.query(&Query::KvList {
                prefix: String::new(),
            });
        }
    });
}

/// The postcard bytes of each value (the fuzz seeds).
fn encoded<T: serde::Serialize>(values: &[T]) -> Vec<Vec<u8>> {
    values
        .iter()
        .map(|v| postcard::to_allocvec(v).expect("encodes"))
        .collect()
}

#[test]
fn fuzz_commands_apply() {
    let base = golden_store();
    let next = base.snapshot().last_index + 1;
    let commands: Vec<Command> = postcard::from_bytes(&golden("commands.bin")).expect("decodes");
    let seeds = encoded(&commands);
    let seeds: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    praetor_fuzz::run("state commands", &seeds, |bytes| {
        if let Ok(cmd) = postcard::from_bytes::<Command>(bytes) {
            let mut store = base.clone();
            let _ = store.apply(next, cmd);
            let _ = store.snapshot();
        }
    });
}

#[test]
fn fuzz_queries() {
    let store = golden_store();
    let seeds = encoded(&queries());
    let seeds: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    praetor_fuzz::run("state queries", &seeds, |bytes| {
        if let Ok(q) = postcard::from_bytes::<Query>(bytes) {
            let _ = store.query(&q);
        }
    });
}
