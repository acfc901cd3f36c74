//! ACL enforcement at the one forwarding point: who is calling ([`Caller`]), what a secret
//! resolves to ([`Identity`], compiled from the state's tokens, policies and roles and cached),
//! what each [`Request`] needs ([`authorize`]) and what a read may show ([`filter`]).
//!
//! Requests are authorized in the datacenter that answers them: a forwarded request carries
//! its secret (`CallRequest.token`) and the receiving server resolves it again. Calls the agent
//! makes for itself are [`Caller::Internal`]: trusted when a server runs them locally (leader
//! duties, as Consul's raft applies), and sent with the agent's token when they travel.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use praetor_acl::{
    Authorizer, DefaultPolicy, Enforcer, NodeIdentity, PermissionDenied, PolicyRules,
    ServiceIdentity, TemplateVariables, TemplatedPolicy, builtin, policy_applies_in,
};
use praetor_state::{
    AclResolved, AclTemplatedPolicy, AclToken, Command, KvOp, Query, QueryResult, Store, TxnKvVerb,
    TxnOp,
};

use crate::RpcError;
use crate::messages::Request;

/// Who a request runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The agent itself (anti-entropy, leader duties): unchecked when a server runs it
    /// locally, the agent's token when it is forwarded.
    Internal,
    /// A secret from a request (`""`: anonymous).
    Token(String),
}

/// `acl.down_policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownPolicy {
    Allow,
    Deny,
    ExtendCache,
    AsyncCache,
}

impl DownPolicy {
    /// Consul's values; anything else is `None`.
    pub fn parse(s: &str) -> Option<DownPolicy> {
        Some(match s {
            "allow" => DownPolicy::Allow,
            "deny" => DownPolicy::Deny,
            "extend-cache" => DownPolicy::ExtendCache,
            "async-cache" => DownPolicy::AsyncCache,
            _ => return None,
        })
    }
}

/// The agent's ACL configuration as the forwarding point needs it.
#[derive(Clone, Debug)]
pub struct AclSettings {
    pub enabled: bool,
    pub default_policy: DefaultPolicy,
    pub down_policy: DownPolicy,
    /// How long a client agent (and a secondary, for tokens it resolved in the primary) trusts
    /// a resolved identity before asking again: the shortest of `acl.token_ttl`, `policy_ttl`
    /// and `role_ttl`.
    pub token_ttl: Duration,
    /// `acl.enable_key_list_policy`.
    pub enable_key_list_policy: bool,
    /// This agent's node name (for `agent_recovery`).
    pub node_name: String,
    /// Where global ACL objects are written and replicated from.
    pub primary_datacenter: String,
}

impl Default for AclSettings {
    fn default() -> Self {
        AclSettings {
            enabled: false,
            default_policy: DefaultPolicy::Allow,
            down_policy: DownPolicy::ExtendCache,
            token_ttl: Duration::from_secs(30),
            enable_key_list_policy: false,
            node_name: String::new(),
            primary_datacenter: String::new(),
        }
    }
}

/// The agent's own tokens (`acl.tokens.*`, `PUT /v1/agent/token/<kind>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentTokens {
    pub default: String,
    pub agent: String,
    pub agent_recovery: String,
    pub replication: String,
    pub config_file_service_registration: String,
    pub dns: String,
}

impl AgentTokens {
    /// The token of the agent's own calls: `agent`, else `default`.
    pub fn agent_or_default(&self) -> &str {
        if self.agent.is_empty() {
            &self.default
        } else {
            &self.agent
        }
    }

    /// The token of DNS lookups: `dns`, else `default`.
    pub fn dns_or_default(&self) -> &str {
        if self.dns.is_empty() {
            &self.default
        } else {
            &self.dns
        }
    }
}

/// A resolved caller: the AccessorID in denial messages and the compiled rules.
#[derive(Clone, Debug)]
pub struct Identity {
    pub accessor_id: String,
    pub authz: Authorizer,
    /// The token (`None` for ACLs off, internal calls and the recovery token).
    pub token: Option<AclToken>,
}

impl Identity {
    /// Everything allowed (ACLs disabled, internal calls).
    pub fn unrestricted() -> Identity {
        Identity {
            accessor_id: String::new(),
            authz: Authorizer::manage_all(),
            token: None,
        }
    }

