//! Single-server start-up and idle memory: `praetor agent -dev` on free ports of a 127.0.1.x
//! address, timed from spawn to the first `GET /v1/status/leader` that names a leader (polled
//! every 2 ms), then left idle for a while and its resident memory read; and, as its peer, a
//! 1-member etcd on a 127.0.7.x address timed from spawn to the first `GET /health` that says
//! `true` (etcd's "I have a leader and can serve"), with its idle memory read the same way.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::BenchError;
use super::proc::{Proc, free_ports, poll_every, rss_mib};

/// How often readiness is polled while timing a start.
const POLL: Duration = Duration::from_millis(2);
/// How long a start may take before it counts as failed.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// One timed start.
#[derive(Debug, Clone)]
pub struct Startup {
    /// Spawn to the first ready answer.
    pub ready: Duration,
    /// Resident memory after `idle` more.
    pub rss_mib: Result<f64, String>,
}

/// An HTTP client for readiness polls: every call bounded, a refused connection fails at once.
fn poller() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(1)))
        .max_idle_connections_per_host(1)
        .build()
        .new_agent()
}

/// The body of `GET url` when it answers 200.
fn get_200(agent: &ureq::Agent, url: &str) -> Option<String> {
    let mut r = agent.get(url).call().ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    r.body_mut().read_to_string().ok()
}

/// Times `cmd` from spawn until `ready` holds (polled every 2 ms), waits `idle`, reads its
/// RSS and kills it.
fn timed_start(
    name: &str,
    cmd: Command,
    log: &Path,
    idle: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<Startup, BenchError> {
    let t0 = Instant::now();
    let mut proc = Proc::spawn(name, cmd, log)?;
    let mut exited = None;
    poll_every(&format!("{name} ready"), START_DEADLINE, POLL, || {
        if ready() {
            return Some(());
        }
        // A process that died (a port taken, a bad flag) fails the start at once.
        if let Err(e) = proc.check_running() {
            exited = Some(e);
            return Some(());
        }
        None
    })?;
    let took = t0.elapsed();
    if let Some(e) = exited {
        return Err(e);
    }
    std::thread::sleep(idle);
    proc.check_running()?;
    let rss = match proc.pid() {
        Some(pid) => rss_mib(pid).map_err(|e| e.to_string()),
        None => Err("no pid".into()),
    };
    proc.stop();
    Ok(Startup {
        ready: took,
        rss_mib: rss,
    })
}

/// Starts `praetor agent -dev` bound to `ip` on free HTTP, DNS, server, LAN and WAN ports (its
/// default log level: `RUST_LOG` is cleared), times it to a leader, idles `idle`, reads its RSS.
pub fn praetor_dev(
    bin: &Path,
    ip: IpAddr,
    dir: &Path,
    run: usize,
    idle: Duration,
) -> Result<Startup, BenchError> {
    std::fs::create_dir_all(dir).map_err(BenchError::file(dir))?;
    let p = free_ports(ip, 5)?;
    let mut cmd = Command::new(bin);
    cmd.env_remove("RUST_LOG").args([
        "agent".to_string(),
        "-dev".into(),
        format!("-node=bench-dev-{run}"),
        format!("-bind={ip}"),
        format!("-client={ip}"),
        format!("-http-port={}", p[0]),
        format!("-dns-port={}", p[1]),
        format!("-server-port={}", p[2]),
        format!("-serf-lan-port={}", p[3]),
        format!("-serf-wan-port={}", p[4]),
    ]);
    let agent = poller();
    let url = format!("http://{ip}:{}/v1/status/leader", p[0]);
    let log = dir.join(format!("dev-{run}.log"));
    timed_start("praetor agent -dev", cmd, &log, idle, || {
        get_200(&agent, &url)
            .and_then(|b| serde_json::from_str::<String>(&b).ok())
            .is_some_and(|leader| !leader.is_empty())
    })
}

/// Starts a fresh 1-member etcd bound to `ip` on free client and peer ports with its data under
/// `dir` (removed afterwards), times it to `/health` true, idles `idle`, reads its RSS.
pub fn etcd_single(
    ip: IpAddr,
    dir: &Path,
    run: usize,
    idle: Duration,
) -> Result<Startup, BenchError> {
    std::fs::create_dir_all(dir).map_err(BenchError::file(dir))?;
    let p = free_ports(ip, 2)?;
    let data = dir.join(format!("single-{run}"));
    let (client, peer) = (
        format!("http://{ip}:{}", p[0]),
        format!("http://{ip}:{}", p[1]),
    );
    let mut cmd = Command::new(super::etcd::ETCD_BIN);
    cmd.args([
        "--name=single".to_string(),
        format!("--data-dir={}", data.display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=single={peer}"),
        "--initial-cluster-state=new".into(),
        "--logger=zap".into(),
        "--log-outputs=stderr".into(),
    ]);
    let agent = poller();
    let url = format!("{client}/health");
    let log = dir.join(format!("single-{run}.log"));
    let r = timed_start("etcd (1 member)", cmd, &log, idle, || {
        get_200(&agent, &url).is_some_and(|b| b.contains(r#""health":"true""#))
    });
    let _ = std::fs::remove_dir_all(&data);
    r
}
