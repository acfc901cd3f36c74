//! `wanbench`: whole-system figures for WAN federation, on loopback.
//!
//! 1. Forwarding cost: one server in dc1 (127.0.1.1) and one in dc2 (127.0.2.1), linked three
//!    ways in turn: the WAN pool (plaintext RPC), a network area (plaintext), a network area
//!    with TLS on the RPC port (verify_incoming + verify_server_hostname). `GET /v1/kv/<k>` on
//!    dc1's server for a dc1 key (local) and for a dc2 key with `?dc=dc2` (forwarded over the
//!    server RPC port), with 1 and 16 clients: req/s, p50/p99, the p50 added by forwarding
//!    (goal: <= 0.3 ms), and TLS handshakes per forwarded request (connection reuse).
//! 2. WAN gossip: 3 datacenters x 5 servers (127.0.{1,2,3}.1-5) with Consul's default WAN
//!    timings; one `join -wan` per datacenter pair from one server; time until every server
//!    sees all 15 alive in its WAN pool, and WAN bytes sent per second per server over a quiet
//!    window afterwards (compare: serf's model, 175 kbit/s per node maximum for WAN).
//!
//! Run: `cargo build --release --bin praetor && cargo run --release -p praetor-tests --bin
//! wanbench -- [--quick]` (or `tests/wanbench.sh`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use praetor_tests::bench::load::{self, Limits, Op, Stats};
use praetor_tests::{Agent, AgentOptions, Http, wait_for};

fn options() -> AgentOptions {
    AgentOptions {
        config_json: r#"{"performance":{"raft_multiplier":1},"log_level":"info"}"#.into(),
        rust_log: "info,openraft=warn,hickory_server=warn".into(),
        env: Vec::new(),
        self_token: None,
        data_dir: None,
    }
}

/// How the two datacenters of the forwarding bench are linked.
#[derive(Clone, Copy, PartialEq)]
enum Link {
    Wan,
    Area,
    AreaTls,
}

impl Link {
    fn label(self) -> &'static str {
        match self {
            Link::Wan => "WAN pool, plaintext",
            Link::Area => "network area, plaintext",
            Link::AreaTls => "network area, TLS",
        }
    }
}

/// A CA and a server certificate per datacenter, made with `praetor tls`.
fn certificates() -> Result<std::path::PathBuf, String> {
    let dir = praetor_tests::scratch("bench-certs");
    let bin =
        praetor_tests::find_praetor_bin().map_err(|p| format!("{} not built", p.display()))?;
    let run = |args: &[&str]| -> Result<(), String> {
        let out = std::process::Command::new(&bin)
            .args(args)
            .current_dir(&dir)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    };
    run(&["tls", "ca", "create"])?;
    run(&["tls", "cert", "create", "-server", "-dc=dc1"])?;
    run(&["tls", "cert", "create", "-server", "-dc=dc2"])?;
    Ok(dir)
}

fn link_options(link: Link, certs: &std::path::Path, dc: u8) -> AgentOptions {
    let mut cfg = serde_json::json!({"performance":{"raft_multiplier":1},"log_level":"info"});
    if link != Link::Wan {
        cfg["ports"] = serde_json::json!({"serf_wan": -1});
    }
    if link == Link::AreaTls {
        let p = |f: String| certs.join(f).display().to_string();
        cfg["tls"] = serde_json::json!({
            "defaults": {
                "ca_file": p("consul-agent-ca.pem".into()),
                "cert_file": p(format!("dc{dc}-server-consul-0.pem")),
                "key_file": p(format!("dc{dc}-server-consul-0-key.pem")),
                "verify_incoming": true, "verify_outgoing": true
            },
            "internal_rpc": {"verify_server_hostname": true}
        });
    }
    AgentOptions {
        config_json: cfg.to_string(),
        ..options()
    }
}

