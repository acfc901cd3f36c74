//! Compiled policies and the decisions Consul's `acl.Authorizer` makes
//! (`acl/policy_authorizer.go`, `acl/static_authorizer.go`, `acl/chained_authorizer.go`).
//!
//! * [`PolicyAuthorizer`]: the merged rules of a set of policies. Its answers may be
//!   [`Decision::Default`] (no rule applies).
//! * [`StaticAuthorizer`]: allow-all (the `default_policy = "allow"` fallback: everything but
//!   `acl` and snapshots), deny-all, manage-all.
//! * [`Authorizer`]: rules first, then a static fallback; always answers `Allow` or `Deny`.
//! * [`Enforcer`]: an authorizer plus the caller's AccessorID, returning Consul's
//!   permission-denied errors.

use std::sync::Arc;

use crate::builtin::WILDCARD_NAME;
use crate::error::{PermissionDenied, PermissionDeniedCause, Resource};
use crate::rules::{Level, PolicyRules, Rule, ServiceRule};

/// The answer to one authorization question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// A rule grants the access.
    Allow,
    /// A rule denies the access (explicitly, or by granting less).
    Deny,
    /// No rule applies; the next authorizer decides.
    Default,
}

impl Decision {
    /// True for [`Decision::Allow`].
    pub fn is_allow(self) -> bool {
        self == Decision::Allow
    }
}

/// `acl.default_policy`: what an unmatched request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefaultPolicy {
    /// `allow`: everything but `acl` (read and write) and snapshots.
    Allow,
    /// `deny`.
    Deny,
}

impl DefaultPolicy {
    /// Parses `allow` or `deny` (exactly, as Consul's config does).
    pub fn parse(s: &str) -> Option<DefaultPolicy> {
        match s {
            "allow" => Some(DefaultPolicy::Allow),
            "deny" => Some(DefaultPolicy::Deny),
            _ => None,
        }
    }

    /// The static authorizer that implements it.
    pub fn authorizer(self) -> StaticAuthorizer {
        match self {
            DefaultPolicy::Allow => StaticAuthorizer::AllowAll,
            DefaultPolicy::Deny => StaticAuthorizer::DenyAll,
        }
    }
}