    pub fn enforcer(&self) -> Enforcer<'_> {
        self.authz.enforcer(&self.accessor_id)
    }

    /// True for the anonymous token (results filtered for it do not set the header).
    pub fn is_anonymous(&self) -> bool {
        self.accessor_id == builtin::ANONYMOUS_TOKEN_ID
    }
}

impl From<PermissionDenied> for RpcError {
    fn from(e: PermissionDenied) -> Self {
        RpcError::PermissionDenied(e.to_string())
    }
}

struct Cached {
    identity: Identity,
    /// Server: the ACL index it was compiled at. Client: 0.
    index: u64,
    fetched: Instant,
}

/// Compiled identities by secret.
#[derive(Default)]
pub struct AclCache {
    entries: Mutex<HashMap<String, Cached>>,
}

/// At most this many secrets are cached; beyond, the cache starts over (bounded memory when
/// a caller sends random secrets).
const MAX_CACHED: usize = 4096;

impl AclCache {
    /// A cached identity still valid for `index` (server) or younger than `ttl` (client).
    pub fn get(&self, secret: &str, index: Option<u64>, ttl: Duration) -> Option<(Identity, bool)> {
        let entries = self.entries.lock().ok()?;
        let c = entries.get(secret)?;
        let fresh = match index {
            Some(i) => c.index == i,
            None => c.fetched.elapsed() < ttl,
        };
        Some((c.identity.clone(), fresh))
    }

    pub fn put(&self, secret: &str, identity: Identity, index: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
            entries.insert(
                secret.to_string(),
                Cached {
                    identity,
                    index,
                    fetched: Instant::now(),
                },
            );
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }
}

/// Settings and tokens, swappable at run time (reload, `/v1/agent/token`).
#[derive(Default)]
pub(crate) struct AclState {
    pub(crate) settings: RwLock<AclSettings>,
    pub(crate) tokens: RwLock<AgentTokens>,
    pub(crate) cache: AclCache,
    /// Tokens of the primary a secondary resolved remotely (kept for `token_ttl`).
    pub(crate) remote: AclCache,
    pub(crate) replication: Mutex<ReplicationStatus>,
    /// Bumped after each change of `settings` or `tokens` (see `Rpc::acl_generation`).
    pub(crate) generation: AtomicU64,
}

/// `GET /v1/acl/replication` (Consul's `ACLReplicationStatus`); times are unix ms, 0 = never.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicationStatus {
    pub enabled: bool,
    pub running: bool,
    pub source_datacenter: String,
    /// `policies` or `tokens`.
    pub replication_type: String,
    pub replicated_index: u64,
    pub replicated_role_index: u64,
    pub replicated_token_index: u64,
    pub last_success_ms: u64,
    pub last_error_ms: u64,
    pub last_error_message: String,
}

/// True for writes of global ACL objects, which only the primary datacenter takes (`store`
/// tells whether a token to delete is a local one).
pub fn is_global_acl_write(cmd: &Command, store: &Store) -> bool {
    match cmd {
        Command::AclTokenSet { token, .. } => !token.local,
        Command::AclTokenDelete { accessor_id } => !matches!(
            store.query(&Query::AclTokenGet { accessor_id: accessor_id.clone() }).result,
            QueryResult::AclTokens(ref t) if t.first().is_some_and(|t| t.local)
        ),
        Command::AclPolicySet { .. }
        | Command::AclPolicyDelete { .. }
        | Command::AclRoleSet { .. }
        | Command::AclRoleDelete { .. }
        | Command::AclBootstrap { .. } => true,
        _ => false,
    }
}

fn templated(t: &AclTemplatedPolicy) -> TemplatedPolicy {
    TemplatedPolicy {
        template_name: t.template_name.clone(),
        variables: t.name.clone().map(|name| TemplateVariables { name }),
        datacenters: t.datacenters.clone(),
    }
}

