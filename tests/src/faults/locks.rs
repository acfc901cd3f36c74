//! The lock workload and its checks.
//!
//! `L` clients contend for one lock key with sessions (`PUT /v1/session/create` with a 1 s
//! lock delay and a 10 s TTL, `PUT /v1/kv/<lock>?acquire=<session>`); while a client believes
//! it holds the lock it writes a unique value to a guarded key with a transaction that first
//! checks, in the same raft entry, that its session holds the lock:
//! `[{"KV":{"Verb":"check-session","Key":<lock>,"Session":<sid>}},
//!   {"KV":{"Verb":"set","Key":<guarded>,"Value":<b64>}}]`; then it releases
//! (`?release=<session>`). An observer thread reads the lock key with `?consistent`
//! throughout.
//!
//! # What the checks prove
//!
//! Every acknowledged transaction returns, from one raft entry at index `g` (the guarded key's
//! ModifyIndex), the lock key as the state machine saw it: (ModifyIndex `m`, LockIndex `L`,
//! Session `s`). `?consistent` reads return more such versions of the lock key. From all of
//! them the checker verifies, in the store's own order (raft indexes):
//!
//! 1. each acknowledged guarded write was checked against the writer's own session (the
//!    store did not acknowledge a check-session of a lock held by someone else);
//! 2. one ModifyIndex names one version: the same `m` never comes with two different
//!    (LockIndex, Session) pairs;
//! 3. lock tenures do not overlap: ordered by `m`, LockIndex never decreases, and one
//!    LockIndex (one acquisition) belongs to exactly one session;
//! 4. no guarded write was checked against an outdated lock: for a write at `g` that saw
//!    version `m`, no version `m'` with `m < m' < g` was ever observed (if one was, the lock
//!    had changed hands before the entry that checked it);
//! 5. guarded writes have distinct indexes, and the final `?consistent` value of the guarded
//!    key is the acknowledged write with the highest index, or one of unknown outcome (an
//!    acknowledged guarded write was not lost or reordered).
//!
//! # What they cannot prove
//!
//! * Mutual exclusion in real time from the clients' point of view: Consul does not promise
//!   it. A session is invalidated when its node fails a health check (a partitioned node), and
//!   its holder learns it only when its next request fails; meanwhile another client may
//!   acquire the lock. Clients must use the LockIndex (or a check-session transaction, as
//!   here) as a fencing token. Overlaps of the clients' beliefs are counted and reported only.
//! * Versions of the lock key that nobody observed: check 4 only sees the versions some read
//!   or transaction returned, so a violation hidden between two observations goes unnoticed.
//! * Anything about a write whose outcome is unknown, beyond "it may have happened".

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::workload::{Client, Reply};
use super::{Rng, ns_since};

/// What the lock workload runs against.
#[derive(Debug, Clone)]
pub struct LockSpec {
    pub servers: Vec<String>,
    pub lock_key: String,
    pub guarded_key: String,
    pub clients: usize,
    pub request_timeout: Duration,
    pub seed: u64,
    /// Upper bound on lock rounds per client.
    pub max_rounds: usize,
}

/// A version of the lock key as some answer showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockVersion {
    pub modify_index: u64,
    pub lock_index: u64,
    pub session: Option<String>,
    /// Where it was seen ("observer", "txn c3", "acquire c2").
    pub source: String,
}

/// An acknowledged guarded write.
#[derive(Debug, Clone)]
pub struct GuardedWrite {
    pub client: u64,
    pub session: String,
    pub value: String,
    /// The raft index of the transaction (the guarded key's ModifyIndex).
    pub index: u64,
    /// The lock key as the transaction's check-session saw it.
    pub lock: LockVersion,
    pub call: u64,
    pub ret: u64,
}

/// A client's belief that it held the lock: from the acknowledged acquire to the release call.
#[derive(Debug, Clone)]
pub struct Tenure {
    pub client: u64,
    pub session: String,
    pub from: u64,
    pub to: u64,
}

/// Everything the lock workload recorded.
#[derive(Debug, Default)]
pub struct LockHistory {
    pub versions: Vec<LockVersion>,
    pub guarded: Vec<GuardedWrite>,
    /// Values of guarded writes of unknown outcome.
    pub guarded_unknown: Vec<String>,
    /// Guarded writes the store refused (409: the session did not hold the lock).
    pub guarded_refused: usize,
    pub tenures: Vec<Tenure>,
    pub sessions: usize,
    pub acquires: usize,
    pub acquired: usize,
    /// Requests that failed (error, timeout, unexpected status).
    pub errors: usize,
    /// Whether the final `?consistent` read of the guarded key was answered.
    pub final_read: bool,
    /// The final `?consistent` value of the guarded key (None: absent).
    pub final_guarded: Option<String>,
    /// Lines for the kept artifacts.
    pub events: Vec<Value>,
}

