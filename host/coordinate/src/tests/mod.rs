//! Unit tests of the coordinate crate, after serf's `coordinate/*_test.go`.

mod client;
mod coordinate;
mod performance;

/// serf's comparison threshold for floats.
const EPS: f64 = 1.0e-6;

#[track_caller]
pub(crate) fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= EPS,
        "expected {want:.9}, got {got:.9}"
    );
}

#[track_caller]
pub(crate) fn assert_close_vec(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "length of {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= EPS, "expected {want:?}, got {got:?}");
    }
}

/// A config with `dims` dimensions, otherwise serf's defaults.
pub(crate) fn config(dims: usize) -> crate::Config {
    crate::Config {
        dimensionality: dims,
        ..crate::Config::default()
    }
}
