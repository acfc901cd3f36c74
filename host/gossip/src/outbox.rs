//! Outgoing datagrams: sent at once, or `send_delay` later by a sender task (a test hook that
//! stands in for network latency; order is kept and the pool task never waits for the delay).
//! Bulk datagrams (state sync chunks) go through a paced sender task so a burst does not
//! overflow the receiver's socket buffer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tracing::{Instrument, debug, warn};

use crate::stats::Counters;
use crate::wire::Wire;

/// Datagrams waiting in a sender task at most; more are dropped (counted as send errors).
const QUEUE: usize = 8192;
/// Bulk pacing: this many datagrams, then a pause (about 4,000 datagrams per second).
const BULK_BURST: usize = 16;
const BULK_PAUSE: Duration = Duration::from_millis(4);

type Queued = (Instant, SocketAddr, Vec<u8>);

/// A sender task fed by a channel: sends each datagram at its time, optionally paced.
struct Sender {
    tx: mpsc::Sender<Queued>,
    task: JoinHandle<()>,
}

impl Sender {
    fn spawn(wire: Wire, counters: Arc<Counters>, paced: bool) -> Self {
        let (tx, mut rx) = mpsc::channel::<Queued>(QUEUE);
        let task = tokio::spawn(
            async move {
                let mut sent = 0usize;
                while let Some((at, to, datagram)) = rx.recv().await {
                    sleep_until(at).await;
                    wire.send(&counters, to, &datagram).await;
                    sent += 1;
                    if paced && sent.is_multiple_of(BULK_BURST) {
                        sleep(BULK_PAUSE).await;
                    }
                }
            }
            .in_current_span(),
        );
        Self { tx, task }
    }

    fn queue(&self, counters: &Counters, at: Instant, to: SocketAddr, datagram: &[u8]) {
        if self.tx.try_send((at, to, datagram.to_vec())).is_err() {
            counters.send_error();
            debug!(%to, "send queue full; datagram dropped");
        }
    }

    async fn close(self) {
        drop(self.tx);
        if let Err(error) = self.task.await {
            warn!(%error, "gossip sender task ended abnormally");
        }
    }
}

/// Where the pool task hands its datagrams.
pub(crate) struct Outbox {
    wire: Wire,
    counters: Arc<Counters>,
    delay: Duration,
    delayed: Option<Sender>,
    bulk: Sender,
}

impl Outbox {
    /// An outbox on `wire`; a non-zero `delay` starts the delayed sender task.
    pub fn new(wire: Wire, counters: Arc<Counters>, delay: Duration) -> Self {
        let delayed =
            (!delay.is_zero()).then(|| Sender::spawn(wire.clone(), counters.clone(), false));
        let bulk = Sender::spawn(wire.clone(), counters.clone(), true);
        Self {
            wire,
            counters,
            delay,
            delayed,
            bulk,
        }
    }

    /// Sends a datagram now (or `delay` later).
    pub async fn send(&self, to: SocketAddr, datagram: &[u8]) {
        match &self.delayed {
            None => self.wire.send(&self.counters, to, datagram).await,
            Some(delayed) => {
                delayed.queue(&self.counters, Instant::now() + self.delay, to, datagram);
            }
        }
    }

    /// Queues a datagram of a bulk transfer for the paced sender (also `delay` later).
    pub fn send_bulk(&self, to: SocketAddr, datagram: &[u8]) {
        self.bulk
            .queue(&self.counters, Instant::now() + self.delay, to, datagram);
    }

    /// Sends what is still queued, then stops the sender tasks and closes the stream
    /// connections.
    pub async fn close(self) {
        if let Some(delayed) = self.delayed {
            delayed.close().await;
        }
        self.bulk.close().await;
        self.wire.close().await;
    }
}
