//! praetor-coordinate: Vivaldi network coordinates as serf computes them (pure, no I/O).
//!
//! A [`Coordinate`] places a node in a Euclidean space plus a "height" (the access-link
//! latency) and an adjustment term, so that the distance between two coordinates estimates the
//! round-trip time between the nodes. A [`Client`] refines the local node's coordinate from
//! measured round-trip times to peers (serf's `coordinate.Client`). Nothing here reads a clock
//! or global randomness: the only randomness (a direction when two coordinates coincide) comes
//! from a small PRNG owned by each client and seeded explicitly.

mod client;
mod config;
mod coordinate;
mod error;
mod go_duration;
mod rng;

#[cfg(test)]
mod tests;

pub use client::{Client, ClientStats, MAX_RTT};
pub use config::Config;
pub use coordinate::{Coordinate, distance_seconds};
pub use error::CoordinateError;
