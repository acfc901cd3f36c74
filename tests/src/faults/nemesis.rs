//! Real faults on a [`Cluster`], each with its heal:
//!
//! * partitions: an nftables table `praetor_fault` in a server's namespace dropping packets
//!   from and/or to a set of peer addresses (both directions: a full partition; one: a one-way
//!   partition), applied with `ip netns exec <ns> nft -f -`, healed by deleting the table;
//! * a server's link down and up (`ip link set eth0 down|up` in its namespace);
//! * SIGSTOP and SIGCONT of a server process;
//! * SIGKILL and a restart from the same data dir;
//! * a full disk: the data dir's tmpfs is filled with a file, which is deleted to heal.
//!
//! [`Nemesis`] keeps what is currently broken, so that [`Nemesis::heal_all`] leaves the
//! cluster healed whatever happened (and dropping the [`Cluster`] removes every fault with
//! the processes and namespaces).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::cluster::Cluster;
use super::netns::Net;

/// Which packets a partition drops, as seen from the isolated server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Both: nothing passes between the server and its peers.
    Both,
    /// Only packets the server receives from its peers (it still sends).
    Inbound,
    /// Only packets the server sends to its peers (it still receives).
    Outbound,
}

/// A fault currently in effect.
#[derive(Debug, Clone)]
pub enum Fault {
    Partition { server: usize, direction: Direction },
    LinkDown { server: usize },
    Paused { server: usize },
    Killed { server: usize },
    DiskFull { server: usize, filler: PathBuf },
}

impl Fault {
    pub fn describe(&self, cluster: &Cluster) -> String {
        let name = |i: &usize| cluster.servers[*i].name.clone();
        match self {
            Fault::Partition { server, direction } => {
                format!("partition {} ({direction:?})", name(server))
            }
            Fault::LinkDown { server } => format!("link down {}", name(server)),
            Fault::Paused { server } => format!("SIGSTOP {}", name(server)),
            Fault::Killed { server } => format!("SIGKILL {}", name(server)),
            Fault::DiskFull { server, .. } => format!("disk full {}", name(server)),
        }
    }
}

const TABLE: &str = "praetor_fault";

/// The nftables ruleset isolating a namespace from `peers` in `direction`. It first creates
/// and deletes the table so that applying it twice replaces the rules.
pub fn partition_ruleset(peers: &[String], direction: Direction) -> String {
    let set = peers.join(", ");
    let mut rules =
        format!("table inet {TABLE} {{}}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n");
    if matches!(direction, Direction::Both | Direction::Inbound) {
        rules.push_str(&format!(
            "  chain input {{ type filter hook input priority -10; policy accept; ip saddr {{ {set} }} drop; }}\n"
        ));
    }
    if matches!(direction, Direction::Both | Direction::Outbound) {
        rules.push_str(&format!(
            "  chain output {{ type filter hook output priority -10; policy accept; ip daddr {{ {set} }} drop; }}\n"
        ));
    }
    rules.push_str("}\n");
    rules
}

fn apply_partition(
    net: &Net,
    node: u8,
    peers: &[String],
    direction: Direction,
) -> Result<(), String> {
    let rules = partition_ruleset(peers, direction);
    net.exec(node, "nft", &["-f", "-"], Some(&rules))
        .map(|_| ())
}

fn heal_partition(net: &Net, node: u8) -> Result<(), String> {
    // Create-then-delete: succeeds whether or not the table exists.
    let rules = format!("table inet {TABLE} {{}}\ndelete table inet {TABLE}\n");
    net.exec(node, "nft", &["-f", "-"], Some(&rules))
        .map(|_| ())
}

/// Whether node's namespace has no fault table left.
pub fn partition_healed(net: &Net, node: u8) -> bool {
    net.exec(node, "nft", &["list", "tables"], None)
        .map(|s| !s.contains(TABLE))
        .unwrap_or(false)
}

/// Fills the filesystem of `dir` with `dir/filler` until a write fails (bounded by
/// `max_mib`); returns the MiB written.
pub fn fill_disk(filler: &PathBuf, max_mib: u64) -> Result<u64, String> {
    let mut f = std::fs::File::create(filler).map_err(|e| format!("creating filler: {e}"))?;
    let chunk = vec![0x5au8; 1 << 20];
    let mut written = 0;
    for _ in 0..max_mib + 8 {
        match f.write_all(&chunk) {
            Ok(()) => written += 1,
            Err(_) => break,
        }
    }
    // Fill the last partial MiB too.
    let small = vec![0x5au8; 4096];
    for _ in 0..256 {
        if f.write_all(&small).is_err() {
            break;
        }
    }
    let _ = f.flush();
    Ok(written)
}

