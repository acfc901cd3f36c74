//! The short profile of the fault-injection suite (see `praetor_tests::faults`): five
//! scenarios with about 12 s of load each, one after the other on fresh 3-server clusters in
//! network namespaces — the leader partitioned away, servers SIGKILLed and restarted, the
//! leader SIGSTOPped, a follower's disk full then freed, session locks under a leader
//! partition. Every history must be
//! linearizable, every lock check must hold, and the cluster must recover within 30 s.
//!
//! Needs root. The seed is `PRAETOR_FAULTS_SEED` or the clock (printed); the long profile is
//! `cargo run --release -p praetor-tests --bin faults -- --help`.

use std::time::Duration;

use praetor_tests::faults::{self, Options};

#[test]
fn faults_short_profile() {
    if let Err(e) = faults::preflight() {
        panic!("{e}");
    }
    let seed = faults::seed_from_env_or_time();
    let mut opts = Options::new(seed);
    opts.load = Duration::from_secs(12);
    opts.rounds = 2;
    opts.check_budget = Duration::from_secs(20);
    opts.max_ops = 6_000;
    println!(
        "faults short profile: seed {seed} (set PRAETOR_FAULTS_SEED={seed} to replay the plan)"
    );
    let results: Vec<_> = [
        "partition-leader",
        "kill-restart",
        "pause",
        "disk-full",
        "locks",
    ]
    .iter()
    .map(|name| faults::run_scenario(name, &opts))
    .collect();
    println!("\n{}", faults::report::table(&results));
    for r in &results {
        println!("{}\n", r.details());
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.details())
        .collect();
    assert!(
        failed.is_empty(),
        "{} scenario(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    for r in &results {
        let recovered = r.recovery.expect("recovery measured");
        assert!(
            recovered <= opts.recovery_bound,
            "{}: recovery took {recovered:?}",
            r.name
        );
    }
}
