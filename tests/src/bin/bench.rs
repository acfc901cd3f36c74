//! `bench`: the whole-system benchmark, praetor against the best of its peers on loopback.
//!
//! 1. Start-up: `praetor agent -dev` (127.0.1.10, free ports) timed from spawn to a leader
//!    answering `/v1/status/leader`, and its RSS 2 s later; a 1-member etcd (127.0.7.10) timed to
//!    `/health` true, as the peer. At least 5 starts of each, alternating.
//! 2. KV: a 3-server praetor cluster on 127.0.1.1-3 and a 3-member etcd 3.4 cluster on
//!    127.0.7.1-3, both loaded with the same 10k keys of 1 KiB. praetor is driven over HTTP/1.1
//!    by `http_async` (N client tasks on a 2-worker tokio runtime, each its own keep-alive
//!    connection); etcd over its native gRPC API by
//!    `etcd_grpc` (N clients sharing C HTTP/2 connections, C calibrated per load among 1, 4, 16
//!    and the best kept). Every load runs `--runs` times, alternating which system goes first.
//! 3. DNS: dnsperf against praetor (127.0.1.1:8600), bind9 (127.0.0.1:18600) and Knot DNS
//!    (127.0.0.1:18601) for A and SRV queries over 100 services x 3 instances, after checking the
//!    three answer alike; `--runs` rounds, rotating which server goes first.
//! 4. Memory of the idle and loaded servers, then everything is stopped and the table printed:
//!    per cell the median of the runs and their min-max, and the ratio of the medians.
//!
//! Run: `cargo build --release --bin praetor && cargo run --release -p praetor-tests --bin bench --
//! [--quick] [--runs N] [--skip-etcd] [--skip-dns]` (or `tests/bench.sh`, which installs what is
//! missing).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use praetor_tests::bench::bind::Bind9;
use praetor_tests::bench::dev;
use praetor_tests::bench::dnsperf::{self, DnsperfResult, Shape};
use praetor_tests::bench::etcd::EtcdCluster;
use praetor_tests::bench::etcd_grpc::{EtcdGrpc, EtcdOp};
use praetor_tests::bench::http_async::{HttpOp, PraetorHttp};
use praetor_tests::bench::knot::Knot;
use praetor_tests::bench::load::{self, Limits, Stats};
use praetor_tests::bench::praetor::{self as pr, PraetorCluster};
use praetor_tests::bench::proc::{poll_until, rss_mib};
use praetor_tests::bench::report::{Better, Cell, Row, render};
use praetor_tests::find_praetor_bin;

const CLIENTS: [usize; 3] = [1, 16, 64];
/// The connection counts etcd is calibrated with (capped at the client count).
const ETCD_CONNS: [usize; 3] = [1, 4, 16];
/// Keys written before the measurements and cycled through by every KV run.
const KEYS: u64 = 10_000;
const ETCD_IPS: [&str; 3] = ["127.0.7.1", "127.0.7.2", "127.0.7.3"];
/// named and knotd only listen on addresses an interface has, and loopback has just 127.0.0.1
/// (praetor and etcd bind to other 127/8 addresses directly); ports of their own keep them clear
/// of dev agents.
const BIND_ADDR: &str = "127.0.0.1:18600";
const KNOT_ADDR: &str = "127.0.0.1:18601";
/// The `-dev` agent of the start-up rows, and the 1-member etcd it is compared with.
const DEV_IP: &str = "127.0.1.10";
const ETCD_SINGLE_IP: &str = "127.0.7.10";
/// How long a started single server idles before its memory is read.
const DEV_IDLE: Duration = Duration::from_secs(2);
const READY: Duration = Duration::from_secs(90);

struct Args {
    quick: bool,
    runs: usize,
    skip_etcd: bool,
    skip_dns: bool,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut a = Args {
            quick: false,
            runs: 3,
            skip_etcd: false,
            skip_dns: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => a.quick = true,
                "--skip-etcd" => a.skip_etcd = true,
                "--skip-dns" => a.skip_dns = true,
                "--runs" => {
                    let v = it.next().ok_or("--runs needs a number")?;
                    a.runs = parse_runs(&v)?;
                }
                s if s.starts_with("--runs=") => a.runs = parse_runs(&s["--runs=".len()..])?,
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

    /// Measured time of one etcd calibration run (per connection count).
    fn calibration_duration(&self) -> Duration {
        Duration::from_secs(if self.quick { 1 } else { 3 })
    }

    fn dns_duration(&self) -> Duration {
        Duration::from_secs(if self.quick { 3 } else { 10 })
    }

    /// Starts of each single server (at least 5).
    fn starts(&self) -> usize {
        self.runs.max(5)
    }
}

fn parse_runs(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(format!("--runs takes a number from 1 to 100, not {v:?}")),
    }
}

