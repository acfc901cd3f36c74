//! The connections of a stream-transport pool: one cached outgoing connection per destination
//! (dialled on demand, written by its own task from a bounded queue, so the pool task never
//! waits on I/O) and one reader task per accepted stream, feeding the pool task.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout};
use tracing::{Instrument, Span, debug, warn};

use crate::error::GossipError;
use crate::frame::{MAX_FRAME, encode_frame, encode_hello, read_frame};
use crate::stats::Counters;
use crate::stream::{BoxStream, Hello, StreamDialer};

/// A dial (connect, TLS handshake) taking longer fails.
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed dial, or a connection that died young, datagrams to that address are
/// dropped this long before the next dial.
const REDIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Frames waiting for one connection's writer; more are dropped (counted as send errors).
const WRITE_QUEUE: usize = 512;
/// Datagrams read from accepted streams waiting for the pool task.
const INBOUND_QUEUE: usize = 1024;
/// A batch of writes blocked this long (the peer does not read) kills the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// An outgoing connection unused this long is closed (redialled on demand).
const WRITE_IDLE: Duration = Duration::from_secs(120);
/// An accepted connection silent this long is closed (longer than [`WRITE_IDLE`], so a live
/// dialer closes first).
const READ_IDLE: Duration = Duration::from_secs(300);
/// Accepted streams per pool at most; more are refused.
const MAX_READERS: usize = 1024;
/// On shutdown, writers get this long to send what is queued.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// Datagrams received on streams: `(the dialer's advertised address, datagram)`.
pub(crate) type Received = (SocketAddr, Vec<u8>);

pub(crate) struct StreamHub {
    pool_id: String,
    hello: Vec<u8>,
    dialer: Arc<dyn StreamDialer>,
    counters: Arc<Counters>,
    inbound: mpsc::Sender<Received>,
    span: Span,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    closed: bool,
    next_id: u64,
    outgoing: HashMap<SocketAddr, Outgoing>,
    writers: JoinSet<()>,
    readers: JoinSet<()>,
}

enum Outgoing {
    /// Dialling or connected: frames go to the writer task `id`.
    Open {
        id: u64,
        queue: mpsc::Sender<Vec<u8>>,
    },
    /// The last connection failed: datagrams are dropped until `until`.
    Backoff { until: Instant },
}

