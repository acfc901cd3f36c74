//! The ACL rules language: a policy's `Rules` text (HCL or JSON) parsed into [`PolicyRules`],
//! and the merge of several policies (`acl/policy.go`, `acl/policy_merger.go`).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{RulesError, RulesErrorKind, go_quote};
use crate::syntax::{self, Item, Node, Pos, duplicate_error, syntax_error};

/// Largest rules text accepted, in bytes. Larger texts are rejected before parsing.
pub const MAX_RULES_BYTES: usize = 1024 * 1024;

/// An access level. The derived order is the merge precedence: `Deny` > `Write` > `List` >
/// `Read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// `read`.
    Read,
    /// `list` (keys only): read plus listing.
    List,
    /// `write`: read, list and write.
    Write,
    /// `deny`: nothing, and no fall-through to other rules.
    Deny,
}

impl Level {
    /// Parses a level, case-insensitively (`READ` is `read`).
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "read" => Some(Level::Read),
            "list" => Some(Level::List),
            "write" => Some(Level::Write),
            "deny" => Some(Level::Deny),
            _ => None,
        }
    }

    /// The lowercase name (`read`, `list`, `write`, `deny`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::List => "list",
            Level::Write => "write",
            Level::Deny => "deny",
        }
    }

    /// The level two rules for the same thing merge into: deny > write > list > read.
    pub fn merge(self, other: Level) -> Level {
        self.max(other)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A labelled rule: `key_prefix "foo/" { policy = "read" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The label: a key, node, event, query or session node name (or prefix).
    pub name: String,
    /// The access level.
    pub level: Level,
}

/// A service rule: `service "web" { policy = "write" intentions = "read" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRule {
    /// The service name (or prefix).
    pub name: String,
    /// The access level on the service.
    pub level: Level,
    /// The explicit level on intentions whose destination is the service, if given.
    pub intentions: Option<Level>,
}

impl ServiceRule {
    /// The intentions level in force: the explicit one, else `read` when the service level is
    /// `read` or `write`, else `deny`.
    pub fn effective_intentions(&self) -> Level {
        self.intentions.unwrap_or(match self.level {
            Level::Read | Level::Write => Level::Read,
            Level::List | Level::Deny => Level::Deny,
        })
    }
}

/// The typed content of a policy's rules. Exact rules and prefix rules are kept apart; the
/// string resources are `None` when unset (an empty string is unset too).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRules {
    /// `acl = ".."` (also gates snapshots, with `write`).
    pub acl: Option<Level>,
    /// `agent "node" {..}`.
    pub agents: Vec<Rule>,
    /// `agent_prefix "node" {..}`.
    pub agent_prefixes: Vec<Rule>,
    /// `event "name" {..}`.
    pub events: Vec<Rule>,
    /// `event_prefix "name" {..}`.
    pub event_prefixes: Vec<Rule>,
    /// `key "k" {..}` (levels may be `list`).
    pub keys: Vec<Rule>,
    /// `key_prefix "k" {..}` (levels may be `list`).
    pub key_prefixes: Vec<Rule>,
    /// `keyring = ".."`.
    pub keyring: Option<Level>,
    /// `mesh = ".."` (unset falls back to `operator`).
    pub mesh: Option<Level>,
    /// `node "n" {..}`.
    pub nodes: Vec<Rule>,
    /// `node_prefix "n" {..}`.
    pub node_prefixes: Vec<Rule>,
    /// `operator = ".."`.
    pub operator: Option<Level>,
    /// `peering = ".."` (unset falls back to `operator`).
    pub peering: Option<Level>,
    /// `query "name" {..}` (prepared queries).
    pub queries: Vec<Rule>,
    /// `query_prefix "name" {..}`.
    pub query_prefixes: Vec<Rule>,
    /// `service "s" {..}`.
    pub services: Vec<ServiceRule>,
    /// `service_prefix "s" {..}`.
    pub service_prefixes: Vec<ServiceRule>,
    /// `session "node" {..}`.
    pub sessions: Vec<Rule>,
    /// `session_prefix "node" {..}`.
    pub session_prefixes: Vec<Rule>,
}

/// Consul calls the parsed rules of one policy a `Policy`.
pub type Policy = PolicyRules;

impl FromStr for PolicyRules {
    type Err = RulesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rules(s)
    }
}

