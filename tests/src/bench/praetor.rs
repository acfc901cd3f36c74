//! The praetor side of the bench: a 3-server cluster on 127.0.1.1-3 with Consul's default ports
//! started through the harness (`praetor agent -server -bootstrap-expect=3
//! -retry-join=127.0.1.1`), readiness, and the catalog data the DNS and memory measurements use.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::BenchError;
use super::load::Op;
use super::proc::{ensure_free, poll_until};
use crate::{Agent, AgentOptions};

/// Server addresses, as the integration tests use for dc1.
pub const IPS: [&str; 3] = ["127.0.1.1", "127.0.1.2", "127.0.1.3"];
/// Services looked up by dnsperf, each with this many healthy instances.
pub const DNS_SERVICES: u64 = 100;
pub const INSTANCES: u64 = 3;
/// Services registered in all (the DNS ones included) for the loaded-memory figure.
pub const TOTAL_SERVICES: u64 = 1000;
/// The port every instance registers (the SRV answers carry it).
pub const SERVICE_PORT: u16 = 8080;
/// Nodes the instances are spread over.
const NODES: u64 = 30;

/// Three running praetor servers; killed when dropped.
pub struct PraetorCluster {
    pub agents: Vec<Agent>,
}

impl PraetorCluster {
    /// Starts the three servers at `info` logging (the harness default is debug, which would
    /// measure the logger) with `raft_multiplier = 1`, Consul's production recommendation.
    pub fn start() -> Result<PraetorCluster, BenchError> {
        Self::start_configured(
            r#"{"performance":{"raft_multiplier":1},"log_level":"info"}"#,
            None,
        )
    }

    /// [`PraetorCluster::start`] with another config file (ACLs on, say) and the token the
    /// harness waits with.
    pub fn start_configured(
        config_json: &str,
        self_token: Option<String>,
    ) -> Result<PraetorCluster, BenchError> {
        let tcp: Vec<SocketAddr> = IPS
            .iter()
            .flat_map(|ip| {
                [8500, 8300].map(|p| {
                    SocketAddr::new(ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), p)
                })
            })
            .collect();
        let udp: Vec<SocketAddr> = tcp.iter().map(|a| SocketAddr::new(a.ip(), 8600)).collect();
        ensure_free(&tcp, &udp)?;
        let opts = AgentOptions {
            config_json: config_json.into(),
            rust_log: "info,openraft=warn,hickory_server=warn".into(),
            env: Vec::new(),
            self_token: self_token.clone(),
            data_dir: None,
        };
        let flags = ["-server", "-bootstrap-expect=3", "-retry-join=127.0.1.1"];
        let agents = IPS
            .iter()
            .enumerate()
            .map(|(i, ip)| Agent::start_with(&format!("s{}", i + 1), ip, &flags, &opts))
            .collect();
        Ok(PraetorCluster { agents })
    }

    /// HTTP base URLs of all servers.
    pub fn bases(&self) -> Vec<String> {
        self.agents
            .iter()
            .map(|a| format!("http://{}:8500", a.ip))
            .collect()
    }

    /// Waits until every server knows the leader, the leader lists 3 raft peers, and a KV write
    /// through every server succeeds.
    pub fn wait_ready(&mut self, deadline: Duration) -> Result<(), BenchError> {
        self.wait_ready_as(deadline, None)
    }

    /// [`PraetorCluster::wait_ready`] writing with `token` (ACLs on).
    pub fn wait_ready_as(
        &mut self,
        deadline: Duration,
        token: Option<&str>,
    ) -> Result<(), BenchError> {
        for a in &mut self.agents {
            let h = a.http();
            poll_until(&format!("{} knows a raft leader", a.name), deadline, || {
                h.leader()
            })?;
        }
        let h = self.agents[0].http();
        poll_until("3 raft peers", deadline, || {
            let r = h.try_get("/v1/status/peers").ok()?;
            let peers: Vec<String> = serde_json::from_slice(&r.body).ok()?;
            (peers.len() == 3).then_some(())
        })?;
        for a in &mut self.agents {
            let h = match token {
                Some(t) => a.http().with_token(t),
                None => a.http(),
            };
            poll_until(&format!("a KV write through {}", a.name), deadline, || {
                let r = h.try_put("/v1/kv/bench/ready", b"1").ok()?;
                (r.status == 200 && r.text().trim() == "true").then_some(())
            })?;
        }
        self.check_running()
    }

    /// An error naming the first server that is not running, with its log file.
    pub fn check_running(&mut self) -> Result<(), BenchError> {
        for a in &mut self.agents {
            if !a.is_running() {
                return Err(BenchError::Exited {
                    name: a.name.clone(),
                    status: "not running".into(),
                    log: a.dir.clone(),
                });
            }
        }
        Ok(())
    }

    /// `(name, pid)` of the running servers.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.agents
            .iter()
            .filter_map(|a| Some((a.name.clone(), a.pid()?)))
            .collect()
    }

    /// Index in `agents` of the current raft leader (`/v1/status/leader` is `ip:8300`).
    pub fn leader(&self) -> Option<usize> {
        let leader = self.agents[0].http().leader()?;
        self.agents
            .iter()
            .position(|a| leader.starts_with(&format!("{}:", a.ip)))
    }

    pub fn stop(&mut self) {
        for a in &mut self.agents {
            a.kill();
        }
    }
}