impl StreamHub {
    /// A hub announcing `advertise` in its hellos; returns the receiving end for the pool task.
    pub fn new(
        pool_id: String,
        advertise: SocketAddr,
        dialer: Arc<dyn StreamDialer>,
        counters: Arc<Counters>,
        parent: &Span,
    ) -> Result<(Arc<Self>, mpsc::Receiver<Received>), GossipError> {
        let hello = Hello {
            pool_id: pool_id.clone(),
            from: advertise,
        };
        let hello = encode_hello(&hello)
            .map_err(|e| GossipError::InvalidConfig(format!("stream pool id: {e}")))?;
        let (inbound, rx) = mpsc::channel(INBOUND_QUEUE);
        let hub = Arc::new(Self {
            span: tracing::info_span!(parent: parent, "gossip_stream", pool = %pool_id),
            pool_id,
            hello,
            dialer,
            counters,
            inbound,
            state: Mutex::new(State::default()),
        });
        Ok((hub, rx))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a datagram for `to`, dialling a connection if there is none (never waits).
    pub fn send(self: &Arc<Self>, to: SocketAddr, datagram: &[u8]) {
        let mut frame = match encode_frame(datagram) {
            Ok(frame) => frame,
            Err(error) => {
                self.counters.send_error();
                debug!(%to, %error, "datagram cannot be framed");
                return;
            }
        };
        let mut state = self.lock();
        if state.closed {
            self.counters.send_error();
            return;
        }
        match state.outgoing.get(&to) {
            Some(Outgoing::Open { queue, .. }) => match queue.try_send(frame) {
                Ok(()) => return,
                Err(TrySendError::Full(_)) => {
                    self.counters.send_error();
                    debug!(%to, "stream send queue full; datagram dropped");
                    return;
                }
                // The writer is gone and has not recorded it yet: dial again.
                Err(TrySendError::Closed(back)) => frame = back,
            },
            Some(Outgoing::Backoff { until }) if Instant::now() < *until => {
                self.counters.send_error();
                return;
            }
            _ => {}
        }
        let id = state.next_id;
        state.next_id = state.next_id.wrapping_add(1);
        let (queue, rx) = mpsc::channel(WRITE_QUEUE);
        // A fresh queue has room: sent once the connection is up.
        let _ = queue.try_send(frame);
        // Dials are rare: a good time to forget expired backoffs (e.g. of reaped members).
        let now = Instant::now();
        state
            .outgoing
            .retain(|_, o| !matches!(o, Outgoing::Backoff { until } if *until <= now));
        state.outgoing.insert(to, Outgoing::Open { id, queue });
        while state.writers.try_join_next().is_some() {}
        let writer = Writer {
            hub: Arc::downgrade(self),
            dialer: self.dialer.clone(),
            counters: self.counters.clone(),
            hello: self.hello.clone(),
            to,
            id,
        };
        state
            .writers
            .spawn(writer.run(rx).instrument(self.span.clone()));
    }

    /// Starts reading datagrams from a stream accepted by the listener. A stream from an
    /// address in redial backoff ends the backoff: the peer is evidently back.
    pub fn accept(&self, hello: Hello, stream: BoxStream) {
        let _entered = self.span.enter();
        if hello.pool_id != self.pool_id {
            warn!(from = %hello.from, pool = %hello.pool_id, "gossip stream for another pool; closed");
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            warn!(from = %hello.from, "gossip stream accepted outside a tokio runtime; closed");
            return;
        }
        let mut state = self.lock();
        if state.closed {
            debug!(from = %hello.from, "gossip stream for a stopped pool; closed");
            return;
        }
        while state.readers.try_join_next().is_some() {}
        if state.readers.len() >= MAX_READERS {
            warn!(from = %hello.from, max = MAX_READERS, "too many gossip streams; closed");
            return;
        }
        debug!(from = %hello.from, "gossip stream accepted");
        if matches!(
            state.outgoing.get(&hello.from),
            Some(Outgoing::Backoff { .. })
        ) {
            state.outgoing.remove(&hello.from);
        }
        let reader = read_stream(
            hello.from,
            stream,
            self.inbound.clone(),
            self.counters.clone(),
        );
        state.readers.spawn(reader.instrument(self.span.clone()));
    }

    /// Closes every connection: readers at once, writers after sending what is queued (at most
    /// [`CLOSE_GRACE`]).
    pub async fn close(&self) {
        let (mut writers, mut readers) = {
            let mut state = self.lock();
            state.closed = true;
            // Dropping the queues ends the writers once they are drained.
            state.outgoing.clear();
            (
                std::mem::take(&mut state.writers),
                std::mem::take(&mut state.readers),
            )
        };
        readers.shutdown().await;
        let drained = timeout(CLOSE_GRACE, async {
            while writers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            debug!(left = writers.len(), "gossip stream writers aborted");
        }
        writers.shutdown().await;
    }

    /// Forgets writer `id` of `to`: redial on the next datagram, or after `backoff`.
    fn writer_done(&self, to: SocketAddr, id: u64, backoff: Duration) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        let current =
            matches!(state.outgoing.get(&to), Some(Outgoing::Open { id: cur, .. }) if *cur == id);
        if !current {
            return;
        }
        if backoff.is_zero() {
            state.outgoing.remove(&to);
        } else {
            let until = Instant::now() + backoff;
            state.outgoing.insert(to, Outgoing::Backoff { until });
        }
    }
}

/// The task behind one outgoing connection.
struct Writer {
    hub: Weak<StreamHub>,
    dialer: Arc<dyn StreamDialer>,
    counters: Arc<Counters>,
    hello: Vec<u8>,
    to: SocketAddr,
    id: u64,
}

impl Writer {
    async fn run(self, mut queue: mpsc::Receiver<Vec<u8>>) {
        let connected = self.connection(&mut queue).await;
        // Datagrams left in the queue are lost, like on a lossy network.
        while queue.try_recv().is_ok() {
            self.counters.send_error();
        }
        // A connection that worked for a while is redialled at once (a restarted peer); a
        // failed dial or a connection that died young waits (a dead or refusing peer).
        let lived_long = connected.is_some_and(|at| at.elapsed() >= REDIAL_BACKOFF);
        let backoff = if lived_long {
            Duration::ZERO
        } else {
            REDIAL_BACKOFF
        };
        if let Some(hub) = self.hub.upgrade() {
            hub.writer_done(self.to, self.id, backoff);
        }
        // `queue` is dropped only now, so `send` does not race past the backoff.
        drop(queue);
    }

    /// Dials, then writes frames until the queue closes, the peer hangs up, a write fails
    /// or the connection is idle; returns when it was connected (`None`: never).
    async fn connection(&self, queue: &mut mpsc::Receiver<Vec<u8>>) -> Option<Instant> {
        let to = self.to;
        let stream = match timeout(DIAL_TIMEOUT, self.dialer.dial(to)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                debug!(%to, %error, "gossip stream dial failed");
                return None;
            }
            Err(_) => {
                debug!(%to, timeout = ?DIAL_TIMEOUT, "gossip stream dial timed out");
                return None;
            }
        };
        let connected = Instant::now();
        let (mut read_half, mut write_half) = tokio::io::split(stream);
        if let Err(error) = timed_write(&mut write_half, &self.hello).await {
            debug!(%to, %error, "gossip stream hello failed");
            return Some(connected);
        }
        debug!(%to, "gossip stream connected");
        // Nothing is expected from the peer: reading only notices that it closed.
        let mut scratch = [0u8; 64];
        loop {
            tokio::select! {
                frame = queue.recv() => {
                    let Some(frame) = frame else { break };
                    if let Err(error) = self.write_batch(&mut write_half, frame, queue).await {
                        debug!(%to, %error, "gossip stream write failed");
                        return Some(connected);
                    }
                }
                read = read_half.read(&mut scratch) => {
                    match read {
                        Ok(0) => debug!(%to, "gossip stream closed by the peer"),
                        Ok(_) => debug!(%to, "unexpected data on a gossip stream; closing"),
                        Err(error) => debug!(%to, %error, "gossip stream failed"),
                    }
                    return Some(connected);
                }
                () = sleep(WRITE_IDLE) => {
                    debug!(%to, "gossip stream idle; closing");
                    break;
                }
            }
        }
        let _ = timeout(Duration::from_secs(1), write_half.shutdown()).await;
        Some(connected)
    }

