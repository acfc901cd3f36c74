//! The fault-injection suite: real `praetor` servers, each in a Linux network namespace of its
//! own joined by veth pairs to a bridge ([`netns`]), real faults ([`nemesis`]: nftables drop
//! rules, links down, SIGSTOP, SIGKILL and restart, a full tmpfs data dir), client histories
//! recorded from many threads ([`workload`], [`locks`]) and checked ([`checks`]: the
//! linearizability checker of [`crate::linearizability`] on writes and `?consistent` reads, a
//! stale-read count for default reads, mutual exclusion of session locks).
//!
//! Every scenario is driven by one seed ([`Rng`], printed at start): the servers, keys,
//! operations, fault targets and windows it picks. Thread interleavings and the cluster's own
//! timing are of course not reproducible; the seed reproduces the plan.
//!
//! Needs root (namespaces, nftables, tmpfs mounts). Addresses are taken from 10.77.0.0/16
//! only: 10.77.<id>.<n> for node n of the cluster with id <id>, 10.77.<id>.254 for the test
//! process's end in the root namespace.

use std::time::{Duration, Instant};

pub mod checks;
pub mod cluster;
pub mod locks;
pub mod nemesis;
pub mod netns;
pub mod report;
pub mod scenario;
pub mod workload;

pub use report::ScenarioResult;

/// Every scenario, in the order `--scenarios all` runs them.
pub const SCENARIOS: &[&str] = &[
    "partition-leader",
    "partition-one-way",
    "kill-restart",
    "pause",
    "link-flap",
    "disk-full",
    "two-dc",
    "locks",
];

/// A tiny xorshift64* generator: everything random in a scenario comes from one of these,
/// seeded from the scenario's seed (and a stream number for each thread).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`; `stream` separates the generators of concurrent threads.
    pub fn new(seed: u64, stream: u64) -> Rng {
        // splitmix64 of the pair, so that nearby seeds give unrelated sequences.
        let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform index into a slice of length `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi.saturating_sub(lo) + 1))
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How a scenario runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The seed of every random choice.
    pub seed: u64,
    /// How long the load (and the faults within it) runs.
    pub load: Duration,
    /// How many fault windows the load contains.
    pub rounds: u32,
    /// KV client threads.
    pub clients: usize,
    /// KV keys the clients share.
    pub keys: usize,
    /// Upper bound on KV operations (all clients together).
    pub max_ops: usize,
    /// Lock clients (the `locks` scenario).
    pub lock_clients: usize,
    /// HTTP timeout of one workload request.
    pub request_timeout: Duration,
    /// Time the linearizability checker may spend.
    pub check_budget: Duration,
    /// After the last fault is healed, a write and a `?consistent` read must succeed on every
    /// server within this long.
    pub recovery_bound: Duration,
    /// Print progress lines (fault windows, phases).
    pub verbose: bool,
    /// The praetor binary to start (default: [`crate::praetor_bin`]).
    pub praetor: Option<std::path::PathBuf>,
}

impl Options {
    /// The defaults of the long profile for `seed`.
    pub fn new(seed: u64) -> Options {
        Options {
            seed,
            load: Duration::from_secs(30),
            rounds: 3,
            clients: 6,
            keys: 4,
            max_ops: 20_000,
            lock_clients: 4,
            request_timeout: Duration::from_secs(3),
            check_budget: Duration::from_secs(60),
            recovery_bound: Duration::from_secs(30),
            verbose: true,
            praetor: None,
        }
    }
}

/// The seed to use: `PRAETOR_FAULTS_SEED` if set (and a number), else the clock.
pub fn seed_from_env_or_time() -> u64 {
    if let Some(s) = std::env::var("PRAETOR_FAULTS_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return s;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    nanos ^ (u64::from(std::process::id()) << 40)
}

/// Whether this process runs as root (the suite needs it for namespaces and nftables).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Checks the tools the suite runs (`ip`, `nft`, `mount`): `Err` names what is missing.
pub fn preflight() -> Result<(), String> {
    if !is_root() {
        return Err(
            "the fault suite needs root: it creates network namespaces, veth pairs, nftables \
             rules and tmpfs mounts (run the tests as root)"
                .into(),
        );
    }
    for tool in ["ip", "nft", "mount", "umount", "kill"] {
        let found = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Err(format!("the fault suite needs `{tool}` on PATH"));
        }
    }
    Ok(())
}

/// Nanoseconds since `epoch` (the one clock of a scenario's history).
pub fn ns_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// Runs scenario `name` with `opts` and returns its result (never panics on a failed check or
/// a harness error: those are in the result, with the kept artifacts' path).
pub fn run_scenario(name: &str, opts: &Options) -> ScenarioResult {
    scenario::run_guarded(name, opts)
}
