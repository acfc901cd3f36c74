//! Golden files of format versions 1 and 2 (`praetor_state::format`): the postcard bytes of
//! raft commands and of a state snapshot as these layouts write them. The files in `golden/v<N>/`
//! must keep decoding to the same values in every later build; a change to these types that
//! moves bytes is a new format version (keep the old files, add a decoder, bump the number).
//!
//! `PRAETOR_BLESS_GOLDEN=1 cargo test -p praetor-state --test golden` writes missing files;
//! it never overwrites one.

use std::path::PathBuf;

use praetor_state::format::{BATCH_FORMAT, FORMAT_VERSION};
use praetor_state::{
    AclPolicy, AclToken, Area, Command, CommandResult, ConfigEntry, HealthCheck, KvEntry, KvOp,
    Node, PreparedQuery, Query, QueryResult, Service, Session, Store, StoreSnapshot, TxnKvOp,
    TxnKvVerb, TxnOp,
};

fn golden_dir(version: u32) -> PathBuf {
    praetor_golden::dir(env!("CARGO_MANIFEST_DIR"), version)
}

/// The same commands, in the same order, every time: one of each kind that carries data.
fn commands() -> Vec<Command> {
    let node = Node {
        id: "7f8e6d5c-4b3a-4291-8f7e-6d5c4b3a2910".into(),
        node: "n1".into(),
        address: "10.0.0.1".into(),
        datacenter: "dc1".into(),
        ..Default::default()
    };
    vec![
        Command::Register {
            node: node.clone(),
            service: Some(Service {
                id: "web-1".into(),
                service: "web".into(),
                tags: vec!["v1".into()],
                port: 8080,
                ..Default::default()
            }),
            checks: vec![HealthCheck {
                node: "n1".into(),
                check_id: "web-ttl".into(),
                name: "web ttl".into(),
                service_id: "web-1".into(),
                service_name: "web".into(),
                ..Default::default()
            }],
            now_ms: 1_765_000_000_000,
        },
        Command::KvSet {
            op: KvOp::Set,
            entry: KvEntry {
                key: "config/db".into(),
                value: b"postgres".to_vec(),
                flags: 42,
                ..Default::default()
            },
            cas_index: 0,
            now_ms: 1_765_000_000_001,
        },
        Command::SessionCreate {
            session: Session {
                id: "a1b2c3d4-0000-4000-8000-000000000001".into(),
                node: "n1".into(),
                name: "lock".into(),
                ..Default::default()
            },
            now_ms: 1_765_000_000_002,
        },
        Command::Txn {
            ops: vec![TxnOp::from(TxnKvOp {
                value: b"v".to_vec(),
                ..TxnKvOp::new(TxnKvVerb::Set, "txn/key")
            })],
            now_ms: 1_765_000_000_003,
        },
        Command::AreaUpsert {
            area: Area {
                id: "0e0f0a0b-1c1d-4e1f-8a2b-3c4d5e6f7a8b".into(),
                peer_datacenter: "dc2".into(),
                retry_join: vec!["10.0.2.1".into()],
                use_tls: true,
                ..Default::default()
            },
        },
        Command::PreparedQuerySet {
            query: PreparedQuery {
                id: "5d6e7f80-1a2b-4c3d-8e4f-5a6b7c8d9e0f".into(),
                name: "web-query".into(),
                ..Default::default()
            },
            create: true,
        },
        Command::AclPolicySet {
            policy: AclPolicy {
                id: "6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f".into(),
                name: "readers".into(),
                rules: "key_prefix \"\" { policy = \"read\" }".into(),
                ..Default::default()
            },
            create: true,
        },
        Command::AclTokenSet {
            token: AclToken {
                accessor_id: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d".into(),
                secret_id: "9f8e7d6c-5b4a-4392-8a1b-0c9d8e7f6a5b".into(),
                description: "golden".into(),
                ..Default::default()
            },
            create: true,
        },
        Command::ConfigEntrySet {
            entry: ConfigEntry {
                kind: "service-defaults".into(),
                name: "web".into(),
                body: r#"{"Kind":"service-defaults","Name":"web","Protocol":"http"}"#.into(),
                ..Default::default()
            },
            cas: None,
        },
    ]
}

/// Compares `bytes` with the golden file `name` (writing it when blessing and absent).
fn check_golden(version: u32, name: &str, bytes: &[u8]) -> Vec<u8> {
    praetor_golden::check(env!("CARGO_MANIFEST_DIR"), version, name, bytes)
}

#[test]
fn commands_of_version_1_still_decode() {
    let cmds = commands();
    let bytes = postcard::to_allocvec(&cmds).expect("encode");
    let golden = check_golden(FORMAT_VERSION, "commands.bin", &bytes);
    let decoded: Vec<Command> = postcard::from_bytes(&golden).expect("golden commands decode");
    assert_eq!(decoded, cmds);
}

#[test]
fn a_snapshot_of_version_1_still_decodes() {
    let mut store = Store::new();
    for (i, cmd) in commands().into_iter().enumerate() {
        store.apply(i as u64 + 1, cmd);
    }
    let snapshot = store.snapshot();
    let bytes = postcard::to_allocvec(&snapshot).expect("encode");
    let golden = check_golden(FORMAT_VERSION, "snapshot.bin", &bytes);
    let decoded: StoreSnapshot = postcard::from_bytes(&golden).expect("golden snapshot decodes");
    assert_eq!(decoded, snapshot);
    // What a restored store holds is what the commands wrote.
    let restored = Store::restore(decoded);
    match restored
        .query(&Query::KvGet {
            key: "config/db".into(),
        })
        .result
    {
        QueryResult::Kv(Some(e)) => assert_eq!(e.value, b"postgres"),
        other => panic!("config/db after restore: {other:?}"),
    }
    assert_eq!(
        postcard::to_allocvec(&restored.snapshot()).expect("encode"),
        golden
    );
}

/// Version 2: a batch of every version-1 command, and a batch result. The version-1 commands
/// inside keep their bytes (a batch is the appended variant's tag and a length in front).
#[test]
fn a_batch_of_version_2_still_decodes() {
    let batch = Command::Batch(commands());
    let bytes = postcard::to_allocvec(&batch).expect("encode");
    let golden = check_golden(BATCH_FORMAT, "batch.bin", &bytes);
    let v1 = std::fs::read(golden_dir(FORMAT_VERSION).join("commands.bin")).expect("v1 file");
    assert_eq!(
        golden[1..],
        v1[..],
        "a batch is one tag byte before version 1's bytes"
    );
    assert_eq!(
        postcard::from_bytes::<Command>(&golden).expect("golden batch decodes"),
        batch
    );
    let result = CommandResult::Batch(vec![
        CommandResult::Ok,
        CommandResult::Bool(false),
        CommandResult::Error("Missing node registration".into()),
    ]);
    let bytes = postcard::to_allocvec(&result).expect("encode");
    let golden = check_golden(BATCH_FORMAT, "batch_result.bin", &bytes);
    assert_eq!(
        postcard::from_bytes::<CommandResult>(&golden).expect("golden batch result decodes"),
        result
    );
}
