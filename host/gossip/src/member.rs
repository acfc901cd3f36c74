//! Public member view: [`Member`], serf's [`MemberStatus`] and the [`MemberEvent`]s a pool emits.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// One member of a gossip pool as the local agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub addr: IpAddr,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    pub status: MemberStatus,
    /// The member's identity incarnation (start time in ms, bumped on every automatic rejoin).
    pub incarnation: u64,
}

/// Serf's member statuses, as shown by `consul members` and `/v1/agent/members`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    Alive,
    Leaving,
    Left,
    Failed,
}

impl MemberStatus {
    /// `"alive"`, `"leaving"`, `"left"` or `"failed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
            MemberStatus::Failed => "failed",
        }
    }

    /// Serf's numeric status (`Status` in `/v1/agent/members`): alive 1, leaving 2, left 3, failed 4.
    pub fn code(self) -> u8 {
        match self {
            MemberStatus::Alive => 1,
            MemberStatus::Leaving => 2,
            MemberStatus::Left => 3,
            MemberStatus::Failed => 4,
        }
    }

    /// Alive or leaving: the member is still taking part in the pool.
    pub fn is_present(self) -> bool {
        matches!(self, MemberStatus::Alive | MemberStatus::Leaving)
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A membership change (serf's member-join / member-update / member-failed / member-leave /
/// member-reap events). Events about the local member itself are not emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// A member became alive (new, or back from failed/left).
    Join(Member),
    /// An alive member changed its tags or its identity (restart without being seen down).
    Update(Member),
    /// A member stopped answering without announcing its leave.
    Failed(Member),
    /// A member left gracefully, or a failed member was force-left.
    Left(Member),
    /// A failed or left member was forgotten (reconnect / tombstone timeout expired).
    Reap(Member),
}

impl MemberEvent {
    /// The member the event is about.
    pub fn member(&self) -> &Member {
        match self {
            MemberEvent::Join(m)
            | MemberEvent::Update(m)
            | MemberEvent::Failed(m)
            | MemberEvent::Left(m)
            | MemberEvent::Reap(m) => m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings_and_codes_match_serf() {
        let all = [
            (MemberStatus::Alive, "alive", 1),
            (MemberStatus::Leaving, "leaving", 2),
            (MemberStatus::Left, "left", 3),
            (MemberStatus::Failed, "failed", 4),
        ];
        for (status, s, code) in all {
            assert_eq!(status.as_str(), s);
            assert_eq!(status.to_string(), s);
            assert_eq!(status.code(), code);
        }
    }
}
