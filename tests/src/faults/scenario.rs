//! The scenarios: a cluster, a workload, a fault schedule, recovery, checks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use super::checks;
use super::cluster::{Cluster, ClusterSpec};
use super::locks::{self, LockHistory, LockSpec};
use super::nemesis::{Direction, Fault, Nemesis};
use super::report::{self, ScenarioResult};
use super::workload::{self, Client, KvHistory, KvSpec, Reply};
use super::{Options, Rng, SCENARIOS};
use crate::{scratch, wait_for};

/// The tmpfs size of the `disk-full` scenario's data dirs: room for a few thousand raft
/// entries and snapshots of a small store (the filler takes whatever is left).
const DISK_MIB: u64 = 64;

/// What survives a panic of the scenario body (for the report and the kept artifacts).
struct Ctx {
    result: ScenarioResult,
    kv: Option<KvHistory>,
    locks: Option<LockHistory>,
    timeline: Vec<String>,
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Runs scenario `name`: never panics; failures are in the result (with kept artifacts).
pub fn run_guarded(name: &str, opts: &Options) -> ScenarioResult {
    eprintln!(
        "== faults scenario {name}: seed {} (reproduce: --seed {} --scenarios {name}), load {:?}, {} rounds",
        opts.seed, opts.seed, opts.load, opts.rounds
    );
    let started = Instant::now();
    let dir = scratch(&format!("faults-{name}"));
    let mut ctx = Ctx {
        result: ScenarioResult {
            name: name.to_string(),
            seed: opts.seed,
            ..ScenarioResult::default()
        },
        kv: None,
        locks: None,
        timeline: Vec::new(),
    };
    if !SCENARIOS.contains(&name) {
        ctx.result.errors.push(format!(
            "unknown scenario {name:?} (known: {})",
            SCENARIOS.join(", ")
        ));
    } else if let Err(p) = catch_unwind(AssertUnwindSafe(|| body(name, opts, &dir, &mut ctx))) {
        ctx.result
            .errors
            .push(format!("harness: {}", panic_text(p.as_ref())));
    }
    ctx.result.duration = started.elapsed();
    if ctx.result.passed() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        let kept = report::keep_artifacts(
            &ctx.result,
            &dir,
            ctx.kv.as_ref(),
            ctx.locks.as_ref(),
            &ctx.timeline,
        );
        let _ = std::fs::remove_dir_all(&dir);
        ctx.result.kept = Some(kept);
    }
    eprintln!("{}", ctx.result.details());
    ctx.result
}

/// Which workload a scenario runs.
enum Work {
    Kv(std::thread::JoinHandle<KvHistory>, KvSpec),
    Locks(std::thread::JoinHandle<LockHistory>, LockSpec),
}