/// Compiles what a secret resolved to into an identity for datacenter `dc`: the token's
/// policies (those valid here), its roles' policies, and the synthetic policies of its and its
/// roles' identities and templated policies, in front of the default policy. An expired token
/// is `ACL not found`. A policy whose rules no longer parse is skipped with a warning.
pub fn compile(
    resolved: &AclResolved,
    default: DefaultPolicy,
    dc: &str,
    now_ms: u64,
) -> Result<Identity, RpcError> {
    let token = &resolved.token;
    if token.is_expired(now_ms) {
        return Err(RpcError::AclNotFound(builtin::ERR_NOT_FOUND.into()));
    }
    let mut rules: Vec<PolicyRules> = Vec::new();
    let mut add = |name: &str, text: &str| match praetor_acl::parse_rules(text) {
        Ok(r) => rules.push(r),
        Err(e) => {
            tracing::warn!(policy = name, error = %e, "skipping an ACL policy whose rules do not parse")
        }
    };
    for p in &resolved.policies {
        if policy_applies_in(&p.datacenters, dc) {
            add(&p.name, &p.rules);
        }
    }
    let identities = std::iter::once((
        &token.service_identities,
        &token.node_identities,
        &token.templated_policies,
    ))
    .chain(resolved.roles.iter().map(|r| {
        (
            &r.service_identities,
            &r.node_identities,
            &r.templated_policies,
        )
    }));
    for (services, nodes, templates) in identities {
        for s in services {
            let p = ServiceIdentity {
                service_name: s.service_name.clone(),
                datacenters: s.datacenters.clone(),
            }
            .synthetic_policy();
            if p.applies_in(dc) {
                add(&p.name, &p.rules);
            }
        }
        for n in nodes {
            let p = NodeIdentity {
                node_name: n.node_name.clone(),
                datacenter: n.datacenter.clone(),
            }
            .synthetic_policy();
            if p.applies_in(dc) {
                add(&p.name, &p.rules);
            }
        }
        for t in templates {
            match templated(t).synthetic_policy() {
                Ok(p) if p.applies_in(dc) => add(&p.name, &p.rules),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(template = %t.template_name, error = %e, "skipping a templated policy")
                }
            }
        }
    }
    Ok(Identity {
        accessor_id: token.accessor_id.clone(),
        authz: Authorizer::new(rules.iter(), default),
        token: Some(token.clone()),
    })
}

/// An unknown secret: Consul adds the bootstrap hint before the ACL system is bootstrapped.
pub(crate) fn not_found(bootstrapped: bool) -> RpcError {
    if bootstrapped {
        RpcError::AclNotFound(builtin::ERR_NOT_FOUND.into())
    } else {
        RpcError::AclNotFound(format!(
            "ACL system must be bootstrapped before making any requests that require authorization: {}",
            builtin::ERR_NOT_FOUND
        ))
    }
}

/// The special secrets every agent knows without asking: root names (refused) and the agent
/// recovery token. `None`: ask the state.
pub(crate) fn resolve_static(
    tokens: &AgentTokens,
    settings: &AclSettings,
    secret: &str,
) -> Option<Result<Identity, RpcError>> {
    if builtin::ROOT_SECRETS.contains(&secret) {
        return Some(Err(RpcError::Internal(builtin::ERR_ROOT_DENIED.into())));
    }
    if !tokens.agent_recovery.is_empty() && secret == tokens.agent_recovery {
        return Some(Ok(Identity {
            accessor_id: "agent-recovery-token".into(),
            authz: Authorizer::agent_recovery(&settings.node_name),
            token: None,
        }));
    }
    None
}

/// Resolves `secret` (`""`: anonymous) in `store` for datacenter `dc`: a cached identity while
/// no ACL table moved, else compiled from the state and cached.
pub fn resolve_in_store(
    cache: &AclCache,
    tokens: &AgentTokens,
    settings: &AclSettings,
    store: &Store,
    secret: &str,
    dc: &str,
) -> Result<Identity, RpcError> {
    let secret = if secret.is_empty() {
        builtin::ANONYMOUS_TOKEN_SECRET
    } else {
        secret
    };
    if let Some(r) = resolve_static(tokens, settings, secret) {
        return r;
    }
    let index = store.acl_index();
    if let Some((id, true)) = cache.get(secret, Some(index), settings.token_ttl) {
        return Ok(id);
    }
    let resolved = match store
        .query(&Query::AclResolve {
            secret_id: secret.to_string(),
        })
        .result
    {
        QueryResult::AclResolved(Some(r)) => *r,
        _ if secret == builtin::ANONYMOUS_TOKEN_SECRET => anonymous_resolved(),
        _ => return Err(not_found(store.acl_bootstrap_index().is_some())),
    };
    let id = compile(&resolved, settings.default_policy, dc, crate::now_ms())?;
    cache.put(secret, id.clone(), index);
    Ok(id)
}

