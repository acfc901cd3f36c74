//! `RawConfig`: one source's values (a file or the flags) before defaults, and Consul's merge rules.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::TlsVersion;
use crate::definitions::{CheckSpec, ServiceSpec};
use crate::duration::parse_duration;
use crate::error::{ConfigError, FLAGS_SOURCE};
use crate::flags::Flags;

/// `ports { ... }` as written (`-1` = disabled, validated later).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawPorts {
    pub http: Option<i64>,
    pub https: Option<i64>,
    pub grpc: Option<i64>,
    pub dns: Option<i64>,
    pub server: Option<i64>,
    pub serf_lan: Option<i64>,
    pub serf_wan: Option<i64>,
    pub sidecar_min_port: Option<i64>,
    pub sidecar_max_port: Option<i64>,
}

/// `gossip_lan { ... }` / `gossip_wan { ... }` as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawGossip {
    pub gossip_nodes: Option<i64>,
    pub gossip_interval: Option<Duration>,
    pub probe_interval: Option<Duration>,
    pub probe_timeout: Option<Duration>,
    pub suspicion_mult: Option<i64>,
    pub retransmit_mult: Option<i64>,
}

impl RawGossip {
    fn overlay(&mut self, later: RawGossip) {
        overlay(&mut self.gossip_nodes, later.gossip_nodes);
        overlay(&mut self.gossip_interval, later.gossip_interval);
        overlay(&mut self.probe_interval, later.probe_interval);
        overlay(&mut self.probe_timeout, later.probe_timeout);
        overlay(&mut self.suspicion_mult, later.suspicion_mult);
        overlay(&mut self.retransmit_mult, later.retransmit_mult);
    }
}

/// `dns_config { ... }` as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawDns {
    pub node_ttl: Option<Duration>,
    pub service_ttl: BTreeMap<String, Duration>,
    pub a_record_limit: Option<i64>,
    pub udp_answer_limit: Option<i64>,
    pub only_passing: Option<bool>,
}

/// One `tls { <section> { ... } }` block (or the deprecated top-level keys) as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawTlsSection {
    pub ca_file: Option<String>,
    pub ca_path: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub verify_incoming: Option<bool>,
    pub verify_outgoing: Option<bool>,
    pub verify_server_hostname: Option<bool>,
    pub tls_min_version: Option<TlsVersion>,
}

impl RawTlsSection {
    fn overlay(&mut self, later: RawTlsSection) {
        overlay(&mut self.ca_file, later.ca_file);
        overlay(&mut self.ca_path, later.ca_path);
        overlay(&mut self.cert_file, later.cert_file);
        overlay(&mut self.key_file, later.key_file);
        overlay(&mut self.verify_incoming, later.verify_incoming);
        overlay(&mut self.verify_outgoing, later.verify_outgoing);
        overlay(
            &mut self.verify_server_hostname,
            later.verify_server_hostname,
        );
        overlay(&mut self.tls_min_version, later.tls_min_version);
    }
}

/// `tls { defaults { } internal_rpc { } https { } grpc { } }` as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawTls {
    pub defaults: RawTlsSection,
    pub internal_rpc: RawTlsSection,
    pub https: RawTlsSection,
    /// Accepted for compatibility; praetor has no external gRPC port.
    pub grpc: RawTlsSection,
}

impl RawTls {
    fn overlay(&mut self, later: RawTls) {
        self.defaults.overlay(later.defaults);
        self.internal_rpc.overlay(later.internal_rpc);
        self.https.overlay(later.https);
        self.grpc.overlay(later.grpc);
    }
}

/// Consul's deprecated top-level TLS keys of one source; `Decoder::config` moves them into
/// `RawTls` (only where the `tls` block of the same source left the key unset).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawDeprecatedTls {
    /// `ca_file`, `ca_path`, `cert_file`, `key_file`, `verify_incoming`, `verify_outgoing`
    /// (-> `tls.defaults`) and `verify_server_hostname` (-> `tls.internal_rpc`).
    pub top: RawTlsSection,
    /// `verify_incoming_rpc` -> `tls.internal_rpc.verify_incoming`.
    pub verify_incoming_rpc: Option<bool>,
    /// `verify_incoming_https` -> `tls.https.verify_incoming`.
    pub verify_incoming_https: Option<bool>,
}

