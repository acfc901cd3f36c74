//! The multiplexed RPC port: one TCP listener whose connections are told apart by their first
//! bytes (TLS + ALPN, or in plaintext the HTTP/2 preface / the gossip byte), under a handshake
//! deadline and a per-client-IP connection limit, each on its own task, then handed to tonic
//! (`GrpcIncoming`) or to the area gossip layer (`GossipIncoming`).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::GOSSIP_MAGIC;
use crate::conn::PeerConn;
use crate::peer::PeerInfo;
use crate::prefixed::Prefixed;
use crate::rpc::{Proto, RpcTls};
use tokio_util::either::Either;

/// First byte of a TLS record carrying a handshake (ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;
/// What an HTTP/2 client sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Connections waiting to be taken by tonic or the gossip layer.
const QUEUE: usize = 128;
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Limits of the RPC port (Consul's `limits.rpc_handshake_timeout`,
/// `limits.rpc_max_conns_per_client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxLimits {
    /// Deadline for protocol detection plus the TLS handshake; zero = none (as Consul).
    pub handshake_timeout: Duration,
    /// Concurrent connections per client IP (all protocols, for their whole life); 0 = no limit.
    pub max_conns_per_client: u32,
}

impl Default for MuxLimits {
    fn default() -> Self {
        MuxLimits {
            handshake_timeout: Duration::from_secs(5),
            max_conns_per_client: 100,
        }
    }
}

impl MuxLimits {
    /// From the agent configuration's `limits { }`.
    pub fn from_config(limits: &praetor_config::Limits) -> MuxLimits {
        MuxLimits {
            handshake_timeout: limits.rpc_handshake_timeout,
            max_conns_per_client: limits.rpc_max_conns_per_client,
        }
    }
}

/// Open connections per client IP.
#[derive(Clone, Default)]
struct ConnTable(Arc<Mutex<HashMap<IpAddr, u32>>>);

impl ConnTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u32>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for one more connection from `ip`, or `None` at the limit.
    fn acquire(&self, ip: IpAddr, max: u32) -> Option<ConnSlot> {
        let mut table = self.lock();
        let open = table.entry(ip).or_insert(0);
        if max > 0 && *open >= max {
            return None;
        }
        *open += 1;
        Some(ConnSlot {
            table: self.clone(),
            ip,
        })
    }
}

/// Held by a connection for its whole life; frees its place in the table when dropped.
pub struct ConnSlot {
    table: ConnTable,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut table = self.table.lock();
        if let Some(open) = table.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

type MuxIo = Either<Prefixed<TcpStream>, Prefixed<Box<tokio_rustls::server::TlsStream<TcpStream>>>>;

/// An accepted, identified connection of the RPC port. For tonic it is `Connected` with
/// `ConnectInfo = PeerInfo` (found in each request's extensions).
pub type MuxConn = PeerConn<MuxIo, ConnSlot>;

impl tonic::transport::server::Connected for MuxConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer().clone()
    }
}

/// The gRPC connections of the port, for
/// `tonic::transport::Server::serve_with_incoming_shutdown`. Never yields an error.
pub struct GrpcIncoming {
    rx: mpsc::Receiver<MuxConn>,
}

impl Stream for GrpcIncoming {
    type Item = io::Result<MuxConn>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().rx.poll_recv(cx).map(|c| c.map(Ok))
    }
}

/// The area gossip streams of the port (ALPN `praetor/gossip`, or the byte 6 in plaintext,
/// already consumed): the raw byte stream, framing is the gossip layer's.
pub type GossipIncoming = mpsc::Receiver<(PeerInfo, MuxConn)>;

