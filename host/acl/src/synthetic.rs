//! Synthetic policies (service and node identities, templated policies) and the name rules of
//! identities, policies and roles (`acl/validation.go`, `agent/structs/acl.go`,
//! `agent/structs/acl_templated_policy.go`, `agent/structs/acltemplatedpolicy/`).

use serde::Serialize;

use crate::builtin::RESERVED_BUILTIN_PREFIX;
use crate::error::{IdentityError, IdentityOwner, NameError, RulesError, TemplateError, go_quote};
use crate::rules::{PolicyRules, parse_rules};

/// Longest service identity name.
pub const SERVICE_IDENTITY_NAME_MAX_LENGTH: usize = 256;
/// Longest node identity name.
pub const NODE_IDENTITY_NAME_MAX_LENGTH: usize = 256;
/// Longest policy name.
pub const POLICY_NAME_MAX_LENGTH: usize = 128;
/// Longest role name.
pub const ROLE_NAME_MAX_LENGTH: usize = 256;

/// Name of the service template.
pub const TEMPLATE_SERVICE: &str = "builtin/service";
/// Name of the node template.
pub const TEMPLATE_NODE: &str = "builtin/node";
/// Name of the DNS template.
pub const TEMPLATE_DNS: &str = "builtin/dns";

/// The JSON schema of templates that need a `name` variable (Consul's `service.json`,
/// `node.json`).
const NAME_SCHEMA: &str = "{\n\t\"type\": \"object\",\n\t\"properties\": {\n\t\t\"name\": { \"type\": \"string\", \"$ref\": \"#/definitions/min-length-one\" }\n\t},\n\t\"required\": [\"name\"],\n\t\"definitions\": {\n\t\t\"min-length-one\": {\n\t\t\t\t\"type\": \"string\",\n\t\t\t\t\"minLength\": 1\n\t\t}\n\t}\n}";

const SERVICE_TEMPLATE: &str = "\nservice \"{{.Name}}\" {\n\tpolicy = \"write\"\n}\nservice \"{{.Name}}-sidecar-proxy\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}";

const NODE_TEMPLATE: &str = "\nnode \"{{.Name}}\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}";

const DNS_TEMPLATE: &str = "\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}\nquery_prefix \"\" {\n\tpolicy = \"read\"\n}";

/// A built-in templated policy, as `GET /v1/acl/templated-policies` shows it
/// (`TemplateName`, `Schema`, `Template`, `Description`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplatedPolicyInfo {
    /// `builtin/service`...
    pub template_name: &'static str,
    /// Consul's internal template ID (never shown by the API).
    #[serde(skip)]
    pub template_id: &'static str,
    /// The JSON schema of the variables; empty when the template takes none.
    pub schema: &'static str,
    /// The template text (Go template syntax, `{{.Name}}`).
    pub template: &'static str,
    /// What the template grants.
    pub description: &'static str,
}

const TEMPLATES: [TemplatedPolicyInfo; 3] = [
    TemplatedPolicyInfo {
        template_name: TEMPLATE_SERVICE,
        template_id: "00000000-0000-0000-0000-000000000003",
        schema: NAME_SCHEMA,
        template: SERVICE_TEMPLATE,
        description: "Gives the token or role permissions to register a service and discover services in the Consul catalog. It also gives the specified service's sidecar proxy the permission to discover and route traffic to other services.",
    },
    TemplatedPolicyInfo {
        template_name: TEMPLATE_NODE,
        template_id: "00000000-0000-0000-0000-000000000004",
        schema: NAME_SCHEMA,
        template: NODE_TEMPLATE,
        description: "Gives the token or role permissions for a register an agent/node into the catalog. A node is typically a consul agent but can also be a physical server, cloud instance or a container.",
    },
    TemplatedPolicyInfo {
        template_name: TEMPLATE_DNS,
        template_id: "00000000-0000-0000-0000-000000000005",
        schema: "",
        template: DNS_TEMPLATE,
        description: "Gives the token or role permissions for the Consul DNS to query services in the network.",
    },
];

/// The built-in templated policies, sorted by name.
pub fn templated_policies() -> &'static [TemplatedPolicyInfo] {
    &TEMPLATES
}

/// One built-in templated policy by name.
pub fn templated_policy(name: &str) -> Option<&'static TemplatedPolicyInfo> {
    TEMPLATES.iter().find(|t| t.template_name == name)
}

/// The variables of a templated policy (`TemplateVariables`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateVariables {
    /// `name`: the service or node.
    pub name: String,
}

