//! Push-pull state sync (memberlist's anti-entropy, over UDP): a member's view of the active
//! members and their tags, cut into datagram-sized chunks. Sent when joining and every
//! push-pull interval (scaled with the cluster size, as memberlist does) to one random member,
//! which answers with its own view; the receiver feeds it to foca and the member table without
//! re-broadcasting it. Without it a newcomer only learns the members (and tags) that happen
//! to reach it: a foca `Feed` holds ~30 members, and tags are only re-sent to random members.
//! Answers are rate-limited so a small request cannot be turned into a flood.

use std::time::Duration;

use foca::{Member, State};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::broadcast::TagsItem;
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
    pub tags: Vec<TagsItem>,
}

/// Bytes a chunk needs besides its entries: the flag and two list lengths.
const CHUNK_OVERHEAD: usize = 1 + 3 + 3;

enum Entry {
    Member(Member<NodeId>),
    Tags(TagsItem),
}

impl SyncMsg {
    pub fn decode(data: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(data)
    }

    /// Splits into the members worth applying (active ones: down verdicts travel by SWIM
    /// only) and the tags.
    pub fn into_parts(self) -> (impl Iterator<Item = Member<NodeId>>, Vec<TagsItem>) {
        let members = self
            .members
            .into_iter()
            .filter(|m| m.state() != State::Down);
        (members, self.tags)
    }
}

/// Encodes `own`, the active `members` and the `tags` into chunks of at most `max_len` bytes
/// each; the first chunk carries `want_reply`.
pub(crate) fn chunks<'a>(
    own: &NodeId,
    members: impl Iterator<Item = &'a Member<NodeId>>,
    tags: impl Iterator<Item = TagsItem>,
    want_reply: bool,
    max_len: usize,
) -> Vec<Vec<u8>> {
    let me = Member::new(own.clone(), 0, State::Alive);
    let active = members.filter(|m| m.state() != State::Down).cloned();
    let entries = std::iter::once(me)
        .chain(active)
        .map(Entry::Member)
        .chain(tags.map(Entry::Tags));
    let mut out = Vec::new();
    let mut current = SyncMsg {
        want_reply,
        members: Vec::new(),
        tags: Vec::new(),
    };
    let mut size = CHUNK_OVERHEAD;
    for entry in entries {
        let len = match &entry {
            Entry::Member(m) => postcard::experimental::serialized_size(m),
            Entry::Tags(t) => postcard::experimental::serialized_size(t),
        }
        .unwrap_or(usize::MAX);
        if len.saturating_add(CHUNK_OVERHEAD) > max_len {
            continue;
        }
        if size + len > max_len {
            push_chunk(&mut out, &mut current);
            size = CHUNK_OVERHEAD;
        }
        size += len;
        match entry {
            Entry::Member(m) => current.members.push(m),
            Entry::Tags(t) => current.tags.push(t),
        }
    }
    push_chunk(&mut out, &mut current);
    out
}

/// Encodes the chunk being built (if not empty) and starts the next one, without `want_reply`.
fn push_chunk(out: &mut Vec<Vec<u8>>, current: &mut SyncMsg) {
    if current.members.is_empty() && current.tags.is_empty() {
        return;
    }
    if let Ok(bytes) = postcard::to_allocvec(&*current) {
        out.push(bytes);
    }
    current.want_reply = false;
    current.members.clear();
    current.tags.clear();
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
    use std::collections::BTreeMap;
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
        let tags: Vec<TagsItem> = (0..=300)
            .map(|i| TagsItem {
                name: id(i).name,
                version: 7,
                tags: BTreeMap::from([
                    ("role".to_string(), "consul".to_string()),
                    ("id".to_string(), "x".repeat(36)),
                ]),
            })
            .collect();
        let out = chunks(&own, members.iter(), tags.clone().into_iter(), true, 1300);
        assert!(out.len() > 1);
        let (mut seen, mut seen_tags) = (Vec::new(), Vec::new());
        for (i, bytes) in out.iter().enumerate() {
            assert!(bytes.len() <= 1300, "chunk {i} is {} bytes", bytes.len());
            let msg = SyncMsg::decode(bytes).unwrap();
            assert_eq!(msg.want_reply, i == 0);
            let (members, tags) = msg.into_parts();
            seen.extend(members);
            seen_tags.extend(tags);
        }
        assert_eq!(seen.len(), 1 + 270, "own identity plus the active ones");
        assert_eq!(seen[0].id(), &own);
        assert!(seen.iter().all(|m| m.state() == State::Alive));
        assert_eq!(seen_tags, tags);
        let alone = chunks(&own, std::iter::empty(), std::iter::empty(), true, 1300);
        assert_eq!(alone.len(), 1);
        assert!(SyncMsg::decode(&alone[0]).unwrap().want_reply);
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
