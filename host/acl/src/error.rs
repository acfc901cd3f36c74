//! Errors: Consul's permission-denied texts, rules errors, name and identity validation.

use std::fmt;

use crate::builtin::{ANONYMOUS_TOKEN_ID, PERMISSION_DENIED};
use crate::rules::Level;

/// A resource as named in Consul's permission errors (`acl/authorizer.go`). Note `intention`
/// (singular) and `query` (prepared queries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `acl` (also snapshots).
    Acl,
    /// `agent`.
    Agent,
    /// `event`.
    Event,
    /// `intention`.
    Intention,
    /// `key`.
    Key,
    /// `keyring`.
    Keyring,
    /// `node`.
    Node,
    /// `operator`.
    Operator,
    /// `mesh`.
    Mesh,
    /// `query`.
    Query,
    /// `service`.
    Service,
    /// `session`.
    Session,
    /// `peering`.
    Peering,
}

impl Resource {
    /// The name Consul prints, e.g. `intention`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Acl => "acl",
            Resource::Agent => "agent",
            Resource::Event => "event",
            Resource::Intention => "intention",
            Resource::Key => "key",
            Resource::Keyring => "keyring",
            Resource::Node => "node",
            Resource::Operator => "operator",
            Resource::Mesh => "mesh",
            Resource::Query => "query",
            Resource::Service => "service",
            Resource::Session => "session",
            Resource::Peering => "peering",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request denied by the ACL rules, displayed exactly as Consul's `PermissionDeniedError`:
///
/// * `Permission denied: token with AccessorID '<id>' lacks permission '<resource>:<level>' on "<name>"`
/// * `Permission denied: anonymous token lacks permission '<resource>:<level>' on "<name>". The
///   anonymous token is used implicitly when a request does not specify a token.`
///
/// Without a name (or with an empty one) the ` on "<name>"` part is left out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PermissionDenied {
    /// The token's AccessorID; `None` for the anonymous token.
    pub accessor: Option<String>,
    /// The resource that was checked.
    pub resource: Resource,
    /// The access that was missing (`read`, `list` or `write`).
    pub level: Level,
    /// The resource's name (a key, a service, `all nodes`...); `None` for unnamed resources.
    pub name: Option<String>,
}

impl PermissionDenied {
    /// A denial for `accessor_id`; Consul's anonymous AccessorID becomes the anonymous variant.
    pub fn new(accessor_id: &str, resource: Resource, level: Level, name: Option<&str>) -> Self {
        PermissionDenied {
            accessor: (accessor_id != ANONYMOUS_TOKEN_ID).then(|| accessor_id.to_string()),
            resource,
            level,
            name: name.map(str::to_string),
        }
    }
}

impl fmt::Display for PermissionDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PERMISSION_DENIED)?;
        match &self.accessor {
            None => f.write_str(": anonymous token")?,
            Some(id) => write!(f, ": token with AccessorID '{id}'")?,
        }
        write!(f, " lacks permission '{}:{}'", self.resource, self.level)?;
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            write!(f, " on \"{name}\"")?;
        }
        if self.accessor.is_none() {
            f.write_str(
                ". The anonymous token is used implicitly when a request does not specify a token.",
            )?;
        }
        Ok(())
    }
}

/// A denial that carries only a cause (`Permission denied: <cause>`) or nothing at all
/// (`Permission denied`, the legacy intention API, event fire, `/v1/health/connect`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PermissionDeniedCause {
    /// The cause; `None` prints the bare `Permission denied`.
    pub cause: Option<String>,
}

impl fmt::Display for PermissionDeniedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{PERMISSION_DENIED}: {cause}"),
            None => f.write_str(PERMISSION_DENIED),
        }
    }
}

/// What kind of problem a [`RulesError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RulesErrorKind {
    /// The text is not valid HCL/JSON or not shaped like ACL rules
    /// (`Failed to parse ACL rules: ...`).
    Syntax,
    /// A rule has an invalid access level (`Invalid <resource> policy: ...`).
    InvalidLevel,
}

/// A policy's `Rules` text was rejected. The message starts as Consul's does
/// (`Failed to parse ACL rules: ` or `Invalid <resource> policy: `) and names the line
/// (HCL) and the rule where they are known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RulesError {
    kind: RulesErrorKind,
    line: Option<usize>,
    rule: Option<String>,
    message: String,
}

