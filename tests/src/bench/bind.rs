//! bind9 (`named -g -c <conf>`) serving a generated static `consul.` zone on a loopback address,
//! with a named.conf, zone file, pid file and keys of its own under the bench's work dir (never
//! /etc/bind), as a DNS baseline. The zone (shared with knot, see `knot.rs`) holds what praetor
//! answers for the bench's services: the A records of every instance, and an SRV record per
//! instance whose target is praetor's `<hex>.addr.dc1.consul.` name with its A record.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use super::BenchError;
use super::dnsperf::query;
use super::praetor::srv_target;
use super::proc::{Proc, ensure_free, poll_until};

/// Where Debian's `bind9` puts the daemon.
pub const NAMED_BIN: &str = "/usr/sbin/named";

/// A running named; killed when dropped.
pub struct Bind9 {
    pub addr: SocketAddr,
    proc: Proc,
}

/// The `consul.` zone file for `records` (`(name relative to consul., addresses)`), TTL 0 as
/// Consul answers: per address an A record of the name, an SRV record `1 1 srv_port <target>`
/// of the name, and the target's A record (the same answer and additional section as praetor).
pub fn zone_file(ns_ip: Ipv4Addr, records: &[(String, Vec<Ipv4Addr>)], srv_port: u16) -> String {
    let mut z = String::from(
        "$ORIGIN consul.\n$TTL 0\n\
         @ IN SOA ns.consul. hostmaster.consul. 1 3600 600 86400 0\n\
         @ IN NS ns.consul.\n",
    );
    let _ = writeln!(z, "ns IN A {ns_ip}");
    let mut targets = std::collections::BTreeSet::new();
    for (name, addrs) in records {
        for a in addrs {
            let _ = writeln!(z, "{name} IN A {a}");
        }
        for a in addrs {
            let target = srv_target(*a);
            let _ = writeln!(z, "{name} IN SRV 1 1 {srv_port} {target}");
            if targets.insert(target.clone()) {
                let _ = writeln!(z, "{target} IN A {a}");
            }
        }
    }
    z
}

/// A named.conf that keeps every file of named inside `dir`, listens only on `addr`, serves the
/// zone authoritatively without recursion, and has no control channel.
pub fn named_conf(dir: &Path, addr: SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ {ip}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    # Like praetor: no NS in the authority section of answers, but the SRV targets' A records in
    # the additional section (`yes` would drop those too).
    minimal-responses no-auth;
}};
controls {{ }};
zone "consul" {{ type primary; file "{d}/consul.zone"; }};
"#,
        port = addr.port(),
        ip = addr.ip(),
    )
}

impl Bind9 {
    /// Writes the config and zone under `dir`, starts named in the foreground and waits until it
    /// answers `probe` (a name of the zone) with an A record.
    pub fn start(
        dir: &Path,
        addr: SocketAddr,
        records: &[(String, Vec<Ipv4Addr>)],
        srv_port: u16,
        probe: &str,
    ) -> Result<Bind9, BenchError> {
        ensure_free(&[], &[addr])?;
        std::fs::create_dir_all(dir).map_err(BenchError::file(dir))?;
        let ns_ip = match addr.ip() {
            std::net::IpAddr::V4(v4) => v4,
            std::net::IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
        };
        let zone = dir.join("consul.zone");
        std::fs::write(&zone, zone_file(ns_ip, records, srv_port))
            .map_err(BenchError::file(&zone))?;
        let conf = dir.join("named.conf");
        std::fs::write(&conf, named_conf(dir, addr)).map_err(BenchError::file(&conf))?;
        let mut cmd = Command::new(NAMED_BIN);
        cmd.arg("-g").arg("-c").arg(&conf);
        let mut proc = Proc::spawn("named", cmd, &dir.join("named.log"))?;
        poll_until("bind9 answers", Duration::from_secs(20), || {
            if proc.check_running().is_err() {
                return Some(());
            }
            let m = query(addr, probe, RecordType::A, Duration::from_millis(500)).ok()?;
            (!m.answers.is_empty()).then_some(())
        })?;
        proc.check_running()?;
        Ok(Bind9 { addr, proc })
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
    fn zone_has_soa_ns_and_every_address() {
        let recs = vec![(
            "web.service".to_string(),
            vec![Ipv4Addr::new(127, 21, 0, 1), Ipv4Addr::new(127, 21, 0, 2)],
        )];
        let z = zone_file(Ipv4Addr::new(127, 0, 8, 1), &recs, 8080);
        assert!(z.contains("IN SOA ns.consul."));
        assert!(z.contains("ns IN A 127.0.8.1"));
        assert!(z.contains("web.service IN A 127.21.0.1\nweb.service IN A 127.21.0.2\n"));
        assert!(z.contains(
            "web.service IN SRV 1 1 8080 7f150001.addr.dc1.consul.\n\
             7f150001.addr.dc1.consul. IN A 127.21.0.1\n\
             web.service IN SRV 1 1 8080 7f150002.addr.dc1.consul.\n"
        ));
        let c = named_conf(Path::new("/tmp/x"), "127.0.8.1:8600".parse().unwrap());
        assert!(c.contains("listen-on port 8600 { 127.0.8.1; };"));
        assert!(c.contains(r#"file "/tmp/x/consul.zone""#));
        assert!(!c.contains("/etc/bind"));
    }
}
