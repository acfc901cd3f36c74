//! Anti-entropy: periodically, and whenever the local state changes, make the catalog's view of
//! this node match the agent's own services and checks.

use std::sync::Arc;
use std::time::Duration;

use praetor_rpc::{QueryRequest, RpcError, now_ms};
use praetor_state::{Command, CommandResult, HealthCheck, Query, QueryResult, Service};

use crate::Shared;
use crate::local::plan;

/// Consul's anti-entropy interval for small clusters.
const FULL_SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// Retry delay after a failed sync (no server, no leader yet).
const RETRY: Duration = Duration::from_secs(1);

pub async fn run(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = shared.sync_now.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = match sync_once(&shared).await {
            Ok(()) => FULL_SYNC_INTERVAL,
            Err(e) => {
                tracing::debug!(error = %e, "anti-entropy sync failed, retrying");
                RETRY
            }
        };
    }
}

async fn apply(shared: &Shared, cmd: Command) -> Result<(), RpcError> {
    match shared.rpc.apply(None, cmd).await? {
        CommandResult::Error(e) => Err(RpcError::Internal(e)),
        _ => Ok(()),
    }
}

/// One full comparison and the writes it calls for.
pub async fn sync_once(shared: &Shared) -> Result<(), RpcError> {
    let me = shared.node_registration();
    let node_q = QueryRequest::new(Query::CatalogNode {
        node: me.node.clone(),
    });
    let (remote_node, remote_services): (Option<praetor_state::Node>, Vec<Service>) =
        match shared.rpc.query(None, node_q).await?.output.result {
            QueryResult::NodeServices(Some((n, s))) => (Some(n), s),
            _ => (None, Vec::new()),
        };
    let checks_q = QueryRequest::new(Query::HealthNode {
        node: me.node.clone(),
    });
    let remote_checks: Vec<HealthCheck> =
        match shared.rpc.query(None, checks_q).await?.output.result {
            QueryResult::Checks(c) => c,
            _ => Vec::new(),
        };
    let node_in_sync = remote_node.as_ref().is_some_and(|n| {
        n.id == me.id
            && n.address == me.address
            && n.tagged_addresses == me.tagged_addresses
            && n.meta == me.meta
    });
    let p = {
        let local = shared
            .local
            .lock()
            .map_err(|_| RpcError::Internal("local state poisoned".into()))?;
        plan(&local, &remote_services, &remote_checks)
    };
    if node_in_sync && p.is_empty() {
        return Ok(());
    }
    if !node_in_sync {
        apply(
            shared,
            Command::Register {
                node: me.clone(),
                service: None,
                checks: vec![],
                now_ms: now_ms(),
            },
        )
        .await?;
    }
    // A service is registered together with its checks in one command, so the catalog never
    // shows it without them (it would look healthy for a moment).
    let mut checks = p.register_checks;
    for s in p.register_services {
        let (own, rest): (Vec<HealthCheck>, Vec<HealthCheck>) =
            checks.into_iter().partition(|c| c.service_id == s.id);
        checks = rest;
        apply(
            shared,
            Command::Register {
                node: me.clone(),
                service: Some(s),
                checks: own,
                now_ms: now_ms(),
            },
        )
        .await?;
    }
    if !checks.is_empty() {
        apply(
            shared,
            Command::Register {
                node: me.clone(),
                service: None,
                checks,
                now_ms: now_ms(),
            },
        )
        .await?;
    }
    for id in p.deregister_services {
        let cmd = Command::Deregister {
            node: me.node.clone(),
            service_id: Some(id),
            check_id: None,
            now_ms: now_ms(),
        };
        apply(shared, cmd).await?;
    }
    for id in p.deregister_checks {
        let cmd = Command::Deregister {
            node: me.node.clone(),
            service_id: None,
            check_id: Some(id),
            now_ms: now_ms(),
        };
        apply(shared, cmd).await?;
    }
    Ok(())
}
