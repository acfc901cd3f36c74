//! The KV workload: client threads issuing puts, `?consistent` and default reads,
//! check-and-sets and deletes on a few shared keys through random servers, each operation
//! recorded with its call and return time (nanoseconds from one `Instant`) and classified:
//!
//! * a write answered 200 is known (`Ok`, `Cas(true|false)`);
//! * a write that provably never left this process (the TCP connect failed: refused,
//!   unreachable, connect timeout — no byte of the request was sent) is dropped: it cannot
//!   have taken effect;
//! * any other write (error, timeout, non-200) is UNKNOWN: `ret: None`, it may take effect at
//!   any time after its call, or never;
//! * a read answered 200 is `Value(Some)`, 404 is `Value(None)`, anything else is dropped.
//!
//! Every written value is unique (`c<client>-<seq>`), so a value read names the one write that
//! wrote it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::{Rng, ns_since};
use crate::Resp;
use crate::linearizability::{KvInput, KvOutput, Operation};

/// The outcome of one HTTP request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An HTTP answer (any status).
    Answer(Resp),
    /// The connection could not be opened: nothing was sent.
    NotSent(String),
    /// Anything else (timeout, reset, truncated answer): the request may have been received.
    Failed(String),
}

/// An HTTP client with a per-request timeout and no connection reuse (every request opens
/// its own connection, so a failed connect always means "not sent").
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub fn new(timeout: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            // Shorter than the global timeout, so that a timeout while connecting is reported
            // as such (ureq names the earliest deadline).
            .timeout_connect(Some(timeout.mul_f64(0.4)))
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .max_redirects(0)
            .build()
            .new_agent();
        Client { agent }
    }

    /// `method url` with `body` (PUT/POST).
    pub fn call(&self, method: &str, url: &str, body: Option<&[u8]>) -> Reply {
        let result = match method {
            "GET" => self.agent.get(url).call(),
            "DELETE" => self.agent.delete(url).call(),
            "PUT" => self.agent.put(url).send(body.unwrap_or_default()),
            "POST" => self.agent.post(url).send(body.unwrap_or_default()),
            m => panic!("unsupported method {m}"),
        };
        let mut r = match result {
            Ok(r) => r,
            Err(e) => return classify_error(e),
        };
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        match r.body_mut().read_to_vec() {
            Ok(body) => Reply::Answer(Resp {
                status,
                headers,
                body,
            }),
            Err(e) => Reply::Failed(format!("reading the body: {e}")),
        }
    }
}

fn classify_error(e: ureq::Error) -> Reply {
    use std::io::ErrorKind;
    match &e {
        ureq::Error::Timeout(ureq::Timeout::Connect) => Reply::NotSent(e.to_string()),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::AddrNotAvailable
            ) =>
        {
            // Only `connect(2)` reports these (an established connection reports a reset or,
            // after minutes of retransmissions, a soft error far beyond our timeout).
            Reply::NotSent(e.to_string())
        }
        _ => Reply::Failed(e.to_string()),
    }
}

/// Which request an operation was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Put,
    /// `GET ?consistent`.
    ReadConsistent,
    /// `GET` with default consistency.
    ReadDefault,
    /// The `?consistent` read that precedes a check-and-set (also part of the history).
    CasRead,
    Cas,
    Delete,
    /// A `?consistent` read of every key after recovery.
    Final,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::ReadConsistent => "get-consistent",
            OpKind::ReadDefault => "get-default",
            OpKind::CasRead => "cas-read",
            OpKind::Cas => "cas",
            OpKind::Delete => "delete",
            OpKind::Final => "final-read",
        }
    }
}

/// One recorded operation: the checker's view and what the harness knows besides.
#[derive(Debug, Clone)]
pub struct Record {
    pub op: Operation<KvInput, KvOutput>,
    pub kind: OpKind,
    /// Index of the server it was sent to.
    pub server: usize,
    /// Why it is unknown or dropped, or the status.
    pub note: String,
    /// For reads: the ModifyIndex of the value read.
    pub modify_index: Option<u64>,
}

