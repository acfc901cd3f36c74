//! Service-mesh intention evaluation: Consul's precedence (`Intention.UpdatePrecedence`), the
//! highest-precedence matching intention decides (deny wins among equals), L7 permissions in
//! order, and the ACL default policy when nothing matches.

mod l7;

use l7::CompiledPermission;

/// The wildcard name ("any").
pub const WILDCARD: &str = "*";
/// The namespace and partition an empty value stands for.
pub const DEFAULT_TENANCY: &str = "default";

/// A workload identity (from its SPIFFE ID).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub service: String,
    /// Empty means "default".
    pub namespace: String,
    /// Empty means "default".
    pub partition: String,
    pub datacenter: String,
    pub trust_domain: String,
}

impl Identity {
    /// A service in the default namespace and partition.
    pub fn service(name: &str) -> Self {
        Identity {
            service: name.to_string(),
            ..Identity::default()
        }
    }
}

/// An intention's or permission's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    Allow,
    #[default]
    Deny,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        }
    }
}

/// An HTTP header condition of an L7 permission (Consul's `IntentionHTTPHeaderPermission`).
/// Exactly one of `present`, `exact`, `prefix`, `suffix`, `regex` must be set; an empty string
/// counts as unset, as in Consul.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderMatch {
    pub name: String,
    pub present: bool,
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub regex: Option<String>,
    pub invert: bool,
}

/// An L7 permission: when every condition matches, `action` applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permission {
    pub action: Action,
    pub path_exact: Option<String>,
    pub path_prefix: Option<String>,
    pub path_regex: Option<String>,
    /// Empty = any method.
    pub methods: Vec<String>,
    pub headers: Vec<HeaderMatch>,
}

/// One intention (Consul's `Intention`). Names and namespaces may be "*" (any); empty
/// namespaces and partitions mean "default".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Intention {
    pub id: String,
    pub source_name: String,
    pub source_namespace: String,
    pub source_partition: String,
    /// Empty unless the source is in a cluster peer.
    pub source_peer: String,
    pub destination_name: String,
    pub destination_namespace: String,
    pub destination_partition: String,
    /// The L4 decision; ignored when `permissions` is not empty.
    pub action: Action,
    /// L7 permissions, evaluated in order; the first that matches decides.
    pub permissions: Vec<Permission>,
}

impl Intention {
    /// An L4 intention `source => destination` in the default namespace and partition.
    pub fn new(id: &str, source: &str, destination: &str, action: Action) -> Self {
        Intention {
            id: id.to_string(),
            source_name: source.to_string(),
            destination_name: destination.to_string(),
            action,
            ..Intention::default()
        }
    }

    /// Consul's `Intention.UpdatePrecedence`: 9 (exact source and destination) down to 1
    /// (wildcard namespaces on both sides). The destination counts most.
    pub fn precedence(&self) -> u8 {
        let max = match count_exact(&self.destination_namespace, &self.destination_name) {
            2 => 9,
            1 => 6,
            _ => 3,
        };
        max - (2 - count_exact(&self.source_namespace, &self.source_name))
    }

    fn label(&self) -> String {
        format!("{} => {}", self.source_name, self.destination_name)
    }

    fn matches(&self, request: &Request) -> bool {
        let (src, dst) = (&request.source, &request.destination);
        // Names first: they reject most intentions of a large set.
        name_matches(&self.destination_name, &dst.service)
            && name_matches(&self.source_name, &src.service)
            && self.source_peer.is_empty()
            && tenancy_matches(&self.source_partition, &src.partition)
            && tenancy_matches(&self.source_namespace, &src.namespace)
            && tenancy_matches(&self.destination_partition, &dst.partition)
            && tenancy_matches(&self.destination_namespace, &dst.namespace)
    }
}

/// Consul's `countExact`: 0 for a wildcard namespace, 1 for an exact namespace with a wildcard
/// name, 2 for both exact.
fn count_exact(namespace: &str, name: &str) -> u8 {
    if namespace == WILDCARD {
        0
    } else if name == WILDCARD {
        1
    } else {
        2
    }
}

fn tenancy(value: &str) -> &str {
    if value.is_empty() {
        DEFAULT_TENANCY
    } else {
        value
    }
}

fn tenancy_matches(pattern: &str, value: &str) -> bool {
    pattern == WILDCARD || tenancy(pattern) == tenancy(value)
}

fn name_matches(pattern: &str, value: &str) -> bool {
    pattern == WILDCARD || pattern == value
}

/// What is known about an HTTP request (L7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    pub method: String,
    /// The request path; a query string (after `?`) is ignored for matching.
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// One connection or request to decide.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub source: Identity,
    pub destination: Identity,
    /// `None` for an L4 (TCP) decision.
    pub http: Option<HttpRequest>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Human-readable reason, e.g. "intention web => db (deny)" or "default allow".
    pub reason: String,
    /// The deciding intention's ID; `None` when the default decided.
    pub intention_id: Option<String>,
}

struct Rule {
    intention: Intention,
    precedence: u8,
    permissions: Vec<CompiledPermission>,
}

