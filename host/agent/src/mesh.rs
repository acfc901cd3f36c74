//! Intentions on this agent: follows the datacenter's `service-intentions` config entries with
//! blocking reads, hands each new set to the `intentions` plugin slot, and explains the slot's
//! decisions in Consul's words (`/v1/agent/connect/authorize`, `/v1/connect/intentions/check`).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use praetor_api::IntentionVerdict;
use praetor_mesh::ConfigEntry;
use praetor_mesh::intentions::{self as ixn, IntentionView};
use praetor_rpc::{Consistency, QueryRequest};
use praetor_state::{Query, QueryResult};

use crate::Shared;

/// How long one blocking read of the intentions waits for a change.
const WATCH_WAIT: Duration = Duration::from_secs(300);
/// The longest pause between retries when no server answers.
const MAX_BACKOFF: Duration = Duration::from_secs(16);

/// The intentions the plugin slot was last given, by the key the evaluator reports.
#[derive(Default)]
pub struct Intentions {
    by_key: RwLock<BTreeMap<String, IntentionView>>,
}

/// The verdict when no intention matches: allow with ACLs off, else the ACL default policy.
fn default_allow(shared: &Shared) -> bool {
    let acl = &shared.config.acl;
    !acl.enabled || acl.default_policy == "allow"
}

