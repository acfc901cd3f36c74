//! Network coordinates (Consul's serf ping delegate + `agent.sendCoordinate`): one Vivaldi
//! client per gossip pool, fed by the pool's RTT probes, which carry each member's coordinate.
//! LAN coordinates go to the catalog (`coordinates` table) through raft; WAN coordinates feed
//! the router (datacenter ranking, `/v1/coordinate/datacenters`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use praetor_coordinate::{Client, Config as VivaldiConfig, Coordinate};
use praetor_gossip::Pool;
use praetor_state::{Command, NodeCoordinate};
use tokio::sync::broadcast;

use crate::Shared;

/// Consul's `sync_coordinate_interval_min`.
const SYNC_INTERVAL_MIN: Duration = Duration::from_secs(15);
/// Consul's `sync_coordinate_rate_target` (updates per second across the datacenter).
const SYNC_RATE_TARGET: f64 = 64.0;
/// The first update goes out this soon after start (a few probes have been made by then).
const FIRST_SYNC: Duration = Duration::from_secs(5);

/// One pool's Vivaldi client and the last coordinate heard from each member.
pub(crate) struct Coordinates {
    client: Mutex<Client>,
    peers: Mutex<HashMap<String, Coordinate>>,
}

impl Coordinates {
    /// A client whose random unit vectors (used when two coordinates coincide) are seeded from
    /// `member`, so members do not all move the same way.
    pub(crate) fn new(member: &str) -> Self {
        let seed = member.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Coordinates {
            client: Mutex::new(Client::with_seed(VivaldiConfig::default(), seed)),
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// This agent's coordinate in the pool.
    pub(crate) fn own(&self) -> Coordinate {
        match self.client.lock() {
            Ok(c) => c.coordinate(),
            Err(e) => e.into_inner().coordinate(),
        }
    }

    /// The last coordinate member `name` sent us.
    pub(crate) fn peer(&self, name: &str) -> Option<Coordinate> {
        self.peers.lock().ok()?.get(name).cloned()
    }

    pub(crate) fn forget(&self, name: &str) {
        if let Ok(mut p) = self.peers.lock() {
            p.remove(name);
        }
        if let Ok(mut c) = self.client.lock() {
            c.forget_node(name);
        }
    }

    /// One RTT sample to `name`, whose coordinate is `other`.
    fn observe(&self, name: &str, other: Coordinate, rtt: Duration) {
        if let Ok(mut c) = self.client.lock()
            && let Err(e) = c.update(name, &other, rtt)
        {
            tracing::debug!(member = name, error = %e, "coordinate update rejected");
            return;
        }
        if let Ok(mut p) = self.peers.lock() {
            p.insert(name.to_string(), other);
        }
    }
}

fn encode(c: &Coordinate) -> Vec<u8> {
    postcard::to_allocvec(c).unwrap_or_default()
}

/// Feeds `coords` from the pool's RTT probes and keeps our coordinate in the probes' payload.
pub(crate) async fn track(pool: Pool, coords: Arc<Coordinates>) {
    let mut samples = pool.subscribe_rtt();
    pool.set_probe_payload(encode(&coords.own()));
    loop {
        match samples.recv().await {
            Ok(s) => {
                match postcard::from_bytes::<Coordinate>(&s.payload) {
                    Ok(other) => coords.observe(&s.name, other, s.rtt),
                    Err(_) => tracing::debug!(member = %s.name, "undecodable coordinate in probe"),
                }
                pool.set_probe_payload(encode(&coords.own()));
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Consul's `lib.RateScaledInterval`: spread the datacenter's updates to the target rate, never
/// more often than the minimum interval.
fn sync_interval(members: usize) -> Duration {
    let scaled = Duration::from_secs_f64(members as f64 / SYNC_RATE_TARGET);
    scaled.max(SYNC_INTERVAL_MIN)
}

/// Sends this agent's LAN coordinate to the servers now and then (Consul's
/// `Coordinate.Update`).
pub(crate) async fn sync(shared: Arc<Shared>) {
    tokio::time::sleep(FIRST_SYNC).await;
    loop {
        let update = NodeCoordinate {
            node: shared.config.node_name.clone(),
            segment: String::new(),
            coord: shared.lan_coords.own(),
        };
        let cmd = Command::CoordinateBatchUpdate {
            updates: vec![update],
        };
        if let Err(e) = shared.rpc.apply(None, cmd).await {
            tracing::debug!(error = %e, "coordinate update failed");
        }
        // Random stagger up to a quarter of the interval, as Consul adds.
        let interval = sync_interval(shared.lan.members().len());
        let stagger = interval.mul_f64(0.25 * jitter());
        tokio::time::sleep(interval + stagger).await;
    }
}

/// A number in [0, 1) from the clock's sub-second noise (no extra dependency needed for a
/// stagger).
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_rate_scaled_with_a_floor() {
        assert_eq!(sync_interval(3), SYNC_INTERVAL_MIN);
        assert_eq!(sync_interval(6400), Duration::from_secs(100));
    }
}