fn body(name: &str, opts: &Options, dir: &std::path::Path, ctx: &mut Ctx) {
    let mut rng = Rng::new(opts.seed, 1);
    let spec = ClusterSpec {
        dc1: 3,
        dc2: name == "two-dc",
        tmpfs_mib: (name == "disk-full").then_some(DISK_MIB),
        bin: opts.praetor.clone().unwrap_or_else(crate::praetor_bin),
    };
    let mut cluster = Cluster::start(&spec, dir);
    let leader = cluster.wait_ready(Duration::from_secs(60));
    if opts.verbose {
        eprintln!(
            "  cluster {} ready (10.77.{}.0/24), leader {}",
            cluster.net.id, cluster.net.id, cluster.servers[leader].name
        );
    }
    let dc1_urls: Vec<String> = cluster.dc1_servers().iter().map(|s| s.url()).collect();
    let epoch = Instant::now();
    let stop_at = epoch + opts.load;
    let work = if name == "locks" {
        let spec = LockSpec {
            servers: dc1_urls.clone(),
            lock_key: format!("faults/{name}/lock"),
            guarded_key: format!("faults/{name}/guarded"),
            clients: opts.lock_clients,
            request_timeout: opts.request_timeout,
            seed: opts.seed,
            max_rounds: 100_000,
        };
        let s = spec.clone();
        Work::Locks(
            std::thread::spawn(move || locks::run_locks(s, epoch, stop_at)),
            spec,
        )
    } else {
        let spec = KvSpec {
            servers: dc1_urls.clone(),
            keys: (0..opts.keys)
                .map(|k| format!("faults/{name}/k{k}"))
                .collect(),
            dc: (name == "two-dc").then(|| "dc=dc2".to_string()),
            clients: opts.clients,
            max_ops: opts.max_ops,
            request_timeout: opts.request_timeout,
            seed: opts.seed,
        };
        let s = spec.clone();
        Work::Kv(
            std::thread::spawn(move || workload::run_kv(s, epoch, stop_at)),
            spec,
        )
    };

    // The faults, on this thread. Whatever happens, everything is healed afterwards.
    let mut nem = Nemesis::new(epoch, opts.verbose);
    let schedule = catch_unwind(AssertUnwindSafe(|| {
        faults(name, opts, &mut cluster, &mut nem, &mut rng, stop_at);
    }));
    let heal = nem.heal_all(&mut cluster);
    ctx.timeline = nem.timeline.clone();
    ctx.result.timeline = nem
        .timeline
        .iter()
        .filter(|l| l.contains(" inject ") || l.contains(" heal "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    ctx.result.faults = nem
        .timeline
        .iter()
        .filter(|l| l.contains(" inject "))
        .count();
    if let Err(p) = schedule {
        ctx.result
            .errors
            .push(format!("fault schedule: {}", panic_text(p.as_ref())));
    }
    if let Err(e) = heal {
        ctx.result.errors.push(format!("healing: {e}"));
    }
    let healed_at = nem.last_heal.unwrap_or_else(Instant::now);
    // Recovery is probed at once (while the workload may still run).
    recovery(name, &cluster, healed_at, opts, ctx);

    // The workload ends at stop_at (plus one request timeout at most).
    let work = match work {
        Work::Kv(h, spec) => {
            ctx.kv = Some(h.join().expect("kv workload panicked"));
            Some(spec)
        }
        Work::Locks(h, spec) => {
            ctx.locks = Some(h.join().expect("lock workload panicked"));
            if let Some(l) = &ctx.locks {
                // Lock requests: acquires and guarded transactions (known: acknowledged or
                // refused; unknown: guarded transactions of unknown outcome; dropped: other
                // failed requests).
                ctx.result.ops =
                    l.acquires + l.guarded.len() + l.guarded_refused + l.guarded_unknown.len();
                ctx.result.ok = l.guarded.len() + l.guarded_refused;
                ctx.result.unknown = l.guarded_unknown.len();
                ctx.result.dropped = l.errors;
            }
            let mut l = ctx.locks.take().unwrap_or_default();
            if ctx.result.recovery.is_some() {
                match catch_unwind(AssertUnwindSafe(|| locks::final_reads(&spec, &mut l))) {
                    Ok(()) => {}
                    Err(p) => ctx
                        .result
                        .errors
                        .push(format!("final reads: {}", panic_text(p.as_ref()))),
                }
            }
            let c = locks::check(&l);
            ctx.result.locks = Some(c.summary(&l));
            ctx.result.lock_violations = c.violations;
            ctx.locks = Some(l);
            None
        }
    };
    let Some(spec) = work else {
        return;
    };
    let mut hist = ctx.kv.take().unwrap_or_default();
    if ctx.result.recovery.is_some() {
        let reads = catch_unwind(AssertUnwindSafe(|| {
            workload::final_reads(&spec, epoch, &mut hist)
        }));
        if let Err(p) = reads {
            ctx.result
                .errors
                .push(format!("final reads: {}", panic_text(p.as_ref())));
        }
    }
    // Stop the servers before checking: the checker wants both cores.
    drop(cluster);
    ctx.result.ops = hist.tally.total;
    ctx.result.ok = hist.tally.ok;
    ctx.result.unknown = hist.tally.unknown;
    ctx.result.dropped = hist.tally.dropped;
    let stale = checks::stale_default_reads(&hist);
    ctx.result.stale_reads = Some((stale.stale, stale.reads));
    ctx.result.stale_examples = stale.examples;
    let lin = checks::check_linearizable(&hist, opts.check_budget);
    ctx.result.checked_ops = lin.ops;
    ctx.result.check_took = lin.took;
    ctx.result.linearizable = lin.verdict == crate::linearizability::Verdict::Ok;
    ctx.result.verdict = Some(lin.verdict.to_string());
    ctx.kv = Some(hist);
}

/// Within `opts.recovery_bound` of the last heal, a write and a `?consistent` read of it
/// must succeed through every server (dc1 servers in the workload's datacenter; the dc2
/// server in its own), and the server's own replica must then serve that value to a
/// `?stale` read (it replicates again).
fn recovery(name: &str, cluster: &Cluster, healed_at: Instant, opts: &Options, ctx: &mut Ctx) {
    let client = Client::new(Duration::from_secs(3));
    let until = healed_at + opts.recovery_bound;
    let two_dc = name == "two-dc";
    let res = catch_unwind(AssertUnwindSafe(|| {
        for (i, s) in cluster.servers.iter().enumerate() {
            let dc = if two_dc && s.datacenter == "dc1" {
                "dc=dc2"
            } else {
                ""
            };
            let key = format!("faults/{name}/recovery/{}", s.name);
            let put = if dc.is_empty() {
                format!("{}/v1/kv/{key}", s.url())
            } else {
                format!("{}/v1/kv/{key}?{dc}", s.url())
            };
            let get = if dc.is_empty() {
                format!("{}/v1/kv/{key}?consistent&raw", s.url())
            } else {
                format!("{}/v1/kv/{key}?consistent&raw&{dc}", s.url())
            };
            let stale = get.replace("?consistent&", "?stale&");
            let mut n = 0u32;
            let value = wait_for(
                &format!(
                    "a write and a ?consistent read through {} after the faults",
                    s.name
                ),
                until
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(100)),
                || {
                    n += 1;
                    let value = format!("r{i}-{n}");
                    match client.call("PUT", &put, Some(value.as_bytes())) {
                        Reply::Answer(r) if r.status == 200 && r.text().trim() == "true" => {}
                        _ => return None,
                    }
                    match client.call("GET", &get, None) {
                        Reply::Answer(r) if r.status == 200 && r.text() == value => Some(value),
                        _ => None,
                    }
                },
            );
            // The server's own replica has caught up too (only this probe writes the key).
            let own = if two_dc && s.datacenter == "dc1" {
                None
            } else {
                Some(stale)
            };
            if let Some(url) = own {
                wait_for(
                    &format!(
                        "{}'s own replica (?stale) to catch up after the faults",
                        s.name
                    ),
                    until
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(100)),
                    || match client.call("GET", &url, None) {
                        Reply::Answer(r) if r.status == 200 && r.text() == value => Some(()),
                        _ => None,
                    },
                );
            }
        }
    }));
    match res {
        Ok(()) => ctx.result.recovery = Some(healed_at.elapsed()),
        Err(p) => {
            let tails: Vec<String> = cluster
                .servers
                .iter()
                .map(|s| format!("--- {} (last lines) ---\n{}", s.name, s.log_tail(5)))
                .collect();
            eprintln!("{}", tails.join("\n"));
            ctx.result.errors.push(format!(
                "no recovery within {:?}: {}",
                opts.recovery_bound,
                panic_text(p.as_ref())
            ));
        }
    }
}

