//! Pool configuration ([`PoolConfig`], [`Profile`], [`Timing`]) and the foca `Config` derived from it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::{NonZeroU8, NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::envelope::FOCA_MAX_PACKET;
use crate::error::GossipError;

/// Which memberlist preset the pool follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Serf LAN pool (UDP 8301): memberlist's DefaultLANConfig timings.
    #[default]
    Lan,
    /// Serf WAN pool (UDP 8302, servers only): memberlist's DefaultWANConfig timings.
    Wan,
}

/// Protocol periods. `Timing::lan()` / `Timing::wan()` follow memberlist's defaults; tests use
/// shorter ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// How often a random member is probed.
    pub probe_period: Duration,
    /// How long to wait for a direct ack before indirect probes (must be < `probe_period`).
    pub probe_rtt: Duration,
    /// Suspect -> failed after `suspicion_mult * max(1, log10(n)) * probe_period`.
    pub suspicion_mult: u32,
    /// Periodic gossip of pending updates and broadcasts.
    pub gossip_interval: Duration,
    /// How many random members each periodic gossip goes to.
    pub gossip_nodes: NonZeroUsize,
    /// The local tags are re-broadcast this often so late joiners learn them.
    pub tags_interval: Duration,
    /// While the pool has no alive peer, re-announce to the remembered join addresses this often.
    pub rejoin_interval: Duration,
    /// Re-announce to the remembered join addresses this often anyway.
    pub seed_announce_interval: Duration,
    /// Full state exchange with one random member this often (memberlist's PushPullInterval;
    /// scaled up above 32 members as memberlist does). Also done when joining.
    pub push_pull_interval: Duration,
    /// serf's ReconnectInterval: this often, with the chance `failed / alive`, re-announce to
    /// one random failed member, so two sides of a healed partition find each other again.
    pub reconnect_interval: Duration,
}

impl Timing {
    /// memberlist DefaultLANConfig: probe 1s / 500ms, suspicion x4, gossip 200ms to 3 members,
    /// push-pull 30s.
    pub fn lan() -> Self {
        Self {
            probe_period: Duration::from_secs(1),
            probe_rtt: Duration::from_millis(500),
            suspicion_mult: 4,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: NonZeroUsize::MIN.saturating_add(2),
            tags_interval: Duration::from_secs(5),
            rejoin_interval: Duration::from_secs(10),
            seed_announce_interval: Duration::from_secs(30),
            push_pull_interval: Duration::from_secs(30),
            reconnect_interval: Duration::from_secs(30),
        }
    }

    /// memberlist DefaultWANConfig: probe 5s / 3s, suspicion x6, gossip 500ms to 4 members,
    /// push-pull 60s.
    pub fn wan() -> Self {
        Self {
            probe_period: Duration::from_secs(5),
            probe_rtt: Duration::from_secs(3),
            suspicion_mult: 6,
            gossip_interval: Duration::from_millis(500),
            gossip_nodes: NonZeroUsize::MIN.saturating_add(3),
            tags_interval: Duration::from_secs(15),
            rejoin_interval: Duration::from_secs(30),
            seed_announce_interval: Duration::from_secs(30),
            push_pull_interval: Duration::from_secs(60),
            reconnect_interval: Duration::from_secs(30),
        }
    }

