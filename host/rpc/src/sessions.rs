//! Session TTL timers, kept by the leader only (Consul: expiry after 2 × TTL without a renew).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consul's `SessionTTLMultiplier`.
pub const SESSION_TTL_MULTIPLIER: u32 = 2;

/// Deadlines of the sessions that have a TTL. Cheap to share behind an `Arc`.
#[derive(Default, Debug)]
pub struct SessionTimers {
    timers: Mutex<HashMap<String, (Instant, Duration)>>,
}

impl SessionTimers {
    /// Starts (or restarts) the timer of a session.
    pub fn reset(&self, id: &str, ttl: Duration) {
        if let Ok(mut t) = self.timers.lock() {
            t.insert(
                id.to_string(),
                (Instant::now() + ttl * SESSION_TTL_MULTIPLIER, ttl),
            );
        }
    }

    /// Renews a known session; false when it has no timer here.
    pub fn renew(&self, id: &str) -> bool {
        let Ok(mut t) = self.timers.lock() else {
            return false;
        };
        match t.get_mut(id) {
            Some((deadline, ttl)) => {
                *deadline = Instant::now() + *ttl * SESSION_TTL_MULTIPLIER;
                true
            }
            None => false,
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.timers
            .lock()
            .map(|t| t.contains_key(id))
            .unwrap_or(false)
    }

    /// Forgets timers whose session no longer exists.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        if let Ok(mut t) = self.timers.lock() {
            t.retain(|id, _| keep(id));
        }
    }

    /// Removes and returns the sessions whose deadline has passed.
    pub fn take_expired(&self, now: Instant) -> Vec<String> {
        let Ok(mut t) = self.timers.lock() else {
            return Vec::new();
        };
        let expired: Vec<String> = t
            .iter()
            .filter(|(_, (d, _))| *d <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            t.remove(id);
        }
        expired
    }

    pub fn clear(&self) {
        if let Ok(mut t) = self.timers.lock() {
            t.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_renew_and_retain() {
        let timers = SessionTimers::default();
        timers.reset("a", Duration::ZERO);
        timers.reset("b", Duration::from_secs(60));
        assert!(timers.renew("b"));
        assert!(!timers.renew("zz"));
        let expired = timers.take_expired(Instant::now());
        assert_eq!(expired, vec!["a".to_string()]);
        assert!(!timers.contains("a"));
        timers.retain(|id| id != "b");
        assert!(!timers.contains("b"));
    }
}