/// The anonymous token before the leader wrote it: no policies.
pub(crate) fn anonymous_resolved() -> AclResolved {
    AclResolved {
        token: AclToken {
            accessor_id: builtin::ANONYMOUS_TOKEN_ID.into(),
            secret_id: builtin::ANONYMOUS_TOKEN_SECRET.into(),
            description: builtin::ANONYMOUS_TOKEN_DESCRIPTION.into(),
            ..AclToken::default()
        },
        ..AclResolved::default()
    }
}

/// What `req` needs beyond what [`filter`] hides. `store` is this server's state (for the
/// node of a session, the service of a check...).
pub fn authorize(id: &Identity, req: &Request, store: &Store) -> Result<(), RpcError> {
    let e = id.enforcer();
    match req {
        Request::Apply(cmd) => authorize_command(&e, cmd, store)?,
        Request::Query(q) => authorize_query(&e, &q.query)?,
        Request::RaftConfiguration | Request::AutopilotHealth | Request::Routes => {
            e.operator_read_allowed()?
        }
        Request::RemoveRaftPeer { .. } => e.operator_write_allowed()?,
        Request::Keyring { op, .. } => match op {
            crate::KeyringOp::List => e.keyring_read_allowed()?,
            _ => e.keyring_write_allowed()?,
        },
        Request::AreaJoin { .. } => e.operator_write_allowed()?,
        Request::AreaMembers { .. } => e.operator_read_allowed()?,
        Request::EventFire(ev) => {
            if !e.authorizer().event_write(&ev.name).is_allow() {
                return Err(RpcError::PermissionDenied(
                    builtin::PERMISSION_DENIED.into(),
                ));
            }
        }
        Request::SnapshotSave => e.snapshot_allowed()?,
        Request::CaSignIntermediate { .. } | Request::CaSetConfig { .. } => {
            e.operator_write_allowed()?
        }
        Request::SessionRenew { id: sid } => {
            if let Some(node) = session_node(store, sid) {
                e.session_write_allowed(&node)?;
            }
        }
        Request::PreparedQueryExecute { .. }
        | Request::PreparedQueryExecuteRemote { .. }
        // The permission depends on the SPIFFE ID inside the CSR: checked where it is parsed.
        | Request::CaSignLeaf { .. }
        | Request::AclLogin { .. }
        | Request::AclLogout { .. }
        | Request::Datacenters
        | Request::CoordinateDatacenters
        | Request::RaftStats => {}
    }
    Ok(())
}

fn session_node(store: &Store, id: &str) -> Option<String> {
    match store.query(&Query::SessionInfo { id: id.into() }).result {
        QueryResult::Sessions(s) => s.into_iter().next().map(|s| s.node),
        _ => None,
    }
}

