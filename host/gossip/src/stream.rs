//! The stream transport's public types: a pool can exchange its datagrams over byte streams
//! (e.g. TLS connections to the server RPC port) instead of UDP.

use std::net::SocketAddr;
use std::sync::Arc;

/// A bidirectional byte stream (TCP, TLS, an in-memory duplex, ...): implemented for every
/// `AsyncRead + AsyncWrite + Unpin + Send` type.
pub trait AsyncStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> AsyncStream for T {}

/// A boxed [`AsyncStream`] (`Box::new(tcp_stream)` converts).
pub type BoxStream = Box<dyn AsyncStream>;

/// Opens streams to other members' pool listeners.
#[async_trait::async_trait]
pub trait StreamDialer: Send + Sync + 'static {
    /// Opens a stream to the pool listener at `addr` (a server's RPC address). The pool bounds
    /// the call with its own dial timeout.
    async fn dial(&self, addr: SocketAddr) -> std::io::Result<BoxStream>;
}

/// How a pool exchanges its datagrams.
#[derive(Clone, Default)]
pub enum Transport {
    /// A UDP socket bound to `PoolConfig::bind`.
    #[default]
    Udp,
    /// Byte streams: no socket is bound; `PoolConfig::advertise` (a specific `ip:port`, the
    /// address of the listener that hands accepted streams to [`crate::Pool::accept_stream`])
    /// is the member's address. Streams are dialled with `dialer` and open with a hello naming
    /// `pool_id` (at most 255 bytes).
    Stream {
        pool_id: String,
        dialer: Arc<dyn StreamDialer>,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Udp => f.write_str("Udp"),
            Transport::Stream { pool_id, .. } => f
                .debug_struct("Stream")
                .field("pool_id", pool_id)
                .finish_non_exhaustive(),
        }
    }
}

/// The first frame of a dialled stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Which pool the stream is for.
    pub pool_id: String,
    /// The dialer's advertised address: the source of every datagram on the stream.
    pub from: SocketAddr,
}
