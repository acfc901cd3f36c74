//! The server RPC layer and the one forwarding point.
//!
//! [`Rpc::call`] decides where every request runs, for the HTTP API, DNS and the CLI alike:
//! on this server, on the raft leader, on a server of the local datacenter (from a client agent),
//! or, once federation exists, in another datacenter. Today any datacenter other than the local
//! one answers Consul's `No path to datacenter`.

mod error;
mod messages;
mod sessions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use praetor_consensus::{Consensus, ConsensusError};
use praetor_proto::rpc::rpc_client::RpcClient;
use praetor_proto::rpc::rpc_server::{Rpc as RpcSvc, RpcServer};
use praetor_proto::rpc::{CallReply, CallRequest};
use praetor_state::{Command, CommandResult};
use tonic::transport::Channel;

pub use error::RpcError;
pub use messages::{Consistency, QueryRequest, QueryResponse, RaftServerInfo, Request, Response};
pub use sessions::{SESSION_TTL_MULTIPLIER, SessionTimers};

/// Consul's `performance.rpc_hold_timeout`: how long a request waits for a leader.
const RPC_HOLD_TIMEOUT: Duration = Duration::from_secs(7);
/// Extra time given to a forwarded call beyond its own wait.
const RPC_MARGIN: Duration = Duration::from_secs(10);
/// Hop limit for forwarding inside a datacenter (client -> server -> leader).
const MAX_HOPS: u32 = 3;
/// Consul's maximum blocking wait.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// Consul's default blocking wait.
const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// A server of the local datacenter, as learned from LAN gossip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    pub name: String,
    pub rpc_addr: SocketAddr,
}

/// Counters exported as metrics.
#[derive(Default, Debug)]
pub struct RpcCounters {
    pub calls_in: AtomicU64,
    pub calls_out: AtomicU64,
    pub call_errors: AtomicU64,
    pub blocking_in_flight: AtomicU64,
}

struct Inner {
    datacenter: String,
    consensus: Option<Consensus>,
    servers: RwLock<Vec<ServerEntry>>,
    preferred: AtomicUsize,
    pool: Mutex<HashMap<SocketAddr, RpcClient<Channel>>>,
    sessions: Arc<SessionTimers>,
    counters: Arc<RpcCounters>,
}

/// The forwarding point. Cheap to clone.
#[derive(Clone)]
pub struct Rpc {
    inner: Arc<Inner>,
}

impl Rpc {
    /// For a server agent: requests run here or on the leader.
    pub fn server(datacenter: &str, consensus: Consensus) -> Self {
        Self::new(datacenter, Some(consensus))
    }

    /// For a client agent: requests go to a server of the local datacenter.
    pub fn client(datacenter: &str) -> Self {
        Self::new(datacenter, None)
    }

    fn new(datacenter: &str, consensus: Option<Consensus>) -> Self {
        Rpc {
            inner: Arc::new(Inner {
                datacenter: datacenter.to_string(),
                consensus,
                servers: RwLock::new(Vec::new()),
                preferred: AtomicUsize::new(0),
                pool: Mutex::new(HashMap::new()),
                sessions: Arc::new(SessionTimers::default()),
                counters: Arc::new(RpcCounters::default()),
            }),
        }
    }

    pub fn datacenter(&self) -> &str {
        &self.inner.datacenter
    }

    pub fn consensus(&self) -> Option<&Consensus> {
        self.inner.consensus.as_ref()
    }

    pub fn sessions(&self) -> &Arc<SessionTimers> {
        &self.inner.sessions
    }

    pub fn counters(&self) -> &Arc<RpcCounters> {
        &self.inner.counters
    }

    /// Replaces the list of known local servers (fed from LAN gossip).
    pub fn set_servers(&self, mut servers: Vec<ServerEntry>) {
        servers.sort_by(|a, b| a.name.cmp(&b.name));
        if let Ok(mut s) = self.inner.servers.write() {
            *s = servers;
        }
    }

