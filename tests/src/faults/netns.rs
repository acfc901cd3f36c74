//! The network of one cluster: a bridge namespace `pf<id>br` holding bridge `br0`; per node
//! `n` a namespace `pf<id>s<n>` whose `eth0` (10.77.<id>.<n>/24) is a veth paired with port
//! `s<n>` of the bridge; and one veth `pf<id>h` in the root namespace (10.77.<id>.254/24,
//! paired with port `hostp` of the bridge) through which the test process talks to the servers
//! directly. Nothing outside 10.77.0.0/16 is created or touched.
//!
//! `<id>` (1..=250) is claimed with an owner file `pf<id>.owner` (holding the pid) created
//! with `O_EXCL` under `$TMPDIR/praetor-faults/`, so concurrent clusters of this process or of
//! other processes never share one. Leftovers of dead runs (an owner file whose pid is gone,
//! or none at all) are swept: their namespaces, the praetor processes still inside them, their
//! root veth and their tmpfs mounts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs `prog args`: its stdout, or an error naming the command and its stderr.
pub fn run(prog: &str, args: &[&str]) -> Result<String, String> {
    run_with_input(prog, args, None)
}

/// Like [`run`], feeding `input` on stdin.
pub fn run_with_input(prog: &str, args: &[&str], input: Option<&str>) -> Result<String, String> {
    use std::io::Write;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{prog} {}: {e}", args.join(" ")))?;
    if let Some(text) = input
        && let Some(mut stdin) = child.stdin.take()
    {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("{prog}: writing stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{prog} {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{prog} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `ip args`, panicking with the error (set-up steps that must not fail).
fn ip(args: &[&str]) {
    if let Err(e) = run("ip", args) {
        panic!("network set-up: {e}");
    }
}

fn owner_dir() -> PathBuf {
    std::env::temp_dir().join("praetor-faults")
}

fn owner_file(id: u8) -> PathBuf {
    owner_dir().join(format!("pf{id}.owner"))
}

/// Whether process `pid` exists.
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The pid recorded in `id`'s owner file, if any.
fn owner_pid(id: u8) -> Option<u32> {
    std::fs::read_to_string(owner_file(id))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Network namespaces named like ours: (name, id).
fn our_namespaces() -> Vec<(String, u8)> {
    let list = run("ip", &["netns", "list"]).unwrap_or_default();
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|name| parse_ns_name(name).map(|id| (name.to_string(), id)))
        .collect()
}

/// `pf<id>br` or `pf<id>s<n>` → id.
fn parse_ns_name(name: &str) -> Option<u8> {
    let rest = name.strip_prefix("pf")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = &rest[digits.len()..];
    let ok_tail = tail == "br"
        || tail
            .strip_prefix('s')
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if !ok_tail || digits.is_empty() || digits.len() > 3 {
        return None;
    }
    digits.parse().ok().filter(|id| (1..=250).contains(id))
}

/// Root-namespace links named like ours (`pf<id>h`): (name, id).
fn our_root_links() -> Vec<(String, u8)> {
    let list = run("ip", &["-o", "link", "show"]).unwrap_or_default();
    list.lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or_default().to_string())
        .filter_map(|name| {
            let id: u8 = name.strip_prefix("pf")?.strip_suffix('h')?.parse().ok()?;
            (1..=250).contains(&id).then_some((name, id))
        })
        .collect()
}

/// Kills the praetor processes (and only those) still inside namespace `ns`: processes a dead
/// run of this suite started there.
fn kill_praetors_in(ns: &str) {
    let pids = run("ip", &["netns", "pids", ns]).unwrap_or_default();
    for pid in pids.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "praetor" {
            let _ = run("kill", &["-KILL", &pid.to_string()]);
        }
    }
}

/// Removes every namespace and root link of cluster `id` (whoever made them).
fn remove_id(id: u8) {
    for (ns, nid) in our_namespaces() {
        if nid == id {
            kill_praetors_in(&ns);
            let _ = run("ip", &["netns", "delete", &ns]);
        }
    }
    for (link, lid) in our_root_links() {
        if lid == id {
            let _ = run("ip", &["link", "delete", "dev", &link]);
        }
    }
}

/// tmpfs mounts of scratch dirs of this suite (`praetor-test-faults-...-<pid>-<nanos>/...`)
/// whose pid is dead: (mount point).
fn stale_mounts() -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let fs = f.next()?;
            let point = f.next()?;
            (fs == "praetor-faults").then(|| point.to_string())
        })
        .filter(|point| {
            point
                .split('/')
                .find_map(|seg| {
                    let rest = seg.strip_prefix("praetor-test-faults-")?;
                    let mut parts = rest.rsplitn(3, '-');
                    let _nanos = parts.next()?;
                    parts.next()?.parse::<u32>().ok()
                })
                .is_some_and(|pid| !pid_alive(pid))
        })
        .collect()
}

