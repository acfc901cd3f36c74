//! `bench`: the whole-system benchmark. Starts a 3-server praetor cluster on 127.0.1.1-3 and a
//! 3-member etcd 3.4 cluster on 127.0.7.1-3, loads both, then runs each KV measurement on praetor
//! and right after on etcd with the same load generator; DNS with dnsperf against praetor and
//! then bind9 on 127.0.0.1:18600. Reads the servers' memory, stops everything it started and
//! prints `metric | praetor | etcd/bind9 | ratio`.
//!
//! Run: `cargo build --release --bin praetor && cargo run --release -p praetor-tests --bin bench --
//! [--quick] [--skip-etcd] [--skip-dns]` (or `tests/bench.sh`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use praetor_tests::bench::bind::Bind9;
use praetor_tests::bench::dnsperf::{self, DnsperfResult};
use praetor_tests::bench::etcd::EtcdCluster;
use praetor_tests::bench::load::{self, Limits, Op, Stats};
use praetor_tests::bench::praetor::{self as pr, PraetorCluster};
use praetor_tests::bench::proc::{poll_until, rss_mib};
use praetor_tests::bench::report::{Better, Row, render};
use praetor_tests::find_praetor_bin;

const CLIENTS: [usize; 3] = [1, 16, 64];
/// Keys written before the measurements and cycled through by every KV run.
const KEYS: u64 = 10_000;
const ETCD_IPS: [&str; 3] = ["127.0.7.1", "127.0.7.2", "127.0.7.3"];
/// named only listens on addresses an interface has, and loopback has just 127.0.0.1 (praetor and
/// etcd bind to other 127/8 addresses directly); a port of its own keeps it clear of dev agents.
const BIND_ADDR: &str = "127.0.0.1:18600";
const READY: Duration = Duration::from_secs(90);

struct Args {
    quick: bool,
    skip_etcd: bool,
    skip_dns: bool,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut a = Args {
            quick: false,
            skip_etcd: false,
            skip_dns: false,
        };
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--quick" => a.quick = true,
                "--skip-etcd" => a.skip_etcd = true,
                "--skip-dns" => a.skip_dns = true,
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(a)
    }

    /// Measured time of one KV run.
    fn kv_duration(&self) -> Duration {
        Duration::from_secs(if self.quick { 2 } else { 10 })
    }

    fn dns_duration(&self) -> Duration {
        Duration::from_secs(if self.quick { 3 } else { 10 })
    }
}

/// Which column a value goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Praetor,
    Other,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Praetor => "praetor",
            Side::Other => "baseline",
        }
    }
}

/// The table being filled, plus notes printed under it.
struct Table {
    rows: Vec<Row>,
    notes: Vec<String>,
}

#[derive(Clone, Copy)]
enum KvKind {
    Put,
    Get,
    Stale,
}

impl KvKind {
    fn title(self) -> &'static str {
        match self {
            KvKind::Put => "KV PUT 1 KiB",
            KvKind::Get => "KV GET default (etcd: linearizable)",
            KvKind::Stale => "KV GET ?stale (etcd: serializable)",
        }
    }
}

const KINDS: [KvKind; 3] = [KvKind::Put, KvKind::Get, KvKind::Stale];

fn kv_metric(kind: KvKind, clients: usize, what: &str) -> String {
    let s = if clients == 1 { "" } else { "s" };
    format!("{}, {clients} client{s}: {what}", kind.title())
}

const DNS_QPS: &str = "DNS A queries/s (dnsperf, 100 svc x 3 inst)";
const DNS_LAT: &str = "DNS average latency (dnsperf)";
const RSS_IDLE_LEADER: &str = "RSS idle server: leader";
const RSS_IDLE_MAX: &str = "RSS idle server: max of 3";
const RSS_LOADED_LEADER: &str = "RSS leader, 10k keys + 1k services (etcd: 10k keys)";
const RSS_LOADED_MAX: &str = "RSS max of 3, 10k keys + 1k services (etcd: 10k keys)";
const RSS_AFTER_LEADER: &str = "RSS leader after the KV runs";