impl Record {
    /// The record as one JSON line of the kept history.
    pub fn to_json(&self) -> Value {
        let (input, key) = match &self.op.input {
            KvInput::Put { key, value } => (json!({"f": "put", "value": value}), key),
            KvInput::Get { key } => (json!({"f": "get"}), key),
            KvInput::Cas { key, expect, value } => {
                (json!({"f": "cas", "expect": expect, "value": value}), key)
            }
            KvInput::Delete { key } => (json!({"f": "delete"}), key),
        };
        let output = match &self.op.output {
            KvOutput::Ok => json!("ok"),
            KvOutput::Value(v) => json!({"value": v}),
            KvOutput::Cas(b) => json!({"cas": b}),
            KvOutput::Unknown => json!("unknown"),
        };
        json!({
            "client": self.op.client,
            "call_ns": self.op.call,
            "ret_ns": self.op.ret,
            "kind": self.kind.name(),
            "key": key,
            "input": input,
            "output": output,
            "server": self.server,
            "modify_index": self.modify_index,
            "note": self.note,
        })
    }
}

/// Counts of a workload's operations.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Operations attempted (a check-and-set counts its read and its write).
    pub total: usize,
    /// Known outcomes (writes answered 200, reads answered 200/404).
    pub ok: usize,
    /// Writes of unknown outcome.
    pub unknown: usize,
    /// Reads without a usable answer, and writes never sent.
    pub dropped: usize,
}

/// Everything a KV workload recorded.
#[derive(Debug, Default)]
pub struct KvHistory {
    /// Writes and `?consistent` reads: the history checked for linearizability.
    pub linear: Vec<Record>,
    /// Default-consistency reads (answered 200/404): only reported.
    pub default_reads: Vec<Record>,
    /// Dropped operations (for the kept artifacts).
    pub dropped: Vec<Record>,
    pub tally: Tally,
}

impl KvHistory {
    fn add(&mut self, r: Record, dropped: bool) {
        self.tally.total += 1;
        if dropped {
            self.tally.dropped += 1;
            self.dropped.push(r);
            return;
        }
        if r.op.ret.is_none() {
            self.tally.unknown += 1;
        } else {
            self.tally.ok += 1;
        }
        if r.kind == OpKind::ReadDefault {
            self.default_reads.push(r);
        } else {
            self.linear.push(r);
        }
    }

    /// Merges another client's history.
    pub fn merge(&mut self, other: KvHistory) {
        self.linear.extend(other.linear);
        self.default_reads.extend(other.default_reads);
        self.dropped.extend(other.dropped);
        self.tally.total += other.tally.total;
        self.tally.ok += other.tally.ok;
        self.tally.unknown += other.tally.unknown;
        self.tally.dropped += other.tally.dropped;
    }
}

/// What a KV workload runs against.
#[derive(Debug, Clone)]
pub struct KvSpec {
    /// Base URLs of the servers the clients pick from.
    pub servers: Vec<String>,
    /// The keys (`faults/<scenario>/k<n>`).
    pub keys: Vec<String>,
    /// Extra query parameter for every request (`dc=dc2`), without `?`/`&`.
    pub dc: Option<String>,
    pub clients: usize,
    pub max_ops: usize,
    pub request_timeout: Duration,
    pub seed: u64,
}

impl KvSpec {
    fn url(&self, server: usize, key: &str, params: &[&str]) -> String {
        let mut ps: Vec<&str> = params.to_vec();
        if let Some(dc) = &self.dc {
            ps.push(dc);
        }
        let q = if ps.is_empty() {
            String::new()
        } else {
            format!("?{}", ps.join("&"))
        };
        format!("{}/v1/kv/{key}{q}", self.servers[server])
    }
}

