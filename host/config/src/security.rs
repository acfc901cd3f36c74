//! Security settings praetor does not implement are refused, never accepted and ignored: a key
//! whose value would change the agent's security if it were honoured fails the load with an
//! error naming the key. Set to its default (or to what praetor does anyway) it is accepted.
//!
//! Two kinds of checks:
//! * `refuse_ignored`: keys of `UNSUPPORTED_TOP_LEVEL` with a value that matters, checked while
//!   decoding (the error names the file);
//! * `check_bind_addresses`, `check_default_intention_policy`: keys whose meaning depends on
//!   other keys, checked on the merged configuration.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::config::AclConfig;
use crate::error::ConfigError;
use crate::raw::RawAddresses;

fn refused(file: &str, key: &str, message: String) -> ConfigError {
    ConfigError::Refused {
        file: file.to_string(),
        key: key.to_string(),
        message,
    }
}

/// The objects of a block (HCL repeats a block as a list of objects); other values: none.
fn objects(v: &Value) -> Vec<&Map<String, Value>> {
    match v {
        Value::Object(m) => vec![m],
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

/// The value of `key` (case-insensitive, as mapstructure) in any of the block's objects.
fn field<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    let key = key.to_string();
    objects(v).into_iter().flat_map(move |m| {
        m.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(&key))
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
    })
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

/// A string, list or object with something in it.
fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => a.iter().any(non_empty),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    }
}

/// Config entry kinds that carry mesh security policy (intentions, mTLS modes, mesh TLS).
const SECURITY_ENTRY_KINDS: &[&str] = &["service-intentions", "mesh", "proxy-defaults"];

/// Checks an unsupported top-level key `key` (canonical name) before it is ignored.
pub(crate) fn refuse_ignored(file: &str, key: &str, v: &Value) -> Result<(), ConfigError> {
    let refuse = |path: &str, message: &str| Err(refused(file, path, format!("{path}{message}")));
    match key {
        "auto_encrypt" => {
            if field(v, "tls").any(is_true) {
                return refuse(
                    "auto_encrypt.tls",
                    " = true is not supported by praetor: agents do not fetch certificates from the servers; configure tls cert_file and key_file",
                );
            }
            if field(v, "allow_tls").any(is_true) {
                return refuse(
                    "auto_encrypt.allow_tls",
                    " = true is not supported by praetor: servers do not issue agent certificates",
                );
            }
        }
        "auto_config" => {
            if field(v, "enabled").any(is_true) {
                return refuse(
                    "auto_config.enabled",
                    " = true is not supported by praetor: agents do not fetch their TLS certificates, gossip key and ACL token from the servers; configure them in the agent's files",
                );
            }
            if field(v, "authorization").any(|a| field(a, "enabled").any(is_true)) {
                return refuse(
                    "auto_config.authorization.enabled",
                    " = true is not supported by praetor: servers do not authorize auto-config requests",
                );
            }
        }
        "disable_keyring_file" if is_true(v) => {
            return refuse(
                key,
                " = true is not supported by praetor: the gossip keyring is always saved in <data_dir>/serf/local.keyring",
            );
        }
        "disable_remote_exec" if v.as_bool() == Some(false) => {
            return refuse(
                key,
                " = false is not supported by praetor: remote execution is not implemented",
            );
        }
        "enable_local_script_checks" if is_true(v) => {
            return refuse(
                key,
                " = true is not supported by praetor: script checks are allowed only by enable_script_checks, which also allows registering them over the HTTP API",
            );
        }
        "serf_lan_allowed_cidrs" | "serf_wan_allowed_cidrs" if non_empty(v) => {
            return refuse(
                key,
                " is not supported by praetor: gossip is accepted from any address; restrict it with a firewall and encrypt",
            );
        }
        "http_config" => {
            if field(v, "allow_write_http_from").any(non_empty) {
                return refuse(
                    "http_config.allow_write_http_from",
                    " is not supported by praetor: writes are not restricted by client address; use ACLs or client_addr",
                );
            }
            if field(v, "response_headers").any(non_empty) {
                return refuse(
                    "http_config.response_headers",
                    " is not supported by praetor: the HTTP API does not add configured response headers",
                );
            }
        }
        "config_entries" => {
            let entries = field(v, "bootstrap").flat_map(|b| match b {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![other],
            });
            for (i, entry) in entries.enumerate() {
                let kind = field(entry, "kind").find_map(Value::as_str).unwrap_or("");
                if SECURITY_ENTRY_KINDS.contains(&kind.to_ascii_lowercase().as_str()) {
                    return refuse(
                        &format!("config_entries.bootstrap[{i}]"),
                        &format!(
                            " (kind {kind:?}) is not supported by praetor: bootstrap config entries are not applied; write it through the config entry API instead"
                        ),
                    );
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// IP addresses written like `client_addr` (space separated); `None` if one is not an IP
/// address (a unix socket, a go-sockaddr template).
fn ip_set(value: &str) -> Option<BTreeSet<IpAddr>> {
    value
        .split_whitespace()
        .map(|a| a.trim_start_matches('[').trim_end_matches(']').parse().ok())
        .collect()
}

fn show(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `addresses.*` must say what `client_addr` says, `serf_lan` / `serf_wan` what `bind_addr`
/// says: praetor binds every client listener to `client_addr` and both gossip pools to
/// `bind_addr`, so a narrower address that were ignored would expose a listener more widely
/// than configured. `""` means unset (Consul falls back the same way).
pub(crate) fn check_bind_addresses(
    addresses: &RawAddresses,
    client_addrs: &[IpAddr],
    serf_lan: Option<&str>,
    serf_wan: Option<&str>,
    bind_addr: IpAddr,
) -> Result<(), ConfigError> {
    let client: BTreeSet<IpAddr> = client_addrs.iter().copied().collect();
    let listeners = [
        ("dns", &addresses.dns),
        ("http", &addresses.http),
        ("https", &addresses.https),
        ("grpc", &addresses.grpc),
        ("grpc_tls", &addresses.grpc_tls),
    ];
    for (name, value) in listeners {
        let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        if ip_set(value).as_ref() != Some(&client) {
            return Err(ConfigError::Invalid(format!(
                "addresses.{name} = {value:?} is not supported by praetor: every client listener binds client_addr ({}); set client_addr instead",
                show(client_addrs)
            )));
        }
    }
    for (name, value) in [("serf_lan", serf_lan), ("serf_wan", serf_wan)] {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        if ip_set(value) != Some(BTreeSet::from([bind_addr])) {
            return Err(ConfigError::Invalid(format!(
                "{name} = {value:?} is not supported by praetor: gossip binds bind_addr ({bind_addr}); set bind_addr instead"
            )));
        }
    }
    Ok(())
}

/// Consul's undocumented `default_intention_policy` (`allow` -> allow, any other non-empty
/// value -> deny) is accepted only when it decides what praetor decides without it: allow
/// with ACLs disabled, else `acl.default_policy`.
pub(crate) fn check_default_intention_policy(
    value: Option<&str>,
    acl: &AclConfig,
) -> Result<(), ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let wanted = if value == "allow" { "allow" } else { "deny" };
    let praetor = if acl.enabled {
        acl.default_policy.as_str()
    } else {
        "allow"
    };
    if wanted == praetor {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "default_intention_policy = {value:?} is not supported by praetor: intentions default to allow with ACLs disabled and to acl.default_policy otherwise (here {praetor:?}); set acl.default_policy or add a * -> * intention instead"
    )))
}
