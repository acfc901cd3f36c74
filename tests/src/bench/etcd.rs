//! A 3-member etcd 3.4 cluster on loopback (`127.0.7.x`, client port 2379, peer port 2380) with
//! data dirs under the bench's work dir, for the side-by-side KV comparison.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::BenchError;
use super::proc::{Proc, ensure_free, poll_until};

/// Where Debian's `etcd-server` puts the binary.
pub const ETCD_BIN: &str = "etcd";

/// Running etcd members; killed when dropped.
pub struct EtcdCluster {
    pub ips: Vec<String>,
    members: Vec<Proc>,
    /// Member data dirs (hundreds of MiB after the runs), removed by `stop`; logs are kept.
    data_dirs: Vec<PathBuf>,
}

impl EtcdCluster {
    /// Starts one member per address in `ips`, all in one fresh cluster, data under `dir`.
    pub fn start(dir: &Path, ips: &[&str]) -> Result<EtcdCluster, BenchError> {
        let mut tcp = Vec::new();
        for ip in ips {
            let ip: std::net::IpAddr = ip
                .parse()
                .map_err(|e| BenchError::Unexpected(format!("bad address {ip}: {e}")))?;
            tcp.extend([2379, 2380].map(|p| std::net::SocketAddr::new(ip, p)));
        }
        ensure_free(&tcp, &[])?;
        std::fs::create_dir_all(dir).map_err(BenchError::file(dir))?;
        let initial: Vec<String> = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| format!("e{}=http://{ip}:2380", i + 1))
            .collect();
        let initial = initial.join(",");
        let mut members = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            let name = format!("e{}", i + 1);
            let mut cmd = Command::new(ETCD_BIN);
            cmd.args([
                format!("--name={name}"),
                format!("--data-dir={}", dir.join(&name).display()),
                format!("--listen-client-urls=http://{ip}:2379"),
                format!("--advertise-client-urls=http://{ip}:2379"),
                format!("--listen-peer-urls=http://{ip}:2380"),
                format!("--initial-advertise-peer-urls=http://{ip}:2380"),
                format!("--initial-cluster={initial}"),
                "--initial-cluster-token=praetor-bench".into(),
                "--initial-cluster-state=new".into(),
                "--logger=zap".into(),
                "--log-outputs=stderr".into(),
            ]);
            members.push(Proc::spawn(
                &format!("etcd {name}"),
                cmd,
                &dir.join(format!("{name}.log")),
            )?);
        }
        Ok(EtcdCluster {
            ips: ips.iter().map(|s| s.to_string()).collect(),
            members,
            data_dirs: (1..=ips.len()).map(|i| dir.join(format!("e{i}"))).collect(),
        })
    }

    /// Client URLs of all members.
    pub fn bases(&self) -> Vec<String> {
        self.ips
            .iter()
            .map(|ip| format!("http://{ip}:2379"))
            .collect()
    }

    /// Waits until every member reports `{"health":"true"}` (it has a leader) and a write through
    /// the JSON gateway succeeds.
    pub fn wait_ready(&mut self, deadline: Duration) -> Result<(), BenchError> {
        let agent = super::load::client_agent();
        let bases = self.bases();
        poll_until("etcd members healthy", deadline, || {
            if self.members.iter_mut().any(|m| m.check_running().is_err()) {
                return Some(());
            }
            bases
                .iter()
                .all(|b| {
                    let r = agent.get(format!("{b}/health")).call();
                    r.ok()
                        .and_then(|mut r| r.body_mut().read_to_string().ok())
                        .is_some_and(|t| t.contains(r#""health":"true""#))
                })
                .then_some(())
        })?;
        for m in &mut self.members {
            m.check_running()?;
        }
        let put = super::load::etcd_put(bases.clone(), 1, super::load::value_1k());
        poll_until("etcd accepts a write", deadline, || put(&agent, 0, 0).ok())
    }

    /// `(name, pid)` of every running member.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.members
            .iter()
            .filter_map(|m| Some((m.name.clone(), m.pid()?)))
            .collect()
    }

    /// Kills every member and removes their data dirs.
    pub fn stop(&mut self) {
        for m in &mut self.members {
            m.stop();
        }
        for d in self.data_dirs.drain(..) {
            if let Err(e) = std::fs::remove_dir_all(&d) {
                eprintln!("bench: cannot remove etcd data dir {}: {e}", d.display());
            }
        }
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