    /// Writes `first` and whatever else is queued, then flushes.
    async fn write_batch<W: AsyncWrite + Unpin>(
        &self,
        out: &mut W,
        first: Vec<u8>,
        queue: &mut mpsc::Receiver<Vec<u8>>,
    ) -> io::Result<()> {
        let counters = &self.counters;
        let batch = async {
            out.write_all(&first).await?;
            counters.sent(first.len().saturating_sub(4));
            while let Ok(frame) = queue.try_recv() {
                out.write_all(&frame).await?;
                counters.sent(frame.len().saturating_sub(4));
            }
            out.flush().await
        };
        timeout(WRITE_TIMEOUT, batch)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "gossip stream write stalled"))?
    }
}

async fn timed_write(out: &mut WriteHalf<BoxStream>, data: &[u8]) -> io::Result<()> {
    let write = async {
        out.write_all(data).await?;
        out.flush().await
    };
    timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "gossip stream write stalled"))?
}

/// Reads frames from an accepted stream until it ends, is idle too long or sends a malformed
/// frame (counted as dropped); each datagram goes to the pool task with `from` as its source.
async fn read_stream(
    from: SocketAddr,
    mut stream: BoxStream,
    inbound: mpsc::Sender<Received>,
    counters: Arc<Counters>,
) {
    loop {
        match timeout(READ_IDLE, read_frame(&mut stream, MAX_FRAME)).await {
            Err(_) => {
                debug!(%from, "accepted gossip stream idle; closing");
                return;
            }
            Ok(Ok(None)) => {
                debug!(%from, "accepted gossip stream closed");
                return;
            }
            Ok(Ok(Some(datagram))) => {
                if inbound.send((from, datagram)).await.is_err() {
                    return;
                }
            }
            Ok(Err(error)) => {
                if error.kind() == io::ErrorKind::InvalidData {
                    counters.malformed();
                    debug!(%from, %error, "malformed gossip frame; stream closed");
                } else {
                    debug!(%from, %error, "accepted gossip stream failed");
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dialer whose dials never complete.
    struct Hang;

    #[async_trait::async_trait]
    impl StreamDialer for Hang {
        async fn dial(&self, _addr: SocketAddr) -> io::Result<BoxStream> {
            std::future::pending().await
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn sends_never_wait_and_close_ends_every_task() {
        let counters = Arc::new(Counters::default());
        let (hub, mut received) = StreamHub::new(
            "p".into(),
            addr("127.0.9.1:8300"),
            Arc::new(Hang),
            counters.clone(),
            &Span::none(),
        )
        .unwrap();

        // The dial hangs: the queue takes WRITE_QUEUE datagrams, the rest are dropped.
        let to = addr("127.0.9.2:8300");
        for _ in 0..WRITE_QUEUE + 10 {
            hub.send(to, b"datagram");
        }
        assert_eq!(counters.snapshot().send_errors, 10);
        assert_eq!(counters.snapshot().packets_out, 0);

        // An accepted stream feeds the pool task with the hello's address as the source.
        let from = addr("127.0.9.3:8300");
        let (mut client, server) = tokio::io::duplex(1024);
        hub.accept(
            Hello {
                pool_id: "other".into(),
                from,
            },
            Box::new(tokio::io::duplex(16).1),
        );
        hub.accept(
            Hello {
                pool_id: "p".into(),
                from,
            },
            Box::new(server),
        );
        client
            .write_all(&encode_frame(b"hello pool").unwrap())
            .await
            .unwrap();
        let got = timeout(Duration::from_secs(5), received.recv())
            .await
            .unwrap();
        assert_eq!(got, Some((from, b"hello pool".to_vec())));

        let started = Instant::now();
        hub.close().await;
        assert!(started.elapsed() < Duration::from_secs(2));
        // The reader is gone, so its stream is closed.
        let mut buf = [0u8; 4];
        let read = timeout(Duration::from_secs(5), client.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0))), "{read:?}");
        // After close, sends are dropped and counted.
        hub.send(to, b"late");
        assert_eq!(counters.snapshot().send_errors, 11);
        assert!(hub.lock().writers.is_empty() && hub.lock().readers.is_empty());
    }
}
