//! Raft transport over gRPC on the server RPC port: the client half openraft calls to reach
//! peers, and the tonic service that receives their calls.
//!
//! openraft messages are postcard-encoded into `RaftRequest.data`; replies carry the remote
//! `Result` the same way, so a remote raft error comes back typed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use praetor_proto::raft::raft_client::RaftClient;
use praetor_proto::raft::raft_server::{Raft as RaftSvc, RaftServer};
use praetor_proto::raft::{RaftReply, RaftRequest};
use praetor_state::format::{self, BATCH_FORMAT, FORMAT_VERSION, NEWEST_READABLE_FORMAT};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::{Channel, Endpoint};

use crate::types::{Raft, RaftNode, TypeConfig, holds_batch};

/// Dial timeout for a peer's RPC port (Consul's pool uses 10s; raft wants to give up sooner).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens a (lazily connecting, multiplexed, self-reconnecting) gRPC channel to `addr`.
pub fn channel(addr: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .connect_lazy())
}

/// The largest raft message sent or accepted (gRPC's limit on both sides).
const MAX_MESSAGE: usize = 64 << 20;

/// The newest format each peer (by raft node id) said it reads, from its latest raft reply.
#[derive(Clone, Default)]
pub(crate) struct PeerReads(Arc<Mutex<HashMap<u64, u32>>>);

impl PeerReads {
    fn record(&self, peer: u64, reads: u32) {
        // 0: a build from before the field, which reads version 1 only.
        let reads = reads.max(FORMAT_VERSION);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer, reads);
    }

    /// True when every one of `peers` has answered that it reads `version`.
    pub(crate) fn all_read(&self, peers: impl IntoIterator<Item = u64>, version: u32) -> bool {
        let known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        peers
            .into_iter()
            .all(|p| known.get(&p).is_some_and(|v| *v >= version))
    }
}

/// Creates one connection object per peer.
#[derive(Clone, Default)]
pub struct NetworkFactory {
    pub(crate) dialer: Option<crate::Dialer>,
    pub(crate) reads: PeerReads,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: u64, node: &RaftNode) -> PeerConnection {
        PeerConnection {
            target,
            node: node.clone(),
            client: None,
            dialer: self.dialer.clone(),
            reads: self.reads.clone(),
        }
    }
}

/// The connection to one raft peer.
pub struct PeerConnection {
    target: u64,
    node: RaftNode,
    client: Option<RaftClient<Channel>>,
    dialer: Option<crate::Dialer>,
    reads: PeerReads,
}

type RpcErr<E = openraft::error::Infallible> = RPCError<u64, RaftNode, RaftError<u64, E>>;

impl PeerConnection {
    fn client(&mut self) -> Result<RaftClient<Channel>, Unreachable> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let ch = match &self.dialer {
            Some(dial) => dial(&self.node.rpc_addr)
                .map_err(|e| Unreachable::new(&std::io::Error::other(e)))?,
            None => channel(&self.node.rpc_addr).map_err(|e| Unreachable::new(&e))?,
        };
        let c = RaftClient::new(ch)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        self.client = Some(c.clone());
        Ok(c)
    }

    /// Sends `data` (an encoded `kind` request written in `format`) and decodes the reply.
    async fn call<Resp, E>(
        &mut self,
        kind: Kind,
        data: Vec<u8>,
        format: u32,
        ttl: Duration,
    ) -> Result<Resp, RpcErr<E>>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let mut client = self.client().map_err(RPCError::Unreachable)?;
        let mut request = tonic::Request::new(RaftRequest {
            data: data.into(),
            format,
        });
        request.set_timeout(ttl);
        let reply = match kind {
            Kind::Append => client.append_entries(request).await,
            Kind::Vote => client.vote(request).await,
            Kind::Snapshot => client.install_snapshot(request).await,
        };
        let reply = match reply {
            Ok(r) => r.into_inner(),
            Err(status) => {
                // Connection-level failures: let openraft back off instead of hammering.
                return Err(match status.code() {
                    tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Cancelled => RPCError::Unreachable(Unreachable::new(&status)),
                    _ => RPCError::Network(NetworkError::new(&status)),
                });
            }
        };
        if !reply.error.is_empty() {
            let e = std::io::Error::other(reply.error);
            return Err(RPCError::Network(NetworkError::new(&e)));
        }
        format::readable(reply.format).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.reads.record(self.target, reply.reads);
        let res: Result<Resp, RaftError<u64, E>> = postcard::from_bytes(&reply.data)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Append,
    Vote,
    Snapshot,
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RpcErr> {
        // Version 2 only when a batch is in it: other messages stay readable by version 1.
        let format = if rpc.entries.iter().any(holds_batch) {
            BATCH_FORMAT
        } else {
            FORMAT_VERSION
        };
        let data = encode(&rpc)?;
        if data.len() > MAX_MESSAGE && rpc.entries.len() > 1 {
            // openraft sends again with at most this many entries.
            let fewer = (rpc.entries.len() / 2) as u64;
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(fewer),
            ));
        }
        self.call(Kind::Append, data, format, option.hard_ttl())
            .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RpcErr<InstallSnapshotError>> {
        let data = encode(&rpc)?;
        self.call(Kind::Snapshot, data, FORMAT_VERSION, option.hard_ttl())
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RpcErr> {
        let data = encode(&rpc)?;
        self.call(Kind::Vote, data, FORMAT_VERSION, option.hard_ttl())
            .await
    }
}