fn authorize_command(e: &Enforcer<'_>, cmd: &Command, store: &Store) -> Result<(), RpcError> {
    match cmd {
        Command::Register {
            node,
            service,
            checks,
            ..
        } => {
            let existing = match store
                .query(&Query::CatalogNode {
                    node: node.node.clone(),
                })
                .result
            {
                QueryResult::NodeServices(n) => n.map(|(n, _)| n),
                _ => None,
            };
            let node_changes = existing.is_none_or(|old| {
                old.address != node.address
                    || old.meta != node.meta
                    || old.tagged_addresses != node.tagged_addresses
                    || (!node.id.is_empty() && old.id != node.id)
            });
            if node_changes {
                e.node_write_allowed(&node.node)?;
            }
            if let Some(s) = service {
                e.service_write_allowed(&s.service)?;
            }
            for c in checks {
                if c.service_id.is_empty() {
                    e.node_write_allowed(&node.node)?;
                } else {
                    let name = if c.service_name.is_empty() {
                        service.as_ref().map_or("", |s| s.service.as_str())
                    } else {
                        c.service_name.as_str()
                    };
                    e.service_write_allowed(name)?;
                }
            }
        }
        Command::Deregister {
            node,
            service_id,
            check_id,
            ..
        } => {
            let services = match store
                .query(&Query::CatalogNode { node: node.clone() })
                .result
            {
                QueryResult::NodeServices(Some((_, s))) => s,
                _ => Vec::new(),
            };
            let service_name = |sid: &str| {
                services
                    .iter()
                    .find(|s| s.id == sid)
                    .map(|s| s.service.clone())
            };
            if let Some(sid) = service_id {
                match service_name(sid) {
                    Some(name) => e.service_write_allowed(&name)?,
                    None => e.node_write_allowed(node)?,
                }
            } else if let Some(cid) = check_id {
                let checks = match store
                    .query(&Query::HealthNode { node: node.clone() })
                    .result
                {
                    QueryResult::Checks(c) => c,
                    _ => Vec::new(),
                };
                match checks.iter().find(|c| c.check_id == *cid) {
                    Some(c) if !c.service_id.is_empty() => e.service_write_allowed(
                        &service_name(&c.service_id).unwrap_or_else(|| c.service_name.clone()),
                    )?,
                    _ => e.node_write_allowed(node)?,
                }
            } else {
                e.node_write_allowed(node)?;
            }
        }
        Command::KvSet { op, entry, .. } => match op {
            KvOp::DeleteTree => e.key_write_prefix_allowed(&entry.key)?,
            _ => e.key_write_allowed(&entry.key)?,
        },
        Command::SessionCreate { session, .. } => e.session_write_allowed(&session.node)?,
        Command::SessionDestroy { id, .. } => {
            if let Some(node) = session_node(store, id) {
                e.session_write_allowed(&node)?;
            }
        }
        Command::Txn { ops, .. } => {
            for op in ops {
                let TxnOp::Kv(kv) = op;
                match kv.verb {
                    TxnKvVerb::Get | TxnKvVerb::GetOrEmpty => e.key_read_allowed(&kv.key)?,
                    TxnKvVerb::GetTree => e.key_read_allowed(&kv.key)?,
                    TxnKvVerb::CheckIndex | TxnKvVerb::CheckSession | TxnKvVerb::CheckNotExists => {
                        e.key_read_allowed(&kv.key)?
                    }
                    TxnKvVerb::DeleteTree => e.key_write_prefix_allowed(&kv.key)?,
                    TxnKvVerb::Set
                    | TxnKvVerb::Delete
                    | TxnKvVerb::DeleteCas
                    | TxnKvVerb::Cas
                    | TxnKvVerb::Lock
                    | TxnKvVerb::Unlock => e.key_write_allowed(&kv.key)?,
                }
            }
        }
        Command::CoordinateBatchUpdate { updates } => {
            for u in updates {
                e.node_write_allowed(&u.node)?;
            }
        }
        Command::AreaUpsert { .. }
        | Command::AreaDelete { .. }
        | Command::AutopilotSetConfig { .. } => e.operator_write_allowed()?,
        Command::Restore { .. } => e.snapshot_allowed()?,
        Command::PreparedQuerySet { query, .. } => e.query_write_allowed(&query.name)?,
        Command::PreparedQueryDelete { id } => {
            let name = match store
                .query(&Query::PreparedQueryGet { id: id.clone() })
                .result
            {
                QueryResult::PreparedQueries(q) => q.into_iter().next().map(|q| q.name),
                _ => None,
            };
            e.query_write_allowed(name.as_deref().unwrap_or(""))?;
        }
        Command::AclBootstrap { .. } => {}
        Command::AclReplicate { .. }
        | Command::AclAuthMethodSet { .. }
        | Command::AclAuthMethodDelete { .. }
        | Command::AclBindingRuleSet { .. }
        | Command::AclBindingRuleDelete { .. } => e.acl_write_allowed()?,
        Command::AclTokenSet { .. }
        | Command::AclTokenDelete { .. }
        | Command::AclPolicySet { .. }
        | Command::AclPolicyDelete { .. }
        | Command::AclRoleSet { .. }
        | Command::AclRoleDelete { .. } => e.acl_write_allowed()?,
        Command::ConfigEntrySet { entry, .. } => {
            config_entry_write_allowed(e, &entry.kind, &entry.name)?
        }
        Command::ConfigEntryDelete { kind, name, .. } => config_entry_write_allowed(e, kind, name)?,
        Command::ConfigEntriesReplicate { .. } | Command::CaSet { .. } => {
            e.operator_write_allowed()?
        }
        // Leader bookkeeping: only an operator may ask for it from outside.
        Command::TombstoneReap { .. }
        | Command::AclTokensReap { .. }
        | Command::AclInitBuiltins { .. } => e.operator_write_allowed()?,
        // Built by the leader's proposer; from outside, as if each were sent alone.
        Command::Batch(cmds) => {
            for cmd in cmds {
                authorize_command(e, cmd, store)?;
            }
        }
    }
    Ok(())
}

