//! The HTTP load generator: N client threads, each with its own keep-alive `ureq::Agent`, run one
//! operation in a loop until a deadline or a request budget is reached; latencies of successful
//! requests are merged into a sorted vector for percentiles. The same generator drives praetor
//! and etcd; only the operation (URL and body) differs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// One request against one server, run by client thread `client` with the global sequence
/// number `seq` (unique per run; the key is derived from it). `Err` is a failed request.
pub type Op = dyn Fn(&ureq::Agent, usize, u64) -> Result<(), String> + Send + Sync;

/// When a run stops: whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall time of the measured part.
    pub duration: Duration,
    /// Total requests over all clients.
    pub max_requests: u64,
    /// Unmeasured requests per client before the start (opens the keep-alive connections).
    pub warmup_per_client: u64,
}

/// The outcome of one run.
#[derive(Debug, Clone)]
pub struct Stats {
    pub clients: usize,
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latencies of the successful requests, sorted ascending.
    pub latencies: Vec<Duration>,
    /// When the last client stopped (for `elapsed`).
    last_end: Option<Instant>,
}

impl Stats {
    /// No request yet, from `clients` clients.
    pub fn new(clients: usize) -> Self {
        Stats {
            clients,
            ok: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
            last_end: None,
        }
    }

    /// Adds one client's run; `elapsed` is set by [`Stats::finish`] from the last end.
    pub fn add(&mut self, run: ClientRun) {
        self.ok += run.latencies.len() as u64;
        self.latencies.extend(run.latencies);
        self.errors += run.errors;
        if self.first_error.is_none() {
            self.first_error = run.first_error;
        }
        if let Some(ended) = run.ended {
            self.last_end = Some(self.last_end.map_or(ended, |e| e.max(ended)));
        }
    }

    /// Counts a client that died without bringing its run back.
    pub fn lost(&mut self, what: &str) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| what.to_owned());
    }

    /// The run started at `t0`: sets `elapsed` to the last client's end and sorts the latencies.
    pub fn finish(&mut self, t0: Instant) {
        self.elapsed = self
            .last_end
            .map_or(Duration::ZERO, |e| e.saturating_duration_since(t0));
        self.latencies.sort_unstable();
    }

    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The `q`-quantile (0.0..=1.0) of the latencies (nearest rank), if any request succeeded.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        percentile(&self.latencies, q)
    }
}

/// Nearest-rank quantile of an ascending slice.
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A keep-alive HTTP client for one load thread: status codes are answers, every call is bounded.
pub fn client_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .max_idle_connections_per_host(4)
        .build()
        .new_agent()
}

/// Runs `op` from `clients` threads until `limits` says stop.
pub fn run(clients: usize, limits: Limits, op: Arc<Op>) -> Stats {
    let clients = clients.max(1);
    let seq = Arc::new(AtomicU64::new(0));
    // Two barriers: every client has warmed up; then the clock has been read.
    let warm = Arc::new(Barrier::new(clients + 1));
    let go = Arc::new(Barrier::new(clients + 1));
    let started = Arc::new(Mutex::new(None::<Instant>));
    let mut handles = Vec::with_capacity(clients);
    for client in 0..clients {
        let (op, seq, started) = (op.clone(), seq.clone(), started.clone());
        let (warm, go) = (warm.clone(), go.clone());
        handles.push(std::thread::spawn(move || {
            let agent = client_agent();
            for w in 0..limits.warmup_per_client {
                let _ = op(&agent, client, u64::MAX - w);
            }
            warm.wait();
            go.wait();
            let t0 = started
                .lock()
                .ok()
                .and_then(|g| *g)
                .unwrap_or_else(Instant::now);
            let deadline = t0 + limits.duration;
            let mut run = ClientRun::default();
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n >= limits.max_requests || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                match op(&agent, client, n) {
                    Ok(()) => run.latencies.push(t.elapsed()),
                    Err(e) => run.failed(e),
                }
            }
            run.ended = Some(Instant::now());
            run
        }));
    }
    warm.wait();
    let t0 = Instant::now();
    if let Ok(mut g) = started.lock() {
        *g = Some(t0);
    }
    go.wait();
    let mut stats = Stats::new(clients);
    for h in handles {
        match h.join() {
            Ok(run) => stats.add(run),
            Err(_) => stats.lost("load thread panicked"),
        }
    }
    stats.finish(t0);
    stats
}

