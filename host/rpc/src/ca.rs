//! The Connect CA on a server (Consul's CA manager): the primary's first root, rotation with
//! cross-signing, a secondary's state from the primary's roots and its own intermediate, and
//! signing (leaves here, intermediates in the primary). Crypto is `praetor-ca`; this module
//! only decides what to sign and what the state becomes.

use std::time::Duration;

use praetor_ca::{CaConfig, CaError, LeafPolicy, Signer, SpiffeId};
use praetor_state::{CaConfiguration, CaRoot, CaSigner, CaState, Store};
use serde_json::{Map, Value};

use crate::RpcError;
use crate::acl::Identity;
use crate::messages::CaLeaf;

/// Consul's text while the CA has no root yet.
pub const NOT_READY: &str = "CA has not finished initializing";
/// The provider praetor has.
pub const PROVIDER: &str = "consul";

/// How long a CSR waits for the limiter before `Rate limit reached` (Consul: 500 ms).
const CSR_WAIT: Duration = Duration::from_millis(500);

/// Consul's CSR limits on a server: a token bucket of `CSRMaxPerSecond` (burst as large), or,
/// when that is 0, at most `CSRMaxConcurrent` signings at once (0 and 0: no limit).
#[derive(Default)]
pub struct CsrLimiter {
    /// (tokens, when last refilled).
    bucket: std::sync::Mutex<Option<(f64, std::time::Instant)>>,
    concurrent: std::sync::Mutex<Option<(u32, std::sync::Arc<tokio::sync::Semaphore>)>>,
}

impl CsrLimiter {
    /// Waits (at most 500 ms) for the right to sign one CSR; the permit, if any, must be held
    /// while signing.
    pub async fn acquire(
        &self,
        per_second: f64,
        concurrent: u32,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, RpcError> {
        if per_second > 0.0 {
            let wait = {
                let mut g = self
                    .bucket
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = std::time::Instant::now();
                let burst = per_second.max(1.0);
                let (tokens, last) = g.get_or_insert((burst, now));
                *tokens =
                    (*tokens + now.duration_since(*last).as_secs_f64() * per_second).min(burst);
                *last = now;
                let wait = if *tokens >= 1.0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs_f64((1.0 - *tokens) / per_second)
                };
                if wait > CSR_WAIT {
                    return Err(RpcError::RateLimited);
                }
                *tokens -= 1.0;
                wait
            };
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            return Ok(None);
        }
        if concurrent == 0 {
            return Ok(None);
        }
        let sem = {
            let mut g = self
                .concurrent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match g.as_ref() {
                Some((n, s)) if *n == concurrent => s.clone(),
                _ => {
                    let s = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrent as usize));
                    *g = Some((concurrent, s.clone()));
                    s
                }
            }
        };
        match tokio::time::timeout(CSR_WAIT, sem.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(RpcError::RateLimited),
        }
    }
}

/// The provider configuration a stored CA configuration holds.
fn parsed(cfg: &CaConfiguration) -> Result<CaConfig, RpcError> {
    let map: Map<String, Value> = serde_json::from_str(&cfg.config_json).unwrap_or_default();
    CaConfig::from_json(&map).map_err(ca_err)
}