fn server(name: &str, ip: &str, dc: u8, expect: usize) -> Agent {
    let flags = [
        format!("-datacenter=dc{dc}"),
        "-server".into(),
        format!("-bootstrap-expect={expect}"),
        format!("-retry-join=127.0.{dc}.1"),
        "-retry-interval=1s".into(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Agent::start_with(name, ip, &flags, &options())
}

fn alive_wan(h: &Http) -> usize {
    h.try_get("/v1/agent/members?wan=1")
        .ok()
        .and_then(|r| {
            Some(
                r.json()
                    .as_array()?
                    .iter()
                    .filter(|m| m["Status"] == 1)
                    .count(),
            )
        })
        .unwrap_or(0)
}

fn get_op(base: String, path: &'static str) -> Arc<Op> {
    Arc::new(move |agent: &ureq::Agent, _c, _seq| {
        let r = agent
            .get(format!("{base}{path}"))
            .call()
            .map_err(|e| e.to_string())?;
        if r.status() != 200 {
            return Err(format!("status {}", r.status()));
        }
        Ok(())
    })
}

fn ms(d: Option<Duration>) -> f64 {
    d.map(|d| d.as_secs_f64() * 1e3).unwrap_or(f64::NAN)
}

fn forwarding(quick: bool, link: Link, certs: &std::path::Path) -> Result<(), String> {
    println!();
    println!(
        "== forwarded ?dc=dc2 KV GET vs local GET (1 server per datacenter, {})",
        link.label()
    );
    let start = |name: &str, ip: &str, dc: u8| {
        let flags = [
            format!("-datacenter=dc{dc}"),
            "-server".to_string(),
            "-bootstrap-expect=1".to_string(),
        ];
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Agent::start_with(name, ip, &flags, &link_options(link, certs, dc))
    };
    let a = start("f1", "127.0.1.1", 1);
    let b = start("f2", "127.0.2.1", 2);
    for s in [&a, &b] {
        wait_for("leader", Duration::from_secs(60), || {
            s.http().leader().filter(|l| !l.is_empty())
        });
    }
    if link == Link::Wan {
        let r = a.http().put("/v1/agent/join/127.0.2.1?wan=1", b"");
        if r.status != 200 {
            return Err(format!("join -wan: {}", r.text()));
        }
        wait_for("2 WAN members", Duration::from_secs(60), || {
            (alive_wan(&a.http()) == 2).then_some(())
        });
    } else {
        for (s, peer) in [(&b, "dc1"), (&a, "dc2")] {
            let body = format!(r#"{{"PeerDatacenter":"{peer}"}}"#);
            let r = s.http().try_post("/v1/operator/area", body.as_bytes())?;
            if r.status != 200 {
                return Err(format!("area create: {} {}", r.status, r.text()));
            }
        }
        let id = a.http().get("/v1/operator/area").json()[0]["ID"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        wait_for("area joined", Duration::from_secs(60), || {
            let r = a
                .http()
                .try_put(&format!("/v1/operator/area/{id}/join"), br#"["127.0.2.1"]"#)
                .ok()?;
            (r.status == 200 && r.json()[0]["Joined"] == true).then_some(())
        });
    }
    a.http().put("/v1/kv/bench/local", &[b'x'; 100]);
    b.http().put("/v1/kv/bench/remote", &[b'x'; 100]);
    wait_for("dc2 reachable", Duration::from_secs(30), || {
        a.http().kv_get("bench/remote", "&dc=dc2")
    });
    let base = format!("http://{}:8500", a.ip);
    let limits = Limits {
        duration: Duration::from_secs(if quick { 2 } else { 8 }),
        max_requests: 200_000,
        warmup_per_client: 50,
    };
    let handshakes = |h: &Http| h.metric("praetor_rpc_tls_handshakes_total");
    let hs_before = handshakes(&b.http());
    let mut forwarded = 0u64;
    println!("| clients | path | req/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for clients in [1usize, 16] {
        let local: Stats = load::run(clients, limits, get_op(base.clone(), "/v1/kv/bench/local"));
        let remote: Stats = load::run(
            clients,
            limits,
            get_op(base.clone(), "/v1/kv/bench/remote?dc=dc2"),
        );
        forwarded += remote.ok;
        for (name, s) in [("local", &local), ("?dc=dc2", &remote)] {
            if s.errors > 0 {
                return Err(format!(
                    "{name}: {} errors, first {:?}",
                    s.errors, s.first_error
                ));
            }
            println!(
                "| {clients} | {name} | {:.0} | {:.3} | {:.3} |",
                s.throughput(),
                ms(s.percentile(0.5)),
                ms(s.percentile(0.99))
            );
        }
        println!(
            "| {clients} | added by forwarding (p50) | | {:.3} | |",
            ms(remote.percentile(0.5)) - ms(local.percentile(0.5))
        );
    }
    if link == Link::AreaTls {
        let hs = handshakes(&b.http()) - hs_before;
        println!(
            "TLS handshakes on dc2's RPC port during the runs: {hs:.0} for {forwarded} forwarded \
             requests ({:.6} per request)",
            hs / forwarded.max(1) as f64
        );
    }
    Ok(())
}

fn wan_gossip(quick: bool) -> Result<(), String> {
    println!();
    println!("== WAN gossip: 3 datacenters x 5 servers, Consul's default WAN timings");
    let mut servers = Vec::new();
    for dc in 1..=3u8 {
        for i in 1..=5u8 {
            servers.push(server(
                &format!("w{dc}{i}"),
                &format!("127.0.{dc}.{i}"),
                dc,
                5,
            ));
        }
    }
    // Each datacenter first floods its own servers into the WAN pool.
    let t = Instant::now();
    wait_for(
        "each datacenter's 5 servers in its WAN pool",
        Duration::from_secs(180),
        || {
            servers
                .iter()
                .all(|s| alive_wan(&s.http()) >= 5)
                .then_some(())
        },
    );
    println!(
        "flood join inside each datacenter: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    for target in ["127.0.2.1", "127.0.3.1"] {
        let r = servers[0]
            .http()
            .put(&format!("/v1/agent/join/{target}?wan=1"), b"");
        if r.status != 200 {
            return Err(format!("join -wan {target}: {}", r.text()));
        }
    }
    let mut seen_all = vec![None; servers.len()];
    wait_for(
        "all 15 servers see 15 alive",
        Duration::from_secs(300),
        || {
            for (i, s) in servers.iter().enumerate() {
                if seen_all[i].is_none() && alive_wan(&s.http()) == 15 {
                    seen_all[i] = Some(t.elapsed());
                }
            }
            seen_all.iter().all(Option::is_some).then_some(())
        },
    );
    let mut times: Vec<Duration> = seen_all.into_iter().flatten().collect();
    times.sort();
    println!(
        "convergence after one join -wan: 50% of servers {:.2} s, 100% {:.2} s",
        times[times.len() / 2].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    );
    let window = Duration::from_secs(if quick { 10 } else { 30 });
    let before: Vec<f64> = servers
        .iter()
        .map(|s| s.http().metric("consul_serf_wan_bytes_sent_total"))
        .collect();
    std::thread::sleep(window); // the measurement window itself
    let after: Vec<f64> = servers
        .iter()
        .map(|s| s.http().metric("consul_serf_wan_bytes_sent_total"))
        .collect();
    let rates: Vec<f64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) / window.as_secs_f64())
        .collect();
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let max = rates.iter().cloned().fold(0.0, f64::max);
    println!(
        "steady WAN traffic per server over {} s: mean {:.0} B/s ({:.1} kbit/s), max {:.0} B/s \
         (serf model maximum: 175 kbit/s)",
        window.as_secs(),
        mean,
        mean * 8.0 / 1000.0,
        max
    );
    Ok(())
}

fn main() -> ExitCode {
    let quick = std::env::args().any(|a| a == "--quick");
    let skip_gossip = std::env::args().any(|a| a == "--skip-gossip");
    let certs = match certificates() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot make certificates: {e}");
            return ExitCode::FAILURE;
        }
    };
    for link in [Link::Wan, Link::Area, Link::AreaTls] {
        if let Err(e) = forwarding(quick, link, &certs) {
            eprintln!("forwarding bench ({}) failed: {e}", link.label());
            return ExitCode::FAILURE;
        }
    }
    if !skip_gossip && let Err(e) = wan_gossip(quick) {
        eprintln!("WAN gossip bench failed: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