    /// The preset for a profile.
    pub fn for_profile(profile: Profile) -> Self {
        match profile {
            Profile::Lan => Self::lan(),
            Profile::Wan => Self::wan(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), GossipError> {
        let positive = [
            ("probe_period", self.probe_period),
            ("probe_rtt", self.probe_rtt),
            ("gossip_interval", self.gossip_interval),
            ("tags_interval", self.tags_interval),
            ("rejoin_interval", self.rejoin_interval),
            ("seed_announce_interval", self.seed_announce_interval),
            ("push_pull_interval", self.push_pull_interval),
            ("reconnect_interval", self.reconnect_interval),
        ];
        for (name, value) in positive {
            if value.is_zero() {
                return Err(GossipError::InvalidConfig(format!(
                    "{name} must not be zero"
                )));
            }
        }
        if self.probe_rtt >= self.probe_period {
            return Err(GossipError::InvalidConfig(
                "probe_rtt must be smaller than probe_period".into(),
            ));
        }
        if self.suspicion_mult == 0 {
            return Err(GossipError::InvalidConfig(
                "suspicion_mult must not be zero".into(),
            ));
        }
        Ok(())
    }

    /// The housekeeping tick of the pool task (tags, re-announces, join retries, leave, reaping).
    pub(crate) fn tick(&self) -> Duration {
        self.gossip_interval
            .clamp(Duration::from_millis(10), Duration::from_millis(250))
    }
}

/// Configuration of one gossip pool.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Member name (LAN: the node name; WAN: `<node>.<dc>`).
    pub node_name: String,
    /// UDP address to bind (port 0 picks a free port).
    pub bind: SocketAddr,
    /// Address announced to the other members. An unspecified IP or port 0 is replaced by the
    /// bound socket's.
    pub advertise: SocketAddr,
    /// Serf tags (role, dc, port, build, vsn, id, ...). Encoded size is limited to 512 bytes.
    pub tags: BTreeMap<String, String>,
    pub profile: Profile,
    /// Gossip encryption key (Consul's `encrypt`): the initial primary key of the keyring.
    /// With a keyring every datagram is sealed with AES-256-GCM and only datagrams that an
    /// installed key authenticates are accepted. Ignored when `keyring_file` exists.
    pub encrypt_key: Option<[u8; 32]>,
    /// Consul's keyring file (JSON array of base64 keys, primary first). If it exists at start
    /// its keys replace `encrypt_key`; it is (re)written atomically after every keyring change,
    /// and created at start from `encrypt_key` when missing.
    pub keyring_file: Option<PathBuf>,
    /// TEST HOOK: every outgoing datagram is sent this much later (order kept), to simulate
    /// network latency where `tc netem` is not available. Zero (the default) in production.
    pub send_delay: Duration,
    /// TEST HOOK: while this is true every received datagram is dropped, as if the network to
    /// this pool were cut. `None` (the default) in production.
    pub test_cut: Option<Arc<AtomicBool>>,
    /// Protocol periods; `None` = the profile's preset.
    pub timing: Option<Timing>,
    /// A failed member is forgotten (reaped) after this long (Consul: 72h).
    pub reconnect_timeout: Duration,
    /// A left member stays listed as `left` this long (serf's tombstone timeout: 24h).
    pub tombstone_timeout: Duration,
}

impl PoolConfig {
    /// A config with Consul's defaults: advertise = bind, no tags, no key, no keyring file,
    /// preset timings, reconnect timeout 72h, tombstone timeout 24h, no send delay.
    pub fn new(node_name: impl Into<String>, bind: SocketAddr, profile: Profile) -> Self {
        Self {
            node_name: node_name.into(),
            bind,
            advertise: bind,
            tags: BTreeMap::new(),
            profile,
            encrypt_key: None,
            keyring_file: None,
            send_delay: Duration::ZERO,
            test_cut: None,
            timing: None,
            reconnect_timeout: Duration::from_secs(72 * 3600),
            tombstone_timeout: Duration::from_secs(24 * 3600),
        }
    }

    /// The timing in effect (explicit or the profile's preset).
    pub fn effective_timing(&self) -> Timing {
        self.timing
            .clone()
            .unwrap_or_else(|| Timing::for_profile(self.profile))
    }

