//! The Connect CA's leader duties: the primary creates its root on its first leadership and
//! prunes rotated-out roots; a secondary follows the primary's roots with blocking reads and
//! gets its intermediate signed by the primary (replication token), so its leaves chain to the
//! primary's root and it keeps signing while the primary is down.

use std::time::{Duration, Instant};

use praetor_consensus::Consensus;
use praetor_rpc::{Caller, Consistency, QueryRequest, Request, Response, Rpc, ca};
use praetor_state::{CaRoot, Command, Query, QueryResult};
use serde_json::{Map, Value};

use crate::Shared;
use crate::leader::{LeaderTask, write};

/// How often the primary's leader prunes old roots (Consul: hourly).
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// How long one blocking read of the primary's roots waits.
const ROOTS_WAIT: Duration = Duration::from_secs(60);

/// The leader's CA bookkeeping, reset with the leadership.
#[derive(Default)]
pub(crate) struct CaLeader {
    last_prune: Option<Instant>,
    /// A secondary's root watcher.
    watcher: LeaderTask,
}

impl CaLeader {
    pub(crate) async fn run(
        &mut self,
        shared: &Shared,
        consensus: &Consensus,
    ) -> Result<(), String> {
        let cfg = &shared.config;
        if !cfg.connect.enabled {
            return Ok(());
        }
        if cfg.datacenter != cfg.primary_datacenter {
            let (rpc, consensus) = (shared.rpc.clone(), consensus.clone());
            let (primary, ca_config) = (
                cfg.primary_datacenter.clone(),
                cfg.connect.ca_config.clone(),
            );
            let acl = cfg.acl.enabled;
            self.watcher
                .ensure(|| secondary(rpc, consensus, primary, ca_config, acl));
            return Ok(());
        }
        let current = consensus.store().read(|s| s.ca_state().clone());
        if current.config.is_none() {
            let cluster_id = uuid::Uuid::new_v4().to_string();
            let state = ca::initial_primary(&cluster_id, &cfg.connect.ca_config, ca::now_secs())
                .map_err(|e| format!("initializing the CA: {e}"))?;
            write(
                consensus,
                Command::CaSet {
                    state: Box::new(state),
                    cas: Some(0),
                },
            )
            .await?;
            tracing::info!(trust_domain = %format!("{cluster_id}.consul"), "initialized primary datacenter CA");
            return Ok(());
        }
        if self
            .last_prune
            .is_none_or(|t| t.elapsed() >= PRUNE_INTERVAL)
        {
            self.last_prune = Some(Instant::now());
            if let Some(pruned) = ca::prune(&current, ca::now_secs()) {
                let cas = current.config.as_ref().map(|c| c.modify_index);
                write(
                    consensus,
                    Command::CaSet {
                        state: Box::new(pruned),
                        cas,
                    },
                )
                .await?;
                tracing::info!("pruned old CA roots");
            }
        }
        Ok(())
    }
}

/// Roots without this datacenter's additions (its intermediate), to compare with the
/// primary's.
fn primary_view(roots: &[CaRoot], ours: Option<&str>) -> Vec<(String, bool, usize)> {
    roots
        .iter()
        .map(|r| {
            let extra = usize::from(
                r.active && ours.is_some_and(|o| r.intermediate_certs.iter().any(|i| i == o)),
            );
            (r.id.clone(), r.active, r.intermediate_certs.len() - extra)
        })
        .collect()
}

/// A secondary leader's CA: follow the primary's roots, keep an intermediate signed by the
/// primary for the active one.
async fn secondary(
    rpc: Rpc,
    consensus: Consensus,
    primary: String,
    ca_config: Map<String, Value>,
    acl: bool,
) {
    let mut last = 0u64;
    let mut failures = 0u32;
    loop {
        let caller = if acl {
            let secret = rpc.agent_tokens().replication;
            if secret.is_empty() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Caller::Token(secret)
        } else {
            Caller::Internal
        };
        let mut q = QueryRequest::new(Query::CaRoots);
        q.consistency = Consistency::Stale;
        q.min_index = last;
        q.wait_ms = ROOTS_WAIT.as_millis() as u64;
        let round = async {
            let r = rpc
                .query_as(&caller, Some(&primary), q)
                .await
                .map_err(|e| format!("failed to get CA roots from primary DC: {e}"))?;
            let index = r.output.index;
            let QueryResult::CaRoots { cluster_id, roots } = r.output.result else {
                return Err("unexpected answer to the roots query".to_string());
            };
            if cluster_id.is_empty() || roots.is_empty() {
                return Err("trust domain from primary datacenter is not initialized".into());
            }
            follow(
                &rpc,
                &consensus,
                &caller,
                &primary,
                &ca_config,
                &cluster_id,
                &roots,
            )
            .await?;
            Ok(index)
        };
        match round.await {
            Ok(index) => {
                last = index;
                failures = 0;
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                last = 0;
                tracing::warn!(%error, datacenter = %primary, "secondary CA initialization failed");
                tokio::time::sleep(Duration::from_secs(1 << failures.min(5))).await;
            }
        }
    }
}

/// Brings this datacenter's CA in line with the primary's roots.
async fn follow(
    rpc: &Rpc,
    consensus: &Consensus,
    caller: &Caller,
    primary: &str,
    ca_config: &Map<String, Value>,
    cluster_id: &str,
    roots: &[CaRoot],
) -> Result<(), String> {
    let current = consensus.store().read(|s| s.ca_state().clone());
    let ours = current.signer.as_ref().map(|s| s.cert_pem.as_str());
    let (key_pem, intermediate) = if ca::secondary_needs_intermediate(&current, cluster_id, roots) {
        let (key, csr) = ca::secondary_csr(cluster_id, ca_config).map_err(|e| e.to_string())?;
        let signed = rpc
            .call_as(
                caller,
                Some(primary),
                Request::CaSignIntermediate { csr_pem: csr },
            )
            .await
            .map_err(|e| {
                format!("Primary datacenter refused to sign our intermediate CA certificate: {e}")
            })?;
        let Response::CaIntermediate(cert) = signed else {
            return Err("unexpected answer to the intermediate request".into());
        };
        tracing::info!("received new intermediate certificate from primary datacenter");
        (key, cert)
    } else if primary_view(&current.roots, ours) == primary_view(roots, None) {
        return Ok(());
    } else {
        let Some(s) = current.signer.clone() else {
            return Ok(());
        };
        (s.key_pem, s.cert_pem)
    };
    let state = ca::secondary_state(cluster_id, ca_config, roots, intermediate, key_pem)
        .map_err(|e| e.to_string())?;
    write(
        consensus,
        Command::CaSet {
            state: Box::new(state),
            cas: None,
        },
    )
    .await
}
