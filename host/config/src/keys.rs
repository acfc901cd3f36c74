//! Valid Consul configuration keys that praetor does not implement yet: accepted with a warning,
//! unless `security::refuse_ignored` finds a value that would change security if it were
//! honoured (then loading fails naming the key).

/// Top-level keys of Consul's agent configuration (docs: agent configuration file reference,
/// plus deprecated and internal keys that Consul still parses) that praetor ignores.
/// `acl_enforce_version_8` and `acl_disabled_ttl` do nothing in Consul either.
pub(crate) const UNSUPPORTED_TOP_LEVEL: &[&str] = &[
    "acl_disabled_ttl",
    "acl_enforce_version_8",
    "advertise_addr_ipv4",
    "advertise_addr_ipv6",
    "advertise_addr_wan_ipv4",
    "advertise_addr_wan_ipv6",
    "advertise_reconnect_timeout",
    "ae_interval",
    "alt_domain",
    "audit",
    "auto_config",
    "auto_encrypt",
    "auto_reload_config",
    "autopilot",
    "bind_addr_ipv6",
    "cache",
    "check_deregister_interval_min",
    "check_output_max_size",
    "check_reap_interval",
    "check_update_interval",
    "cloud",
    "config_entries",
    "consul",
    "default_query_time",
    "disable_anonymous_signature",
    "disable_coordinates",
    "disable_host_node_id",
    "disable_http_unprintable_char_filter",
    "disable_keyring_file",
    "disable_remote_exec",
    "discard_check_output",
    "discovery_max_stale",
    "enable_agent_tls_for_checks",
    "enable_central_service_config",
    "enable_debug",
    "enable_local_script_checks",
    "enable_syslog",
    "experiments",
    "http_config",
    "license_path",
    "locality",
    "log_file",
    "log_json",
    "log_rotate_bytes",
    "log_rotate_duration",
    "log_rotate_max_files",
    "max_query_time",
    "non_voting_server",
    "partition",
    "peering",
    "primary_gateways",
    "primary_gateways_interval",
    "protocol",
    "raft_boltdb",
    "raft_logstore",
    "raft_protocol",
    "read_replica",
    "reconnect_timeout",
    "reconnect_timeout_wan",
    "recursors",
    "reporting",
    "revision",
    "rpc",
    "segment",
    "segment_limit",
    "segment_name_limit",
    "segments",
    "serf_lan_allowed_cidrs",
    "serf_wan_allowed_cidrs",
    "server_name",
    "server_rejoin_age_max",
    "session_ttl_min",
    "snapshot_agent",
    "start_join_wan",
    "sync_coordinate_interval_min",
    "sync_coordinate_rate_target",
    "syslog_facility",
    "tagged_addresses",
    "telemetry",
    "ui_content_path",
    "ui_dir",
    "unix_sockets",
    "use_streaming_backend",
    "version",
    "version_metadata",
    "version_prerelease",
    "watches",
    "xds",
];

/// Keys of a `tls { <section> { } }` block praetor ignores (`use_auto_cert` is for the external
/// gRPC port's auto-encrypt certificates).
pub(crate) const UNSUPPORTED_TLS_SECTION: &[&str] = &["use_auto_cert"];

/// Keys of `acl { }` praetor ignores: `disabled_ttl` does nothing in Consul any more,
/// `msp_disable_bootstrap` is Consul Enterprise.
pub(crate) const UNSUPPORTED_ACL: &[&str] = &["disabled_ttl", "msp_disable_bootstrap"];

/// Keys of `acl.tokens { }` praetor ignores (Consul Enterprise).
pub(crate) const UNSUPPORTED_ACL_TOKENS: &[&str] = &["managed_service_provider"];

/// Keys of `limits { }` praetor ignores.
pub(crate) const UNSUPPORTED_LIMITS: &[&str] = &[
    "http_max_conns_per_client",
    "https_handshake_timeout",
    "kv_max_value_size",
    "request_limits",
    "rpc_client_timeout",
    "rpc_max_burst",
    "rpc_rate",
    "txn_max_req_len",
];

/// Keys of `ports { }` praetor ignores.
pub(crate) const UNSUPPORTED_PORTS: &[&str] = &[
    "expose_max_port",
    "expose_min_port",
    "grpc_tls",
    "proxy_max_port",
    "proxy_min_port",
];

/// Keys of `dns_config { }` praetor ignores.
pub(crate) const UNSUPPORTED_DNS: &[&str] = &[
    "allow_stale",
    "cache_max_age",
    "disable_compression",
    "enable_additional_node_meta_txt",
    "enable_truncate",
    "max_stale",
    "prefer_namespace",
    "recursor_strategy",
    "recursor_timeout",
    "soa",
    "use_cache",
];

/// Keys of `performance { }` praetor ignores.
pub(crate) const UNSUPPORTED_PERFORMANCE: &[&str] = &[
    "grpc_keepalive_interval",
    "grpc_keepalive_timeout",
    "leave_drain_time",
    "rpc_hold_timeout",
];

/// Keys of `ui_config { }` praetor ignores.
pub(crate) const UNSUPPORTED_UI_CONFIG: &[&str] = &[
    "content_path",
    "dashboard_url_templates",
    "dir",
    "hcp_enabled",
    "metrics_provider",
    "metrics_provider_files",
    "metrics_provider_options_json",
    "metrics_proxy",
];

/// Keys of a service definition praetor ignores.
pub(crate) const UNSUPPORTED_SERVICE: &[&str] = &[
    "enterprise_meta",
    "locality",
    "namespace",
    "partition",
    "socket_path",
    "token",
];

/// Keys of a check definition praetor ignores.
pub(crate) const UNSUPPORTED_CHECK: &[&str] = &[
    "alias_node",
    "body",
    "disable_redirects",
    "docker_container_id",
    "failures_before_critical",
    "failures_before_warning",
    "grpc",
    "grpc_use_tls",
    "h2ping",
    "h2ping_use_tls",
    "os_service",
    "output_max_size",
    "shell",
    "success_before_passing",
    "tls_server_name",
    "token",
    "udp",
];

/// Message for an accepted-but-ignored key.
pub(crate) fn unsupported_warning(key: &str) -> String {
    format!("config key \"{key}\" is not supported by praetor yet; ignored")
}
