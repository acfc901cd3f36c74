//! Catalog writes: register and deregister nodes, services and checks, with Consul's index
//! rules (a write that changes nothing keeps every index) and per-service indexes.

use std::collections::BTreeSet;

use crate::change::Table;
use crate::error::StateError;
use crate::store::{PairKey, Store, eq_fold, fold};
use crate::types::{CheckStatus, HealthCheck, Node, Service};

/// The check every agent registers for its node (Consul `structs.SerfCheckID`).
pub const SERF_CHECK_ID: &str = "serfHealth";

/// True if `new` differs from `existing` in any node-level field (Consul `ChangesNode`/`IsSame`).
fn node_changes(existing: &Node, new: &Node) -> bool {
    existing.id != new.id
        || !eq_fold(&existing.node, &new.node)
        || existing.address != new.address
        || existing.datacenter != new.datacenter
        || existing.tagged_addresses != new.tagged_addresses
        || existing.meta != new.meta
}

impl Store {
    /// Catalog register: node, then service, then checks (Consul `ensureRegistrationTxn`).
    pub(crate) fn register(
        &mut self,
        idx: u64,
        node: Node,
        service: Option<Service>,
        checks: Vec<HealthCheck>,
        now_ms: u64,
    ) -> Result<(), StateError> {
        if node.node.is_empty() {
            return Err(StateError::MissingNodeName);
        }
        let service = match service {
            Some(mut svc) => {
                if svc.id.is_empty() {
                    svc.id = svc.service.clone();
                }
                if svc.service.is_empty() {
                    return Err(StateError::MissingServiceName);
                }
                Some(svc)
            }
            None => None,
        };

        let node_name = node.node.clone();
        let changes = self
            .nodes
            .get(&fold(&node.node))
            .is_none_or(|existing| node_changes(existing, &node));
        if changes {
            self.ensure_node(idx, node, now_ms)
                .map_err(|e| e.context("failed inserting node"))?;
        }
        if let Some(svc) = service {
            self.ensure_service(idx, &node_name, svc)
                .map_err(|e| e.context("failed inserting service"))?;
        }
        for mut check in checks {
            if check.node.is_empty() {
                check.node = node_name.clone();
            }
            if check.check_id.is_empty() {
                check.check_id = check.name.clone();
            }
            if !eq_fold(&check.node, &node_name) {
                return Err(StateError::CheckNodeMismatch {
                    check_node: check.node,
                    node: node_name,
                });
            }
            let context = format!("failed inserting check on node {:?}", check.node);
            self.ensure_check(idx, check, now_ms)
                .map_err(|e| e.context(context))?;
        }
        Ok(())
    }

    /// Catalog deregister: a service (and its checks) if `service_id` is set, else a check if
    /// `check_id` is set, else the whole node. Deleting something absent is not an error.
    pub(crate) fn deregister(
        &mut self,
        idx: u64,
        node: &str,
        service_id: Option<&str>,
        check_id: Option<&str>,
        now_ms: u64,
    ) -> Result<(), StateError> {
        if node.is_empty() {
            return Err(StateError::MissingNodeName);
        }
        match (
            service_id.filter(|s| !s.is_empty()),
            check_id.filter(|c| !c.is_empty()),
        ) {
            (Some(service_id), _) => self.delete_service(idx, node, service_id, now_ms),
            (None, Some(check_id)) => self.delete_check((fold(node), fold(check_id)), idx, now_ms),
            (None, None) => self.delete_node(idx, node, now_ms),
        }
        Ok(())
    }

