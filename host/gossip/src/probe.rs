//! RTT probes for network coordinates: a Ping `{seq, payload}` to one alive member per probe
//! period (round robin over a shuffled list), answered at once by an Ack `{seq, payload}`; the
//! round trip is measured on a monotonic clock and published as an [`RttSample`]. This module
//! only measures; the agent runs Vivaldi on the samples.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Largest probe payload (a Vivaldi coordinate is about 90 bytes).
pub const MAX_PROBE_PAYLOAD: usize = 256;
/// Acks later than this are dropped (and their pings forgotten).
pub(crate) const MAX_PROBE_AGE: Duration = Duration::from_secs(10);

/// One measured round trip to a member, with the payload it answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttSample {
    /// The member's name.
    pub name: String,
    pub rtt: Duration,
    /// What the member set with [`crate::Pool::set_probe_payload`] (e.g. its coordinate).
    pub payload: Vec<u8>,
}

/// The body of a Ping and of an Ack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProbeMsg {
    pub seq: u64,
    pub payload: Vec<u8>,
}

impl ProbeMsg {
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    pub fn decode(data: &[u8]) -> Result<Self, postcard::Error> {
        let msg: ProbeMsg = postcard::from_bytes(data)?;
        if msg.payload.len() > MAX_PROBE_PAYLOAD {
            return Err(postcard::Error::DeserializeBadEncoding);
        }
        Ok(msg)
    }
}

struct InFlight {
    name: String,
    sent: Instant,
}

/// Probe scheduling and matching of acks to pings.
#[derive(Default)]
pub(crate) struct Prober {
    next_seq: u64,
    order: Vec<String>,
    in_flight: HashMap<u64, InFlight>,
}

impl Prober {
    /// Chooses the next member to probe, round robin over a shuffled list of the alive
    /// members (`alive_names`, asked for once per round), skipping those `addr_of` no longer
    /// finds alive; records the ping and returns where to send it. `None` when nobody is alive.
    pub fn next_ping(
        &mut self,
        addr_of: impl Fn(&str) -> Option<SocketAddr>,
        alive_names: impl FnOnce() -> Vec<String>,
        now: Instant,
    ) -> Option<(SocketAddr, u64)> {
        self.in_flight
            .retain(|_, p| now.saturating_duration_since(p.sent) < MAX_PROBE_AGE);
        let mut refill = Some(alive_names);
        loop {
            let Some(name) = self.order.pop() else {
                let names = refill.take()?();
                if names.is_empty() {
                    return None;
                }
                self.order = names;
                self.order.shuffle(&mut rand::rng());
                continue;
            };
            // Skip members that stopped being alive since the list was shuffled.
            let Some(addr) = addr_of(&name) else {
                continue;
            };
            self.next_seq = self.next_seq.wrapping_add(1);
            let seq = self.next_seq;
            self.in_flight.insert(seq, InFlight { name, sent: now });
            return Some((addr, seq));
        }
    }

    /// Matches an ack; `None` for an unknown, repeated or too old sequence number.
    pub fn on_ack(&mut self, ack: ProbeMsg, now: Instant) -> Option<RttSample> {
        let ping = self.in_flight.remove(&ack.seq)?;
        let rtt = now.saturating_duration_since(ping.sent);
        if rtt >= MAX_PROBE_AGE {
            return None;
        }
        Some(RttSample {
            name: ping.name,
            rtt,
            payload: ack.payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(names: &[&str]) -> HashMap<String, SocketAddr> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    n.to_string(),
                    SocketAddr::from(([127, 0, 0, 1], 1000 + i as u16)),
                )
            })
            .collect()
    }

    fn ping(
        p: &mut Prober,
        alive: &HashMap<String, SocketAddr>,
        now: Instant,
    ) -> Option<(SocketAddr, u64)> {
        p.next_ping(
            |n| alive.get(n).copied(),
            || alive.keys().cloned().collect(),
            now,
        )
    }

    #[test]
    fn round_robin_visits_every_member_once_per_round() {
        let mut p = Prober::default();
        let now = Instant::now();
        let members = alive(&["a", "b", "c"]);
        let mut seen: Vec<SocketAddr> = (0..3)
            .map(|_| ping(&mut p, &members, now).unwrap().0)
            .collect();
        seen.sort();
        let mut all: Vec<SocketAddr> = members.values().copied().collect();
        all.sort();
        assert_eq!(seen, all);
        assert!(ping(&mut p, &HashMap::new(), now).is_none());
        // A member that is gone by the time its turn comes is skipped.
        let mut q = Prober::default();
        let first = ping(&mut q, &members, now).unwrap().0;
        let fewer: HashMap<String, SocketAddr> = members
            .iter()
            .filter(|(_, a)| **a != first)
            .map(|(n, a)| (n.clone(), *a))
            .collect();
        for _ in 0..4 {
            assert_ne!(ping(&mut q, &fewer, now).unwrap().0, first);
        }
    }

    #[test]
    fn acks_are_matched_once_and_expire() {
        let mut p = Prober::default();
        let t0 = Instant::now();
        let members = alive(&["a"]);
        let (_, seq) = ping(&mut p, &members, t0).unwrap();
        let ack = ProbeMsg {
            seq,
            payload: b"coord".to_vec(),
        };
        let later = t0 + Duration::from_millis(7);
        let sample = p.on_ack(ack.clone(), later).unwrap();
        assert_eq!(sample.name, "a");
        assert_eq!(sample.rtt, Duration::from_millis(7));
        assert_eq!(sample.payload, b"coord");
        assert!(p.on_ack(ack, later).is_none(), "repeated");
        let unknown = ProbeMsg {
            seq: seq + 100,
            payload: vec![],
        };
        assert!(p.on_ack(unknown, later).is_none());
        let (_, seq) = ping(&mut p, &members, t0).unwrap();
        let old = ProbeMsg {
            seq,
            payload: vec![],
        };
        assert!(p.on_ack(old, t0 + MAX_PROBE_AGE).is_none(), "too old");
    }

    #[test]
    fn messages_round_trip_and_oversized_payloads_are_rejected() {
        let m = ProbeMsg {
            seq: 42,
            payload: vec![1, 2, 3],
        };
        assert_eq!(ProbeMsg::decode(&m.encode().unwrap()).unwrap(), m);
        let big = ProbeMsg {
            seq: 1,
            payload: vec![0; MAX_PROBE_PAYLOAD + 1],
        };
        assert!(ProbeMsg::decode(&big.encode().unwrap()).is_err());
        assert!(ProbeMsg::decode(&[0xff, 0xff]).is_err());
    }
}
