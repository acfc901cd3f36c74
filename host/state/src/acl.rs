//! The ACL tables (Consul's tokens, policies and roles) and their rules that need the tables:
//! unique names and secrets, links resolved by ID or name, the built-in objects, bootstrap
//! (once, or again with the reset index), immutable token fields, expired tokens reaped.
//!
//! Rules texts, names and identities are validated by the proposer (with `praetor-acl`) before
//! a command is proposed; IDs, secrets and times are chosen by the proposer too.

use std::collections::BTreeMap;

use praetor_acl::builtin;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::change::Table;
use crate::error::StateError;
use crate::query::QueryResult;
use crate::store::Store;

/// A link from a token or role to a policy or role: stored by ID, the name filled on read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclLink {
    pub id: String,
    pub name: String,
}

/// `ServiceIdentities[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclServiceIdentity {
    pub service_name: String,
    pub datacenters: Vec<String>,
}

/// `NodeIdentities[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclNodeIdentity {
    pub node_name: String,
    pub datacenter: String,
}

/// `TemplatedPolicies[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclTemplatedPolicy {
    pub template_name: String,
    /// `TemplateVariables.Name`.
    pub name: Option<String>,
    pub datacenters: Vec<String>,
}

/// An ACL token (Consul `structs.ACLToken`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclToken {
    pub accessor_id: String,
    pub secret_id: String,
    pub description: String,
    pub policies: Vec<AclLink>,
    pub roles: Vec<AclLink>,
    pub service_identities: Vec<AclServiceIdentity>,
    pub node_identities: Vec<AclNodeIdentity>,
    pub templated_policies: Vec<AclTemplatedPolicy>,
    /// Local tokens never leave their datacenter.
    pub local: bool,
    pub auth_method: String,
    /// Unix ms; `None` = never expires.
    pub expiration_time_ms: Option<u64>,
    /// Unix ms, stamped by the proposer at creation and kept on update.
    pub create_time_ms: u64,
    pub hash: Vec<u8>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AclToken {
    /// True when the token has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expiration_time_ms.is_some_and(|t| t <= now_ms)
    }

    fn content_hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(self.description.as_bytes());
        for l in self.policies.iter().chain(&self.roles) {
            h.update([0]);
            h.update(l.id.as_bytes());
        }
        for s in &self.service_identities {
            h.update([1]);
            h.update(s.service_name.as_bytes());
            for d in &s.datacenters {
                h.update(d.as_bytes());
            }
        }
        for n in &self.node_identities {
            h.update([2]);
            h.update(n.node_name.as_bytes());
            h.update(n.datacenter.as_bytes());
        }
        for t in &self.templated_policies {
            h.update([3]);
            h.update(t.template_name.as_bytes());
            h.update(t.name.as_deref().unwrap_or("").as_bytes());
        }
        h.update([u8::from(self.local)]);
        h.finalize().to_vec()
    }
}

/// An ACL policy (Consul `structs.ACLPolicy`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclPolicy {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rules: String,
    /// Empty = valid in every datacenter.
    pub datacenters: Vec<String>,
    pub hash: Vec<u8>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AclPolicy {
    fn content_hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update([0]);
        h.update(self.description.as_bytes());
        h.update([0]);
        h.update(self.rules.as_bytes());
        for d in &self.datacenters {
            h.update([0]);
            h.update(d.as_bytes());
        }
        h.finalize().to_vec()
    }
}

/// An ACL role (Consul `structs.ACLRole`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclRole {
    pub id: String,
    pub name: String,
    pub description: String,
    pub policies: Vec<AclLink>,
    pub service_identities: Vec<AclServiceIdentity>,
    pub node_identities: Vec<AclNodeIdentity>,
    pub templated_policies: Vec<AclTemplatedPolicy>,
    pub hash: Vec<u8>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AclRole {
    fn content_hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update([0]);
        h.update(self.description.as_bytes());
        for l in &self.policies {
            h.update([0]);
            h.update(l.id.as_bytes());
        }
        for s in &self.service_identities {
            h.update([1]);
            h.update(s.service_name.as_bytes());
        }
        for n in &self.node_identities {
            h.update([2]);
            h.update(n.node_name.as_bytes());
            h.update(n.datacenter.as_bytes());
        }
        h.finalize().to_vec()
    }
}

