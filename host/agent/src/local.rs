//! The agent's own services and checks (Consul's "local state"), and anti-entropy: making the
//! catalog match them. Pure bookkeeping here; the sync loop in `sync.rs` does the I/O.

use std::collections::BTreeMap;

use praetor_state::{CheckStatus, HealthCheck, Service};

/// A local check: its catalog row plus how it is run (`None`: nothing runs it, as for the
/// maintenance-mode checks, whose status only the agent sets).
#[derive(Clone, Debug)]
pub struct LocalCheck {
    pub check: HealthCheck,
    pub def: Option<praetor_config::CheckDefinition>,
}

/// Services and checks registered with this agent.
#[derive(Default, Debug)]
pub struct LocalState {
    pub services: BTreeMap<String, Service>,
    pub checks: BTreeMap<String, LocalCheck>,
}

impl LocalState {
    /// Adds or replaces a service.
    pub fn add_service(&mut self, s: Service) {
        self.services.insert(s.id.clone(), s);
    }

    /// Removes a service and its checks; returns the removed check ids.
    pub fn remove_service(&mut self, id: &str) -> Option<Vec<String>> {
        self.services.remove(id)?;
        let ids: Vec<String> = self
            .checks
            .values()
            .filter(|c| c.check.service_id == id)
            .map(|c| c.check.check_id.clone())
            .collect();
        for cid in &ids {
            self.checks.remove(cid);
        }
        Some(ids)
    }

    pub fn add_check(&mut self, c: LocalCheck) {
        self.checks.insert(c.check.check_id.clone(), c);
    }

    pub fn remove_check(&mut self, id: &str) -> bool {
        self.checks.remove(id).is_some()
    }

    /// Sets a check's status and output; false if unknown; unchanged if equal.
    pub fn set_status(&mut self, id: &str, status: CheckStatus, output: &str) -> Option<bool> {
        let c = self.checks.get_mut(id)?;
        let changed = c.check.status != status || c.check.output != output;
        c.check.status = status;
        c.check.output = output.to_string();
        Some(changed)
    }

    /// The checks as they should appear in the catalog (service name and tags filled in).
    pub fn catalog_checks(&self) -> Vec<HealthCheck> {
        self.checks
            .values()
            .map(|c| {
                let mut h = c.check.clone();
                if let Some(s) = self.services.get(&h.service_id) {
                    h.service_name = s.service.clone();
                    h.service_tags = s.tags.clone();
                }
                h
            })
            .collect()
    }
}

/// What anti-entropy must do to make the catalog match the local state.
#[derive(Debug, Default, PartialEq)]
pub struct SyncPlan {
    pub register_services: Vec<Service>,
    pub deregister_services: Vec<String>,
    pub register_checks: Vec<HealthCheck>,
    pub deregister_checks: Vec<String>,
}

impl SyncPlan {
    pub fn is_empty(&self) -> bool {
        *self == SyncPlan::default()
    }
}

/// Checks owned by the servers, never touched by a node's anti-entropy.
pub const SERF_HEALTH: &str = "serfHealth";

/// The node maintenance check (Consul's `structs.NodeMaint`).
pub const NODE_MAINTENANCE: &str = "_node_maintenance";
/// Notes of the node maintenance check when no reason is given (Consul's text).
pub const NODE_MAINTENANCE_REASON: &str = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.";
/// Notes of a service maintenance check when no reason is given (Consul's text).
pub const SERVICE_MAINTENANCE_REASON: &str = "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.";

/// The maintenance check of a service (Consul's `_service_maintenance:<id>`).
pub fn service_maintenance_id(service_id: &str) -> String {
    format!("_service_maintenance:{service_id}")
}

fn same_service(a: &Service, b: &Service) -> bool {
    a.id == b.id
        && a.service == b.service
        && a.tags == b.tags
        && a.address == b.address
        && a.port == b.port
        && a.meta == b.meta
        && a.tagged_addresses == b.tagged_addresses
        && a.enable_tag_override == b.enable_tag_override
        && a.weights == b.weights
        && a.kind == b.kind
}

fn same_check(a: &HealthCheck, b: &HealthCheck) -> bool {
    a.check_id == b.check_id
        && a.name == b.name
        && a.status == b.status
        && a.notes == b.notes
        && a.output == b.output
        && a.service_id == b.service_id
        && a.service_name == b.service_name
        && a.service_tags == b.service_tags
}

