//! praetor-gossip: serf-like gossip pools (LAN, WAN, network areas) on foca over UDP or
//! over byte streams (e.g. TLS on the server RPC port, see [`Transport`]).
//!
//! One tokio task per [`Pool`] owns its `Foca`, socket traffic, timers and member table.
//! Identities are small (`{addr, name, incarnation}`); tags and leave intents travel as
//! versioned custom broadcasts; every datagram is wrapped in a `[version][kind][payload]`
//! envelope, sealed with AES-256-GCM when a keyring is configured. Besides SWIM the pool
//! measures RTTs for network coordinates, runs serf's keyring operations and exchanges its
//! whole view (members and tags) with one member when joining and every push-pull interval.

mod broadcast;
mod config;
mod envelope;
mod error;
mod frame;
mod hub;
mod identity;
mod keyfile;
mod keyops;
mod keyring;
mod member;
mod outbox;
mod pool;
mod probe;
mod stats;
mod stream;
mod sync;
mod table;
mod task;
mod timers;
mod wire;

pub use broadcast::UserEvent;
pub use config::{PoolConfig, Profile, Timing};
pub use error::GossipError;
pub use frame::read_hello;
pub use keyfile::decode_key;
pub use keyops::{KeyOp, KeyOpOutcome};
pub use member::{Member, MemberEvent, MemberStatus};
pub use pool::Pool;
pub use probe::{MAX_PROBE_PAYLOAD, RttSample};
pub use stats::PoolStats;
pub use stream::{AsyncStream, BoxStream, Hello, StreamDialer, Transport};
pub use task::MAX_EVENT_BYTES;