/// What a rule at `level` decides for an access needing `required` (read, list or write).
fn enforce(level: Level, required: Level) -> Decision {
    let granted = match level {
        Level::Write => true,
        Level::List => matches!(required, Level::List | Level::Read),
        Level::Read => required == Level::Read,
        Level::Deny => false,
    };
    if granted {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

fn enforce_opt(level: Option<Level>, required: Level) -> Decision {
    level.map_or(Decision::Default, |l| enforce(l, required))
}

/// Exact and prefix rules of one resource, sorted by name for binary search.
#[derive(Clone, Debug, Default)]
struct Table {
    exact: Vec<(Box<str>, Level)>,
    prefix: Vec<(Box<str>, Level)>,
}

impl Table {
    fn build(
        exact: impl Iterator<Item = (String, Level)>,
        prefix: impl Iterator<Item = (String, Level)>,
    ) -> Table {
        fn sorted(rules: impl Iterator<Item = (String, Level)>) -> Vec<(Box<str>, Level)> {
            let mut v: Vec<(Box<str>, Level)> =
                rules.map(|(n, l)| (n.into_boxed_str(), l)).collect();
            // Merged rules have unique names; keep the strongest if not.
            v.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            v.dedup_by(|a, b| a.0 == b.0);
            v
        }
        Table {
            exact: sorted(exact),
            prefix: sorted(prefix),
        }
    }

    fn from_rules(exact: &[Rule], prefix: &[Rule]) -> Table {
        Table::build(
            exact.iter().map(|r| (r.name.clone(), r.level)),
            prefix.iter().map(|r| (r.name.clone(), r.level)),
        )
    }

    /// The exact rule for `name`, else the longest prefix rule covering it.
    fn lookup(&self, name: &str) -> Option<Level> {
        if let Ok(i) = self
            .exact
            .binary_search_by(|(k, _)| k.as_bytes().cmp(name.as_bytes()))
        {
            return Some(self.exact[i].1);
        }
        self.longest_prefix(name)
    }

    /// The longest prefix rule whose label is a prefix of `name` (byte-wise).
    fn longest_prefix(&self, name: &str) -> Option<Level> {
        let mut bound = name.as_bytes();
        loop {
            // The greatest label <= bound. If it is a prefix of bound it is the longest one;
            // otherwise the answer is a prefix of their common part, which is shorter.
            let i = self.prefix.partition_point(|(k, _)| k.as_bytes() <= bound);
            let (label, level) = self.prefix.get(i.checked_sub(1)?)?;
            let label = label.as_bytes();
            if bound.starts_with(label) {
                return Some(*level);
            }
            let common = label.iter().zip(bound).take_while(|(a, b)| a == b).count();
            bound = &bound[..common];
        }
    }

    fn all_rules(&self) -> impl Iterator<Item = Level> + '_ {
        self.exact.iter().chain(&self.prefix).map(|(_, l)| *l)
    }

    fn has_catch_all(&self) -> Option<Level> {
        self.prefix
            .first()
            .filter(|(k, _)| k.is_empty())
            .map(|(_, l)| *l)
    }

    /// Consul's `allAllowed`: denied if any rule would deny, allowed if a `""` prefix rule
    /// allows, else no decision.
    fn all_allowed(&self, required: Level) -> Decision {
        if self
            .all_rules()
            .any(|l| enforce(l, required) == Decision::Deny)
        {
            return Decision::Deny;
        }
        match self.has_catch_all() {
            Some(_) => Decision::Allow,
            None => Decision::Default,
        }
    }

    /// Consul's `anyAllowed`: allowed if any rule would allow, denied if a `""` prefix rule
    /// exists (and did not allow), else no decision.
    fn any_allowed(&self, required: Level) -> Decision {
        if self
            .all_rules()
            .any(|l| enforce(l, required) == Decision::Allow)
        {
            return Decision::Allow;
        }
        match self.has_catch_all() {
            Some(_) => Decision::Deny,
            None => Decision::Default,
        }
    }

    /// Consul's `KeyWritePrefix`: deny if the longest prefix rule covering `prefix` is not
    /// `write`, or if any rule at or below `prefix` is not `write`; allow if the covering prefix
    /// rule is `write`; else no decision.
    fn write_prefix(&self, prefix: &str) -> Decision {
        let base = match self.longest_prefix(prefix) {
            Some(Level::Write) => Decision::Allow,
            Some(_) => return Decision::Deny,
            None => Decision::Default,
        };
        let below = |rules: &[(Box<str>, Level)]| {
            let start = rules.partition_point(|(k, _)| k.as_bytes() < prefix.as_bytes());
            rules[start..]
                .iter()
                .take_while(|(k, _)| k.starts_with(prefix))
                .any(|(_, l)| *l != Level::Write)
        };
        if below(&self.exact) || below(&self.prefix) {
            return Decision::Deny;
        }
        base
    }
}

/// The merged rules of a set of policies, compiled for lookups. Immutable, `Send + Sync`.
#[derive(Clone, Debug, Default)]
pub struct PolicyAuthorizer {
    acl: Option<Level>,
    keyring: Option<Level>,
    operator: Option<Level>,
    mesh: Option<Level>,
    peering: Option<Level>,
    agents: Table,
    events: Table,
    intentions: Table,
    keys: Table,
    nodes: Table,
    queries: Table,
    services: Table,
    sessions: Table,
}

impl PolicyAuthorizer {
    /// Merges `policies` ([`PolicyRules::merge`]) and compiles the result.
    pub fn new<'a>(policies: impl IntoIterator<Item = &'a PolicyRules>) -> PolicyAuthorizer {
        PolicyAuthorizer::from_merged(&PolicyRules::merge(policies))
    }

    /// Compiles rules that are already merged (or a single policy).
    pub fn from_merged(rules: &PolicyRules) -> PolicyAuthorizer {
        let service_table = |exact: &[ServiceRule], prefix: &[ServiceRule], intentions: bool| {
            let level = |r: &ServiceRule| {
                if intentions {
                    r.effective_intentions()
                } else {
                    r.level
                }
            };
            Table::build(
                exact.iter().map(|r| (r.name.clone(), level(r))),
                prefix.iter().map(|r| (r.name.clone(), level(r))),
            )
        };
        PolicyAuthorizer {
            acl: rules.acl,
            keyring: rules.keyring,
            operator: rules.operator,
            mesh: rules.mesh,
            peering: rules.peering,
            agents: Table::from_rules(&rules.agents, &rules.agent_prefixes),
            events: Table::from_rules(&rules.events, &rules.event_prefixes),
            intentions: service_table(&rules.services, &rules.service_prefixes, true),
            keys: Table::from_rules(&rules.keys, &rules.key_prefixes),
            nodes: Table::from_rules(&rules.nodes, &rules.node_prefixes),
            queries: Table::from_rules(&rules.queries, &rules.query_prefixes),
            services: service_table(&rules.services, &rules.service_prefixes, false),
            sessions: Table::from_rules(&rules.sessions, &rules.session_prefixes),
        }
    }

    fn named(table: &Table, name: &str, required: Level) -> Decision {
        enforce_opt(table.lookup(name), required)
    }

    /// `acl:read`.
    pub fn acl_read(&self) -> Decision {
        enforce_opt(self.acl, Level::Read)
    }
    /// `acl:write`.
    pub fn acl_write(&self) -> Decision {
        enforce_opt(self.acl, Level::Write)
    }
    /// `agent:read` on a node's agent endpoints.
    pub fn agent_read(&self, node: &str) -> Decision {
        Self::named(&self.agents, node, Level::Read)
    }
    /// `agent:write` on a node's agent endpoints.
    pub fn agent_write(&self, node: &str) -> Decision {
        Self::named(&self.agents, node, Level::Write)
    }
    /// `event:read`.
    pub fn event_read(&self, name: &str) -> Decision {
        Self::named(&self.events, name, Level::Read)
    }
    /// `event:write` (fire).
    pub fn event_write(&self, name: &str) -> Decision {
        Self::named(&self.events, name, Level::Write)
    }
    /// Rules never decide the default intention behaviour.
    pub fn intention_default_allow(&self) -> Decision {
        Decision::Default
    }
    /// `intention:read` for intentions whose destination is `service`; `*` asks whether any
    /// rule allows it.
    pub fn intention_read(&self, service: &str) -> Decision {
        if service == WILDCARD_NAME {
            return self.intentions.any_allowed(Level::Read);
        }
        Self::named(&self.intentions, service, Level::Read)
    }
    /// `intention:write`; `*` asks whether every rule allows it.
    pub fn intention_write(&self, service: &str) -> Decision {
        if service == WILDCARD_NAME {
            return self.intentions.all_allowed(Level::Write);
        }
        Self::named(&self.intentions, service, Level::Write)
    }
    /// `key:list` on a prefix.
    pub fn key_list(&self, key: &str) -> Decision {
        Self::named(&self.keys, key, Level::List)
    }
    /// `key:read`.
    pub fn key_read(&self, key: &str) -> Decision {
        Self::named(&self.keys, key, Level::Read)
    }
    /// `key:write`.
    pub fn key_write(&self, key: &str) -> Decision {
        Self::named(&self.keys, key, Level::Write)
    }
    /// Write on everything under a prefix (recursive delete).
    pub fn key_write_prefix(&self, prefix: &str) -> Decision {
        self.keys.write_prefix(prefix)
    }
    /// `keyring:read`.
    pub fn keyring_read(&self) -> Decision {
        enforce_opt(self.keyring, Level::Read)
    }
    /// `keyring:write`.
    pub fn keyring_write(&self) -> Decision {
        enforce_opt(self.keyring, Level::Write)
    }
    /// `mesh:read`; unset falls back to `operator:read`.
    pub fn mesh_read(&self) -> Decision {
        match self.mesh {
            Some(level) => enforce(level, Level::Read),
            None => self.operator_read(),
        }
    }
    /// `mesh:write`; unset falls back to `operator:write`.
    pub fn mesh_write(&self) -> Decision {
        match self.mesh {
            Some(level) => enforce(level, Level::Write),
            None => self.operator_write(),
        }
    }
    /// `peering:read`; unset falls back to `operator:read`.
    pub fn peering_read(&self) -> Decision {
        match self.peering {
            Some(level) => enforce(level, Level::Read),
            None => self.operator_read(),
        }
    }
    /// `peering:write`; unset falls back to `operator:write`.
    pub fn peering_write(&self) -> Decision {
        match self.peering {
            Some(level) => enforce(level, Level::Write),
            None => self.operator_write(),
        }
    }
    /// `node:read`.
    pub fn node_read(&self, node: &str) -> Decision {
        Self::named(&self.nodes, node, Level::Read)
    }
    /// `node:read` on every node.
    pub fn node_read_all(&self) -> Decision {
        self.nodes.all_allowed(Level::Read)
    }
    /// `node:write`.
    pub fn node_write(&self, node: &str) -> Decision {
        Self::named(&self.nodes, node, Level::Write)
    }
    /// `operator:read`.
    pub fn operator_read(&self) -> Decision {
        enforce_opt(self.operator, Level::Read)
    }
    /// `operator:write`.
    pub fn operator_write(&self) -> Decision {
        enforce_opt(self.operator, Level::Write)
    }
    /// `query:read` (listing a prepared query, not executing it).
    pub fn query_read(&self, name: &str) -> Decision {
        Self::named(&self.queries, name, Level::Read)
    }
    /// `query:write`.
    pub fn query_write(&self, name: &str) -> Decision {
        Self::named(&self.queries, name, Level::Write)
    }
    /// `service:read`.
    pub fn service_read(&self, service: &str) -> Decision {
        Self::named(&self.services, service, Level::Read)
    }
    /// `service:read` on every service.
    pub fn service_read_all(&self) -> Decision {
        self.services.all_allowed(Level::Read)
    }
    /// `service:write`.
    pub fn service_write(&self, service: &str) -> Decision {
        Self::named(&self.services, service, Level::Write)
    }
    /// `service:write` on at least one service.
    pub fn service_write_any(&self) -> Decision {
        self.services.any_allowed(Level::Write)
    }
    /// `session:read` on a node's sessions.
    pub fn session_read(&self, node: &str) -> Decision {
        Self::named(&self.sessions, node, Level::Read)
    }
    /// `session:write` on a node's sessions.
    pub fn session_write(&self, node: &str) -> Decision {
        Self::named(&self.sessions, node, Level::Write)
    }
    /// Snapshots (save and restore): `acl:write`.
    pub fn snapshot(&self) -> Decision {
        enforce_opt(self.acl, Level::Write)
    }

    #[cfg(test)]
    pub(crate) fn keys_any_allowed(&self, required: Level) -> Decision {
        self.keys.any_allowed(required)
    }

    #[cfg(test)]
    pub(crate) fn keys_all_allowed(&self, required: Level) -> Decision {
        self.keys.all_allowed(required)
    }
}

