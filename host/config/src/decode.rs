//! Decoding one parsed source (JSON, or HCL turned into JSON) into a `RawConfig` with Consul's key
//! names; unknown keys and wrongly typed values are errors naming the key path.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::TlsVersion;
use crate::definitions::{CheckSpec, ProxySpec, ServiceSpec, UpstreamSpec};
use crate::duration::parse_duration;
use crate::error::ConfigError;
use crate::keys::{
    UNSUPPORTED_ACL, UNSUPPORTED_ACL_TOKENS, UNSUPPORTED_CHECK, UNSUPPORTED_DNS,
    UNSUPPORTED_LIMITS, UNSUPPORTED_PERFORMANCE, UNSUPPORTED_PORTS, UNSUPPORTED_SERVICE,
    UNSUPPORTED_TLS_SECTION, UNSUPPORTED_TOP_LEVEL, UNSUPPORTED_UI_CONFIG, unsupported_warning,
};
use crate::raw::{
    RawAcl, RawAddresses, RawConfig, RawConnect, RawDns, RawGossip, RawLimits, RawPlugin, RawPorts,
    RawTls, RawTlsSection,
};
use crate::security;

/// Decoding context for one source: its name (for errors) and where warnings go.
pub(crate) struct Decoder<'a> {
    file: &'a str,
    warnings: &'a mut Vec<String>,
}

/// How a key is matched against the known names of an object.
#[derive(Clone, Copy)]
enum Match {
    /// Case-insensitive (mapstructure's rule), used for agent settings.
    CaseInsensitive,
    /// Case-insensitive and ignoring underscores, used for service and check definitions,
    /// so `ServiceID`, `service_id` and `serviceid` are all accepted like Consul does.
    Loose,
}

