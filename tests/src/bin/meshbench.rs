//! The Connect CA under load (issue 10's figures): on the bench's 3-server cluster
//! (127.0.1.1-3), 64 clients ask the agents for a leaf certificate, first always the same
//! service (answered from the agent's cache), then a new service per request (agent makes a
//! key and CSR, a server signs: the issuance rate with `csr_max_per_second = 0`). Medians and
//! spread over rounds. `cargo run --release -p praetor-tests --bin meshbench [-- --rounds N
//! --seconds S]` (after `cargo build --release --bin praetor`).

use std::time::Duration;

use praetor_tests::bench::load::{self, Limits};
use praetor_tests::bench::praetor::PraetorCluster;

const CLIENTS: usize = 64;

struct Round {
    cached: f64,
    cached_p99: Duration,
    issued: f64,
    issued_p99: Duration,
}

fn one(seconds: u64) -> Result<Round, String> {
    let config = r#"{"performance":{"raft_multiplier":1},"log_level":"info",
        "connect":{"ca_config":{"csr_max_per_second":0}}}"#;
    let mut cluster = PraetorCluster::start_configured(config, None).map_err(|e| e.to_string())?;
    cluster
        .wait_ready_as(Duration::from_secs(60), None)
        .map_err(|e| e.to_string())?;
    let bases = cluster.bases();
    // The CA is made by the leader right after its election.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    let probe = praetor_tests::Http::new(&bases[0]);
    while probe.try_get("/v1/connect/ca/roots").map(|r| r.status) != Ok(200) {
        if std::time::Instant::now() > until {
            return Err("CA not initialized".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let limits = Limits {
        duration: Duration::from_secs(seconds),
        max_requests: 5_000_000,
        warmup_per_client: 2,
    };
    let cached = load::run(CLIENTS, limits, load::praetor_leaf(bases.clone(), false));
    let issued = load::run(CLIENTS, limits, load::praetor_leaf(bases, true));
    cluster.stop();
    for (what, s) in [("cached", &cached), ("issued", &issued)] {
        if s.errors > 0 {
            return Err(format!(
                "{what}: {} errors, first: {:?}",
                s.errors, s.first_error
            ));
        }
    }
    Ok(Round {
        cached: cached.throughput(),
        cached_p99: cached.percentile(0.99).unwrap_or_default(),
        issued: issued.throughput(),
        issued_p99: issued.percentile(0.99).unwrap_or_default(),
    })
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() -> std::process::ExitCode {
    let mut rounds = 3usize;
    let mut seconds = 5u64;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for w in args.windows(2) {
        match w[0].as_str() {
            "--rounds" => rounds = w[1].parse().unwrap_or(rounds),
            "--seconds" => seconds = w[1].parse().unwrap_or(seconds),
            _ => {}
        }
    }
    let mut all = Vec::new();
    for r in 0..rounds {
        match one(seconds) {
            Ok(x) => {
                eprintln!(
                    "round {r}: cached {:.0}/s (p99 {:?}), issued {:.0}/s (p99 {:?})",
                    x.cached, x.cached_p99, x.issued, x.issued_p99
                );
                all.push(x);
            }
            Err(e) => {
                eprintln!("round {r}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    println!("| figure ({CLIENTS} clients, 3 servers) | median/s | min..max |");
    println!("|---|---|---|");
    for (name, f) in [
        (
            "leaf from the agent's cache",
            (|r: &Round| r.cached) as fn(&Round) -> f64,
        ),
        ("leaf issued (key + CSR + sign)", |r: &Round| r.issued),
    ] {
        let (m, lo, hi) = median(all.iter().map(f).collect());
        println!("| {name} | {m:.0} | {lo:.0}..{hi:.0} |");
    }
    std::process::ExitCode::SUCCESS
}
