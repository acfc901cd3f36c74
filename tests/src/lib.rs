//! Test harness: starts real `praetor` processes on loopback addresses with Consul's default
//! ports, talks to them over HTTP and DNS, SIGKILLs and restarts them, and waits for
//! conditions with a reason and a deadline. Agent logs are printed when a wait fails.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};

pub mod acl_pair;
pub mod bench;
pub mod browser;
pub mod faults;
pub mod linearizability;

/// `GET /v1/kv/<key>?dc=<dc>&raw` on `agent`: (status, body), or (0, the error) when no
/// HTTP answer came.
pub fn kv_in_dc(agent: &Agent, key: &str, dc: &str) -> (u16, String) {
    match agent.http().try_get(&format!("/v1/kv/{key}?dc={dc}&raw")) {
        Ok(r) => (r.status, r.text()),
        Err(e) => (0, e),
    }
}

/// Runs the `praetor` CLI in `dir` (where `tls` writes its files), against `agent`'s HTTP API
/// when given (`CONSUL_HTTP_ADDR`): (exit code, stdout, stderr).
pub fn run_cli(dir: &Path, agent: Option<&Agent>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(praetor_bin());
    cmd.args(args).current_dir(dir);
    if let Some(a) = agent {
        cmd.env("CONSUL_HTTP_ADDR", format!("http://{}:8500", a.ip));
    }
    let out = cmd.output().expect("run praetor");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `praetor` binary of this workspace build: `$PRAETOR_BIN`, else next to the test
/// executable's `deps/` (integration tests). Panics with the command to run when it is missing.
pub fn praetor_bin() -> PathBuf {
    match find_praetor_bin() {
        Ok(bin) => bin,
        Err(bin) => panic!(
            "{} not built: run `cargo build --bin praetor` first (tests/run.sh does)",
            bin.display()
        ),
    }
}

/// Like [`praetor_bin`] without panicking, and also looking next to the executable itself (the
/// release `bench` binary in `target/release/`): `Err` names the path it expected.
pub fn find_praetor_bin() -> Result<PathBuf, PathBuf> {
    if let Ok(p) = std::env::var("PRAETOR_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|_| PathBuf::from("praetor"))?;
    let own_dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let bin = own_dir.parent().unwrap_or(&own_dir).join("praetor");
    if bin.exists() {
        return Ok(bin);
    }
    let beside = own_dir.join("praetor");
    if beside.exists() {
        Ok(beside)
    } else {
        Err(bin)
    }
}

/// A plugin component built by the host's build step (`<target>/plugins/wasm32-wasip2/release`).
pub fn plugin_wasm(name: &str) -> PathBuf {
    let bin = praetor_bin();
    let target = bin.parent().and_then(Path::parent).expect("target dir");
    let path = target
        .join("plugins/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} not built (the plugin host's build step builds plugins/)",
        path.display()
    );
    path
}

/// A UUID-shaped node id unique to this test agent (time, pid and a counter).
fn unique_node_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let a = nanos ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = n ^ nanos.rotate_left(17);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b & 0xfff,
        (b >> 16) & 0xffff_ffff_ffff
    )
}

/// A fresh scratch directory under the system temp dir, removed by the OS eventually.
pub fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "praetor-test-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// How [`Agent::start_with`] configures an agent beyond its flags.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Contents of the `-config-file` every agent gets.
    pub config_json: String,
    /// The `RUST_LOG` filter of the process.
    pub rust_log: String,
    /// Extra environment variables (test hooks such as `PRAETOR_TEST_WAN_DELAY_MS`).
    pub env: Vec<(String, String)>,
    /// The token the harness reads `/v1/agent/self` with while waiting for the agent (ACL
    /// agents: their `acl.tokens.agent_recovery`).
    pub self_token: Option<String>,
    /// `-data-dir` (default: `data` in the agent's scratch dir).
    pub data_dir: Option<PathBuf>,
}

impl Default for AgentOptions {
    /// What the integration tests use: `raft_multiplier = 1`, debug logs.
    fn default() -> Self {
        AgentOptions {
            config_json: r#"{"performance":{"raft_multiplier":1},"log_level":"debug"}"#.into(),
            rust_log: "info,praetor=debug,openraft=warn,hickory_server=warn".into(),
            env: Vec::new(),
            self_token: None,
            data_dir: None,
        }
    }
}

