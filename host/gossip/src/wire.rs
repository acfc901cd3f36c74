//! Where a pool's datagrams leave ([`Wire`]) and arrive ([`Inbound`]): its UDP socket, or the
//! stream hub's connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use crate::hub::{Received, StreamHub};
use crate::stats::Counters;

/// The sending side.
#[derive(Clone)]
pub(crate) enum Wire {
    Udp(Arc<UdpSocket>),
    Stream(Arc<StreamHub>),
}

impl Wire {
    /// Sends (UDP) or queues (streams: counted once written) one datagram.
    pub async fn send(&self, counters: &Counters, to: SocketAddr, datagram: &[u8]) {
        match self {
            Wire::Udp(socket) => match socket.send_to(datagram, to).await {
                Ok(len) => counters.sent(len),
                Err(error) => {
                    counters.send_error();
                    debug!(%to, %error, "gossip send failed");
                }
            },
            Wire::Stream(hub) => hub.send(to, datagram),
        }
    }

    /// Closes the stream connections (the socket closes when its last handle is dropped).
    pub async fn close(&self) {
        if let Wire::Stream(hub) = self {
            hub.close().await;
        }
    }
}

/// The receiving side.
pub(crate) enum Inbound {
    Udp(Arc<UdpSocket>),
    Stream(mpsc::Receiver<Received>),
}

impl Inbound {
    /// The next datagram, copied into `buf`: `(length, source)`. Cancel safe.
    pub async fn recv(&mut self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match self {
            Inbound::Udp(socket) => socket.recv_from(buf).await,
            Inbound::Stream(rx) => {
                let Some((from, datagram)) = rx.recv().await else {
                    // The hub holds a sender as long as the pool runs.
                    return std::future::pending().await;
                };
                let Some(dst) = buf.get_mut(..datagram.len()) else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("datagram of {} bytes from {from} too large", datagram.len()),
                    ));
                };
                dst.copy_from_slice(&datagram);
                Ok((datagram.len(), from))
            }
        }
    }
}