impl LockHistory {
    fn merge(&mut self, o: LockHistory) {
        self.versions.extend(o.versions);
        self.guarded.extend(o.guarded);
        self.guarded_unknown.extend(o.guarded_unknown);
        self.guarded_refused += o.guarded_refused;
        self.tenures.extend(o.tenures);
        self.sessions += o.sessions;
        self.acquires += o.acquires;
        self.acquired += o.acquired;
        self.errors += o.errors;
        self.events.extend(o.events);
    }
}

fn version_of(entry: &Value, source: String) -> Option<LockVersion> {
    Some(LockVersion {
        modify_index: entry["ModifyIndex"].as_u64()?,
        lock_index: entry["LockIndex"].as_u64().unwrap_or(0),
        session: entry["Session"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from),
        source,
    })
}

struct LockClient {
    id: u64,
    spec: Arc<LockSpec>,
    epoch: Instant,
    http: Client,
    rng: Rng,
    hist: LockHistory,
}

impl LockClient {
    fn server(&mut self) -> String {
        self.spec.servers[self.rng.index(self.spec.servers.len())].clone()
    }

    fn event(&mut self, what: &str, detail: Value) {
        self.hist.events.push(json!({
            "t_ns": ns_since(self.epoch),
            "client": self.id,
            "event": what,
            "detail": detail,
        }));
    }

    fn create_session(&mut self) -> Option<String> {
        let url = format!("{}/v1/session/create", self.server());
        let body = br#"{"LockDelay":"1s","TTL":"10s","Behavior":"release"}"#;
        match self.http.call("PUT", &url, Some(body)) {
            Reply::Answer(r) if r.status == 200 => {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                let id = v["ID"].as_str()?.to_string();
                self.hist.sessions += 1;
                self.event("session", json!({"id": id, "url": url}));
                Some(id)
            }
            other => {
                self.hist.errors += 1;
                self.event("session-failed", json!(format!("{other:?}")));
                None
            }
        }
    }

    /// Some(true) acquired, Some(false) refused, None unknown; the bool says whether the
    /// session is gone (invalid).
    fn acquire(&mut self, sid: &str) -> (Option<bool>, bool) {
        let url = format!(
            "{}/v1/kv/{}?acquire={sid}",
            self.server(),
            self.spec.lock_key
        );
        self.hist.acquires += 1;
        let body = format!("c{}", self.id);
        match self.http.call("PUT", &url, Some(body.as_bytes())) {
            Reply::Answer(r) if r.status == 200 => {
                let ok = r.text().trim() == "true";
                (Some(ok), false)
            }
            Reply::Answer(r) => {
                self.hist.errors += 1;
                let text = r.text();
                let invalid = text.to_ascii_lowercase().contains("session");
                self.event(
                    "acquire-error",
                    json!({"status": r.status, "body": text.trim()}),
                );
                (None, invalid)
            }
            Reply::NotSent(_) => (Some(false), false),
            Reply::Failed(e) => {
                self.hist.errors += 1;
                self.event("acquire-unknown", json!(e));
                (None, false)
            }
        }
    }

    fn guarded_write(&mut self, sid: &str, seq: u64) {
        let value = format!("c{}-{seq}-{sid}", self.id);
        let ops = json!([
            {"KV": {"Verb": "check-session", "Key": self.spec.lock_key, "Session": sid}},
            {"KV": {"Verb": "set", "Key": self.spec.guarded_key, "Value": B64.encode(&value)}},
        ]);
        let url = format!("{}/v1/txn", self.server());
        let call = ns_since(self.epoch);
        let reply = self
            .http
            .call("PUT", &url, Some(ops.to_string().as_bytes()));
        let ret = ns_since(self.epoch);
        match reply {
            Reply::Answer(r) if r.status == 200 => {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                let results = v["Results"].as_array().cloned().unwrap_or_default();
                let entry = |key: &str| {
                    results
                        .iter()
                        .map(|x| &x["KV"])
                        .find(|kv| kv["Key"] == key)
                        .cloned()
                };
                let lock = entry(&self.spec.lock_key)
                    .and_then(|e| version_of(&e, format!("txn c{}", self.id)));
                let index = entry(&self.spec.guarded_key).and_then(|e| e["ModifyIndex"].as_u64());
                match (lock, index) {
                    (Some(lock), Some(index)) => {
                        self.event(
                            "guarded",
                            json!({"value": value, "index": index, "lock_modify": lock.modify_index,
                                   "lock_index": lock.lock_index, "lock_session": lock.session,
                                   "call_ns": call, "ret_ns": ret}),
                        );
                        self.hist.versions.push(lock.clone());
                        self.hist.guarded.push(GuardedWrite {
                            client: self.id,
                            session: sid.to_string(),
                            value,
                            index,
                            lock,
                            call,
                            ret,
                        });
                    }
                    _ => {
                        // Acknowledged, but the answer lacks what we check: keep it as unknown
                        // (it did happen, so it may be the final value) and say so.
                        self.event("guarded-malformed", v);
                        self.hist.errors += 1;
                        self.hist.guarded_unknown.push(value);
                    }
                }
            }
            Reply::Answer(r) if r.status == 409 => {
                self.hist.guarded_refused += 1;
                self.event("guarded-refused", json!(r.text().trim()));
            }
            Reply::NotSent(_) => {}
            other => {
                self.hist.errors += 1;
                self.event("guarded-unknown", json!(format!("{other:?}")));
                self.hist.guarded_unknown.push(value);
            }
        }
    }