/// The catalog service every server is registered as (by the leader, never by anti-entropy).
pub const CONSUL_SERVICE_ID: &str = "consul";

/// Compares the local state with the catalog's view of this node.
pub fn plan(
    local: &LocalState,
    remote_services: &[Service],
    remote_checks: &[HealthCheck],
) -> SyncPlan {
    let mut p = SyncPlan::default();
    let remote_s: BTreeMap<&str, &Service> =
        remote_services.iter().map(|s| (s.id.as_str(), s)).collect();
    for s in local.services.values() {
        if !remote_s
            .get(s.id.as_str())
            .is_some_and(|r| same_service(r, s))
        {
            p.register_services.push(s.clone());
        }
    }
    for s in remote_services {
        // The `consul` service of a server is the leader's to manage, as in Consul.
        if s.id != CONSUL_SERVICE_ID && !local.services.contains_key(&s.id) {
            p.deregister_services.push(s.id.clone());
        }
    }
    let remote_c: BTreeMap<&str, &HealthCheck> = remote_checks
        .iter()
        .map(|c| (c.check_id.as_str(), c))
        .collect();
    for c in local.catalog_checks() {
        if !remote_c
            .get(c.check_id.as_str())
            .is_some_and(|r| same_check(r, &c))
        {
            p.register_checks.push(c);
        }
    }
    for c in remote_checks {
        if c.check_id != SERF_HEALTH && !local.checks.contains_key(&c.check_id) {
            // A check of a service being deregistered goes away with the service.
            if !p.deregister_services.contains(&c.service_id) {
                p.deregister_checks.push(c.check_id.clone());
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(id: &str, port: u16) -> Service {
        Service {
            id: id.into(),
            service: "web".into(),
            port,
            ..Default::default()
        }
    }

    fn chk(id: &str, service_id: &str, status: CheckStatus) -> LocalCheck {
        LocalCheck {
            check: HealthCheck {
                check_id: id.into(),
                name: id.into(),
                service_id: service_id.into(),
                status,
                ..Default::default()
            },
            def: Some(praetor_config::CheckDefinition {
                id: id.into(),
                name: id.into(),
                notes: String::new(),
                service_id: Some(service_id.into()),
                status: None,
                kind: praetor_config::CheckKind::Ttl(std::time::Duration::from_secs(10)),
                interval: None,
                timeout: None,
                deregister_critical_service_after: None,
            }),
        }
    }

    #[test]
    fn plan_registers_changes_and_removes_strays_but_not_serf_health_or_consul() {
        let mut local = LocalState::default();
        local.add_service(svc("web1", 80));
        local.add_check(chk("c1", "web1", CheckStatus::Passing));
        let remote_services = vec![svc("web1", 81), svc("old", 1), svc(CONSUL_SERVICE_ID, 8300)];
        let serf = HealthCheck {
            check_id: SERF_HEALTH.into(),
            ..Default::default()
        };
        let old_check = HealthCheck {
            check_id: "oc".into(),
            service_id: "old".into(),
            ..Default::default()
        };
        let p = plan(&local, &remote_services, &[serf, old_check]);
        assert_eq!(p.register_services.len(), 1);
        assert_eq!(p.register_services[0].port, 80);
        assert_eq!(p.deregister_services, vec!["old".to_string()]);
        assert_eq!(p.register_checks.len(), 1);
        assert_eq!(p.register_checks[0].service_name, "web");
        assert!(p.deregister_checks.is_empty());
    }

    #[test]
    fn in_sync_means_empty_plan() {
        let mut local = LocalState::default();
        local.add_service(svc("web1", 80));
        local.add_check(chk("c1", "web1", CheckStatus::Critical));
        let remote_checks = local.catalog_checks();
        let p = plan(&local, &[svc("web1", 80)], &remote_checks);
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn removing_a_service_removes_its_checks() {
        let mut local = LocalState::default();
        local.add_service(svc("web1", 80));
        local.add_check(chk("c1", "web1", CheckStatus::Passing));
        local.add_check(chk("c2", "", CheckStatus::Passing));
        assert_eq!(local.remove_service("web1"), Some(vec!["c1".to_string()]));
        assert!(local.checks.contains_key("c2"));
        assert_eq!(local.remove_service("web1"), None);
    }
}