/// What one client of a run brought back.
#[derive(Debug, Default)]
pub struct ClientRun {
    /// Latencies of its successful requests.
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub first_error: Option<String>,
    /// When it stopped sending.
    pub ended: Option<Instant>,
}

impl ClientRun {
    /// Counts a failed request, keeping the first reason.
    pub fn failed(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }
}

/// The 1 KiB value every system stores (printable, not compressible to nothing).
pub fn value_1k() -> Arc<[u8]> {
    let mut x: u32 = 0x9e37_79b9;
    (0..1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b'a' + (x % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// The key a sequence number maps to: `bench/k00042`, over a key space of `keys` keys.
pub fn key(seq: u64, keys: u64) -> String {
    format!("bench/k{:05}", seq % keys.max(1))
}

/// The server a client talks to: clients are spread round-robin over all members.
fn server(bases: &[String], client: usize) -> &str {
    &bases[client % bases.len()]
}

fn body_of(
    resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(u16, Vec<u8>), String> {
    let mut r = resp.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_vec().map_err(|e| e.to_string())?;
    Ok((status, body))
}

fn expect(status: u16, body: &[u8], ok: impl FnOnce(&[u8]) -> bool) -> Result<(), String> {
    if status == 200 && ok(body) {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        Err(format!("HTTP {status}: {text}"))
    }
}

/// Consul KV write: `PUT /v1/kv/<key>` with the value as body; answers `true`.
pub fn praetor_put(bases: Vec<String>, keys: u64, value: Arc<[u8]>) -> Arc<Op> {
    praetor_put_as(bases, keys, value, None)
}

/// [`praetor_put`] sending `X-Consul-Token` when given (ACLs on).
pub fn praetor_put_as(
    bases: Vec<String>,
    keys: u64,
    value: Arc<[u8]>,
    token: Option<String>,
) -> Arc<Op> {
    Arc::new(move |agent, client, seq| {
        let url = format!("{}/v1/kv/{}", server(&bases, client), key(seq, keys));
        let mut req = agent.put(url);
        if let Some(t) = &token {
            req = req.header("X-Consul-Token", t);
        }
        let (status, body) = body_of(req.send(&value[..]))?;
        expect(status, &body, |b| b.trim_ascii() == b"true")
    })
}

/// Consul KV read: `GET /v1/kv/<key>?raw` (default consistency) or `?raw&stale`; answers the value.
pub fn praetor_get(bases: Vec<String>, keys: u64, stale: bool, value_len: usize) -> Arc<Op> {
    praetor_get_as(bases, keys, stale, value_len, None)
}

/// [`praetor_get`] sending `X-Consul-Token` when given (ACLs on).
pub fn praetor_get_as(
    bases: Vec<String>,
    keys: u64,
    stale: bool,
    value_len: usize,
    token: Option<String>,
) -> Arc<Op> {
    let params = if stale { "?raw&stale" } else { "?raw" };
    Arc::new(move |agent, client, seq| {
        let url = format!(
            "{}/v1/kv/{}{params}",
            server(&bases, client),
            key(seq, keys)
        );
        let mut req = agent.get(url);
        if let Some(t) = &token {
            req = req.header("X-Consul-Token", t);
        }
        let (status, body) = body_of(req.call())?;
        expect(status, &body, |b| b.len() == value_len)
    })
}

/// `GET /v1/agent/connect/ca/leaf/<service>`: with `distinct`, a new service name per request
/// (each one a new key, CSR and signature), else one name (the agent's cache answers).
pub fn praetor_leaf(bases: Vec<String>, distinct: bool) -> Arc<Op> {
    Arc::new(move |agent, client, seq| {
        let service = if distinct {
            format!("svc-{client}-{seq}")
        } else {
            "web".to_string()
        };
        let url = format!(
            "{}/v1/agent/connect/ca/leaf/{service}",
            server(&bases, client)
        );
        let (status, body) = body_of(agent.get(url).call())?;
        expect(status, &body, |b| b.windows(9).any(|w| w == b"CertPEM\":"))
    })
}

/// etcd write through its JSON gateway: `POST /v3/kv/put {"key": b64, "value": b64}`.
pub fn etcd_put(bases: Vec<String>, keys: u64, value: Arc<[u8]>) -> Arc<Op> {
    let value_b64 = B64.encode(&value[..]);
    Arc::new(move |agent, client, seq| {
        let url = format!("{}/v3/kv/put", server(&bases, client));
        let req = format!(
            r#"{{"key":"{}","value":"{value_b64}"}}"#,
            B64.encode(key(seq, keys))
        );
        let (status, body) = body_of(
            agent
                .post(url)
                .content_type("application/json")
                .send(req.as_bytes()),
        )?;
        expect(status, &body, |b| b.starts_with(b"{\"header\""))
    })
}

/// etcd read through its JSON gateway: `POST /v3/kv/range {"key": b64}` (linearizable, etcd's
/// default) or with `"serializable": true` (served locally, the counterpart of `?stale`).
pub fn etcd_range(bases: Vec<String>, keys: u64, serializable: bool) -> Arc<Op> {
    let extra = if serializable {
        r#","serializable":true"#
    } else {
        ""
    };
    Arc::new(move |agent, client, seq| {
        let url = format!("{}/v3/kv/range", server(&bases, client));
        let req = format!(r#"{{"key":"{}"{extra}}}"#, B64.encode(key(seq, keys)));
        let (status, body) = body_of(
            agent
                .post(url)
                .content_type("application/json")
                .send(req.as_bytes()),
        )?;
        // One kv of a 1 KiB value is well over 1 KiB of JSON; an absent key has no "kvs".
        expect(status, &body, |b| {
            b.len() > 1024 && b.windows(5).any(|w| w == b"\"kvs\"")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&v, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&v, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn value_and_keys_are_stable() {
        let v = value_1k();
        assert_eq!(v.len(), 1024);
        assert!(v.iter().all(u8::is_ascii_lowercase));
        assert_eq!(&v[..], &value_1k()[..]);
        assert_eq!(key(10_042, 10_000), "bench/k00042");
    }

    /// A tiny keep-alive HTTP server on loopback that answers every request with `true`, and
    /// fails every 10th one with a 500, counting requests and accepted connections.
    fn fake_server() -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let (reqs, conns) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (r2, c2) = (reqs.clone(), conns.clone());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                c2.fetch_add(1, Ordering::Relaxed);
                let reqs = r2.clone();
                std::thread::spawn(move || {
                    let mut w = s.try_clone().unwrap();
                    let mut r = BufReader::new(s);
                    loop {
                        let mut len = 0usize;
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().unwrap_or(0);
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let mut body = vec![0; len];
                        if r.read_exact(&mut body).is_err() {
                            return;
                        }
                        let n = reqs.fetch_add(1, Ordering::Relaxed);
                        let status = if n % 10 == 9 {
                            "500 Internal Server Error"
                        } else {
                            "200 OK"
                        };
                        let _ = write!(w, "HTTP/1.1 {status}\r\nContent-Length: 4\r\n\r\ntrue");
                    }
                });
            }
        });
        (base, reqs, conns)
    }

    #[test]
    fn run_is_bounded_by_count_and_reuses_connections() {
        let (base, reqs, conns) = fake_server();
        let op = praetor_put(vec![base], 100, value_1k());
        let limits = Limits {
            duration: Duration::from_secs(30),
            max_requests: 500,
            warmup_per_client: 2,
        };
        let s = run(4, limits, op);
        assert_eq!(s.ok + s.errors, 500);
        // Requests 0..8 are the warm-up; of 8..508 the ones numbered 9, 19, .. 499 fail.
        assert_eq!(s.errors, 50);
        assert!(
            s.first_error.as_deref().unwrap_or("").contains("HTTP 500"),
            "{:?}",
            s.first_error
        );
        assert_eq!(reqs.load(Ordering::Relaxed), 508);
        assert!(
            conns.load(Ordering::Relaxed) <= 8,
            "keep-alive: {} connections",
            conns.load(Ordering::Relaxed)
        );
        assert_eq!(s.latencies.len() as u64, s.ok);
        assert!(s.latencies.windows(2).all(|w| w[0] <= w[1]));
        assert!(s.throughput() > 0.0);
    }

    #[test]
    fn run_is_bounded_by_time() {
        let (base, _, _) = fake_server();
        let op = praetor_put(vec![base], 100, value_1k());
        let limits = Limits {
            duration: Duration::from_millis(300),
            max_requests: u64::MAX,
            warmup_per_client: 0,
        };
        let t = Instant::now();
        let s = run(2, limits, op);
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(s.elapsed >= Duration::from_millis(300) && s.ok > 0, "{s:?}");
    }
}