/// Checks variables as Consul's `ValidateTemplatedPolicy` does: nothing for templates without
/// a schema; a service/node name must be a valid identity name; missing variables fail the
/// schema (`Invalid type. Expected: object, given: null`).
pub fn validate_templated_policy(
    template: &str,
    variables: Option<&TemplateVariables>,
) -> Result<(), TemplateError> {
    let info = templated_policy(template).ok_or_else(|| TemplateError::Unknown(template.into()))?;
    if info.schema.is_empty() {
        return Ok(());
    }
    let Some(vars) = variables else {
        return Err(TemplateError::Schema(vec![
            "Invalid type. Expected: object, given: null".to_string(),
        ]));
    };
    if template == TEMPLATE_SERVICE && !is_valid_service_identity_name(&vars.name) {
        return Err(TemplateError::InvalidServiceName(vars.name.clone()));
    }
    if template == TEMPLATE_NODE && !is_valid_node_identity_name(&vars.name) {
        return Err(TemplateError::InvalidNodeName(vars.name.clone()));
    }
    if vars.name.is_empty() {
        return Err(TemplateError::Schema(vec!["name is required".to_string()]));
    }
    Ok(())
}

/// Validates the variables and renders the template into rules text.
pub fn render_templated_policy(
    template: &str,
    variables: Option<&TemplateVariables>,
) -> Result<String, TemplateError> {
    validate_templated_policy(template, variables)?;
    let info = templated_policy(template).ok_or_else(|| TemplateError::Unknown(template.into()))?;
    let name = variables.map_or("", |v| v.name.as_str());
    Ok(info.template.replace("{{.Name}}", &html_escape(name)))
}

/// Consul renders with Go's `html/template`, which escapes these.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            c => out.push(c),
        }
    }
    out
}

/// A policy generated for an identity or a templated policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticPolicy {
    /// Consul's ID: the hex of the rules followed by the FNV-128a of nothing (Consul calls
    /// `hasher.Sum(rules)`, which appends).
    pub id: String,
    /// `synthetic-policy-<id>`.
    pub name: String,
    /// E.g. `synthetic policy for service identity "web"`.
    pub description: String,
    /// The rules text.
    pub rules: String,
    /// Datacenters where it applies; empty means everywhere.
    pub datacenters: Vec<String>,
}

impl SyntheticPolicy {
    fn new(rules: String, description: String, datacenters: Vec<String>) -> SyntheticPolicy {
        let id = synthetic_id(&rules);
        SyntheticPolicy {
            name: format!("synthetic-policy-{id}"),
            id,
            description,
            rules,
            datacenters,
        }
    }

    /// Whether the policy applies in `datacenter`.
    pub fn applies_in(&self, datacenter: &str) -> bool {
        policy_applies_in(&self.datacenters, datacenter)
    }

    /// The parsed rules.
    pub fn parse(&self) -> Result<PolicyRules, RulesError> {
        parse_rules(&self.rules)
    }
}

/// Whether a policy limited to `datacenters` (empty: everywhere) applies in `datacenter`.
pub fn policy_applies_in(datacenters: &[String], datacenter: &str) -> bool {
    datacenters.is_empty() || datacenters.iter().any(|d| d == datacenter)
}

fn synthetic_id(rules: &str) -> String {
    const FNV128A_EMPTY: &str = "6c62272e07bb014262b821756295c58d";
    let mut id = String::with_capacity(rules.len() * 2 + FNV128A_EMPTY.len());
    for b in rules.bytes() {
        id.push_str(&format!("{b:02x}"));
    }
    id.push_str(FNV128A_EMPTY);
    id
}

/// The rules of a service identity: write on the service and its sidecar proxy, read on all
/// services and nodes.
pub fn service_identity_rules(service: &str) -> String {
    SERVICE_TEMPLATE.replace("{{.Name}}", service)
}

/// The rules of a node identity: write on the node, read on all services.
pub fn node_identity_rules(node: &str) -> String {
    NODE_TEMPLATE.replace("{{.Name}}", node)
}

/// `ServiceIdentities` entry of a token or role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceIdentity {
    /// The service.
    pub service_name: String,
    /// Where it applies; empty means everywhere (global tokens only).
    pub datacenters: Vec<String>,
}

