//! Consul's fixed IDs, names and texts of the ACL system (`acl/acl.go`, `acl/errors.go`,
//! `agent/structs/acl.go`).

/// AccessorID of the anonymous token.
pub const ANONYMOUS_TOKEN_ID: &str = "00000000-0000-0000-0000-000000000002";
/// SecretID of the anonymous token.
pub const ANONYMOUS_TOKEN_SECRET: &str = "anonymous";
/// Description of the anonymous token.
pub const ANONYMOUS_TOKEN_DESCRIPTION: &str = "Anonymous Token";
/// How messages call the anonymous token.
pub const ANONYMOUS_TOKEN_ALIAS: &str = "anonymous token";

/// ID of the `global-management` policy.
pub const GLOBAL_MANAGEMENT_POLICY_ID: &str = "00000000-0000-0000-0000-000000000001";
/// Name of the `global-management` policy.
pub const GLOBAL_MANAGEMENT_POLICY_NAME: &str = "global-management";
/// Description of the `global-management` policy.
pub const GLOBAL_MANAGEMENT_POLICY_DESCRIPTION: &str =
    "A built-in policy that grants read and write access to all Consul features";
/// Rules of the `global-management` policy (restored on every leadership gain).
pub const GLOBAL_MANAGEMENT_POLICY_RULES: &str = r#"
acl = "write"
agent_prefix "" {
	policy = "write"
}
event_prefix "" {
	policy = "write"
}
key_prefix "" {
	policy = "write"
}
keyring = "write"
node_prefix "" {
	policy = "write"
}
operator = "write"
mesh = "write"
peering = "write"
query_prefix "" {
	policy = "write"
}
service_prefix "" {
	policy = "write"
	intentions = "write"
}
session_prefix "" {
	policy = "write"
}"#;

/// ID of the `builtin/global-read-only` policy (the policy table; unrelated to the anonymous
/// token, which has the same ID in the token table).
pub const GLOBAL_READ_ONLY_POLICY_ID: &str = "00000000-0000-0000-0000-000000000002";
/// Name of the `builtin/global-read-only` policy.
pub const GLOBAL_READ_ONLY_POLICY_NAME: &str = "builtin/global-read-only";
/// Description of the `builtin/global-read-only` policy.
pub const GLOBAL_READ_ONLY_POLICY_DESCRIPTION: &str =
    "A built-in policy that grants read-only access to all Consul features";
/// Rules of the `builtin/global-read-only` policy.
pub const GLOBAL_READ_ONLY_POLICY_RULES: &str = r#"
acl = "read"
agent_prefix "" {
	policy = "read"
}
event_prefix "" {
	policy = "read"
}
key_prefix "" {
	policy = "read"
}
keyring = "read"
node_prefix "" {
	policy = "read"
}
operator = "read"
mesh = "read"
peering = "read"
query_prefix "" {
	policy = "read"
}
service_prefix "" {
	policy = "read"
	intentions = "read"
}
session_prefix "" {
	policy = "read"
}"#;

/// IDs starting with this are reserved for built-in objects; user-supplied IDs with it are
/// rejected.
pub const RESERVED_ID_PREFIX: &str = "00000000-0000-0000-0000-0000000000";
/// Policy names starting with this are reserved.
pub const RESERVED_BUILTIN_PREFIX: &str = "builtin/";

/// The name that asks for a wildcard permission (intentions on `*`).
pub const WILDCARD_NAME: &str = "*";

/// Secrets that name the static root authorizers; resolving them as tokens is refused with
/// [`ERR_ROOT_DENIED`].
pub const ROOT_SECRETS: [&str; 3] = ["allow", "deny", "manage"];

/// `ACL not found` (unknown or expired token).
pub const ERR_NOT_FOUND: &str = "ACL not found";
/// `Cannot resolve root ACL`.
pub const ERR_ROOT_DENIED: &str = "Cannot resolve root ACL";
/// `ACL support disabled`.
pub const ERR_DISABLED: &str = "ACL support disabled";
/// `Permission denied`, the start of every denial.
pub const PERMISSION_DENIED: &str = "Permission denied";

/// True when `id` is in the reserved built-in range.
pub fn is_reserved_id(id: &str) -> bool {
    id.starts_with(RESERVED_ID_PREFIX)
}

/// Consul's `AliasIfAnonymousToken`: `anonymous token` for the anonymous AccessorID.
pub fn alias_if_anonymous(accessor_id: &str) -> &str {
    if accessor_id == ANONYMOUS_TOKEN_ID {
        ANONYMOUS_TOKEN_ALIAS
    } else {
        accessor_id
    }
}