/// Consul's static authorizers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StaticAuthorizer {
    /// Everything except `acl` (read and write) and snapshots (`default_policy = "allow"`).
    AllowAll,
    /// Nothing (`default_policy = "deny"`).
    DenyAll,
    /// Everything, management included.
    ManageAll,
}

impl StaticAuthorizer {
    /// The static authorizer a root secret names (`allow`, `deny`, `manage`), which Consul
    /// refuses to resolve as a token (`Cannot resolve root ACL`).
    pub fn root(secret: &str) -> Option<StaticAuthorizer> {
        match secret {
            "allow" => Some(StaticAuthorizer::AllowAll),
            "deny" => Some(StaticAuthorizer::DenyAll),
            "manage" => Some(StaticAuthorizer::ManageAll),
            _ => None,
        }
    }

    /// The decision for a management check (`acl`, snapshot) or any other check.
    pub fn decide(self, management: bool) -> Decision {
        let allowed = match self {
            StaticAuthorizer::ManageAll => true,
            StaticAuthorizer::AllowAll => !management,
            StaticAuthorizer::DenyAll => false,
        };
        if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }
}

/// A token's authorizer: its compiled rules, then the default policy. Every method answers
/// [`Decision::Allow`] or [`Decision::Deny`]. Cheap to clone (the rules are shared).
#[derive(Clone, Debug)]
pub struct Authorizer {
    rules: Option<Arc<PolicyAuthorizer>>,
    fallback: StaticAuthorizer,
}