/// The current dc1 leader, or a random dc1 server when none is agreed on.
fn leader_or_random(cluster: &Cluster, rng: &mut Rng) -> usize {
    cluster.leader().unwrap_or_else(|| rng.index(cluster.dc1))
}

/// A dc1 server other than the leader.
fn follower(cluster: &Cluster, rng: &mut Rng) -> usize {
    let leader = cluster.leader();
    let others: Vec<usize> = (0..cluster.dc1).filter(|i| Some(*i) != leader).collect();
    others[rng.index(others.len())]
}

/// The fault schedule: `opts.rounds` windows spread over the load, each injected after a calm
/// spell, healed at its end; bounded by `stop_at`.
fn faults(
    name: &str,
    opts: &Options,
    cluster: &mut Cluster,
    nem: &mut Nemesis,
    rng: &mut Rng,
    stop_at: Instant,
) {
    let rounds = opts.rounds.max(1);
    let start = Instant::now();
    let slot = opts.load / rounds;
    let slot_ms = slot.as_millis() as u64;
    let mut disk_target: Option<usize> = None;
    for round in 0..rounds {
        let slot_start = start + slot * round;
        let calm = rng.millis(slot_ms * 15 / 100, slot_ms * 30 / 100);
        let window = rng
            .millis(slot_ms * 45 / 100, slot_ms * 70 / 100)
            .max(Duration::from_millis(1500));
        nem.sleep(
            (slot_start + calm).saturating_duration_since(Instant::now()),
            stop_at,
        );
        if Instant::now() + Duration::from_millis(500) >= stop_at {
            break;
        }
        let window_end = (Instant::now() + window).min(stop_at);
        match name {
            "partition-leader" | "locks" => {
                let server = leader_or_random(cluster, rng);
                let _ = nem.inject(
                    cluster,
                    Fault::Partition {
                        server,
                        direction: Direction::Both,
                    },
                );
                nem.sleep(window, window_end);
            }
            "partition-one-way" => {
                let server = if round % 2 == 0 {
                    leader_or_random(cluster, rng)
                } else {
                    rng.index(cluster.dc1)
                };
                let direction = if rng.chance(50) {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                };
                let _ = nem.inject(cluster, Fault::Partition { server, direction });
                nem.sleep(window, window_end);
            }
            "kill-restart" => {
                let server = if round % 2 == 0 {
                    leader_or_random(cluster, rng)
                } else {
                    rng.index(cluster.dc1)
                };
                let _ = nem.inject(cluster, Fault::Killed { server });
                nem.sleep(window, window_end);
            }
            "pause" => {
                let server = leader_or_random(cluster, rng);
                let _ = nem.inject(cluster, Fault::Paused { server });
                nem.sleep(window, window_end);
            }
            "link-flap" | "two-dc" => {
                let server = if name == "two-dc" {
                    cluster.servers.len() - 1
                } else if round == 0 {
                    leader_or_random(cluster, rng)
                } else {
                    rng.index(cluster.dc1)
                };
                // Several flaps within the window.
                for _ in 0..20 {
                    if Instant::now() >= window_end {
                        break;
                    }
                    let _ = nem.inject(cluster, Fault::LinkDown { server });
                    nem.sleep(rng.millis(500, 2000), window_end);
                    let _ = nem.heal_all(cluster);
                    nem.sleep(rng.millis(300, 1000), window_end);
                }
            }
            "disk-full" => {
                // One follower, the same in every round.
                let server = *disk_target.get_or_insert_with(|| follower(cluster, rng));
                let filler = cluster.servers[server]
                    .disk
                    .as_ref()
                    .map(|d| d.join("filler"))
                    .expect("disk-full servers have a tmpfs");
                let _ = nem.inject(cluster, Fault::DiskFull { server, filler });
                nem.sleep(window, window_end);
            }
            other => panic!("no fault schedule for scenario {other}"),
        }
        if let Err(e) = nem.heal_all(cluster) {
            panic!("healing failed: {e}");
        }
    }
}