    /// Upserts a node (Consul `ensureNodeTxn`), handling a node that changed its name but kept its ID.
    fn ensure_node(&mut self, idx: u64, mut node: Node, now_ms: u64) -> Result<(), StateError> {
        let mut existing: Option<Node> = None;
        if !node.id.is_empty() {
            match self.node_by_id(&node.id).cloned() {
                Some(by_id) if eq_fold(&by_id.node, &node.node) => existing = Some(by_id),
                Some(by_id) => {
                    self.ensure_no_node_with_similar_name(&node, false)
                        .map_err(|e| {
                            e.context(format!(
                                "Error while renaming Node ID: {:?} ({})",
                                node.id, node.address
                            ))
                        })?;
                    tracing::info!(id = %node.id, from = %by_id.node, to = %node.node, "Renaming node");
                    self.delete_node(idx, &by_id.node, now_ms);
                }
                None => self
                    .ensure_no_node_with_similar_name(&node, true)
                    .map_err(|e| {
                        e.context(format!("Error while renaming Node ID: {:?}", node.id))
                    })?,
            }
        }

        let key = fold(&node.node);
        if existing.is_none() {
            existing = self.nodes.get(&key).cloned();
        }
        match existing {
            Some(n) => {
                if !node_changes(&n, &node) {
                    return Ok(());
                }
                node.create_index = n.create_index;
            }
            None => node.create_index = idx,
        }
        node.modify_index = idx;
        self.put_node(key.clone(), Some(node));
        self.touch(Table::Nodes, idx);
        self.bump_node_services(&key, idx);
        Ok(())
    }

    /// Refuses to take the name of another live node that has a different ID.
    fn ensure_no_node_with_similar_name(
        &self,
        node: &Node,
        allow_clash_without_id: bool,
    ) -> Result<(), StateError> {
        let Some(other) = self.nodes.get(&fold(&node.node)) else {
            return Ok(());
        };
        if other.id == node.id {
            return Ok(());
        }
        // A node without a serfHealth check is probably an external registration: safe to take over.
        let healthy = self
            .checks
            .get(&(fold(&other.node), fold(SERF_CHECK_ID)))
            .is_some_and(|c| c.status != CheckStatus::Critical);
        if !(other.id.is_empty() && allow_clash_without_id) && healthy {
            return Err(StateError::NodeNameReserved {
                name: node.node.clone(),
                other_id: other.id.clone(),
                other_name: other.node.clone(),
                other_address: other.address.clone(),
            });
        }
        Ok(())
    }

    /// Upserts a service instance on an existing node (Consul `ensureServiceTxn`).
    fn ensure_service(
        &mut self,
        idx: u64,
        node_name: &str,
        mut svc: Service,
    ) -> Result<(), StateError> {
        let node_key = fold(node_name);
        if !self.nodes.contains_key(&node_key) {
            return Err(StateError::MissingNode);
        }
        let key = (node_key, fold(&svc.id));
        let existing = self.services.get(&key).cloned();
        match &existing {
            Some(e) => {
                svc.create_index = e.create_index;
                svc.modify_index = e.modify_index;
                if svc == *e {
                    return Ok(());
                }
            }
            None => svc.create_index = idx,
        }
        svc.modify_index = idx;
        let name_key = fold(&svc.service);
        self.put_service(key, Some(svc));
        self.touch(Table::Services, idx);
        self.service_instances_changed(&name_key, idx);
        if let Some(e) = existing {
            let old_name = fold(&e.service);
            if old_name != name_key {
                self.service_instances_changed(&old_name, idx);
            }
        }
        Ok(())
    }

    /// Upserts a check (Consul `ensureCheckTxn`); a critical check invalidates its sessions.
    fn ensure_check(
        &mut self,
        idx: u64,
        mut check: HealthCheck,
        now_ms: u64,
    ) -> Result<(), StateError> {
        let node_key = fold(&check.node);
        let key = (node_key.clone(), fold(&check.check_id));
        let existing = self.checks.get(&key).cloned();
        match &existing {
            Some(e) => {
                check.create_index = e.create_index;
                check.modify_index = e.modify_index;
            }
            None => check.create_index = idx,
        }
        if !self.nodes.contains_key(&node_key) {
            return Err(StateError::MissingNode);
        }

        let mut bump_services: BTreeSet<String> = BTreeSet::new();
        if !check.service_id.is_empty() {
            let Some(svc) = self
                .services
                .get(&(node_key.clone(), fold(&check.service_id)))
            else {
                return Err(StateError::MissingService);
            };
            check.service_name = svc.service.clone();
            check.service_tags = svc.tags.clone();
            bump_services.insert(fold(&svc.service));
        } else {
            bump_services.extend(self.node_services(&node_key).map(|(_, s)| fold(&s.service)));
        }
        let modified = existing.as_ref() != Some(&check);
        if modified {
            if let Some(e) = existing.as_ref().filter(|e| !e.service_name.is_empty()) {
                bump_services.insert(fold(&e.service_name));
            }
            for name in bump_services {
                self.service_instances_changed(&name, idx);
            }
        }

        if check.status == CheckStatus::Critical {
            self.invalidate_sessions_of_check(&key, idx, now_ms);
        }
        if !modified {
            return Ok(());
        }
        check.modify_index = idx;
        self.put_check(key, Some(check));
        self.touch(Table::Checks, idx);
        Ok(())
    }