/// The CSR limits of the stored configuration: (per second, concurrent).
pub fn csr_limits(state: &CaState) -> (f64, u32) {
    state
        .config
        .as_ref()
        .and_then(|cfg| parsed(cfg).ok())
        .map_or((0.0, 0), |c| (c.csr_max_per_second, c.csr_max_concurrent))
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn ca_err(e: CaError) -> RpcError {
    RpcError::BadRequest(e.to_string())
}

fn secs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A root record (Consul's `CARoot`) for `root_pem`, whose leaves are signed by `signer_pem`.
fn root_record(
    root_pem: &str,
    signer_pem: &str,
    cluster_id: &str,
    intermediates: Vec<String>,
) -> Result<CaRoot, CaError> {
    let root = praetor_ca::cert_info(root_pem)?;
    let signer = praetor_ca::cert_info(signer_pem)?;
    Ok(CaRoot {
        id: root.id,
        name: "Consul CA Primary Cert".into(),
        serial_number: root.serial_number,
        signing_key_id: signer.subject_key_id,
        external_trust_domain: cluster_id.to_string(),
        not_before: secs(root.not_before),
        not_after: secs(root.not_after),
        root_cert: root_pem.to_string(),
        intermediate_certs: intermediates,
        active: true,
        rotated_out_at: 0,
        private_key_type: root
            .key_type
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        private_key_bits: root.key_bits,
        create_index: 0,
        modify_index: 0,
    })
}

/// The configuration as stored: Consul's CamelCase keys.
fn stored_config(cluster_id: &str, config: &CaConfig) -> CaConfiguration {
    CaConfiguration {
        provider: PROVIDER.into(),
        config_json: Value::Object(config.to_json()).to_string(),
        cluster_id: cluster_id.to_string(),
        create_index: 0,
        modify_index: 0,
    }
}

/// The primary's first CA: a new root (or the configured one) for `cluster_id`.
pub fn initial_primary(
    cluster_id: &str,
    ca_config: &Map<String, Value>,
    now: i64,
) -> Result<CaState, CaError> {
    let config = CaConfig::from_json(ca_config)?;
    config.validate()?;
    let root = praetor_ca::new_root(cluster_id, &config, now)?;
    Ok(CaState {
        config: Some(stored_config(cluster_id, &config)),
        roots: vec![root_record(
            &root.cert_pem,
            &root.cert_pem,
            cluster_id,
            Vec::new(),
        )?],
        signer: Some(CaSigner {
            cert_pem: root.cert_pem,
            key_pem: root.key_pem,
        }),
    })
}

/// `PUT /v1/connect/ca/configuration` in the primary: `None` when nothing changes. A change
/// of the key settings (or a supplied root) makes a new root, cross-signed by the old one;
/// other changes update the configuration only (Consul: `CA provider config updated`).
pub fn reconfigure(
    current: &CaState,
    provider: &str,
    config_json: &str,
    force_without_cross_signing: bool,
    now: i64,
) -> Result<Option<CaState>, RpcError> {
    if !provider.is_empty() && provider != PROVIDER {
        return Err(RpcError::BadRequest(format!(
            "could not initialize provider: {provider} is not a valid CA provider (praetor has only \"consul\")"
        )));
    }
    let (Some(cfg), Some(signer)) = (&current.config, &current.signer) else {
        return Err(RpcError::Internal(NOT_READY.into()));
    };
    let map: Map<String, Value> = serde_json::from_str(config_json)
        .map_err(|e| RpcError::BadRequest(format!("Request decode failed: {e}")))?;
    let new = CaConfig::from_json(&map).map_err(ca_err)?;
    new.validate().map_err(ca_err)?;
    let old = parsed(cfg)?;
    let stored = stored_config(&cfg.cluster_id, &new);
    if stored.config_json == cfg.config_json {
        return Ok(None);
    }
    let rotate = new.private_key_type != old.private_key_type
        || new.private_key_bits != old.private_key_bits
        || new.private_key != old.private_key
        || new.root_cert != old.root_cert;
    if !rotate {
        tracing::info!("CA provider config updated");
        return Ok(Some(CaState {
            config: Some(stored),
            roots: current.roots.clone(),
            signer: current.signer.clone(),
        }));
    }
    let root = praetor_ca::new_root(&cfg.cluster_id, &new, now).map_err(ca_err)?;
    let old_signer = Signer {
        cert_pem: signer.cert_pem.clone(),
        key_pem: signer.key_pem.clone(),
    };
    let cross = match praetor_ca::cross_sign(&old_signer, &root.cert_pem, now) {
        Ok(c) => vec![c],
        Err(_) if force_without_cross_signing => Vec::new(),
        Err(e) => return Err(ca_err(e)),
    };
    let mut roots: Vec<CaRoot> = current
        .roots
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.active {
                r.active = false;
                r.rotated_out_at = secs(now);
            }
            r
        })
        .collect();
    let new_root =
        root_record(&root.cert_pem, &root.cert_pem, &cfg.cluster_id, cross).map_err(ca_err)?;
    roots.push(new_root);
    tracing::info!("CA rotated to new root under provider");
    Ok(Some(CaState {
        config: Some(stored),
        roots,
        signer: Some(CaSigner {
            cert_pem: root.cert_pem,
            key_pem: root.key_pem,
        }),
    }))
}

/// Drops roots rotated out more than twice the leaf TTL ago (Consul's pruning).
pub fn prune(state: &CaState, now: i64) -> Option<CaState> {
    let ttl = leaf_ttl(state).ok()?;
    let cutoff = secs(now).saturating_sub(2 * ttl.as_secs());
    let keep: Vec<CaRoot> = state
        .roots
        .iter()
        .filter(|r| r.active || r.rotated_out_at == 0 || r.rotated_out_at > cutoff)
        .cloned()
        .collect();
    (keep.len() != state.roots.len()).then(|| CaState {
        roots: keep,
        ..state.clone()
    })
}