/// What a secret resolves to: the token (links with names) and every policy and role that
/// applies to it (its own policies, its roles and their policies), for compiling an authorizer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclResolved {
    pub token: AclToken,
    pub policies: Vec<AclPolicy>,
    pub roles: Vec<AclRole>,
}

/// What a secondary datacenter copies from the primary: every policy and role, and the
/// global tokens when token replication is on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclReplicationSet {
    pub policies: Vec<AclPolicy>,
    pub roles: Vec<AclRole>,
    /// `None`: tokens are not replicated (local ones are never part of it).
    pub tokens: Option<Vec<AclToken>>,
}

/// `?policy=`, `?role=`, `?authmethod=`, `?servicename=` of `GET /v1/acl/tokens` (at most one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclTokenFilter {
    pub policy: Option<String>,
    pub role: Option<String>,
    pub auth_method: Option<String>,
    pub service_name: Option<String>,
}

fn acl_err(msg: impl Into<String>) -> StateError {
    StateError::Acl(msg.into())
}

impl Store {
    /// Fills both halves of policy links (given by ID or by name); an unknown one is an error.
    fn link_policies(&self, links: &mut Vec<AclLink>) -> Result<(), StateError> {
        for l in links.iter_mut() {
            let found = if l.id.is_empty() {
                self.acl_policies.values().find(|p| p.name == l.name)
            } else {
                self.acl_policies.get(&l.id)
            };
            match found {
                Some(p) => {
                    l.id = p.id.clone();
                    l.name = p.name.clone();
                }
                None if l.id.is_empty() => {
                    return Err(acl_err(format!(
                        "No such ACL policy with name {:?}",
                        l.name
                    )));
                }
                None => {
                    return Err(acl_err(format!("No such ACL policy with ID {:?}", l.id)));
                }
            }
        }
        dedup_links(links);
        Ok(())
    }

    fn link_roles(&self, links: &mut Vec<AclLink>) -> Result<(), StateError> {
        for l in links.iter_mut() {
            let found = if l.id.is_empty() {
                self.acl_roles.values().find(|r| r.name == l.name)
            } else {
                self.acl_roles.get(&l.id)
            };
            match found {
                Some(r) => {
                    l.id = r.id.clone();
                    l.name = r.name.clone();
                }
                None if l.id.is_empty() => {
                    return Err(acl_err(format!("No such ACL role with name {:?}", l.name)));
                }
                None => return Err(acl_err(format!("No such ACL role with ID {:?}", l.id))),
            }
        }
        dedup_links(links);
        Ok(())
    }

    /// `ACL.BootstrapTokens`: allowed once, or again when `reset_index` names the index of
    /// the bootstrap that used it up.
    pub(crate) fn acl_bootstrap(
        &mut self,
        idx: u64,
        token: AclToken,
        reset_index: u64,
    ) -> Result<(), StateError> {
        if let Some(done) = self.acl_bootstrap_index {
            if reset_index == 0 {
                return Err(StateError::AclDenied(format!(
                    "ACL bootstrap no longer allowed (reset index: {done})"
                )));
            }
            if reset_index != done {
                return Err(acl_err(format!(
                    "Invalid bootstrap reset index (specified {reset_index}, reset index: {done})"
                )));
            }
        }
        if self.acl_tokens_by_secret.contains_key(&token.secret_id) {
            return Err(acl_err(
                "Provided token cannot be used because a token with that secret already exists.",
            ));
        }
        self.acl_token_set(idx, token, true)?;
        self.put_acl_bootstrap(Some(idx));
        Ok(())
    }

