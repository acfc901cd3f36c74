//! Collects the agent's metrics from its subsystems' counters (Consul's metric names).

use std::sync::atomic::Ordering;

use praetor_api::{Metric, MetricKind};
use praetor_gossip::MemberStatus;

use crate::Shared;

fn m(name: &str, kind: MetricKind, value: f64, help: &'static str) -> Metric {
    Metric {
        name: name.to_string(),
        kind,
        value,
        labels: Default::default(),
        help,
    }
}

pub fn collect(shared: &Shared) -> Vec<Metric> {
    use MetricKind::{Counter, Gauge};
    let mut out = Vec::new();
    let mut pools = vec![("lan", &shared.lan)];
    if let Some(w) = &shared.wan {
        pools.push(("wan", w));
    }
    for (pool_name, pool) in pools {
        let members = pool.members();
        let alive = members
            .iter()
            .filter(|m| m.status == MemberStatus::Alive)
            .count();
        let g = pool.stats();
        let series: [(&str, MetricKind, f64, &'static str); 8] = [
            (
                "members",
                Gauge,
                members.len() as f64,
                "Gossip members known",
            ),
            ("members_alive", Gauge, alive as f64, "Gossip members alive"),
            (
                "packets_received_total",
                Counter,
                g.packets_in as f64,
                "Gossip datagrams received",
            ),
            (
                "packets_sent_total",
                Counter,
                g.packets_out as f64,
                "Gossip datagrams sent",
            ),
            (
                "bytes_received_total",
                Counter,
                g.bytes_in as f64,
                "Gossip bytes received",
            ),
            (
                "bytes_sent_total",
                Counter,
                g.bytes_out as f64,
                "Gossip bytes sent",
            ),
            (
                "packets_dropped_total",
                Counter,
                g.dropped as f64,
                "Gossip datagrams dropped",
            ),
            (
                "decrypt_failures_total",
                Counter,
                g.decrypt_failures as f64,
                "Gossip datagrams dropped because no installed key decrypts them",
            ),
        ];
        for (name, kind, value, help) in series {
            out.push(m(
                &format!("consul_serf_{pool_name}_{name}"),
                kind,
                value,
                help,
            ));
        }
    }
    let (conns, handshakes) = praetor_tls::rpc_port_stats();
    out.push(m(
        "consul_rpc_accepted_conns_total",
        Counter,
        conns as f64,
        "Connections accepted on the server RPC port",
    ));
    out.push(m(
        "praetor_rpc_tls_handshakes_total",
        Counter,
        handshakes as f64,
        "TLS handshakes completed on the server RPC port",
    ));
    let r = shared.rpc.counters();
    out.push(m(
        "consul_rpc_request_total",
        Counter,
        r.calls_in.load(Ordering::Relaxed) as f64,
        "Server RPC calls received",
    ));
    out.push(m(
        "consul_client_rpc_total",
        Counter,
        r.calls_out.load(Ordering::Relaxed) as f64,
        "RPC calls sent to servers",
    ));
    out.push(m(
        "consul_client_rpc_failed_total",
        Counter,
        r.call_errors.load(Ordering::Relaxed) as f64,
        "RPC calls that failed",
    ));
    out.push(m(
        "consul_rpc_queries_blocking",
        Gauge,
        r.blocking_in_flight.load(Ordering::Relaxed) as f64,
        "Blocking queries in flight on this server",
    ));
    if let Some(c) = &shared.consensus {
        let rc = c.counters();
        let secs = |n: u64| n as f64 / 1e9;
        out.push(m(
            "consul_raft_apply_total",
            Counter,
            rc.applies.load(Ordering::Relaxed) as f64,
            "Raft entries applied to the state machine",
        ));
        out.push(m(
            "consul_raft_fsm_apply_seconds_sum",
            Counter,
            secs(rc.apply_nanos.load(Ordering::Relaxed)),
            "Time spent applying entries",
        ));
        out.push(m(
            "consul_raft_commit_total",
            Counter,
            rc.commits.load(Ordering::Relaxed) as f64,
            "Writes committed by this leader",
        ));
        out.push(m(
            "consul_raft_commit_seconds_sum",
            Counter,
            secs(rc.commit_nanos.load(Ordering::Relaxed)),
            "Time from proposal to apply",
        ));
        out.push(m(
            "consul_raft_leader_changes_total",
            Counter,
            rc.leader_changes.load(Ordering::Relaxed) as f64,
            "Observed raft leader changes",
        ));
        out.push(m(
            "consul_raft_leader",
            Gauge,
            if c.is_leader() { 1.0 } else { 0.0 },
            "1 if this server is the raft leader",
        ));
        out.push(m(
            "consul_raft_applied_index",
            Gauge,
            c.applied_index() as f64,
            "Last applied raft index",
        ));
        out.push(m(
            "consul_raft_peers",
            Gauge,
            c.peers().len() as f64,
            "Servers in the raft configuration",
        ));
    }
    for p in shared.plugins.list() {
        let labels: std::collections::BTreeMap<String, String> = [
            ("slot".to_string(), p.slot.clone()),
            ("component".to_string(), p.component.clone()),
        ]
        .into();
        let mut metric = |name: &str, kind, value: f64, help| {
            out.push(Metric {
                name: name.to_string(),
                kind,
                value,
                labels: labels.clone(),
                help,
            })
        };
        metric(
            "praetor_plugin_calls_total",
            Counter,
            p.calls as f64,
            "Calls into a policy slot",
        );
        metric(
            "praetor_plugin_failures_total",
            Counter,
            p.failures as f64,
            "Plugin calls that trapped or timed out (answered by the built-in)",
        );
        let reverted = if matches!(p.state, praetor_plugin_host::SlotState::Active) {
            0.0
        } else {
            1.0
        };
        metric(
            "praetor_plugin_reverted",
            Gauge,
            reverted,
            "1 while a slot runs its built-in after failures",
        );
    }
    out.push(m(
        "consul_runtime_uptime_seconds",
        Gauge,
        shared.started.elapsed().as_secs_f64(),
        "Seconds since the agent started",
    ));
    if let Some(rss) = rss_bytes() {
        out.push(m(
            "consul_runtime_resident_memory_bytes",
            Gauge,
            rss as f64,
            "Resident set size of the agent",
        ));
    }
    out
}

/// Resident set size from /proc (Linux).
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