/// Consul's `CanWrite` per config entry kind.
fn config_entry_write_allowed(e: &Enforcer<'_>, kind: &str, name: &str) -> Result<(), RpcError> {
    match kind {
        "service-defaults" | "service-resolver" => e.service_write_allowed(name)?,
        "service-intentions" => e.intention_write_allowed(name)?,
        // proxy-defaults, mesh (and anything else): mesh:write, which falls back to operator.
        _ => e.mesh_write_allowed()?,
    }
    Ok(())
}

/// Consul's `CanRead` per config entry kind.
fn config_entry_readable(a: &Authorizer, kind: &str, name: &str) -> bool {
    match kind {
        "service-defaults" | "service-resolver" => a.service_read(name).is_allow(),
        "service-intentions" => a.intention_read(name).is_allow(),
        // proxy-defaults and mesh: anyone.
        _ => true,
    }
}

fn authorize_query(e: &Enforcer<'_>, q: &Query) -> Result<(), RpcError> {
    // Catalog, health, KV and session reads are filtered afterwards (`filter`), not refused.
    match q {
        Query::AutopilotConfig | Query::Areas | Query::AreaGet { .. } => {
            e.operator_read_allowed()?
        }
        Query::AclTokenGet { .. }
        | Query::AclTokenList { .. }
        | Query::AclPolicies { .. }
        | Query::AclRoles { .. } => e.acl_read_allowed()?,
        Query::AclReplication { tokens: true } => e.acl_write_allowed()?,
        // Consul: reading the CA configuration needs operator:write; the roots are public.
        Query::CaConfig => e.operator_write_allowed()?,
        Query::AclReplication { tokens: false }
        | Query::AclAuthMethods { .. }
        | Query::AclBindingRules { .. } => e.acl_read_allowed()?,
        // The secret is the credential: whoever holds it may see its token.
        Query::AclTokenBySecret { .. } | Query::AclResolve { .. } => {}
        _ => {}
    }
    Ok(())
}

/// Drops from `result` what the caller may not read; true when something was dropped.
/// A single KV key the caller may not read is a denial, as in Consul.
pub fn filter(
    id: &Identity,
    q: &Query,
    result: &mut QueryResult,
    key_list_policy: bool,
) -> Result<bool, RpcError> {
    let a = &id.authz;
    let e = id.enforcer();
    let before = result_len(result);
    match result {
        QueryResult::Kv(entry) => {
            if let Query::KvGet { key } = q {
                e.key_read_allowed(key)?;
            }
            if entry
                .as_ref()
                .is_some_and(|x| !a.key_read(&x.key).is_allow())
            {
                *entry = None;
            }
        }
        QueryResult::KvList(entries) => {
            if key_list_policy && let Some(p) = q.kv_prefix() {
                e.key_list_allowed(p)?;
            }
            entries.retain(|x| a.key_read(&x.key).is_allow());
        }
        QueryResult::Keys(keys) => {
            if key_list_policy && let Some(p) = q.kv_prefix() {
                e.key_list_allowed(p)?;
            }
            keys.retain(|k| a.key_read(k).is_allow());
        }
        QueryResult::Nodes(nodes) => nodes.retain(|n| a.node_read(&n.node).is_allow()),
        QueryResult::Services(services) => {
            services.retain(|name, _| a.service_read(name).is_allow());
        }
        QueryResult::ServiceNodes(rows) => rows.retain(|r| {
            a.node_read(&r.node.node).is_allow() && a.service_read(&r.service.service).is_allow()
        }),
        QueryResult::NodeServices(ns) => {
            if ns
                .as_ref()
                .is_some_and(|(n, _)| !a.node_read(&n.node).is_allow())
            {
                *ns = None;
            } else if let Some((_, services)) = ns {
                services.retain(|s| a.service_read(&s.service).is_allow());
            }
        }
        QueryResult::Checks(checks) => checks.retain(|c| {
            a.node_read(&c.node).is_allow()
                && (c.service_name.is_empty() || a.service_read(&c.service_name).is_allow())
        }),
        QueryResult::CheckServiceNodes(rows) => rows.retain(|r| {
            a.node_read(&r.node.node).is_allow() && a.service_read(&r.service.service).is_allow()
        }),
        QueryResult::Sessions(s) => s.retain(|s| a.session_read(&s.node).is_allow()),
        QueryResult::Coordinates(c) => c.retain(|c| a.node_read(&c.node).is_allow()),
        QueryResult::PreparedQueries(qs) => {
            // Consul: a query with a name needs query:read on it; unnamed ones only for
            // acl:write (management) holders.
            qs.retain(|x| {
                if x.name.is_empty() {
                    a.acl_write().is_allow()
                } else {
                    a.query_read(&x.name).is_allow()
                }
            });
            if !a.acl_write().is_allow() {
                for x in qs.iter_mut() {
                    if !x.token.is_empty() {
                        x.token = "<hidden>".into();
                    }
                }
            }
        }
        QueryResult::AclTokens(tokens) => {
            if !a.acl_write().is_allow() {
                for t in tokens.iter_mut() {
                    t.secret_id = "<hidden>".into();
                }
            }
        }
        QueryResult::ConfigEntries(entries) => {
            if let Query::ConfigEntries {
                kind: Some(kind),
                name: Some(name),
            } = q
                && entries
                    .iter()
                    .any(|x| !config_entry_readable(a, &x.kind, &x.name))
            {
                // One entry asked for by name: a denial, as in Consul.
                match kind.as_str() {
                    "service-intentions" => e.intention_read_allowed(name)?,
                    _ => e.service_read_allowed(name)?,
                }
            }
            entries.retain(|x| config_entry_readable(a, &x.kind, &x.name));
        }
        QueryResult::CaRoots { .. } | QueryResult::CaConfig(_) => {}
        QueryResult::Areas(_)
        | QueryResult::Autopilot(_)
        | QueryResult::AclPolicies(_)
        | QueryResult::AclRoles(_)
        | QueryResult::AclResolved(_)
        | QueryResult::AclReplication(_)
        | QueryResult::AclAuthMethods(_)
        | QueryResult::AclBindingRules(_) => {}
    }
    Ok(result_len(result) < before)
}

