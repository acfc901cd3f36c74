//! Outgoing datagrams: sent at once, or `send_delay` later by a sender task (a test hook that
//! stands in for network latency; order is kept and the pool task never waits for the delay).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{Instrument, debug, warn};

use crate::stats::Counters;

/// Datagrams waiting for their delay at most; more are dropped (counted as send errors).
const DELAY_QUEUE: usize = 8192;

type Queued = (Instant, SocketAddr, Vec<u8>);

struct Delayed {
    delay: Duration,
    tx: mpsc::Sender<Queued>,
    task: JoinHandle<()>,
}

/// Where the pool task hands its datagrams.
pub(crate) struct Outbox {
    socket: Arc<UdpSocket>,
    counters: Arc<Counters>,
    delayed: Option<Delayed>,
}

async fn send_now(socket: &UdpSocket, counters: &Counters, to: SocketAddr, datagram: &[u8]) {
    match socket.send_to(datagram, to).await {
        Ok(len) => counters.sent(len),
        Err(error) => {
            counters.send_error();
            debug!(%to, %error, "gossip send failed");
        }
    }
}

impl Outbox {
    /// An outbox on `socket`; a non-zero `delay` starts the delayed sender task.
    pub fn new(socket: Arc<UdpSocket>, counters: Arc<Counters>, delay: Duration) -> Self {
        let delayed = (!delay.is_zero()).then(|| {
            let (tx, mut rx) = mpsc::channel::<Queued>(DELAY_QUEUE);
            let socket = socket.clone();
            let counters = counters.clone();
            let task = tokio::spawn(
                async move {
                    while let Some((at, to, datagram)) = rx.recv().await {
                        sleep_until(at).await;
                        send_now(&socket, &counters, to, &datagram).await;
                    }
                }
                .in_current_span(),
            );
            Delayed { delay, tx, task }
        });
        Self {
            socket,
            counters,
            delayed,
        }
    }

    pub async fn send(&self, to: SocketAddr, datagram: &[u8]) {
        let Some(delayed) = &self.delayed else {
            send_now(&self.socket, &self.counters, to, datagram).await;
            return;
        };
        let at = Instant::now() + delayed.delay;
        if delayed.tx.try_send((at, to, datagram.to_vec())).is_err() {
            self.counters.send_error();
            debug!(%to, "delayed send queue full; datagram dropped");
        }
    }

    /// Sends what is still delayed, then stops the sender task.
    pub async fn close(self) {
        if let Some(Delayed { tx, task, .. }) = self.delayed {
            drop(tx);
            if let Err(error) = task.await {
                warn!(%error, "delayed gossip sender ended abnormally");
            }
        }
    }
}