    /// Creates (`create`: the AccessorID must be new) or replaces a token.
    pub(crate) fn acl_token_set(
        &mut self,
        idx: u64,
        mut token: AclToken,
        create: bool,
    ) -> Result<(), StateError> {
        let existing = self.acl_tokens.get(&token.accessor_id).cloned();
        match (&existing, create) {
            (Some(_), true) => {
                return Err(acl_err("Invalid Token: AccessorID is already in use"));
            }
            (None, false) => {
                return Err(acl_err(format!(
                    "Cannot find token {:?}",
                    token.accessor_id
                )));
            }
            (Some(old), false) => {
                if !token.secret_id.is_empty() && token.secret_id != old.secret_id {
                    return Err(acl_err("Changing a token's SecretID is not permitted"));
                }
                if token.local != old.local {
                    return Err(acl_err(format!(
                        "Cannot toggle local mode of {}",
                        old.accessor_id
                    )));
                }
                if token.expiration_time_ms.is_some()
                    && token.expiration_time_ms != old.expiration_time_ms
                {
                    return Err(acl_err(format!(
                        "Cannot change expiration time of {}",
                        old.accessor_id
                    )));
                }
                if !token.auth_method.is_empty() && token.auth_method != old.auth_method {
                    return Err(acl_err(format!(
                        "Cannot change AuthMethod of {}",
                        old.accessor_id
                    )));
                }
                token.secret_id = old.secret_id.clone();
                token.expiration_time_ms = old.expiration_time_ms;
                token.auth_method = old.auth_method.clone();
                token.create_time_ms = old.create_time_ms;
            }
            (None, true) => {}
        }
        if token.accessor_id.is_empty() || token.secret_id.is_empty() {
            return Err(acl_err("Invalid Token: missing AccessorID or SecretID"));
        }
        if let Some(other) = self.acl_tokens_by_secret.get(&token.secret_id)
            && *other != token.accessor_id
        {
            return Err(acl_err("Invalid Token: SecretID is already in use"));
        }
        self.link_policies(&mut token.policies)?;
        self.link_roles(&mut token.roles)?;
        token.hash = token.content_hash();
        token.create_index = existing.as_ref().map_or(idx, |e| e.create_index);
        token.modify_index = idx;
        self.put_acl_token(token.accessor_id.clone(), Some(token));
        self.touch(Table::AclTokens, idx);
        Ok(())
    }

    pub(crate) fn acl_token_delete(&mut self, idx: u64, accessor: &str) -> Result<(), StateError> {
        if accessor == builtin::ANONYMOUS_TOKEN_ID {
            return Err(acl_err(
                "Delete operation not permitted on the anonymous token",
            ));
        }
        if !self.acl_tokens.contains_key(accessor) {
            return Err(StateError::AclNotFound(
                "Cannot find token to delete".into(),
            ));
        }
        self.put_acl_token(accessor.to_string(), None);
        self.touch(Table::AclTokens, idx);
        Ok(())
    }

    /// Deletes every token expired at `now_ms` (the leader proposes this periodically).
    pub(crate) fn acl_tokens_reap(&mut self, idx: u64, now_ms: u64) {
        let expired: Vec<String> = self
            .acl_tokens
            .values()
            .filter(|t| t.is_expired(now_ms))
            .map(|t| t.accessor_id.clone())
            .collect();
        for a in &expired {
            self.put_acl_token(a.clone(), None);
        }
        if !expired.is_empty() {
            self.touch(Table::AclTokens, idx);
        }
    }

    /// Creates (`create`: the ID must be new) or replaces a policy.
    pub(crate) fn acl_policy_set(
        &mut self,
        idx: u64,
        mut policy: AclPolicy,
        create: bool,
    ) -> Result<(), StateError> {
        let existing = self.acl_policies.get(&policy.id).cloned();
        match (&existing, create) {
            (Some(_), true) => {
                return Err(acl_err(format!(
                    "Invalid Policy: A Policy with ID {:?} already exists",
                    policy.id
                )));
            }
            (None, false) => return Err(acl_err(format!("cannot find policy {}", policy.id))),
            (Some(old), false) if old.id == builtin::GLOBAL_MANAGEMENT_POLICY_ID => {
                if policy.rules != old.rules {
                    return Err(acl_err(
                        "Changing the Rules for the builtin global-management policy is not permitted",
                    ));
                }
                if policy.datacenters != old.datacenters {
                    return Err(acl_err(
                        "Changing the Datacenters of the global-management policy is not permitted",
                    ));
                }
            }
            _ => {}
        }
        if policy.name.is_empty() {
            return Err(acl_err("Invalid Policy: no Name is set"));
        }
        if self
            .acl_policies
            .values()
            .any(|p| p.id != policy.id && p.name == policy.name)
        {
            let what = if create { "Policy" } else { "policy" };
            return Err(acl_err(format!(
                "Invalid Policy: A {what} with name {:?} already exists",
                policy.name
            )));
        }
        policy.hash = policy.content_hash();
        policy.create_index = existing.map_or(idx, |e| e.create_index);
        policy.modify_index = idx;
        self.put_acl_policy(policy.id.clone(), Some(policy));
        self.touch(Table::AclPolicies, idx);
        Ok(())
    }

