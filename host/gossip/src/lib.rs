//! praetor-gossip: serf-like gossip pools (LAN now, WAN later) on foca over UDP.
//!
//! One tokio task per [`Pool`] owns its `Foca`, socket traffic, timers and member table.
//! Identities are small (`{addr, name, incarnation}`); tags and leave intents travel as
//! versioned custom broadcasts; every datagram is wrapped in a `[version][kind][payload]`
//! envelope.

mod broadcast;
mod config;
mod envelope;
mod error;
mod identity;
mod member;
mod pool;
mod stats;
mod table;
mod task;
mod timers;

pub use config::{PoolConfig, Profile, Timing};
pub use error::GossipError;
pub use member::{Member, MemberEvent, MemberStatus};
pub use pool::Pool;
pub use stats::PoolStats;
