//! praetor-acl: Consul's ACL rules language and authorizer, as a pure core.
//!
//! What it does:
//! * parses a policy's `Rules` text, HCL (with HCL v1's whitespace rules) or JSON, into typed
//!   [`PolicyRules`], with Consul's error texts plus the line and the rule
//!   ([`parse_rules`]);
//! * merges the policies of a token (deny > write > list > read) and compiles them into an
//!   [`Authorizer`] that answers Consul's questions (`key_read`, `service_write_any`,
//!   `key_write_prefix`...) with exact-beats-longest-prefix lookups, falling back to the
//!   default policy; [`Enforcer`] turns denials into Consul's `Permission denied: ...` errors;
//! * generates the synthetic policies of service identities, node identities and templated
//!   policies (`builtin/service`, `builtin/node`, `builtin/dns`), and validates identity,
//!   policy and role names with Consul's messages;
//! * holds Consul's fixed IDs and texts ([`builtin`]).
//!
//! What it does not: resolve tokens, read or write state, cache, talk to the network, read
//! clocks or apply `down_policy`. The API and the state machine call it.

pub mod authorizer;
pub mod builtin;
pub mod error;
pub mod rules;
mod syntax;
pub mod synthetic;

#[cfg(test)]
mod tests;

pub use authorizer::{
    Authorizer, Decision, DefaultPolicy, Enforcer, PolicyAuthorizer, StaticAuthorizer,
};
pub use error::{
    IdentityError, IdentityOwner, NameError, PermissionDenied, PermissionDeniedCause, Resource,
    RulesError, RulesErrorKind, TemplateError,
};
pub use rules::{Level, MAX_RULES_BYTES, Policy, PolicyRules, Rule, ServiceRule, parse_rules};
pub use synthetic::{
    NodeIdentity, ServiceIdentity, SyntheticPolicy, TemplateVariables, TemplatedPolicy,
    TemplatedPolicyInfo, is_valid_node_identity_name, is_valid_service_identity_name,
    node_identity_rules, policy_applies_in, render_templated_policy, service_identity_rules,
    templated_policies, templated_policy, validate_policy_name, validate_role_name,
    validate_templated_policy,
};
