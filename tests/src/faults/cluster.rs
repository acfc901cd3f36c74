//! Real `praetor` servers in the namespaces of a [`Net`]: started with
//! `ip netns exec <ns> praetor agent ...` (the same flags as [`crate::Agent`]), logging to one
//! file per process run, SIGKILLed on drop; optionally with their data dir on a small tmpfs
//! (the `disk-full` scenario).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::{Net, run};
use super::workload::{Client, Reply};
use crate::wait_for;

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Servers of dc1 (nodes 1..=dc1).
    pub dc1: u8,
    /// Also a one-server dc2 (the next node), WAN-joined to dc1.
    pub dc2: bool,
    /// Put every server's data dir on a tmpfs of this many MiB.
    pub tmpfs_mib: Option<u64>,
    /// The praetor binary.
    pub bin: PathBuf,
}

/// One server process (and its restarts).
pub struct Server {
    /// Node number in the [`Net`] (its address is 10.77.<id>.<node>).
    pub node: u8,
    pub name: String,
    pub ns: String,
    pub ip: String,
    pub datacenter: String,
    /// Unique to this test server: proves an HTTP answer comes from this very process.
    pub node_id: String,
    pub args: Vec<String>,
    /// The praetor binary.
    pub bin: PathBuf,
    /// Its scratch dir: logs (`run-<n>.log`), config, and the data dir (`disk/data`).
    pub dir: PathBuf,
    /// The tmpfs mount point holding the data dir, if any.
    pub disk: Option<PathBuf>,
    child: Option<Child>,
    runs: u32,
    /// Whether it is SIGSTOPped right now (so drop can SIGCONT before SIGKILL).
    pub stopped: bool,
}

impl Server {
    /// `http://<ip>:8500`.
    pub fn url(&self) -> String {
        format!("http://{}:8500", self.ip)
    }

    /// Its raft address as `/v1/status/leader` names it.
    pub fn raft_addr(&self) -> String {
        format!("{}:8300", self.ip)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn log_path(&self, run: u32) -> PathBuf {
        self.dir.join(format!("run-{run}.log"))
    }

    /// Every log file of this server so far.
    pub fn log_files(&self) -> Vec<PathBuf> {
        (1..=self.runs).map(|r| self.log_path(r)).collect()
    }

    /// The last `lines` lines of the current run's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(self.runs)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn spawn(&mut self) {
        self.runs += 1;
        let log = std::fs::File::create(self.log_path(self.runs)).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(&self.bin)
            .args(&self.args)
            .env(
                "RUST_LOG",
                "info,praetor=debug,openraft=warn,hickory_server=warn",
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn ip netns exec praetor");
        // `ip netns exec` execs in place: the child's pid is the praetor process.
        self.child = Some(child);
        self.stopped = false;
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits (up to `deadline`) until this very process answers `/v1/agent/self` with its
    /// node id; panics with its log if it exits or never answers.
    pub fn wait_serving(&mut self, deadline: Duration) {
        let client = Client::new(Duration::from_secs(2));
        let url = format!("{}/v1/agent/self", self.url());
        let what = format!(
            "{} ({}) serving HTTP as node {}",
            self.name, self.ip, self.node_id
        );
        let started = Instant::now();
        wait_for(&what, deadline, || {
            if !self.is_running() {
                panic!(
                    "{} exited during start-up; log tail:\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            if let Reply::Answer(r) = client.call("GET", &url, None)
                && r.status == 200
            {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if v["Config"]["NodeID"] == self.node_id.as_str() {
                    return Some(());
                }
                panic!("{} is answered by another agent: {}", self.ip, r.text());
            }
            if started.elapsed() + Duration::from_millis(100) >= deadline {
                // About to time out: show why.
                eprintln!("{} log tail:\n{}", self.name, self.log_tail(40));
            }
            None
        });
    }

    /// Sends `sig` (a `kill -s` name such as `STOP`) to the process.
    pub fn signal(&self, sig: &str) -> Result<(), String> {
        let pid = self
            .pid()
            .ok_or_else(|| format!("{} is not running", self.name))?;
        run("kill", &["-s", sig, &pid.to_string()]).map(|_| ())
    }

    /// SIGSTOP.
    pub fn pause(&mut self) -> Result<(), String> {
        self.signal("STOP")?;
        self.stopped = true;
        Ok(())
    }

    /// SIGCONT.
    pub fn resume(&mut self) -> Result<(), String> {
        self.signal("CONT")?;
        self.stopped = false;
        Ok(())
    }

    /// SIGKILL and reap: no leave, no flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stopped = false;
    }

    /// Starts the same server again (same data dir, flags and node id) and waits until it
    /// serves HTTP.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_serving(Duration::from_secs(30));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.stopped {
            let _ = self.signal("CONT");
        }
        self.kill();
    }
}

/// A UUID-shaped node id unique to this server (time, pid, a counter).
fn unique_node_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let a = nanos ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = n ^ nanos.rotate_left(17) ^ 0x5a5a_0000;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b & 0xfff,
        (b >> 16) & 0xffff_ffff_ffff
    )
}

