//! Tuning of the Vivaldi algorithm (serf's `coordinate.Config`).

/// Parameters of the Vivaldi algorithm. [`Config::default`] gives serf's `DefaultConfig()`,
/// which Consul uses unchanged for both the LAN and the WAN pools.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Number of Euclidean dimensions of a coordinate.
    pub dimensionality: usize,
    /// Upper bound (and initial value) of a coordinate's error estimate.
    pub vivaldi_error_max: f64,
    /// How fast the error estimate follows new observations.
    pub vivaldi_ce: f64,
    /// How far a coordinate moves per observation (the spring constant).
    pub vivaldi_cc: f64,
    /// Number of samples averaged into the adjustment term (0 disables it).
    pub adjustment_window_size: usize,
    /// Smallest height (seconds) a coordinate can have.
    pub height_min: f64,
    /// Number of RTT samples per peer whose median feeds the algorithm.
    pub latency_filter_size: usize,
    /// Distance from the origin (seconds) at which gravity's pull equals one second of force.
    pub gravity_rho: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dimensionality: 8,
            vivaldi_error_max: 1.5,
            vivaldi_ce: 0.25,
            vivaldi_cc: 0.25,
            adjustment_window_size: 20,
            height_min: 10.0e-6,
            latency_filter_size: 3,
            gravity_rho: 150.0,
        }
    }
}