macro_rules! chained {
    ($(#[$doc:meta] $name:ident($($arg:ident),*) $management:expr;)*) => {
        $(
            #[$doc]
            pub fn $name(&self $(, $arg: &str)*) -> Decision {
                if let Some(rules) = &self.rules {
                    let d = rules.$name($($arg),*);
                    if d != Decision::Default {
                        return d;
                    }
                }
                self.fallback.decide($management)
            }
        )*
    };
}

impl Authorizer {
    /// Allows everything except `acl` and snapshots (ACLs enabled, `default_policy = "allow"`,
    /// no rules).
    pub fn allow_all() -> Authorizer {
        Authorizer::from_static(StaticAuthorizer::AllowAll)
    }

    /// Denies everything.
    pub fn deny_all() -> Authorizer {
        Authorizer::from_static(StaticAuthorizer::DenyAll)
    }

    /// Allows everything, management included.
    pub fn manage_all() -> Authorizer {
        Authorizer::from_static(StaticAuthorizer::ManageAll)
    }

    /// An authorizer made of one static authorizer.
    pub fn from_static(authorizer: StaticAuthorizer) -> Authorizer {
        Authorizer {
            rules: None,
            fallback: authorizer,
        }
    }

    /// Merges and compiles `policies` (a token's policies, its roles' policies and its
    /// synthetic policies, already filtered to this datacenter), falling back to `default`.
    pub fn new<'a>(
        policies: impl IntoIterator<Item = &'a PolicyRules>,
        default: DefaultPolicy,
    ) -> Authorizer {
        Authorizer::with_rules(Arc::new(PolicyAuthorizer::new(policies)), default)
    }

    /// Compiled rules (possibly cached and shared) in front of `default`.
    pub fn with_rules(rules: Arc<PolicyAuthorizer>, default: DefaultPolicy) -> Authorizer {
        Authorizer {
            rules: Some(rules),
            fallback: default.authorizer(),
        }
    }

    /// The authorizer of `acl.tokens.agent_recovery` on the agent named `node`: write on
    /// that agent, read on all nodes, nothing else (`agent/acl.go`).
    pub fn agent_recovery(node: &str) -> Authorizer {
        let rules = PolicyRules {
            agents: vec![Rule {
                name: node.to_string(),
                level: Level::Write,
            }],
            node_prefixes: vec![Rule {
                name: String::new(),
                level: Level::Read,
            }],
            ..PolicyRules::default()
        };
        Authorizer::with_rules(
            Arc::new(PolicyAuthorizer::from_merged(&rules)),
            DefaultPolicy::Deny,
        )
    }

    /// The same rules with the caller's AccessorID, for checks that return errors.
    pub fn enforcer<'a>(&'a self, accessor_id: &'a str) -> Enforcer<'a> {
        Enforcer {
            authz: self,
            accessor_id,
        }
    }

    chained! {
        /// `acl:read`.
        acl_read() true;
        /// `acl:write`.
        acl_write() true;
        /// `agent:read` on a node.
        agent_read(node) false;
        /// `agent:write` on a node.
        agent_write(node) false;
        /// `event:read`.
        event_read(name) false;
        /// `event:write`.
        event_write(name) false;
        /// Whether connections with no matching intention are allowed (default policy).
        intention_default_allow() false;
        /// `intention:read` (`*`: any).
        intention_read(service) false;
        /// `intention:write` (`*`: all).
        intention_write(service) false;
        /// `key:list`.
        key_list(key) false;
        /// `key:read`.
        key_read(key) false;
        /// `key:write`.
        key_write(key) false;
        /// Write on everything under a prefix (recursive delete).
        key_write_prefix(prefix) false;
        /// `keyring:read`.
        keyring_read() false;
        /// `keyring:write`.
        keyring_write() false;
        /// `mesh:read` (unset: `operator:read`).
        mesh_read() false;
        /// `mesh:write` (unset: `operator:write`).
        mesh_write() false;
        /// `peering:read` (unset: `operator:read`).
        peering_read() false;
        /// `peering:write` (unset: `operator:write`).
        peering_write() false;
        /// `node:read`.
        node_read(node) false;
        /// `node:read` on all nodes.
        node_read_all() false;
        /// `node:write`.
        node_write(node) false;
        /// `operator:read`.
        operator_read() false;
        /// `operator:write`.
        operator_write() false;
        /// `query:read`.
        query_read(name) false;
        /// `query:write`.
        query_write(name) false;
        /// `service:read`.
        service_read(service) false;
        /// `service:read` on all services.
        service_read_all() false;
        /// `service:write`.
        service_write(service) false;
        /// `service:write` on any service.
        service_write_any() false;
        /// `session:read` on a node.
        session_read(node) false;
        /// `session:write` on a node.
        session_write(node) false;
        /// Snapshot save/restore (`acl:write`).
        snapshot() true;
    }
}