/// `acl { tokens { ... } }` as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawAclTokens {
    pub initial_management: Option<String>,
    pub default: Option<String>,
    pub agent: Option<String>,
    pub agent_recovery: Option<String>,
    pub replication: Option<String>,
    pub config_file_service_registration: Option<String>,
    pub dns: Option<String>,
    /// Deprecated alias of `initial_management`; moved by `Decoder::config`, never merged.
    pub master: Option<String>,
    /// Deprecated alias of `agent_recovery`; moved by `Decoder::config`, never merged.
    pub agent_master: Option<String>,
}

/// `connect { ... }` as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawConnect {
    pub enabled: Option<bool>,
    pub ca_provider: Option<String>,
    /// Later sources' keys replace earlier ones key by key (Consul merges maps).
    pub ca_config: serde_json::Map<String, serde_json::Value>,
}

impl RawConnect {
    fn overlay(&mut self, later: RawConnect) {
        overlay(&mut self.enabled, later.enabled);
        overlay(&mut self.ca_provider, later.ca_provider);
        self.ca_config.extend(later.ca_config);
    }
}

/// `acl { ... }` as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawAcl {
    pub enabled: Option<bool>,
    pub default_policy: Option<String>,
    pub down_policy: Option<String>,
    pub token_ttl: Option<Duration>,
    pub policy_ttl: Option<Duration>,
    pub role_ttl: Option<Duration>,
    pub enable_key_list_policy: Option<bool>,
    pub enable_token_replication: Option<bool>,
    pub enable_token_persistence: Option<bool>,
    pub tokens: RawAclTokens,
}

impl RawAcl {
    fn overlay(&mut self, later: RawAcl) {
        overlay(&mut self.enabled, later.enabled);
        overlay(&mut self.default_policy, later.default_policy);
        overlay(&mut self.down_policy, later.down_policy);
        overlay(&mut self.token_ttl, later.token_ttl);
        overlay(&mut self.policy_ttl, later.policy_ttl);
        overlay(&mut self.role_ttl, later.role_ttl);
        overlay(
            &mut self.enable_key_list_policy,
            later.enable_key_list_policy,
        );
        overlay(
            &mut self.enable_token_replication,
            later.enable_token_replication,
        );
        overlay(
            &mut self.enable_token_persistence,
            later.enable_token_persistence,
        );
        let (t, l) = (&mut self.tokens, later.tokens);
        overlay(&mut t.initial_management, l.initial_management);
        overlay(&mut t.default, l.default);
        overlay(&mut t.agent, l.agent);
        overlay(&mut t.agent_recovery, l.agent_recovery);
        overlay(&mut t.replication, l.replication);
        overlay(
            &mut t.config_file_service_registration,
            l.config_file_service_registration,
        );
        overlay(&mut t.dns, l.dns);
    }
}

/// Consul's deprecated top-level ACL keys of one source; `Decoder::config` moves them into
/// `RawAcl` (and `primary_datacenter`) as Consul's `applyDeprecatedConfig` does.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawDeprecatedAcl {
    pub acl_datacenter: Option<String>,
    pub acl_default_policy: Option<String>,
    pub acl_down_policy: Option<String>,
    pub acl_ttl: Option<Duration>,
    pub acl_token: Option<String>,
    pub acl_agent_token: Option<String>,
    pub acl_agent_master_token: Option<String>,
    pub acl_master_token: Option<String>,
    pub acl_replication_token: Option<String>,
    pub acl_enable_key_list_policy: Option<bool>,
    pub enable_acl_replication: Option<bool>,
}

/// `addresses { ... }` as written. praetor binds every client listener to `client_addr`; these
/// are accepted only when they say the same (see `security::check_bind_addresses`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawAddresses {
    pub dns: Option<String>,
    pub http: Option<String>,
    pub https: Option<String>,
    pub grpc: Option<String>,
    pub grpc_tls: Option<String>,
}

impl RawAddresses {
    fn overlay(&mut self, later: RawAddresses) {
        overlay(&mut self.dns, later.dns);
        overlay(&mut self.http, later.http);
        overlay(&mut self.https, later.https);
        overlay(&mut self.grpc, later.grpc);
        overlay(&mut self.grpc_tls, later.grpc_tls);
    }
}

