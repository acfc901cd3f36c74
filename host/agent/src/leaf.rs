//! Leaf certificates for services (`/v1/agent/connect/ca/leaf/<service>`): the agent makes the
//! key and CSR, a server of its datacenter signs, and the agent keeps the result until a
//! renewal point drawn at random between 60% and 90% of its lifetime, or until the active root
//! changes (then within 30 s, jittered). A blocking request (`?index=`) returns when a newer
//! certificate exists.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use praetor_api::{AgentError, LeafCert};
use praetor_rpc::{Caller, Consistency, QueryRequest, Request, Response};
use praetor_state::{Query, QueryResult};
use tokio::sync::{Mutex, watch};

use crate::Shared;

/// Consul's default wait of a blocking leaf request.
const DEFAULT_WAIT: Duration = Duration::from_secs(600);
const MAX_WAIT: Duration = Duration::from_secs(600);

struct Entry {
    cert: LeafCert,
    /// The active root's signing key ID when it was issued.
    signing_key_id: String,
    /// Unix seconds after which it is renewed.
    renew_at: u64,
    /// The token it was signed with (another token re-signs).
    token: String,
    /// Unix seconds of the last request for it.
    used: u64,
}

/// Past this many cached leaves, those not asked for in [`IDLE`] are dropped.
const KEEP: usize = 1024;
const IDLE: u64 = 3600;

/// Drops leaves nobody asked for lately once the cache is large (names are chosen by callers).
fn evict(entries: &mut HashMap<String, Entry>, now: u64) {
    if entries.len() > KEEP {
        entries.retain(|_, e| now.saturating_sub(e.used) < IDLE);
    }
}

/// The agent's leaf certificates by service name.
#[derive(Default)]
pub struct Leaves {
    entries: Mutex<HashMap<String, Entry>>,
    /// Moves with every issued certificate (wakes blocking requests).
    issued: std::sync::Mutex<Option<watch::Sender<u64>>>,
    counter: std::sync::atomic::AtomicU64,
}

impl Leaves {
    fn notifier(&self) -> watch::Receiver<u64> {
        let mut g = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        g.get_or_insert_with(|| watch::channel(0).0).subscribe()
    }