impl Rule {
    /// This rule's verdict for a request it matches: (allowed, reason).
    fn verdict(&self, http: Option<&HttpRequest>) -> (bool, String) {
        let label = self.intention.label();
        if self.permissions.is_empty() {
            let action = self.intention.action;
            return (
                action == Action::Allow,
                format!("intention {label} ({})", action.as_str()),
            );
        }
        let Some(http) = http else {
            return (
                false,
                format!("intention {label}: L7 permissions need an HTTP request (deny)"),
            );
        };
        match self.permissions.iter().position(|p| p.matches(http)) {
            Some(i) => {
                let action = self.permissions[i].action;
                (
                    action == Action::Allow,
                    format!(
                        "intention {label}: permission {} ({})",
                        i + 1,
                        action.as_str()
                    ),
                )
            }
            None => (
                false,
                format!("intention {label}: no permission matched (deny)"),
            ),
        }
    }
}

/// An intention set prepared for evaluation: precedence order computed and regexes compiled
/// once, so [`Evaluator::evaluate`] does no parsing.
pub struct Evaluator {
    /// Highest precedence first; equal precedence in Consul's canonical tuple order.
    rules: Vec<Rule>,
    default_allow: bool,
}

impl Default for Evaluator {
    /// No intentions, default deny.
    fn default() -> Self {
        Evaluator {
            rules: Vec::new(),
            default_allow: false,
        }
    }
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("intentions", &self.rules.len())
            .field("default_allow", &self.default_allow)
            .finish()
    }
}

impl Evaluator {
    /// Validates and prepares `intentions`; `default_allow` is the verdict when none matches
    /// (the ACL default policy "allow").
    ///
    /// Errors (Consul's validation texts, prefixed with the intention): a missing name, a
    /// partial wildcard, an exact name under a wildcard namespace, an invalid L7 permission
    /// (several path matches, a header with not exactly one match, an unknown method, an
    /// invalid regex).
    pub fn new(intentions: Vec<Intention>, default_allow: bool) -> Result<Self, String> {
        let mut rules = Vec::with_capacity(intentions.len());
        for intention in intentions {
            let who = if intention.id.is_empty() {
                intention.label()
            } else {
                intention.id.clone()
            };
            validate_names(&intention).map_err(|e| format!("intention {who}: {e}"))?;
            let permissions = intention
                .permissions
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    CompiledPermission::new(p)
                        .map_err(|e| format!("intention {who}: Permissions[{i}]{e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            rules.push(Rule {
                precedence: intention.precedence(),
                intention,
                permissions,
            });
        }
        // Stable: identical tuples keep their given order.
        rules.sort_by(|a, b| {
            let key = |r: &Rule| {
                let i = &r.intention;
                [
                    tenancy(&i.source_partition).to_string(),
                    tenancy(&i.source_namespace).to_string(),
                    i.source_name.clone(),
                    tenancy(&i.destination_partition).to_string(),
                    tenancy(&i.destination_namespace).to_string(),
                    i.destination_name.clone(),
                ]
            };
            b.precedence
                .cmp(&a.precedence)
                .then_with(|| key(a).cmp(&key(b)))
        });
        Ok(Evaluator {
            rules,
            default_allow,
        })
    }

    /// The verdict when no intention matches.
    pub fn default_allow(&self) -> bool {
        self.default_allow
    }

    /// How many intentions the set holds.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Decides one request: the matching intentions of the highest precedence decide (if any of
    /// them denies, deny); none matching: the default.
    pub fn evaluate(&self, request: &Request) -> Decision {
        let http = request.http.as_ref();
        let mut matching = self.rules.iter().filter(|r| r.intention.matches(request));
        let Some(first) = matching.next() else {
            return Decision {
                allowed: self.default_allow,
                reason: if self.default_allow {
                    "default allow"
                } else {
                    "default deny"
                }
                .to_string(),
                intention_id: None,
            };
        };
        let mut decision = (first, first.verdict(http));
        if decision.1.0 {
            // Deny wins among intentions of equal precedence.
            for rule in matching.take_while(|r| r.precedence == first.precedence) {
                let verdict = rule.verdict(http);
                if !verdict.0 {
                    decision = (rule, verdict);
                    break;
                }
            }
        }
        let (rule, (allowed, reason)) = decision;
        Decision {
            allowed,
            reason,
            intention_id: Some(rule.intention.id.clone()),
        }
    }
}

/// Consul's `Intention.Validate` rules for names and wildcards.
fn validate_names(i: &Intention) -> Result<(), String> {
    let sides = [
        (
            "SourceNS",
            &i.source_namespace,
            "SourceName",
            &i.source_name,
        ),
        (
            "DestinationNS",
            &i.destination_namespace,
            "DestinationName",
            &i.destination_name,
        ),
    ];
    for (ns_field, ns, name_field, name) in sides {
        if name.is_empty() {
            return Err(format!("{name_field} must be set"));
        }
        if ns.as_str() != WILDCARD && ns.contains(WILDCARD) {
            return Err(format!(
                "{ns_field}: wildcard character '*' cannot be used with partial values"
            ));
        }
        if name.as_str() != WILDCARD {
            if name.contains(WILDCARD) {
                return Err(format!(
                    "{name_field}: wildcard character '*' cannot be used with partial values"
                ));
            }
            if ns.as_str() == WILDCARD {
                return Err(format!(
                    "{name_field}: exact value cannot follow wildcard namespace"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
