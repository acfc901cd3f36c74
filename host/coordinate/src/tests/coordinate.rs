//! `Coordinate`: construction, validity, compatibility, distance and the force step.

use std::time::Duration;

use super::{assert_close, assert_close_vec, config};
use crate::coordinate::{add, diff, magnitude, unit_vector_at};
use crate::go_duration::GoDuration;
use crate::rng::XorShift;
use crate::{Config, Coordinate, distance_seconds};

/// 3-D coordinates at serf's test positions, with no minimum height.
fn pair() -> (Coordinate, Coordinate) {
    let cfg = Config {
        height_min: 0.0,
        ..config(3)
    };
    let mut a = Coordinate::new(&cfg);
    let mut b = Coordinate::new(&cfg);
    a.vec = vec![-0.5, 1.3, 2.4];
    b.vec = vec![1.2, -2.3, 3.4];
    (a, b)
}

#[test]
fn default_config_is_serfs() {
    let c = Config::default();
    assert_eq!(c.dimensionality, 8);
    assert_eq!(c.vivaldi_error_max, 1.5);
    assert_eq!(c.vivaldi_ce, 0.25);
    assert_eq!(c.vivaldi_cc, 0.25);
    assert_eq!(c.adjustment_window_size, 20);
    assert_eq!(c.height_min, 10.0e-6);
    assert_eq!(c.latency_filter_size, 3);
    assert_eq!(c.gravity_rho, 150.0);
}

#[test]
fn new_coordinate_is_at_the_origin() {
    let c = Coordinate::new(&Config::default());
    assert_eq!(
        c,
        Coordinate {
            vec: vec![0.0; 8],
            error: 1.5,
            adjustment: 0.0,
            height: 1.0e-5,
        }
    );
    assert!(c.is_valid());
}

#[test]
fn any_nan_or_inf_component_is_invalid() {
    let base = Coordinate::new(&Config::default());
    let fields = base.vec.len() + 3;
    for field in 0..fields {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut c = base.clone();
            match field.checked_sub(base.vec.len()) {
                None => c.vec[field] = bad,
                Some(0) => c.error = bad,
                Some(1) => c.adjustment = bad,
                Some(_) => c.height = bad,
            }
            assert!(!c.is_valid(), "field {field} = {bad} accepted");
        }
    }
}

#[test]
fn compatibility_is_same_dimensionality() {
    let a = Coordinate::new(&config(3));
    let b = Coordinate::new(&config(3));
    let alien = Coordinate::new(&config(2));
    assert!(a.is_compatible_with(&a) && a.is_compatible_with(&b) && b.is_compatible_with(&a));
    assert!(!a.is_compatible_with(&alien) && !alien.is_compatible_with(&a));
}

#[test]
fn distance_follows_serf() {
    let (mut a, mut b) = pair();
    let base = 4.104875150354758;
    assert_close(a.distance_to(&a).as_secs_f64(), 0.0);
    assert_close(a.distance_to(&b).as_secs_f64(), base);
    assert_eq!(a.distance_to(&b), b.distance_to(&a));
    assert_close(a.raw_distance_to(&b), base);

    // A negative total adjustment is ignored.
    a.adjustment = -1.0e6;
    assert_close(a.distance_to(&b).as_secs_f64(), base);
    assert_close(a.raw_distance_to(&b), base);

    // Positive adjustments add up.
    a.adjustment = 0.1;
    b.adjustment = 0.2;
    assert_close(a.distance_to(&b).as_secs_f64(), base + 0.3);
    assert_close(a.raw_distance_to(&b), base);

    // Heights add up.
    a.height = 0.7;
    b.height = 0.1;
    assert_close(a.distance_to(&b).as_secs_f64(), base + 0.3 + 0.8);
    assert_close(a.raw_distance_to(&b), base + 0.8);
}

#[test]
fn distance_truncates_to_whole_nanoseconds() {
    let cfg = Config {
        height_min: 0.0,
        ..config(1)
    };
    let a = Coordinate::new(&cfg);
    let mut b = Coordinate::new(&cfg);
    b.vec = vec![0.001_000_000_9];
    assert_eq!(a.distance_to(&b), Duration::from_nanos(1_000_000));
    b.vec = vec![12.345];
    assert_eq!(a.distance_to(&b), Duration::from_nanos(12_345_000_000));
}

#[test]
fn distance_seconds_is_infinite_when_unknown() {
    let (a, b) = pair();
    assert_close(distance_seconds(Some(&a), Some(&b)), 4.104875150354758);
    assert_eq!(distance_seconds(None, Some(&b)), f64::INFINITY);
    assert_eq!(distance_seconds(Some(&a), None), f64::INFINITY);
    assert_eq!(distance_seconds(None, None), f64::INFINITY);
    let alien = Coordinate::new(&config(2));
    assert_eq!(distance_seconds(Some(&a), Some(&alien)), f64::INFINITY);
    assert_eq!(a.distance_to(&alien), Duration::MAX);
}

