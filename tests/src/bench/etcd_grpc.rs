//! etcd driven at its best: the native v3 gRPC API (`/etcdserverpb.KV/Put` and `Range`) over
//! shared HTTP/2 connections, the way etcd's own `benchmark --conns C --clients N` drives it.
//!
//! The request and response messages are hand-written prost structs with the field numbers of
//! etcd's `rpc.proto` / `kv.proto` (responses declare only the fields the bench checks; prost skips
//! the others). A tokio runtime with 2 workers (the machine's cores) runs N client tasks; client
//! `i` sends over connection `i % C`, and connection `j` goes to member `j % 3`. Each run opens its
//! own C connections, warms them up, measures, and closes them. The figures come back as the same
//! [`Stats`] the HTTP load generator gives, so both sides are summarised alike.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use super::BenchError;
use super::async_load::{self, Client};
use super::load::{Limits, Stats, key};

/// `etcdserverpb.ResponseHeader`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseHeader {
    #[prost(uint64, tag = "1")]
    pub cluster_id: u64,
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    #[prost(int64, tag = "3")]
    pub revision: i64,
    #[prost(uint64, tag = "4")]
    pub raft_term: u64,
}

/// `etcdserverpb.PutRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub lease: i64,
    #[prost(bool, tag = "4")]
    pub prev_kv: bool,
    #[prost(bool, tag = "5")]
    pub ignore_value: bool,
    #[prost(bool, tag = "6")]
    pub ignore_lease: bool,
}

/// `etcdserverpb.PutResponse` (without `prev_kv = 2`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

/// `etcdserverpb.RangeRequest` (up to `count_only = 9`; the revision bounds are left out).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub limit: i64,
    #[prost(int64, tag = "4")]
    pub revision: i64,
    #[prost(int32, tag = "5")]
    pub sort_order: i32,
    #[prost(int32, tag = "6")]
    pub sort_target: i32,
    /// `false`: linearizable (etcd's default, a ReadIndex round); `true`: served by the member.
    #[prost(bool, tag = "7")]
    pub serializable: bool,
    #[prost(bool, tag = "8")]
    pub keys_only: bool,
    #[prost(bool, tag = "9")]
    pub count_only: bool,
}

/// `mvccpb.KeyValue` (key and value only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub value: Vec<u8>,
}

/// `etcdserverpb.RangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub kvs: Vec<KeyValue>,
    #[prost(bool, tag = "3")]
    pub more: bool,
    #[prost(int64, tag = "4")]
    pub count: i64,
}

/// What one run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdOp {
    /// Put of the 1 KiB value.
    Put,
    /// Range of one key: linearizable, or `serializable` (the counterpart of Consul's `?stale`).
    Range { serializable: bool },
}

/// Bound on one request (a run stops at most this long after its deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The gRPC load generator for one etcd cluster.
pub struct EtcdGrpc {
    rt: tokio::runtime::Runtime,
    /// `http://ip:2379` of every member.
    endpoints: Vec<String>,
    keys: u64,
    value: Arc<[u8]>,
}

impl EtcdGrpc {
    /// A generator for the members at `endpoints`, over a key space of `keys` keys, writing
    /// `value`. Connects nothing yet.
    pub fn new(endpoints: Vec<String>, keys: u64, value: Arc<[u8]>) -> Result<Self, BenchError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("etcd-grpc")
            .enable_all()
            .build()
            .map_err(|e| BenchError::Unexpected(format!("tokio runtime: {e}")))?;
        Ok(EtcdGrpc {
            rt,
            endpoints,
            keys,
            value,
        })
    }

    /// Runs `op` from `clients` tasks sharing `conns` connections until `limits` says stop.
    pub fn run(&self, conns: usize, clients: usize, limits: Limits, op: EtcdOp) -> Stats {
        let clients = clients.max(1);
        let conns = conns.clamp(1, clients);
        let job = Job {
            keys: self.keys,
            value: self.value.clone(),
            op,
        };
        self.rt
            .block_on(run(&self.endpoints, conns, clients, limits, job))
    }

    /// One request of `op` through a fresh connection to the first member.
    pub fn once(&self, op: EtcdOp) -> Result<(), String> {
        let limits = Limits {
            duration: REQUEST_TIMEOUT,
            max_requests: 1,
            warmup_per_client: 0,
        };
        let s = self.run(1, 1, limits, op);
        match s.first_error {
            Some(e) => Err(e),
            None if s.ok == 1 => Ok(()),
            None => Err("no request was sent".into()),
        }
    }
}

