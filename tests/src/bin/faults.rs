//! The long profile of the fault-injection suite (needs root):
//!
//! ```text
//! cargo build --bin praetor
//! cargo run --release -p praetor-tests --bin faults -- \
//!     [--seed N] [--scenarios all|name,...] [--seconds S] [--rounds R] [--clients C] [--keys K]
//!     [--praetor PATH] [--quiet]
//! ```
//!
//! Runs each scenario on a fresh cluster (one after the other), prints per scenario its seed,
//! operations, ok/unknown counts, verdicts and, on failure, where its artifacts were kept;
//! then the summary table. Exits 1 if any scenario failed. The seed comes from `--seed`,
//! else `PRAETOR_FAULTS_SEED`, else the clock. The servers run `--praetor`, else
//! `$PRAETOR_BIN`, else the debug build `<target>/debug/praetor`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use praetor_tests::faults::{self, Options, SCENARIOS};

fn usage() -> String {
    format!(
        "usage: faults [--seed N] [--scenarios all|name,...] [--seconds S] [--rounds R] \
         [--clients C] [--keys K] [--praetor PATH] [--quiet]\nscenarios: {}",
        SCENARIOS.join(", ")
    )
}

/// `$PRAETOR_BIN`, else the debug build `<target>/debug/praetor` (what
/// `cargo build --bin praetor` produces, even when this binary runs from `target/release`).
fn default_praetor() -> PathBuf {
    if let Ok(p) = std::env::var("PRAETOR_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe.parent().and_then(Path::parent).map(Path::to_path_buf);
    match target {
        Some(t) if t.join("debug/praetor").exists() => t.join("debug/praetor"),
        _ => praetor_tests::find_praetor_bin().unwrap_or_else(|p| p),
    }
}

fn main() -> ExitCode {
    let mut seed = None;
    let mut names: Vec<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
    let mut seconds = None;
    let mut rounds = None;
    let mut clients = None;
    let mut keys = None;
    let mut quiet = false;
    let mut praetor: Option<PathBuf> = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = |i: usize| -> Result<String, String> {
            args.get(i + 1)
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let parsed: Result<usize, String> = (|| {
            match flag {
                "--seed" => seed = Some(value(i)?.parse::<u64>().map_err(|e| e.to_string())?),
                "--scenarios" => {
                    let v = value(i)?;
                    if v != "all" {
                        names = v.split(',').map(|s| s.trim().to_string()).collect();
                    }
                }
                "--seconds" => seconds = Some(value(i)?.parse::<u64>().map_err(|e| e.to_string())?),
                "--rounds" => rounds = Some(value(i)?.parse::<u32>().map_err(|e| e.to_string())?),
                "--clients" => {
                    clients = Some(value(i)?.parse::<usize>().map_err(|e| e.to_string())?)
                }
                "--keys" => keys = Some(value(i)?.parse::<usize>().map_err(|e| e.to_string())?),
                "--praetor" => praetor = Some(PathBuf::from(value(i)?)),
                "--quiet" => {
                    quiet = true;
                    return Ok(1);
                }
                "-h" | "--help" => {
                    println!("{}", usage());
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other}")),
            }
            Ok(2)
        })();
        match parsed {
            Ok(n) => i += n,
            Err(e) => {
                eprintln!("{e}\n{}", usage());
                return ExitCode::from(2);
            }
        }
    }
    for n in &names {
        if !SCENARIOS.contains(&n.as_str()) {
            eprintln!("unknown scenario {n:?}\n{}", usage());
            return ExitCode::from(2);
        }
    }
    if let Err(e) = faults::preflight() {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let seed = seed.unwrap_or_else(faults::seed_from_env_or_time);
    let mut opts = Options::new(seed);
    if let Some(s) = seconds {
        opts.load = Duration::from_secs(s.max(2));
    }
    if let Some(r) = rounds {
        opts.rounds = r.max(1);
    }
    if let Some(c) = clients {
        opts.clients = c.max(1);
    }
    if let Some(k) = keys {
        opts.keys = k.max(1);
    }
    opts.verbose = !quiet;
    opts.praetor = Some(praetor.unwrap_or_else(default_praetor));
    let bin = opts.praetor.clone().unwrap_or_default();
    if !bin.exists() {
        eprintln!(
            "{} not found: run `cargo build --bin praetor` first (or pass --praetor PATH)",
            bin.display()
        );
        return ExitCode::from(2);
    }
    println!(
        "faults: seed {seed}, scenarios {}, load {:?}, {} rounds, praetor {}",
        names.join(","),
        opts.load,
        opts.rounds,
        bin.display()
    );
    let mut results = Vec::new();
    for name in &names {
        let r = faults::run_scenario(name, &opts);
        println!(
            "{}: seed {} ops {} ok {} unknown {} dropped {} verdict {} {}{}",
            r.name,
            r.seed,
            r.ops,
            r.ok,
            r.unknown,
            r.dropped,
            r.verdict_short(),
            r.verdict.as_deref().or(r.locks.as_deref()).unwrap_or(""),
            r.kept
                .as_ref()
                .map(|k| format!(" (artifacts: {})", k.display()))
                .unwrap_or_default()
        );
        results.push(r);
    }
    println!("\n{}", faults::report::table(&results));
    for r in &results {
        println!("{}\n", r.details());
    }
    if results.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