/// `limits { ... }` as written (the keys praetor implements).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawLimits {
    pub rpc_handshake_timeout: Option<Duration>,
    pub rpc_max_conns_per_client: Option<i64>,
}

/// `plugin "<slot>" { ... }` as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawPlugin {
    pub slot: String,
    pub path: Option<String>,
    pub config_json: Option<String>,
    pub call_timeout: Option<Duration>,
    pub memory_limit: Option<i64>,
    pub max_failures: Option<i64>,
    pub grant_dns: bool,
    pub grant_read_paths: Vec<String>,
    pub grant_http_hosts: Vec<String>,
}

/// Every implemented key of one source. Scalars: later source wins; lists concatenate; maps overlay.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawConfig {
    pub datacenter: Option<String>,
    pub primary_datacenter: Option<String>,
    pub node_name: Option<String>,
    pub node_id: Option<String>,
    pub server: Option<bool>,
    pub bootstrap: Option<bool>,
    pub bootstrap_expect: Option<i64>,
    pub bind_addr: Option<String>,
    pub client_addr: Option<String>,
    pub advertise_addr: Option<String>,
    pub advertise_addr_wan: Option<String>,
    pub data_dir: Option<String>,
    pub retry_join: Vec<String>,
    pub start_join: Vec<String>,
    pub retry_join_wan: Vec<String>,
    pub retry_interval: Option<Duration>,
    pub retry_max: Option<i64>,
    pub retry_interval_wan: Option<Duration>,
    pub retry_max_wan: Option<i64>,
    pub ports: RawPorts,
    pub domain: Option<String>,
    pub services: Vec<ServiceSpec>,
    pub checks: Vec<CheckSpec>,
    pub log_level: Option<String>,
    pub raft_multiplier: Option<i64>,
    pub raft_snapshot_threshold: Option<i64>,
    pub raft_snapshot_interval: Option<Duration>,
    pub raft_trailing_logs: Option<i64>,
    pub enable_script_checks: Option<bool>,
    pub leave_on_terminate: Option<bool>,
    pub skip_leave_on_interrupt: Option<bool>,
    pub node_meta: BTreeMap<String, String>,
    pub encrypt: Option<String>,
    pub ui: Option<bool>,
    pub ui_config_enabled: Option<bool>,
    pub dns: RawDns,
    pub gossip_lan: RawGossip,
    pub gossip_wan: RawGossip,
    pub rejoin_after_leave: Option<bool>,
    pub pid_file: Option<String>,
    pub disable_update_check: Option<bool>,
    pub translate_wan_addrs: Option<bool>,
    pub multi_hop_routing: Option<bool>,
    /// Plugin slots; a later source's block for the same slot replaces the earlier one.
    pub plugins: Vec<RawPlugin>,
    pub tls: RawTls,
    /// Emptied by `Decoder::config` (moved into `tls`); never merged.
    pub deprecated_tls: RawDeprecatedTls,
    pub limits: RawLimits,
    pub acl: RawAcl,
    pub connect: RawConnect,
    /// Emptied by `Decoder::config` (moved into `acl`); never merged.
    pub deprecated_acl: RawDeprecatedAcl,
    pub enable_remote_plugin_load: Option<bool>,
    /// Checked against `client_addr`, not used otherwise.
    pub addresses: RawAddresses,
    /// `serf_lan` / `serf_wan` bind addresses: checked against `bind_addr`, not used otherwise.
    pub serf_lan_bind: Option<String>,
    pub serf_wan_bind: Option<String>,
    /// Checked against the ACL default, not used otherwise.
    pub default_intention_policy: Option<String>,
}

fn overlay<T>(base: &mut Option<T>, later: Option<T>) {
    if later.is_some() {
        *base = later;
    }
}