/// What a client task needs to build its requests.
#[derive(Clone)]
struct Job {
    keys: u64,
    value: Arc<[u8]>,
    op: EtcdOp,
}

impl Job {
    /// Request number `seq`: key `seq % keys`.
    async fn call(&self, grpc: &mut Grpc<Channel>, seq: u64) -> Result<(), String> {
        let status = |s: tonic::Status| format!("gRPC {:?}: {}", s.code(), s.message());
        grpc.ready().await.map_err(|e| format!("connection: {e}"))?;
        let key = key(seq, self.keys).into_bytes();
        match self.op {
            EtcdOp::Put => {
                let req = PutRequest {
                    key,
                    value: self.value.to_vec(),
                    ..Default::default()
                };
                let codec: ProstCodec<PutRequest, PutResponse> = ProstCodec::default();
                let path = PathAndQuery::from_static("/etcdserverpb.KV/Put");
                let resp = grpc
                    .unary(tonic::Request::new(req), path, codec)
                    .await
                    .map_err(status)?;
                match resp.into_inner().header {
                    Some(h) if h.revision > 0 => Ok(()),
                    other => Err(format!("Put answered header {other:?}")),
                }
            }
            EtcdOp::Range { serializable } => {
                let req = RangeRequest {
                    key,
                    serializable,
                    ..Default::default()
                };
                let codec: ProstCodec<RangeRequest, RangeResponse> = ProstCodec::default();
                let path = PathAndQuery::from_static("/etcdserverpb.KV/Range");
                let resp = grpc
                    .unary(tonic::Request::new(req), path, codec)
                    .await
                    .map_err(status)?
                    .into_inner();
                match resp.kvs.as_slice() {
                    [kv] if kv.value.len() == self.value.len() => Ok(()),
                    kvs => Err(format!(
                        "Range answered {} kvs ({:?} bytes)",
                        kvs.len(),
                        kvs.iter().map(|k| k.value.len()).collect::<Vec<_>>()
                    )),
                }
            }
        }
    }
}

/// Opens `conns` HTTP/2 connections, connection `j` to `endpoints[j % len]`.
async fn connect(endpoints: &[String], conns: usize) -> Result<Vec<Channel>, String> {
    let mut out = Vec::with_capacity(conns);
    for j in 0..conns {
        let url = &endpoints[j % endpoints.len()];
        let ep = Endpoint::from_shared(url.clone())
            .map_err(|e| format!("{url}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let ch = tokio::time::timeout(Duration::from_secs(10), ep.connect())
            .await
            .map_err(|_| format!("connecting to {url} timed out"))?
            .map_err(|e| format!("connecting to {url}: {e}"))?;
        out.push(ch);
    }
    Ok(out)
}

/// One client task: its gRPC handle on a shared connection and what it sends.
struct GrpcClient {
    grpc: Grpc<Channel>,
    job: Job,
}

impl Client for GrpcClient {
    fn call(&mut self, seq: u64) -> impl Future<Output = Result<(), String>> + Send {
        self.job.call(&mut self.grpc, seq)
    }
}

/// The generator proper (see the module doc): `clients` tasks over `conns` connections.
async fn run(
    endpoints: &[String],
    conns: usize,
    clients: usize,
    limits: Limits,
    job: Job,
) -> Stats {
    let channels = match connect(endpoints, conns).await {
        Ok(c) => c,
        Err(e) => {
            let mut stats = Stats::new(clients);
            stats.lost(&e);
            return stats;
        }
    };
    let clients = (0..clients)
        .map(|client| GrpcClient {
            grpc: Grpc::new(channels[client % channels.len()].clone()),
            job: job.clone(),
        })
        .collect();
    async_load::run(clients, limits, REQUEST_TIMEOUT).await
}