    pub fn servers(&self) -> Vec<ServerEntry> {
        self.inner
            .servers
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The tonic service answering `Call` on the server RPC port.
    pub fn service(&self) -> RpcServer<RpcService> {
        RpcServer::new(RpcService { rpc: self.clone() })
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    /// Runs `req` in datacenter `dc` (`None` = local): the one forwarding point.
    pub async fn call(&self, dc: Option<&str>, req: Request) -> Result<Response, RpcError> {
        let dc = dc.filter(|d| !d.is_empty());
        match &self.inner.consensus {
            Some(c) => self.route_on_server(c, dc, req, 0).await,
            // A client agent knows no other datacenter: its servers route the request.
            None => self.forward_to_any_server(dc, req).await,
        }
    }

    /// On a server: run in this datacenter, or (once federation exists) route to another.
    async fn route_on_server(
        &self,
        c: &Consensus,
        dc: Option<&str>,
        req: Request,
        hops: u32,
    ) -> Result<Response, RpcError> {
        match dc {
            Some(dc) if dc != self.inner.datacenter => Err(RpcError::NoPathToDatacenter),
            _ => self.handle_on_server(c, req, hops).await,
        }
    }

    /// Applies a command (forwarded to the leader as needed).
    pub async fn apply(&self, dc: Option<&str>, cmd: Command) -> Result<CommandResult, RpcError> {
        match self.call(dc, Request::Apply(cmd)).await? {
            Response::Apply(r) => Ok(r),
            other => Err(unexpected(&other)),
        }
    }

    /// Runs a read (forwarded per its consistency mode).
    pub async fn query(
        &self,
        dc: Option<&str>,
        q: QueryRequest,
    ) -> Result<QueryResponse, RpcError> {
        match self.call(dc, Request::Query(q)).await? {
            Response::Query(r) => Ok(r),
            other => Err(unexpected(&other)),
        }
    }

    async fn handle_on_server(
        &self,
        c: &Consensus,
        req: Request,
        hops: u32,
    ) -> Result<Response, RpcError> {
        match req {
            Request::Apply(cmd) => self.apply_on_server(c, cmd, hops).await,
            Request::Query(q) => self.query_on_server(c, q, hops).await,
            Request::RaftConfiguration => {
                let servers = c
                    .peers()
                    .into_iter()
                    .map(|p| RaftServerInfo {
                        id: raft_id_string(p.id),
                        node: p.node.name,
                        address: p.node.rpc_addr,
                        leader: p.leader,
                        voter: p.voter,
                    })
                    .collect();
                Ok(Response::RaftConfiguration {
                    servers,
                    index: c.applied_index().max(1),
                })
            }
            Request::SessionRenew { id } => {
                if !c.is_leader() {
                    return self
                        .forward_to_leader(c, Request::SessionRenew { id }, hops)
                        .await;
                }
                let exists = !matches!(
                    c.store().query(&praetor_state::Query::SessionInfo { id: id.clone() }).result,
                    praetor_state::QueryResult::Sessions(ref s) if s.is_empty()
                );
                self.inner.sessions.renew(&id);
                Ok(Response::SessionRenew { found: exists })
            }
            Request::RemoveRaftPeer { node } => {
                if !c.is_leader() {
                    return self
                        .forward_to_leader(c, Request::RemoveRaftPeer { node }, hops)
                        .await;
                }
                if let Some(p) = c.peers().into_iter().find(|p| p.node.name == node) {
                    c.remove_server(p.id).await.map_err(consensus_err)?;
                }
                Ok(Response::RemoveRaftPeer)
            }
        }
    }

    async fn apply_on_server(
        &self,
        c: &Consensus,
        cmd: Command,
        hops: u32,
    ) -> Result<Response, RpcError> {
        let deadline = Instant::now() + RPC_HOLD_TIMEOUT;
        loop {
            match c.write(cmd.clone()).await {
                Ok(r) => return Ok(Response::Apply(r)),
                Err(ConsensusError::ForwardToLeader(Some((id, node)))) if id != c.node_id() => {
                    return self
                        .forward_to(
                            &node.rpc_addr,
                            None,
                            Request::Apply(cmd),
                            hops + 1,
                            RPC_MARGIN,
                        )
                        .await;
                }
                Err(ConsensusError::ForwardToLeader(_)) | Err(ConsensusError::NoLeader) => {
                    if Instant::now() >= deadline {
                        return Err(RpcError::NoLeader);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await; // waiting for an election
                }
                Err(e) => return Err(consensus_err(e)),
            }
        }
    }

    async fn query_on_server(
        &self,
        c: &Consensus,
        q: QueryRequest,
        hops: u32,
    ) -> Result<Response, RpcError> {
        if q.consistency != Consistency::Stale && !c.is_leader() {
            return self.forward_to_leader(c, Request::Query(q), hops).await;
        }
        if q.consistency == Consistency::Consistent {
            c.read_barrier().await.map_err(consensus_err)?;
        }
        let store = c.store().clone();
        let output = if q.min_index > 0 {
            let deadline = tokio::time::Instant::now() + blocking_wait(q.wait_ms);
            self.inner
                .counters
                .blocking_in_flight
                .fetch_add(1, Ordering::Relaxed);
            let _guard = InFlight(&self.inner.counters.blocking_in_flight);
            store.blocking_query(&q.query, q.min_index, deadline).await
        } else {
            store.query(&q.query)
        };
        let last_contact_ms = c.last_contact().map(|d| d.as_millis() as u64).unwrap_or(0);
        Ok(Response::Query(QueryResponse {
            output,
            known_leader: c.leader().is_some(),
            last_contact_ms,
            consistency: q.consistency,
        }))
    }

    async fn forward_to_leader(
        &self,
        c: &Consensus,
        req: Request,
        hops: u32,
    ) -> Result<Response, RpcError> {
        let deadline = Instant::now() + RPC_HOLD_TIMEOUT;
        loop {
            match c.leader() {
                Some((id, node)) if id != c.node_id() => {
                    let timeout = match &req {
                        Request::Query(q) if q.min_index > 0 => {
                            blocking_wait(q.wait_ms) + RPC_MARGIN
                        }
                        _ => RPC_MARGIN,
                    };
                    return self
                        .forward_to(&node.rpc_addr, None, req, hops + 1, timeout)
                        .await;
                }
                Some(_) => return Box::pin(self.handle_on_server(c, req, hops)).await,
                None if Instant::now() >= deadline => return Err(RpcError::NoLeader),
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn forward_to_any_server(
        &self,
        dc: Option<&str>,
        req: Request,
    ) -> Result<Response, RpcError> {
        let servers = self.servers();
        if servers.is_empty() {
            return Err(RpcError::NoServers);
        }
        let timeout = match &req {
            Request::Query(q) if q.min_index > 0 => blocking_wait(q.wait_ms) + RPC_MARGIN,
            _ => RPC_MARGIN + RPC_HOLD_TIMEOUT,
        };
        let start = self.inner.preferred.load(Ordering::Relaxed);
        let mut last_err = RpcError::NoServers;
        for i in 0..servers.len() {
            let s = &servers[(start + i) % servers.len()];
            match self
                .forward_to(&s.rpc_addr.to_string(), dc, req.clone(), 1, timeout)
                .await
            {
                Err(RpcError::Transport(e)) => {
                    tracing::warn!(server = %s.name, error = %e, "server unreachable, trying another");
                    self.inner
                        .preferred
                        .store((start + i + 1) % servers.len(), Ordering::Relaxed);
                    last_err = RpcError::Transport(e);
                }
                Err(e) => return Err(RpcError::Forwarded(Box::new(e))),
                ok => return ok,
            }
        }
        Err(last_err)
    }

    fn client_for(&self, addr: SocketAddr) -> Result<RpcClient<Channel>, RpcError> {
        let mut pool = self
            .inner
            .pool
            .lock()
            .map_err(|_| RpcError::Internal("rpc pool poisoned".into()))?;
        if let Some(c) = pool.get(&addr) {
            return Ok(c.clone());
        }
        let ch = praetor_consensus::channel(&addr.to_string())
            .map_err(|e| RpcError::Transport(e.to_string()))?;
        let c = RpcClient::new(ch)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        pool.insert(addr, c.clone());
        Ok(c)
    }

    /// Sends one request to one server and decodes its answer.
    async fn forward_to(
        &self,
        addr: &str,
        dc: Option<&str>,
        req: Request,
        hops: u32,
        timeout: Duration,
    ) -> Result<Response, RpcError> {
        if hops > MAX_HOPS {
            return Err(RpcError::Internal("too many forwarding hops".into()));
        }
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| RpcError::Internal(format!("bad server address {addr}")))?;
        let body = postcard::to_allocvec(&req).map_err(|e| RpcError::Internal(e.to_string()))?;
        let mut client = self.client_for(addr)?;
        let mut call = tonic::Request::new(CallRequest {
            source_datacenter: self.inner.datacenter.clone(),
            hops,
            body: body.into(),
            datacenter: dc.unwrap_or_default().to_string(),
        });
        call.set_timeout(timeout);
        self.inner
            .counters
            .calls_out
            .fetch_add(1, Ordering::Relaxed);
        let reply = client.call(call).await.map_err(|s| {
            self.inner
                .counters
                .call_errors
                .fetch_add(1, Ordering::Relaxed);
            RpcError::Transport(format!("{addr}: {}", s.message()))
        })?;
        let resp: Response = postcard::from_bytes(&reply.into_inner().body)
            .map_err(|e| RpcError::Internal(e.to_string()))?;
        match resp {
            Response::Error(e) => Err(e),
            r => Ok(r),
        }
    }
}

struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Consul's blocking wait: default 5 min, capped at 10 min, plus up to wait/16 of jitter.
fn blocking_wait(wait_ms: u64) -> Duration {
    let wait = if wait_ms == 0 {
        DEFAULT_WAIT
    } else {
        Duration::from_millis(wait_ms).min(MAX_WAIT)
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = wait / 16 * (nanos % 1000) / 1000;
    wait + jitter
}

/// The raft id rendered as Consul shows node IDs.
pub fn raft_id_string(id: u64) -> String {
    format!("{id:016x}")
}

fn consensus_err(e: ConsensusError) -> RpcError {
    match e {
        ConsensusError::NoLeader | ConsensusError::ForwardToLeader(None) => RpcError::NoLeader,
        e => RpcError::Internal(e.to_string()),
    }
}

fn unexpected(r: &Response) -> RpcError {
    RpcError::Internal(format!("unexpected rpc response: {r:?}"))
}

/// The incoming side of `Call`.
pub struct RpcService {
    rpc: Rpc,
}

#[tonic::async_trait]
impl RpcSvc for RpcService {
    async fn call(
        &self,
        request: tonic::Request<CallRequest>,
    ) -> Result<tonic::Response<CallReply>, tonic::Status> {
        let call = request.into_inner();
        self.rpc
            .inner
            .counters
            .calls_in
            .fetch_add(1, Ordering::Relaxed);
        let req: Request = postcard::from_bytes(&call.body)
            .map_err(|e| tonic::Status::invalid_argument(format!("malformed rpc request: {e}")))?;
        let dc = Some(call.datacenter.as_str()).filter(|d| !d.is_empty());
        let resp = match &self.rpc.inner.consensus {
            Some(c) => self.rpc.route_on_server(c, dc, req, call.hops).await,
            None => Err(RpcError::Internal("not a server".into())),
        };
        let resp = resp.unwrap_or_else(Response::Error);
        let body =
            postcard::to_allocvec(&resp).map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(CallReply { body: body.into() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_capped_and_jittered() {
        assert!(blocking_wait(0) >= DEFAULT_WAIT);
        assert!(blocking_wait(0) <= DEFAULT_WAIT + DEFAULT_WAIT / 16);
        assert!(blocking_wait(3_600_000) <= MAX_WAIT + MAX_WAIT / 16);
        assert!(blocking_wait(1000) >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn client_without_servers_and_wrapped_errors() {
        // A client agent with no server known cannot route anywhere.
        let rpc = Rpc::client("dc1");
        let err = rpc
            .call(Some("dc2"), Request::RaftConfiguration)
            .await
            .unwrap_err();
        assert_eq!(err, RpcError::NoServers);
        let wrapped = RpcError::Forwarded(Box::new(RpcError::NoPathToDatacenter));
        assert_eq!(
            wrapped.to_string(),
            "rpc error making call: No path to datacenter"
        );
        assert_eq!(wrapped.root(), &RpcError::NoPathToDatacenter);
    }
}