/// Parses a policy's `Rules` text, HCL or JSON (JSON when the first non-space character is
/// `{`, as Consul decides). Empty text is an empty policy. Errors carry Consul's message
/// (`Failed to parse ACL rules: ...`, `Invalid <resource> policy: ...`) plus the line (HCL) and
/// the offending rule.
pub fn parse_rules(text: &str) -> Result<PolicyRules, RulesError> {
    if text.len() > MAX_RULES_BYTES {
        return Err(syntax_error(
            None,
            None,
            &format!(
                "rules are {} bytes, more than the {MAX_RULES_BYTES} allowed",
                text.len()
            ),
        ));
    }
    if text.is_empty() {
        return Ok(PolicyRules::default());
    }
    let items = if syntax::is_json(text) {
        syntax::parse_json(text)?
    } else {
        syntax::parse_hcl(text)?
    };
    let raw = decode(items)?;
    validate(raw)
}

impl PolicyRules {
    /// Merges policies as Consul does for a token: rules for the same (resource, exact or
    /// prefix, label) combine as deny > write > list > read; explicit service `intentions`
    /// levels combine the same way (an unset one never overrides a set one). Order is kept:
    /// the first appearance of a label decides its position.
    pub fn merge<'a>(policies: impl IntoIterator<Item = &'a PolicyRules>) -> PolicyRules {
        let mut m = Merger::default();
        for p in policies {
            m.acl = merge_opt(m.acl, p.acl);
            m.keyring = merge_opt(m.keyring, p.keyring);
            m.mesh = merge_opt(m.mesh, p.mesh);
            m.operator = merge_opt(m.operator, p.operator);
            m.peering = merge_opt(m.peering, p.peering);
            m.agents.add(&p.agents);
            m.agent_prefixes.add(&p.agent_prefixes);
            m.events.add(&p.events);
            m.event_prefixes.add(&p.event_prefixes);
            m.keys.add(&p.keys);
            m.key_prefixes.add(&p.key_prefixes);
            m.nodes.add(&p.nodes);
            m.node_prefixes.add(&p.node_prefixes);
            m.queries.add(&p.queries);
            m.query_prefixes.add(&p.query_prefixes);
            m.sessions.add(&p.sessions);
            m.session_prefixes.add(&p.session_prefixes);
            m.services.add(&p.services);
            m.service_prefixes.add(&p.service_prefixes);
        }
        PolicyRules {
            acl: m.acl,
            agents: m.agents.rules,
            agent_prefixes: m.agent_prefixes.rules,
            events: m.events.rules,
            event_prefixes: m.event_prefixes.rules,
            keys: m.keys.rules,
            key_prefixes: m.key_prefixes.rules,
            keyring: m.keyring,
            mesh: m.mesh,
            nodes: m.nodes.rules,
            node_prefixes: m.node_prefixes.rules,
            operator: m.operator,
            peering: m.peering,
            queries: m.queries.rules,
            query_prefixes: m.query_prefixes.rules,
            services: m.services.rules,
            service_prefixes: m.service_prefixes.rules,
            sessions: m.sessions.rules,
            session_prefixes: m.session_prefixes.rules,
        }
    }
}

fn merge_opt(a: Option<Level>, b: Option<Level>) -> Option<Level> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.merge(b)),
        (a, b) => a.or(b),
    }
}

/// Something with a name that can absorb another rule for the same name.
trait Mergeable: Clone {
    fn name(&self) -> &str;
    fn absorb(&mut self, other: &Self);
}

impl Mergeable for Rule {
    fn name(&self) -> &str {
        &self.name
    }
    fn absorb(&mut self, other: &Self) {
        self.level = self.level.merge(other.level);
    }
}

impl Mergeable for ServiceRule {
    fn name(&self) -> &str {
        &self.name
    }
    fn absorb(&mut self, other: &Self) {
        self.level = self.level.merge(other.level);
        self.intentions = merge_opt(self.intentions, other.intentions);
    }
}