/// Which column a value goes to: praetor's, or the named peer's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Praetor,
    Peer(&'static str),
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Praetor => "praetor",
            Side::Peer(p) => p,
        }
    }
}

/// The table being filled, plus notes printed under it.
struct Table {
    rows: Vec<Row>,
    notes: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
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

    fn etcd_op(self) -> EtcdOp {
        match self {
            KvKind::Put => EtcdOp::Put,
            KvKind::Get => EtcdOp::Range {
                serializable: false,
            },
            KvKind::Stale => EtcdOp::Range { serializable: true },
        }
    }
}

const KINDS: [KvKind; 3] = [KvKind::Put, KvKind::Get, KvKind::Stale];
const QTYPES: [RecordType; 2] = [RecordType::A, RecordType::SRV];
const DNS_PEERS: [&str; 2] = ["bind9", "knot"];

fn kv_metric(kind: KvKind, clients: usize, what: &str) -> String {
    let s = if clients == 1 { "" } else { "s" };
    format!("{}, {clients} client{s}: {what}", kind.title())
}

fn dns_metric(qtype: RecordType, what: &str) -> String {
    format!("DNS {qtype} (dnsperf, 100 svc x 3 inst): {what}")
}

const DEV_START: &str = "agent -dev: spawn to a leader answering HTTP (etcd: /health true)";
const RSS_DEV: &str = "RSS idle -dev agent, 2 s after a leader (etcd: 1 member)";
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
                let m = |what| kv_metric(kind, c, what);
                rows.push(Row::new(
                    m("throughput"),
                    "etcd",
                    "req/s",
                    0,
                    Better::Higher,
                ));
                rows.push(Row::new(m("p50"), "etcd", "ms", 2, Better::Lower));
                rows.push(Row::new(m("p99"), "etcd", "ms", 2, Better::Lower));
            }
        }
        for qtype in QTYPES {
            for peer in DNS_PEERS {
                let m = |what| dns_metric(qtype, what);
                rows.push(Row::new(m("queries/s"), peer, "q/s", 0, Better::Higher));
                rows.push(Row::new(m("avg latency"), peer, "ms", 3, Better::Lower));
            }
        }
        let mut start = Row::new(DEV_START, "etcd", "ms", 1, Better::Lower);
        start.peer_detail = "1 member".into();
        rows.push(start);
        let mut dev = Row::new(RSS_DEV, "etcd", "MiB", 1, Better::Lower);
        dev.peer_detail = "1 member".into();
        rows.push(dev);
        for m in [
            RSS_IDLE_LEADER,
            RSS_IDLE_MAX,
            RSS_LOADED_LEADER,
            RSS_LOADED_MAX,
            RSS_AFTER_LEADER,
        ] {
            rows.push(Row::new(m, "etcd", "MiB", 1, Better::Lower));
        }
        Table {
            rows,
            notes: Vec::new(),
        }
    }

    /// The cells of `side` on the rows of `metric` (praetor's value goes to every peer's row).
    fn cells(&mut self, metric: &str, side: Side) -> Vec<&mut Cell> {
        self.rows
            .iter_mut()
            .filter(|r| r.metric == metric)
            .filter_map(|r| match side {
                Side::Praetor => Some(&mut r.praetor),
                Side::Peer(p) if r.peer == p => Some(&mut r.other),
                Side::Peer(_) => None,
            })
            .collect()
    }

    /// Adds one run's value of `metric` for `side`.
    fn add(&mut self, metric: &str, side: Side, value: Result<f64, String>) {
        let cells = self.cells(metric, side);
        let found = !cells.is_empty();
        for c in cells {
            c.push(value.clone());
        }
        if !found {
            self.notes
                .push(format!("internal: no row {metric} for {}", side.label()));
        }
    }

    /// Marks every still-empty cell of `side` whose metric satisfies `which` with `why`.
    fn mark_missing(&mut self, side: Side, which: impl Fn(&str) -> bool, why: &str) {
        let metrics: Vec<String> = self
            .rows
            .iter()
            .filter(|r| which(&r.metric))
            .map(|r| r.metric.clone())
            .collect();
        for m in metrics {
            for c in self.cells(&m, side) {
                if c.samples.is_empty() && c.failed == 0 && c.why.is_none() {
                    c.why = Some(why.to_string());
                }
            }
        }
    }

    /// The median of `metric` for `side`.
    fn median(&mut self, metric: &str, side: Side) -> Option<f64> {
        self.cells(metric, side).first().and_then(|c| c.median())
    }

    /// Records one KV run's throughput, p50 and p99 for `side`.
    fn record_kv(&mut self, side: Side, kind: KvKind, run: usize, s: &Stats) {
        let ms = |d: Option<Duration>| {
            d.map(|d| d.as_secs_f64() * 1000.0)
                .ok_or_else(|| "failed".to_string())
        };
        let tp = if s.ok > 0 {
            Ok(s.throughput())
        } else {
            Err("failed".into())
        };
        self.add(&kv_metric(kind, s.clients, "throughput"), side, tp);
        self.add(
            &kv_metric(kind, s.clients, "p50"),
            side,
            ms(s.percentile(0.50)),
        );
        self.add(
            &kv_metric(kind, s.clients, "p99"),
            side,
            ms(s.percentile(0.99)),
        );
        if s.errors > 0 {
            self.notes.push(format!(
                "{} {} run {}: {} of {} requests failed, first: {}",
                side.label(),
                kv_metric(kind, s.clients, "load"),
                run + 1,
                s.errors,
                s.errors + s.ok,
                s.first_error.as_deref().unwrap_or("?")
            ));
        }
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

/// Writes `KEYS` keys of 1 KiB once through praetor's HTTP API (16 clients).
fn praetor_populate(bases: Vec<String>) -> Result<Stats, String> {
    let op = load::praetor_put(bases, KEYS, load::value_1k());
    check_populated(load::run(16, populate_limits(), op))
}

fn populate_limits() -> Limits {
    Limits {
        duration: Duration::from_secs(300),
        max_requests: KEYS,
        warmup_per_client: 0,
    }
}

fn check_populated(s: Stats) -> Result<Stats, String> {
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

/// One KV run of praetor: `clients` tasks over HTTP/1.1, one keep-alive connection each,
/// spread round-robin over the servers.
fn praetor_kv(http: &PraetorHttp, kind: KvKind, clients: usize, limits: Limits) -> Stats {
    let op = match kind {
        KvKind::Put => HttpOp::Put,
        KvKind::Get => HttpOp::Get { stale: false },
        KvKind::Stale => HttpOp::Get { stale: true },
    };
    http.run(clients, limits, op)
}

/// The connection count etcd does best with for `kind` at `clients` clients: a short run with
/// each of [`ETCD_CONNS`] (capped at `clients`), the highest throughput wins.
fn calibrate(args: &Args, etcd: &EtcdGrpc, kind: KvKind, clients: usize) -> usize {
    let mut candidates: Vec<usize> = ETCD_CONNS.iter().map(|c| (*c).min(clients)).collect();
    candidates.dedup();
    if candidates.len() == 1 {
        return candidates[0];
    }
    let limits = Limits {
        duration: args.calibration_duration(),
        max_requests: 5_000_000,
        warmup_per_client: 5,
    };
    let mut best = (candidates[0], -1.0);
    let mut seen = Vec::new();
    for c in candidates {
        let s = etcd.run(c, clients, limits, kind.etcd_op());
        let tp = if s.errors == 0 { s.throughput() } else { 0.0 };
        seen.push(format!("{c} conns {:.0} req/s", s.throughput()));
        if tp > best.1 {
            best = (c, tp);
        }
    }
    progress(&format!(
        "etcd calibration {}: {}; using {} conns",
        kv_metric(kind, clients, "load"),
        seen.join(", "),
        best.0
    ));
    best.0
}

/// The KV runs (PUT, GET, stale GET at 1/16/64 clients), `--runs` times each, praetor and etcd
/// taking turns at going first, so both meet the same background load of the shared machine.
fn kv_runs(args: &Args, table: &mut Table, praetor: Option<&[String]>, etcd: Option<&EtcdGrpc>) {
    let limits = Limits {
        duration: args.kv_duration(),
        max_requests: 5_000_000,
        warmup_per_client: 5,
    };
    let http = match praetor.map(|b| PraetorHttp::new(b, KEYS, &load::value_1k())) {
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => {
            progress(&format!("praetor HTTP load generator: {e}"));
            None
        }
        None => None,
    };
    for kind in KINDS {
        for c in CLIENTS {
            let conns = etcd.map(|e| calibrate(args, e, kind, c));
            if let Some(n) = conns {
                let s = if n == 1 { "" } else { "s" };
                for what in ["throughput", "p50", "p99"] {
                    let m = kv_metric(kind, c, what);
                    for r in table.rows.iter_mut().filter(|r| r.metric == m) {
                        r.peer_detail = format!("gRPC, {n} conn{s}");
                    }
                }
            }
            for run in 0..args.runs {
                let mut order = [true, false]; // true: praetor
                if run % 2 == 1 {
                    order.reverse();
                }
                for is_praetor in order {
                    let (side, s) = match (is_praetor, &http, etcd, conns) {
                        (true, Some(h), _, _) => (Side::Praetor, praetor_kv(h, kind, c, limits)),
                        (false, _, Some(e), Some(n)) => {
                            (Side::Peer("etcd"), e.run(n, c, limits, kind.etcd_op()))
                        }
                        _ => continue,
                    };
                    progress(&format!(
                        "{} {} run {}: {}",
                        side.label(),
                        kv_metric(kind, c, "load"),
                        run + 1,
                        describe(&s)
                    ));
                    table.record_kv(side, kind, run, &s);
                }
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

/// Reads the memory of a cluster `runs` times, 1 s apart (one start of the cluster: the spread
/// is that of the samples), into the `(leader, max)` rows given.
fn rss_samples(
    table: &mut Table,
    runs: usize,
    side: Side,
    rows: (&str, Option<&str>),
    mut read: impl FnMut() -> (Result<f64, String>, Result<f64, String>),
) {
    for i in 0..runs {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        let (lead, max) = read();
        table.add(rows.0, side, lead);
        if let Some(m) = rows.1 {
            table.add(m, side, max);
        }
    }
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

/// `agent -dev` start-up and idle memory against a 1-member etcd: `args.starts()` starts of
/// each, alternating which goes first.
fn startup_phase(args: &Args, table: &mut Table, work: &Path) -> bool {
    let bin = match find_praetor_bin().ok().filter(|b| b.exists()) {
        Some(b) => b,
        None => {
            table.mark_missing(
                Side::Praetor,
                |m| m == DEV_START || m == RSS_DEV,
                "no binary",
            );
            return true;
        }
    };
    let (dev_ip, etcd_ip): (IpAddr, IpAddr) = match (DEV_IP.parse(), ETCD_SINGLE_IP.parse()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return true,
    };
    let dir = work.join("startup");
    progress(&format!(
        "timing {} starts of `praetor agent -dev` on {DEV_IP} and of a 1-member etcd on {ETCD_SINGLE_IP} (logs in {})",
        args.starts(),
        dir.display()
    ));
    let mut failed = false;
    let mut first_error = [None, None];
    for run in 0..args.starts() {
        let mut order = [true, false]; // true: praetor
        if run % 2 == 1 {
            order.reverse();
        }
        for is_praetor in order {
            if !is_praetor && args.skip_etcd {
                continue;
            }
            let (side, r) = if is_praetor {
                let r = dev::praetor_dev(&bin, dev_ip, &dir, run, DEV_IDLE);
                (Side::Praetor, r)
            } else {
                let r = dev::etcd_single(etcd_ip, &dir, run, DEV_IDLE);
                (Side::Peer("etcd"), r)
            };
            match r {
                Ok(s) => {
                    let ms = s.ready.as_secs_f64() * 1000.0;
                    progress(&format!(
                        "{} start {}: ready in {ms:.1} ms, RSS {}",
                        side.label(),
                        run + 1,
                        s.rss_mib
                            .as_ref()
                            .map(|m| format!("{m:.1} MiB"))
                            .unwrap_or_else(|e| e.clone())
                    ));
                    table.add(DEV_START, side, Ok(ms));
                    table.add(RSS_DEV, side, s.rss_mib);
                }
                Err(e) => {
                    progress(&format!("{} start {} failed: {e}", side.label(), run + 1));
                    table.add(DEV_START, side, Err(e.to_string()));
                    table.add(RSS_DEV, side, Err(e.to_string()));
                    first_error[usize::from(!is_praetor)].get_or_insert(e.to_string());
                    failed |= is_praetor;
                }
            }
        }
    }
    for (who, e) in ["praetor agent -dev", "etcd (1 member)"]
        .iter()
        .zip(first_error)
    {
        if let Some(e) = e {
            table.notes.push(format!("{who} start FAILED: {e}"));
        }
    }
    if args.skip_etcd {
        table.mark_missing(
            Side::Peer("etcd"),
            |m| m == DEV_START || m == RSS_DEV,
            "skipped",
        );
    }
    failed
}

/// Starts the praetor servers, reads their idle memory, writes the 10k keys and registers the
/// 1k services, and reads their memory again.
fn praetor_setup(
    args: &Args,
    table: &mut Table,
    logs: &mut Vec<PathBuf>,
) -> Result<PraetorCluster, String> {
    let bin = find_praetor_bin().ok().filter(|b| b.exists()).ok_or(
        "praetor binary not found: run `cargo build --release --bin praetor` first (or set PRAETOR_BIN)",
    )?;
    progress(&format!(
        "starting 3 praetor servers on 127.0.1.1-3 ({})",
        bin.display()
    ));
    let mut cluster = PraetorCluster::start().map_err(|e| e.to_string())?;
    logs.extend(cluster.agents.iter().map(|a| a.dir.clone()));
    match praetor_load(args, table, &mut cluster) {
        Ok(()) => Ok(cluster),
        Err(e) => {
            print_log_tails(&cluster);
            Err(e)
        }
    }
}

fn praetor_load(
    args: &Args,
    table: &mut Table,
    cluster: &mut PraetorCluster,
) -> Result<(), String> {
    cluster.wait_ready(READY).map_err(|e| e.to_string())?;
    progress("praetor cluster ready; letting it idle 3 s before reading memory");
    std::thread::sleep(Duration::from_secs(3));
    let pids = cluster.pids();
    rss_samples(
        table,
        args.runs,
        Side::Praetor,
        (RSS_IDLE_LEADER, Some(RSS_IDLE_MAX)),
        || rss(&pids, cluster.leader()),
    );

    let bases = cluster.bases();
    let s = praetor_populate(bases.clone())?;
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
    rss_samples(
        table,
        args.runs,
        Side::Praetor,
        (RSS_LOADED_LEADER, Some(RSS_LOADED_MAX)),
        || rss(&pids, cluster.leader()),
    );
    Ok(())
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

/// Starts the etcd members, reads their idle memory, writes the 10k keys over gRPC, reads memory
/// again; returns the cluster and its gRPC load generator.
fn etcd_setup(
    args: &Args,
    table: &mut Table,
    work: &Path,
) -> Result<(EtcdCluster, EtcdGrpc), String> {
    let dir = work.join("etcd");
    progress(&format!(
        "starting 3 etcd members on 127.0.7.1-3 (data in {})",
        dir.display()
    ));
    let mut etcd = EtcdCluster::start(&dir, &ETCD_IPS).map_err(|e| e.to_string())?;
    etcd.wait_ready(READY).map_err(|e| e.to_string())?;
    let bases = etcd.bases();
    let grpc = EtcdGrpc::new(bases.clone(), KEYS, load::value_1k()).map_err(|e| e.to_string())?;
    poll_until("etcd accepts a gRPC Put", READY, || {
        grpc.once(EtcdOp::Put).ok()
    })
    .map_err(|e| e.to_string())?;
    progress("etcd ready; letting it idle 3 s before reading memory");
    std::thread::sleep(Duration::from_secs(3));
    let pids = etcd.pids();
    let peer = Side::Peer("etcd");
    rss_samples(
        table,
        args.runs,
        peer,
        (RSS_IDLE_LEADER, Some(RSS_IDLE_MAX)),
        || rss(&pids, etcd_leader(&bases)),
    );
    let s = check_populated(grpc.run(4, 16, populate_limits(), EtcdOp::Put))?;
    progress(&format!(
        "etcd: wrote {KEYS} keys over gRPC: {}",
        describe(&s)
    ));
    std::thread::sleep(Duration::from_secs(2));
    rss_samples(
        table,
        args.runs,
        peer,
        (RSS_LOADED_LEADER, Some(RSS_LOADED_MAX)),
        || rss(&pids, etcd_leader(&bases)),
    );
    Ok((etcd, grpc))
}

/// A DNS server under test.
struct DnsServer {
    side: Side,
    addr: SocketAddr,
}

/// Waits until `server` answers `svc-0.service.consul A` with exactly the 3 registered addresses
/// and `SRV` with 3 records.
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
        &format!("{who} answers {name} A with {want:?}"),
        Duration::from_secs(30),
        || {
            let m = dnsperf::query(server, name, RecordType::A, Duration::from_secs(2)).ok()?;
            last = dnsperf::a_records(&m);
            (last == want).then_some(())
        },
    )
    .map_err(|e| format!("{e}; last answer {last:?}"))?;
    poll_until(
        &format!("{who} answers {name} SRV with {} records", pr::INSTANCES),
        Duration::from_secs(30),
        || {
            let m = dnsperf::query(server, name, RecordType::SRV, Duration::from_secs(2)).ok()?;
            (m.answers.len() as u64 == pr::INSTANCES).then_some(())
        },
    )
    .map_err(|e| e.to_string())
}

/// Compares the servers' answers to the sample name for `qtype` and notes the outcome: every
/// server's response code, record counts per section and size, then whether they agree with the
/// first server's (praetor's): same records, same counts, same size.
fn compare_answers(table: &mut Table, servers: &[DnsServer], qtype: RecordType) {
    let name = &pr::dns_names()[0];
    let shapes: Vec<(Side, Result<Shape, String>)> = servers
        .iter()
        .map(|s| {
            let r = dnsperf::query_sized(s.addr, name, qtype, Duration::from_secs(2))
                .map(|(m, n)| Shape::of(&m, n))
                .map_err(|e| e.to_string());
            (s.side, r)
        })
        .collect();
    let summary: Vec<String> = shapes
        .iter()
        .map(|(side, r)| match r {
            Ok(s) => format!("{} {}", side.label(), s.summary()),
            Err(e) => format!("{} no answer ({e})", side.label()),
        })
        .collect();
    let mut differ = Vec::new();
    if let Some((first, Ok(reference))) = shapes.first() {
        let counts = |s: &Shape| {
            (
                s.rcode.clone(),
                s.answers.len(),
                s.authorities.len(),
                s.additionals.len(),
            )
        };
        for (side, r) in &shapes[1..] {
            let Ok(s) = r else { continue };
            let (a, b) = (first.label(), side.label());
            if (&s.answers, &s.additionals) != (&reference.answers, &reference.additionals) {
                differ.push(format!(
                    "records differ: {a} {:?} + {:?}, {b} {:?} + {:?}",
                    reference.answers, reference.additionals, s.answers, s.additionals
                ));
            } else if counts(s) != counts(reference) {
                differ.push(format!("record counts differ between {a} and {b}"));
            }
            if s.bytes != reference.bytes {
                differ.push(format!(
                    "sizes differ: {a} {} bytes, {b} {} bytes",
                    reference.bytes, s.bytes
                ));
            }
        }
    }
    let verdict = if differ.is_empty() {
        "same records, counts and sizes".to_string()
    } else {
        format!("DIFFER: {}", differ.join("; "))
    };
    table.notes.push(format!(
        "DNS {name} {qtype}: {}; {verdict}",
        summary.join("; ")
    ));
}

/// dnsperf for A and SRV against praetor, bind9 and knot, `--runs` rounds rotating which server
/// goes first. Returns whether something failed.
fn dns_phase(
    args: &Args,
    table: &mut Table,
    work: &Path,
    praetor: Option<&PraetorCluster>,
) -> bool {
    let is_dns = |m: &str| m.starts_with("DNS");
    let mut failed = false;
    let mut servers = Vec::new();
    if let Some(p) = praetor {
        let addr = p.agents[0].dns_addr();
        match dns_check(addr, "praetor") {
            Ok(()) => servers.push(DnsServer {
                side: Side::Praetor,
                addr,
            }),
            Err(e) => {
                progress(&format!("praetor DNS failed: {e}"));
                print_log_tails(p);
                table.notes.push(format!("praetor DNS FAILED: {e}"));
                table.mark_missing(Side::Praetor, is_dns, "failed");
                failed = true;
            }
        }
    }
    let records = pr::dns_records();
    let probe = &pr::dns_names()[0];
    let parse = |a: &str| a.parse::<SocketAddr>().map_err(|e| e.to_string());
    let bind_dir = work.join("bind9");
    let knot_dir = work.join("knot");
    progress(&format!(
        "starting bind9 on {BIND_ADDR} and knot on {KNOT_ADDR} (config, zone and logs in {} and {})",
        bind_dir.display(),
        knot_dir.display()
    ));
    let bind = parse(BIND_ADDR).and_then(|addr| {
        Bind9::start(&bind_dir, addr, &records, pr::SERVICE_PORT, probe).map_err(|e| e.to_string())
    });
    let knot = parse(KNOT_ADDR).and_then(|addr| {
        Knot::start(&knot_dir, addr, &records, pr::SERVICE_PORT, probe).map_err(|e| e.to_string())
    });
    let started = [
        ("bind9", bind.as_ref().map(|b| b.addr)),
        ("knot", knot.as_ref().map(|k| k.addr)),
    ];
    for (peer, r) in started {
        let checked = r
            .map_err(|e| e.clone())
            .and_then(|addr| dns_check(addr, peer).map(|()| addr));
        match checked {
            Ok(addr) => servers.push(DnsServer {
                side: Side::Peer(peer),
                addr,
            }),
            Err(e) => {
                progress(&format!("{peer} failed: {e}"));
                table.notes.push(format!("{peer} FAILED: {e}"));
                table.mark_missing(Side::Peer(peer), is_dns, "failed");
                failed = true;
            }
        }
    }
    for qtype in QTYPES {
        compare_answers(table, &servers, qtype);
    }
    let mut files = Vec::new();
    for qtype in QTYPES {
        let f = work.join(format!("dnsperf-{qtype}.txt"));
        match dnsperf::write_queries(&f, &pr::dns_names(), qtype) {
            Ok(()) => files.push((qtype, f)),
            Err(e) => table.notes.push(format!("dnsperf query file: {e}")),
        }
    }
    for run in 0..args.runs {
        for (qtype, file) in &files {
            for i in 0..servers.len() {
                let s = &servers[(i + run) % servers.len()];
                let r = dnsperf::run(s.addr, file, args.dns_duration(), 4, 100);
                record_dns(table, s.side, *qtype, run, r);
            }
        }
    }
    drop(bind);
    drop(knot);
    failed
}

fn record_dns(
    table: &mut Table,
    side: Side,
    qtype: RecordType,
    run: usize,
    r: Result<DnsperfResult, praetor_tests::bench::BenchError>,
) {
    let who = side.label();
    match r {
        Ok(r) => {
            progress(&format!(
                "{who} dnsperf {qtype} run {}: {:.0} q/s, avg {:.3} ms, lost {}, {}",
                run + 1,
                r.qps,
                r.avg_latency_ms,
                r.lost,
                r.rcodes
            ));
            table.add(&dns_metric(qtype, "queries/s"), side, Ok(r.qps));
            table.add(
                &dns_metric(qtype, "avg latency"),
                side,
                Ok(r.avg_latency_ms),
            );
            let only_noerror = r.rcodes.starts_with("NOERROR") && !r.rcodes.contains(',');
            if r.lost > 0 || !only_noerror {
                table.notes.push(format!(
                    "{who} dnsperf {qtype} run {}: sent {}, completed {}, lost {}, response codes: {}",
                    run + 1,
                    r.sent,
                    r.completed,
                    r.lost,
                    r.rcodes
                ));
            }
        }
        Err(e) => {
            progress(&format!(
                "{who} dnsperf {qtype} run {} failed: {e}",
                run + 1
            ));
            table
                .notes
                .push(format!("{who} dnsperf {qtype} run {}: {e}", run + 1));
            table.add(&dns_metric(qtype, "queries/s"), side, Err(e.to_string()));
            table.add(&dns_metric(qtype, "avg latency"), side, Err(e.to_string()));
        }
    }
}

/// The 1-minute load average (`/proc/loadavg`), or `?`.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn goals(table: &mut Table) -> Vec<String> {
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let etcd = Side::Peer("etcd");
    let mut out = Vec::new();
    let put = kv_metric(KvKind::Put, 64, "throughput");
    match (table.median(&put, Side::Praetor), table.median(&put, etcd)) {
        (Some(p), Some(e)) => out.push(format!(
            "praetor writes/s >= etcd's at 64 clients (medians): {p:.0} vs {e:.0}: {}",
            verdict(p >= e)
        )),
        _ => out.push("praetor writes/s >= etcd's at 64 clients: not measured".into()),
    }
    let p99 = kv_metric(KvKind::Put, 64, "p99");
    match (table.median(&p99, Side::Praetor), table.median(&p99, etcd)) {
        (Some(p), Some(e)) => out.push(format!(
            "praetor PUT p99 <= etcd's at 64 clients (medians): {p:.2} ms vs {e:.2} ms: {}",
            verdict(p <= e)
        )),
        _ => out.push("praetor PUT p99 <= etcd's at 64 clients: not measured".into()),
    }
    let limits = [
        (
            RSS_IDLE_MAX,
            "idle praetor server RSS <= 30 MiB (max of 3, median)",
            30.0,
            "MiB",
        ),
        (
            DEV_START,
            "agent -dev to a leader <= 100 ms (median)",
            100.0,
            "ms",
        ),
        (
            RSS_DEV,
            "idle -dev agent RSS <= 30 MiB (median)",
            30.0,
            "MiB",
        ),
    ];
    for (metric, goal, limit, unit) in limits {
        match table.median(metric, Side::Praetor) {
            Some(m) => out.push(format!("{goal}: {m:.1} {unit}: {}", verdict(m <= limit))),
            None => out.push(format!("{goal}: not measured")),
        }
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
            eprintln!("usage: bench [--quick] [--runs N] [--skip-etcd] [--skip-dns]");
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
    let etcd_side = Side::Peer("etcd");
    let is_dns = |m: &str| m.starts_with("DNS");
    let not_dns = |m: &str| !m.starts_with("DNS");

    // 1. Single-server start-up, on a machine not yet busy with the clusters.
    let mut failed = startup_phase(&args, &mut table, &work);

    // 2. The clusters, loaded.
    let mut praetor = match praetor_setup(&args, &mut table, &mut praetor_logs) {
        Ok(c) => Some(c),
        Err(e) => {
            progress(&format!("praetor setup failed: {e}"));
            table.notes.push(format!("praetor FAILED: {e}"));
            table.mark_missing(Side::Praetor, |m| m != DEV_START && m != RSS_DEV, "failed");
            failed = true;
            None
        }
    };
    let mut etcd = if args.skip_etcd {
        table.mark_missing(etcd_side, not_dns, "skipped");
        None
    } else {
        match etcd_setup(&args, &mut table, &work) {
            Ok(e) => Some(e),
            Err(e) => {
                progress(&format!("etcd setup failed: {e}"));
                table.notes.push(format!("etcd FAILED: {e}"));
                table.mark_missing(
                    etcd_side,
                    |m| not_dns(m) && m != DEV_START && m != RSS_DEV,
                    "failed",
                );
                failed = true;
                None
            }
        }
    };

    // 3. KV runs, then the memory after them.
    let bases = praetor.as_ref().map(|p| p.bases());
    kv_runs(
        &args,
        &mut table,
        bases.as_deref(),
        etcd.as_ref().map(|(_, g)| g),
    );
    if let Some(p) = praetor.as_mut() {
        if let Err(e) = p.check_running() {
            table
                .notes
                .push(format!("praetor server died during the KV runs: {e}"));
            failed = true;
        }
        let pids = p.pids();
        rss_samples(
            &mut table,
            args.runs,
            Side::Praetor,
            (RSS_AFTER_LEADER, None),
            || rss(&pids, p.leader()),
        );
    }
    if let Some((e, _)) = etcd.as_mut() {
        let (pids, bases) = (e.pids(), e.bases());
        rss_samples(
            &mut table,
            args.runs,
            etcd_side,
            (RSS_AFTER_LEADER, None),
            || rss(&pids, etcd_leader(&bases)),
        );
        e.stop();
    }
    drop(etcd);

    // 4. DNS.
    if args.skip_dns {
        table.mark_missing(Side::Praetor, is_dns, "skipped");
        for p in DNS_PEERS {
            table.mark_missing(Side::Peer(p), is_dns, "skipped");
        }
    } else {
        failed |= dns_phase(&args, &mut table, &work, praetor.as_ref());
    }
    if let Some(p) = praetor.as_mut() {
        p.stop();
    }

    let mut out = String::new();
    out.push_str(&format!(
        "praetor bench ({}, {} runs per figure): KV {} s per run, praetor over HTTP (each client its own keep-alive connection, clients round-robin over the 3 servers), etcd over gRPC (clients sharing the calibrated number of HTTP/2 connections, round-robin over the 3 members), 1 KiB values over {KEYS} keys; DNS {} s of dnsperf per run (4 sockets, 100 outstanding, 1 thread), A and SRV; single-server start-up over {} starts\n",
        if args.quick { "--quick" } else { "full" },
        args.runs,
        args.kv_duration().as_secs(),
        args.dns_duration().as_secs(),
        args.starts()
    ));
    out.push_str(&format!(
        "NOTE: this machine has {cores} CPU core(s). The load generator (or dnsperf) and all servers of the system under test share them, so every figure is CPU-bound and far below what dedicated hosts give; only the ratios are meaningful. Each cell is the median of the runs with their min-max in parentheses; the ratio is that of the medians. Runs alternate which system goes first (KV: praetor and etcd, both clusters up, the other one idle; DNS: praetor, bind9, knot rotating). The cluster RSS rows are samples 1 s apart of one start of each cluster.\n"
    ));
    out.push_str(&format!(
        "Load average (1 min) before: {load_before}, after: {} (anything else running on the machine skews the figures).\n\n",
        loadavg()
    ));
    out.push_str(&render(&table.rows));
    out.push_str("\nGoals (from the issues):\n");
    for g in goals(&mut table) {
        out.push_str(&format!("- {g}\n"));
    }
    if !table.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &table.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out.push_str(&format!(
        "\nWork dir (etcd logs; start-up logs; bind9 and knot config, zone and log; dnsperf query files): {}\n",
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