impl ServiceIdentity {
    /// Checks it as the token/role writers do.
    pub fn validate(&self, owner: IdentityOwner, local_token: bool) -> Result<(), IdentityError> {
        if self.service_name.is_empty() {
            return Err(IdentityError::MissingServiceName(owner));
        }
        if owner == IdentityOwner::Token && local_token && !self.datacenters.is_empty() {
            return Err(IdentityError::DatacentersOnLocalToken(
                self.service_name.clone(),
            ));
        }
        if !is_valid_service_identity_name(&self.service_name) {
            return Err(IdentityError::InvalidServiceName(self.service_name.clone()));
        }
        Ok(())
    }

    /// The synthetic policy granting the identity.
    pub fn synthetic_policy(&self) -> SyntheticPolicy {
        SyntheticPolicy::new(
            service_identity_rules(&self.service_name),
            format!(
                "synthetic policy for service identity {}",
                go_quote(&self.service_name)
            ),
            self.datacenters.clone(),
        )
    }
}

/// `NodeIdentities` entry of a token or role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeIdentity {
    /// The node.
    pub node_name: String,
    /// The only datacenter where it applies.
    pub datacenter: String,
}

impl NodeIdentity {
    /// Checks it as the token/role writers do.
    pub fn validate(&self, owner: IdentityOwner) -> Result<(), IdentityError> {
        if self.node_name.is_empty() {
            return Err(IdentityError::MissingNodeName(owner));
        }
        if self.datacenter.is_empty() {
            return Err(IdentityError::MissingDatacenter(owner));
        }
        if !is_valid_node_identity_name(&self.node_name) {
            return Err(IdentityError::InvalidNodeName);
        }
        Ok(())
    }

    /// The synthetic policy granting the identity (valid only in its datacenter).
    pub fn synthetic_policy(&self) -> SyntheticPolicy {
        SyntheticPolicy::new(
            node_identity_rules(&self.node_name),
            format!(
                "synthetic policy for node identity {}",
                go_quote(&self.node_name)
            ),
            vec![self.datacenter.clone()],
        )
    }
}

/// `TemplatedPolicies` entry of a token or role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplatedPolicy {
    /// `builtin/service`...
    pub template_name: String,
    /// The variables, if given.
    pub variables: Option<TemplateVariables>,
    /// Where it applies; empty means everywhere.
    pub datacenters: Vec<String>,
}

impl TemplatedPolicy {
    /// Validates, renders and wraps the template.
    pub fn synthetic_policy(&self) -> Result<SyntheticPolicy, TemplateError> {
        let rules = render_templated_policy(&self.template_name, self.variables.as_ref())?;
        Ok(SyntheticPolicy::new(
            rules,
            format!(
                "synthetic policy generated from templated policy: {}",
                self.template_name
            ),
            self.datacenters.clone(),
        ))
    }
}

fn is_identity_name(name: &str, max: usize) -> bool {
    let b = name.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let inner = |c: u8| edge(c) || c == b'-' || c == b'_';
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            b.len() <= max && edge(first) && edge(last) && b.iter().all(|&c| inner(c))
        }
        _ => false,
    }
}

/// `^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$`, at most 256 bytes.
pub fn is_valid_service_identity_name(name: &str) -> bool {
    is_identity_name(name, SERVICE_IDENTITY_NAME_MAX_LENGTH)
}

/// `^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$`, at most 256 bytes.
pub fn is_valid_node_identity_name(name: &str) -> bool {
    is_identity_name(name, NODE_IDENTITY_NAME_MAX_LENGTH)
}

fn name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// A policy name: 1 to 128 bytes, not starting with `/` or `builtin/`, matching
/// `^[A-Za-z0-9\-_]+/?[A-Za-z0-9\-_]*$`.
pub fn validate_policy_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > POLICY_NAME_MAX_LENGTH {
        return Err(NameError::PolicyLength);
    }
    if name.starts_with('/') || name.starts_with(RESERVED_BUILTIN_PREFIX) {
        return Err(NameError::PolicyReservedPrefix);
    }
    let b = name.as_bytes();
    let slashes = b.iter().filter(|&&c| c == b'/').count();
    let valid = slashes <= 1 && b.iter().all(|&c| c == b'/' || name_char(c));
    if !valid {
        return Err(NameError::PolicyCharacters);
    }
    Ok(())
}

/// A role name: `^[A-Za-z0-9\-_]{1,256}$`.
pub fn validate_role_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::RoleMissing);
    }
    if name.len() > ROLE_NAME_MAX_LENGTH || !name.bytes().all(name_char) {
        return Err(NameError::RoleCharacters);
    }
    Ok(())
}
