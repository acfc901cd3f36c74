//! Errors of coordinate updates; the texts are Consul's (`Coordinate.Update`) and serf's.

use std::time::Duration;

use crate::go_duration::GoDuration;

/// Why a coordinate or a round-trip time was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CoordinateError {
    /// A component is NaN or infinite.
    #[error("invalid coordinate")]
    InvalidCoordinate,
    /// The dimensionality differs from ours.
    #[error("incompatible coordinate")]
    IncompatibleCoordinate,
    /// The round-trip time is above [`crate::MAX_RTT`].
    #[error(
        "round trip time not in valid range, duration {} is not a positive value less than 10s",
        GoDuration(*.0)
    )]
    RttOutOfRange(Duration),
}