/// A read's answer: (value, ModifyIndex) of a 200, (None, None) of a 404; Err for anything
/// else (the read is dropped).
fn parse_read(reply: &Reply) -> Result<(Option<String>, Option<u64>), String> {
    match reply {
        Reply::Answer(r) if r.status == 404 => Ok((None, None)),
        Reply::Answer(r) if r.status == 200 => {
            let v: Value = serde_json::from_slice(&r.body)
                .map_err(|e| format!("200 with a body that is not JSON ({e})"))?;
            let entry = v
                .as_array()
                .and_then(|a| a.first())
                .ok_or_else(|| format!("200 without an entry: {v}"))?;
            let value = match entry["Value"].as_str() {
                Some(b) => String::from_utf8_lossy(
                    &B64.decode(b)
                        .map_err(|e| format!("Value not base64 ({e})"))?,
                )
                .into_owned(),
                None => String::new(),
            };
            Ok((Some(value), entry["ModifyIndex"].as_u64()))
        }
        Reply::Answer(r) => Err(format!("status {}: {}", r.status, r.text().trim())),
        Reply::NotSent(e) => Err(format!("not sent: {e}")),
        Reply::Failed(e) => Err(e.clone()),
    }
}

/// One client thread's state.
struct KvClient {
    id: u64,
    spec: Arc<KvSpec>,
    epoch: Instant,
    http: Client,
    rng: Rng,
    seq: u64,
    hist: KvHistory,
}

impl KvClient {
    fn value(&mut self) -> String {
        self.seq += 1;
        format!("c{}-{}", self.id, self.seq)
    }

    /// Issues a read and records it; returns its value and ModifyIndex if it was answered.
    fn read(
        &mut self,
        server: usize,
        key: &str,
        kind: OpKind,
    ) -> Option<(Option<String>, Option<u64>)> {
        let params: &[&str] = match kind {
            OpKind::ReadDefault => &[],
            _ => &["consistent"],
        };
        let url = self.spec.url(server, key, params);
        let call = ns_since(self.epoch);
        let reply = self.http.call("GET", &url, None);
        let ret = ns_since(self.epoch);
        let input = KvInput::Get { key: key.into() };
        match parse_read(&reply) {
            Ok((value, modify_index)) => {
                let op = Operation {
                    client: self.id,
                    call,
                    ret: Some(ret),
                    input,
                    output: KvOutput::Value(value.clone()),
                };
                self.hist.add(
                    Record {
                        op,
                        kind,
                        server,
                        note: String::new(),
                        modify_index,
                    },
                    false,
                );
                Some((value, modify_index))
            }
            Err(note) => {
                let op = Operation {
                    client: self.id,
                    call,
                    ret: None,
                    input,
                    output: KvOutput::Unknown,
                };
                self.hist.add(
                    Record {
                        op,
                        kind,
                        server,
                        note,
                        modify_index: None,
                    },
                    true,
                );
                None
            }
        }
    }

    /// Issues a write and records it with the outcome rules of the module docs.
    fn write(&mut self, server: usize, kind: OpKind, input: KvInput, url: &str) {
        let (method, body) = match &input {
            KvInput::Put { value, .. } | KvInput::Cas { value, .. } => {
                ("PUT", Some(value.as_bytes().to_vec()))
            }
            KvInput::Delete { .. } => ("DELETE", None),
            KvInput::Get { .. } => unreachable!("reads go through read()"),
        };
        let call = ns_since(self.epoch);
        let reply = self.http.call(method, url, body.as_deref());
        let ret = ns_since(self.epoch);
        let (output, note, dropped) = match &reply {
            Reply::Answer(r) if r.status == 200 => {
                let text = r.text();
                match (kind, text.trim()) {
                    (OpKind::Cas, "true") => (Some(KvOutput::Cas(true)), String::new(), false),
                    (OpKind::Cas, "false") => (Some(KvOutput::Cas(false)), String::new(), false),
                    (OpKind::Put | OpKind::Delete, "true") => {
                        (Some(KvOutput::Ok), String::new(), false)
                    }
                    // A plain put or delete answered `false` (or anything unexpected) is not
                    // something the model knows: keep it, of unknown outcome.
                    (_, t) => (None, format!("200 with body {t:?}"), false),
                }
            }
            Reply::Answer(r) => (
                None,
                format!("status {}: {}", r.status, r.text().trim()),
                false,
            ),
            Reply::NotSent(e) => (None, format!("not sent: {e}"), true),
            Reply::Failed(e) => (None, e.clone(), false),
        };
        let known = output.is_some();
        let op = Operation {
            client: self.id,
            call,
            ret: known.then_some(ret),
            input,
            output: output.unwrap_or(KvOutput::Unknown),
        };
        self.hist.add(
            Record {
                op,
                kind,
                server,
                note,
                modify_index: None,
            },
            dropped,
        );
    }