fn result_len(r: &QueryResult) -> usize {
    match r {
        QueryResult::Kv(e) => usize::from(e.is_some()),
        QueryResult::KvList(v) => v.len(),
        QueryResult::Keys(v) => v.len(),
        QueryResult::Nodes(v) => v.len(),
        QueryResult::Services(v) => v.len(),
        QueryResult::ServiceNodes(v) => v.len(),
        QueryResult::NodeServices(v) => v.as_ref().map_or(0, |(_, s)| 1 + s.len()),
        QueryResult::Checks(v) => v.len(),
        QueryResult::CheckServiceNodes(v) => v.len(),
        QueryResult::Sessions(v) => v.len(),
        QueryResult::Coordinates(v) => v.len(),
        QueryResult::PreparedQueries(v) => v.len(),
        QueryResult::AclTokens(v) => v.len(),
        QueryResult::AclPolicies(v) => v.len(),
        QueryResult::AclRoles(v) => v.len(),
        QueryResult::Areas(v) => v.len(),
        QueryResult::AclAuthMethods(v) => v.len(),
        QueryResult::AclBindingRules(v) => v.len(),
        QueryResult::ConfigEntries(v) => v.len(),
        QueryResult::CaRoots { roots, .. } => roots.len(),
        QueryResult::CaConfig(_) => 0,
        QueryResult::Autopilot(_)
        | QueryResult::AclResolved(_)
        | QueryResult::AclReplication(_) => 0,
    }
}

/// Instances of an executed prepared query the caller may not read are dropped.
pub fn filter_nodes(id: &Identity, nodes: &mut Vec<praetor_state::CheckServiceNode>) -> bool {
    let before = nodes.len();
    nodes.retain(|r| {
        id.authz.node_read(&r.node.node).is_allow()
            && id.authz.service_read(&r.service.service).is_allow()
    });
    nodes.len() < before
}

#[cfg(test)]
mod tests {
    use super::*;
    use praetor_state::{AclPolicy, AclServiceIdentity, KvEntry};

    fn resolved(rules: &[&str]) -> AclResolved {
        AclResolved {
            token: AclToken {
                accessor_id: "acc".into(),
                secret_id: "sec".into(),
                ..AclToken::default()
            },
            policies: rules
                .iter()
                .enumerate()
                .map(|(i, r)| AclPolicy {
                    id: format!("p{i}"),
                    name: format!("p{i}"),
                    rules: r.to_string(),
                    ..AclPolicy::default()
                })
                .collect(),
            roles: Vec::new(),
        }
    }

    fn kv(key: &str) -> KvEntry {
        KvEntry {
            key: key.into(),
            ..KvEntry::default()
        }
    }

