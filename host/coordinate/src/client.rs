//! `Client`: refines the local coordinate from measured round-trip times (serf's
//! `coordinate/client.go`): latency filter, Vivaldi step, adjustment window, gravity.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::config::Config;
use crate::coordinate::Coordinate;
use crate::error::CoordinateError;
use crate::rng::XorShift;

/// Largest round-trip time an update accepts.
pub const MAX_RTT: Duration = Duration::from_secs(10);

/// Seed of the direction PRNG used by [`Client::new`].
const DEFAULT_SEED: u64 = 0x0070_7261_6574_6f72;

/// Counters of a client (serf's `ClientStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// How many times the coordinate became invalid and was reset to the origin.
    pub resets: u64,
}

/// Maintains the local node's coordinate. Not synchronised: wrap it in a lock to share it.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) coord: Coordinate,
    origin: Coordinate,
    config: Config,
    adjustment_index: usize,
    adjustment_samples: Vec<f64>,
    latency_filter_samples: HashMap<String, VecDeque<f64>>,
    stats: ClientStats,
    rng: XorShift,
}

impl Client {
    /// A client at the origin, with a fixed PRNG seed. Nodes that may update at the same
    /// instant from the same position should use [`Client::with_seed`] with distinct seeds.
    pub fn new(config: Config) -> Self {
        Client::with_seed(config, DEFAULT_SEED)
    }

    /// A client at the origin whose random directions come from `seed`.
    pub fn with_seed(config: Config, seed: u64) -> Self {
        Client {
            coord: Coordinate::new(&config),
            origin: Coordinate::new(&config),
            adjustment_index: 0,
            adjustment_samples: vec![0.0; config.adjustment_window_size],
            latency_filter_samples: HashMap::new(),
            stats: ClientStats::default(),
            rng: XorShift::new(seed),
            config,
        }
    }

    /// A copy of the current coordinate.
    pub fn coordinate(&self) -> Coordinate {
        self.coord.clone()
    }

    /// Replaces the current coordinate (e.g. one restored from disk).
    pub fn set_coordinate(&mut self, coord: Coordinate) -> Result<(), CoordinateError> {
        self.check_coordinate(&coord)?;
        self.coord = coord;
        Ok(())
    }

    /// Forgets the latency samples of a node (it left).
    pub fn forget_node(&mut self, node: &str) {
        self.latency_filter_samples.remove(node);
    }

    /// The client's counters.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// Estimated round-trip time from our coordinate to `other` (`Duration::MAX` if
    /// incompatible).
    pub fn distance_to(&self, other: &Coordinate) -> Duration {
        self.coord.distance_to(other)
    }

    /// Feeds one observation: `rtt` measured to `node`, whose coordinate is `other`. Returns
    /// the new coordinate. Refuses incompatible or invalid coordinates and RTTs above
    /// [`MAX_RTT`], changing nothing.
    pub fn update(
        &mut self,
        node: &str,
        other: &Coordinate,
        rtt: Duration,
    ) -> Result<Coordinate, CoordinateError> {
        self.check_coordinate(other)?;
        if rtt > MAX_RTT {
            return Err(CoordinateError::RttOutOfRange(rtt));
        }
        let rtt_seconds = self.latency_filter(node, rtt.as_secs_f64());
        self.update_vivaldi(other, rtt_seconds);
        self.update_adjustment(other, rtt_seconds);
        self.update_gravity();
        if !self.coord.is_valid() {
            self.stats.resets += 1;
            self.coord = Coordinate::new(&self.config);
        }
        Ok(self.coord.clone())
    }

    fn check_coordinate(&self, coord: &Coordinate) -> Result<(), CoordinateError> {
        if !self.coord.is_compatible_with(coord) {
            return Err(CoordinateError::IncompatibleCoordinate);
        }
        if !coord.is_valid() {
            return Err(CoordinateError::InvalidCoordinate);
        }
        Ok(())
    }

    /// Records a sample for `node` and returns the median of its last samples (a size of 0
    /// is treated as 1: no filtering).
    pub(crate) fn latency_filter(&mut self, node: &str, rtt_seconds: f64) -> f64 {
        let size = self.config.latency_filter_size.max(1);
        let samples = self
            .latency_filter_samples
            .entry(node.to_string())
            .or_default();
        samples.push_back(rtt_seconds);
        while samples.len() > size {
            samples.pop_front();
        }
        let mut sorted: Vec<f64> = samples.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    }

    /// One Vivaldi step: update our error estimate and move along the spring force.
    fn update_vivaldi(&mut self, other: &Coordinate, rtt_seconds: f64) {
        const ZERO: f64 = crate::coordinate::ZERO_THRESHOLD;
        let cfg = &self.config;
        let dist = self.coord.distance_to(other).as_secs_f64();
        let rtt = rtt_seconds.max(ZERO);
        let wrongness = (dist - rtt).abs() / rtt;

        let total_error = (self.coord.error + other.error).max(ZERO);
        let weight = self.coord.error / total_error;
        self.coord.error = cfg.vivaldi_ce * weight * wrongness
            + self.coord.error * (1.0 - cfg.vivaldi_ce * weight);
        self.coord.error = self.coord.error.min(cfg.vivaldi_error_max);

        let force = cfg.vivaldi_cc * weight * (rtt - dist);
        self.coord = self.coord.apply_force(cfg, force, other, &mut self.rng);
    }

    /// The adjustment term: half the mean of the recent `rtt - raw distance` residuals.
    fn update_adjustment(&mut self, other: &Coordinate, rtt_seconds: f64) {
        let window = self.config.adjustment_window_size;
        if window == 0 {
            return;
        }
        let dist = self.coord.raw_distance_to(other);
        self.adjustment_samples[self.adjustment_index] = rtt_seconds - dist;
        self.adjustment_index = (self.adjustment_index + 1) % window;
        let sum: f64 = self.adjustment_samples.iter().sum();
        self.coord.adjustment = sum / (2.0 * window as f64);
    }

    /// A weak pull toward the origin so the whole system does not drift away.
    fn update_gravity(&mut self) {
        let dist = self.origin.distance_to(&self.coord).as_secs_f64();
        let force = -(dist / self.config.gravity_rho).powi(2);
        self.coord = self
            .coord
            .apply_force(&self.config, force, &self.origin, &mut self.rng);
    }
}