    pub(crate) fn acl_policy_delete(&mut self, idx: u64, id: &str) -> Result<(), StateError> {
        if id == builtin::GLOBAL_MANAGEMENT_POLICY_ID {
            return Err(acl_err(
                "Delete operation not permitted on the builtin global-management policy",
            ));
        }
        if !self.acl_policies.contains_key(id) {
            return Err(StateError::AclNotFound(
                "Cannot find policy to delete".into(),
            ));
        }
        self.put_acl_policy(id.to_string(), None);
        self.touch(Table::AclPolicies, idx);
        Ok(())
    }

    /// Creates (`create`: the ID must be new) or replaces a role.
    pub(crate) fn acl_role_set(
        &mut self,
        idx: u64,
        mut role: AclRole,
        create: bool,
    ) -> Result<(), StateError> {
        let existing = self.acl_roles.get(&role.id).cloned();
        match (&existing, create) {
            (Some(_), true) => {
                return Err(acl_err(format!(
                    "Invalid Role: A Role with ID {:?} already exists",
                    role.id
                )));
            }
            (None, false) => return Err(acl_err(format!("cannot find role {}", role.id))),
            _ => {}
        }
        if role.name.is_empty() {
            return Err(acl_err("Invalid Role: no Name is set"));
        }
        if self
            .acl_roles
            .values()
            .any(|r| r.id != role.id && r.name == role.name)
        {
            return Err(acl_err(format!(
                "Invalid Role: A Role with Name {:?} already exists",
                role.name
            )));
        }
        self.link_policies(&mut role.policies)?;
        role.hash = role.content_hash();
        role.create_index = existing.map_or(idx, |e| e.create_index);
        role.modify_index = idx;
        self.put_acl_role(role.id.clone(), Some(role));
        self.touch(Table::AclRoles, idx);
        Ok(())
    }

    pub(crate) fn acl_role_delete(&mut self, idx: u64, id: &str) -> Result<(), StateError> {
        if !self.acl_roles.contains_key(id) {
            return Err(StateError::AclNotFound("Cannot find role to delete".into()));
        }
        self.put_acl_role(id.to_string(), None);
        self.touch(Table::AclRoles, idx);
        Ok(())
    }

    /// Writes the built-in policies (rules restored, a rename kept) and the anonymous token
    /// when missing (Consul's `initializeACLs` on a primary's leadership gain).
    pub(crate) fn acl_init_builtins(&mut self, idx: u64, now_ms: u64) {
        for (id, name, description, rules) in [
            (
                builtin::GLOBAL_MANAGEMENT_POLICY_ID,
                builtin::GLOBAL_MANAGEMENT_POLICY_NAME,
                builtin::GLOBAL_MANAGEMENT_POLICY_DESCRIPTION,
                builtin::GLOBAL_MANAGEMENT_POLICY_RULES,
            ),
            (
                builtin::GLOBAL_READ_ONLY_POLICY_ID,
                builtin::GLOBAL_READ_ONLY_POLICY_NAME,
                builtin::GLOBAL_READ_ONLY_POLICY_DESCRIPTION,
                builtin::GLOBAL_READ_ONLY_POLICY_RULES,
            ),
        ] {
            let existing = self.acl_policies.get(id).cloned();
            let mut p = existing.clone().unwrap_or_else(|| AclPolicy {
                id: id.to_string(),
                name: name.to_string(),
                description: description.to_string(),
                create_index: idx,
                ..AclPolicy::default()
            });
            p.rules = rules.to_string();
            p.datacenters.clear();
            p.hash = p.content_hash();
            if existing.as_ref() != Some(&p) {
                p.modify_index = idx;
                self.put_acl_policy(id.to_string(), Some(p));
                self.touch(Table::AclPolicies, idx);
            }
        }
        if !self.acl_tokens.contains_key(builtin::ANONYMOUS_TOKEN_ID) {
            let mut t = AclToken {
                accessor_id: builtin::ANONYMOUS_TOKEN_ID.to_string(),
                secret_id: builtin::ANONYMOUS_TOKEN_SECRET.to_string(),
                description: builtin::ANONYMOUS_TOKEN_DESCRIPTION.to_string(),
                create_time_ms: now_ms,
                create_index: idx,
                modify_index: idx,
                ..AclToken::default()
            };
            t.hash = t.content_hash();
            self.put_acl_token(t.accessor_id.clone(), Some(t));
            self.touch(Table::AclTokens, idx);
        }
    }