impl Table {
    fn new() -> Table {
        let mut rows = Vec::new();
        for kind in KINDS {
            for c in CLIENTS {
                rows.push(Row::new(
                    kv_metric(kind, c, "throughput"),
                    "req/s",
                    0,
                    Better::Higher,
                ));
                rows.push(Row::new(kv_metric(kind, c, "p50"), "ms", 2, Better::Lower));
                rows.push(Row::new(kv_metric(kind, c, "p99"), "ms", 2, Better::Lower));
            }
        }
        rows.push(Row::new(DNS_QPS, "q/s", 0, Better::Higher));
        rows.push(Row::new(DNS_LAT, "ms", 3, Better::Lower));
        for m in [
            RSS_IDLE_LEADER,
            RSS_IDLE_MAX,
            RSS_LOADED_LEADER,
            RSS_LOADED_MAX,
            RSS_AFTER_LEADER,
        ] {
            rows.push(Row::new(m, "MiB", 1, Better::Lower));
        }
        Table {
            rows,
            notes: Vec::new(),
        }
    }

    fn set(&mut self, metric: &str, side: Side, value: Result<f64, String>) {
        let Some(row) = self.rows.iter_mut().find(|r| r.metric == metric) else {
            self.notes.push(format!("internal: no row {metric}"));
            return;
        };
        match side {
            Side::Praetor => row.praetor = value,
            Side::Other => row.other = value,
        }
    }

    /// Marks every still-empty cell of `side` whose metric satisfies `which` with `why`.
    fn mark_missing(&mut self, side: Side, which: impl Fn(&str) -> bool, why: &str) {
        for row in self.rows.iter_mut().filter(|r| which(&r.metric)) {
            let cell = match side {
                Side::Praetor => &mut row.praetor,
                Side::Other => &mut row.other,
            };
            if matches!(cell, Err(s) if s == "-") {
                *cell = Err(why.to_string());
            }
        }
    }

    fn value(&self, metric: &str, side: Side) -> Option<f64> {
        let row = self.rows.iter().find(|r| r.metric == metric)?;
        match side {
            Side::Praetor => row.praetor.clone().ok(),
            Side::Other => row.other.clone().ok(),
        }
    }

    fn record_kv(&mut self, side: Side, kind: KvKind, s: &Stats) {
        let ms = |d: Option<Duration>| {
            d.map(|d| d.as_secs_f64() * 1000.0)
                .ok_or_else(|| "failed".to_string())
        };
        let tp = if s.ok > 0 {
            Ok(s.throughput())
        } else {
            Err("failed".into())
        };
        self.set(&kv_metric(kind, s.clients, "throughput"), side, tp);
        self.set(
            &kv_metric(kind, s.clients, "p50"),
            side,
            ms(s.percentile(0.50)),
        );
        self.set(
            &kv_metric(kind, s.clients, "p99"),
            side,
            ms(s.percentile(0.99)),
        );
        if s.errors > 0 {
            self.notes.push(format!(
                "{} {}: {} of {} requests failed, first: {}",
                side.label(),
                kv_metric(kind, s.clients, "load"),
                s.errors,
                s.errors + s.ok,
                s.first_error.as_deref().unwrap_or("?")
            ));
        }
    }

    fn record_dns(&mut self, side: Side, r: &DnsperfResult) {
        self.set(DNS_QPS, side, Ok(r.qps));
        self.set(DNS_LAT, side, Ok(r.avg_latency_ms));
        self.notes.push(format!(
            "{} dnsperf: sent {}, completed {}, lost {}, response codes: {}",
            side.label(),
            r.sent,
            r.completed,
            r.lost,
            r.rcodes
        ));
    }
}

/// When the bench started, for progress lines.
static START: OnceLock<Instant> = OnceLock::new();

fn progress(msg: &str) {
    let secs = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("[bench {secs:>6.1}s] {msg}");
}

fn describe(s: &Stats) -> String {
    let ms = |q| {
        s.percentile(q)
            .map(|d| format!("{:.2}", d.as_secs_f64() * 1000.0))
            .unwrap_or_else(|| "-".into())
    };
    format!(
        "{:.0} req/s, p50 {} ms, p99 {} ms, {} ok, {} errors",
        s.throughput(),
        ms(0.5),
        ms(0.99),
        s.ok,
        s.errors
    )
}

/// Writes `KEYS` keys of 1 KiB once (16 clients); an error if any write failed.
fn populate(op: Arc<Op>) -> Result<Stats, String> {
    let s = load::run(
        16,
        Limits {
            duration: Duration::from_secs(300),
            max_requests: KEYS,
            warmup_per_client: 0,
        },
        op,
    );
    if s.ok == KEYS {
        Ok(s)
    } else {
        Err(format!(
            "only {} of {KEYS} writes succeeded: {}",
            s.ok,
            s.first_error.unwrap_or_default()
        ))
    }
}