    fn release(&mut self, sid: &str) {
        let url = format!(
            "{}/v1/kv/{}?release={sid}",
            self.server(),
            self.spec.lock_key
        );
        if !matches!(self.http.call("PUT", &url, Some(b"")), Reply::Answer(ref r) if r.status == 200)
        {
            self.hist.errors += 1;
        }
    }

    fn destroy(&mut self, sid: &str) {
        let url = format!("{}/v1/session/destroy/{sid}", self.server());
        let _ = self.http.call("PUT", &url, None);
    }

    fn run(&mut self, stop_at: Instant) {
        let mut session: Option<String> = None;
        let mut seq = 0;
        for round in 0..self.spec.max_rounds {
            if Instant::now() >= stop_at {
                break;
            }
            let Some(sid) = session.clone().or_else(|| self.create_session()) else {
                std::thread::sleep(self.rng.millis(100, 300));
                continue;
            };
            session = Some(sid.clone());
            let (acquired, invalid) = self.acquire(&sid);
            let believed_from = ns_since(self.epoch);
            if invalid {
                session = None;
                continue;
            }
            match acquired {
                Some(false) => {
                    std::thread::sleep(self.rng.millis(30, 150));
                    continue;
                }
                Some(true) => {
                    self.hist.acquired += 1;
                    self.event("acquired", json!({"session": sid}));
                }
                // Unknown: maybe held. The guarded write's check-session decides.
                None => {}
            }
            std::thread::sleep(self.rng.millis(5, 60));
            seq += 1;
            self.guarded_write(&sid, seq);
            std::thread::sleep(self.rng.millis(5, 40));
            let release_call = ns_since(self.epoch);
            if acquired == Some(true) {
                self.hist.tenures.push(Tenure {
                    client: self.id,
                    session: sid.clone(),
                    from: believed_from,
                    to: release_call,
                });
            }
            self.release(&sid);
            if round % 4 == 3 || self.rng.chance(15) {
                self.destroy(&sid);
                session = None;
            }
            std::thread::sleep(self.rng.millis(0, 80));
        }
        if let Some(sid) = session {
            self.destroy(&sid);
        }
    }
}

/// Runs the lock clients and an observer until `stop_at`; returns the merged history.
pub fn run_locks(spec: LockSpec, epoch: Instant, stop_at: Instant) -> LockHistory {
    let spec = Arc::new(spec);
    let done = Arc::new(AtomicBool::new(false));
    let observer = {
        let spec = spec.clone();
        let done = done.clone();
        std::thread::Builder::new()
            .name("lock-observer".into())
            .spawn(move || {
                let http = Client::new(spec.request_timeout);
                let mut rng = Rng::new(spec.seed, 500);
                let mut hist = LockHistory::default();
                for _ in 0..100_000 {
                    if done.load(Ordering::Relaxed) || Instant::now() >= stop_at {
                        break;
                    }
                    let server = &spec.servers[rng.index(spec.servers.len())];
                    let url = format!("{server}/v1/kv/{}?consistent", spec.lock_key);
                    if let Reply::Answer(r) = http.call("GET", &url, None)
                        && r.status == 200
                    {
                        let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                        if let Some(ver) = version_of(&v[0], "observer".into()) {
                            hist.versions.push(ver);
                        }
                    }
                    std::thread::sleep(rng.millis(20, 80));
                }
                hist
            })
            .expect("spawn observer")
    };
    let clients: Vec<_> = (0..spec.clients)
        .map(|c| {
            let spec = spec.clone();
            std::thread::Builder::new()
                .name(format!("lock-client-{c}"))
                .spawn(move || {
                    let mut client = LockClient {
                        id: c as u64 + 1,
                        http: Client::new(spec.request_timeout),
                        rng: Rng::new(spec.seed, 300 + c as u64),
                        spec,
                        epoch,
                        hist: LockHistory::default(),
                    };
                    client.run(stop_at);
                    client.hist
                })
                .expect("spawn lock client")
        })
        .collect();
    let mut all = LockHistory::default();
    for t in clients {
        all.merge(t.join().expect("lock client panicked"));
    }
    done.store(true, Ordering::Relaxed);
    all.merge(observer.join().expect("observer panicked"));
    all
}