    /// Deletes a check (no-op if absent) and invalidates the sessions bound to it.
    fn delete_check(&mut self, key: PairKey, idx: u64, now_ms: u64) {
        let Some(existing) = self.checks.get(&key).cloned() else {
            return;
        };
        if existing.service_id.is_empty() {
            self.bump_node_services(&key.0, idx);
        } else {
            self.service_instances_changed(&fold(&existing.service_name), idx);
        }
        self.put_check(key.clone(), None);
        self.touch(Table::Checks, idx);
        self.invalidate_sessions_of_check(&key, idx, now_ms);
    }

    /// Deletes a service instance and its checks (no-op if absent).
    fn delete_service(&mut self, idx: u64, node: &str, service_id: &str, now_ms: u64) {
        let node_key = fold(node);
        let key = (node_key.clone(), fold(service_id));
        let Some(svc) = self.services.get(&key).cloned() else {
            return;
        };
        let check_keys: Vec<PairKey> = self
            .node_checks(&node_key)
            .filter(|(_, c)| !c.service_id.is_empty() && eq_fold(&c.service_id, &svc.id))
            .map(|(k, _)| k.clone())
            .collect();
        for check_key in check_keys {
            self.delete_check(check_key, idx, now_ms);
        }
        self.put_service(key, None);
        self.touch(Table::Services, idx);
        self.service_instances_changed(&fold(&svc.service), idx);
    }

    /// Deletes a node with all its services, checks and coordinates, and invalidates its
    /// sessions (no-op if absent).
    pub(crate) fn delete_node(&mut self, idx: u64, node: &str, now_ms: u64) {
        let node_key = fold(node);
        if !self.nodes.contains_key(&node_key) {
            return;
        }
        let service_ids: Vec<String> = self
            .node_services(&node_key)
            .map(|(_, s)| s.id.clone())
            .collect();
        for service_id in service_ids {
            self.delete_service(idx, node, &service_id, now_ms);
        }
        let check_keys: Vec<PairKey> = self
            .node_checks(&node_key)
            .map(|(k, _)| k.clone())
            .collect();
        for check_key in check_keys {
            self.delete_check(check_key, idx, now_ms);
        }
        self.delete_node_coordinates(idx, &node_key);
        self.put_node(node_key.clone(), None);
        self.touch(Table::Nodes, idx);
        let sessions: Vec<String> = self
            .sessions_by_node
            .get(&node_key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for id in sessions {
            self.invalidate_session(idx, &id, now_ms);
        }
    }

    /// Bumps the per-service index of every service on a node (its node data or node checks changed).
    fn bump_node_services(&mut self, node_key: &str, idx: u64) {
        let names: BTreeSet<String> = self
            .node_services(node_key)
            .map(|(_, s)| fold(&s.service))
            .collect();
        for name in names {
            self.service_instances_changed(&name, idx);
        }
    }

    /// Something about the instances of a service changed at `idx`: bump its index, or, if it
    /// has no instance left, drop the index and record the extinction (Consul
    /// `service_last_extinction`, which blocking queries on missing services use).
    fn service_instances_changed(&mut self, name_key: &str, idx: u64) {
        if self.services_by_name.contains_key(name_key) {
            self.put_service_index(name_key.to_string(), Some(idx));
        } else if self.service_indexes.contains_key(name_key) {
            self.put_service_index(name_key.to_string(), None);
            self.indexes.service_extinction = self.indexes.service_extinction.max(idx);
        }
    }
}