    #[test]
    fn expired_token_is_not_found_and_datacenters_limit_policies() {
        let mut r = resolved(&[r#"key_prefix "" { policy = "write" }"#]);
        r.token.expiration_time_ms = Some(10);
        assert!(matches!(
            compile(&r, DefaultPolicy::Deny, "dc1", 10),
            Err(RpcError::AclNotFound(_))
        ));
        let mut r = resolved(&[r#"key_prefix "" { policy = "write" }"#]);
        r.policies[0].datacenters = vec!["dc2".into()];
        let id = compile(&r, DefaultPolicy::Deny, "dc1", 0).unwrap();
        assert!(!id.authz.key_read("x").is_allow(), "policy for dc2 only");
        let id = compile(&r, DefaultPolicy::Deny, "dc2", 0).unwrap();
        assert!(id.authz.key_write("x").is_allow());
    }

    #[test]
    fn service_identity_grants_its_service() {
        let mut r = resolved(&[]);
        r.token.service_identities = vec![AclServiceIdentity {
            service_name: "web".into(),
            datacenters: Vec::new(),
        }];
        let id = compile(&r, DefaultPolicy::Deny, "dc1", 0).unwrap();
        assert!(id.authz.service_write("web").is_allow());
        assert!(id.authz.service_write("web-sidecar-proxy").is_allow());
        assert!(!id.authz.service_write("db").is_allow());
        assert!(id.authz.node_read("any").is_allow());
    }

    #[test]
    fn kv_reads_are_checked_and_lists_filtered() {
        let r = resolved(&[r#"key_prefix "app/" { policy = "read" }
               key "app/secret" { policy = "deny" }"#]);
        let id = compile(&r, DefaultPolicy::Deny, "dc1", 0).unwrap();
        let q = Query::KvGet {
            key: "app/secret".into(),
        };
        let mut res = QueryResult::Kv(Some(kv("app/secret")));
        let e = filter(&id, &q, &mut res, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Permission denied: token with AccessorID 'acc' lacks permission 'key:read' on \"app/secret\""
        );
        let q = Query::KvList {
            prefix: "app/".into(),
        };
        let mut res = QueryResult::KvList(vec![kv("app/a"), kv("app/secret")]);
        assert!(
            filter(&id, &q, &mut res, false).unwrap(),
            "something dropped"
        );
        assert_eq!(res, QueryResult::KvList(vec![kv("app/a")]));
        // With enable_key_list_policy a recursive read needs key:list on the prefix.
        let mut res = QueryResult::KvList(vec![kv("app/a")]);
        assert!(filter(&id, &q, &mut res, true).is_err());
    }

    #[test]
    fn writes_need_write_and_delete_tree_needs_the_whole_prefix() {
        let r = resolved(&[r#"key_prefix "app/" { policy = "write" }
                              key "app/keep" { policy = "read" }"#]);
        let id = compile(&r, DefaultPolicy::Deny, "dc1", 0).unwrap();
        let store = Store::new();
        let set = |key: &str, op: KvOp| {
            Request::Apply(Command::KvSet {
                op,
                entry: kv(key),
                cas_index: 0,
                now_ms: 0,
            })
        };
        assert!(authorize(&id, &set("app/x", KvOp::Set), &store).is_ok());
        assert!(authorize(&id, &set("other", KvOp::Set), &store).is_err());
        assert!(
            authorize(&id, &set("app/", KvOp::DeleteTree), &store).is_err(),
            "a read-only key below the prefix"
        );
        assert!(authorize(&id, &Request::SnapshotSave, &store).is_err());
        assert!(authorize(&id, &Request::RaftConfiguration, &store).is_err());
        assert!(authorize(&id, &Request::Datacenters, &store).is_ok());
    }

    #[test]
    fn secrets_hidden_without_acl_write() {
        let id = compile(
            &resolved(&[r#"acl = "read""#]),
            DefaultPolicy::Deny,
            "dc1",
            0,
        )
        .unwrap();
        let mut res = QueryResult::AclTokens(vec![AclToken {
            secret_id: "s".into(),
            ..AclToken::default()
        }]);
        let q = Query::AclTokenList {
            filter: Default::default(),
        };
        filter(&id, &q, &mut res, false).unwrap();
        let QueryResult::AclTokens(t) = res else {
            panic!()
        };
        assert_eq!(t[0].secret_id, "<hidden>");
    }
}
