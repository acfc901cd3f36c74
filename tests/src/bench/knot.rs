//! Knot DNS (`knotd -c <conf>`, Debian's `knot` package) serving the same generated static
//! `consul.` zone as bind9 (`bind::zone_file`) on a loopback address, as the second DNS
//! baseline. Its config, zone, databases, control socket and log stay in the bench's work dir
//! (never /etc/knot or /var/lib/knot); it runs in the foreground with one UDP worker per core.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use super::BenchError;
use super::bind::zone_file;
use super::dnsperf::query;
use super::proc::{Proc, ensure_free, poll_until};

/// Where Debian's `knot` puts the daemon.
pub const KNOTD_BIN: &str = "/usr/sbin/knotd";

/// A running knotd; killed when dropped.
pub struct Knot {
    pub addr: SocketAddr,
    proc: Proc,
}

/// A knot.conf that keeps every file of knotd inside `dir`, listens only on `addr` with
/// `udp_workers` UDP workers, and serves `dir/consul.zone` as loaded (no journal, no zone file
/// write-back, no DNSSEC).
pub fn knot_conf(dir: &Path, addr: SocketAddr, udp_workers: usize) -> String {
    let d = dir.display();
    format!(
        r#"server:
    rundir: "{d}"
    listen: {ip}@{port}
    udp-workers: {udp_workers}
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: info

database:
    storage: "{d}"

template:
  - id: default
    storage: "{d}"
    journal-content: none
    zonefile-load: whole
    zonefile-sync: -1

zone:
  - domain: consul
    file: "consul.zone"
"#,
        ip = addr.ip(),
        port = addr.port(),
    )
}

impl Knot {
    /// Writes the config and the zone (the records bind9 gets, see [`zone_file`]) under `dir`,
    /// starts knotd in the foreground and waits until it answers `probe` with an A record.
    pub fn start(
        dir: &Path,
        addr: SocketAddr,
        records: &[(String, Vec<Ipv4Addr>)],
        srv_port: u16,
        probe: &str,
    ) -> Result<Knot, BenchError> {
        ensure_free(&[], &[addr])?;
        std::fs::create_dir_all(dir).map_err(BenchError::file(dir))?;
        let ns_ip = match addr.ip() {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
        };
        let zone = dir.join("consul.zone");
        std::fs::write(&zone, zone_file(ns_ip, records, srv_port))
            .map_err(BenchError::file(&zone))?;
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let conf = dir.join("knot.conf");
        std::fs::write(&conf, knot_conf(dir, addr, workers)).map_err(BenchError::file(&conf))?;
        let mut cmd = Command::new(KNOTD_BIN);
        cmd.arg("-c").arg(&conf);
        let mut proc = Proc::spawn("knotd", cmd, &dir.join("knotd.log"))?;
        poll_until("knot answers", Duration::from_secs(20), || {
            if proc.check_running().is_err() {
                return Some(());
            }
            let m = query(addr, probe, RecordType::A, Duration::from_millis(500)).ok()?;
            (!m.answers.is_empty()).then_some(())
        })?;
        proc.check_running()?;
        Ok(Knot { addr, proc })
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    pub fn stop(&mut self) {
        self.proc.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_stays_in_its_dir() {
        let c = knot_conf(Path::new("/tmp/k"), "127.0.0.1:18601".parse().unwrap(), 2);
        assert!(c.contains("listen: 127.0.0.1@18601"));
        assert!(c.contains("udp-workers: 2"));
        assert!(c.contains(r#"rundir: "/tmp/k""#));
        assert!(!c.contains("/var/lib/knot") && !c.contains("/etc/knot"));
    }
}