fn loose(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Finds the canonical name of `key` among `known`, then among `unsupported`.
fn lookup(key: &str, known: &[&'static str], how: Match) -> Option<&'static str> {
    match how {
        Match::CaseInsensitive => known.iter().copied().find(|k| k.eq_ignore_ascii_case(key)),
        Match::Loose => {
            let wanted = loose(key);
            known.iter().copied().find(|k| loose(k) == wanted)
        }
    }
}

/// Sets `target` from `value` only when `target` is unset.
fn fill<T>(target: &mut Option<T>, value: Option<T>) {
    if target.is_none() {
        *target = value;
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

const TOP_LEVEL: &[&str] = &[
    "datacenter",
    "primary_datacenter",
    "node_name",
    "node_id",
    "server",
    "bootstrap",
    "bootstrap_expect",
    "bind_addr",
    "client_addr",
    "advertise_addr",
    "advertise_addr_wan",
    "data_dir",
    "retry_join",
    "retry_interval",
    "retry_max",
    "retry_interval_wan",
    "retry_max_wan",
    "start_join",
    "retry_join_wan",
    "ports",
    "domain",
    "services",
    "service",
    "checks",
    "check",
    "log_level",
    "performance",
    "raft_snapshot_threshold",
    "raft_snapshot_interval",
    "raft_trailing_logs",
    "enable_script_checks",
    "leave_on_terminate",
    "skip_leave_on_interrupt",
    "node_meta",
    "encrypt",
    "ui",
    "ui_config",
    "dns_config",
    "gossip_lan",
    "gossip_wan",
    "rejoin_after_leave",
    "pid_file",
    "disable_update_check",
    "translate_wan_addrs",
    "multi_hop_routing",
    "plugin",
    "plugins",
    "tls",
    "limits",
    "ca_file",
    "ca_path",
    "cert_file",
    "key_file",
    "verify_incoming",
    "verify_incoming_rpc",
    "verify_incoming_https",
    "verify_outgoing",
    "verify_server_hostname",
    "tls_min_version",
    "tls_cipher_suites",
    "tls_prefer_server_cipher_suites",
    "encrypt_verify_incoming",
    "encrypt_verify_outgoing",
    "acl",
    "connect",
    "acl_datacenter",
    "acl_default_policy",
    "acl_down_policy",
    "acl_ttl",
    "acl_token",
    "acl_agent_token",
    "acl_agent_master_token",
    "acl_master_token",
    "acl_replication_token",
    "acl_enable_key_list_policy",
    "enable_acl_replication",
    "enable_remote_plugin_load",
    "addresses",
    "serf_lan",
    "serf_wan",
    "default_intention_policy",
];

const TLS_BLOCKS: &[&str] = &["defaults", "internal_rpc", "https", "grpc"];
const TLS_SECTION_KEYS: &[&str] = &[
    "ca_file",
    "ca_path",
    "cert_file",
    "key_file",
    "verify_incoming",
    "verify_outgoing",
    "verify_server_hostname",
    "tls_min_version",
    "tls_cipher_suites",
];
const LIMITS_KEYS: &[&str] = &["rpc_handshake_timeout", "rpc_max_conns_per_client"];

const CONNECT_KEYS: &[&str] = &[
    "enabled",
    "ca_provider",
    "ca_config",
    "enable_mesh_gateway_wan_federation",
];
const ACL_KEYS: &[&str] = &[
    "enabled",
    "default_policy",
    "down_policy",
    "token_ttl",
    "policy_ttl",
    "role_ttl",
    "enable_key_list_policy",
    "enable_token_replication",
    "enable_token_persistence",
    "tokens",
];
const ACL_TOKEN_KEYS: &[&str] = &[
    "initial_management",
    "default",
    "agent",
    "agent_recovery",
    "replication",
    "config_file_service_registration",
    "dns",
    "master",
    "agent_master",
];
const ADDRESS_KEYS: &[&str] = &["dns", "http", "https", "grpc", "grpc_tls"];

const PLUGIN_KEYS: &[&str] = &[
    "path",
    "config",
    "call_timeout",
    "memory_limit",
    "max_failures",
    "grants",
];
const GRANT_KEYS: &[&str] = &["dns", "read_paths", "http_hosts"];
const GOSSIP_KEYS: &[&str] = &[
    "gossip_nodes",
    "gossip_interval",
    "probe_interval",
    "probe_timeout",
    "suspicion_mult",
    "retransmit_mult",
];

const PORT_KEYS: &[&str] = &[
    "http",
    "https",
    "grpc",
    "dns",
    "server",
    "serf_lan",
    "serf_wan",
    "sidecar_min_port",
    "sidecar_max_port",
];
const DNS_KEYS: &[&str] = &[
    "node_ttl",
    "service_ttl",
    "a_record_limit",
    "udp_answer_limit",
    "only_passing",
];
const SERVICE_KEYS: &[&str] = &[
    "id",
    "name",
    "tags",
    "address",
    "port",
    "meta",
    "tagged_addresses",
    "enable_tag_override",
    "weights",
    "check",
    "checks",
    "kind",
    "proxy",
    "connect",
];
const PROXY_KEYS: &[&str] = &[
    "destination_service_name",
    "destination_service_id",
    "local_service_address",
    "local_service_port",
    "mode",
    "config",
    "mesh_gateway",
    "upstreams",
];
const UPSTREAM_KEYS: &[&str] = &[
    "destination_type",
    "destination_name",
    "datacenter",
    "local_bind_address",
    "local_bind_port",
    "mesh_gateway",
    "config",
];
const CHECK_KEYS: &[&str] = &[
    "id",
    "check_id",
    "name",
    "notes",
    "service_id",
    "status",
    "ttl",
    "http",
    "method",
    "header",
    "tls_skip_verify",
    "tcp",
    "args",
    "script_args",
    "alias_service",
    "interval",
    "timeout",
    "deregister_critical_service_after",
];

impl<'a> Decoder<'a> {
    pub fn new(file: &'a str, warnings: &'a mut Vec<String>) -> Self {
        Decoder { file, warnings }
    }

    // === errors ===

    fn type_error(&self, key: &str, expected: &'static str) -> ConfigError {
        ConfigError::Type {
            file: self.file.to_string(),
            key: key.to_string(),
            expected,
        }
    }

    fn value_error(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Value {
            file: self.file.to_string(),
            key: key.to_string(),
            message,
        }
    }

    fn refused(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Refused {
            file: self.file.to_string(),
            key: key.to_string(),
            message,
        }
    }

    /// Known-but-unsupported keys become a warning; anything else is `invalid config key`.
    fn other_key(
        &mut self,
        prefix: &str,
        key: &str,
        unsupported: &[&'static str],
        how: Match,
    ) -> Result<(), ConfigError> {
        match lookup(key, unsupported, how) {
            Some(name) => {
                let warning = unsupported_warning(&join(prefix, name));
                tracing::debug!(file = self.file, %warning, "Ignoring unsupported config key");
                self.warnings.push(warning);
                Ok(())
            }
            None => Err(ConfigError::InvalidKey {
                file: self.file.to_string(),
                key: join(prefix, key),
            }),
        }
    }

    // === scalar decoders ===

    fn string(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.type_error(key, "a string"))
    }

    fn boolean(&self, key: &str, v: &Value) -> Result<bool, ConfigError> {
        v.as_bool().ok_or_else(|| self.type_error(key, "a boolean"))
    }

    fn int(&self, key: &str, v: &Value) -> Result<i64, ConfigError> {
        if let Some(i) = v.as_i64() {
            return Ok(i);
        }
        match v.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            Some(_) => Err(self.type_error(key, "an integer")),
            None => Err(self.type_error(key, "a number")),
        }
    }

    fn port(&self, key: &str, v: &Value) -> Result<u16, ConfigError> {
        let n = self.int(key, v)?;
        u16::try_from(n)
            .map_err(|_| self.value_error(key, format!("invalid port {n}: must be 0-65535")))
    }

    fn duration(&self, key: &str, v: &Value) -> Result<Duration, ConfigError> {
        let s = v
            .as_str()
            .ok_or_else(|| self.type_error(key, "a duration string"))?;
        parse_duration(s)
            .map_err(|e| self.value_error(key, format!("invalid duration: {s:?}: {e}")))
    }

    fn string_list(&self, key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
        let items = v
            .as_array()
            .ok_or_else(|| self.type_error(key, "a list of strings"))?;
        items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| self.type_error(key, "a list of strings"))
            })
            .collect()
    }

    fn string_map(&self, key: &str, v: &Value) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut out = BTreeMap::new();
        for obj in self.objects(key, v)? {
            for (k, val) in obj {
                let s = val
                    .as_str()
                    .ok_or_else(|| self.type_error(&join(key, k), "a string"))?;
                out.insert(k.clone(), s.to_string());
            }
        }
        Ok(out)
    }

    /// An object, or a list of objects (HCL repeats a block as a list): merged in order.
    fn objects<'v>(
        &self,
        key: &str,
        v: &'v Value,
    ) -> Result<Vec<&'v Map<String, Value>>, ConfigError> {
        match v {
            Value::Object(m) => Ok(vec![m]),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_object()
                        .ok_or_else(|| self.type_error(key, "an object"))
                })
                .collect(),
            _ => Err(self.type_error(key, "an object")),
        }
    }

    /// A list of objects, or a single object (one block in HCL).
    fn object_list<'v>(
        &self,
        key: &str,
        v: &'v Value,
    ) -> Result<Vec<&'v Map<String, Value>>, ConfigError> {
        self.objects(key, v)
            .map_err(|_| self.type_error(key, "a list of objects"))
    }

    // === top level ===

    /// Decodes a whole source. Its top level must be an object.
    pub fn config(&mut self, root: &Value) -> Result<RawConfig, ConfigError> {
        let Some(map) = root.as_object() else {
            return Err(ConfigError::Syntax {
                file: self.file.to_string(),
                message: "the top level must be an object".to_string(),
            });
        };
        let mut raw = RawConfig::default();
        for (key, v) in map {
            let Some(name) = lookup(key, TOP_LEVEL, Match::CaseInsensitive) else {
                if let Some(name) = lookup(key, UNSUPPORTED_TOP_LEVEL, Match::CaseInsensitive) {
                    security::refuse_ignored(self.file, name, v)?;
                }
                self.other_key("", key, UNSUPPORTED_TOP_LEVEL, Match::CaseInsensitive)?;
                continue;
            };
            if v.is_null() {
                continue;
            }
            self.top_level(&mut raw, name, v)?;
        }
        self.apply_deprecated_tls(&mut raw);
        self.apply_deprecated_acl(&mut raw);
        Ok(raw)
    }

    fn deprecated(&mut self, old: &str, new: &str) {
        self.warnings.push(format!(
            "The '{old}' field is deprecated. Use the '{new}' field instead."
        ));
    }

    /// Consul's `applyDeprecatedConfig` for ACLs: the token aliases of this source's `acl`
    /// block and the deprecated top-level `acl_*` keys fill what the block left unset (except
    /// `acl_datacenter`, which always enables ACLs, and `acl_replication_token`, which always
    /// enables token replication), each with a deprecation warning.
    fn apply_deprecated_acl(&mut self, raw: &mut RawConfig) {
        let dep = std::mem::take(&mut raw.deprecated_acl);
        let acl = &mut raw.acl;
        let agent_master = acl.tokens.agent_master.take();
        let master = acl.tokens.master.take();
        if agent_master.is_some() {
            self.deprecated("acl.tokens.agent_master", "acl.tokens.agent_recovery");
        }
        fill(&mut acl.tokens.agent_recovery, agent_master);
        if dep.acl_agent_master_token.is_some() {
            self.deprecated("acl_agent_master_token", "acl.tokens.agent_recovery");
        }
        fill(&mut acl.tokens.agent_recovery, dep.acl_agent_master_token);
        if dep.acl_agent_token.is_some() {
            self.deprecated("acl_agent_token", "acl.tokens.agent");
        }
        fill(&mut acl.tokens.agent, dep.acl_agent_token);
        if dep.acl_token.is_some() {
            self.deprecated("acl_token", "acl.tokens.default");
        }
        fill(&mut acl.tokens.default, dep.acl_token);
        if master.is_some() {
            self.deprecated("acl.tokens.master", "acl.tokens.initial_management");
        }
        fill(&mut acl.tokens.initial_management, master);
        if dep.acl_master_token.is_some() {
            self.deprecated("acl_master_token", "acl.tokens.initial_management");
        }
        fill(&mut acl.tokens.initial_management, dep.acl_master_token);
        if dep.acl_replication_token.is_some() {
            self.deprecated("acl_replication_token", "acl.tokens.replication");
            acl.enable_token_replication = Some(true);
        }
        fill(&mut acl.tokens.replication, dep.acl_replication_token);
        if dep.enable_acl_replication.is_some() {
            self.deprecated("enable_acl_replication", "acl.enable_token_replication");
        }
        fill(
            &mut acl.enable_token_replication,
            dep.enable_acl_replication,
        );
        if dep.acl_datacenter.is_some() {
            self.deprecated("acl_datacenter", "primary_datacenter");
            // Consul: "when the acl_datacenter config is used it implicitly enables acls".
            acl.enabled = Some(true);
        }
        fill(&mut raw.primary_datacenter, dep.acl_datacenter);
        if dep.acl_default_policy.is_some() {
            self.deprecated("acl_default_policy", "acl.default_policy");
        }
        fill(&mut acl.default_policy, dep.acl_default_policy);
        if dep.acl_down_policy.is_some() {
            self.deprecated("acl_down_policy", "acl.down_policy");
        }
        fill(&mut acl.down_policy, dep.acl_down_policy);
        if dep.acl_ttl.is_some() {
            self.deprecated("acl_ttl", "acl.token_ttl");
        }
        fill(&mut acl.token_ttl, dep.acl_ttl);
        if dep.acl_enable_key_list_policy.is_some() {
            self.deprecated("acl_enable_key_list_policy", "acl.enable_key_list_policy");
        }
        fill(
            &mut acl.enable_key_list_policy,
            dep.acl_enable_key_list_policy,
        );
    }

    /// Consul's `applyDeprecatedTLSConfig`: the top-level keys of this source fill the `tls`
    /// block of the same source where it left them unset, each with a deprecation warning.
    fn apply_deprecated_tls(&mut self, raw: &mut RawConfig) {
        let dep = std::mem::take(&mut raw.deprecated_tls);
        let tls = &mut raw.tls;
        let mut moved = |old: &str, new: &str, present: bool| {
            if present {
                self.warnings.push(format!(
                    "The '{old}' field is deprecated. Use the '{new}' field instead."
                ));
            }
        };
        moved("ca_file", "tls.defaults.ca_file", dep.top.ca_file.is_some());
        moved("ca_path", "tls.defaults.ca_path", dep.top.ca_path.is_some());
        moved(
            "cert_file",
            "tls.defaults.cert_file",
            dep.top.cert_file.is_some(),
        );
        moved(
            "key_file",
            "tls.defaults.key_file",
            dep.top.key_file.is_some(),
        );
        moved(
            "verify_incoming",
            "tls.defaults.verify_incoming",
            dep.top.verify_incoming.is_some(),
        );
        moved(
            "verify_incoming_https",
            "tls.https.verify_incoming",
            dep.verify_incoming_https.is_some(),
        );
        moved(
            "verify_incoming_rpc",
            "tls.internal_rpc.verify_incoming",
            dep.verify_incoming_rpc.is_some(),
        );
        moved(
            "verify_outgoing",
            "tls.defaults.verify_outgoing",
            dep.top.verify_outgoing.is_some(),
        );
        moved(
            "verify_server_hostname",
            "tls.internal_rpc.verify_server_hostname",
            dep.top.verify_server_hostname.is_some(),
        );
        moved(
            "tls_min_version",
            "tls.defaults.tls_min_version",
            dep.top.tls_min_version.is_some(),
        );
        fill(&mut tls.defaults.ca_file, dep.top.ca_file);
        fill(&mut tls.defaults.ca_path, dep.top.ca_path);
        fill(&mut tls.defaults.cert_file, dep.top.cert_file);
        fill(&mut tls.defaults.key_file, dep.top.key_file);
        fill(&mut tls.defaults.verify_incoming, dep.top.verify_incoming);
        fill(&mut tls.defaults.verify_outgoing, dep.top.verify_outgoing);
        fill(&mut tls.https.verify_incoming, dep.verify_incoming_https);
        fill(
            &mut tls.internal_rpc.verify_incoming,
            dep.verify_incoming_rpc,
        );
        fill(
            &mut tls.internal_rpc.verify_server_hostname,
            dep.top.verify_server_hostname,
        );
        fill(&mut tls.defaults.tls_min_version, dep.top.tls_min_version);
    }

    fn top_level(&mut self, raw: &mut RawConfig, name: &str, v: &Value) -> Result<(), ConfigError> {
        match name {
            "datacenter" => raw.datacenter = Some(self.string(name, v)?),
            "primary_datacenter" => raw.primary_datacenter = Some(self.string(name, v)?),
            "node_name" => raw.node_name = Some(self.string(name, v)?),
            "node_id" => raw.node_id = Some(self.string(name, v)?),
            "server" => raw.server = Some(self.boolean(name, v)?),
            "bootstrap" => raw.bootstrap = Some(self.boolean(name, v)?),
            "bootstrap_expect" => raw.bootstrap_expect = Some(self.int(name, v)?),
            "bind_addr" => raw.bind_addr = Some(self.string(name, v)?),
            "client_addr" => raw.client_addr = Some(self.string(name, v)?),
            "advertise_addr" => raw.advertise_addr = Some(self.string(name, v)?),
            "advertise_addr_wan" => raw.advertise_addr_wan = Some(self.string(name, v)?),
            "data_dir" => raw.data_dir = Some(self.string(name, v)?),
            "retry_join" => raw.retry_join = self.string_list(name, v)?,
            "retry_interval" => raw.retry_interval = Some(self.duration(name, v)?),
            "retry_max" => raw.retry_max = Some(self.int(name, v)?),
            "retry_interval_wan" => raw.retry_interval_wan = Some(self.duration(name, v)?),
            "retry_max_wan" => raw.retry_max_wan = Some(self.int(name, v)?),
            "start_join" => raw.start_join = self.string_list(name, v)?,
            "retry_join_wan" => raw.retry_join_wan = self.string_list(name, v)?,
            "ports" => raw.ports = self.ports(v)?,
            "domain" => raw.domain = Some(self.string(name, v)?),
            "services" | "service" => {
                for (i, obj) in self.object_list(name, v)?.into_iter().enumerate() {
                    let path = format!("{name}[{i}]");
                    raw.services.push(self.service(&path, obj)?);
                }
            }
            "checks" | "check" => {
                for (i, obj) in self.object_list(name, v)?.into_iter().enumerate() {
                    let path = format!("{name}[{i}]");
                    raw.checks.push(self.check(&path, obj)?);
                }
            }
            "log_level" => raw.log_level = Some(self.string(name, v)?),
            "performance" => raw.raft_multiplier = self.performance(v)?,
            "raft_snapshot_threshold" => raw.raft_snapshot_threshold = Some(self.int(name, v)?),
            "raft_snapshot_interval" => {
                raw.raft_snapshot_interval = Some(self.duration(name, v)?);
            }
            "raft_trailing_logs" => raw.raft_trailing_logs = Some(self.int(name, v)?),
            "enable_script_checks" => raw.enable_script_checks = Some(self.boolean(name, v)?),
            "leave_on_terminate" => raw.leave_on_terminate = Some(self.boolean(name, v)?),
            "skip_leave_on_interrupt" => {
                raw.skip_leave_on_interrupt = Some(self.boolean(name, v)?);
            }
            "node_meta" => raw.node_meta = self.string_map(name, v)?,
            "encrypt" => raw.encrypt = Some(self.string(name, v)?),
            "ui" => raw.ui = Some(self.boolean(name, v)?),
            "ui_config" => raw.ui_config_enabled = self.ui_config(v)?,
            "dns_config" => raw.dns = self.dns(v)?,
            "gossip_lan" => raw.gossip_lan = self.gossip(name, v)?,
            "gossip_wan" => raw.gossip_wan = self.gossip(name, v)?,
            "rejoin_after_leave" => raw.rejoin_after_leave = Some(self.boolean(name, v)?),
            "pid_file" => raw.pid_file = Some(self.string(name, v)?),
            "disable_update_check" => raw.disable_update_check = Some(self.boolean(name, v)?),
            "translate_wan_addrs" => raw.translate_wan_addrs = Some(self.boolean(name, v)?),
            "multi_hop_routing" => raw.multi_hop_routing = Some(self.boolean(name, v)?),
            "plugin" | "plugins" => {
                for obj in self.objects(name, v)? {
                    for (slot, body) in obj {
                        let p = self.plugin(&join(name, slot), slot, body)?;
                        raw.plugins.retain(|x| x.slot != p.slot);
                        raw.plugins.push(p);
                    }
                }
            }
            "tls" => raw.tls = self.tls(v)?,
            "limits" => raw.limits = self.limits(v)?,
            "ca_file" => raw.deprecated_tls.top.ca_file = Some(self.string(name, v)?),
            "ca_path" => raw.deprecated_tls.top.ca_path = Some(self.string(name, v)?),
            "cert_file" => raw.deprecated_tls.top.cert_file = Some(self.string(name, v)?),
            "key_file" => raw.deprecated_tls.top.key_file = Some(self.string(name, v)?),
            "verify_incoming" => {
                raw.deprecated_tls.top.verify_incoming = Some(self.boolean(name, v)?);
            }
            "verify_outgoing" => {
                raw.deprecated_tls.top.verify_outgoing = Some(self.boolean(name, v)?);
            }
            "verify_server_hostname" => {
                raw.deprecated_tls.top.verify_server_hostname = Some(self.boolean(name, v)?);
            }
            "verify_incoming_rpc" => {
                raw.deprecated_tls.verify_incoming_rpc = Some(self.boolean(name, v)?);
            }
            "verify_incoming_https" => {
                raw.deprecated_tls.verify_incoming_https = Some(self.boolean(name, v)?);
            }
            "tls_min_version" => {
                // Applied only when the tls block of the same source leaves it unset, but
                // refused values are refused either way.
                if let Some(version) = self.tls_version(name, v)? {
                    raw.deprecated_tls.top.tls_min_version = Some(version);
                }
            }
            "tls_cipher_suites" => self.tls_cipher_suites(name, v)?,
            "tls_prefer_server_cipher_suites" => {
                if self.boolean(name, v)? {
                    return Err(self.refused(
                        name,
                        format!(
                            "{name} = true is not supported by praetor: rustls chooses among its own cipher suites; remove the key"
                        ),
                    ));
                }
                // Consul's text: Go ignores the setting, and so does praetor.
                self.warnings.push(
                    "The 'tls_prefer_server_cipher_suites' field is deprecated and will be ignored."
                        .to_string(),
                );
            }
            "encrypt_verify_incoming" | "encrypt_verify_outgoing" => {
                if !self.boolean(name, v)? {
                    return Err(self.refused(
                        name,
                        format!(
                            "{name} = false is not supported by praetor: gossip with a key set is always encrypted and verified"
                        ),
                    ));
                }
            }
            "acl" => raw.acl = self.acl(v)?,
            "connect" => raw.connect = self.connect(v)?,
            "acl_datacenter" => raw.deprecated_acl.acl_datacenter = Some(self.string(name, v)?),
            "acl_default_policy" => {
                raw.deprecated_acl.acl_default_policy = Some(self.string(name, v)?);
            }
            "acl_down_policy" => raw.deprecated_acl.acl_down_policy = Some(self.string(name, v)?),
            "acl_ttl" => raw.deprecated_acl.acl_ttl = Some(self.duration(name, v)?),
            "acl_token" => raw.deprecated_acl.acl_token = Some(self.string(name, v)?),
            "acl_agent_token" => raw.deprecated_acl.acl_agent_token = Some(self.string(name, v)?),
            "acl_agent_master_token" => {
                raw.deprecated_acl.acl_agent_master_token = Some(self.string(name, v)?);
            }
            "acl_master_token" => {
                raw.deprecated_acl.acl_master_token = Some(self.string(name, v)?);
            }
            "acl_replication_token" => {
                raw.deprecated_acl.acl_replication_token = Some(self.string(name, v)?);
            }
            "acl_enable_key_list_policy" => {
                raw.deprecated_acl.acl_enable_key_list_policy = Some(self.boolean(name, v)?);
            }
            "enable_acl_replication" => {
                raw.deprecated_acl.enable_acl_replication = Some(self.boolean(name, v)?);
            }
            "enable_remote_plugin_load" => {
                raw.enable_remote_plugin_load = Some(self.boolean(name, v)?);
            }
            "addresses" => raw.addresses = self.addresses(v)?,
            "serf_lan" => raw.serf_lan_bind = Some(self.string(name, v)?),
            "serf_wan" => raw.serf_wan_bind = Some(self.string(name, v)?),
            "default_intention_policy" => {
                raw.default_intention_policy = Some(self.string(name, v)?);
            }
            other => {
                // TOP_LEVEL and this match are kept in sync; reaching here is a bug, not input.
                tracing::error!(key = other, "Config key listed but not decoded");
            }
        }
        Ok(())
    }

    // === blocks ===

    fn ports(&mut self, v: &Value) -> Result<RawPorts, ConfigError> {
        let mut ports = RawPorts::default();
        for obj in self.objects("ports", v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, PORT_KEYS, Match::CaseInsensitive) else {
                    self.other_key("ports", key, UNSUPPORTED_PORTS, Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let n = Some(self.int(&join("ports", name), val)?);
                match name {
                    "http" => ports.http = n,
                    "https" => ports.https = n,
                    "grpc" => ports.grpc = n,
                    "dns" => ports.dns = n,
                    "server" => ports.server = n,
                    "serf_lan" => ports.serf_lan = n,
                    "sidecar_min_port" => ports.sidecar_min_port = n,
                    "sidecar_max_port" => ports.sidecar_max_port = n,
                    _ => ports.serf_wan = n,
                }
            }
        }
        Ok(ports)
    }

    /// `tls { defaults { } internal_rpc { } https { } grpc { } }`.
    fn tls(&mut self, v: &Value) -> Result<RawTls, ConfigError> {
        let mut tls = RawTls::default();
        for obj in self.objects("tls", v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, TLS_BLOCKS, Match::CaseInsensitive) else {
                    self.other_key("tls", key, &[], Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let section = self.tls_section(&join("tls", name), val)?;
                let target = match name {
                    "defaults" => &mut tls.defaults,
                    "internal_rpc" => &mut tls.internal_rpc,
                    "https" => &mut tls.https,
                    _ => &mut tls.grpc,
                };
                *target = section;
            }
        }
        Ok(tls)
    }

    /// One section of the `tls` block at `path` (e.g. `tls.internal_rpc`).
    fn tls_section(&mut self, path: &str, v: &Value) -> Result<RawTlsSection, ConfigError> {
        let mut s = RawTlsSection::default();
        for obj in self.objects(path, v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, TLS_SECTION_KEYS, Match::CaseInsensitive) else {
                    self.other_key(path, key, UNSUPPORTED_TLS_SECTION, Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let p = join(path, name);
                match name {
                    "ca_file" => s.ca_file = Some(self.string(&p, val)?),
                    "ca_path" => s.ca_path = Some(self.string(&p, val)?),
                    "cert_file" => s.cert_file = Some(self.string(&p, val)?),
                    "key_file" => s.key_file = Some(self.string(&p, val)?),
                    "verify_incoming" => s.verify_incoming = Some(self.boolean(&p, val)?),
                    "verify_outgoing" => s.verify_outgoing = Some(self.boolean(&p, val)?),
                    "tls_min_version" => {
                        if let Some(version) = self.tls_version(&p, val)? {
                            s.tls_min_version = Some(version);
                        }
                    }
                    "tls_cipher_suites" => self.tls_cipher_suites(&p, val)?,
                    _ => s.verify_server_hostname = Some(self.boolean(&p, val)?),
                }
            }
        }
        Ok(s)
    }

    /// `tls_min_version` at `path`: `None` for `""` (inherit). Consul's `TLSv1_2` / `TLSv1_3`
    /// and `TLS_AUTO` (= TLS 1.2), and its legacy `tls12` / `tls13` with Consul's warning.
    /// TLS 1.0 and 1.1 are refused (rustls has neither); anything else is Consul's error.
    fn tls_version(&mut self, path: &str, v: &Value) -> Result<Option<TlsVersion>, ConfigError> {
        let s = self.string(path, v)?;
        let (version, legacy) = match s.as_str() {
            "" => return Ok(None),
            "TLS_AUTO" | "TLSv1_2" => (TlsVersion::Tls12, false),
            "TLSv1_3" => (TlsVersion::Tls13, false),
            "tls12" => (TlsVersion::Tls12, true),
            "tls13" => (TlsVersion::Tls13, true),
            "TLSv1_0" | "TLSv1_1" | "tls10" | "tls11" => {
                return Err(self.refused(
                    path,
                    format!(
                        "{path} = {s:?} is not supported by praetor: rustls implements only TLS 1.2 and 1.3 (use \"TLSv1_2\" or \"TLSv1_3\")"
                    ),
                ));
            }
            _ => {
                return Err(self.value_error(
                    path,
                    format!(
                        "invalid TLS version: no matching TLS version found for {s}, please specify one of [TLS_AUTO, TLSv1_0, TLSv1_1, TLSv1_2, TLSv1_3]"
                    ),
                ));
            }
        };
        if legacy {
            let key = path.rsplit('.').next().unwrap_or(path);
            self.warnings.push(format!(
                "'{key}' value '{s}' is deprecated, please specify '{}' instead",
                version.as_str()
            ));
        }
        Ok(Some(version))
    }

    /// `tls_cipher_suites` at `path`: only `""` (rustls' own choice) is accepted.
    fn tls_cipher_suites(&self, path: &str, v: &Value) -> Result<(), ConfigError> {
        if self.string(path, v)?.trim().is_empty() {
            return Ok(());
        }
        Err(self.refused(
            path,
            format!(
                "{path} is not supported by praetor: rustls chooses the cipher suites itself (TLS 1.3 suites, and for TLS 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305); remove the key"
            ),
        ))
    }

    /// `connect { enabled ca_provider ca_config { } }`; `enable_mesh_gateway_wan_federation`
    /// is refused when true (not implemented yet).
    fn connect(&mut self, v: &Value) -> Result<RawConnect, ConfigError> {
        let mut c = RawConnect::default();
        for obj in self.objects("connect", v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, CONNECT_KEYS, Match::CaseInsensitive) else {
                    self.other_key("connect", key, &[], Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let p = join("connect", name);
                match name {
                    "enabled" => c.enabled = Some(self.boolean(&p, val)?),
                    "ca_provider" => c.ca_provider = Some(self.string(&p, val)?),
                    "ca_config" => {
                        for m in self.objects(&p, val)? {
                            c.ca_config
                                .extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
                        }
                    }
                    _ => {
                        if self.boolean(&p, val)? {
                            return Err(self.refused(
                                &p,
                                format!("{p} = true is not supported by praetor yet (federation through mesh gateways)"),
                            ));
                        }
                    }
                }
            }
        }
        Ok(c)
    }

    /// `acl { enabled default_policy down_policy token_ttl policy_ttl role_ttl
    /// enable_key_list_policy enable_token_replication enable_token_persistence tokens { } }`.
    fn acl(&mut self, v: &Value) -> Result<RawAcl, ConfigError> {
        let mut acl = RawAcl::default();
        for obj in self.objects("acl", v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, ACL_KEYS, Match::CaseInsensitive) else {
                    self.other_key("acl", key, UNSUPPORTED_ACL, Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let p = join("acl", name);
                match name {
                    "enabled" => acl.enabled = Some(self.boolean(&p, val)?),
                    "default_policy" => acl.default_policy = Some(self.string(&p, val)?),
                    "down_policy" => acl.down_policy = Some(self.string(&p, val)?),
                    "token_ttl" => acl.token_ttl = Some(self.duration(&p, val)?),
                    "policy_ttl" => acl.policy_ttl = Some(self.duration(&p, val)?),
                    "role_ttl" => acl.role_ttl = Some(self.duration(&p, val)?),
                    "enable_key_list_policy" => {
                        acl.enable_key_list_policy = Some(self.boolean(&p, val)?);
                    }
                    "enable_token_replication" => {
                        acl.enable_token_replication = Some(self.boolean(&p, val)?);
                    }
                    "enable_token_persistence" => {
                        acl.enable_token_persistence = Some(self.boolean(&p, val)?);
                    }
                    _ => self.acl_tokens(&p, val, &mut acl)?,
                }
            }
        }
        Ok(acl)
    }

    /// `acl.tokens { ... }` (with Consul's aliases `master` and `agent_master`).
    fn acl_tokens(&mut self, path: &str, v: &Value, acl: &mut RawAcl) -> Result<(), ConfigError> {
        for obj in self.objects(path, v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, ACL_TOKEN_KEYS, Match::CaseInsensitive) else {
                    self.other_key(path, key, UNSUPPORTED_ACL_TOKENS, Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let token = Some(self.string(&join(path, name), val)?);
                let t = &mut acl.tokens;
                match name {
                    "initial_management" => t.initial_management = token,
                    "default" => t.default = token,
                    "agent" => t.agent = token,
                    "agent_recovery" => t.agent_recovery = token,
                    "replication" => t.replication = token,
                    "config_file_service_registration" => {
                        t.config_file_service_registration = token;
                    }
                    "dns" => t.dns = token,
                    "master" => t.master = token,
                    _ => t.agent_master = token,
                }
            }
        }
        Ok(())
    }

    /// `addresses { dns http https grpc grpc_tls }`, kept to be compared with `client_addr`.
    fn addresses(&mut self, v: &Value) -> Result<RawAddresses, ConfigError> {
        let mut a = RawAddresses::default();
        for obj in self.objects("addresses", v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, ADDRESS_KEYS, Match::CaseInsensitive) else {
                    self.other_key("addresses", key, &[], Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let addr = Some(self.string(&join("addresses", name), val)?);
                match name {
                    "dns" => a.dns = addr,
                    "http" => a.http = addr,
                    "https" => a.https = addr,
                    "grpc" => a.grpc = addr,
                    _ => a.grpc_tls = addr,
                }
            }
        }
        Ok(a)
    }

    /// `limits { rpc_handshake_timeout rpc_max_conns_per_client }`; the other limits warn.
    fn limits(&mut self, v: &Value) -> Result<RawLimits, ConfigError> {
        let mut limits = RawLimits::default();
        for obj in self.objects("limits", v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, LIMITS_KEYS, Match::CaseInsensitive) else {
                    self.other_key("limits", key, UNSUPPORTED_LIMITS, Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let p = join("limits", name);
                match name {
                    "rpc_handshake_timeout" => {
                        limits.rpc_handshake_timeout = Some(self.duration(&p, val)?);
                    }
                    _ => limits.rpc_max_conns_per_client = Some(self.int(&p, val)?),
                }
            }
        }
        Ok(limits)
    }

    fn dns(&mut self, v: &Value) -> Result<RawDns, ConfigError> {
        let mut dns = RawDns::default();
        for obj in self.objects("dns_config", v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, DNS_KEYS, Match::CaseInsensitive) else {
                    self.other_key("dns_config", key, UNSUPPORTED_DNS, Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let path = join("dns_config", name);
                match name {
                    "node_ttl" => dns.node_ttl = Some(self.duration(&path, val)?),
                    "service_ttl" => {
                        for m in self.objects(&path, val)? {
                            for (svc, ttl) in m {
                                let d = self.duration(&join(&path, svc), ttl)?;
                                dns.service_ttl.insert(svc.clone(), d);
                            }
                        }
                    }
                    "a_record_limit" => dns.a_record_limit = Some(self.int(&path, val)?),
                    "udp_answer_limit" => dns.udp_answer_limit = Some(self.int(&path, val)?),
                    _ => dns.only_passing = Some(self.boolean(&path, val)?),
                }
            }
        }
        Ok(dns)
    }

    /// `plugin "<slot>" { path = "x.wasm" config = { ... } call_timeout = "5ms" memory_limit = N
    /// max_failures = N grants { dns = true read_paths = [..] http_hosts = [..] } }`.
    fn plugin(&mut self, path: &str, slot: &str, v: &Value) -> Result<RawPlugin, ConfigError> {
        let mut p = RawPlugin {
            slot: slot.to_string(),
            ..RawPlugin::default()
        };
        for obj in self.objects(path, v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, PLUGIN_KEYS, Match::CaseInsensitive) else {
                    self.other_key(path, key, &[], Match::CaseInsensitive)?;
                    continue;
                };
                if val.is_null() {
                    continue;
                }
                let key_path = join(path, name);
                match name {
                    "path" => p.path = Some(self.string(&key_path, val)?),
                    "config" => {
                        if !val.is_object() {
                            return Err(self.type_error(&key_path, "an object"));
                        }
                        p.config_json = Some(val.to_string());
                    }
                    "call_timeout" => p.call_timeout = Some(self.duration(&key_path, val)?),
                    "memory_limit" => p.memory_limit = Some(self.int(&key_path, val)?),
                    "max_failures" => p.max_failures = Some(self.int(&key_path, val)?),
                    _ => {
                        for g in self.objects(&key_path, val)? {
                            for (gk, gv) in g {
                                let Some(gname) = lookup(gk, GRANT_KEYS, Match::CaseInsensitive)
                                else {
                                    self.other_key(&key_path, gk, &[], Match::CaseInsensitive)?;
                                    continue;
                                };
                                let gpath = join(&key_path, gname);
                                match gname {
                                    "dns" => p.grant_dns = self.boolean(&gpath, gv)?,
                                    "read_paths" => {
                                        p.grant_read_paths = self.string_list(&gpath, gv)?
                                    }
                                    _ => p.grant_http_hosts = self.string_list(&gpath, gv)?,
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(p)
    }

    fn performance(&mut self, v: &Value) -> Result<Option<i64>, ConfigError> {
        let mut multiplier = None;
        for obj in self.objects("performance", v)? {
            for (key, val) in obj {
                if !key.eq_ignore_ascii_case("raft_multiplier") {
                    self.other_key(
                        "performance",
                        key,
                        UNSUPPORTED_PERFORMANCE,
                        Match::CaseInsensitive,
                    )?;
                    continue;
                }
                if !val.is_null() {
                    multiplier = Some(self.int("performance.raft_multiplier", val)?);
                }
            }
        }
        Ok(multiplier)
    }

    /// `gossip_lan` / `gossip_wan`: memberlist timings.
    fn gossip(&mut self, section: &str, v: &Value) -> Result<RawGossip, ConfigError> {
        let mut g = RawGossip::default();
        for obj in self.objects(section, v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, GOSSIP_KEYS, Match::CaseInsensitive) else {
                    return Err(ConfigError::InvalidKey {
                        file: self.file.to_string(),
                        key: join(section, key),
                    });
                };
                if val.is_null() {
                    continue;
                }
                let path = join(section, name);
                match name {
                    "gossip_nodes" => g.gossip_nodes = Some(self.int(&path, val)?),
                    "gossip_interval" => g.gossip_interval = Some(self.duration(&path, val)?),
                    "probe_interval" => g.probe_interval = Some(self.duration(&path, val)?),
                    "probe_timeout" => g.probe_timeout = Some(self.duration(&path, val)?),
                    "suspicion_mult" => g.suspicion_mult = Some(self.int(&path, val)?),
                    _ => g.retransmit_mult = Some(self.int(&path, val)?),
                }
            }
        }
        Ok(g)
    }

    fn ui_config(&mut self, v: &Value) -> Result<Option<bool>, ConfigError> {
        let mut enabled = None;
        for obj in self.objects("ui_config", v)? {
            for (key, val) in obj {
                if !key.eq_ignore_ascii_case("enabled") {
                    self.other_key(
                        "ui_config",
                        key,
                        UNSUPPORTED_UI_CONFIG,
                        Match::CaseInsensitive,
                    )?;
                    continue;
                }
                if !val.is_null() {
                    enabled = Some(self.boolean("ui_config.enabled", val)?);
                }
            }
        }
        Ok(enabled)
    }

    // === definitions ===

    /// A service definition (Consul's config-file format) at `path`.
    pub fn service(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
    ) -> Result<ServiceSpec, ConfigError> {
        let mut spec = ServiceSpec::default();
        for (key, v) in obj {
            let Some(name) = lookup(key, SERVICE_KEYS, Match::Loose) else {
                self.other_key(path, key, UNSUPPORTED_SERVICE, Match::Loose)?;
                continue;
            };
            if v.is_null() {
                continue;
            }
            let p = join(path, name);
            match name {
                "id" => spec.id = Some(self.string(&p, v)?),
                "name" => spec.name = Some(self.string(&p, v)?),
                "tags" => spec.tags = self.string_list(&p, v)?,
                "address" => spec.address = Some(self.string(&p, v)?),
                "port" => spec.port = Some(self.port(&p, v)?),
                "meta" => spec.meta = self.string_map(&p, v)?,
                "tagged_addresses" => spec.tagged_addresses = self.tagged_addresses(&p, v)?,
                "enable_tag_override" => spec.enable_tag_override = self.boolean(&p, v)?,
                "weights" => spec.weights = Some(self.weights(&p, v)?),
                "kind" => spec.kind = Some(self.string(&p, v)?),
                "proxy" => spec.proxy = Some(self.proxy(&p, v)?),
                "connect" => {
                    for obj in self.objects(&p, v)? {
                        for (k, val) in obj {
                            if val.is_null() {
                                continue;
                            }
                            let cp = join(&p, k);
                            match loose(k).as_str() {
                                "native" => spec.connect_native = self.boolean(&cp, val)?,
                                "sidecarservice" => {
                                    let mut sidecar = ServiceSpec::default();
                                    for o in self.objects(&cp, val)? {
                                        let part = self.service(&cp, o)?;
                                        sidecar = ServiceSpec {
                                            checks: [sidecar.checks, part.checks.clone()].concat(),
                                            ..part
                                        };
                                    }
                                    spec.sidecar = Some(Box::new(sidecar));
                                }
                                _ => {
                                    return Err(ConfigError::InvalidKey {
                                        file: self.file.to_string(),
                                        key: cp,
                                    });
                                }
                            }
                        }
                    }
                }
                _ => {
                    // "check" or "checks"
                    for (i, c) in self.object_list(&p, v)?.into_iter().enumerate() {
                        let cp = format!("{p}[{i}]");
                        spec.checks.push(self.check(&cp, c)?);
                    }
                }
            }
        }
        Ok(spec)
    }

    /// The opaque `config` map of a proxy or upstream.
    fn opaque(&self, path: &str, v: &Value) -> Result<Map<String, Value>, ConfigError> {
        let mut out = Map::new();
        for obj in self.objects(path, v)? {
            out.extend(obj.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Ok(out)
    }

    /// `mesh_gateway { mode = "..." }`.
    fn gateway_mode(&self, path: &str, v: &Value) -> Result<String, ConfigError> {
        let mut mode = String::new();
        for obj in self.objects(path, v)? {
            for (k, val) in obj {
                let p = join(path, k);
                match loose(k).as_str() {
                    "mode" => mode = self.string(&p, val)?,
                    _ => {
                        return Err(ConfigError::InvalidKey {
                            file: self.file.to_string(),
                            key: p,
                        });
                    }
                }
            }
        }
        Ok(mode)
    }

    /// A service's `proxy { ... }` block.
    fn proxy(&self, path: &str, v: &Value) -> Result<ProxySpec, ConfigError> {
        let mut p = ProxySpec::default();
        for obj in self.objects(path, v)? {
            for (key, val) in obj {
                let Some(name) = lookup(key, PROXY_KEYS, Match::Loose) else {
                    return Err(ConfigError::InvalidKey {
                        file: self.file.to_string(),
                        key: join(path, key),
                    });
                };
                if val.is_null() {
                    continue;
                }
                let kp = join(path, name);
                match name {
                    "destination_service_name" => {
                        p.destination_service_name = self.string(&kp, val)?;
                    }
                    "destination_service_id" => p.destination_service_id = self.string(&kp, val)?,
                    "local_service_address" => p.local_service_address = self.string(&kp, val)?,
                    "local_service_port" => p.local_service_port = self.port(&kp, val)?,
                    "mode" => p.mode = self.string(&kp, val)?,
                    "config" => p.config = self.opaque(&kp, val)?,
                    "mesh_gateway" => p.mesh_gateway_mode = self.gateway_mode(&kp, val)?,
                    _ => {
                        for (i, u) in self.object_list(&kp, val)?.into_iter().enumerate() {
                            p.upstreams.push(self.upstream(&format!("{kp}[{i}]"), u)?);
                        }
                    }
                }
            }
        }
        Ok(p)
    }

    fn upstream(&self, path: &str, obj: &Map<String, Value>) -> Result<UpstreamSpec, ConfigError> {
        let mut u = UpstreamSpec::default();
        for (key, val) in obj {
            let Some(name) = lookup(key, UPSTREAM_KEYS, Match::Loose) else {
                return Err(ConfigError::InvalidKey {
                    file: self.file.to_string(),
                    key: join(path, key),
                });
            };
            if val.is_null() {
                continue;
            }
            let kp = join(path, name);
            match name {
                "destination_type" => u.destination_type = self.string(&kp, val)?,
                "destination_name" => u.destination_name = self.string(&kp, val)?,
                "datacenter" => u.datacenter = self.string(&kp, val)?,
                "local_bind_address" => u.local_bind_address = self.string(&kp, val)?,
                "local_bind_port" => u.local_bind_port = self.port(&kp, val)?,
                "mesh_gateway" => u.mesh_gateway_mode = self.gateway_mode(&kp, val)?,
                _ => u.config = self.opaque(&kp, val)?,
            }
        }
        Ok(u)
    }

    fn tagged_addresses(
        &self,
        path: &str,
        v: &Value,
    ) -> Result<BTreeMap<String, (String, u16)>, ConfigError> {
        let mut out = BTreeMap::new();
        for obj in self.objects(path, v)? {
            for (tag, addr) in obj {
                let p = join(path, tag);
                let mut address = String::new();
                let mut port = 0;
                for m in self.objects(&p, addr)? {
                    for (k, val) in m {
                        match loose(k).as_str() {
                            "address" => address = self.string(&join(&p, "address"), val)?,
                            "port" => port = self.port(&join(&p, "port"), val)?,
                            _ => {
                                return Err(ConfigError::InvalidKey {
                                    file: self.file.to_string(),
                                    key: join(&p, k),
                                });
                            }
                        }
                    }
                }
                out.insert(tag.clone(), (address, port));
            }
        }
        Ok(out)
    }

    fn weights(&self, path: &str, v: &Value) -> Result<(i32, i32), ConfigError> {
        let mut weights = (1, 1);
        for obj in self.objects(path, v)? {
            for (k, val) in obj {
                let p = join(path, k);
                let n = self.int(&p, val)?;
                let n = i32::try_from(n)
                    .map_err(|_| self.value_error(&p, format!("{n} is out of range")))?;
                match loose(k).as_str() {
                    "passing" => weights.0 = n,
                    "warning" => weights.1 = n,
                    _ => {
                        return Err(ConfigError::InvalidKey {
                            file: self.file.to_string(),
                            key: p,
                        });
                    }
                }
            }
        }
        Ok(weights)
    }

    /// A check definition (Consul's config-file format) at `path`.
    pub fn check(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
    ) -> Result<CheckSpec, ConfigError> {
        let mut spec = CheckSpec::default();
        for (key, v) in obj {
            let Some(name) = lookup(key, CHECK_KEYS, Match::Loose) else {
                self.other_key(path, key, UNSUPPORTED_CHECK, Match::Loose)?;
                continue;
            };
            if v.is_null() {
                continue;
            }
            let p = join(path, name);
            match name {
                "id" | "check_id" => spec.id = Some(self.string(&p, v)?),
                "name" => spec.name = Some(self.string(&p, v)?),
                "notes" => spec.notes = Some(self.string(&p, v)?),
                "service_id" => spec.service_id = Some(self.string(&p, v)?),
                "status" => spec.status = Some(self.string(&p, v)?),
                "ttl" => spec.ttl = Some(self.duration(&p, v)?),
                "http" => spec.http = Some(self.string(&p, v)?),
                "method" => spec.method = Some(self.string(&p, v)?),
                "header" => spec.header = self.header(&p, v)?,
                "tls_skip_verify" => spec.tls_skip_verify = self.boolean(&p, v)?,
                "tcp" => spec.tcp = Some(self.string(&p, v)?),
                "args" | "script_args" => spec.args = self.string_list(&p, v)?,
                "alias_service" => spec.alias_service = Some(self.string(&p, v)?),
                "interval" => spec.interval = Some(self.duration(&p, v)?),
                "timeout" => spec.timeout = Some(self.duration(&p, v)?),
                _ => spec.deregister_critical_service_after = Some(self.duration(&p, v)?),
            }
        }
        Ok(spec)
    }

    fn header(&self, path: &str, v: &Value) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
        let mut out = BTreeMap::new();
        for obj in self.objects(path, v)? {
            for (name, values) in obj {
                out.insert(name.clone(), self.string_list(&join(path, name), values)?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> (Result<RawConfig, ConfigError>, Vec<String>) {
        let mut warnings = Vec::new();
        let r = Decoder::new("test.json", &mut warnings).config(&v);
        (r, warnings)
    }

    #[test]
    fn type_errors_name_the_key() {
        let (r, _) = decode(json!({"ports": {"http": "8500"}}));
        assert_eq!(
            r.unwrap_err().to_string(),
            "failed to parse test.json: ports.http: expected a number"
        );
        let (r, _) = decode(json!({"server": "yes"}));
        assert_eq!(
            r.unwrap_err().to_string(),
            "failed to parse test.json: server: expected a boolean"
        );
        let (r, _) = decode(json!({"services": [{"name": "a", "checks": [{"ttl": 5}]}]}));
        assert_eq!(
            r.unwrap_err().to_string(),
            "failed to parse test.json: services[0].checks[0].ttl: expected a duration string"
        );
        let (r, _) = decode(json!({"retry_interval": "5x"}));
        assert_eq!(
            r.unwrap_err().to_string(),
            "failed to parse test.json: retry_interval: invalid duration: \"5x\": time: unknown unit \"x\" in duration \"5x\""
        );
    }

    #[test]
    fn unknown_and_unsupported_keys() {
        let (r, _) = decode(json!({"bogus_key": 1}));
        assert_eq!(
            r.unwrap_err().to_string(),
            "failed to parse test.json: invalid config key bogus_key"
        );
        let (r, _) = decode(json!({"ports": {"htp": 1}}));
        assert_eq!(
            r.unwrap_err().to_string(),
            "failed to parse test.json: invalid config key ports.htp"
        );
        let (r, w) = decode(json!({"telemetry": {"x": 1}, "ports": {"grpc_tls": 8503}}));
        assert!(r.is_ok());
        assert_eq!(
            w,
            vec![
                "config key \"ports.grpc_tls\" is not supported by praetor yet; ignored"
                    .to_string(),
                "config key \"telemetry\" is not supported by praetor yet; ignored".to_string(),
            ]
        );
    }

    #[test]
    fn definitions_accept_consul_key_spellings() {
        let (r, _) = decode(json!({"service": {
            "Name": "web", "ID": "web-1", "Port": 80,
            "Check": {"CheckID": "c1", "ServiceID": "ignored", "HTTP": "http://x", "Interval": "5s",
                      "DeregisterCriticalServiceAfter": "1m"}
        }}));
        let raw = r.expect("valid");
        let svc = &raw.services[0];
        assert_eq!(svc.name.as_deref(), Some("web"));
        assert_eq!(svc.id.as_deref(), Some("web-1"));
        assert_eq!(svc.port, Some(80));
        let check = &svc.checks[0];
        assert_eq!(check.id.as_deref(), Some("c1"));
        assert_eq!(
            check.deregister_critical_service_after,
            Some(Duration::from_secs(60))
        );
    }
}
