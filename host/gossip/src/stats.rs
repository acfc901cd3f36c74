//! Traffic counters of a pool, for metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a pool's counters (monotonic since start).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    /// Every datagram dropped, whatever the reason (`decrypt_failures + malformed`).
    pub dropped: u64,
    /// Encrypted datagrams no installed key authenticates (wrong key, bad tag).
    pub decrypt_failures: u64,
    /// The other drops: a malformed stream frame (which also closes its stream), bad envelope (short, wrong version, unknown kind), plaintext while a
    /// keyring is configured or encrypted without one, undecodable probe or keyring message, or
    /// rejected by foca (malformed, too big, stale or foreign data).
    pub malformed: u64,
    /// Datagrams that could not be sent: socket errors, full send queues and, with the stream
    /// transport, datagrams for an address whose connection failed or is in redial backoff.
    pub send_errors: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    decrypt_failures: AtomicU64,
    malformed: AtomicU64,
    send_errors: AtomicU64,
}

impl Counters {
    pub fn received(&self, bytes: usize) {
        self.packets_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn sent(&self, bytes: usize) {
        self.packets_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn decrypt_failure(&self) {
        self.decrypt_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn send_error(&self) {
        self.send_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> PoolStats {
        let decrypt_failures = self.decrypt_failures.load(Ordering::Relaxed);
        let malformed = self.malformed.load(Ordering::Relaxed);
        PoolStats {
            packets_in: self.packets_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            packets_out: self.packets_out.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            dropped: decrypt_failures.saturating_add(malformed),
            decrypt_failures,
            malformed,
            send_errors: self.send_errors.load(Ordering::Relaxed),
        }
    }
}
