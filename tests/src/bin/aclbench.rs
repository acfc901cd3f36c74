//! KV throughput with ACLs on against ACLs off, in one run (issue 9: at least 0.9x). Each round
//! starts the 3-server cluster of the bench (127.0.1.1-3) once with ACLs off and once with
//! `default_policy = "deny"`, where clients send a token holding a `key_prefix "bench/"`
//! write policy; 64 clients PUT 1 KiB values, then GET them (default consistency). Rounds
//! alternate the order; the table gives per-mode medians and the on/off ratios (median and
//! spread over rounds). `cargo run --release -p praetor-tests --bin aclbench [-- --rounds N
//! --seconds S]` (after `cargo build --release --bin praetor`).

use std::time::Duration;

use praetor_tests::bench::load::{self, Limits};
use praetor_tests::bench::praetor::PraetorCluster;
use serde_json::json;

const KEYS: u64 = 1000;
const CLIENTS: usize = 64;
const ROOT: &str = "6a1f0e0c-5a3b-4d7e-9c21-8f7e6d5c4b3a";
const RECOVERY: &str = "0c9e1f2a-3b4c-4d5e-8f60-718293a4b5c6";

struct Round {
    put: f64,
    get: f64,
}

fn config(acl: bool) -> String {
    let mut v = json!({"performance": {"raft_multiplier": 1}, "log_level": "info"});
    if acl {
        v["acl"] = json!({
            "enabled": true,
            "default_policy": "deny",
            "tokens": {"initial_management": ROOT, "agent_recovery": RECOVERY},
        });
    }
    v.to_string()
}

/// A token that may write `bench/` (not the management token: its rules are the ones a
/// real client has).
fn bench_token(cluster: &PraetorCluster) -> Result<String, String> {
    let root = cluster.agents[0].http().with_token(ROOT);
    let p = root.put_json(
        "/v1/acl/policy",
        &json!({"Name": "bench", "Rules": "key_prefix \"bench/\" { policy = \"write\" }"}),
    );
    if p.status != 200 {
        return Err(format!("policy: {}", p.text()));
    }
    let t = root.put_json(
        "/v1/acl/token",
        &json!({"Description": "bench", "Policies": [{"Name": "bench"}]}),
    );
    if t.status != 200 {
        return Err(format!("token: {}", t.text()));
    }
    Ok(t.json()["SecretID"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

fn one(acl: bool, seconds: u64) -> Result<Round, String> {
    let self_token = acl.then(|| RECOVERY.to_string());
    let mut cluster =
        PraetorCluster::start_configured(&config(acl), self_token).map_err(|e| e.to_string())?;
    let deadline = Duration::from_secs(60);
    let token = if acl {
        // The leader writes the initial management token; wait until it works.
        let root = cluster.agents[0].http().with_token(ROOT);
        let until = std::time::Instant::now() + deadline;
        while root.try_get("/v1/acl/token/self").map(|r| r.status) != Ok(200) {
            if std::time::Instant::now() > until {
                return Err("initial management token not usable".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(bench_token(&cluster)?)
    } else {
        None
    };
    cluster
        .wait_ready_as(deadline, token.as_deref())
        .map_err(|e| e.to_string())?;
    let bases = cluster.bases();
    let value = load::value_1k();
    let limits = Limits {
        duration: Duration::from_secs(seconds),
        max_requests: 5_000_000,
        warmup_per_client: 5,
    };
    let put = load::run(
        CLIENTS,
        limits,
        load::praetor_put_as(bases.clone(), KEYS, value.clone(), token.clone()),
    );
    let get = load::run(
        CLIENTS,
        limits,
        load::praetor_get_as(bases, KEYS, false, value.len(), token),
    );
    cluster.stop();
    for (what, s) in [("PUT", &put), ("GET", &get)] {
        if s.errors > 0 {
            return Err(format!(
                "{what} with ACLs {}: {} errors, first: {:?}",
                if acl { "on" } else { "off" },
                s.errors,
                s.first_error
            ));
        }
    }
    Ok(Round {
        put: put.throughput(),
        get: get.throughput(),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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
    let mut off = Vec::new();
    let mut on = Vec::new();
    for r in 0..rounds {
        // Alternate which mode runs first, so drift over the run hits both alike.
        let order = if r % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for acl in order {
            match one(acl, seconds) {
                Ok(x) => {
                    eprintln!(
                        "round {r} ACLs {}: PUT {:.0}/s GET {:.0}/s",
                        if acl { "on" } else { "off" },
                        x.put,
                        x.get
                    );
                    if acl { on.push(x) } else { off.push(x) }
                }
                Err(e) => {
                    eprintln!("round {r}: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
    }
    let ratios = |f: fn(&Round) -> f64| -> Vec<f64> {
        on.iter().zip(&off).map(|(a, b)| f(a) / f(b)).collect()
    };
    println!(
        "| figure ({CLIENTS} clients, 1 KiB, 3 servers) | ACLs off (median/s) | ACLs on (median/s) | on/off median | on/off min..max |"
    );
    println!("|---|---|---|---|---|");
    for (name, f) in [
        ("KV PUT", (|r: &Round| r.put) as fn(&Round) -> f64),
        ("KV GET", |r: &Round| r.get),
    ] {
        let r = ratios(f);
        let (lo, hi) = r
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        println!(
            "| {name} | {:.0} | {:.0} | {:.2}x | {lo:.2}..{hi:.2} |",
            median(off.iter().map(f).collect()),
            median(on.iter().map(f).collect()),
            median(r.clone()),
        );
    }
    std::process::ExitCode::SUCCESS
}
