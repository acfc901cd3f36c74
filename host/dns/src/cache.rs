//! The answer cache: fully encoded responses to plain requests, keyed by the request after its ID (the
//! question name lowercased) and the transport, each entry valid only under the backend's answer stamp
//! it was built under and for [`MAX_AGE`]. Entries of answers that are shuffled keep several encoded
//! variants and rotate among them, so clients still see the instances in different orders.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Nothing is served from the cache longer than this after it was built, whatever the stamp says: time
/// passes for things the stamp does not see (a token's expiry, the SOA serial).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);
/// Encoded orders kept of an answer that is shuffled.
pub(crate) const VARIANTS: usize = 8;
/// Shards of the map, each behind its own lock.
const SHARDS: usize = 16;
/// Keys per shard; a full shard drops its stale entries, or all of them when none is stale.
const SHARD_CAPACITY: usize = 256;

struct Entry {
    stamp: u64,
    built: Instant,
    /// How many variants the entry wants before it is served: 1, or [`VARIANTS`] for a shuffled answer.
    want: usize,
    variants: Vec<Box<[u8]>>,
    /// The next variant to serve.
    next: AtomicUsize,
}

impl Entry {
    fn current(&self, stamp: u64, now: Instant) -> bool {
        self.stamp == stamp && now.saturating_duration_since(self.built) < MAX_AGE
    }
}

type Shard = RwLock<HashMap<Box<[u8]>, Entry>>;

/// A bounded map from request keys to encoded responses (see the module docs).
pub(crate) struct AnswerCache {
    shards: Box<[Shard]>,
    hasher: RandomState,
}

impl Default for AnswerCache {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl AnswerCache {
    fn shard(&self, key: &[u8]) -> &Shard {
        let hash = self.hasher.hash_one(key);
        // SHARDS is a power of two; the low bits of the hash pick the shard.
        &self.shards[(hash as usize) & (SHARDS - 1)]
    }

    /// Copies a response cached for `key` under `stamp` into `out` (cleared first), rotating among the
    /// entry's variants. False when there is none, it is stale, or it still wants variants.
    pub fn get(&self, key: &[u8], stamp: u64, now: Instant, out: &mut Vec<u8>) -> bool {
        let shard = self
            .shard(key)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = shard.get(key) else {
            return false;
        };
        if !entry.current(stamp, now) || entry.variants.len() < entry.want {
            return false;
        }
        let i = entry.next.fetch_add(1, Ordering::Relaxed) % entry.variants.len();
        out.clear();
        out.extend_from_slice(&entry.variants[i]);
        true
    }

    /// Adds `response`, built under `stamp` (read before the answer was computed), for `key`: one more
    /// variant of a current entry, or a new entry replacing a stale one. `varies` says whether the
    /// answer is shuffled (then [`VARIANTS`] are kept).
    pub fn insert(&self, key: &[u8], stamp: u64, varies: bool, response: &[u8], now: Instant) {
        let mut shard = self
            .shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = shard.get_mut(key)
            && entry.current(stamp, now)
        {
            if entry.variants.len() < entry.want {
                entry.variants.push(response.into());
            }
            return;
        }
        if shard.len() >= SHARD_CAPACITY && !shard.contains_key(key) {
            shard.retain(|_, e| e.current(stamp, now));
            if shard.len() >= SHARD_CAPACITY {
                shard.clear();
            }
        }
        shard.insert(
            key.into(),
            Entry {
                stamp,
                built: now,
                want: if varies { VARIANTS } else { 1 },
                variants: vec![response.into()],
                next: AtomicUsize::new(0),
            },
        );
    }

    /// Number of keys held (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_under_its_stamp_while_fresh() {
        let cache = AnswerCache::default();
        let now = Instant::now();
        let mut out = Vec::new();
        assert!(!cache.get(b"k", 1, now, &mut out));
        cache.insert(b"k", 1, false, b"r1", now);
        assert!(cache.get(b"k", 1, now, &mut out));
        assert_eq!(out, b"r1");
        // Another stamp, or too old: not served.
        assert!(!cache.get(b"k", 2, now, &mut out));
        assert!(!cache.get(b"k", 1, now + MAX_AGE, &mut out));
        // A new stamp replaces the entry.
        cache.insert(b"k", 2, false, b"r2", now);
        assert!(cache.get(b"k", 2, now, &mut out));
        assert_eq!(out, b"r2");
        assert!(!cache.get(b"k", 1, now, &mut out));
    }

    #[test]
    fn shuffled_answers_rotate_once_all_variants_are_in() {
        let cache = AnswerCache::default();
        let now = Instant::now();
        let mut out = Vec::new();
        for i in 0..VARIANTS {
            assert!(
                !cache.get(b"k", 7, now, &mut out),
                "served with {i} variants"
            );
            cache.insert(b"k", 7, true, &[i as u8], now);
        }
        // More variants than wanted are ignored.
        cache.insert(b"k", 7, true, &[99], now);
        let mut seen = Vec::new();
        for _ in 0..VARIANTS {
            assert!(cache.get(b"k", 7, now, &mut out));
            seen.push(out[0]);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..VARIANTS as u8).collect::<Vec<_>>());
    }

    #[test]
    fn bounded() {
        let cache = AnswerCache::default();
        let now = Instant::now();
        for i in 0..(SHARDS * SHARD_CAPACITY * 4) as u32 {
            cache.insert(&i.to_be_bytes(), 1, false, b"r", now);
        }
        assert!(cache.len() <= SHARDS * SHARD_CAPACITY);
    }
}