/// Receives raft RPCs from peers and hands them to the local raft.
#[derive(Clone)]
pub struct RaftService {
    raft: Raft,
    last_contact: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl RaftService {
    pub(crate) fn new(raft: Raft, last_contact: Arc<std::sync::Mutex<Option<Instant>>>) -> Self {
        RaftService { raft, last_contact }
    }

    /// The tonic service to mount on the server RPC listener.
    pub fn into_server(self) -> RaftServer<RaftService> {
        RaftServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
}

fn encode<T: Serialize, E: std::error::Error>(req: &T) -> Result<Vec<u8>, RpcErr<E>> {
    postcard::to_allocvec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))
}

fn decode<T: DeserializeOwned>(req: &RaftRequest) -> Result<T, tonic::Status> {
    format::readable(req.format).map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    postcard::from_bytes(&req.data)
        .map_err(|e| tonic::Status::invalid_argument(format!("bad raft message: {e}")))
}

fn reply<T: Serialize>(v: &T) -> Result<tonic::Response<RaftReply>, tonic::Status> {
    let data = postcard::to_allocvec(v).map_err(|e| tonic::Status::internal(e.to_string()))?;
    Ok(tonic::Response::new(RaftReply {
        data: data.into(),
        error: String::new(),
        format: FORMAT_VERSION,
        reads: NEWEST_READABLE_FORMAT,
    }))
}

#[tonic::async_trait]
impl RaftSvc for RaftService {
    async fn append_entries(
        &self,
        request: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        let req: AppendEntriesRequest<TypeConfig> = decode(request.get_ref())?;
        let res = self.raft.append_entries(req).await;
        if res.is_ok()
            && let Ok(mut lc) = self.last_contact.lock()
        {
            *lc = Some(Instant::now());
        }
        reply(&res)
    }

    async fn vote(
        &self,
        request: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        let req: VoteRequest<u64> = decode(request.get_ref())?;
        reply(&self.raft.vote(req).await)
    }

    async fn install_snapshot(
        &self,
        request: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        let req: InstallSnapshotRequest<TypeConfig> = decode(request.get_ref())?;
        reply(&self.raft.install_snapshot(req).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_need_every_peer_to_have_answered_that_it_reads_them() {
        let reads = PeerReads::default();
        assert!(!reads.all_read([2, 3], BATCH_FORMAT), "nobody answered yet");
        reads.record(2, NEWEST_READABLE_FORMAT);
        // 3 runs a build from before the field: its replies carry 0, i.e. version 1.
        reads.record(3, 0);
        assert!(!reads.all_read([2, 3], BATCH_FORMAT));
        assert!(reads.all_read([2, 3], FORMAT_VERSION));
        reads.record(3, BATCH_FORMAT);
        assert!(reads.all_read([2, 3], BATCH_FORMAT));
        assert!(reads.all_read([], BATCH_FORMAT), "a single server batches");
    }
}