    /// A token as read: links carry the current names; links to deleted objects are dropped.
    fn acl_token_view(&self, t: &AclToken) -> AclToken {
        let mut t = t.clone();
        t.policies
            .retain_mut(|l| match self.acl_policies.get(&l.id) {
                Some(p) => {
                    l.name = p.name.clone();
                    true
                }
                None => false,
            });
        t.roles.retain_mut(|l| match self.acl_roles.get(&l.id) {
            Some(r) => {
                l.name = r.name.clone();
                true
            }
            None => false,
        });
        t
    }

    fn acl_role_view(&self, r: &AclRole) -> AclRole {
        let mut r = r.clone();
        r.policies
            .retain_mut(|l| match self.acl_policies.get(&l.id) {
                Some(p) => {
                    l.name = p.name.clone();
                    true
                }
                None => false,
            });
        r
    }

    fn tokens_result(&self, tokens: Vec<AclToken>) -> (u64, QueryResult) {
        (self.indexes.acl_tokens, QueryResult::AclTokens(tokens))
    }

    pub(crate) fn acl_token_get(&self, accessor: &str) -> (u64, QueryResult) {
        let t = self
            .acl_tokens
            .get(accessor)
            .map(|t| self.acl_token_view(t));
        self.tokens_result(t.into_iter().collect())
    }

    pub(crate) fn acl_token_by_secret(&self, secret: &str) -> (u64, QueryResult) {
        let t = self
            .acl_tokens_by_secret
            .get(secret)
            .and_then(|a| self.acl_tokens.get(a))
            .map(|t| self.acl_token_view(t));
        self.tokens_result(t.into_iter().collect())
    }

    pub(crate) fn acl_token_list(&self, f: &AclTokenFilter) -> (u64, QueryResult) {
        let tokens = self
            .acl_tokens
            .values()
            .filter(|t| {
                f.policy
                    .as_ref()
                    .is_none_or(|p| t.policies.iter().any(|l| l.id == *p))
                    && f.role
                        .as_ref()
                        .is_none_or(|r| t.roles.iter().any(|l| l.id == *r))
                    && f.auth_method.as_ref().is_none_or(|m| t.auth_method == *m)
                    && f.service_name
                        .as_ref()
                        .is_none_or(|s| t.service_identities.iter().any(|i| i.service_name == *s))
            })
            .map(|t| self.acl_token_view(t))
            .collect();
        self.tokens_result(tokens)
    }