/// The leaf TTL of the stored configuration.
pub fn leaf_ttl(state: &CaState) -> Result<Duration, RpcError> {
    let cfg = state
        .config
        .as_ref()
        .ok_or_else(|| RpcError::Internal(NOT_READY.into()))?;
    Ok(parsed(cfg)?.leaf_cert_ttl)
}

/// A secondary's key and CSR for a new intermediate in the primary's trust domain.
pub fn secondary_csr(
    cluster_id: &str,
    ca_config: &Map<String, Value>,
) -> Result<(String, String), CaError> {
    let config = CaConfig::from_json(ca_config)?;
    config.validate()?;
    let key = praetor_ca::generate_key(config.private_key_type, config.private_key_bits)?;
    let csr = praetor_ca::intermediate_csr(&praetor_ca::trust_domain(cluster_id), &key)?;
    Ok((key, csr))
}

/// Whether a secondary must get a new intermediate: none yet, or the primary's active root
/// changed (the stored copy no longer matches).
pub fn secondary_needs_intermediate(
    current: &CaState,
    cluster_id: &str,
    primary: &[CaRoot],
) -> bool {
    let Some(signer) = &current.signer else {
        return true;
    };
    let active_here = current.roots.iter().find(|r| r.active).map(|r| &r.id);
    let active_there = primary.iter().find(|r| r.active).map(|r| &r.id);
    let same_domain = current
        .config
        .as_ref()
        .is_some_and(|c| c.cluster_id == cluster_id);
    if !same_domain || active_here != active_there {
        return true;
    }
    // Renew when less than a tenth of the intermediate's life is left.
    praetor_ca::cert_info(&signer.cert_pem).map_or(true, |i| {
        let life = i.not_after - i.not_before;
        i.not_after - now_secs() < life / 10
    })
}

/// A secondary's CA state: the primary's roots (same IDs and certificates) with this
/// datacenter's intermediate appended to the active one, which signs its leaves.
pub fn secondary_state(
    cluster_id: &str,
    ca_config: &Map<String, Value>,
    primary: &[CaRoot],
    intermediate_pem: String,
    key_pem: String,
) -> Result<CaState, CaError> {
    let config = CaConfig::from_json(ca_config)?;
    let inter = praetor_ca::cert_info(&intermediate_pem)?;
    let roots = primary
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.create_index = 0;
            r.modify_index = 0;
            if r.active {
                r.intermediate_certs.push(intermediate_pem.clone());
                r.signing_key_id = inter.subject_key_id.clone();
            }
            r
        })
        .collect();
    Ok(CaState {
        config: Some(stored_config(cluster_id, &config)),
        roots,
        signer: Some(CaSigner {
            cert_pem: intermediate_pem,
            key_pem,
        }),
    })
}

/// Signs a leaf CSR with this datacenter's signer, after checking that the caller may have a
/// certificate for the identity in it (Consul: service → `service:write`, agent →
/// `node:write`, mesh gateway → `mesh:write`, server → `acl:write`).
pub fn sign_leaf(
    store: &Store,
    identity: Option<&Identity>,
    datacenter: &str,
    csr_pem: &str,
    index: u64,
) -> Result<CaLeaf, RpcError> {
    let state = store.ca_state();
    let (Some(cfg), Some(signer)) = (&state.config, &state.signer) else {
        return Err(RpcError::Internal(NOT_READY.into()));
    };
    let ttl = leaf_ttl(state)?;
    let signer = Signer {
        cert_pem: signer.cert_pem.clone(),
        key_pem: signer.key_pem.clone(),
    };
    let policy = LeafPolicy {
        trust_domain: praetor_ca::trust_domain(&cfg.cluster_id),
        datacenter: datacenter.to_string(),
    };
    // Random serials (Consul counts them in the provider's state; any unique value works).
    let serial = rand::random::<u64>() >> 1;
    let leaf = praetor_ca::sign_leaf(&signer, csr_pem, &policy, ttl, serial, now_secs())
        .map_err(ca_err)?;
    if let Some(id) = identity {
        let e = id.enforcer();
        match &leaf.spiffe {
            SpiffeId::Service { service, .. } => e.service_write_allowed(service)?,
            SpiffeId::Agent { node_id, .. } => e.node_write_allowed(node_id)?,
            SpiffeId::MeshGateway { .. } => e.mesh_write_allowed()?,
            SpiffeId::Server { .. } | SpiffeId::Signing { .. } => e.acl_write_allowed()?,
        }
    }
    let mut cert_pem = leaf.cert_pem.clone();
    if let Some(active) = state.roots.iter().find(|r| r.active) {
        for i in &active.intermediate_certs {
            if !cert_pem.ends_with('\n') {
                cert_pem.push('\n');
            }
            cert_pem.push_str(i);
        }
    }
    Ok(CaLeaf {
        cert_pem,
        serial_hex: leaf.serial_hex,
        spiffe_uri: leaf.spiffe.uri(),
        valid_after: secs(leaf.valid_after),
        valid_before: secs(leaf.valid_before),
        index,
    })
}

