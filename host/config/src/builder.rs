//! Turning the merged `RawConfig` into a validated `Config`: defaults, dev mode, Consul's checks.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;

use crate::config::{Config, DnsSettings, GossipSettings, Limits, Ports};
use crate::definitions::validate_meta;
use crate::error::ConfigError;
use crate::flags::Flags;
use crate::raw::RawConfig;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

/// `connect { }`: only the built-in (`consul`) CA provider exists.
fn connect(raw: crate::raw::RawConnect) -> Result<crate::ConnectConfig, ConfigError> {
    let d = crate::ConnectConfig::default();
    let ca_provider = raw
        .ca_provider
        .filter(|p| !p.is_empty())
        .unwrap_or(d.ca_provider);
    match ca_provider.as_str() {
        "consul" => {}
        "vault" | "aws-pca" => {
            return Err(invalid(format!(
                "connect.ca_provider = {ca_provider:?} is not supported by praetor: only the built-in \"consul\" provider is"
            )));
        }
        other => return Err(invalid(format!("{other} is not a valid CA provider"))),
    }
    Ok(crate::ConnectConfig {
        enabled: raw.enabled.unwrap_or(d.enabled),
        ca_provider,
        ca_config: raw.ca_config,
    })
}

/// `^[a-z0-9_-]+$`
fn valid_datacenter(dc: &str) -> bool {
    !dc.is_empty()
        && dc
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The host name, as `node_name` defaults to it.
pub(crate) fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
}

/// Exactly one IP address (Consul's `expandFirstIP` texts).
fn single_ip(key: &str, value: &str) -> Result<IpAddr, ConfigError> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    match parts.as_slice() {
        [] => Err(invalid(format!("{key}: No address found in {value}"))),
        [one] => parse_ip(key, one),
        many => Err(invalid(format!(
            "{key}: Multiple addresses found: {}",
            many.join(" ")
        ))),
    }
}

fn parse_ip(key: &str, value: &str) -> Result<IpAddr, ConfigError> {
    let trimmed = value.trim_start_matches('[').trim_end_matches(']');
    trimmed
        .parse()
        .map_err(|_| invalid(format!("{key}: invalid IP address {value:?}")))
}

/// A port that may be disabled with -1.
fn optional_port(
    key: &str,
    value: Option<i64>,
    default: Option<u16>,
) -> Result<Option<u16>, ConfigError> {
    match value {
        None => Ok(default),
        Some(-1) => Ok(None),
        Some(n) => match u16::try_from(n) {
            Ok(p) if p > 0 => Ok(Some(p)),
            _ => Err(invalid(format!(
                "{key}: invalid port {n}: must be between 1 and 65535, or -1 to disable"
            ))),
        },
    }
}

/// A port that must be set.
/// `ports.sidecar_min_port`/`sidecar_max_port`: 0 in either disables auto-assignment.
fn sidecar_ports(min: Option<i64>, max: Option<i64>) -> Result<Option<(u16, u16)>, ConfigError> {
    let port = |key: &str, v: Option<i64>, default: u16| -> Result<u16, ConfigError> {
        match v {
            None => Ok(default),
            Some(n) => u16::try_from(n).map_err(|_| {
                invalid(format!(
                    "{key}: invalid port {n}: must be between 0 and 65535"
                ))
            }),
        }
    };
    let min = port("ports.sidecar_min_port", min, 21000)?;
    let max = port("ports.sidecar_max_port", max, 21255)?;
    if min == 0 || max == 0 {
        return Ok(None);
    }
    if min > max {
        return Err(invalid(format!(
            "ports.sidecar_min_port ({min}) must be less than or equal to ports.sidecar_max_port ({max})"
        )));
    }
    Ok(Some((min, max)))
}

fn required_port(key: &str, value: Option<i64>, default: u16) -> Result<u16, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) => match u16::try_from(n) {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(invalid(format!(
                "{key}: invalid port {n}: must be between 1 and 65535"
            ))),
        },
    }
}

fn non_negative(key: &str, value: Option<i64>, default: u32) -> Result<u32, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) => u32::try_from(n).map_err(|_| {
            invalid(format!(
                "{key} cannot be {n}. Must be greater than or equal to zero"
            ))
        }),
    }
}

