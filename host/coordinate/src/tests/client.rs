//! `Client`: updates, the latency filter, input validation and NaN defence.

use std::time::Duration;

use super::{assert_close, config};
use crate::{Client, Config, Coordinate, CoordinateError, MAX_RTT};

#[test]
fn fresh_client_is_at_the_origin() {
    let client = Client::new(config(7));
    assert_eq!(client.coordinate(), Coordinate::new(&config(7)));
    assert_eq!(client.stats().resets, 0);
}

#[test]
fn update_moves_away_from_a_too_close_peer() {
    let cfg = config(3);
    let mut client = Client::new(cfg.clone());
    let mut other = Coordinate::new(&cfg);
    other.vec[2] = 0.001;
    // The observed RTT is longer than the distance: the client must move away (down).
    let c = client
        .update("node", &other, Duration::from_secs_f64(0.002))
        .expect("update");
    assert!(c.vec[2] < 0.0, "z = {}", c.vec[2]);
    assert_eq!(client.coordinate(), c);

    let mut known = c.clone();
    known.vec[2] = 99.0;
    client.set_coordinate(known).expect("set");
    assert_close(client.coordinate().vec[2], 99.0);
}

#[test]
fn update_moves_toward_a_too_far_peer() {
    let cfg = config(3);
    let mut client = Client::new(cfg.clone());
    let mut other = Coordinate::new(&cfg);
    other.vec[2] = 0.5;
    let before = client.distance_to(&other);
    let c = client
        .update("node", &other, Duration::from_millis(10))
        .expect("update");
    assert!(c.vec[2] > 0.0, "z = {}", c.vec[2]);
    assert!(client.distance_to(&other) < before);
}

#[test]
fn out_of_range_rtts_are_rejected_without_effect() {
    let cfg = config(3);
    let mut client = Client::new(cfg.clone());
    let mut other = Coordinate::new(&cfg);
    other.vec[2] = 0.001;
    let dist = client.distance_to(&other);
    for rtt in [
        Duration::from_secs(11),
        Duration::new(10, 1),
        Duration::from_secs(u64::MAX / 2),
    ] {
        let err = client.update("node", &other, rtt).expect_err("accepted");
        assert_eq!(err, CoordinateError::RttOutOfRange(rtt));
        assert_eq!(client.distance_to(&other), dist);
    }
    assert_eq!(
        CoordinateError::RttOutOfRange(Duration::from_secs(11)).to_string(),
        "round trip time not in valid range, duration 11s is not a positive value less than 10s"
    );
    // Rejected samples never reached the latency filter: the next update behaves exactly as
    // on a fresh client.
    let mut fresh = Client::new(cfg);
    let rtt = Duration::from_millis(3);
    assert_eq!(
        client.update("node", &other, rtt),
        fresh.update("node", &other, rtt)
    );
    // The bounds themselves are accepted.
    assert!(client.update("node", &other, MAX_RTT).is_ok());
    assert!(client.update("node", &other, Duration::ZERO).is_ok());
    assert!(client.coordinate().is_valid());
}

#[test]
fn distance_to_a_raw_coordinate() {
    let cfg = Config {
        height_min: 0.0,
        ..config(3)
    };
    let client = Client::new(cfg.clone());
    let mut other = Coordinate::new(&cfg);
    other.vec[2] = 12.345;
    assert_eq!(
        client.distance_to(&other),
        Duration::from_nanos(12_345_000_000)
    );
}

#[test]
fn latency_filter_takes_the_median_of_three() {
    let mut client = Client::new(Config::default());
    let mut f = |node: &str, rtt: f64| client.latency_filter(node, rtt);
    assert_close(f("alice", 0.201), 0.201);
    assert_close(f("alice", 0.200), 0.201);
    assert_close(f("alice", 0.207), 0.201);
    // A glitch is filtered out and ages away.
    assert_close(f("alice", 1.9), 0.207);
    assert_close(f("alice", 0.203), 0.207);
    assert_close(f("alice", 0.199), 0.203);
    assert_close(f("alice", 0.211), 0.203);
    // Nodes are independent.
    assert_close(f("bob", 0.310), 0.310);
    client.forget_node("alice");
    assert_close(client.latency_filter("alice", 0.888), 0.888);
    // Bob was not forgotten: his old sample still counts.
    assert_close(client.latency_filter("bob", 0.100), 0.310);
}