/// After recovery: the final `?consistent` value of the guarded key and one more version of
/// the lock key.
pub fn final_reads(spec: &LockSpec, hist: &mut LockHistory) {
    let http = Client::new(spec.request_timeout);
    let read = |key: &str| -> Option<Option<Value>> {
        for server in &spec.servers {
            let url = format!("{server}/v1/kv/{key}?consistent");
            match http.call("GET", &url, None) {
                Reply::Answer(r) if r.status == 404 => return Some(None),
                Reply::Answer(r) if r.status == 200 => {
                    let v: Value = serde_json::from_slice(&r.body).ok()?;
                    return Some(Some(v[0].clone()));
                }
                _ => {}
            }
        }
        None
    };
    let guarded = crate::wait_for(
        "a final ?consistent read of the guarded key",
        Duration::from_secs(20),
        || read(&spec.guarded_key),
    );
    hist.final_read = true;
    hist.final_guarded = guarded.and_then(|e| {
        let b = e["Value"].as_str()?;
        Some(String::from_utf8_lossy(&B64.decode(b).ok()?).into_owned())
    });
    let lock = crate::wait_for(
        "a final ?consistent read of the lock key",
        Duration::from_secs(20),
        || read(&spec.lock_key),
    );
    if let Some(v) = lock.and_then(|e| version_of(&e, "final".into())) {
        hist.versions.push(v);
    }
}

/// The results of the lock checks.
#[derive(Debug, Clone, Default)]
pub struct LockCheck {
    /// Violations of checks 1–5 (module docs): each one is a failure.
    pub violations: Vec<String>,
    /// Pairs of client tenures (beliefs) that overlapped in real time: reported only.
    pub client_overlaps: usize,
    pub versions: usize,
    pub guarded: usize,
}

impl LockCheck {
    /// One line for the summary.
    pub fn summary(&self, h: &LockHistory) -> String {
        format!(
            "acq {}/{} guarded {} refused {} unk {} versions {} overlaps(client-view) {} violations {}",
            h.acquired,
            h.acquires,
            self.guarded,
            h.guarded_refused,
            h.guarded_unknown.len(),
            self.versions,
            self.client_overlaps,
            self.violations.len()
        )
    }
}

