//! A connection of the RPC port together with who is at the other end: one type behind both
//! the dialed (`DialedConn`) and the accepted (`MuxConn`) connections, plain or TLS.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::peer::PeerInfo;

/// A byte stream (`Io`) with its peer; `Guard` is held for the connection's life (the accepted
/// side's per-IP connection slot).
pub struct PeerConn<Io, Guard = ()> {
    io: Io,
    peer: PeerInfo,
    _guard: Guard,
}

impl<Io, Guard> PeerConn<Io, Guard> {
    pub(crate) fn new(io: Io, peer: PeerInfo, guard: Guard) -> Self {
        Self {
            io,
            peer,
            _guard: guard,
        }
    }

    /// Who is at the other end: its address and, over TLS, its verified certificate.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }
}

impl<Io, Guard> std::fmt::Debug for PeerConn<Io, Guard> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConn")
            .field("peer", &self.peer)
            .finish()
    }
}

impl<Io: AsyncRead + Unpin, Guard: Unpin> AsyncRead for PeerConn<Io, Guard> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin, Guard: Unpin> AsyncWrite for PeerConn<Io, Guard> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