    pub(crate) fn validate(&self) -> Result<(), GossipError> {
        if self.node_name.is_empty() {
            return Err(GossipError::InvalidConfig(
                "node name must not be empty".into(),
            ));
        }
        if self.node_name.len() > MAX_NAME_LEN {
            return Err(GossipError::InvalidConfig(format!(
                "node name is longer than {MAX_NAME_LEN} bytes"
            )));
        }
        if self.reconnect_timeout.is_zero() || self.tombstone_timeout.is_zero() {
            return Err(GossipError::InvalidConfig(
                "reconnect_timeout and tombstone_timeout must not be zero".into(),
            ));
        }
        self.effective_timing().validate()
    }
}

/// Names travel in every message header (twice), so they are bounded.
pub(crate) const MAX_NAME_LEN: usize = 256;

/// memberlist's retransmit limit: `4 * ceil(log10(n + 1))`.
pub(crate) fn retransmits(cluster_size: u32) -> NonZeroU8 {
    let scale = f64::from(cluster_size.saturating_add(1)).log10().ceil();
    let value = (4.0 * scale).clamp(1.0, 255.0);
    // `value` is within 1..=255 after the clamp.
    NonZeroU8::new(value as u8).unwrap_or(NonZeroU8::MIN)
}

/// memberlist's suspicion timeout: `mult * max(1, log10(n)) * probe_period`.
pub(crate) fn suspicion_timeout(cluster_size: u32, timing: &Timing) -> Duration {
    let scale = f64::from(cluster_size.max(1)).log10().max(1.0);
    let secs = scale * f64::from(timing.suspicion_mult) * timing.probe_period.as_secs_f64();
    Duration::try_from_secs_f64(secs)
        .unwrap_or_else(|_| timing.probe_period.saturating_mul(timing.suspicion_mult))
}

/// The foca configuration for a pool of `cluster_size` members (adapted as the pool grows).
pub(crate) fn foca_config(
    profile: Profile,
    timing: &Timing,
    cluster_size: usize,
    forget_down_after: Duration,
) -> foca::Config {
    let n = u32::try_from(cluster_size.max(1)).unwrap_or(u32::MAX);
    let nz = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    let base = match profile {
        Profile::Lan => foca::Config::new_lan(nz),
        Profile::Wan => foca::Config::new_wan(nz),
    };
    foca::Config {
        probe_period: timing.probe_period,
        probe_rtt: timing.probe_rtt,
        max_transmissions: retransmits(n),
        suspect_to_down_after: suspicion_timeout(n, timing),
        remove_down_after: Some(forget_down_after),
        max_packet_size: FOCA_MAX_PACKET,
        periodic_gossip: Some(foca::PeriodicParams {
            frequency: timing.gossip_interval,
            num_members: timing.gossip_nodes,
        }),
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmits_follow_memberlist() {
        assert_eq!(retransmits(1).get(), 4);
        assert_eq!(retransmits(3).get(), 4);
        assert_eq!(retransmits(9).get(), 4);
        assert_eq!(retransmits(10).get(), 8);
        assert_eq!(retransmits(1000).get(), 16);
    }

    #[test]
    fn suspicion_scales_with_log_of_size() {
        let t = Timing::lan();
        assert_eq!(suspicion_timeout(3, &t), Duration::from_secs(4));
        assert_eq!(suspicion_timeout(100, &t), Duration::from_secs(8));
        assert_eq!(
            suspicion_timeout(10, &Timing::wan()),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn foca_config_uses_timing_and_size() {
        let mut t = Timing::lan();
        t.probe_period = Duration::from_millis(200);
        t.probe_rtt = Duration::from_millis(80);
        let c = foca_config(Profile::Lan, &t, 3, Duration::from_secs(60));
        assert_eq!(c.probe_period, Duration::from_millis(200));
        assert_eq!(c.probe_rtt, Duration::from_millis(80));
        assert_eq!(c.max_transmissions.get(), 4);
        assert_eq!(c.suspect_to_down_after, Duration::from_millis(800));
        assert_eq!(c.remove_down_after, Some(Duration::from_secs(60)));
        assert_eq!(c.max_packet_size, FOCA_MAX_PACKET);
        assert!(c.notify_down_members);
    }

    #[test]
    fn validation_rejects_bad_values() {
        let bind = "127.0.0.1:0".parse().unwrap();
        assert!(PoolConfig::new("a", bind, Profile::Lan).validate().is_ok());
        assert!(PoolConfig::new("", bind, Profile::Lan).validate().is_err());
        assert!(
            PoolConfig::new("x".repeat(MAX_NAME_LEN + 1), bind, Profile::Lan)
                .validate()
                .is_err()
        );
        let mut c = PoolConfig::new("a", bind, Profile::Wan);
        let mut t = Timing::wan();
        t.probe_rtt = t.probe_period;
        c.timing = Some(t);
        assert!(c.validate().is_err());
        let mut t = Timing::lan();
        t.gossip_interval = Duration::ZERO;
        c.timing = Some(t);
        assert!(c.validate().is_err());
    }
}