impl RulesError {
    pub(crate) fn new(
        kind: RulesErrorKind,
        line: Option<usize>,
        rule: Option<String>,
        message: String,
    ) -> Self {
        RulesError {
            kind,
            line,
            rule,
            message,
        }
    }

    /// Syntax or invalid level.
    pub fn kind(&self) -> RulesErrorKind {
        self.kind
    }

    /// The 1-based line of the offending text, when known (HCL input).
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The offending rule, e.g. `key_prefix "foo/"` or `operator`, when known.
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }

    /// The full message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A policy or role name rejected with Consul's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Policy name empty or longer than 128 bytes.
    #[error("Invalid Policy: invalid Name. Length must be greater than 0 and less than 128")]
    PolicyLength,
    /// Policy name starting with `/` or `builtin/`.
    #[error("Invalid Policy: invalid Name. Names cannot be prefixed with '/' or 'builtin/'")]
    PolicyReservedPrefix,
    /// Policy name with other characters than alphanumerics, one `/`, `-` and `_`.
    #[error(
        "Invalid Policy: invalid Name. Only alphanumeric characters, a single '/', '-' and '_' are allowed"
    )]
    PolicyCharacters,
    /// Empty role name.
    #[error("Invalid Role: no Name is set")]
    RoleMissing,
    /// Role name not matching `^[A-Za-z0-9\-_]{1,256}$`.
    #[error("Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed")]
    RoleCharacters,
}

/// Who carries a service or node identity (the word at the end of some messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityOwner {
    /// A token (`... on this token`).
    Token,
    /// A role (`... on this role`).
    Role,
}

impl IdentityOwner {
    fn as_str(self) -> &'static str {
        match self {
            IdentityOwner::Token => "token",
            IdentityOwner::Role => "role",
        }
    }
}

/// A service or node identity rejected with Consul's message (`agent/consul/auth/token_writer.go`,
/// the role writer).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// `Service identity is missing the service name field on this token`.
    #[error("Service identity is missing the service name field on this {}", .0.as_str())]
    MissingServiceName(IdentityOwner),
    /// `Service identity "web" cannot specify a list of datacenters on a local token`.
    #[error(
        "Service identity {} cannot specify a list of datacenters on a local token",
        go_quote(.0)
    )]
    DatacentersOnLocalToken(String),
    /// `Service identity "Web!" has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed`.
    #[error(
        "Service identity {} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
        go_quote(.0)
    )]
    InvalidServiceName(String),
    /// `Node identity is missing the node name field on this token`.
    #[error("Node identity is missing the node name field on this {}", .0.as_str())]
    MissingNodeName(IdentityOwner),
    /// `Node identity is missing the datacenter field on this token`.
    #[error("Node identity is missing the datacenter field on this {}", .0.as_str())]
    MissingDatacenter(IdentityOwner),
    /// `Node identity has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed`.
    #[error(
        "Node identity has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed"
    )]
    InvalidNodeName,
}

/// A templated policy that cannot be rendered, with Consul's message
/// (`agent/structs/acl_templated_policy.go`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `acl templated policy does not exist: <name>`.
    #[error("acl templated policy does not exist: {0}")]
    Unknown(String),
    /// `service identity "X" has an invalid name. ...` (builtin/service).
    #[error(
        "service identity {} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
        go_quote(.0)
    )]
    InvalidServiceName(String),
    /// `node identity "X"  has an invalid name. ...` (builtin/node; the double space is Consul's).
    #[error(
        "node identity {}  has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
        go_quote(.0)
    )]
    InvalidNodeName(String),
    /// JSON-schema failures, printed as go-multierror does.
    #[error("{}", multierror(.0))]
    Schema(Vec<String>),
}

/// go-multierror's text: `1 error occurred:\n\t* <msg>\n\n`.
fn multierror(errors: &[String]) -> String {
    let mut out = if errors.len() == 1 {
        "1 error occurred:\n".to_string()
    } else {
        format!("{} errors occurred:\n", errors.len())
    };
    for e in errors {
        out.push_str("\t* ");
        out.push_str(e);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Go's `strconv.Quote` (`%q`, and `%#v` of a string): double quotes with Go escapes.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