    pub(crate) fn acl_policy_get(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> (u64, QueryResult) {
        let found: Vec<AclPolicy> = match (id, name) {
            (Some(id), _) => self.acl_policies.get(id).cloned().into_iter().collect(),
            (None, Some(name)) => self
                .acl_policies
                .values()
                .filter(|p| p.name == name)
                .cloned()
                .collect(),
            (None, None) => self.acl_policies.values().cloned().collect(),
        };
        (self.indexes.acl_policies, QueryResult::AclPolicies(found))
    }

    pub(crate) fn acl_role_get(
        &self,
        id: Option<&str>,
        name: Option<&str>,
        policy: Option<&str>,
    ) -> (u64, QueryResult) {
        let found: Vec<AclRole> = self
            .acl_roles
            .values()
            .filter(|r| id.is_none_or(|id| r.id == id))
            .filter(|r| name.is_none_or(|n| r.name == n))
            .filter(|r| policy.is_none_or(|p| r.policies.iter().any(|l| l.id == p)))
            .map(|r| self.acl_role_view(r))
            .collect();
        (self.indexes.acl_roles, QueryResult::AclRoles(found))
    }

    /// Everything needed to authorize a secret; the index is the highest of the three ACL
    /// tables, so a cached authorizer is stale once any of them moved past it.
    pub(crate) fn acl_resolve(&self, secret: &str) -> (u64, QueryResult) {
        let index = self.acl_index();
        let Some(token) = self
            .acl_tokens_by_secret
            .get(secret)
            .and_then(|a| self.acl_tokens.get(a))
        else {
            return (index, QueryResult::AclResolved(None));
        };
        let token = self.acl_token_view(token);
        let roles: Vec<AclRole> = token
            .roles
            .iter()
            .filter_map(|l| self.acl_roles.get(&l.id))
            .map(|r| self.acl_role_view(r))
            .collect();
        let mut policy_ids: Vec<&str> = token.policies.iter().map(|l| l.id.as_str()).collect();
        for r in &roles {
            policy_ids.extend(r.policies.iter().map(|l| l.id.as_str()));
        }
        policy_ids.sort_unstable();
        policy_ids.dedup();
        let policies = policy_ids
            .into_iter()
            .filter_map(|id| self.acl_policies.get(id).cloned())
            .collect();
        (
            index,
            QueryResult::AclResolved(Some(Box::new(AclResolved {
                token,
                policies,
                roles,
            }))),
        )
    }

    /// A secondary's copy of the primary's ACL objects: rows that differ are written, rows
    /// the primary no longer has are deleted (local tokens are never touched). Applying the
    /// same set twice changes nothing.
    pub(crate) fn acl_replicate(&mut self, idx: u64, set: AclReplicationSet) {
        fn same<T: Clone + PartialEq>(a: &T, b: &T, strip: impl Fn(&mut T)) -> bool {
            let (mut a, mut b) = (a.clone(), b.clone());
            strip(&mut a);
            strip(&mut b);
            a == b
        }
        let mut wanted: BTreeMap<String, AclPolicy> = set
            .policies
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let gone: Vec<String> = self
            .acl_policies
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for id in gone {
            self.put_acl_policy(id, None);
            self.touch(Table::AclPolicies, idx);
        }
        for (id, mut p) in std::mem::take(&mut wanted) {
            let strip = |p: &mut AclPolicy| {
                p.create_index = 0;
                p.modify_index = 0;
            };
            if self
                .acl_policies
                .get(&id)
                .is_some_and(|o| same(o, &p, strip))
            {
                continue;
            }
            p.create_index = self.acl_policies.get(&id).map_or(idx, |o| o.create_index);
            p.modify_index = idx;
            self.put_acl_policy(id, Some(p));
            self.touch(Table::AclPolicies, idx);
        }
        let wanted: BTreeMap<String, AclRole> =
            set.roles.into_iter().map(|r| (r.id.clone(), r)).collect();
        let gone: Vec<String> = self
            .acl_roles
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for id in gone {
            self.put_acl_role(id, None);
            self.touch(Table::AclRoles, idx);
        }
        for (id, mut r) in wanted {
            let strip = |r: &mut AclRole| {
                r.create_index = 0;
                r.modify_index = 0;
                for l in &mut r.policies {
                    l.name.clear();
                }
            };
            if self.acl_roles.get(&id).is_some_and(|o| same(o, &r, strip)) {
                continue;
            }
            r.create_index = self.acl_roles.get(&id).map_or(idx, |o| o.create_index);
            r.modify_index = idx;
            self.put_acl_role(id, Some(r));
            self.touch(Table::AclRoles, idx);
        }
        let Some(tokens) = set.tokens else {
            return;
        };
        let wanted: BTreeMap<String, AclToken> = tokens
            .into_iter()
            .filter(|t| !t.local)
            .map(|t| (t.accessor_id.clone(), t))
            .collect();
        let gone: Vec<String> = self
            .acl_tokens
            .values()
            .filter(|t| !t.local && !wanted.contains_key(&t.accessor_id))
            .map(|t| t.accessor_id.clone())
            .collect();
        for a in gone {
            self.put_acl_token(a, None);
            self.touch(Table::AclTokens, idx);
        }
        for (a, mut t) in wanted {
            let strip = |t: &mut AclToken| {
                t.create_index = 0;
                t.modify_index = 0;
                for l in t.policies.iter_mut().chain(t.roles.iter_mut()) {
                    l.name.clear();
                }
            };
            if self.acl_tokens.get(&a).is_some_and(|o| same(o, &t, strip)) {
                continue;
            }
            // A local token of this datacenter with the same secret keeps its secret.
            if self
                .acl_tokens_by_secret
                .get(&t.secret_id)
                .is_some_and(|other| *other != a)
            {
                continue;
            }
            t.create_index = self.acl_tokens.get(&a).map_or(idx, |o| o.create_index);
            t.modify_index = idx;
            self.put_acl_token(a, Some(t));
            self.touch(Table::AclTokens, idx);
        }
    }

    pub(crate) fn acl_replication_set(&self, tokens: bool) -> (u64, QueryResult) {
        let set = AclReplicationSet {
            policies: self.acl_policies.values().cloned().collect(),
            roles: self.acl_roles.values().cloned().collect(),
            tokens: tokens.then(|| {
                self.acl_tokens
                    .values()
                    .filter(|t| !t.local)
                    .cloned()
                    .collect()
            }),
        };
        (self.acl_index(), QueryResult::AclReplication(Box::new(set)))
    }

    /// True when some token has expired at `now_ms` (the leader reaps only then).
    pub fn acl_has_expired_tokens(&self, now_ms: u64) -> bool {
        self.acl_tokens.values().any(|t| t.is_expired(now_ms))
    }

    /// The highest index of the ACL tables.
    pub fn acl_index(&self) -> u64 {
        self.indexes
            .acl_tokens
            .max(self.indexes.acl_policies)
            .max(self.indexes.acl_roles)
            .max(1)
    }

    /// The raft index of the bootstrap, once done.
    pub fn acl_bootstrap_index(&self) -> Option<u64> {
        self.acl_bootstrap_index
    }
}

/// Keeps the first link of each ID.
fn dedup_links(links: &mut Vec<AclLink>) {
    let mut seen = std::collections::BTreeSet::new();
    links.retain(|l| seen.insert(l.id.clone()));
}

/// Secret -> AccessorID, rebuilt from the token table.
pub(crate) type SecretIndex = BTreeMap<String, String>;

/// An ACL auth method (Consul `structs.ACLAuthMethod`); `config` is the type's configuration
/// as JSON text (validated by the proposer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclAuthMethod {
    pub name: String,
    pub method_type: String,
    pub display_name: String,
    pub description: String,
    /// 0 = no limit.
    pub max_token_ttl_ms: u64,
    /// `local` (default) or `global`.
    pub token_locality: String,
    pub config: String,
    pub create_index: u64,
    pub modify_index: u64,
}