/// An [`Authorizer`] with the caller's AccessorID: each `*_allowed` check returns Consul's
/// permission-denied error (Consul's `AllowAuthorizer`).
#[derive(Clone, Copy, Debug)]
pub struct Enforcer<'a> {
    authz: &'a Authorizer,
    accessor_id: &'a str,
}

macro_rules! allowed {
    ($(#[$doc:meta] $name:ident => $check:ident($($arg:ident),*) $resource:ident $level:ident $label:expr;)*) => {
        $(
            #[$doc]
            pub fn $name(&self $(, $arg: &str)*) -> Result<(), PermissionDenied> {
                if self.authz.$check($($arg),*).is_allow() {
                    return Ok(());
                }
                Err(PermissionDenied::new(
                    self.accessor_id,
                    Resource::$resource,
                    Level::$level,
                    $label,
                ))
            }
        )*
    };
}

impl Enforcer<'_> {
    /// The authorizer behind the checks.
    pub fn authorizer(&self) -> &Authorizer {
        self.authz
    }

    /// The default intention behaviour; denial reads `Permission denied: Denied by intention
    /// default`.
    pub fn intention_default_allow_allowed(&self) -> Result<(), PermissionDeniedCause> {
        if self.authz.intention_default_allow().is_allow() {
            return Ok(());
        }
        Err(PermissionDeniedCause {
            cause: Some("Denied by intention default".to_string()),
        })
    }

    allowed! {
        /// `acl:read`.
        acl_read_allowed => acl_read() Acl Read None;
        /// `acl:write`.
        acl_write_allowed => acl_write() Acl Write None;
        /// `agent:read` on a node.
        agent_read_allowed => agent_read(node) Agent Read Some(node);
        /// `agent:write` on a node.
        agent_write_allowed => agent_write(node) Agent Write Some(node);
        /// `event:read`.
        event_read_allowed => event_read(name) Event Read Some(name);
        /// `event:write`.
        event_write_allowed => event_write(name) Event Write Some(name);
        /// `intention:read`.
        intention_read_allowed => intention_read(service) Intention Read Some(service);
        /// `intention:write`.
        intention_write_allowed => intention_write(service) Intention Write Some(service);
        /// `key:list`.
        key_list_allowed => key_list(key) Key List Some(key);
        /// `key:read`.
        key_read_allowed => key_read(key) Key Read Some(key);
        /// `key:write`.
        key_write_allowed => key_write(key) Key Write Some(key);
        /// Write under a prefix; denial names `key:write` on the prefix.
        key_write_prefix_allowed => key_write_prefix(prefix) Key Write Some(prefix);
        /// `keyring:read`.
        keyring_read_allowed => keyring_read() Keyring Read None;
        /// `keyring:write`.
        keyring_write_allowed => keyring_write() Keyring Write None;
        /// `mesh:read`.
        mesh_read_allowed => mesh_read() Mesh Read None;
        /// `mesh:write`.
        mesh_write_allowed => mesh_write() Mesh Write None;
        /// `peering:read`.
        peering_read_allowed => peering_read() Peering Read None;
        /// `peering:write`.
        peering_write_allowed => peering_write() Peering Write None;
        /// `node:read`.
        node_read_allowed => node_read(node) Node Read Some(node);
        /// `node:read` on `all nodes`.
        node_read_all_allowed => node_read_all() Node Read Some("all nodes");
        /// `node:write`.
        node_write_allowed => node_write(node) Node Write Some(node);
        /// `operator:read`.
        operator_read_allowed => operator_read() Operator Read None;
        /// `operator:write`.
        operator_write_allowed => operator_write() Operator Write None;
        /// `query:read`.
        query_read_allowed => query_read(name) Query Read Some(name);
        /// `query:write`.
        query_write_allowed => query_write(name) Query Write Some(name);
        /// `service:read`.
        service_read_allowed => service_read(service) Service Read Some(service);
        /// `service:read` on `all services`.
        service_read_all_allowed => service_read_all() Service Read Some("all services");
        /// `service:write`.
        service_write_allowed => service_write(service) Service Write Some(service);
        /// `service:write` on `any service`.
        service_write_any_allowed => service_write_any() Service Write Some("any service");
        /// `session:read` on a node.
        session_read_allowed => session_read(node) Session Read Some(node);
        /// `session:write` on a node.
        session_write_allowed => session_write(node) Session Write Some(node);
        /// Snapshots; denial names `acl:write`.
        snapshot_allowed => snapshot() Acl Write None;
    }
}
