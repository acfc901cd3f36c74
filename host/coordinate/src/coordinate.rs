//! The `Coordinate` type: validity, compatibility, distance, and the force step of Vivaldi
//! (serf's `coordinate/coordinate.go`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::rng::XorShift;

/// Below this magnitude two positions count as the same point.
pub(crate) const ZERO_THRESHOLD: f64 = 1.0e-6;

/// A point in the Vivaldi space (serf's `coordinate.Coordinate`): all values in seconds except
/// `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coordinate {
    pub vec: Vec<f64>,
    pub error: f64,
    pub adjustment: f64,
    pub height: f64,
}

/// Converts seconds to a `Duration` as Go's `time.Duration(s * 1e9)` does (truncating toward
/// zero); negative and NaN values give zero, huge values saturate.
fn seconds_to_duration(seconds: f64) -> Duration {
    Duration::from_nanos((seconds * 1.0e9) as u64)
}

/// Estimated round-trip time in seconds between two optional coordinates (Consul's
/// `ComputeDistance`): `+Inf` when either is missing or they have different dimensionality.
pub fn distance_seconds(a: Option<&Coordinate>, b: Option<&Coordinate>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) if a.is_compatible_with(b) => a.distance_to(b).as_secs_f64(),
        _ => f64::INFINITY,
    }
}

impl Coordinate {
    /// A coordinate at the origin with the maximum error and the minimum height.
    pub fn new(config: &Config) -> Self {
        Coordinate {
            vec: vec![0.0; config.dimensionality],
            error: config.vivaldi_error_max,
            adjustment: 0.0,
            height: config.height_min,
        }
    }

    /// True when no component is NaN or infinite.
    pub fn is_valid(&self) -> bool {
        self.vec.iter().all(|v| v.is_finite())
            && self.error.is_finite()
            && self.adjustment.is_finite()
            && self.height.is_finite()
    }

    /// True when both coordinates have the same dimensionality.
    pub fn is_compatible_with(&self, other: &Coordinate) -> bool {
        self.vec.len() == other.vec.len()
    }

    /// Estimated round-trip time to `other`: the Euclidean distance plus both heights, plus
    /// both adjustments when that sum stays positive. Incompatible coordinates (where serf
    /// panics) give `Duration::MAX`.
    pub fn distance_to(&self, other: &Coordinate) -> Duration {
        if !self.is_compatible_with(other) {
            return Duration::MAX;
        }
        let raw = self.raw_distance_to(other);
        let adjusted = raw + self.adjustment + other.adjustment;
        seconds_to_duration(if adjusted > 0.0 { adjusted } else { raw })
    }

    /// Euclidean distance plus heights, without the adjustments (seconds).
    pub(crate) fn raw_distance_to(&self, other: &Coordinate) -> f64 {
        magnitude(&diff(&self.vec, &other.vec)) + self.height + other.height
    }

    /// Moves `self` by `force` seconds along the direction from `other` to `self` (a random
    /// direction when they coincide) and scales the height accordingly. The caller checks
    /// compatibility first.
    pub(crate) fn apply_force(
        &self,
        config: &Config,
        force: f64,
        other: &Coordinate,
        rng: &mut XorShift,
    ) -> Coordinate {
        let mut ret = self.clone();
        let (unit, mag) = unit_vector_at(rng, &self.vec, &other.vec);
        ret.vec = add(&ret.vec, &mul(&unit, force));
        if mag > ZERO_THRESHOLD {
            ret.height = (ret.height + other.height) * force / mag + ret.height;
            ret.height = ret.height.max(config.height_min);
        }
        ret
    }
}

pub(crate) fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

pub(crate) fn diff(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

pub(crate) fn mul(v: &[f64], factor: f64) -> Vec<f64> {
    v.iter().map(|x| x * factor).collect()
}

pub(crate) fn magnitude(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// The unit vector pointing from `b` to `a` and the distance between them. When they
/// (almost) coincide: a random unit vector and a distance of 0.
pub(crate) fn unit_vector_at(rng: &mut XorShift, a: &[f64], b: &[f64]) -> (Vec<f64>, f64) {
    let d = diff(a, b);
    let mag = magnitude(&d);
    if mag > ZERO_THRESHOLD {
        return (mul(&d, 1.0 / mag), mag);
    }
    let random: Vec<f64> = d.iter().map(|_| rng.next_f64() - 0.5).collect();
    let mag = magnitude(&random);
    if mag > ZERO_THRESHOLD {
        return (mul(&random, 1.0 / mag), 0.0);
    }
    // Practically unreachable: fall back to the first axis (nothing for zero dimensions).
    let mut axis = vec![0.0; d.len()];
    if let Some(first) = axis.first_mut() {
        *first = 1.0;
    }
    (axis, 0.0)
}