/// An ACL binding rule (Consul `structs.ACLBindingRule`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclBindingRule {
    pub id: String,
    pub description: String,
    pub auth_method: String,
    pub selector: String,
    /// `service`, `node`, `role`, `policy` or `templated-policy`.
    pub bind_type: String,
    pub bind_name: String,
    /// `BindVars.Name` of a templated policy.
    pub bind_vars_name: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Store {
    pub(crate) fn acl_auth_method_set(
        &mut self,
        idx: u64,
        mut m: AclAuthMethod,
    ) -> Result<(), StateError> {
        if m.name.is_empty() {
            return Err(acl_err("Invalid Auth Method: no Name is set"));
        }
        let existing = self.acl_auth_methods.get(&m.name).cloned();
        if let Some(old) = &existing
            && old.method_type != m.method_type
        {
            return Err(acl_err(format!(
                "the Type field of an Auth Method cannot be changed (was {:?})",
                old.method_type
            )));
        }
        m.create_index = existing.map_or(idx, |e| e.create_index);
        m.modify_index = idx;
        self.put_acl_auth_method(m.name.clone(), Some(m));
        self.touch(Table::AclAuthMethods, idx);
        Ok(())
    }

    /// Deletes an auth method with its binding rules and the tokens it created.
    pub(crate) fn acl_auth_method_delete(
        &mut self,
        idx: u64,
        name: &str,
    ) -> Result<(), StateError> {
        if !self.acl_auth_methods.contains_key(name) {
            return Err(StateError::AclNotFound(
                "Cannot find auth method to delete".into(),
            ));
        }
        self.put_acl_auth_method(name.to_string(), None);
        let rules: Vec<String> = self
            .acl_binding_rules
            .values()
            .filter(|r| r.auth_method == name)
            .map(|r| r.id.clone())
            .collect();
        for id in rules {
            self.put_acl_binding_rule(id, None);
        }
        let tokens: Vec<String> = self
            .acl_tokens
            .values()
            .filter(|t| t.auth_method == name)
            .map(|t| t.accessor_id.clone())
            .collect();
        if !tokens.is_empty() {
            for a in tokens {
                self.put_acl_token(a, None);
            }
            self.touch(Table::AclTokens, idx);
        }
        self.touch(Table::AclAuthMethods, idx);
        Ok(())
    }

    pub(crate) fn acl_binding_rule_set(
        &mut self,
        idx: u64,
        mut r: AclBindingRule,
        create: bool,
    ) -> Result<(), StateError> {
        let existing = self.acl_binding_rules.get(&r.id).cloned();
        match (&existing, create) {
            (Some(_), true) => {
                return Err(acl_err(format!(
                    "Invalid Binding Rule: ID {:?} is already in use",
                    r.id
                )));
            }
            (None, false) => {
                return Err(acl_err(format!(
                    "Cannot find binding rule to update {:?}",
                    r.id
                )));
            }
            _ => {}
        }
        if !self.acl_auth_methods.contains_key(&r.auth_method) {
            return Err(acl_err(format!(
                "Invalid Binding Rule: unknown auth method {:?}",
                r.auth_method
            )));
        }
        r.create_index = existing.map_or(idx, |e| e.create_index);
        r.modify_index = idx;
        self.put_acl_binding_rule(r.id.clone(), Some(r));
        self.touch(Table::AclAuthMethods, idx);
        Ok(())
    }

    pub(crate) fn acl_binding_rule_delete(&mut self, idx: u64, id: &str) -> Result<(), StateError> {
        if !self.acl_binding_rules.contains_key(id) {
            return Err(StateError::AclNotFound(
                "Cannot find binding rule to delete".into(),
            ));
        }
        self.put_acl_binding_rule(id.to_string(), None);
        self.touch(Table::AclAuthMethods, idx);
        Ok(())
    }

    /// Auth methods (one by name, or all) with the binding rules of each.
    pub(crate) fn acl_auth_methods_get(&self, name: Option<&str>) -> (u64, QueryResult) {
        let methods: Vec<(AclAuthMethod, Vec<AclBindingRule>)> = self
            .acl_auth_methods
            .values()
            .filter(|m| name.is_none_or(|n| m.name == n))
            .map(|m| {
                let rules = self
                    .acl_binding_rules
                    .values()
                    .filter(|r| r.auth_method == m.name)
                    .cloned()
                    .collect();
                (m.clone(), rules)
            })
            .collect();
        (
            self.indexes.acl_auth_methods,
            QueryResult::AclAuthMethods(methods),
        )
    }

    pub(crate) fn acl_binding_rules_get(
        &self,
        id: Option<&str>,
        method: Option<&str>,
    ) -> (u64, QueryResult) {
        let rules = self
            .acl_binding_rules
            .values()
            .filter(|r| id.is_none_or(|i| r.id == i))
            .filter(|r| method.is_none_or(|m| r.auth_method == m))
            .cloned()
            .collect();
        (
            self.indexes.acl_auth_methods,
            QueryResult::AclBindingRules(rules),
        )
    }
}