/// Builds the operation of one KV run of a system.
type OpFactory = Box<dyn Fn(KvKind) -> Arc<Op>>;

/// A system whose cluster is up and loaded, ready for the KV runs.
struct KvSystem {
    side: Side,
    name: &'static str,
    op: OpFactory,
}

fn praetor_ops(bases: Vec<String>) -> OpFactory {
    let value = load::value_1k();
    Box::new(move |kind| match kind {
        KvKind::Put => load::praetor_put(bases.clone(), KEYS, value.clone()),
        KvKind::Get => load::praetor_get(bases.clone(), KEYS, false, value.len()),
        KvKind::Stale => load::praetor_get(bases.clone(), KEYS, true, value.len()),
    })
}

fn etcd_ops(bases: Vec<String>) -> OpFactory {
    let value = load::value_1k();
    Box::new(move |kind| match kind {
        KvKind::Put => load::etcd_put(bases.clone(), KEYS, value.clone()),
        KvKind::Get => load::etcd_range(bases.clone(), KEYS, false),
        KvKind::Stale => load::etcd_range(bases.clone(), KEYS, true),
    })
}

/// The KV runs (PUT, GET, stale GET at 1/16/64 clients), interleaved: each run goes to praetor
/// and right after to etcd, so both meet the same background load of the shared machine.
fn kv_runs(args: &Args, table: &mut Table, systems: &[KvSystem]) {
    let limits = Limits {
        duration: args.kv_duration(),
        max_requests: 5_000_000,
        warmup_per_client: 5,
    };
    for kind in KINDS {
        for c in CLIENTS {
            for sys in systems {
                let s = load::run(c, limits, (sys.op)(kind));
                progress(&format!(
                    "{} {}: {}",
                    sys.name,
                    kv_metric(kind, c, "load"),
                    describe(&s)
                ));
                table.record_kv(sys.side, kind, &s);
            }
        }
    }
}

/// `(leader RSS, max RSS)` of `pids`, the leader being `pids[leader]` when known.
fn rss(
    pids: &[(String, u32)],
    leader: Option<usize>,
) -> (Result<f64, String>, Result<f64, String>) {
    let all: Vec<f64> = pids.iter().filter_map(|(_, p)| rss_mib(*p).ok()).collect();
    let max = all
        .iter()
        .cloned()
        .reduce(f64::max)
        .ok_or_else(|| "failed".to_string());
    let lead = match leader.and_then(|i| pids.get(i)) {
        Some((_, p)) => rss_mib(*p).map_err(|e| e.to_string()),
        None => Err("no leader".into()),
    };
    (lead, max)
}

/// Prints the last lines of every server's log (after a failure).
fn print_log_tails(cluster: &PraetorCluster) {
    for a in &cluster.agents {
        let log = a.logs();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        eprintln!("----- last lines of {} ({}) -----", a.name, a.dir.display());
        for l in tail.iter().rev() {
            eprintln!("{l}");
        }
    }
}

/// Starts the praetor servers, reads their idle memory, writes the 10k keys and registers the
/// 1k services, and reads their memory again.
fn praetor_setup(table: &mut Table, logs: &mut Vec<PathBuf>) -> Result<PraetorCluster, String> {
    let bin = find_praetor_bin().ok().filter(|b| b.exists()).ok_or(
        "praetor binary not found: run `cargo build --release --bin praetor` first (or set PRAETOR_BIN)",
    )?;
    progress(&format!(
        "starting 3 praetor servers on 127.0.1.1-3 ({})",
        bin.display()
    ));
    let mut cluster = PraetorCluster::start().map_err(|e| e.to_string())?;
    logs.extend(cluster.agents.iter().map(|a| a.dir.clone()));
    match praetor_load(table, &mut cluster) {
        Ok(()) => Ok(cluster),
        Err(e) => {
            print_log_tails(&cluster);
            Err(e)
        }
    }
}

