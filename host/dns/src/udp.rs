//! UDP serving: per bind address, one socket read by one receive thread per core (each datagram
//! goes to one of the threads blocked in `recv_from`). Each thread answers
//! cache hits itself (no allocation, no task) and hands misses to the tokio runtime, which computes the
//! answer and sends it from the same socket.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinSet;
use tracing::{debug, info_span, warn};

use crate::respond::{Responder, Scratch};
use crate::wire::Transport;

/// How often a blocked receive wakes up to see whether the server is stopping.
const STOP_POLL: Duration = Duration::from_millis(100);
/// The largest datagram read.
const MAX_DATAGRAM: usize = 65_535;
/// A pause after an unexpected receive error, so a persistent one does not spin.
const ERROR_PAUSE: Duration = Duration::from_millis(10);
/// Receive threads per bind address are capped at this, whatever the core count.
const MAX_THREADS: usize = 8;

/// Receive threads per bind address: one per core.
pub(crate) fn threads_per_address() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
}

/// A UDP socket bound to `addr`, blocking, with the stop-poll read timeout.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(addr)?;
    socket.set_read_timeout(Some(STOP_POLL))?;
    Ok(socket)
}

/// The running receive threads and the miss tasks they started.
pub(crate) struct UdpLoops {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    misses: Arc<Mutex<JoinSet<()>>>,
}

impl UdpLoops {
    /// Starts one receive thread per socket. Must run inside a tokio runtime (misses go to it).
    pub fn start(sockets: Vec<UdpSocket>, responder: &Arc<Responder>) -> io::Result<UdpLoops> {
        let stop = Arc::new(AtomicBool::new(false));
        let misses = Arc::new(Mutex::new(JoinSet::new()));
        let runtime = Handle::current();
        let mut loops = UdpLoops {
            stop,
            threads: Vec::with_capacity(sockets.len()),
            misses,
        };
        for socket in sockets {
            let receiver = Receiver {
                socket: Arc::new(socket),
                responder: responder.clone(),
                runtime: runtime.clone(),
                misses: loops.misses.clone(),
                stop: loops.stop.clone(),
            };
            let thread = std::thread::Builder::new()
                .name("praetor-dns-udp".into())
                .spawn(move || receiver.run());
            match thread {
                Ok(thread) => loops.threads.push(thread),
                Err(error) => {
                    loops.stop();
                    return Err(error);
                }
            }
        }
        Ok(loops)
    }

    /// Tells the threads to stop (they notice within [`STOP_POLL`]) and aborts the miss tasks.
    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.misses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }

    /// Stops and waits until every thread has ended and every socket is closed.
    pub async fn shutdown(mut self) {
        self.stop();
        let threads = std::mem::take(&mut self.threads);
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                if thread.join().is_err() {
                    warn!("a DNS UDP receive thread panicked");
                }
            }
        })
        .await;
        if let Err(error) = joined {
            warn!(%error, "waiting for the DNS UDP threads failed");
        }
        // The threads are gone: no new miss task can start. Wait for the aborted ones to drop their sockets.
        let mut misses =
            std::mem::take(&mut *self.misses.lock().unwrap_or_else(PoisonError::into_inner));
        misses.shutdown().await;
    }
}

impl Drop for UdpLoops {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One receive thread's state.
struct Receiver {
    socket: Arc<UdpSocket>,
    responder: Arc<Responder>,
    runtime: Handle,
    misses: Arc<Mutex<JoinSet<()>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn run(self) {
        let local = self.socket.local_addr().ok();
        let span = info_span!("dns_udp", addr = ?local);
        let _entered = span.enter();
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        let mut scratch = Scratch::default();
        while !self.stop.load(Ordering::Relaxed) {
            let (len, src) = match self.socket.recv_from(&mut buffer) {
                Ok(received) => received,
                Err(error) => {
                    if !matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) {
                        debug!(%error, "DNS UDP receive failed");
                        std::thread::sleep(ERROR_PAUSE);
                    }
                    continue;
                }
            };
            // Port 0 cannot be answered (hickory's `sanitize_src_address`).
            if src.port() == 0 {
                continue;
            }
            let request = &buffer[..len];
            if self.responder.cached(request, Transport::Udp, &mut scratch) {
                send(&self.socket, &scratch.out, src);
                continue;
            }
            self.miss(request.to_vec(), src);
        }
    }

    /// Computes the answer on the runtime and sends it from this socket.
    fn miss(&self, request: Vec<u8>, src: SocketAddr) {
        let socket = self.socket.clone();
        let responder = self.responder.clone();
        let task = async move {
            if let Some(response) = responder.compute(&request, Transport::Udp).await {
                send(&socket, &response, src);
            }
        };
        let mut misses = self.misses.lock().unwrap_or_else(PoisonError::into_inner);
        while misses.try_join_next().is_some() {}
        misses.spawn_on(task, &self.runtime);
    }
}

/// Sends one datagram; a failure (e.g. a full send buffer) loses this reply only, as UDP may.
fn send(socket: &UdpSocket, response: &[u8], to: SocketAddr) {
    if response.is_empty() {
        return;
    }
    if let Err(error) = socket.send_to(response, to) {
        debug!(%error, %to, "DNS UDP send failed");
    }
}