/// The primary signs a secondary's intermediate with its own signer.
pub fn sign_intermediate(store: &Store, csr_pem: &str) -> Result<String, RpcError> {
    let state = store.ca_state();
    let (Some(cfg), Some(signer)) = (&state.config, &state.signer) else {
        return Err(RpcError::Internal(NOT_READY.into()));
    };
    let config = parsed(cfg)?;
    let signer = Signer {
        cert_pem: signer.cert_pem.clone(),
        key_pem: signer.key_pem.clone(),
    };
    praetor_ca::sign_intermediate(
        &signer,
        csr_pem,
        &praetor_ca::trust_domain(&cfg.cluster_id),
        config.intermediate_cert_ttl,
        now_secs(),
    )
    .map_err(ca_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn csr_rate_limit_refuses_beyond_half_a_second_of_wait() {
        let l = CsrLimiter::default();
        assert!(l.acquire(1.0, 0).await.is_ok(), "the burst");
        assert_eq!(l.acquire(1.0, 0).await.unwrap_err(), RpcError::RateLimited);
        assert_eq!(
            RpcError::RateLimited.to_string(),
            "Rate limit reached, try again later"
        );
        assert!(l.acquire(0.0, 0).await.is_ok(), "no limit");
    }

    #[tokio::test]
    async fn csr_concurrency_limit_waits_then_refuses() {
        let l = CsrLimiter::default();
        let held = l.acquire(0.0, 1).await.unwrap();
        assert!(held.is_some());
        assert_eq!(l.acquire(0.0, 1).await.unwrap_err(), RpcError::RateLimited);
        drop(held);
        assert!(l.acquire(0.0, 1).await.unwrap().is_some());
    }

    #[test]
    fn primary_state_signs_leaves_and_refuses_foreign_csrs() {
        let state = initial_primary(
            "11111111-2222-3333-4444-555555555555",
            &Map::new(),
            now_secs(),
        )
        .unwrap();
        let mut store = Store::new();
        store.apply(
            1,
            praetor_state::Command::CaSet {
                state: Box::new(state),
                cas: Some(0),
            },
        );
        let td = "11111111-2222-3333-4444-555555555555.consul";
        let key = praetor_ca::generate_leaf_key().unwrap();
        let spiffe = |td: &str, dc: &str| SpiffeId::Service {
            trust_domain: td.into(),
            namespace: "default".into(),
            datacenter: dc.into(),
            service: "web".into(),
        };
        let csr = praetor_ca::leaf_csr(&spiffe(td, "dc1"), &[], &key).unwrap();
        let leaf = sign_leaf(&store, None, "dc1", &csr, 1).unwrap();
        assert_eq!(
            leaf.spiffe_uri,
            format!("spiffe://{td}/ns/default/dc/dc1/svc/web")
        );
        let foreign = praetor_ca::leaf_csr(&spiffe("other.consul", "dc1"), &[], &key).unwrap();
        let e = sign_leaf(&store, None, "dc1", &foreign, 1).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SPIFFE ID in CSR from a different trust domain: other.consul"),
            "{e}"
        );
        let other_dc = praetor_ca::leaf_csr(&spiffe(td, "dc9"), &[], &key).unwrap();
        assert!(sign_leaf(&store, None, "dc1", &other_dc, 1).is_err());
        // A rotation keeps the old root listed, inactive.
        let next = reconfigure(
            store.ca_state(),
            "consul",
            r#"{"PrivateKeyType":"ec","PrivateKeyBits":384}"#,
            false,
            now_secs(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(next.roots.len(), 2);
        assert_eq!(next.roots.iter().filter(|r| r.active).count(), 1);
        assert_eq!(next.roots[1].intermediate_certs.len(), 1, "cross-signed");
        // Unchanged configuration: nothing to write.
        assert!(
            reconfigure(
                &next,
                "consul",
                &next.config.as_ref().unwrap().config_json,
                false,
                now_secs()
            )
            .unwrap()
            .is_none()
        );
    }
}