/// One running (or stopped) agent process.
pub struct Agent {
    pub name: String,
    /// A node id unique to this test agent: proves HTTP answers come from this very process.
    pub node_id: String,
    pub ip: IpAddr,
    pub args: Vec<String>,
    pub dir: PathBuf,
    rust_log: String,
    env: Vec<(String, String)>,
    self_token: Option<String>,
    child: Option<Child>,
    runs: u32,
}

impl Agent {
    /// Starts `praetor agent` bound to `ip` (HTTP 8500, DNS 8600, RPC 8300, LAN 8301) with a data
    /// dir of its own, raft timings at `raft_multiplier = 1`, and `extra` flags.
    pub fn start(name: &str, ip: &str, extra: &[&str]) -> Agent {
        Agent::start_with(name, ip, extra, &AgentOptions::default())
    }

    /// Like [`Agent::start`], with the config file's JSON and the `RUST_LOG` filter chosen by
    /// the caller (the bench runs servers at `info` so logging does not dominate the load).
    pub fn start_with(name: &str, ip: &str, extra: &[&str], opts: &AgentOptions) -> Agent {
        let ip: IpAddr = ip.parse().expect("ip");
        let dir = scratch(name);
        let cfg = dir.join("test.json");
        std::fs::write(&cfg, &opts.config_json).unwrap();
        let node_id = unique_node_id();
        let mut args: Vec<String> = vec![
            "agent".into(),
            format!("-node={name}"),
            format!("-node-id={node_id}"),
            format!("-bind={ip}"),
            format!("-client={ip}"),
            format!(
                "-data-dir={}",
                opts.data_dir
                    .clone()
                    .unwrap_or_else(|| dir.join("data"))
                    .display()
            ),
            format!("-config-file={}", cfg.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut a = Agent {
            name: name.into(),
            node_id,
            ip,
            args,
            dir,
            rust_log: opts.rust_log.clone(),
            env: opts.env.clone(),
            self_token: opts.self_token.clone(),
            child: None,
            runs: 0,
        };
        a.spawn();
        a.wait_serving();
        a
    }

    /// Waits until this very process answers HTTP (its unique node id); panics (with its log)
    /// if it exited, e.g. because another process holds one of its ports.
    pub fn wait_serving(&mut self) {
        let h = match &self.self_token {
            Some(t) => self.http().with_token(t),
            None => self.http(),
        };
        let name = self.name.clone();
        let id = self.node_id.clone();
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if !self.is_running() {
                panic!("agent {name} exited during start-up:\n{}", self.logs());
            }
            if let Ok(r) = h.try_get("/v1/agent/self")
                && r.status == 200
            {
                let me = serde_json::from_slice::<serde_json::Value>(&r.body).ok();
                if me
                    .as_ref()
                    .is_some_and(|v| v["Config"]["NodeID"] == id.as_str())
                {
                    return;
                }
                panic!(
                    "{}:8500 is answered by another agent than {name}: {}",
                    self.ip,
                    r.text()
                );
            }
            if Instant::now() >= until {
                panic!("agent {name} not serving HTTP after 30s:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn spawn(&mut self) {
        self.runs += 1;
        let log = std::fs::File::create(self.log_path(self.runs)).expect("log file");
        let child = Command::new(praetor_bin())
            .args(&self.args)
            .env("RUST_LOG", &self.rust_log)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn praetor");
        self.child = Some(child);
    }

    fn log_path(&self, run: u32) -> PathBuf {
        self.dir.join(format!("agent-{run}.log"))
    }

    /// Every log of this agent so far.
    pub fn logs(&self) -> String {
        (1..=self.runs)
            .map(|r| {
                format!(
                    "----- {} run {r} -----\n{}",
                    self.name,
                    std::fs::read_to_string(self.log_path(r)).unwrap_or_default()
                )
            })
            .collect()
    }

    pub fn http(&self) -> Http {
        Http::new(&format!("http://{}:8500", self.ip))
    }

    /// Runs the `praetor` CLI against this agent's HTTP API: (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        run_cli(&std::env::temp_dir(), Some(self), args)
    }

    pub fn dns_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, 8600)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL: no leave, no flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends a signal (SIGTERM, SIGINT, SIGHUP) without waiting.
    pub fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) takes plain integers; a stale pid at worst gets ESRCH.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid as i32, sig)
            };
        }
    }

    /// Waits for the process to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<i32> {
        let until = Instant::now() + deadline;
        while Instant::now() < until {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Starts the same agent again with the same data dir and flags.
    pub fn restart(&mut self) {
        self.kill();
        // The previous process is gone (waited), so its ports are free again.
        self.spawn();
        self.wait_serving();
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

/// Waits (60 s at most) until every server but `skip` names the same raft leader, one of
/// `servers`; returns its index.
pub fn agreed_leader(servers: &[Agent], skip: Option<usize>) -> usize {
    wait_for(
        "all servers agree on a leader",
        Duration::from_secs(60),
        || {
            let leaders: Vec<String> = servers
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != skip)
                .map(|(_, s)| s.http().leader())
                .collect::<Option<Vec<_>>>()?;
            if leaders.windows(2).any(|w| w[0] != w[1]) {
                return None;
            }
            let l = servers
                .iter()
                .position(|s| leaders[0] == format!("{}:8300", s.ip))?;
            (Some(l) != skip).then_some(l)
        },
    )
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after `deadline` naming `what`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= until {
            panic!("timed out after {deadline:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn index(&self) -> u64 {
        self.header("X-Consul-Index")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// A minimal HTTP client for the Consul API (status codes are answers, not errors).
#[derive(Clone)]
pub struct Http {
    base: String,
    agent: ureq::Agent,
    /// Sent as `X-Consul-Token` on every request when set.
    token: Option<String>,
}

impl Http {
    pub fn new(base: &str) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Http {
            base: base.trim_end_matches('/').to_string(),
            agent,
            token: None,
        }
    }

    /// The same client, sending `token` as `X-Consul-Token`.
    pub fn with_token(&self, token: &str) -> Http {
        Http {
            base: self.base.clone(),
            agent: self.agent.clone(),
            token: Some(token.to_string()),
        }
    }

    fn token<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => r.header("X-Consul-Token", t),
            None => r,
        }
    }

    fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Resp, String> {
        let mut r = r.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = r.body_mut().read_to_vec().map_err(|e| e.to_string())?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub fn try_get(&self, path: &str) -> Result<Resp, String> {
        Self::finish(
            self.token(self.agent.get(format!("{}{path}", self.base)))
                .call(),
        )
    }

    pub fn get(&self, path: &str) -> Resp {
        self.try_get(path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub fn try_put(&self, path: &str, body: &[u8]) -> Result<Resp, String> {
        Self::finish(
            self.token(self.agent.put(format!("{}{path}", self.base)))
                .send(body),
        )
    }

    pub fn put(&self, path: &str, body: &[u8]) -> Resp {
        self.try_put(path, body)
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"))
    }

    /// The value of a metric from `/v1/agent/metrics?format=prometheus` (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.get("/v1/agent/metrics?format=prometheus").text();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    pub fn try_post(&self, path: &str, body: &[u8]) -> Result<Resp, String> {
        Self::finish(
            self.token(self.agent.post(format!("{}{path}", self.base)))
                .send(body),
        )
    }

    /// POST of a JSON value.
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.try_post(path, body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// PUT of a JSON value.
    pub fn put_json(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.put(path, body.to_string().as_bytes())
    }

    pub fn delete(&self, path: &str) -> Resp {
        Self::finish(
            self.token(self.agent.delete(format!("{}{path}", self.base)))
                .call(),
        )
        .unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }

    /// The raft leader's address, if the cluster has one (`/v1/status/leader`).
    pub fn leader(&self) -> Option<String> {
        let r = self.try_get("/v1/status/leader").ok()?;
        if r.status != 200 {
            return None;
        }
        let s: String = serde_json::from_slice(&r.body).ok()?;
        if s.is_empty() { None } else { Some(s) }
    }

    /// The value of a key (default consistency unless `params` says otherwise).
    pub fn kv_get(&self, key: &str, params: &str) -> Option<Vec<u8>> {
        let r = self.try_get(&format!("/v1/kv/{key}?raw{params}")).ok()?;
        if r.status == 200 { Some(r.body) } else { None }
    }
}

/// Sends one DNS question over UDP and returns the parsed answer. Like any stub resolver it
/// asks again (3 tries, 2 s each) when no answer comes back; a server that stays silent fails.
pub fn dns(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    msg.metadata.recursion_desired = false;
    msg.metadata.id = (std::process::id() & 0xffff) as u16;
    let bytes = msg.to_vec().expect("encode");
    let sock = UdpSocket::bind(SocketAddr::new(server.ip(), 0)).expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    for attempt in 1..=3 {
        sock.send_to(&bytes, server).expect("send");
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => return Message::from_vec(&buf[..n]).expect("decode"),
            Err(e) => {
                eprintln!("dns {name} {rtype:?} to {server}: no answer on try {attempt}: {e}")
            }
        }
    }
    panic!("dns {name} {rtype:?}: no answer from {server} after 3 tries");
}