impl RawConfig {
    /// Merges a later source into this one (Consul's `merge.go` rules).
    pub fn merge(&mut self, later: RawConfig) {
        overlay(&mut self.datacenter, later.datacenter);
        overlay(&mut self.primary_datacenter, later.primary_datacenter);
        overlay(&mut self.node_name, later.node_name);
        overlay(&mut self.node_id, later.node_id);
        overlay(&mut self.server, later.server);
        overlay(&mut self.bootstrap, later.bootstrap);
        overlay(&mut self.bootstrap_expect, later.bootstrap_expect);
        overlay(&mut self.bind_addr, later.bind_addr);
        overlay(&mut self.client_addr, later.client_addr);
        overlay(&mut self.advertise_addr, later.advertise_addr);
        overlay(&mut self.advertise_addr_wan, later.advertise_addr_wan);
        overlay(&mut self.data_dir, later.data_dir);
        self.retry_join.extend(later.retry_join);
        self.start_join.extend(later.start_join);
        self.retry_join_wan.extend(later.retry_join_wan);
        overlay(&mut self.retry_interval, later.retry_interval);
        overlay(&mut self.retry_max, later.retry_max);
        overlay(&mut self.retry_interval_wan, later.retry_interval_wan);
        overlay(&mut self.retry_max_wan, later.retry_max_wan);
        overlay(&mut self.ports.http, later.ports.http);
        overlay(&mut self.ports.https, later.ports.https);
        overlay(&mut self.ports.grpc, later.ports.grpc);
        overlay(&mut self.ports.dns, later.ports.dns);
        overlay(&mut self.ports.server, later.ports.server);
        overlay(&mut self.ports.serf_lan, later.ports.serf_lan);
        overlay(&mut self.ports.serf_wan, later.ports.serf_wan);
        overlay(
            &mut self.ports.sidecar_min_port,
            later.ports.sidecar_min_port,
        );
        overlay(
            &mut self.ports.sidecar_max_port,
            later.ports.sidecar_max_port,
        );
        overlay(&mut self.domain, later.domain);
        self.services.extend(later.services);
        self.checks.extend(later.checks);
        overlay(&mut self.log_level, later.log_level);
        overlay(&mut self.raft_multiplier, later.raft_multiplier);
        overlay(
            &mut self.raft_snapshot_threshold,
            later.raft_snapshot_threshold,
        );
        overlay(
            &mut self.raft_snapshot_interval,
            later.raft_snapshot_interval,
        );
        overlay(&mut self.raft_trailing_logs, later.raft_trailing_logs);
        overlay(&mut self.enable_script_checks, later.enable_script_checks);
        overlay(&mut self.leave_on_terminate, later.leave_on_terminate);
        overlay(
            &mut self.skip_leave_on_interrupt,
            later.skip_leave_on_interrupt,
        );
        self.node_meta.extend(later.node_meta);
        overlay(&mut self.encrypt, later.encrypt);
        overlay(&mut self.ui, later.ui);
        overlay(&mut self.ui_config_enabled, later.ui_config_enabled);
        overlay(&mut self.dns.node_ttl, later.dns.node_ttl);
        self.dns.service_ttl.extend(later.dns.service_ttl);
        overlay(&mut self.dns.a_record_limit, later.dns.a_record_limit);
        overlay(&mut self.dns.udp_answer_limit, later.dns.udp_answer_limit);
        overlay(&mut self.dns.only_passing, later.dns.only_passing);
        self.gossip_lan.overlay(later.gossip_lan);
        self.gossip_wan.overlay(later.gossip_wan);
        overlay(&mut self.rejoin_after_leave, later.rejoin_after_leave);
        overlay(&mut self.pid_file, later.pid_file);
        overlay(&mut self.disable_update_check, later.disable_update_check);
        overlay(&mut self.translate_wan_addrs, later.translate_wan_addrs);
        overlay(&mut self.multi_hop_routing, later.multi_hop_routing);
        for p in later.plugins {
            self.plugins.retain(|x| x.slot != p.slot);
            self.plugins.push(p);
        }
        self.tls.overlay(later.tls);
        overlay(
            &mut self.limits.rpc_handshake_timeout,
            later.limits.rpc_handshake_timeout,
        );
        overlay(
            &mut self.limits.rpc_max_conns_per_client,
            later.limits.rpc_max_conns_per_client,
        );
        self.acl.overlay(later.acl);
        self.connect.overlay(later.connect);
        overlay(
            &mut self.enable_remote_plugin_load,
            later.enable_remote_plugin_load,
        );
        self.addresses.overlay(later.addresses);
        overlay(&mut self.serf_lan_bind, later.serf_lan_bind);
        overlay(&mut self.serf_wan_bind, later.serf_wan_bind);
        overlay(
            &mut self.default_intention_policy,
            later.default_intention_policy,
        );
    }

