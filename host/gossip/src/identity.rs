//! The foca identity of a pool member: `{addr, name, incarnation}`, carried in every message header.

use std::fmt;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Identity of one member. `addr` (the advertised gossip address) is the cluster-unique key;
/// `incarnation` starts at the process start time (ms since the epoch) so that a restarted process
/// with the same name and address wins over its previous life, and `renew()` bumps it by one so a
/// member wrongly declared down rejoins by itself.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct NodeId {
    pub addr: SocketAddr,
    pub name: String,
    pub incarnation: u64,
}

impl NodeId {
    pub fn new(name: String, addr: SocketAddr, incarnation: u64) -> Self {
        Self {
            addr,
            name,
            incarnation,
        }
    }

    /// A placeholder for a join target whose name is not known yet. foca accepts an `Announce`
    /// addressed to any identity with the receiver's `addr`, so the name is never looked at.
    pub fn seed(addr: SocketAddr) -> Self {
        Self {
            addr,
            name: String::new(),
            incarnation: 0,
        }
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}#{}", self.name, self.addr, self.incarnation)
    }
}

impl foca::Identity for NodeId {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        let incarnation = self.incarnation.checked_add(1)?;
        Some(Self {
            addr: self.addr,
            name: self.name.clone(),
            incarnation,
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.incarnation > adversary.incarnation
    }
}

/// A start-time based incarnation: milliseconds since the Unix epoch (at least 1).
pub(crate) fn start_incarnation() -> u64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    u64::try_from(millis).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use foca::Identity;

    #[test]
    fn renew_bumps_and_wins() {
        let id = NodeId::new("a".into(), "127.0.0.1:1".parse().unwrap(), 7);
        let renewed = id.renew().unwrap();
        assert_eq!(renewed.incarnation, 8);
        assert_eq!(renewed.name, "a");
        assert!(renewed.win_addr_conflict(&id));
        assert!(!id.win_addr_conflict(&renewed));
    }

    #[test]
    fn renew_at_max_gives_up() {
        let id = NodeId::new("a".into(), "127.0.0.1:1".parse().unwrap(), u64::MAX);
        assert!(id.renew().is_none());
    }

    #[test]
    fn restart_wins_over_previous_life() {
        let addr = "127.0.0.1:1".parse().unwrap();
        let old = NodeId::new("a".into(), addr, start_incarnation());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let new = NodeId::new("a".into(), addr, start_incarnation());
        assert!(new.win_addr_conflict(&old));
    }
}