/// Serves the RPC port on `listener` (call inside a tokio runtime): every connection gets its
/// own task, is identified within `limits.handshake_timeout` and handed to one of the two
/// receivers. `tls = None`: plaintext only. With TLS, plaintext is accepted only while
/// `verify_incoming` is off; reloads of `tls` apply to the next connections. The accept loop
/// stops (and the listener closes) once both receivers are dropped.
pub fn serve_rpc_port(
    listener: TcpListener,
    tls: Option<RpcTls>,
    limits: MuxLimits,
) -> (GrpcIncoming, GossipIncoming) {
    let (grpc_tx, grpc_rx) = mpsc::channel(QUEUE);
    let (gossip_tx, gossip_rx) = mpsc::channel(QUEUE);
    tokio::spawn(accept_loop(listener, tls, limits, grpc_tx, gossip_tx));
    (GrpcIncoming { rx: grpc_rx }, gossip_rx)
}

/// Connections accepted on RPC ports of this process, and TLS handshakes completed on them
/// (process-wide counters for metrics: handshakes per request show connection reuse).
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
static TLS_HANDSHAKES: AtomicU64 = AtomicU64::new(0);

/// `(connections accepted, TLS handshakes completed)` on the RPC port since start.
pub fn rpc_port_stats() -> (u64, u64) {
    (
        CONNECTIONS.load(Ordering::Relaxed),
        TLS_HANDSHAKES.load(Ordering::Relaxed),
    )
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<RpcTls>,
    limits: MuxLimits,
    grpc_tx: mpsc::Sender<MuxConn>,
    gossip_tx: mpsc::Sender<(PeerInfo, MuxConn)>,
) {
    let table = ConnTable::default();
    let both_closed = async {
        grpc_tx.closed().await;
        gossip_tx.closed().await;
    };
    tokio::pin!(both_closed);
    loop {
        let (tcp, remote) = tokio::select! {
            _ = &mut both_closed => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "RPC port: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Some(slot) = table.acquire(remote.ip(), limits.max_conns_per_client) else {
            tracing::warn!(
                conn = %remote,
                "rejecting RPC conn from because rpc_max_conns_per_client exceeded"
            );
            continue;
        };
        CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(conn = %remote, error = %e, "RPC port: set_nodelay failed");
        }
        tokio::spawn(handle(
            tcp,
            remote,
            tls.clone(),
            limits.handshake_timeout,
            slot,
            grpc_tx.clone(),
            gossip_tx.clone(),
        ));
    }
    tracing::debug!("RPC port: accept loop stopped");
}

/// One connection: identify it under the deadline, then hand it over.
async fn handle(
    tcp: TcpStream,
    remote: SocketAddr,
    tls: Option<RpcTls>,
    deadline: Duration,
    slot: ConnSlot,
    grpc_tx: mpsc::Sender<MuxConn>,
    gossip_tx: mpsc::Sender<(PeerInfo, MuxConn)>,
) {
    let detection = detect(tcp, remote, tls.as_ref());
    let outcome = if deadline.is_zero() {
        Ok(detection.await)
    } else {
        tokio::time::timeout(deadline, detection).await
    };
    let (proto, io, peer) = match outcome {
        Err(_) => {
            tracing::debug!(conn = %remote, "RPC port: handshake timed out, closing");
            return;
        }
        Ok(Err(e)) => {
            tracing::debug!(conn = %remote, error = %e, "RPC port: connection failed before identification");
            return;
        }
        Ok(Ok(None)) => return,
        Ok(Ok(Some(found))) => found,
    };
    let conn = MuxConn::new(io, peer.clone(), slot);
    let delivered = match proto {
        Proto::Grpc => grpc_tx.send(conn).await.is_ok(),
        Proto::Gossip => gossip_tx.send((peer, conn)).await.is_ok(),
    };
    if !delivered {
        tracing::debug!(conn = %remote, ?proto, "RPC port: no consumer for the connection, closing");
    }
}