struct Merged<T> {
    rules: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for Merged<T> {
    fn default() -> Self {
        Merged {
            rules: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: Mergeable> Merged<T> {
    fn add(&mut self, rules: &[T]) {
        for rule in rules {
            match self.index.get(rule.name()) {
                Some(&i) => self.rules[i].absorb(rule),
                None => {
                    self.index.insert(rule.name().to_string(), self.rules.len());
                    self.rules.push(rule.clone());
                }
            }
        }
    }
}

#[derive(Default)]
struct Merger {
    acl: Option<Level>,
    keyring: Option<Level>,
    mesh: Option<Level>,
    operator: Option<Level>,
    peering: Option<Level>,
    agents: Merged<Rule>,
    agent_prefixes: Merged<Rule>,
    events: Merged<Rule>,
    event_prefixes: Merged<Rule>,
    keys: Merged<Rule>,
    key_prefixes: Merged<Rule>,
    nodes: Merged<Rule>,
    node_prefixes: Merged<Rule>,
    queries: Merged<Rule>,
    query_prefixes: Merged<Rule>,
    sessions: Merged<Rule>,
    session_prefixes: Merged<Rule>,
    services: Merged<ServiceRule>,
    service_prefixes: Merged<ServiceRule>,
}

// ---------------------------------------------------------------------------------------------
// Decoding the item tree

/// The labelled resources, in Consul's validation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Agent,
    AgentPrefix,
    Key,
    KeyPrefix,
    Node,
    NodePrefix,
    Service,
    ServicePrefix,
    Session,
    SessionPrefix,
    Event,
    EventPrefix,
    Query,
    QueryPrefix,
}

const SECTIONS: [Section; 14] = [
    Section::Agent,
    Section::AgentPrefix,
    Section::Key,
    Section::KeyPrefix,
    Section::Node,
    Section::NodePrefix,
    Section::Service,
    Section::ServicePrefix,
    Section::Session,
    Section::SessionPrefix,
    Section::Event,
    Section::EventPrefix,
    Section::Query,
    Section::QueryPrefix,
];

impl Section {
    fn keyword(self) -> &'static str {
        match self {
            Section::Agent => "agent",
            Section::AgentPrefix => "agent_prefix",
            Section::Key => "key",
            Section::KeyPrefix => "key_prefix",
            Section::Node => "node",
            Section::NodePrefix => "node_prefix",
            Section::Service => "service",
            Section::ServicePrefix => "service_prefix",
            Section::Session => "session",
            Section::SessionPrefix => "session_prefix",
            Section::Event => "event",
            Section::EventPrefix => "event_prefix",
            Section::Query => "query",
            Section::QueryPrefix => "query_prefix",
        }
    }

    /// The Go rule type and its label field, for Consul's `%#v` in error messages.
    fn go_type(self) -> (&'static str, &'static str, bool) {
        match self {
            Section::Agent | Section::AgentPrefix => ("AgentRule", "Node", false),
            Section::Key | Section::KeyPrefix => ("KeyRule", "Prefix", true),
            Section::Node | Section::NodePrefix => ("NodeRule", "Name", true),
            Section::Service | Section::ServicePrefix => ("ServiceRule", "Name", true),
            Section::Session | Section::SessionPrefix => ("SessionRule", "Node", false),
            Section::Event | Section::EventPrefix => ("EventRule", "Event", false),
            Section::Query | Section::QueryPrefix => ("PreparedQueryRule", "Prefix", false),
        }
    }

    fn is_service(self) -> bool {
        matches!(self, Section::Service | Section::ServicePrefix)
    }

    fn allows_list(self) -> bool {
        matches!(self, Section::Key | Section::KeyPrefix)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The string resources, in Consul's validation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scalar {
    Acl,
    Keyring,
    Operator,
    Mesh,
    Peering,
}

const SCALARS: [Scalar; 5] = [
    Scalar::Acl,
    Scalar::Keyring,
    Scalar::Operator,
    Scalar::Mesh,
    Scalar::Peering,
];

impl Scalar {
    fn keyword(self) -> &'static str {
        match self {
            Scalar::Acl => "acl",
            Scalar::Keyring => "keyring",
            Scalar::Operator => "operator",
            Scalar::Mesh => "mesh",
            Scalar::Peering => "peering",
        }
    }
}

enum Resource {
    Scalar(Scalar),
    Section(Section),
}

fn resource(keyword: &str) -> Option<Resource> {
    if let Some(s) = SCALARS.iter().find(|s| s.keyword() == keyword) {
        return Some(Resource::Scalar(*s));
    }
    SECTIONS
        .iter()
        .find(|s| s.keyword() == keyword)
        .map(|s| Resource::Section(*s))
}

struct RawRule {
    label: String,
    policy: String,
    intentions: String,
    pos: Option<Pos>,
    policy_pos: Option<Pos>,
    intentions_pos: Option<Pos>,
}

#[derive(Default)]
struct Raw {
    scalars: [Option<(String, Option<Pos>)>; 5],
    sections: [Vec<RawRule>; 14],
}

fn describe(section: Section, label: &str) -> String {
    format!("{} {}", section.keyword(), go_quote(label))
}

fn decode(items: Vec<Item>) -> Result<Raw, RulesError> {
    let mut raw = Raw::default();
    for item in items {
        let Some(res) = resource(&item.key) else {
            return Err(syntax_error(
                item.pos,
                Some(item.key.clone()),
                &format!("unknown ACL resource {}", go_quote(&item.key)),
            ));
        };
        match res {
            Resource::Scalar(scalar) => {
                let keyword = scalar.keyword();
                let Node::Str(value) = item.value else {
                    return Err(syntax_error(
                        item.pos,
                        Some(keyword.to_string()),
                        &format!("{keyword} must be a string, like {keyword} = \"read\""),
                    ));
                };
                let slot = &mut raw.scalars[scalar as usize];
                if slot.is_some() {
                    return Err(duplicate_error(keyword, item.pos, None));
                }
                *slot = Some((value, item.pos));
            }
            Resource::Section(section) => decode_section(&mut raw, section, item)?,
        }
    }
    Ok(raw)
}

fn decode_section(raw: &mut Raw, section: Section, item: Item) -> Result<(), RulesError> {
    let keyword = section.keyword();
    let example = format!("{keyword} \"name\" {{ policy = \"read\" }}");
    if item.block_labels == Some(0) {
        return Err(syntax_error(
            item.pos,
            Some(keyword.to_string()),
            &format!("{keyword} needs a label, like {example}"),
        ));
    }
    let Node::Object(entries) = item.value else {
        return Err(syntax_error(
            item.pos,
            Some(keyword.to_string()),
            &format!("{keyword} must be a block, like {example}"),
        ));
    };
    for entry in entries {
        let rule_desc = describe(section, &entry.key);
        let pos = entry.pos.or(item.pos);
        let Node::Object(attrs) = entry.value else {
            return Err(syntax_error(
                pos,
                Some(rule_desc.clone()),
                &format!("{rule_desc} must be a block, like {rule_desc} {{ policy = \"read\" }}"),
            ));
        };
        let mut rule = RawRule {
            label: entry.key,
            policy: String::new(),
            intentions: String::new(),
            pos,
            policy_pos: None,
            intentions_pos: None,
        };
        let mut seen_policy = false;
        let mut seen_intentions = false;
        for attr in attrs {
            let attr_pos = attr.pos.or(pos);
            let (target, seen, at) = match attr.key.as_str() {
                "policy" => (&mut rule.policy, &mut seen_policy, &mut rule.policy_pos),
                "intentions" if section.is_service() => (
                    &mut rule.intentions,
                    &mut seen_intentions,
                    &mut rule.intentions_pos,
                ),
                other => {
                    return Err(syntax_error(
                        attr_pos,
                        Some(rule_desc.clone()),
                        &format!("unknown attribute {} in {rule_desc}", go_quote(other)),
                    ));
                }
            };
            if *seen {
                return Err(duplicate_error(&attr.key, attr.pos, Some(rule_desc)));
            }
            *seen = true;
            *at = attr_pos;
            match attr.value {
                Node::Str(value) => *target = value,
                Node::Object(_) => {
                    return Err(syntax_error(
                        attr_pos,
                        Some(rule_desc.clone()),
                        &format!("{} in {rule_desc} must be a string, not a block", attr.key),
                    ));
                }
                Node::Other(what) => {
                    return Err(syntax_error(
                        attr_pos,
                        Some(rule_desc.clone()),
                        &format!("{} in {rule_desc} must be a string, not {what}", attr.key),
                    ));
                }
            }
        }
        raw.sections[section.index()].push(rule);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Validation (Consul's order and messages)

/// Consul's `%#v` of a rule, e.g. `&acl.KeyRule{Prefix:"foo", Policy:"nope", EnterpriseRule:acl.EnterpriseRule{}}`.
fn go_rule(section: Section, rule: &RawRule) -> String {
    let (ty, label_field, enterprise) = section.go_type();
    let mut s = format!(
        "&acl.{ty}{{{label_field}:{}, Policy:{}",
        go_quote(&rule.label),
        go_quote(&rule.policy)
    );
    if section.is_service() {
        s.push_str(&format!(", Intentions:{}", go_quote(&rule.intentions)));
    }
    if enterprise {
        s.push_str(", EnterpriseRule:acl.EnterpriseRule{}");
    }
    s.push('}');
    s
}

fn invalid(what: &str, shown: &str, pos: Option<Pos>, rule: String) -> RulesError {
    let location = match pos {
        Some(p) => format!(" (line {}: {rule})", p.line),
        None => format!(" ({rule})"),
    };
    RulesError::new(
        RulesErrorKind::InvalidLevel,
        pos.map(|p| p.line),
        Some(rule),
        format!("Invalid {what} policy: {shown}{location}"),
    )
}

fn level_of(value: &str, allow_list: bool) -> Option<Level> {
    match Level::parse(value)? {
        Level::List if !allow_list => None,
        level => Some(level),
    }
}

fn validate(raw: Raw) -> Result<PolicyRules, RulesError> {
    let mut scalars: [Option<Level>; 5] = [None; 5];
    let check_scalar = |scalar: Scalar, scalars: &mut [Option<Level>; 5]| {
        if let Some((value, pos)) = &raw.scalars[scalar as usize] {
            if value.is_empty() {
                return Ok(());
            }
            match level_of(value, false) {
                Some(level) => scalars[scalar as usize] = Some(level),
                None => {
                    return Err(invalid(
                        scalar.keyword(),
                        &go_quote(value),
                        *pos,
                        scalar.keyword().to_string(),
                    ));
                }
            }
        }
        Ok(())
    };
    check_scalar(Scalar::Acl, &mut scalars)?;

    let mut rules: [Vec<Rule>; 14] = Default::default();
    let mut services: [Vec<ServiceRule>; 2] = Default::default();
    for section in SECTIONS {
        for rule in &raw.sections[section.index()] {
            let desc = describe(section, &rule.label);
            let Some(level) = level_of(&rule.policy, section.allows_list()) else {
                return Err(invalid(
                    section.keyword(),
                    &go_rule(section, rule),
                    rule.policy_pos.or(rule.pos),
                    desc,
                ));
            };
            if section.is_service() {
                let intentions = if rule.intentions.is_empty() {
                    None
                } else {
                    match level_of(&rule.intentions, false) {
                        Some(level) => Some(level),
                        None => {
                            return Err(invalid(
                                &format!("{} intentions", section.keyword()),
                                &go_rule(section, rule),
                                rule.intentions_pos.or(rule.pos),
                                desc,
                            ));
                        }
                    }
                };
                let slot = usize::from(section == Section::ServicePrefix);
                services[slot].push(ServiceRule {
                    name: rule.label.clone(),
                    level,
                    intentions,
                });
            } else {
                rules[section.index()].push(Rule {
                    name: rule.label.clone(),
                    level,
                });
            }
        }
    }
    for scalar in [
        Scalar::Keyring,
        Scalar::Operator,
        Scalar::Mesh,
        Scalar::Peering,
    ] {
        check_scalar(scalar, &mut scalars)?;
    }

    let [services, service_prefixes] = services;
    let mut take = |s: Section| std::mem::take(&mut rules[s.index()]);
    Ok(PolicyRules {
        acl: scalars[Scalar::Acl as usize],
        agents: take(Section::Agent),
        agent_prefixes: take(Section::AgentPrefix),
        events: take(Section::Event),
        event_prefixes: take(Section::EventPrefix),
        keys: take(Section::Key),
        key_prefixes: take(Section::KeyPrefix),
        keyring: scalars[Scalar::Keyring as usize],
        mesh: scalars[Scalar::Mesh as usize],
        nodes: take(Section::Node),
        node_prefixes: take(Section::NodePrefix),
        operator: scalars[Scalar::Operator as usize],
        peering: scalars[Scalar::Peering as usize],
        queries: take(Section::Query),
        query_prefixes: take(Section::QueryPrefix),
        services,
        service_prefixes,
        sessions: take(Section::Session),
        session_prefixes: take(Section::SessionPrefix),
    })
}
