//! Convergence and bandwidth bench: N gossip pools in one process on 127.0.0.1.
//!
//! `cargo run --release -p praetor-gossip --example convergence -- --members 1000 [--profile lan|wan]
//! [--encrypt] [--steady-secs 20]`
//!
//! Measures (a) the time until every pool sees all N members alive, each pool having joined
//! one random earlier pool; (b) once converged, the time until 50% / 99% / 100% of the pools
//! see a new member; (c) the bytes sent per second per node in steady state. Every phase has a
//! deadline; the bench exits non-zero with a message when one is missed.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use praetor_gossip::{MemberEvent, Pool, PoolConfig, PoolStats, Profile, Timing};
use rand::RngExt;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

struct Args {
    members: usize,
    profile: Profile,
    encrypt: bool,
    steady: Duration,
    /// Joins per second in phase (a); `None` = back to back.
    join_rate: Option<f64>,
    /// A random 127.x.y.1 per run: pools of another run (or test) that reuse a port of this
    /// one cannot merge into it.
    ip: IpAddr,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        members: 1000,
        profile: Profile::Lan,
        encrypt: false,
        steady: Duration::from_secs(20),
        join_rate: None,
        ip: IpAddr::from([
            127,
            rand::random_range(1..=254),
            rand::random_range(1..=254),
            1,
        ]),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--members" => {
                let v = it.next().ok_or("--members needs a value")?;
                args.members = v.parse().map_err(|e| format!("--members {v}: {e}"))?;
                if args.members < 2 {
                    return Err("--members must be at least 2".into());
                }
            }
            "--profile" => {
                args.profile = match it.next().as_deref() {
                    Some("lan") => Profile::Lan,
                    Some("wan") => Profile::Wan,
                    other => return Err(format!("--profile lan|wan, got {other:?}")),
                }
            }
            "--encrypt" => args.encrypt = true,
            "--steady-secs" => {
                let v = it.next().ok_or("--steady-secs needs a value")?;
                let secs: u64 = v.parse().map_err(|e| format!("--steady-secs {v}: {e}"))?;
                args.steady = Duration::from_secs(secs.max(1));
            }
            "--join-rate" => {
                let v = it.next().ok_or("--join-rate needs a value")?;
                let rate: f64 = v.parse().map_err(|e| format!("--join-rate {v}: {e}"))?;
                if rate.is_nan() || rate <= 0.0 {
                    return Err("--join-rate must be positive".into());
                }
                args.join_rate = Some(rate);
            }
            "-h" | "--help" => {
                return Err(
                    "usage: convergence [--members N] [--profile lan|wan] [--encrypt] \
                     [--steady-secs S] [--join-rate JOINS_PER_SEC]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// Raises the open-file soft limit to the hard limit (one UDP socket per pool).
#[allow(unsafe_code)]
fn raise_nofile_limit(needed: u64) -> Result<u64, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err("getrlimit failed".into());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err("setrlimit failed".into());
        }
    }
    if lim.rlim_cur < needed {
        return Err(format!(
            "open-file limit {} is below the {needed} needed",
            lim.rlim_cur
        ));
    }
    Ok(lim.rlim_cur)
}

fn name(i: usize, profile: Profile) -> String {
    match profile {
        Profile::Lan => format!("node-{i:04}"),
        Profile::Wan => format!("server-{i:04}.dc{}", i % 3 + 1),
    }
}

fn config(i: usize, args: &Args) -> PoolConfig {
    let bind = SocketAddr::new(args.ip, 0);
    let mut cfg = PoolConfig::new(name(i, args.profile), bind, args.profile);
    // About what a Consul server carries.
    cfg.tags = BTreeMap::from([
        ("role".into(), "consul".into()),
        ("dc".into(), format!("dc{}", i % 3 + 1)),
        ("id".into(), format!("6f1c1b52-0000-4000-8000-{i:012}")),
        ("port".into(), "8300".into()),
        ("build".into(), "1.23.0:praetor".into()),
        ("vsn".into(), "2".into()),
        ("vsn_min".into(), "2".into()),
        ("vsn_max".into(), "3".into()),
        ("raft_vsn".into(), "3".into()),
        ("segment".into(), String::new()),
    ]);
    if args.encrypt {
        cfg.encrypt_key = Some([0x5a; 32]);
    }
    cfg
}

async fn start_pool(i: usize, args: &Args) -> Result<Pool, String> {
    let pool = Pool::start(config(i, args))
        .await
        .map_err(|e| format!("pool {i}: {e}"))?;
    // A Vivaldi coordinate is about 90 bytes.
    pool.set_probe_payload(vec![0xc0; 90]);
    Ok(pool)
}

/// Polls `cond` every `every` until it holds or `deadline` passes.
async fn wait_for(
    what: &str,
    deadline: Duration,
    every: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<Duration, String> {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > deadline {
            return Err(format!("{what}: not reached within {deadline:?}"));
        }
        tokio::time::sleep(every).await;
    }
    Ok(start.elapsed())
}