    fn step(&mut self) {
        let server = self.rng.index(self.spec.servers.len());
        let key = self.spec.keys[self.rng.index(self.spec.keys.len())].clone();
        match self.rng.below(100) {
            0..=24 => {
                let value = self.value();
                let url = self.spec.url(server, &key, &[]);
                self.write(server, OpKind::Put, KvInput::Put { key, value }, &url);
            }
            25..=49 => {
                self.read(server, &key, OpKind::ReadConsistent);
            }
            50..=64 => {
                self.read(server, &key, OpKind::ReadDefault);
            }
            65..=91 => {
                // Check-and-set: learn the value and its ModifyIndex, then write if unchanged.
                let Some((current, index)) = self.read(server, &key, OpKind::CasRead) else {
                    return;
                };
                let cas = match (&current, index) {
                    (None, _) => 0,
                    (Some(_), Some(i)) => i,
                    (Some(_), None) => return,
                };
                let value = self.value();
                let server = self.rng.index(self.spec.servers.len());
                let cas_param = format!("cas={cas}");
                let url = self.spec.url(server, &key, &[&cas_param]);
                let input = KvInput::Cas {
                    key,
                    expect: current,
                    value,
                };
                self.write(server, OpKind::Cas, input, &url);
            }
            _ => {
                let url = self.spec.url(server, &key, &[]);
                self.write(server, OpKind::Delete, KvInput::Delete { key }, &url);
            }
        }
    }
}

/// Runs `spec.clients` client threads until `stop_at` (or `spec.max_ops` operations in all),
/// pacing each client with 5–25 ms pauses; returns their merged history.
pub fn run_kv(spec: KvSpec, epoch: Instant, stop_at: Instant) -> KvHistory {
    let spec = Arc::new(spec);
    let per_client = spec.max_ops.div_ceil(spec.clients.max(1));
    let threads: Vec<_> = (0..spec.clients)
        .map(|c| {
            let spec = spec.clone();
            std::thread::Builder::new()
                .name(format!("kv-client-{c}"))
                .spawn(move || {
                    let mut client = KvClient {
                        id: c as u64 + 1,
                        http: Client::new(spec.request_timeout),
                        rng: Rng::new(spec.seed, 100 + c as u64),
                        spec,
                        epoch,
                        seq: 0,
                        hist: KvHistory::default(),
                    };
                    while Instant::now() < stop_at && client.hist.tally.total < per_client {
                        client.step();
                        let pause = client.rng.millis(5, 25);
                        std::thread::sleep(pause);
                    }
                    client.hist
                })
                .expect("spawn client")
        })
        .collect();
    let mut all = KvHistory::default();
    for t in threads {
        all.merge(t.join().expect("client thread panicked"));
    }
    all
}

/// After recovery: a `?consistent` read of every key (through the first server that answers),
/// added to `hist` so that a lost acknowledged write shows up as a linearizability violation.
pub fn final_reads(spec: &KvSpec, epoch: Instant, hist: &mut KvHistory) {
    let mut client = KvClient {
        id: 1000,
        http: Client::new(spec.request_timeout),
        rng: Rng::new(spec.seed, 999),
        spec: Arc::new(spec.clone()),
        epoch,
        seq: 0,
        hist: KvHistory::default(),
    };
    for (k, key) in spec.keys.iter().enumerate() {
        crate::wait_for(
            &format!("a final ?consistent read of {key}"),
            Duration::from_secs(20),
            || {
                let server = (k + client.rng.index(spec.servers.len())) % spec.servers.len();
                client.read(server, key, OpKind::Final).map(|_| ())
            },
        );
    }
    // Only the answered final reads go into the history; failed attempts are not counted.
    let answered: Vec<Record> = client
        .hist
        .linear
        .into_iter()
        .filter(|r| r.op.ret.is_some())
        .collect();
    hist.tally.total += answered.len();
    hist.tally.ok += answered.len();
    hist.linear.extend(answered);
}
