//! Push-pull state sync (memberlist's anti-entropy, over UDP): a member's view of the active
//! members, cut into datagram-sized chunks. Sent when joining and every push-pull interval
//! (scaled with the cluster size, as memberlist does) to one random member, which answers
//! with its own view; the receiver feeds it to foca without re-broadcasting it. Without it a
//! newcomer only learns the members that happen to talk to it (a foca `Feed` holds ~30).
//! Answers are rate-limited so a small request cannot be turned into a flood.

use std::time::Duration;

use foca::{Member, State};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::identity::NodeId;

/// Answers per second a member gives at most (burst: one second's worth).
const REPLIES_PER_SEC: f64 = 20.0;
/// memberlist's `pushPullScaleThreshold`: the interval grows above this many members.
const SCALE_THRESHOLD: usize = 32;

/// One chunk of a member's view. `want_reply` is set on the first chunk of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SyncMsg {
    pub want_reply: bool,
    pub members: Vec<Member<NodeId>>,
}

impl SyncMsg {
    pub fn decode(data: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(data)
    }

    /// The members worth applying: active ones (down verdicts travel by SWIM only).
    pub fn into_active(self) -> impl Iterator<Item = Member<NodeId>> {
        self.members
            .into_iter()
            .filter(|m| m.state() != State::Down)
    }
}

/// Encodes `own` and the active `members` into chunks of at most `max_len` bytes each; the
/// first chunk carries `want_reply`.
pub(crate) fn chunks<'a>(
    own: &NodeId,
    members: impl Iterator<Item = &'a Member<NodeId>>,
    want_reply: bool,
    max_len: usize,
) -> Vec<Vec<u8>> {
    let me = Member::new(own.clone(), 0, State::Alive);
    let active = members.filter(|m| m.state() != State::Down).cloned();
    let mut out = Vec::new();
    let mut current: Vec<Member<NodeId>> = Vec::new();
    // Flag byte + a count of up to 3 varint bytes.
    let mut size = 4;
    for member in std::iter::once(me).chain(active) {
        let len = postcard::experimental::serialized_size(&member).unwrap_or(usize::MAX);
        if len.saturating_add(4) > max_len {
            continue;
        }
        if size + len > max_len && !current.is_empty() {
            push_chunk(&mut out, want_reply, std::mem::take(&mut current));
            size = 4;
        }
        size += len;
        current.push(member);
    }
    if !current.is_empty() {
        push_chunk(&mut out, want_reply, current);
    }
    out
}

fn push_chunk(out: &mut Vec<Vec<u8>>, want_reply: bool, members: Vec<Member<NodeId>>) {
    let msg = SyncMsg {
        want_reply: want_reply && out.is_empty(),
        members,
    };
    if let Ok(bytes) = postcard::to_allocvec(&msg) {
        out.push(bytes);
    }
}

/// memberlist's `pushPullScale`: the interval times `ceil(log2(n) - log2(32)) + 1` above 32
/// members.
pub(crate) fn scaled_interval(interval: Duration, cluster_size: usize) -> Duration {
    if cluster_size <= SCALE_THRESHOLD {
        return interval;
    }
    let n = cluster_size as f64;
    let mult = (n.log2() - (SCALE_THRESHOLD as f64).log2()).ceil() + 1.0;
    interval.mul_f64(mult.clamp(1.0, 64.0))
}

/// A token bucket for answers.
#[derive(Debug)]
pub(crate) struct ReplyBudget {
    tokens: f64,
    last: Instant,
}

impl ReplyBudget {
    pub fn new(now: Instant) -> Self {
        Self {
            tokens: REPLIES_PER_SEC,
            last: now,
        }
    }

    /// Takes one answer from the budget if there is one left.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * REPLIES_PER_SEC).min(REPLIES_PER_SEC);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn id(i: u16) -> NodeId {
        NodeId::new(
            format!("node-{i:04}"),
            SocketAddr::from(([127, 0, 0, 1], 10_000 + i)),
            1_700_000_000_000 + u64::from(i),
        )
    }

    #[test]
    fn views_are_chunked_under_the_limit_and_round_trip() {
        let own = id(0);
        let members: Vec<Member<NodeId>> = (1..=300)
            .map(|i| {
                let state = if i % 10 == 0 {
                    State::Down
                } else {
                    State::Alive
                };
                Member::new(id(i), 3, state)
            })
            .collect();
        let out = chunks(&own, members.iter(), true, 1300);
        assert!(out.len() > 1);
        let mut seen = Vec::new();
        for (i, bytes) in out.iter().enumerate() {
            assert!(bytes.len() <= 1300, "chunk {i} is {} bytes", bytes.len());
            let msg = SyncMsg::decode(bytes).unwrap();
            assert_eq!(msg.want_reply, i == 0);
            seen.extend(msg.into_active());
        }
        assert_eq!(seen.len(), 1 + 270, "own identity plus the active ones");
        assert_eq!(seen[0].id(), &own);
        assert!(seen.iter().all(|m| m.state() == State::Alive));
        assert!(SyncMsg::decode(&[1, 0xff, 0xff]).is_err());
    }

    #[test]
    fn interval_scales_like_memberlist() {
        let base = Duration::from_secs(30);
        assert_eq!(scaled_interval(base, 10), base);
        assert_eq!(scaled_interval(base, 32), base);
        assert_eq!(scaled_interval(base, 33), base * 2);
        assert_eq!(scaled_interval(base, 64), base * 2);
        assert_eq!(scaled_interval(base, 1000), base * 6);
    }

    #[test]
    fn replies_are_rate_limited() {
        let t0 = Instant::now();
        let mut budget = ReplyBudget::new(t0);
        let granted = (0..100).filter(|_| budget.take(t0)).count();
        assert_eq!(granted, REPLIES_PER_SEC as usize);
        assert!(!budget.take(t0));
        assert!(budget.take(t0 + Duration::from_millis(100)));
    }
}