/// Checks 1–5 of the module docs, and counts client-view overlaps.
pub fn check(h: &LockHistory) -> LockCheck {
    let mut out = LockCheck {
        versions: h.versions.len(),
        guarded: h.guarded.len(),
        ..LockCheck::default()
    };
    let mut v = |s: String| {
        if out.violations.len() < 50 {
            out.violations.push(s);
        }
    };
    // 1. Checked against the writer's own session.
    for g in &h.guarded {
        if g.lock.session.as_deref() != Some(g.session.as_str()) {
            v(format!(
                "guarded write {:?} at index {} by session {} was acknowledged although its \
                 check-session saw the lock held by {:?} (LockIndex {})",
                g.value, g.index, g.session, g.lock.session, g.lock.lock_index
            ));
        }
    }
    // 2. One ModifyIndex, one version.
    let mut by_index: BTreeMap<u64, &LockVersion> = BTreeMap::new();
    for ver in &h.versions {
        match by_index.get(&ver.modify_index) {
            Some(prev) if (prev.lock_index, &prev.session) != (ver.lock_index, &ver.session) => {
                v(format!(
                    "lock key ModifyIndex {} seen as (LockIndex {}, Session {:?}) by {} and as \
                     (LockIndex {}, Session {:?}) by {}",
                    ver.modify_index,
                    prev.lock_index,
                    prev.session,
                    prev.source,
                    ver.lock_index,
                    ver.session,
                    ver.source
                ));
            }
            Some(_) => {}
            None => {
                by_index.insert(ver.modify_index, ver);
            }
        }
    }
    // 3. Tenures in raft order: LockIndex never decreases; one LockIndex, one session.
    let mut holder: BTreeMap<u64, (&str, u64)> = BTreeMap::new();
    let mut prev: Option<&LockVersion> = None;
    for ver in by_index.values() {
        if let Some(p) = prev
            && ver.lock_index < p.lock_index
        {
            v(format!(
                "LockIndex went back from {} (ModifyIndex {}) to {} (ModifyIndex {})",
                p.lock_index, p.modify_index, ver.lock_index, ver.modify_index
            ));
        }
        if let Some(s) = &ver.session {
            match holder.get(&ver.lock_index) {
                Some((other, at)) if *other != s.as_str() => v(format!(
                    "LockIndex {} held by session {other} (ModifyIndex {at}) and by session {s} \
                     (ModifyIndex {})",
                    ver.lock_index, ver.modify_index
                )),
                Some(_) => {}
                None => {
                    holder.insert(ver.lock_index, (s.as_str(), ver.modify_index));
                }
            }
        }
        prev = Some(ver);
    }
    // 4. No guarded write checked an outdated version of the lock.
    for g in &h.guarded {
        if let Some((m, newer)) = by_index.range(g.lock.modify_index + 1..g.index).next() {
            v(format!(
                "guarded write {:?} at index {} checked the lock as of ModifyIndex {} (session \
                 {:?}), but the lock had changed at ModifyIndex {m} (LockIndex {}, session {:?}, \
                 seen by {})",
                g.value,
                g.index,
                g.lock.modify_index,
                g.lock.session,
                newer.lock_index,
                newer.session,
                newer.source
            ));
        }
    }
    // 5. Distinct indexes; the final value is the last acknowledged write (or an unknown one).
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    for g in &h.guarded {
        if let Some(other) = seen.insert(g.index, &g.value) {
            v(format!(
                "guarded writes {other:?} and {:?} both acknowledged at index {}",
                g.value, g.index
            ));
        }
    }
    if let Some(last) = h.guarded.iter().max_by_key(|g| g.index)
        && h.final_read
    {
        let fine = h.final_guarded.as_deref() == Some(last.value.as_str())
            || h.final_guarded
                .as_ref()
                .is_some_and(|f| h.guarded_unknown.contains(f));
        if !fine {
            v(format!(
                "the guarded key's final value is {:?}, but the acknowledged write with the \
                 highest index is {:?} (index {})",
                h.final_guarded, last.value, last.index
            ));
        }
    }
    // Client-view overlaps (reported only).
    let mut tenures: Vec<&Tenure> = h.tenures.iter().collect();
    tenures.sort_by_key(|t| t.from);
    for (i, a) in tenures.iter().enumerate() {
        for b in &tenures[i + 1..] {
            if b.from >= a.to {
                break;
            }
            if a.client != b.client {
                out.client_overlaps += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ver(m: u64, l: u64, s: Option<&str>) -> LockVersion {
        LockVersion {
            modify_index: m,
            lock_index: l,
            session: s.map(Into::into),
            source: "test".into(),
        }
    }

    fn gw(index: u64, session: &str, lock: LockVersion, value: &str) -> GuardedWrite {
        GuardedWrite {
            client: 1,
            session: session.into(),
            value: value.into(),
            index,
            lock,
            call: 0,
            ret: 1,
        }
    }

    #[test]
    fn a_clean_history_passes() {
        let h = LockHistory {
            versions: vec![
                ver(10, 1, Some("a")),
                ver(12, 1, None),
                ver(13, 2, Some("b")),
            ],
            guarded: vec![
                gw(11, "a", ver(10, 1, Some("a")), "x"),
                gw(14, "b", ver(13, 2, Some("b")), "y"),
            ],
            final_read: true,
            final_guarded: Some("y".into()),
            ..LockHistory::default()
        };
        let c = check(&h);
        assert!(c.violations.is_empty(), "{:?}", c.violations);
    }

    #[test]
    fn overlapping_tenures_and_stale_checks_are_caught() {
        let h = LockHistory {
            versions: vec![
                ver(10, 1, Some("a")),
                ver(13, 1, Some("b")),
                ver(15, 0, None),
            ],
            guarded: vec![gw(14, "a", ver(10, 1, Some("a")), "x")],
            final_read: true,
            final_guarded: Some("zzz".into()),
            ..LockHistory::default()
        };
        let c = check(&h);
        // LockIndex 1 with two sessions; LockIndex going back; stale check; lost final value.
        assert_eq!(c.violations.len(), 4, "{:#?}", c.violations);
    }
}