/// The address of instance `i` of DNS service `s` (data only: nothing is sent there).
pub fn dns_instance_ip(s: u64, i: u64) -> Ipv4Addr {
    Ipv4Addr::new(127, 21, s as u8, i as u8 + 1)
}

/// The DNS services' records as a zone wants them: `(svc-N.service, addresses)`.
pub fn dns_records() -> Vec<(String, Vec<Ipv4Addr>)> {
    (0..DNS_SERVICES)
        .map(|s| {
            (
                format!("svc-{s}.service"),
                (0..INSTANCES).map(|i| dns_instance_ip(s, i)).collect(),
            )
        })
        .collect()
}

/// The SRV target praetor (like Consul) gives an instance whose service address is `ip`:
/// `<8 hex digits>.addr.dc1.consul.`, answered with an A record in the additional section.
pub fn srv_target(ip: Ipv4Addr) -> String {
    format!("{:08x}.addr.dc1.consul.", u32::from(ip))
}

/// The names dnsperf asks for (A and SRV alike).
pub fn dns_names() -> Vec<String> {
    (0..DNS_SERVICES)
        .map(|s| format!("svc-{s}.service.consul"))
        .collect()
}

/// How many catalog registrations [`registration`] has: 100 services x 3 instances for DNS, then
/// one instance each of the other 900 services.
pub fn registrations() -> u64 {
    DNS_SERVICES * INSTANCES + (TOTAL_SERVICES - DNS_SERVICES)
}

/// The `PUT /v1/catalog/register` body number `n` (< [`registrations`]): an instance with a
/// passing service check, so it is healthy and answered by DNS.
pub fn registration(n: u64) -> String {
    let (service, id, addr) = if n < DNS_SERVICES * INSTANCES {
        let (s, i) = (n / INSTANCES, n % INSTANCES);
        (
            format!("svc-{s}"),
            format!("svc-{s}-{i}"),
            dns_instance_ip(s, i),
        )
    } else {
        let k = n - DNS_SERVICES * INSTANCES;
        (
            format!("mem-{k}"),
            format!("mem-{k}-0"),
            Ipv4Addr::new(127, 22, (k / 250) as u8, (k % 250) as u8 + 1),
        )
    };
    let node = n % NODES;
    serde_json::json!({
        "Node": format!("bench-node-{node}"),
        "Address": format!("127.20.0.{}", node + 1),
        "Service": {"ID": id, "Service": service, "Address": addr.to_string(), "Port": SERVICE_PORT},
        "Check": {"CheckID": format!("service:{id}"), "Name": format!("{service} alive"), "Status": "passing", "ServiceID": id},
    })
    .to_string()
}

/// A load-generator operation that performs registration `seq` through server `client % 3`.
pub fn register_op(bases: Vec<String>) -> Arc<Op> {
    Arc::new(move |agent, client, seq| {
        if seq >= registrations() {
            return Ok(()); // warm-up requests register nothing
        }
        let url = format!("{}/v1/catalog/register", bases[client % bases.len()]);
        let mut r = agent
            .put(url)
            .send(registration(seq).as_bytes())
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
        if status == 200 && body.trim() == "true" {
            Ok(())
        } else {
            Err(format!("HTTP {status}: {body}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_cover_dns_and_memory_services() {
        assert_eq!(registrations(), 1200);
        let first: serde_json::Value = serde_json::from_str(&registration(0)).unwrap();
        assert_eq!(first["Service"]["Service"], "svc-0");
        assert_eq!(first["Service"]["Address"], "127.21.0.1");
        assert_eq!(first["Check"]["Status"], "passing");
        assert_eq!(first["Check"]["ServiceID"], "svc-0-0");
        let last_dns: serde_json::Value = serde_json::from_str(&registration(299)).unwrap();
        assert_eq!(last_dns["Service"]["ID"], "svc-99-2");
        assert_eq!(last_dns["Service"]["Address"], "127.21.99.3");
        assert_eq!(last_dns["Service"]["Port"], SERVICE_PORT);
        assert_eq!(
            srv_target(dns_instance_ip(99, 2)),
            "7f156303.addr.dc1.consul."
        );
        let last: serde_json::Value = serde_json::from_str(&registration(1199)).unwrap();
        assert_eq!(last["Service"]["Service"], "mem-899");
        let names: std::collections::HashSet<String> = (0..registrations())
            .map(|n| {
                serde_json::from_str::<serde_json::Value>(&registration(n)).unwrap()["Service"]
                        ["Service"]
                        .as_str()
                        .unwrap()
                        .to_string()
            })
            .collect();
        assert_eq!(names.len() as u64, TOTAL_SERVICES);
        assert_eq!(
            dns_records()[7],
            (
                "svc-7.service".to_string(),
                vec![
                    dns_instance_ip(7, 0),
                    dns_instance_ip(7, 1),
                    dns_instance_ip(7, 2)
                ]
            )
        );
    }
}
