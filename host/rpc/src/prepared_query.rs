//! Executing a prepared query (Consul's `PreparedQuery.Execute`): the pure parts. Which
//! instances pass (health, node and service meta, tags) and which datacenters failover tries,
//! in the order the router slot ranks them. The reads and the forwarding are in `lib.rs`.

use praetor_state::{CheckServiceNode, CheckStatus, QueryFailover, ServiceQuery};
use serde::{Deserialize, Serialize};

/// The answer of an execute (Consul `PreparedQueryExecuteResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecuteResult {
    pub service: String,
    pub nodes: Vec<CheckServiceNode>,
    /// `DNS.TTL` of the query.
    pub dns_ttl: String,
    /// The datacenter that answered.
    pub datacenter: String,
    /// How many other datacenters were tried.
    pub failovers: u32,
    pub index: u64,
    /// Whether the answering server knew a leader, and how long since it heard from it.
    pub known_leader: bool,
    pub last_contact_ms: u64,
}

fn has_tag(tags: &[String], tag: &str) -> bool {
    tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
}

/// Consul's filters, in its order: an instance with a critical check (or, with `OnlyPassing`,
/// a warning one) is out, checks in `IgnoreCheckIDs` aside; `NodeMeta` and `ServiceMeta` must
/// all match exactly; every `Tags` entry must be present, every `!tag` absent (any case).
pub fn passes(q: &ServiceQuery, n: &CheckServiceNode) -> bool {
    let healthy = n
        .checks
        .iter()
        .filter(|c| !q.ignore_check_ids.contains(&c.check_id))
        .all(|c| match c.status {
            CheckStatus::Critical => false,
            CheckStatus::Warning => !q.only_passing,
            _ => true,
        });
    let meta = |want: &std::collections::BTreeMap<String, String>,
                have: &std::collections::BTreeMap<String, String>| {
        want.iter().all(|(k, v)| have.get(k) == Some(v))
    };
    let tags = q.tags.iter().all(|t| match t.strip_prefix('!') {
        Some(forbidden) => !has_tag(&n.service.tags, forbidden),
        None => has_tag(&n.service.tags, t),
    });
    healthy && meta(&q.node_meta, &n.node.meta) && meta(&q.service_meta, &n.service.meta) && tags
}

/// The datacenters to try when nothing local passes: the first `NearestN` of `ranked` (every
/// other known datacenter, nearest first as the router slot ranks them), then each of
/// `Datacenters` that is known and was not already taken by `NearestN`.
pub fn failover_targets(f: &QueryFailover, ranked: &[String]) -> Vec<String> {
    let nearest: Vec<String> = ranked.iter().take(f.nearest_n as usize).cloned().collect();
    let mut targets = nearest.clone();
    for dc in &f.datacenters {
        if ranked.contains(dc) && !nearest.contains(dc) {
            targets.push(dc.clone());
        }
    }
    targets
}

#[cfg(test)]
mod tests {
    use praetor_state::{HealthCheck, Node, Service};

    use super::*;

    fn node(tags: &[&str], checks: &[CheckStatus]) -> CheckServiceNode {
        CheckServiceNode {
            node: Node {
                node: "n".into(),
                meta: [("rack".to_string(), "r1".to_string())].into(),
                ..Node::default()
            },
            service: Service {
                service: "db".into(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                ..Service::default()
            },
            checks: checks
                .iter()
                .enumerate()
                .map(|(i, s)| HealthCheck {
                    check_id: format!("c{i}"),
                    status: *s,
                    ..HealthCheck::default()
                })
                .collect(),
        }
    }

    #[test]
    fn health_meta_and_tags_filter_like_consul() {
        let mut q = ServiceQuery::default();
        assert!(passes(
            &q,
            &node(&[], &[CheckStatus::Passing, CheckStatus::Warning])
        ));
        assert!(!passes(&q, &node(&[], &[CheckStatus::Critical])));
        q.ignore_check_ids = vec!["c0".into()];
        assert!(passes(&q, &node(&[], &[CheckStatus::Critical])));
        q.only_passing = true;
        assert!(!passes(
            &q,
            &node(&[], &[CheckStatus::Passing, CheckStatus::Warning])
        ));
        let mut q = ServiceQuery {
            tags: vec!["Primary".into(), "!old".into()],
            ..ServiceQuery::default()
        };
        assert!(passes(&q, &node(&["primary"], &[])));
        assert!(!passes(&q, &node(&["primary", "OLD"], &[])));
        assert!(!passes(&q, &node(&[], &[])));
        q.tags.clear();
        q.node_meta = [("rack".to_string(), "r2".to_string())].into();
        assert!(!passes(&q, &node(&[], &[])));
    }

    #[test]
    fn failover_takes_nearest_then_listed_known_datacenters() {
        let ranked: Vec<String> = ["dc3", "dc2", "dc4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let f = QueryFailover {
            nearest_n: 1,
            datacenters: vec!["dc3".into(), "dc9".into(), "dc4".into()],
        };
        assert_eq!(failover_targets(&f, &ranked), ["dc3", "dc4"]);
        let none = QueryFailover::default();
        assert!(failover_targets(&none, &ranked).is_empty());
    }
}