/// Mounts a tmpfs of `mib` MiB at `point` (device name `praetor-faults`, so a sweep can tell
/// it is ours). Needs root.
pub fn mount_tmpfs(point: &Path, mib: u64) {
    std::fs::create_dir_all(point).expect("mount point");
    let opts = format!("size={mib}m,mode=0755");
    let p = point.to_string_lossy().into_owned();
    if let Err(e) = run("mount", &["-t", "tmpfs", "-o", &opts, "praetor-faults", &p]) {
        panic!("mounting a tmpfs for the data dir: {e}");
    }
}

/// Unmounts what [`mount_tmpfs`] mounted (lazily when a process still holds a file there).
pub fn unmount_tmpfs(point: &Path) {
    let p = point.to_string_lossy().into_owned();
    if let Err(e) = run("umount", &[&p]) {
        eprintln!("faults: {e}; unmounting lazily");
        let _ = run("umount", &["-l", &p]);
    }
}

/// The servers of one scenario, in their network.
pub struct Cluster {
    /// dc1's servers first (nodes 1..=dc1), then dc2's.
    pub servers: Vec<Server>,
    /// The scratch dir of the scenario (every server's dir is under it).
    pub dir: PathBuf,
    pub net: Net,
    /// dc1's size.
    pub dc1: usize,
}

const CONFIG: &str = r#"{"performance":{"raft_multiplier":1},"log_level":"debug"}"#;

impl Cluster {
    /// Creates the network and starts every server (not waiting for a leader: see
    /// [`Cluster::wait_ready`]).
    pub fn start(spec: &ClusterSpec, dir: &Path) -> Cluster {
        let nodes = spec.dc1 + u8::from(spec.dc2);
        let net = Net::create(nodes);
        let mut cluster = Cluster {
            servers: Vec::new(),
            dir: dir.to_path_buf(),
            dc1: spec.dc1 as usize,
            net,
        };
        let first = cluster.net.ip(1);
        for node in 1..=nodes {
            let in_dc2 = spec.dc2 && node == nodes;
            let name = if in_dc2 {
                "dc2-s1".to_string()
            } else {
                format!("s{node}")
            };
            let sdir = dir.join(&name);
            std::fs::create_dir_all(&sdir).expect("server dir");
            let cfg = sdir.join("config.json");
            std::fs::write(&cfg, CONFIG).expect("config");
            let disk = spec.tmpfs_mib.map(|mib| {
                let point = sdir.join("disk");
                mount_tmpfs(&point, mib);
                point
            });
            let data = sdir.join("disk").join("data");
            std::fs::create_dir_all(&data).expect("data dir");
            let ip = cluster.net.ip(node);
            let node_id = unique_node_id();
            let mut args: Vec<String> = vec![
                "agent".into(),
                format!("-node={name}"),
                format!("-node-id={node_id}"),
                format!("-bind={ip}"),
                format!("-client={ip}"),
                format!("-data-dir={}", data.display()),
                format!("-config-file={}", cfg.display()),
                "-server".into(),
            ];
            if in_dc2 {
                args.extend([
                    "-datacenter=dc2".to_string(),
                    "-bootstrap-expect=1".to_string(),
                    format!("-retry-join-wan={first}"),
                    "-retry-interval-wan=1s".to_string(),
                ]);
            } else {
                args.extend([
                    "-datacenter=dc1".to_string(),
                    format!("-bootstrap-expect={}", spec.dc1),
                    format!("-retry-join={first}"),
                    "-retry-interval=1s".to_string(),
                ]);
            }
            cluster.servers.push(Server {
                node,
                ns: cluster.net.ns(node),
                name,
                datacenter: if in_dc2 { "dc2" } else { "dc1" }.into(),
                node_id,
                args,
                bin: spec.bin.clone(),
                dir: sdir,
                disk,
                ip,
                child: None,
                runs: 0,
                stopped: false,
            });
        }
        for s in &mut cluster.servers {
            s.spawn();
        }
        for s in &mut cluster.servers {
            s.wait_serving(Duration::from_secs(30));
        }
        cluster
    }