/// Follows the intentions until shutdown.
pub async fn watch(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    let mut last = 0u64;
    let mut backoff = Duration::from_millis(250);
    loop {
        let mut q = QueryRequest::new(Query::ConfigEntries {
            kind: Some(praetor_mesh::Kind::ServiceIntentions.as_str().into()),
            name: None,
        });
        q.min_index = last;
        q.wait_ms = WATCH_WAIT.as_millis() as u64;
        q.consistency = Consistency::Stale;
        let answer = tokio::select! {
            r = shared.rpc.query(None, q) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        let resp = match answer {
            Ok(r) => r,
            Err(error) => {
                tracing::debug!(%error, "reading intentions failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(250);
        if resp.output.index == last {
            continue;
        }
        last = resp.output.index;
        let QueryResult::ConfigEntries(entries) = resp.output.result else {
            continue;
        };
        let typed: Vec<_> = entries
            .iter()
            .filter_map(|e| match ConfigEntry::from_stored(&e.kind, &e.body) {
                Ok(ConfigEntry::ServiceIntentions(x)) => Some((x, e.create_index, e.modify_index)),
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(%error, name = %e.name, "skipping an undecodable intentions entry");
                    None
                }
            })
            .collect();
        let views = ixn::views(typed.iter().map(|(e, c, m)| (e, *c, *m)));
        install(&shared, views).await;
    }
}

/// Hands a set to the slot; the keys are published only once the slot took it.
async fn install(shared: &Arc<Shared>, views: Vec<IntentionView>) {
    let set: Vec<_> = views.iter().map(IntentionView::to_policy).collect();
    let count = set.len();
    let allow = default_allow(shared);
    let plugins = shared.plugins.clone();
    let taken = tokio::task::spawn_blocking(move || plugins.update_intentions(set, allow)).await;
    match taken {
        Ok(Ok(())) => {
            *shared
                .intentions
                .by_key
                .write()
                .unwrap_or_else(PoisonError::into_inner) = ixn::by_key(&views);
            tracing::debug!(intentions = count, "intention set updated");
        }
        Ok(Err(reason)) => {
            tracing::warn!(%reason, "the intentions slot refused the new set; the previous one stays");
        }
        Err(error) => tracing::warn!(%error, "updating the intention set failed"),
    }
}

/// Decides `source => destination` through the plugin slot: L4, or L7 with `http`.
pub fn authorize(
    shared: &Shared,
    source: &str,
    destination: &str,
    http: Option<praetor_policy::HttpRequest>,
) -> IntentionVerdict {
    let request = praetor_policy::Request {
        source: praetor_policy::Identity::service(source),
        destination: praetor_policy::Identity::service(destination),
        http,
    };
    let decision = shared.plugins.evaluate(&request);
    let view = decision.intention_id.as_ref().and_then(|key| {
        shared
            .intentions
            .by_key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    });
    let reason = match view {
        Some(v) if v.is_l7() => format!("Matched L7 intention: {}", v.describe()),
        Some(v) => format!("Matched L4 intention: {}", v.describe()),
        None => "Default behavior configured by ACLs".to_string(),
    };
    IntentionVerdict {
        allowed: decision.allowed,
        reason,
    }
}

/// The ID of a service's sidecar.
pub fn sidecar_id(parent_id: &str) -> String {
    format!("{parent_id}-sidecar-proxy")
}

/// Consul's `connect { sidecar_service {} }` expansion: a `connect-proxy` named and numbered
/// after its parent, on the given port or the lowest free one of the sidecar range (a
/// re-registration keeps its port), pointing at the parent, with Consul's two checks when none
/// is given. `used` holds the ports of the other local services; `current` is the port the
/// sidecar has now, if it exists.
pub fn expand_sidecar(
    parent: &praetor_config::ServiceDefinition,
    range: Option<(u16, u16)>,
    used: &[u16],
    current: Option<u16>,
) -> Result<Option<praetor_config::ServiceDefinition>, String> {
    let Some(spec) = &parent.sidecar else {
        return Ok(None);
    };
    let mut spec = (**spec).clone();
    let id = sidecar_id(&parent.id);
    spec.id = Some(id.clone());
    if spec.name.as_deref().is_none_or(str::is_empty) {
        spec.name = Some(format!("{}-sidecar-proxy", parent.name));
    }
    spec.kind = Some("connect-proxy".into());
    if spec.tags.is_empty() {
        spec.tags = parent.tags.clone();
    }
    if spec.meta.is_empty() {
        spec.meta = parent.meta.clone();
    }
    if spec.address.as_deref().is_none_or(str::is_empty) {
        spec.address = Some(parent.address.clone()).filter(|a| !a.is_empty());
    }
    if spec.port.is_none_or(|p| p == 0) {
        let Some((min, max)) = range else {
            return Err(
                "no port provided for sidecar_service and auto-assignment disabled in config"
                    .into(),
            );
        };
        let port = current
            .filter(|p| (min..=max).contains(p))
            .or_else(|| (min..=max).find(|p| !used.contains(p)))
            .ok_or_else(|| {
                format!(
                    "no port provided for sidecar_service and none left in the configured range [{min}, {max}]"
                )
            })?;
        spec.port = Some(port);
    }
    let mut proxy = spec.proxy.take().unwrap_or_default();
    proxy.destination_service_name = parent.name.clone();
    proxy.destination_service_id = parent.id.clone();
    if proxy.local_service_address.is_empty() {
        proxy.local_service_address = "127.0.0.1".into();
    }
    if proxy.local_service_port == 0 {
        proxy.local_service_port = parent.port;
    }
    spec.proxy = Some(proxy);
    if spec.checks.is_empty() {
        let addr = spec
            .address
            .clone()
            .unwrap_or_else(|| "127.0.0.1".to_string());
        let port = spec.port.unwrap_or(0);
        spec.checks = vec![
            praetor_config::CheckSpec {
                id: Some(format!("service:{id}:1")),
                name: Some("Connect Sidecar Listening".into()),
                tcp: Some(format!("{addr}:{port}")),
                interval: Some(Duration::from_secs(10)),
                ..Default::default()
            },
            praetor_config::CheckSpec {
                id: Some(format!("service:{id}:2")),
                name: Some(format!("Connect Sidecar Aliasing {}", parent.id)),
                alias_service: Some(parent.id.clone()),
                ..Default::default()
            },
        ];
    }
    spec.build()
        .map(Some)
        .map_err(|e| format!("Invalid SidecarService: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> praetor_config::ServiceDefinition {
        praetor_config::ServiceSpec {
            name: Some("web".into()),
            port: Some(8080),
            sidecar: Some(Box::default()),
            ..Default::default()
        }
        .build()
        .unwrap()
    }

    #[test]
    fn sidecar_expansion_follows_consul() {
        let s = expand_sidecar(&parent(), Some((21000, 21002)), &[21000], None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (s.id.as_str(), s.name.as_str()),
            ("web-sidecar-proxy", "web-sidecar-proxy")
        );
        assert_eq!(s.kind, "connect-proxy");
        assert_eq!(s.port, 21001, "lowest free port");
        let p = s.proxy.as_ref().unwrap();
        assert_eq!(
            (p.destination_service_name.as_str(), p.local_service_port),
            ("web", 8080)
        );
        assert_eq!(s.checks.len(), 2);
        assert_eq!(s.checks[0].name, "Connect Sidecar Listening");
        assert_eq!(s.checks[1].name, "Connect Sidecar Aliasing web");
        // A re-registration keeps its port; an exhausted or disabled range is refused.
        let again = expand_sidecar(
            &parent(),
            Some((21000, 21002)),
            &[21000, 21001],
            Some(21002),
        )
        .unwrap()
        .unwrap();
        assert_eq!(again.port, 21002);
        assert_eq!(
            expand_sidecar(&parent(), Some((21000, 21000)), &[21000], None).unwrap_err(),
            "no port provided for sidecar_service and none left in the configured range [21000, 21000]"
        );
        assert_eq!(
            expand_sidecar(&parent(), None, &[], None).unwrap_err(),
            "no port provided for sidecar_service and auto-assignment disabled in config"
        );
    }
}
