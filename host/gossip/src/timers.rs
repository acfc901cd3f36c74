//! Ordered delivery of foca timers: every timer fires, in (deadline, submission) order.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// `now + after`, saturating far in the future instead of overflowing on huge durations.
pub(crate) fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// A queue of timers keyed by (deadline, sequence number).
#[derive(Debug)]
pub(crate) struct TimerQueue<T> {
    seq: u64,
    entries: BTreeMap<(Instant, u64), T>,
}

impl<T> TimerQueue<T> {
    pub fn new() -> Self {
        Self {
            seq: 0,
            entries: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, at: Instant, timer: T) {
        self.seq = self.seq.wrapping_add(1);
        self.entries.insert((at, self.seq), timer);
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.first_key_value().map(|((at, _), _)| *at)
    }

    /// The earliest timer whose deadline is not after `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        let (&(at, _), _) = self.entries.first_key_value()?;
        if at > now {
            return None;
        }
        self.entries.pop_first().map(|(_, timer)| timer)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_deadline_then_submission_order() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        q.push(t0 + Duration::from_millis(20), "c");
        q.push(t0 + Duration::from_millis(10), "a");
        q.push(t0 + Duration::from_millis(10), "b");
        q.push(t0 + Duration::from_millis(30), "d");
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(q.pop_due(t0), None);
        let now = t0 + Duration::from_millis(20);
        let mut fired = Vec::new();
        while let Some(t) = q.pop_due(now) {
            fired.push(t);
        }
        assert_eq!(fired, ["a", "b", "c"]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(t0 + Duration::from_millis(30)), Some("d"));
        assert_eq!(q.next_deadline(), None);
    }
}