fn praetor_load(table: &mut Table, cluster: &mut PraetorCluster) -> Result<(), String> {
    cluster.wait_ready(READY).map_err(|e| e.to_string())?;
    progress("praetor cluster ready; letting it idle 3 s before reading memory");
    std::thread::sleep(Duration::from_secs(3));
    let pids = cluster.pids();
    let (lead, max) = rss(&pids, cluster.leader());
    table.set(RSS_IDLE_LEADER, Side::Praetor, lead);
    table.set(RSS_IDLE_MAX, Side::Praetor, max);

    let bases = cluster.bases();
    let s = populate(praetor_ops(bases.clone())(KvKind::Put))?;
    progress(&format!("praetor: wrote {KEYS} keys: {}", describe(&s)));
    let reg = load::run(
        8,
        Limits {
            duration: Duration::from_secs(300),
            max_requests: pr::registrations(),
            warmup_per_client: 0,
        },
        pr::register_op(bases.clone()),
    );
    progress(&format!(
        "praetor: {} catalog registrations: {}",
        pr::registrations(),
        describe(&reg)
    ));
    if reg.ok != pr::registrations() {
        return Err(format!(
            "catalog registration failed: {}",
            reg.first_error.unwrap_or_default()
        ));
    }
    for b in &bases {
        let h = praetor_tests::Http::new(b);
        poll_until(
            &format!("{} services in the catalog of {b}", pr::TOTAL_SERVICES),
            READY,
            || {
                let r = h.try_get("/v1/catalog/services?stale").ok()?;
                let n = r
                    .json()
                    .as_object()?
                    .keys()
                    .filter(|k| k.starts_with("svc-") || k.starts_with("mem-"))
                    .count();
                (n as u64 == pr::TOTAL_SERVICES).then_some(())
            },
        )
        .map_err(|e| e.to_string())?;
    }
    std::thread::sleep(Duration::from_secs(2));
    let (lead, max) = rss(&pids, cluster.leader());
    table.set(RSS_LOADED_LEADER, Side::Praetor, lead);
    table.set(RSS_LOADED_MAX, Side::Praetor, max);
    Ok(())
}

/// dnsperf against the first praetor server, after checking its answer.
fn praetor_dns(args: &Args, table: &mut Table, cluster: &PraetorCluster) -> Result<(), String> {
    let server = cluster.agents[0].dns_addr();
    dns_check(server, "praetor")?;
    let r = dns_run(args, server, &cluster.agents[0].dir)?;
    progress(&format!(
        "praetor dnsperf @{server}: {:.0} q/s, avg {:.3} ms",
        r.qps, r.avg_latency_ms
    ));
    table.record_dns(Side::Praetor, &r);
    Ok(())
}

/// Checks that `server` answers `svc-0.service.consul A` with exactly the 3 registered addresses.
fn dns_check(server: SocketAddr, who: &str) -> Result<(), String> {
    let name = &pr::dns_names()[0];
    let want: Vec<String> = {
        let mut v: Vec<String> = (0..pr::INSTANCES)
            .map(|i| pr::dns_instance_ip(0, i).to_string())
            .collect();
        v.sort();
        v
    };
    let mut last = Vec::new();
    poll_until(
        &format!("{who} answers {name} with {want:?}"),
        Duration::from_secs(30),
        || {
            let m = dnsperf::query(
                server,
                name,
                hickory_proto::rr::RecordType::A,
                Duration::from_secs(2),
            )
            .ok()?;
            last = dnsperf::a_records(&m);
            (last == want).then_some(())
        },
    )
    .map(|_| ())
    .map_err(|e| format!("{e}; last answer {last:?}"))
}

fn dns_run(args: &Args, server: SocketAddr, dir: &Path) -> Result<DnsperfResult, String> {
    let queries = dir.join("dnsperf-queries.txt");
    dnsperf::write_queries(&queries, &pr::dns_names()).map_err(|e| e.to_string())?;
    dnsperf::run(server, &queries, args.dns_duration(), 4, 100).map_err(|e| e.to_string())
}

/// The etcd member that is leader, by `POST /v3/maintenance/status` (`header.member_id == leader`).
fn etcd_leader(bases: &[String]) -> Option<usize> {
    let agent = load::client_agent();
    bases.iter().position(|b| {
        let r = agent
            .post(format!("{b}/v3/maintenance/status"))
            .content_type("application/json")
            .send(&b"{}"[..]);
        let v: Option<serde_json::Value> = r.ok().and_then(|mut r| r.body_mut().read_json().ok());
        v.is_some_and(|v| v["header"]["member_id"] == v["leader"])
    })
}

