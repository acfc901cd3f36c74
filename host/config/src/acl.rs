//! The `acl` block: Consul's defaults and validation (errors name the key). The deprecated
//! top-level `acl_*` keys were already moved into the block by `Decoder::config`.

use crate::config::{AclConfig, AclTokens};
use crate::error::ConfigError;
use crate::raw::RawAcl;

/// Resolves and validates `acl { }`.
pub(crate) fn build(raw: RawAcl) -> Result<AclConfig, ConfigError> {
    let defaults = AclConfig::default();
    let default_policy = raw.default_policy.unwrap_or(defaults.default_policy);
    if !AclConfig::DEFAULT_POLICIES.contains(&default_policy.as_str()) {
        return Err(ConfigError::Invalid(format!(
            "acl.default_policy: invalid ACL default policy {default_policy:?}: must be \"allow\" or \"deny\""
        )));
    }
    let down_policy = raw.down_policy.unwrap_or(defaults.down_policy);
    if !AclConfig::DOWN_POLICIES.contains(&down_policy.as_str()) {
        // Consul's text (`NewACLResolver`), prefixed with the key.
        return Err(ConfigError::Invalid(format!(
            "acl.down_policy: invalid ACL down policy {down_policy:?}"
        )));
    }
    let t = raw.tokens;
    Ok(AclConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        default_policy,
        down_policy,
        token_ttl: raw.token_ttl.unwrap_or(defaults.token_ttl),
        policy_ttl: raw.policy_ttl.unwrap_or(defaults.policy_ttl),
        role_ttl: raw.role_ttl.unwrap_or(defaults.role_ttl),
        enable_key_list_policy: raw
            .enable_key_list_policy
            .unwrap_or(defaults.enable_key_list_policy),
        enable_token_replication: raw
            .enable_token_replication
            .unwrap_or(defaults.enable_token_replication),
        enable_token_persistence: raw
            .enable_token_persistence
            .unwrap_or(defaults.enable_token_persistence),
        tokens: AclTokens {
            initial_management: t.initial_management.unwrap_or_default(),
            default: t.default.unwrap_or_default(),
            agent: t.agent.unwrap_or_default(),
            agent_recovery: t.agent_recovery.unwrap_or_default(),
            replication: t.replication.unwrap_or_default(),
            config_file_service_registration: t
                .config_file_service_registration
                .unwrap_or_default(),
            dns: t.dns.unwrap_or_default(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn defaults_are_consuls() {
        let acl = build(RawAcl::default()).expect("valid");
        assert_eq!(acl, AclConfig::default());
        assert!(!acl.enabled);
        assert_eq!(acl.default_policy, "allow");
        assert_eq!(acl.down_policy, "extend-cache");
        assert_eq!(acl.token_ttl, Duration::from_secs(30));
        assert_eq!(acl.policy_ttl, Duration::from_secs(30));
        assert_eq!(acl.role_ttl, Duration::from_secs(30));
        assert!(!acl.enable_key_list_policy);
        assert!(!acl.enable_token_replication);
        assert!(!acl.enable_token_persistence);
        assert_eq!(acl.tokens, AclTokens::default());
    }

    #[test]
    fn policies_are_validated_naming_the_key() {
        let bad = RawAcl {
            default_policy: Some("Deny".into()),
            ..RawAcl::default()
        };
        assert_eq!(
            build(bad).unwrap_err().to_string(),
            "acl.default_policy: invalid ACL default policy \"Deny\": must be \"allow\" or \"deny\""
        );
        let bad = RawAcl {
            down_policy: Some("x".into()),
            ..RawAcl::default()
        };
        assert_eq!(
            build(bad).unwrap_err().to_string(),
            "acl.down_policy: invalid ACL down policy \"x\""
        );
        for down in AclConfig::DOWN_POLICIES {
            let ok = RawAcl {
                down_policy: Some(down.into()),
                default_policy: Some("deny".into()),
                ..RawAcl::default()
            };
            assert_eq!(build(ok).expect("valid").down_policy, down);
        }
    }
}