#[test]
fn apply_force_moves_along_the_unit_vector() {
    let mut cfg = Config {
        height_min: 0.0,
        ..config(3)
    };
    let mut rng = XorShift::new(1);
    let origin = Coordinate::new(&cfg);
    let mut above = Coordinate::new(&cfg);
    above.vec = vec![0.0, 0.0, 2.9];
    let c = origin.apply_force(&cfg, 5.3, &above, &mut rng);
    assert_close_vec(&c.vec, &[0.0, 0.0, -5.3]);

    let mut right = Coordinate::new(&cfg);
    right.vec = vec![3.4, 0.0, -5.3];
    let c = c.apply_force(&cfg, 2.0, &right, &mut rng);
    assert_close_vec(&c.vec, &[-2.0, 0.0, -5.3]);

    // Coincident points: a random direction, exactly one unit away.
    let c = origin.apply_force(&cfg, 1.0, &origin, &mut rng);
    assert_close(origin.distance_to(&c).as_secs_f64(), 1.0);

    // Heights scale with the force and respect the minimum.
    cfg.height_min = 10.0e-6;
    let origin = Coordinate::new(&cfg);
    let c = origin.apply_force(&cfg, 5.3, &above, &mut rng);
    assert_close_vec(&c.vec, &[0.0, 0.0, -5.3]);
    assert_close(c.height, cfg.height_min + 5.3 * cfg.height_min / 2.9);
    let c = origin.apply_force(&cfg, -5.3, &above, &mut rng);
    assert_close_vec(&c.vec, &[0.0, 0.0, 5.3]);
    assert_close(c.height, cfg.height_min);
}

#[test]
fn vector_helpers() {
    let a = [1.0, -3.0, 3.0];
    let b = [-4.0, 5.0, 6.0];
    assert_close_vec(&add(&a, &b), &[-3.0, 2.0, 9.0]);
    assert_close_vec(&diff(&a, &b), &[5.0, -8.0, -3.0]);
    assert_close(magnitude(&[0.0, 0.0, 0.0]), 0.0);
    assert_close(magnitude(&[1.0, -2.0, 3.0]), 3.7416573867739413);
}

#[test]
fn unit_vector_is_normalised_or_random() {
    let mut rng = XorShift::new(7);
    let a = [1.0, 2.0, 3.0];
    let b = [0.5, 0.6, 0.7];
    let (u, mag) = unit_vector_at(&mut rng, &a, &b);
    assert_close_vec(
        &u,
        &[0.18257418583505536, 0.511207720338155, 0.8398412548412546],
    );
    assert_close(magnitude(&u), 1.0);
    assert_close(mag, magnitude(&diff(&a, &b)));

    let mut seen = Vec::new();
    for _ in 0..5 {
        let (u, mag) = unit_vector_at(&mut rng, &a, &a);
        assert_close(magnitude(&u), 1.0);
        assert_eq!(mag, 0.0);
        assert!(!seen.contains(&u), "random directions repeat");
        seen.push(u);
    }
    // Zero dimensions: nothing to move, no panic.
    let (u, mag) = unit_vector_at(&mut rng, &[], &[]);
    assert!(u.is_empty() && mag == 0.0);
}

#[test]
fn prng_is_deterministic_and_in_range() {
    let mut a = XorShift::new(3);
    let mut b = XorShift::new(3);
    let mut c = XorShift::new(4);
    let xs: Vec<f64> = (0..100).map(|_| a.next_f64()).collect();
    let ys: Vec<f64> = (0..100).map(|_| b.next_f64()).collect();
    let zs: Vec<f64> = (0..100).map(|_| c.next_f64()).collect();
    assert_eq!(xs, ys);
    assert_ne!(xs, zs);
    assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    assert!((0.35..0.65).contains(&mean), "mean {mean}");
    // Seed 0 works too.
    let mut z = XorShift::new(0);
    assert_ne!(z.next_f64(), z.next_f64());
}

#[test]
fn go_duration_format() {
    let cases = [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(5), "5ns"),
        (Duration::from_micros(1500), "1.5ms"),
        (Duration::from_nanos(2_500), "2.5µs"),
        (Duration::from_millis(250), "250ms"),
        (Duration::from_secs(11), "11s"),
        (Duration::from_millis(10_500), "10.5s"),
        (Duration::new(10, 1), "10.000000001s"),
        (Duration::from_secs(60), "1m0s"),
        (Duration::from_secs(3723), "1h2m3s"),
        (Duration::from_secs(7200), "2h0m0s"),
    ];
    for (d, want) in cases {
        assert_eq!(GoDuration(d).to_string(), want, "{d:?}");
    }
}