fn total(stats: &[PoolStats]) -> (u64, u64) {
    stats
        .iter()
        .fold((0, 0), |(b, p), s| (b + s.bytes_out, p + s.packets_out))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[idx.clamp(1, sorted.len()) - 1]
}

async fn run(args: Args) -> Result<(), String> {
    let n = args.members;
    let limit = raise_nofile_limit(n as u64 + 64)?;
    let (converge_deadline, spread_deadline) = match args.profile {
        Profile::Lan => (Duration::from_secs(300), Duration::from_secs(60)),
        Profile::Wan => (Duration::from_secs(300), Duration::from_secs(120)),
    };
    println!(
        "convergence bench: {n} members on {}, profile {:?}, encryption {}, joins {}, \
         open-file limit {limit}",
        args.ip,
        args.profile,
        if args.encrypt { "on" } else { "off" },
        match args.join_rate {
            Some(rate) => format!("{rate}/s"),
            None => "back to back".into(),
        }
    );

    // (a) start everybody, each joining one random earlier member.
    let mut pools = Vec::with_capacity(n + 1);
    for i in 0..n {
        pools.push(start_pool(i, &args).await?);
    }
    let t0 = Instant::now();
    let mut rng = rand::rng();
    for i in 1..n {
        if let Some(rate) = args.join_rate {
            tokio::time::sleep_until(t0 + Duration::from_secs_f64(i as f64 / rate)).await;
        }
        let seed = pools[rng.random_range(0..i)].local_addr();
        pools[i]
            .join(&[seed], Duration::from_secs(10))
            .await
            .map_err(|e| format!("pool {i} join: {e}"))?;
    }
    let joins_done = t0.elapsed();
    let mut converged = vec![false; n];
    let mut next_report = Instant::now() + Duration::from_secs(5);
    wait_for(
        "every pool sees all members alive",
        converge_deadline,
        Duration::from_millis(250),
        || {
            for (i, p) in pools.iter().enumerate() {
                if !converged[i] && p.alive_count() == n {
                    converged[i] = true;
                }
            }
            if Instant::now() >= next_report {
                next_report += Duration::from_secs(5);
                let mut counts: Vec<usize> = pools.iter().map(Pool::alive_count).collect();
                counts.sort();
                println!(
                    "  t={:>5.1}s converged {}/{n}; alive seen min {} / median {} / max {}",
                    t0.elapsed().as_secs_f64(),
                    converged.iter().filter(|c| **c).count(),
                    counts[0],
                    counts[n / 2],
                    counts[n - 1]
                );
            }
            converged.iter().all(|c| *c)
        },
    )
    .await
    .map_err(|e| {
        let done = converged.iter().filter(|c| **c).count();
        format!("{e} ({done}/{n} pools converged)")
    })?;
    let full = t0.elapsed();
    // Drop whatever the convergence left in flight before measuring the next phases.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // (b) one more member joins; when does each pool see it?
    let newcomer = name(n, args.profile);
    let (tx, mut rx) = mpsc::unbounded_channel::<Duration>();
    let start_b = Instant::now();
    for p in &pools {
        let mut events = p.subscribe();
        let tx = tx.clone();
        let pool = p.clone();
        let newcomer = newcomer.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(MemberEvent::Join(m)) if m.name == newcomer => break,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if pool.members().iter().any(|m| m.name == newcomer) {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
            let _ = tx.send(start_b.elapsed());
        });
    }
    drop(tx);
    let new_pool = start_pool(n, &args).await?;
    let seed = pools[rng.random_range(0..n)].local_addr();
    let join_at = Instant::now();
    new_pool
        .join(&[seed], Duration::from_secs(10))
        .await
        .map_err(|e| format!("newcomer join: {e}"))?;
    let offset = join_at.saturating_duration_since(start_b);
    // (b') meanwhile: when does the newcomer know everybody, with their tags?
    let newcomer_deadline = Duration::from_secs(120);
    let newcomer_view = {
        let pool = new_pool.clone();
        tokio::spawn(async move {
            let mut alive_at = None;
            let mut tags_at: [Option<Duration>; 3] = [None; 3];
            while (alive_at.is_none() || tags_at[2].is_none())
                && join_at.elapsed() < newcomer_deadline
            {
                let members = pool.members();
                let alive = members
                    .iter()
                    .filter(|m| m.status == praetor_gossip::MemberStatus::Alive)
                    .count();
                let tagged = members
                    .iter()
                    .filter(|m| m.tags.contains_key("role"))
                    .count();
                let at = join_at.elapsed();
                if alive == n + 1 && alive_at.is_none() {
                    alive_at = Some(at);
                }
                for (slot, frac) in tags_at.iter_mut().zip([0.5, 0.99, 1.0]) {
                    if slot.is_none() && tagged as f64 >= frac * (n + 1) as f64 {
                        *slot = Some(at);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (alive_at, tags_at)
        })
    };
    let mut seen = Vec::with_capacity(n);
    let spread_end = Instant::now() + spread_deadline;
    while seen.len() < n {
        match tokio::time::timeout_at(spread_end, rx.recv()).await {
            Ok(Some(at)) => seen.push(at.saturating_sub(offset)),
            Ok(None) => break,
            Err(_) => {
                return Err(format!(
                    "only {}/{n} pools saw the newcomer within {spread_deadline:?}",
                    seen.len()
                ));
            }
        }
    }
    seen.sort();
    let (newcomer_alive, newcomer_tags) = newcomer_view
        .await
        .map_err(|e| format!("newcomer watcher: {e}"))?;
    pools.push(new_pool);

    // (c) steady state traffic, once every pool has done its first (randomly staggered)
    // push-pull, so the window sees push-pull at its steady rate.
    let first_push_pulls_done = t0 + Timing::for_profile(args.profile).push_pull_interval;
    tokio::time::sleep_until(first_push_pulls_done.max(Instant::now() + Duration::from_secs(2)))
        .await;
    let before: Vec<PoolStats> = pools.iter().map(Pool::stats).collect();
    let window = Instant::now();
    tokio::time::sleep(args.steady).await;
    let secs = window.elapsed().as_secs_f64();
    let after: Vec<PoolStats> = pools.iter().map(Pool::stats).collect();
    let ((b0, p0), (b1, p1)) = (total(&before), total(&after));
    let nodes = pools.len() as f64;
    let bytes_per_node = (b1 - b0) as f64 / secs / nodes;
    let packets_per_node = (p1 - p0) as f64 / secs / nodes;
    let max_node = before
        .iter()
        .zip(&after)
        .map(|(x, y)| y.bytes_out - x.bytes_out)
        .max()
        .unwrap_or(0) as f64
        / secs;
    let alive_everywhere = pools.iter().all(|p| p.alive_count() == n + 1);
    if !alive_everywhere {
        for p in pools.iter().filter(|p| p.alive_count() != n + 1).take(5) {
            let odd: Vec<String> = p
                .members()
                .iter()
                .filter(|m| m.status != praetor_gossip::MemberStatus::Alive)
                .map(|m| format!("{}={}", m.name, m.status))
                .collect();
            println!(
                "{} sees {} members, {} alive; not alive: {odd:?}",
                p.name(),
                p.members().len(),
                p.alive_count()
            );
        }
    }
    let drops: u64 = after.iter().map(|s| s.dropped).sum();
    let send_errors: u64 = after.iter().map(|s| s.send_errors).sum();

    println!();
    println!("| measure                                    | value |");
    println!("|--------------------------------------------|-------|");
    println!("| members                                    | {n} |");
    println!(
        "| join phase (sequential joins)              | {:.2} s |",
        joins_done.as_secs_f64()
    );
    println!(
        "| (a) all pools see all alive, from 1st join | {:.2} s |",
        full.as_secs_f64()
    );
    println!(
        "| (b) newcomer seen by 50% / 99% / 100%      | {:.2} / {:.2} / {:.2} s |",
        percentile(&seen, 0.50).as_secs_f64(),
        percentile(&seen, 0.99).as_secs_f64(),
        percentile(&seen, 1.0).as_secs_f64()
    );
    let fmt = |d: Option<Duration>| match d {
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
        None => format!("> {newcomer_deadline:?}"),
    };
    println!(
        "| (b') newcomer sees all {} alive           | {} |",
        n + 1,
        fmt(newcomer_alive)
    );
    println!(
        "| (b') newcomer has tags of 50%/99%/100%   | {} / {} / {} |",
        fmt(newcomer_tags[0]),
        fmt(newcomer_tags[1]),
        fmt(newcomer_tags[2])
    );
    println!(
        "| (c) bytes sent / s / node (mean, max)      | {:.0} B/s = {:.1} kbit/s, max {:.0} B/s |",
        bytes_per_node,
        bytes_per_node * 8.0 / 1000.0,
        max_node
    );
    println!("| (c) packets sent / s / node                | {packets_per_node:.1} |");
    println!("| steady window                              | {secs:.1} s |");
    println!("| all alive everywhere after the window      | {alive_everywhere} |");
    println!("| datagrams dropped / send errors (total)    | {drops} / {send_errors} |");
    let model = match args.profile {
        Profile::Lan => {
            "serf model, N=1,000 LAN: 1.0 / 1.6 / 2.2 s (50/99/99.99%), max 328 kbit/s/node"
        }
        Profile::Wan => {
            "serf model, N=30 WAN: 1.0 / 2.5 / 3.5 s (50/99/99.99%), max 175 kbit/s/node"
        }
    };
    println!("reference: {model}");

    for p in &pools {
        p.shutdown().await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("bench failed: {msg}");
            ExitCode::FAILURE
        }
    }
}