    fn notify(&self, index: u64) {
        let g = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = g.as_ref() {
            tx.send_replace(index);
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn internal(e: impl std::fmt::Display) -> AgentError {
    AgentError::Internal(e.to_string())
}

/// Consul's renewal point: uniformly random in [60%, 90%] of the lifetime.
fn renew_at(valid_after: u64, valid_before: u64) -> u64 {
    let life = valid_before.saturating_sub(valid_after);
    let frac = 0.6 + 0.3 * rand::random::<f64>();
    valid_after + (life as f64 * frac) as u64
}

/// The trust domain's cluster ID, the active root's signing key ID and the roots' index, from
/// this datacenter.
async fn roots(shared: &Shared) -> Result<(String, String, u64), AgentError> {
    let mut q = QueryRequest::new(Query::CaRoots);
    q.consistency = Consistency::Stale;
    let r = shared.rpc.query(None, q).await.map_err(internal)?;
    match r.output.result {
        QueryResult::CaRoots { cluster_id, roots } if !cluster_id.is_empty() => {
            let signing = roots
                .iter()
                .find(|r| r.active)
                .map(|r| r.signing_key_id.clone())
                .ok_or_else(|| internal(praetor_rpc::ca::NOT_READY))?;
            Ok((cluster_id, signing, r.output.index))
        }
        QueryResult::CaRoots { .. } => Err(internal(praetor_rpc::ca::NOT_READY)),
        other => Err(internal(format!("unexpected answer {other:?}"))),
    }
}

/// Makes a key and a CSR for `service` and has a server sign it with `token`.
async fn issue(
    shared: &Shared,
    service: &str,
    token: &str,
    cluster_id: &str,
    previous: u64,
) -> Result<LeafCert, AgentError> {
    let spiffe = praetor_ca::SpiffeId::Service {
        trust_domain: praetor_ca::trust_domain(cluster_id),
        namespace: "default".into(),
        datacenter: shared.config.datacenter.clone(),
        service: service.to_string(),
    };
    let key = praetor_ca::generate_leaf_key().map_err(internal)?;
    let csr = praetor_ca::leaf_csr(&spiffe, &[], &key).map_err(internal)?;
    let caller = Caller::Token(token.to_string());
    let signed = shared
        .rpc
        .call_as(&caller, None, Request::CaSignLeaf { csr_pem: csr })
        .await
        .map_err(|e| match e.root() {
            praetor_rpc::RpcError::PermissionDenied(_) | praetor_rpc::RpcError::AclNotFound(_) => {
                AgentError::Forbidden(e.to_string())
            }
            praetor_rpc::RpcError::RateLimited => AgentError::TooManyRequests(e.root().to_string()),
            _ => internal(e),
        })?;
    let Response::CaLeaf(leaf) = signed else {
        return Err(internal("unexpected answer to the sign request"));
    };
    let index = leaf.index.max(previous + 1);
    Ok(LeafCert {
        cert_pem: leaf.cert_pem,
        private_key_pem: key,
        serial_hex: leaf.serial_hex,
        spiffe_uri: leaf.spiffe_uri,
        valid_after: leaf.valid_after,
        valid_before: leaf.valid_before,
        create_index: index,
        modify_index: index,
        cache_hit: false,
    })
}

/// `/v1/agent/connect/ca/leaf/<service>`.
pub async fn get(
    shared: &Arc<Shared>,
    service: &str,
    token: String,
    min_index: u64,
    wait: Option<&str>,
) -> Result<LeafCert, AgentError> {
    let wait = match wait {
        Some(w) if !w.is_empty() => praetor_config::parse_duration(w)
            .map_err(|e| AgentError::BadRequest(format!("Invalid wait time: {e}")))?
            .min(MAX_WAIT),
        _ => DEFAULT_WAIT,
    };
    let deadline = tokio::time::Instant::now() + wait;
    let leaves = &shared.leaves;
    let mut rx = leaves.notifier();
    loop {
        let (cluster_id, signing, roots_index) = roots(shared).await?;
        let mut entries = leaves.entries.lock().await;
        let now = now();
        if let Some(e) = entries.get_mut(service) {
            e.used = now;
        }
        let fresh = entries
            .get(service)
            .filter(|e| e.token == token && now < e.renew_at && e.signing_key_id == signing);
        match fresh {
            Some(e) if e.cert.modify_index > min_index => {
                let mut cert = e.cert.clone();
                cert.cache_hit = true;
                return Ok(cert);
            }
            Some(e) if min_index > 0 => {
                // Block until a newer one exists, its renewal point, or the wait is over.
                let renew = e.renew_at;
                let current = e.cert.clone();
                drop(entries);
                let until_renew = Duration::from_secs(renew.saturating_sub(now));
                let wake = (tokio::time::Instant::now() + until_renew).min(deadline);
                // A new active root also ends the wait (the next round re-issues).
                let mut q = QueryRequest::new(Query::CaRoots);
                q.consistency = Consistency::Stale;
                q.min_index = roots_index;
                q.wait_ms = wake
                    .saturating_duration_since(tokio::time::Instant::now())
                    .as_millis() as u64;
                let woken = tokio::select! {
                    r = rx.changed() => r.is_ok(),
                    _ = shared.rpc.query(None, q) => true,
                    _ = tokio::time::sleep_until(wake) => false,
                };
                if !woken && tokio::time::Instant::now() >= deadline {
                    let mut cert = current;
                    cert.cache_hit = true;
                    return Ok(cert);
                }
                continue;
            }
            _ => {}
        }
        // Missing, stale, or signed for another root or token: issue a new one.
        let previous = entries
            .get(service)
            .map(|e| e.cert.modify_index)
            .unwrap_or(0)
            .max(leaves.counter.load(std::sync::atomic::Ordering::Relaxed));
        let cert = issue(shared, service, &token, &cluster_id, previous).await?;
        leaves
            .counter
            .fetch_max(cert.modify_index, std::sync::atomic::Ordering::Relaxed);
        let renew = renew_at(cert.valid_after, cert.valid_before);
        tracing::debug!(service, serial = %cert.serial_hex, "leaf certificate issued");
        evict(&mut entries, now);
        entries.insert(
            service.to_string(),
            Entry {
                cert: cert.clone(),
                signing_key_id: signing,
                renew_at: renew,
                token: token.clone(),
                used: now,
            },
        );
        drop(entries);
        leaves.notify(cert.modify_index);
        if cert.modify_index > min_index {
            return Ok(cert);
        }
    }
}