fn log_level(value: Option<String>) -> Result<String, ConfigError> {
    let Some(level) = value else {
        return Ok("info".to_string());
    };
    let normalized = match level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "err" | "error" => "error",
        _ => {
            return Err(invalid(format!(
                "Invalid log level: {level:?}. Valid log levels are: [TRACE DEBUG INFO WARN ERR]"
            )));
        }
    };
    Ok(normalized.to_string())
}

/// Consul's DNS-safe node name rule (a warning, not an error).
fn dns_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Builds and validates the final configuration.
pub(crate) fn build(
    raw: RawConfig,
    flags: &Flags,
    host: Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Config, ConfigError> {
    let dev = flags.dev.unwrap_or(false);

    // Datacenters (Consul lower-cases before validating).
    let datacenter = raw
        .datacenter
        .unwrap_or_else(|| "dc1".to_string())
        .to_lowercase();
    if datacenter.is_empty() {
        return Err(invalid("datacenter cannot be empty"));
    }
    if !valid_datacenter(&datacenter) {
        return Err(invalid(format!(
            "datacenter can only contain lowercase alphanumeric, - or _ characters. received: {datacenter:?}"
        )));
    }
    let primary_datacenter = match raw.primary_datacenter.map(|s| s.to_lowercase()) {
        Some(p) if !p.is_empty() => {
            if !valid_datacenter(&p) {
                return Err(invalid(format!(
                    "primary_datacenter can only contain lowercase alphanumeric, - or _ characters. received: {p:?}"
                )));
            }
            p
        }
        _ => datacenter.clone(),
    };

    // Data directory.
    let data_dir = if dev {
        None
    } else {
        let dir = raw.data_dir.filter(|d| !d.is_empty());
        let Some(dir) = dir else {
            return Err(invalid("data_dir cannot be empty"));
        };
        let path = PathBuf::from(dir);
        match std::fs::metadata(&path) {
            Ok(m) if !m.is_dir() => {
                return Err(invalid(format!(
                    "data_dir {:?} is not a directory",
                    path.display().to_string()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(invalid(format!("Error getting info on data_dir: {e}"))),
        }
        Some(path)
    };

    // Node identity.
    let node_name = raw.node_name.filter(|n| !n.is_empty()).or(host);
    let Some(node_name) = node_name else {
        return Err(invalid("node_name cannot be empty"));
    };
    if !dns_safe(&node_name) {
        warnings.push(format!(
            "Node name {node_name:?} will not be discoverable via DNS due to invalid characters. Valid characters include all alpha-numerics and dashes."
        ));
    }
    let node_id = match raw.node_id.filter(|s| !s.is_empty()) {
        Some(id) => {
            let id = id.to_lowercase();
            if !valid_uuid(&id) {
                return Err(invalid(format!("node_id: {id:?} is not a valid UUID")));
            }
            Some(id)
        }
        None => None,
    };

    // Server role (Consul's order of checks).
    let server = dev || raw.server.unwrap_or(false);
    let bootstrap = dev || raw.bootstrap.unwrap_or(false);
    let expect = raw.bootstrap_expect.unwrap_or(0);
    if bootstrap && !server {
        return Err(invalid("'bootstrap = true' requires 'server = true'"));
    }
    if expect < 0 {
        return Err(invalid(format!(
            "bootstrap_expect cannot be {expect}. Must be greater than or equal to zero"
        )));
    }
    if expect > 0 && !server {
        return Err(invalid("'bootstrap_expect > 0' requires 'server = true'"));
    }
    if expect > 0 && dev {
        return Err(invalid("'bootstrap_expect > 0' not allowed in dev mode"));
    }
    if expect > 0 && bootstrap {
        return Err(invalid(
            "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive",
        ));
    }
    let bootstrap_expect = u32::try_from(expect)
        .map_err(|_| invalid(format!("bootstrap_expect cannot be {expect}")))?;

    // Addresses.
    let bind_addr = match raw.bind_addr.as_deref() {
        Some(s) => single_ip("bind_addr", s)?,
        None if dev => LOCALHOST,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let advertise_addr = match raw.advertise_addr.as_deref() {
        Some(s) => {
            let ip = single_ip("advertise_addr", s)?;
            if ip.is_unspecified() {
                return Err(invalid("Advertise address cannot be 0.0.0.0, :: or [::]"));
            }
            ip
        }
        None if bind_addr.is_unspecified() => {
            warnings.push(format!(
                "bind_addr is {bind_addr}: advertising 127.0.0.1; set advertise_addr (-advertise) to an address other agents can reach"
            ));
            LOCALHOST
        }
        None => bind_addr,
    };
    let advertise_addr_wan = match raw.advertise_addr_wan.as_deref() {
        Some(s) => {
            let ip = single_ip("advertise_addr_wan", s)?;
            if ip.is_unspecified() {
                return Err(invalid(
                    "Advertise WAN address cannot be 0.0.0.0, :: or [::]",
                ));
            }
            ip
        }
        None => advertise_addr,
    };
    let client_addrs = match raw.client_addr.as_deref() {
        Some(s) => {
            let addrs = s
                .split_whitespace()
                .map(|a| parse_ip("client_addr", a))
                .collect::<Result<Vec<_>, _>>()?;
            if addrs.is_empty() {
                return Err(invalid(format!("client_addr: No address found in {s}")));
            }
            addrs
        }
        None => vec![LOCALHOST],
    };

    // Ports.
    let ports = Ports {
        http: optional_port("ports.http", raw.ports.http, Some(8500))?,
        https: optional_port("ports.https", raw.ports.https, None)?,
        grpc: optional_port("ports.grpc", raw.ports.grpc, None)?,
        dns: optional_port("ports.dns", raw.ports.dns, Some(8600))?,
        server: required_port("ports.server", raw.ports.server, 8300)?,
        serf_lan: required_port("ports.serf_lan", raw.ports.serf_lan, 8301)?,
        serf_wan: optional_port("ports.serf_wan", raw.ports.serf_wan, Some(8302))?,
        sidecar: sidecar_ports(raw.ports.sidecar_min_port, raw.ports.sidecar_max_port)?,
    };

    // Domain.
    let mut domain = raw.domain.unwrap_or_else(|| "consul".to_string());
    domain = domain.trim_start_matches('.').to_string();
    if domain.is_empty() || domain == "." {
        return Err(invalid("domain cannot be empty"));
    }
    if !domain.ends_with('.') {
        domain.push('.');
    }

    // Definitions.
    let mut services = Vec::with_capacity(raw.services.len());
    for spec in raw.services {
        let label = spec.name.clone().unwrap_or_default();
        let def = spec
            .build()
            .map_err(|e| invalid(format!("service {label:?}: {e}")))?;
        services.push(def);
    }
    let mut checks = Vec::with_capacity(raw.checks.len());
    for spec in raw.checks {
        let label = spec.name.clone().unwrap_or_default();
        let def = spec
            .build()
            .map_err(|e| invalid(format!("check {label:?}: {e}")))?;
        checks.push(def);
    }

    // Performance.
    let raft_multiplier = match raw.raft_multiplier {
        None => {
            if dev {
                1
            } else {
                5
            }
        }
        Some(n) if (1..=10).contains(&n) => n as u32,
        Some(n) => {
            return Err(invalid(format!(
                "performance.raft_multiplier cannot be {n}. Must be between 1 and 10"
            )));
        }
    };

    // Raft snapshots (Consul: zero or absent means the default).
    let or_default = |n: u32, default: u32| u64::from(if n == 0 { default } else { n });
    let raft_snapshot_threshold = or_default(
        non_negative("raft_snapshot_threshold", raw.raft_snapshot_threshold, 0)?,
        16_384,
    );
    let raft_trailing_logs = or_default(
        non_negative("raft_trailing_logs", raw.raft_trailing_logs, 0)?,
        10_240,
    );
    let raft_snapshot_interval = raw
        .raft_snapshot_interval
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(30));

    // Node meta and gossip key.
    validate_meta(&raw.node_meta, false).map_err(|e| invalid(format!("node_meta invalid: {e}")))?;
    let encrypt = match raw.encrypt.filter(|k| !k.is_empty()) {
        Some(key) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(key.as_bytes())
                .map_err(|e| invalid(format!("encrypt has invalid key: {e}")))?;
            // Consul also accepts 16 and 24 bytes (AES-128/192); praetor's gossip uses
            // AES-256-GCM only, which is what `consul keygen` / `praetor keygen` produce.
            if bytes.len() != 32 {
                return Err(invalid(format!(
                    "encrypt has invalid key: key size must be 32 bytes, got {}",
                    bytes.len()
                )));
            }
            Some(key)
        }
        None => None,
    };

    // Gossip timings.
    let gossip = |section: &str,
                  g: &crate::raw::RawGossip|
     -> Result<GossipSettings, ConfigError> {
        let count = |key: &str, v: Option<i64>| -> Result<Option<u32>, ConfigError> {
            match v {
                None => Ok(None),
                Some(n) if n > 0 => Ok(u32::try_from(n).ok()),
                Some(n) => Err(invalid(format!(
                    "{section}.{key} must be positive, got {n}"
                ))),
            }
        };
        let period = |key: &str, v: Option<Duration>| -> Result<Option<Duration>, ConfigError> {
            match v {
                Some(d) if d.is_zero() => Err(invalid(format!("{section}.{key} must be positive"))),
                v => Ok(v),
            }
        };
        Ok(GossipSettings {
            gossip_nodes: count("gossip_nodes", g.gossip_nodes)?,
            gossip_interval: period("gossip_interval", g.gossip_interval)?,
            probe_interval: period("probe_interval", g.probe_interval)?,
            probe_timeout: period("probe_timeout", g.probe_timeout)?,
            suspicion_mult: count("suspicion_mult", g.suspicion_mult)?,
            retransmit_mult: count("retransmit_mult", g.retransmit_mult)?,
        })
    };
    let gossip_lan = gossip("gossip_lan", &raw.gossip_lan)?;
    let gossip_wan = gossip("gossip_wan", &raw.gossip_wan)?;

    // DNS.
    let dns = DnsSettings {
        node_ttl: raw.dns.node_ttl.unwrap_or(Duration::ZERO),
        service_ttl: raw.dns.service_ttl,
        a_record_limit: non_negative("dns_config.a_record_limit", raw.dns.a_record_limit, 0)?,
        udp_answer_limit: non_negative("dns_config.udp_answer_limit", raw.dns.udp_answer_limit, 3)?,
        only_passing: raw.dns.only_passing.unwrap_or(false),
    };

    // TLS and the RPC port's limits.
    let tls = crate::tls::build(&raw.tls, ports.https)?;
    let limits = Limits {
        rpc_handshake_timeout: raw
            .limits
            .rpc_handshake_timeout
            .unwrap_or(Limits::default().rpc_handshake_timeout),
        rpc_max_conns_per_client: non_negative(
            "limits.rpc_max_conns_per_client",
            raw.limits.rpc_max_conns_per_client,
            Limits::default().rpc_max_conns_per_client,
        )?,
    };

    // ACLs, and the security keys that depend on other keys.
    let acl = crate::acl::build(raw.acl)?;
    let connect = connect(raw.connect)?;
    crate::security::check_default_intention_policy(raw.default_intention_policy.as_deref(), &acl)?;
    crate::security::check_bind_addresses(
        &raw.addresses,
        &client_addrs,
        raw.serf_lan_bind.as_deref(),
        raw.serf_wan_bind.as_deref(),
        bind_addr,
    )?;

    let retry_max = non_negative("retry_max", raw.retry_max, 0)?;
    let retry_max_wan = non_negative("retry_max_wan", raw.retry_max_wan, 0)?;
    let log_level = log_level(raw.log_level)?;

    // Consul's warnings about the server count.
    if server && !dev && !bootstrap && bootstrap_expect == 2 {
        warnings.push("bootstrap_expect = 2: A cluster with 2 servers will provide no failure tolerance. See https://www.consul.io/docs/internals/consensus.html#deployment-table".to_string());
    }
    if server && !bootstrap && bootstrap_expect > 2 && bootstrap_expect % 2 == 0 {
        warnings.push("bootstrap_expect is even number: A cluster with an even number of servers does not achieve optimum fault tolerance. See https://www.consul.io/docs/internals/consensus.html#deployment-table".to_string());
    }
    if server && bootstrap && bootstrap_expect == 0 && !dev {
        warnings.push("bootstrap = true: do not enable unless necessary".to_string());
    }
    if server && !dev && !bootstrap && bootstrap_expect > 1 {
        warnings.push(format!(
            "bootstrap_expect > 0: expecting {bootstrap_expect} servers"
        ));
    }

    Ok(Config {
        datacenter,
        primary_datacenter,
        node_name,
        node_id,
        server,
        bootstrap,
        bootstrap_expect,
        dev,
        bind_addr,
        advertise_addr,
        advertise_addr_wan,
        client_addrs,
        data_dir,
        retry_join: raw.retry_join,
        start_join: raw.start_join,
        retry_join_wan: raw.retry_join_wan,
        retry_interval: raw.retry_interval.unwrap_or(Duration::from_secs(30)),
        retry_max,
        retry_interval_wan: raw.retry_interval_wan.unwrap_or(Duration::from_secs(30)),
        retry_max_wan,
        ports,
        domain,
        log_level,
        pid_file: raw.pid_file.filter(|p| !p.is_empty()).map(PathBuf::from),
        ui: raw.ui_config_enabled.or(raw.ui).unwrap_or(dev),
        services,
        checks,
        enable_script_checks: raw.enable_script_checks.unwrap_or(false),
        raft_multiplier,
        raft_snapshot_threshold,
        raft_snapshot_interval,
        raft_trailing_logs,
        leave_on_terminate: raw.leave_on_terminate.unwrap_or(!server),
        skip_leave_on_interrupt: raw.skip_leave_on_interrupt.unwrap_or(server),
        rejoin_after_leave: raw.rejoin_after_leave.unwrap_or(false),
        disable_update_check: raw.disable_update_check.unwrap_or(false),
        node_meta: raw.node_meta,
        encrypt,
        dns,
        translate_wan_addrs: raw.translate_wan_addrs.unwrap_or(false),
        multi_hop_routing: raw.multi_hop_routing.unwrap_or(false),
        gossip_lan,
        gossip_wan,
        plugins: plugin_slots(&raw.plugins)?,
        tls,
        limits,
        acl,
        connect,
        enable_remote_plugin_load: raw.enable_remote_plugin_load.unwrap_or(false),
        source_flags: flags.clone(),
    })
}

/// Slot names as the plugin host knows them, with the short spellings operators may write.
fn canonical_slot(slot: &str) -> Option<String> {
    match slot {
        "translate" | "translator" => Some("translator".into()),
        "route" | "router" => Some("router".into()),
        "intentions" => Some("intentions".into()),
        s => s
            .strip_prefix("join:")
            .filter(|p| !p.is_empty())
            .map(|p| format!("join:{p}")),
    }
}

/// Validates the `plugin` blocks: known slot names, a path, sane limits.
fn plugin_slots(
    raw: &[crate::raw::RawPlugin],
) -> Result<Vec<crate::config::PluginSlot>, ConfigError> {
    let mut out = Vec::new();
    for p in raw {
        let key = format!("plugin.{}", p.slot);
        let Some(slot) = canonical_slot(&p.slot) else {
            return Err(ConfigError::Invalid(format!(
                "{key}: unknown plugin slot {:?} (expected translate, route, intentions or join:<provider>)",
                p.slot
            )));
        };
        let path = p.path.clone().filter(|s| !s.is_empty());
        if path.is_none() && p.config_json.is_some() {
            return Err(ConfigError::Invalid(format!(
                "{key}.path: required with config"
            )));
        }
        let positive = |what: &str, v: Option<i64>| -> Result<Option<u64>, ConfigError> {
            match v {
                Some(n) if n <= 0 => {
                    Err(ConfigError::Invalid(format!("{key}.{what}: must be > 0")))
                }
                Some(n) => Ok(Some(n as u64)),
                None => Ok(None),
            }
        };
        out.push(crate::config::PluginSlot {
            slot,
            path: path.map(std::path::PathBuf::from),
            config_json: p.config_json.clone().unwrap_or_else(|| "{}".to_string()),
            call_timeout: p.call_timeout,
            memory_limit: positive("memory_limit", p.memory_limit)?,
            max_failures: positive("max_failures", p.max_failures)?
                .map(|n| n.min(u32::MAX as u64) as u32),
            grants: crate::config::PluginGrants {
                dns: p.grant_dns,
                read_paths: p
                    .grant_read_paths
                    .iter()
                    .map(std::path::PathBuf::from)
                    .collect(),
                http_hosts: p.grant_http_hosts.clone(),
            },
        });
    }
    Ok(out)
}
