//! Dialing the RPC port of another server: a lazily connecting tonic `Channel` (TCP, then rustls
//! with SNI `server.<dc>.<domain>` and ALPN `h2`, or plaintext) and the area gossip stream
//! (ALPN `praetor/gossip`, or the byte 6 in plaintext).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

use crate::GOSSIP_MAGIC;
use crate::conn::PeerConn;
use crate::peer::PeerInfo;
use crate::rpc::{Proto, RpcTls};
use tokio_util::either::Either;

type DialedIo = Either<TcpStream, Box<tokio_rustls::client::TlsStream<TcpStream>>>;

/// An outgoing RPC-port connection (gossip stream, or the transport under a gRPC channel).
pub type DialedConn = PeerConn<DialedIo>;

/// A lazily connecting, self-reconnecting gRPC channel to the RPC port at `addr` (a server of
/// `target_dc`). TLS (SNI `server.<target_dc>.<domain>`, ALPN `h2`, the agent's certificate
/// as client certificate) when `tls` is given and its section has `verify_outgoing`; plaintext
/// otherwise. Each (re)connection uses the material current at that moment. `connect_timeout`
/// bounds TCP connect plus TLS handshake; `keepalive` sets HTTP/2 pings (interval = timeout)
/// that fail in-flight calls when the peer goes away.
pub fn grpc_channel(
    tls: Option<&RpcTls>,
    addr: SocketAddr,
    target_dc: &str,
    connect_timeout: Duration,
    keepalive: Option<Duration>,
) -> Channel {
    let tls = tls.cloned();
    let target_dc: Arc<str> = Arc::from(target_dc);
    let connector = tower::service_fn(move |_: http::Uri| {
        let tls = tls.clone();
        let target_dc = target_dc.clone();
        async move {
            let conn =
                connect(tls.as_ref(), addr, &target_dc, Proto::Grpc, connect_timeout).await?;
            Ok::<_, io::Error>(TokioIo::new(conn))
        }
    });
    // `http://` so that tonic adds no TLS of its own; the connector ignores the URI.
    let mut endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap_or_else(|_| Endpoint::from_static("http://praetor.rpc"))
        .tcp_nodelay(true);
    if let Some(interval) = keepalive {
        endpoint = endpoint
            .http2_keep_alive_interval(interval)
            .keep_alive_timeout(interval)
            .keep_alive_while_idle(true);
    }
    endpoint.connect_with_connector_lazy(connector)
}

/// Opens an area gossip stream to the RPC port at `addr` (a server of `target_dc`): TLS with
/// ALPN `praetor/gossip` under the same rule as `grpc_channel`, or plaintext announced by the
/// byte 6. `timeout` bounds connect plus handshake.
pub async fn dial_gossip(
    tls: Option<&RpcTls>,
    addr: SocketAddr,
    target_dc: &str,
    timeout: Duration,
) -> io::Result<DialedConn> {
    connect(tls, addr, target_dc, Proto::Gossip, timeout).await
}

async fn connect(
    tls: Option<&RpcTls>,
    addr: SocketAddr,
    target_dc: &str,
    proto: Proto,
    timeout: Duration,
) -> io::Result<DialedConn> {
    let attempt = connect_now(tls, addr, target_dc, proto);
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("dial {addr}: timed out after {timeout:?}"),
        )),
    }
}

async fn connect_now(
    tls: Option<&RpcTls>,
    addr: SocketAddr,
    target_dc: &str,
    proto: Proto,
) -> io::Result<DialedConn> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let client = tls.and_then(|t| t.client_config(proto).map(|c| (t, c)));
    let Some((tls, config)) = client else {
        if proto == Proto::Gossip {
            tcp.write_all(&[GOSSIP_MAGIC]).await?;
        }
        let peer = PeerInfo {
            remote: addr,
            tls: false,
            cert_der: None,
            local_tls: tls.is_some(),
        };
        return Ok(DialedConn::new(Either::Left(tcp), peer, ()));
    };
    let name = ServerName::try_from(tls.server_name(target_dc))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let stream = TlsConnector::from(config).connect(name, tcp).await?;
    let session = stream.get_ref().1;
    let wanted = proto.alpn();
    if session.alpn_protocol() != Some(wanted) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "dial {addr}: server did not negotiate ALPN {}",
                String::from_utf8_lossy(wanted)
            ),
        ));
    }
    let cert_der = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| Arc::from(leaf.as_ref()));
    let peer = PeerInfo {
        remote: addr,
        tls: true,
        cert_der,
        local_tls: true,
    };
    Ok(DialedConn::new(Either::Right(Box::new(stream)), peer, ()))
}
