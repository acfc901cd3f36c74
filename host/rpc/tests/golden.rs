//! Golden files of format version 1 for server-to-server RPC bodies (`Call`): requests and
//! answers as postcard writes them. A server of the next release must still read them (see
//! `praetor_state::format`). A missing file is written with `PRAETOR_BLESS_GOLDEN=1`; an
//! existing one is never overwritten.

use praetor_rpc::{Consistency, QueryRequest, QueryResponse, Request, Response, RpcError};
use praetor_state::{Command, KvEntry, KvOp, Query, QueryOutput, QueryResult};

fn check_golden(name: &str, bytes: &[u8]) -> Vec<u8> {
    praetor_golden::check(env!("CARGO_MANIFEST_DIR"), 1, name, bytes)
}

fn requests() -> Vec<Request> {
    vec![
        Request::Apply(Command::KvSet {
            op: KvOp::Cas,
            entry: KvEntry {
                key: "config/db".into(),
                value: b"postgres".to_vec(),
                ..Default::default()
            },
            cas_index: 5,
            now_ms: 1_765_000_000_000,
        }),
        Request::Query(QueryRequest {
            consistency: Consistency::Consistent,
            min_index: 7,
            wait_ms: 30_000,
            near: Some("_agent".into()),
            ..QueryRequest::new(Query::KvList {
                prefix: "config/".into(),
            })
        }),
        Request::SessionRenew { id: "s-1".into() },
        Request::Datacenters,
        Request::RaftStats,
    ]
}

fn responses() -> Vec<Response> {
    vec![
        Response::Query(QueryResponse {
            output: QueryOutput {
                index: 9,
                result: QueryResult::Keys(vec!["config/db".into()]),
            },
            known_leader: true,
            last_contact_ms: 0,
            consistency: Consistency::Default,
            results_filtered: false,
        }),
        Response::Datacenters(vec!["dc1".into(), "dc2".into()]),
        Response::SessionRenew { found: true },
        Response::Error(RpcError::NoPathToDatacenter),
    ]
}

#[test]
fn requests_of_version_1_still_decode() {
    let reqs = requests();
    let golden = check_golden(
        "requests.bin",
        &postcard::to_allocvec(&reqs).expect("encode"),
    );
    let decoded: Vec<Request> = postcard::from_bytes(&golden).expect("golden requests decode");
    assert_eq!(decoded, reqs);
}

#[test]
fn responses_of_version_1_still_decode() {
    let resps = responses();
    let golden = check_golden(
        "responses.bin",
        &postcard::to_allocvec(&resps).expect("encode"),
    );
    let decoded: Vec<Response> = postcard::from_bytes(&golden).expect("golden responses decode");
    assert_eq!(decoded, resps);
}