/// The faults in effect, a log of what was done, and the scenario's clock.
pub struct Nemesis {
    pub active: Vec<Fault>,
    /// Lines "t=<s> <what>" for the report and artifacts.
    pub timeline: Vec<String>,
    epoch: Instant,
    /// When the last fault was healed.
    pub last_heal: Option<Instant>,
    pub verbose: bool,
}

impl Nemesis {
    pub fn new(epoch: Instant, verbose: bool) -> Nemesis {
        Nemesis {
            active: Vec::new(),
            timeline: Vec::new(),
            epoch,
            last_heal: None,
            verbose,
        }
    }

    pub fn log(&mut self, what: String) {
        let line = format!("t={:7.3}s {what}", self.epoch.elapsed().as_secs_f64());
        if self.verbose {
            eprintln!("  {line}");
        }
        self.timeline.push(line);
    }

    /// Injects `fault` (its target must be healthy); records it as active.
    pub fn inject(&mut self, cluster: &mut Cluster, fault: Fault) -> Result<(), String> {
        let desc = fault.describe(cluster);
        let res = match &fault {
            Fault::Partition { server, direction } => {
                let me = &cluster.servers[*server];
                let peers: Vec<String> = cluster
                    .servers
                    .iter()
                    .filter(|s| s.node != me.node && s.datacenter == me.datacenter)
                    .map(|s| s.ip.clone())
                    .collect();
                apply_partition(&cluster.net, me.node, &peers, *direction)
            }
            Fault::LinkDown { server } => {
                cluster.net.set_link(cluster.servers[*server].node, false)
            }
            Fault::Paused { server } => cluster.servers[*server].pause(),
            Fault::Killed { server } => {
                cluster.servers[*server].kill();
                Ok(())
            }
            Fault::DiskFull { server, filler } => {
                let s = &cluster.servers[*server];
                if s.disk.is_none() {
                    Err(format!("{} has no tmpfs data dir", s.name))
                } else {
                    fill_disk(filler, 4096).map(|mib| {
                        self.log(format!("  filled {} with {mib} MiB", filler.display()));
                    })
                }
            }
        };
        match res {
            Ok(()) => {
                self.log(format!("inject {desc}"));
                self.active.push(fault);
                Ok(())
            }
            Err(e) => {
                self.log(format!("inject {desc} FAILED: {e}"));
                Err(e)
            }
        }
    }

    /// Heals one fault; a failure to heal is returned (and logged).
    fn heal(&mut self, cluster: &mut Cluster, fault: &Fault) -> Result<(), String> {
        let desc = fault.describe(cluster);
        let res = match fault {
            Fault::Partition { server, .. } => {
                let node = cluster.servers[*server].node;
                heal_partition(&cluster.net, node).and_then(|()| {
                    if partition_healed(&cluster.net, node) {
                        Ok(())
                    } else {
                        Err("nft table still present".into())
                    }
                })
            }
            Fault::LinkDown { server } => cluster.net.set_link(cluster.servers[*server].node, true),
            Fault::Paused { server } => cluster.servers[*server].resume(),
            Fault::Killed { server } => {
                // Restart panics (with the log) if it does not serve within 30 s.
                cluster.servers[*server].restart();
                Ok(())
            }
            Fault::DiskFull { filler, .. } => {
                std::fs::remove_file(filler).map_err(|e| format!("removing filler: {e}"))
            }
        };
        match &res {
            Ok(()) => self.log(format!("heal {desc}")),
            Err(e) => self.log(format!("heal {desc} FAILED: {e}")),
        }
        self.last_heal = Some(Instant::now());
        res
    }

    /// Heals every active fault (newest first).
    pub fn heal_all(&mut self, cluster: &mut Cluster) -> Result<(), String> {
        let mut errors = Vec::new();
        while let Some(f) = self.active.pop() {
            if let Err(e) = self.heal(cluster, &f) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Sleeps `d` (a fault window or calm period chosen by the scenario), but never past
    /// `until`.
    pub fn sleep(&self, d: Duration, until: Instant) {
        let left = until.saturating_duration_since(Instant::now());
        std::thread::sleep(d.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rulesets() {
        let r = partition_ruleset(&["10.77.1.2".into(), "10.77.1.3".into()], Direction::Both);
        assert!(r.contains("ip saddr { 10.77.1.2, 10.77.1.3 } drop"));
        assert!(r.contains("ip daddr { 10.77.1.2, 10.77.1.3 } drop"));
        let r = partition_ruleset(&["10.77.1.2".into()], Direction::Outbound);
        assert!(!r.contains("saddr"));
        assert!(r.contains("hook output"));
    }
}