#[test]
fn invalid_and_incompatible_coordinates_are_refused() {
    let cfg = config(3);
    let mut client = Client::new(cfg.clone());
    let rtt = Duration::from_millis(250);

    let mut bad = Coordinate::new(&cfg);
    bad.vec[0] = f64::NAN;
    let err = client.update("node", &bad, rtt).expect_err("NaN accepted");
    assert_eq!(err, CoordinateError::InvalidCoordinate);
    assert_eq!(err.to_string(), "invalid coordinate");
    assert_eq!(
        client.set_coordinate(bad.clone()),
        Err(CoordinateError::InvalidCoordinate)
    );
    assert!(client.coordinate().is_valid());

    let alien = Coordinate::new(&config(6));
    let err = client
        .update("node", &alien, rtt)
        .expect_err("alien accepted");
    assert_eq!(err, CoordinateError::IncompatibleCoordinate);
    assert_eq!(err.to_string(), "incompatible coordinate");
    assert_eq!(
        client.set_coordinate(alien),
        Err(CoordinateError::IncompatibleCoordinate)
    );
    assert_eq!(client.coordinate(), Coordinate::new(&cfg));
}

#[test]
fn a_poisoned_coordinate_is_reset_to_the_origin() {
    let cfg = config(3);
    let mut client = Client::new(cfg.clone());
    client.coord.vec[0] = f64::NAN;
    let c = client
        .update("node", &Coordinate::new(&cfg), Duration::from_millis(250))
        .expect("update");
    assert!(c.is_valid());
    assert_eq!(c, Coordinate::new(&cfg));
    assert_eq!(client.stats().resets, 1);
    // Stats are a snapshot; reading does not clear them.
    assert_eq!(client.stats().resets, 1);
}

#[test]
fn adjustment_is_half_the_mean_residual() {
    let cfg = Config {
        adjustment_window_size: 1,
        ..config(2)
    };
    let mut client = Client::new(cfg.clone());
    let mut other = Coordinate::new(&cfg);
    other.vec = vec![0.010, 0.0];
    let rtt = Duration::from_millis(30);
    let c = client.update("n", &other, rtt).expect("update");
    // Gravity moves the vector after the adjustment is computed, by (0.0113 / 150)^2 s.
    let residual = rtt.as_secs_f64() - c.raw_distance_to(&other);
    assert!(
        (c.adjustment - residual / 2.0).abs() < 1e-8,
        "{c:?} vs {}",
        residual / 2.0
    );
    assert!(c.adjustment > 0.0);

    let no_window = Config {
        adjustment_window_size: 0,
        ..cfg
    };
    let mut client = Client::new(no_window);
    let c = client.update("n", &other, rtt).expect("update");
    assert_eq!(c.adjustment, 0.0);
}

#[test]
fn error_estimate_shrinks_with_consistent_observations() {
    let cfg = config(2);
    let mut a = Client::with_seed(cfg.clone(), 1);
    let mut b = Client::with_seed(cfg, 2);
    let rtt = Duration::from_millis(20);
    for _ in 0..200 {
        let cb = b.coordinate();
        a.update("b", &cb, rtt).expect("a");
        let ca = a.coordinate();
        b.update("a", &ca, rtt).expect("b");
    }
    let ca = a.coordinate();
    assert!(ca.error < 0.1, "error {}", ca.error);
    let est = a.distance_to(&b.coordinate()).as_secs_f64();
    assert!((est - 0.020).abs() < 0.001, "estimate {est}");
}

#[test]
fn updates_are_deterministic_per_seed() {
    let cfg = config(4);
    let origin = Coordinate::new(&cfg);
    let rtt = Duration::from_millis(5);
    let run = |seed: u64| {
        let mut c = Client::with_seed(cfg.clone(), seed);
        c.update("x", &origin, rtt).expect("update")
    };
    assert_eq!(run(9), run(9));
    // Coincident with the peer: the direction is random, so seeds differ.
    assert_ne!(run(9).vec, run(10).vec);
    // Either way the client ends up about rtt-worth of force away from the origin.
    assert!(run(9).vec.iter().any(|v| *v != 0.0));
}

#[test]
fn zero_dimensions_do_not_panic() {
    let cfg = config(0);
    let mut client = Client::new(cfg.clone());
    let c = client
        .update("n", &Coordinate::new(&cfg), Duration::from_millis(5))
        .expect("update");
    assert!(c.vec.is_empty() && c.is_valid());
}