/// Starts the etcd members, reads their idle memory, writes the 10k keys, reads memory again.
fn etcd_setup(table: &mut Table, work: &Path) -> Result<EtcdCluster, String> {
    let dir = work.join("etcd");
    progress(&format!(
        "starting 3 etcd members on 127.0.7.1-3 (data in {})",
        dir.display()
    ));
    let mut etcd = EtcdCluster::start(&dir, &ETCD_IPS).map_err(|e| e.to_string())?;
    etcd.wait_ready(READY).map_err(|e| e.to_string())?;
    progress("etcd ready; letting it idle 3 s before reading memory");
    std::thread::sleep(Duration::from_secs(3));
    let bases = etcd.bases();
    let pids = etcd.pids();
    let (lead, max) = rss(&pids, etcd_leader(&bases));
    table.set(RSS_IDLE_LEADER, Side::Other, lead);
    table.set(RSS_IDLE_MAX, Side::Other, max);
    let s = populate(etcd_ops(bases.clone())(KvKind::Put))?;
    progress(&format!("etcd: wrote {KEYS} keys: {}", describe(&s)));
    std::thread::sleep(Duration::from_secs(2));
    let (lead, max) = rss(&pids, etcd_leader(&bases));
    table.set(RSS_LOADED_LEADER, Side::Other, lead);
    table.set(RSS_LOADED_MAX, Side::Other, max);
    Ok(etcd)
}

fn bind_phase(args: &Args, table: &mut Table, work: &Path) -> Result<(), String> {
    let dir = work.join("bind9");
    let addr: SocketAddr = BIND_ADDR.parse().map_err(|e| format!("{e}"))?;
    progress(&format!(
        "starting bind9 on {addr} (config and zone in {})",
        dir.display()
    ));
    let mut named = Bind9::start(&dir, addr, &pr::dns_records(), &pr::dns_names()[0])
        .map_err(|e| e.to_string())?;
    dns_check(addr, "bind9")?;
    let r = dns_run(args, addr, &dir)?;
    progress(&format!(
        "bind9 dnsperf @{addr}: {:.0} q/s, avg {:.3} ms",
        r.qps, r.avg_latency_ms
    ));
    table.record_dns(Side::Other, &r);
    named.stop();
    Ok(())
}