/// Reads just enough to know the protocol (and completes the TLS handshake). `Ok(None)`: the
/// connection is refused or closed by the peer; the reason is logged here.
async fn detect(
    mut tcp: TcpStream,
    remote: SocketAddr,
    tls: Option<&RpcTls>,
) -> io::Result<Option<(Proto, MuxIo, PeerInfo)>> {
    let mut first = [0u8; 1];
    if tcp.peek(&mut first).await? == 0 {
        return Ok(None);
    }
    let built = tls.map(RpcTls::snapshot);
    let mut peer = PeerInfo {
        remote,
        tls: false,
        cert_der: None,
        local_tls: built.is_some(),
    };

    if first[0] == TLS_HANDSHAKE {
        let Some(built) = built else {
            tracing::warn!(conn = %remote, "unrecognized RPC byte: TLS is not configured on the RPC port");
            return Ok(None);
        };
        let stream = match TlsAcceptor::from(built.server.clone()).accept(tcp).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(conn = %remote, error = %e, "RPC port: TLS handshake failed");
                return Ok(None);
            }
        };
        TLS_HANDSHAKES.fetch_add(1, Ordering::Relaxed);
        let session = stream.get_ref().1;
        let negotiated = session.alpn_protocol();
        let Some(proto) = negotiated.and_then(Proto::from_alpn) else {
            tracing::warn!(
                conn = %remote,
                protocol = ?negotiated.map(String::from_utf8_lossy),
                "discarding RPC for unknown negotiated protocol"
            );
            return Ok(None);
        };
        peer.tls = true;
        peer.cert_der = session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| Arc::from(leaf.as_ref()));
        let mut stream = Box::new(stream);
        // gRPC inside TLS: the HTTP/2 preface must arrive under the same deadline.
        let replay = match proto {
            Proto::Grpc => match read_preface(&mut stream, remote).await? {
                Some(preface) => preface,
                None => return Ok(None),
            },
            Proto::Gossip => Vec::new(),
        };
        return Ok(Some((
            proto,
            Either::Right(Prefixed::new(stream, replay)),
            peer,
        )));
    }

    if built.as_ref().is_some_and(|b| b.section.verify_incoming) {
        tracing::warn!(conn = %remote, "Non-TLS connection attempted with VerifyIncoming set");
        return Ok(None);
    }
    match first[0] {
        GOSSIP_MAGIC => {
            tcp.read_exact(&mut first).await?;
            let io = Either::Left(Prefixed::new(tcp, Vec::new()));
            Ok(Some((Proto::Gossip, io, peer)))
        }
        b if b == H2_PREFACE[0] => match read_preface(&mut tcp, remote).await? {
            Some(preface) => {
                let io = Either::Left(Prefixed::new(tcp, preface));
                Ok(Some((Proto::Grpc, io, peer)))
            }
            None => Ok(None),
        },
        byte => {
            tracing::warn!(conn = %remote, byte, "unrecognized RPC byte");
            Ok(None)
        }
    }
}

/// Reads exactly the HTTP/2 client preface (to be replayed to the gRPC server). `None`: the
/// peer closed, or sent something else (logged).
async fn read_preface<S: AsyncRead + Unpin>(
    stream: &mut S,
    remote: SocketAddr,
) -> io::Result<Option<Vec<u8>>> {
    let mut preface = [0u8; H2_PREFACE.len()];
    let mut filled = 0;
    while filled < preface.len() {
        let n = stream.read(&mut preface[filled..]).await?;
        if n == 0 {
            return Ok(None);
        }
        filled += n;
        if preface[..filled] != H2_PREFACE[..filled] {
            tracing::warn!(conn = %remote, "unrecognized RPC byte: not an HTTP/2 preface");
            return Ok(None);
        }
    }
    Ok(Some(preface.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_table_limits_per_ip_and_frees_on_drop() {
        let table = ConnTable::default();
        let a: IpAddr = "127.0.9.1".parse().expect("ip");
        let b: IpAddr = "127.0.9.2".parse().expect("ip");
        let first = table.acquire(a, 2).expect("1st");
        let _second = table.acquire(a, 2).expect("2nd");
        assert!(table.acquire(a, 2).is_none());
        let _other = table.acquire(b, 2).expect("other IP unaffected");
        drop(first);
        assert!(table.acquire(a, 2).is_some());
        assert!(table.acquire(a, 0).is_some(), "0 = unlimited");
    }
}