    /// dc1's servers.
    pub fn dc1_servers(&self) -> &[Server] {
        &self.servers[..self.dc1]
    }

    /// The leader each dc1 server reports (None: no answer or no leader).
    pub fn leader_views(&self) -> Vec<Option<String>> {
        let client = Client::new(Duration::from_secs(2));
        self.dc1_servers()
            .iter()
            .map(|s| {
                if s.stopped {
                    return None;
                }
                match client.call("GET", &format!("{}/v1/status/leader", s.url()), None) {
                    Reply::Answer(r) if r.status == 200 => {
                        let l: String = serde_json::from_slice(&r.body).ok()?;
                        (!l.is_empty()).then_some(l)
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// The index (into `servers`) of the dc1 leader most servers report, if any.
    pub fn leader(&self) -> Option<usize> {
        let views = self.leader_views();
        let mut best: Option<(usize, usize)> = None;
        for (i, s) in self.dc1_servers().iter().enumerate() {
            let votes = views
                .iter()
                .filter(|v| v.as_deref() == Some(s.raft_addr().as_str()))
                .count();
            if votes > 0 && best.is_none_or(|(_, b)| votes > b) {
                best = Some((i, votes));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Waits until every dc1 server reports the same leader, a write through every server is
    /// acknowledged, and (with dc2) dc2 answers through dc1. Returns the leader's index.
    pub fn wait_ready(&self, deadline: Duration) -> usize {
        let leader = wait_for("one leader reported by every dc1 server", deadline, || {
            let views = self.leader_views();
            let first = views.first()?.clone()?;
            views
                .iter()
                .all(|v| v.as_deref() == Some(first.as_str()))
                .then_some(())?;
            self.dc1_servers()
                .iter()
                .position(|s| s.raft_addr() == first)
        });
        let client = Client::new(Duration::from_secs(3));
        for s in &self.servers {
            let url = format!("{}/v1/kv/faults-ready/{}", s.url(), s.name);
            wait_for(
                &format!("a write through {} acknowledged", s.name),
                deadline,
                || match client.call("PUT", &url, Some(b"ready")) {
                    Reply::Answer(r) if r.status == 200 && r.text().trim() == "true" => Some(()),
                    _ => None,
                },
            );
        }
        if self.servers.len() > self.dc1 {
            for s in self.dc1_servers() {
                let url = format!("{}/v1/kv/faults-ready/{}?dc=dc2", s.url(), s.name);
                wait_for(
                    &format!("dc2 reachable through {} (WAN join)", s.name),
                    deadline,
                    || match client.call("PUT", &url, Some(b"ready")) {
                        Reply::Answer(r) if r.status == 200 => Some(()),
                        _ => None,
                    },
                );
            }
        }
        leader
    }

    /// Copies every server's logs into `to/<server>/`.
    pub fn copy_logs(&self, to: &Path) {
        for s in &self.servers {
            let d = to.join(&s.name);
            let _ = std::fs::create_dir_all(&d);
            for f in s.log_files() {
                if let Some(name) = f.file_name() {
                    let _ = std::fs::copy(&f, d.join(name));
                }
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &mut self.servers {
            if s.stopped {
                let _ = s.signal("CONT");
            }
            s.kill();
        }
        for s in &self.servers {
            if let Some(point) = &s.disk {
                unmount_tmpfs(point);
            }
        }
        // `net` drops after this: namespaces, root veth, owner file.
    }
}