/// The 1-minute load average (`/proc/loadavg`), or `?`.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn goals(table: &Table) -> Vec<String> {
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut out = Vec::new();
    let put = kv_metric(KvKind::Put, 64, "throughput");
    match (
        table.value(&put, Side::Praetor),
        table.value(&put, Side::Other),
    ) {
        (Some(p), Some(e)) => out.push(format!(
            "praetor writes/s >= etcd's at 64 clients: {p:.0} vs {e:.0}: {}",
            verdict(p >= e)
        )),
        _ => out.push("praetor writes/s >= etcd's at 64 clients: not measured".into()),
    }
    let p99 = kv_metric(KvKind::Put, 64, "p99");
    match (
        table.value(&p99, Side::Praetor),
        table.value(&p99, Side::Other),
    ) {
        (Some(p), Some(e)) => out.push(format!(
            "praetor PUT p99 <= etcd's at 64 clients: {p:.2} ms vs {e:.2} ms: {}",
            verdict(p <= e)
        )),
        _ => out.push("praetor PUT p99 <= etcd's at 64 clients: not measured".into()),
    }
    match table.value(RSS_IDLE_MAX, Side::Praetor) {
        Some(m) => out.push(format!(
            "idle praetor server RSS <= 30 MiB: {m:.1} MiB (max of 3): {}",
            verdict(m <= 30.0)
        )),
        None => out.push("idle praetor server RSS <= 30 MiB: not measured".into()),
    }
    out
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("bench: {why}");
            }
            eprintln!("usage: bench [--quick] [--skip-etcd] [--skip-dns]");
            return if why.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    START.get_or_init(Instant::now);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let work = std::env::temp_dir().join(format!("praetor-bench-{stamp}"));
    if let Err(e) = std::fs::create_dir_all(&work) {
        eprintln!("bench: cannot create {}: {e}", work.display());
        return ExitCode::FAILURE;
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let load_before = loadavg();
    let mut table = Table::new();
    let mut praetor_logs = Vec::new();
    let mut failed = false;

    let all = |_: &str| true;
    let is_dns = |m: &str| m.starts_with("DNS");
    let not_dns = |m: &str| !m.starts_with("DNS");
    let mut praetor = match praetor_setup(&mut table, &mut praetor_logs) {
        Ok(c) => Some(c),
        Err(e) => {
            progress(&format!("praetor setup failed: {e}"));
            table.notes.push(format!("praetor FAILED: {e}"));
            table.mark_missing(Side::Praetor, all, "failed");
            failed = true;
            None
        }
    };
    let mut etcd = if args.skip_etcd {
        table.mark_missing(Side::Other, not_dns, "skipped");
        None
    } else {
        match etcd_setup(&mut table, &work) {
            Ok(e) => Some(e),
            Err(e) => {
                progress(&format!("etcd setup failed: {e}"));
                table.notes.push(format!("etcd FAILED: {e}"));
                table.mark_missing(Side::Other, not_dns, "failed");
                failed = true;
                None
            }
        }
    };

    let mut systems = Vec::new();
    if let Some(p) = &praetor {
        systems.push(KvSystem {
            side: Side::Praetor,
            name: "praetor",
            op: praetor_ops(p.bases()),
        });
    }
    if let Some(e) = &etcd {
        systems.push(KvSystem {
            side: Side::Other,
            name: "etcd",
            op: etcd_ops(e.bases()),
        });
    }
    kv_runs(&args, &mut table, &systems);
    if let Some(p) = praetor.as_mut() {
        if let Err(e) = p.check_running() {
            table
                .notes
                .push(format!("praetor server died during the KV runs: {e}"));
            failed = true;
        }
        table.set(
            RSS_AFTER_LEADER,
            Side::Praetor,
            rss(&p.pids(), p.leader()).0,
        );
    }
    if let Some(e) = etcd.as_mut() {
        table.set(
            RSS_AFTER_LEADER,
            Side::Other,
            rss(&e.pids(), etcd_leader(&e.bases())).0,
        );
        e.stop();
    }
    drop(etcd);

    if args.skip_dns {
        table.mark_missing(Side::Praetor, is_dns, "skipped");
        table.mark_missing(Side::Other, is_dns, "skipped");
    } else {
        if let Some(p) = &praetor
            && let Err(e) = praetor_dns(&args, &mut table, p)
        {
            progress(&format!("praetor DNS failed: {e}"));
            print_log_tails(p);
            table.notes.push(format!("praetor DNS FAILED: {e}"));
            table.mark_missing(Side::Praetor, is_dns, "failed");
            failed = true;
        }
        if let Err(e) = bind_phase(&args, &mut table, &work) {
            progress(&format!("bind9 failed: {e}"));
            table.notes.push(format!("bind9 FAILED: {e}"));
            table.mark_missing(Side::Other, is_dns, "failed");
            failed = true;
        }
    }
    if let Some(p) = praetor.as_mut() {
        p.stop();
    }

    let mut out = String::new();
    out.push_str(&format!(
        "praetor bench ({}): KV {} s per run, clients spread round-robin over the 3 members, 1 KiB values over {KEYS} keys; DNS {} s of dnsperf (4 sockets, 100 outstanding, 1 thread)\n",
        if args.quick { "--quick" } else { "full" },
        args.kv_duration().as_secs(),
        args.dns_duration().as_secs()
    ));
    out.push_str(&format!(
        "NOTE: this machine has {cores} CPU core(s). The load generator (or dnsperf) and all servers of the system under test share them, so every figure is CPU-bound and far below what dedicated hosts give; only the ratios are meaningful. Each KV run goes to praetor and right after to etcd (both clusters are up, the other one idle); DNS runs praetor then bind9.\n"
    ));
    out.push_str(&format!(
        "Load average (1 min) before: {load_before}, after: {} (anything else running on the machine skews the figures).\n\n",
        loadavg()
    ));
    out.push_str(&render(&table.rows));
    out.push_str("\nGoals (from the issue):\n");
    for g in goals(&table) {
        out.push_str(&format!("- {g}\n"));
    }
    if !table.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &table.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out.push_str(&format!(
        "\nWork dir (etcd logs; bind9 config, zone and log; dnsperf query file): {}\n",
        work.display()
    ));
    for d in &praetor_logs {
        out.push_str(&format!("praetor server dir and logs: {}\n", d.display()));
    }
    let results = work.join("results.md");
    if let Err(e) = std::fs::write(&results, &out) {
        eprintln!("bench: cannot write {}: {e}", results.display());
    }
    println!("{out}");
    println!("Results written to {}", results.display());
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
