//! praetor's KV driven the way the etcd side is: a tokio runtime with 2 workers (the machine's
//! cores) runs N client tasks, each over its own keep-alive HTTP/1.1 connection (HTTP/1.1 has one
//! request in flight per connection; Consul clients pool connections the same way), client `i`
//! to member `i % members`. The requests and checks are those of the thread-per-client generator
//! in [`super::load`] (`PUT /v1/kv/<key>` answering `true`, `GET /v1/kv/<key>?raw[&stale]`
//! answering the value), so the two generators measure the same work; this one does not spend the
//! cores on 64 blocked threads, as etcd's gRPC client does not.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use super::BenchError;
use super::async_load::{self, Client};
use super::load::{Limits, Stats, key};

/// What one run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpOp {
    /// `PUT /v1/kv/<key>` of the value.
    Put,
    /// `GET /v1/kv/<key>?raw`, or `?raw&stale`.
    Get { stale: bool },
}

/// Bound on one request (a run stops at most this long after its deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The async HTTP load generator for one praetor cluster.
pub struct PraetorHttp {
    rt: tokio::runtime::Runtime,
    /// `host:port` of every member's HTTP API.
    members: Vec<String>,
    keys: u64,
    value: Bytes,
}

impl PraetorHttp {
    /// A generator for the HTTP APIs at `bases` (`http://host:port`), over a key space of
    /// `keys` keys, writing `value`. Connects nothing yet.
    pub fn new(bases: &[String], keys: u64, value: &[u8]) -> Result<Self, BenchError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("praetor-http")
            .enable_all()
            .build()
            .map_err(|e| BenchError::Unexpected(format!("tokio runtime: {e}")))?;
        let members = bases
            .iter()
            .map(|b| {
                b.trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_owned()
            })
            .collect();
        Ok(PraetorHttp {
            rt,
            members,
            keys,
            value: Bytes::copy_from_slice(value),
        })
    }

    /// Runs `op` from `clients` tasks, one connection each, until `limits` says stop.
    pub fn run(&self, clients: usize, limits: Limits, op: HttpOp) -> Stats {
        let job = Job {
            keys: self.keys,
            value: self.value.clone(),
            op,
        };
        self.rt
            .block_on(run(&self.members, clients.max(1), limits, job))
    }
}

/// What a client task needs to build its requests.
#[derive(Clone)]
struct Job {
    keys: u64,
    value: Bytes,
    op: HttpOp,
}

impl Job {
    /// Request number `seq` (key `seq % keys`) over `conn`.
    async fn call(
        &self,
        conn: &mut SendRequest<Full<Bytes>>,
        host: &str,
        seq: u64,
    ) -> Result<(), String> {
        let key = key(seq, self.keys);
        let (method, uri, body) = match self.op {
            HttpOp::Put => ("PUT", format!("/v1/kv/{key}"), self.value.clone()),
            HttpOp::Get { stale } => {
                let params = if stale { "?raw&stale" } else { "?raw" };
                ("GET", format!("/v1/kv/{key}{params}"), Bytes::new())
            }
        };
        let req = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host)
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))?;
        conn.ready().await.map_err(|e| format!("connection: {e}"))?;
        let resp = conn
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        let ok = status == 200
            && match self.op {
                HttpOp::Put => body.trim_ascii() == b"true",
                HttpOp::Get { .. } => body.len() == self.value.len(),
            };
        if ok {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            Err(format!("HTTP {status}: {text}"))
        }
    }
}

/// One keep-alive HTTP/1.1 connection to `host` (its driver runs as a task of its own).
async fn connect(host: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let tcp = tokio::time::timeout(REQUEST_TIMEOUT, tokio::net::TcpStream::connect(host))
        .await
        .map_err(|_| format!("connecting to {host} timed out"))?
        .map_err(|e| format!("connecting to {host}: {e}"))?;
    tcp.set_nodelay(true)
        .map_err(|e| format!("nodelay on {host}: {e}"))?;
    let (send, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("handshake with {host}: {e}"))?;
    tokio::spawn(conn);
    Ok(send)
}

/// One client task: its own connection, the host it talks to, and what it sends.
struct HttpClient {
    conn: SendRequest<Full<Bytes>>,
    host: String,
    job: Job,
}

impl Client for HttpClient {
    fn call(&mut self, seq: u64) -> impl Future<Output = Result<(), String>> + Send {
        self.job.call(&mut self.conn, &self.host, seq)
    }
}

/// The generator proper (see the module doc): one connection per client, then the run.
async fn run(members: &[String], clients: usize, limits: Limits, job: Job) -> Stats {
    let mut conns = Vec::with_capacity(clients);
    for client in 0..clients {
        let host = members[client % members.len()].clone();
        match connect(&host).await {
            Ok(conn) => conns.push(HttpClient {
                conn,
                host,
                job: job.clone(),
            }),
            Err(e) => {
                let mut stats = Stats::new(clients);
                stats.lost(&e);
                return stats;
            }
        }
    }
    async_load::run(conns, limits, REQUEST_TIMEOUT).await
}