/// Once per process: removes the leftovers of dead runs (namespaces and root links of ids
/// whose owner is gone, their praetor processes, stale tmpfs mounts).
pub fn sweep_dead_runs() {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| {
        let _ = std::fs::create_dir_all(owner_dir());
        let mut ids: BTreeSet<u8> = our_namespaces().into_iter().map(|(_, id)| id).collect();
        ids.extend(our_root_links().into_iter().map(|(_, id)| id));
        for id in ids {
            let alive = owner_pid(id).is_some_and(pid_alive);
            if !alive {
                eprintln!("faults: sweeping leftovers of dead run, cluster id {id}");
                remove_id(id);
                let _ = std::fs::remove_file(owner_file(id));
            }
        }
        // Owner files of dead pids with nothing left behind.
        if let Ok(dir) = std::fs::read_dir(owner_dir()) {
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(id) = name
                    .strip_prefix("pf")
                    .and_then(|r| r.strip_suffix(".owner"))
                    .and_then(|r| r.parse::<u8>().ok())
                    && !owner_pid(id).is_some_and(pid_alive)
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for _ in 0..3 {
            let stale = stale_mounts();
            if stale.is_empty() {
                break;
            }
            for point in stale {
                eprintln!("faults: unmounting stale tmpfs {point}");
                let _ = run("umount", &["-l", &point]);
            }
        }
    });
}

/// Claims a free cluster id: an owner file created with `O_EXCL` holding our pid. The first
/// candidate is derived from the pid, then a process-wide counter walks on.
fn claim_id() -> u8 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let _ = std::fs::create_dir_all(owner_dir());
    let me = std::process::id();
    let base = me.wrapping_mul(7) % 250;
    for _ in 0..500 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = (1 + (base + n) % 250) as u8;
        let path = owner_file(id);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                let _ = writeln!(f, "{me}");
                // Whatever a dead run left under this id goes now.
                remove_id(id);
                return id;
            }
            Err(_) => {
                let owner = owner_pid(id);
                if owner.is_some_and(pid_alive) || owner.is_none() && path.exists() {
                    // In use (by us or another live process), or being written right now.
                    continue;
                }
                // Dead owner: take it over (only one claimant wins the re-creation).
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    panic!(
        "no free cluster id in 1..=250 (see {})",
        owner_dir().display()
    );
}

/// One cluster's network (see the module docs). Dropping it deletes everything it created.
pub struct Net {
    /// The third octet of every address, and the number in every name.
    pub id: u8,
    /// Node numbers (1-based) with a namespace.
    pub nodes: Vec<u8>,
}