    /// The command-line flags as the last (highest priority) source.
    pub fn from_flags(flags: &Flags) -> Result<RawConfig, ConfigError> {
        let flag_duration = |key: &str, v: &Option<String>| match v {
            Some(s) => parse_duration(s).map(Some).map_err(|e| ConfigError::Value {
                file: FLAGS_SOURCE.to_string(),
                key: key.to_string(),
                message: format!("invalid duration: {s:?}: {e}"),
            }),
            None => Ok(None),
        };
        let retry_interval = flag_duration("retry_interval", &flags.retry_interval)?;
        let retry_interval_wan = flag_duration("retry_interval_wan", &flags.retry_interval_wan)?;
        let mut node_meta = BTreeMap::new();
        for pair in &flags.node_meta {
            let Some((key, value)) = pair.split_once(':') else {
                return Err(ConfigError::Value {
                    file: FLAGS_SOURCE.to_string(),
                    key: "node_meta".to_string(),
                    message: format!("Missing \":\" in {pair:?}"),
                });
            };
            node_meta.insert(key.to_string(), value.to_string());
        }
        let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
        Ok(RawConfig {
            datacenter: flags.datacenter.clone(),
            node_name: flags.node.clone(),
            node_id: flags.node_id.clone(),
            server: flags.server,
            bootstrap: flags.bootstrap,
            bootstrap_expect: flags.bootstrap_expect,
            bind_addr: flags.bind.clone(),
            client_addr: flags.client.clone(),
            advertise_addr: flags.advertise.clone(),
            advertise_addr_wan: flags.advertise_wan.clone(),
            data_dir: path(&flags.data_dir),
            retry_join: flags.retry_join.clone(),
            start_join: flags.join.clone(),
            retry_join_wan: flags.retry_join_wan.clone(),
            retry_interval,
            retry_max: flags.retry_max,
            retry_interval_wan,
            retry_max_wan: flags.retry_max_wan,
            ports: RawPorts {
                http: flags.http_port,
                dns: flags.dns_port,
                server: flags.server_port,
                serf_lan: flags.serf_lan_port,
                serf_wan: flags.serf_wan_port,
                ..RawPorts::default()
            },
            domain: flags.domain.clone(),
            log_level: flags.log_level.clone(),
            node_meta,
            encrypt: flags.encrypt.clone(),
            ui: flags.ui,
            pid_file: path(&flags.pid_file),
            ..RawConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_scalars_win_lists_concatenate_maps_overlay() {
        let mut a = RawConfig {
            datacenter: Some("a".into()),
            node_name: Some("n1".into()),
            retry_join: vec!["x".into()],
            node_meta: BTreeMap::from([("k".into(), "1".into()), ("j".into(), "1".into())]),
            ..RawConfig::default()
        };
        a.merge(RawConfig {
            datacenter: Some("b".into()),
            retry_join: vec!["y".into()],
            node_meta: BTreeMap::from([("k".into(), "2".into())]),
            ..RawConfig::default()
        });
        assert_eq!(a.datacenter.as_deref(), Some("b"));
        assert_eq!(a.node_name.as_deref(), Some("n1"));
        assert_eq!(a.retry_join, vec!["x".to_string(), "y".to_string()]);
        assert_eq!(a.node_meta.get("k").map(String::as_str), Some("2"));
        assert_eq!(a.node_meta.get("j").map(String::as_str), Some("1"));
    }

    #[test]
    fn flags_node_meta_needs_colon() {
        let flags = Flags {
            node_meta: vec!["rack:r1:x".into()],
            ..Flags::default()
        };
        let raw = RawConfig::from_flags(&flags).expect("valid");
        assert_eq!(raw.node_meta.get("rack").map(String::as_str), Some("r1:x"));
        let bad = Flags {
            node_meta: vec!["rack".into()],
            ..Flags::default()
        };
        let err = RawConfig::from_flags(&bad).unwrap_err().to_string();
        assert!(err.contains("node_meta"), "{err}");
    }
}