impl Net {
    /// Creates the bridge, `nodes` server namespaces (numbered 1..=nodes) and the root veth.
    pub fn create(nodes: u8) -> Net {
        assert!((1..=200).contains(&nodes));
        sweep_dead_runs();
        let id = claim_id();
        let net = Net {
            id,
            nodes: (1..=nodes).collect(),
        };
        let br = net.bridge_ns();
        ip(&["netns", "add", &br]);
        ip(&["-n", &br, "link", "set", "dev", "lo", "up"]);
        ip(&["-n", &br, "link", "add", "name", "br0", "type", "bridge"]);
        ip(&["-n", &br, "link", "set", "dev", "br0", "up"]);
        for &n in &net.nodes {
            let ns = net.ns(n);
            let port = format!("s{n}");
            ip(&["netns", "add", &ns]);
            ip(&["-n", &ns, "link", "set", "dev", "lo", "up"]);
            ip(&[
                "-n", &br, "link", "add", "name", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            ip(&["-n", &br, "link", "set", "dev", &port, "master", "br0"]);
            ip(&["-n", &br, "link", "set", "dev", &port, "up"]);
            let addr = format!("{}/24", net.ip(n));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "dev", "eth0", "up"]);
        }
        let host = net.root_link();
        ip(&[
            "link", "add", "name", &host, "type", "veth", "peer", "name", "hostp", "netns", &br,
        ]);
        ip(&["-n", &br, "link", "set", "dev", "hostp", "master", "br0"]);
        ip(&["-n", &br, "link", "set", "dev", "hostp", "up"]);
        let addr = format!("10.77.{id}.254/24");
        ip(&["addr", "add", &addr, "dev", &host]);
        ip(&["link", "set", "dev", &host, "up"]);
        net
    }

    /// The namespace of the bridge.
    pub fn bridge_ns(&self) -> String {
        format!("pf{}br", self.id)
    }

    /// The namespace of node `n`.
    pub fn ns(&self, n: u8) -> String {
        format!("pf{}s{n}", self.id)
    }

    /// The address of node `n`.
    pub fn ip(&self, n: u8) -> String {
        format!("10.77.{}.{n}", self.id)
    }

    /// The root namespace's end (the test process's address is 10.77.<id>.254).
    pub fn root_link(&self) -> String {
        format!("pf{}h", self.id)
    }

    /// Sets node `n`'s `eth0` up or down.
    pub fn set_link(&self, n: u8, up: bool) -> Result<(), String> {
        let ns = self.ns(n);
        run(
            "ip",
            &[
                "-n",
                &ns,
                "link",
                "set",
                "dev",
                "eth0",
                if up { "up" } else { "down" },
            ],
        )
        .map(|_| ())
    }

    /// Whether node `n`'s `eth0` is administratively up.
    pub fn link_is_up(&self, n: u8) -> bool {
        let ns = self.ns(n);
        run("ip", &["-n", &ns, "-o", "link", "show", "dev", "eth0"])
            .map(|s| {
                s.split('<')
                    .nth(1)
                    .and_then(|f| f.split('>').next())
                    .is_some_and(|flags| flags.split(',').any(|f| f == "UP"))
            })
            .unwrap_or(false)
    }

    /// Runs `prog args` inside node `n`'s namespace.
    pub fn exec(
        &self,
        n: u8,
        prog: &str,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<String, String> {
        let ns = self.ns(n);
        let mut all = vec!["netns", "exec", ns.as_str(), prog];
        all.extend_from_slice(args);
        run_with_input("ip", &all, input)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for &n in &self.nodes {
            let ns = self.ns(n);
            kill_praetors_in(&ns);
            let _ = run("ip", &["netns", "delete", &ns]);
        }
        let _ = run("ip", &["link", "delete", "dev", &self.root_link()]);
        let _ = run("ip", &["netns", "delete", &self.bridge_ns()]);
        let _ = std::fs::remove_file(owner_file(self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_ns_name;

    #[test]
    fn namespace_names() {
        assert_eq!(parse_ns_name("pf12br"), Some(12));
        assert_eq!(parse_ns_name("pf7s3"), Some(7));
        assert_eq!(parse_ns_name("pf7s"), None);
        assert_eq!(parse_ns_name("pf0br"), None);
        assert_eq!(parse_ns_name("pf300br"), None);
        assert_eq!(parse_ns_name("pfxbr"), None);
        assert_eq!(parse_ns_name("other"), None);
    }
}
