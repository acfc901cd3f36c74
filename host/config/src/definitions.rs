//! Service and check definitions (config files and `/v1/agent/service/register` alike): the
//! loose `*Spec` input forms, the validated `*Definition` forms, and Consul's validation rules.

use std::collections::BTreeMap;
use std::time::Duration;

/// Health status names a check may start in.
pub const CHECK_STATUSES: [&str; 3] = ["passing", "warning", "critical"];

/// Why a service or check definition is not acceptable (Consul's texts where they exist).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("Missing service name")]
    MissingServiceName,
    #[error("Missing check name")]
    MissingCheckName,
    #[error("Must provide TTL or Args/HTTP/TCP/AliasService and Interval")]
    NoCheckType,
    #[error("Only one of TTL, Args, HTTP, TCP or AliasService may be set, found: {0}")]
    MultipleCheckTypes(String),
    #[error("Interval and TTL cannot both be specified")]
    IntervalWithTtl,
    #[error("Interval must be > 0 for Script, HTTP, or TCP checks")]
    IntervalRequired,
    #[error("Interval cannot be set for Alias checks")]
    IntervalWithAlias,
    #[error("TTL must be > 0 for TTL checks")]
    TtlRequired,
    #[error("Status for checks must 'passing', 'warning', 'critical'")]
    InvalidStatus,
    #[error("Passing must be greater than 0")]
    WeightPassing,
    #[error("Warning must be greater or equal than 0")]
    WeightWarning,
    #[error("Invalid meta: {0}")]
    Meta(String),
    /// A mesh rule (kinds, proxies, upstreams, sidecars) with Consul's text.
    #[error("{0}")]
    Mesh(String),
}

/// A mesh proxy as written (Consul's `Proxy` block): `connect-proxy` and `mesh-gateway`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProxySpec {
    pub destination_service_name: String,
    pub destination_service_id: String,
    pub local_service_address: String,
    pub local_service_port: u16,
    pub mode: String,
    /// Opaque `Config`.
    pub config: serde_json::Map<String, serde_json::Value>,
    pub mesh_gateway_mode: String,
    pub upstreams: Vec<UpstreamSpec>,
}

/// One upstream as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpstreamSpec {
    pub destination_type: String,
    pub destination_name: String,
    pub datacenter: String,
    pub local_bind_address: String,
    pub local_bind_port: u16,
    pub mesh_gateway_mode: String,
    pub config: serde_json::Map<String, serde_json::Value>,
}

fn mesh(msg: impl Into<String>) -> DefinitionError {
    DefinitionError::Mesh(msg.into())
}

fn check_gateway_mode(mode: &mut String) -> Result<(), DefinitionError> {
    *mode = mode.to_ascii_lowercase();
    match mode.as_str() {
        "" | "none" | "local" | "remote" => Ok(()),
        _ => Err(mesh(format!("Invalid Mesh Gateway Mode: {mode:?}"))),
    }
}

impl ProxySpec {
    /// Consul's `ConnectProxyConfig` rules for a `connect-proxy`.
    fn validate_for_proxy(&mut self) -> Result<(), DefinitionError> {
        if self.destination_service_name.is_empty() {
            return Err(mesh(
                "Proxy.DestinationServiceName must be non-empty for Connect proxy services",
            ));
        }
        if self.destination_service_name == "*" {
            return Err(mesh(
                "Proxy.DestinationServiceName must not be a wildcard for Connect proxy services",
            ));
        }
        match self.mode.as_str() {
            "" | "direct" | "transparent" => {}
            other => return Err(mesh(format!("Invalid Proxy Mode: {other:?}"))),
        }
        check_gateway_mode(&mut self.mesh_gateway_mode)?;
        let mut keys = std::collections::BTreeSet::new();
        let mut binds = std::collections::BTreeSet::new();
        for u in &mut self.upstreams {
            if u.destination_type.is_empty() {
                u.destination_type = "service".into();
            }
            if u.destination_type != "service" && u.destination_type != "prepared_query" {
                return Err(mesh(format!(
                    "unknown upstream destination type: {:?}",
                    u.destination_type
                )));
            }
            if u.destination_name.is_empty() {
                return Err(mesh("Upstream destination name cannot be empty"));
            }
            if u.local_bind_port == 0 {
                return Err(mesh(format!(
                    "upstream {:?} must have a LocalBindPort",
                    u.destination_name
                )));
            }
            check_gateway_mode(&mut u.mesh_gateway_mode)?;
            let key = if u.datacenter.is_empty() {
                format!("{}:{}", u.destination_type, u.destination_name)
            } else {
                format!(
                    "{}:{}?dc={}",
                    u.destination_type, u.destination_name, u.datacenter
                )
            };
            if !keys.insert(key.clone()) {
                return Err(mesh(format!(
                    "upstreams cannot contain duplicates of {key}"
                )));
            }
            let addr = if u.local_bind_address.is_empty() {
                "127.0.0.1"
            } else {
                &u.local_bind_address
            };
            let bind = format!("{addr}:{}", u.local_bind_port);
            if !binds.insert(bind.clone()) {
                return Err(mesh(format!(
                    "upstreams cannot contain duplicates by local bind address and port or unix path; {bind:?} is specified twice"
                )));
            }
        }
        Ok(())
    }
}

/// What a check runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CheckKind {
    /// Passes while it is refreshed within the TTL.
    Ttl(Duration),
    /// GET (or `method`) on `url`; 2xx passing, 429 warning, anything else critical.
    Http {
        url: String,
        method: String,
        headers: BTreeMap<String, Vec<String>>,
        tls_skip_verify: bool,
    },
    /// A TCP connect to `host:port`.
    Tcp(String),
    /// A command and its arguments (needs `enable_script_checks`).
    Script(Vec<String>),
    /// Mirrors the health of the service with this ID on the same node.
    Alias(String),
}

/// A validated check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckDefinition {
    pub id: String,
    pub name: String,
    pub notes: String,
    pub service_id: Option<String>,
    pub status: Option<String>,
    pub kind: CheckKind,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub deregister_critical_service_after: Option<Duration>,
}

/// A validated service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceDefinition {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    /// Empty = the node's address.
    pub address: String,
    /// 0 = no port.
    pub port: u16,
    pub meta: BTreeMap<String, String>,
    /// e.g. `"lan" -> ("10.0.0.1", 80)`.
    pub tagged_addresses: BTreeMap<String, (String, u16)>,
    pub enable_tag_override: bool,
    /// (passing, warning) DNS SRV weights; Consul's default is (1, 1).
    pub weights: (i32, i32),
    pub checks: Vec<CheckDefinition>,
    /// `""`, `connect-proxy` or `mesh-gateway`.
    pub kind: String,
    pub proxy: Option<ProxySpec>,
    /// `connect { native = true }`.
    pub connect_native: bool,
    /// `connect { sidecar_service { } }`, expanded by the agent (it picks the port).
    pub sidecar: Option<Box<ServiceSpec>>,
}

/// A check as written by a user (config file or HTTP API), before defaults and validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckSpec {
    pub id: Option<String>,
    pub name: Option<String>,
    pub notes: Option<String>,
    pub service_id: Option<String>,
    pub status: Option<String>,
    pub ttl: Option<Duration>,
    pub http: Option<String>,
    pub method: Option<String>,
    pub header: BTreeMap<String, Vec<String>>,
    pub tls_skip_verify: bool,
    pub tcp: Option<String>,
    pub args: Vec<String>,
    pub alias_service: Option<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub deregister_critical_service_after: Option<Duration>,
}

/// A service as written by a user (config file or HTTP API), before defaults and validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceSpec {
    pub id: Option<String>,
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub meta: BTreeMap<String, String>,
    pub tagged_addresses: BTreeMap<String, (String, u16)>,
    pub enable_tag_override: bool,
    /// (passing, warning); `None` = (1, 1).
    pub weights: Option<(i32, i32)>,
    pub checks: Vec<CheckSpec>,
    pub kind: Option<String>,
    pub proxy: Option<ProxySpec>,
    pub connect_native: bool,
    pub sidecar: Option<Box<ServiceSpec>>,
}

// === impl CheckSpec ===

impl CheckSpec {
    /// Applies Consul's defaults (ID = name, HTTP method GET) and validates the result.
    pub fn build(self) -> Result<CheckDefinition, DefinitionError> {
        let name = non_empty(self.name).ok_or(DefinitionError::MissingCheckName)?;
        let id = non_empty(self.id).unwrap_or_else(|| name.clone());
        let mut kinds: Vec<(&'static str, CheckKind)> = Vec::new();
        if let Some(ttl) = self.ttl {
            kinds.push(("TTL", CheckKind::Ttl(ttl)));
        }
        if !self.args.is_empty() {
            kinds.push(("Args", CheckKind::Script(self.args)));
        }
        if let Some(url) = non_empty(self.http) {
            let method = non_empty(self.method).unwrap_or_else(|| "GET".to_string());
            kinds.push((
                "HTTP",
                CheckKind::Http {
                    url,
                    method,
                    headers: self.header,
                    tls_skip_verify: self.tls_skip_verify,
                },
            ));
        }
        if let Some(addr) = non_empty(self.tcp) {
            kinds.push(("TCP", CheckKind::Tcp(addr)));
        }
        if let Some(svc) = non_empty(self.alias_service) {
            kinds.push(("AliasService", CheckKind::Alias(svc)));
        }
        if kinds.len() > 1 {
            let names: Vec<&str> = kinds.iter().map(|(n, _)| *n).collect();
            return Err(DefinitionError::MultipleCheckTypes(names.join(", ")));
        }
        let Some((_, kind)) = kinds.pop() else {
            return Err(DefinitionError::NoCheckType);
        };
        let def = CheckDefinition {
            id,
            name,
            notes: self.notes.unwrap_or_default(),
            service_id: non_empty(self.service_id),
            status: non_empty(self.status),
            kind,
            interval: self.interval,
            timeout: self.timeout,
            deregister_critical_service_after: self.deregister_critical_service_after,
        };
        def.validate()?;
        Ok(def)
    }
}

// === impl CheckDefinition ===

impl CheckDefinition {
    /// Consul's `CheckType.Validate` rules for the kinds praetor runs.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        if self.name.is_empty() {
            return Err(DefinitionError::MissingCheckName);
        }
        let interval_set = self.interval.is_some_and(|d| !d.is_zero());
        match &self.kind {
            CheckKind::Ttl(ttl) => {
                if interval_set {
                    return Err(DefinitionError::IntervalWithTtl);
                }
                if ttl.is_zero() {
                    return Err(DefinitionError::TtlRequired);
                }
            }
            CheckKind::Http { url, .. } if url.is_empty() => {
                return Err(DefinitionError::NoCheckType);
            }
            CheckKind::Tcp(addr) if addr.is_empty() => return Err(DefinitionError::NoCheckType),
            CheckKind::Script(args) if args.is_empty() => {
                return Err(DefinitionError::NoCheckType);
            }
            CheckKind::Http { .. } | CheckKind::Tcp(_) | CheckKind::Script(_) => {
                if !interval_set {
                    return Err(DefinitionError::IntervalRequired);
                }
            }
            CheckKind::Alias(service) => {
                if service.is_empty() {
                    return Err(DefinitionError::NoCheckType);
                }
                if interval_set {
                    return Err(DefinitionError::IntervalWithAlias);
                }
            }
        }
        if let Some(status) = &self.status
            && !CHECK_STATUSES.contains(&status.as_str())
        {
            return Err(DefinitionError::InvalidStatus);
        }
        Ok(())
    }
}

// === impl ServiceSpec ===

impl ServiceSpec {
    /// Applies Consul's defaults (ID = name, weights 1/1, check IDs `service:<id>[:<n>]`, check
    /// names `Service '<name>' check`) and validates the service and its checks.
    pub fn build(self) -> Result<ServiceDefinition, DefinitionError> {
        let name = non_empty(self.name).ok_or(DefinitionError::MissingServiceName)?;
        let id = non_empty(self.id).unwrap_or_else(|| name.clone());
        let several = self.checks.len() > 1;
        let mut checks = Vec::with_capacity(self.checks.len());
        for (i, mut check) in self.checks.into_iter().enumerate() {
            if check.id.as_deref().is_none_or(str::is_empty) {
                check.id = Some(if several {
                    format!("service:{id}:{}", i + 1)
                } else {
                    format!("service:{id}")
                });
            }
            if check.name.as_deref().is_none_or(str::is_empty) {
                check.name = Some(format!("Service '{name}' check"));
            }
            check.service_id = Some(id.clone());
            checks.push(check.build()?);
        }
        let def = ServiceDefinition {
            id,
            name,
            tags: self.tags,
            address: self.address.unwrap_or_default(),
            port: self.port.unwrap_or(0),
            meta: self.meta,
            tagged_addresses: self.tagged_addresses,
            enable_tag_override: self.enable_tag_override,
            weights: self.weights.unwrap_or((1, 1)),
            checks,
            kind: self.kind.unwrap_or_default(),
            proxy: self.proxy,
            connect_native: self.connect_native,
            sidecar: self.sidecar,
        };
        let mut def = def;
        def.validate_mesh()?;
        def.validate()?;
        Ok(def)
    }
}

// === impl ServiceDefinition ===

impl ServiceDefinition {
    /// Consul's `NodeService.Validate` for the mesh kinds, connect-native services and sidecars
    /// (normalizes modes and upstream types on the way).
    fn validate_mesh(&mut self) -> Result<(), DefinitionError> {
        match self.kind.as_str() {
            "" => {
                if self.proxy.is_some() {
                    return Err(mesh(
                        "Proxy is only valid for connect-proxy and mesh-gateway services",
                    ));
                }
            }
            "connect-proxy" => {
                if self.port == 0 {
                    return Err(mesh("Port or SocketPath must be set for a connect-proxy"));
                }
                if self.connect_native {
                    return Err(mesh(
                        "A Proxy cannot also be Connect Native, only typical services",
                    ));
                }
                if self.sidecar.is_some() {
                    return Err(mesh(
                        "A connect-proxy cannot have a sidecar service defined",
                    ));
                }
                self.proxy
                    .get_or_insert_with(ProxySpec::default)
                    .validate_for_proxy()?;
            }
            "mesh-gateway" => {
                if self.port == 0 {
                    return Err(mesh("Port must be non-zero for a mesh-gateway"));
                }
                if self.sidecar.is_some() {
                    return Err(mesh("A mesh-gateway cannot have a sidecar service defined"));
                }
                if let Some(p) = &mut self.proxy {
                    for (field, set) in [
                        (
                            "DestinationServiceName",
                            !p.destination_service_name.is_empty(),
                        ),
                        ("DestinationServiceID", !p.destination_service_id.is_empty()),
                        ("LocalServiceAddress", !p.local_service_address.is_empty()),
                        ("LocalServicePort", p.local_service_port != 0),
                        ("Upstreams", !p.upstreams.is_empty()),
                    ] {
                        if set {
                            return Err(mesh(format!(
                                "The Proxy.{field} configuration is invalid for a mesh-gateway"
                            )));
                        }
                    }
                    check_gateway_mode(&mut p.mesh_gateway_mode)?;
                }
            }
            other => {
                return Err(mesh(format!(
                    "Invalid service Kind: {other:?} (praetor serves connect-proxy and mesh-gateway)"
                )));
            }
        }
        if self.connect_native && self.port == 0 {
            return Err(mesh(
                "Port or SocketPath must be set for a Connect native service.",
            ));
        }
        if let Some(s) = &self.sidecar {
            if s.sidecar.is_some() {
                return Err(mesh("A SidecarService cannot have a nested SidecarService"));
            }
            if s.id.as_deref().is_some_and(|id| !id.is_empty()) {
                return Err(mesh(
                    "A SidecarService cannot specify an ID as this is managed by the agent",
                ));
            }
        }
        Ok(())
    }

    /// Name, weights, meta and every check.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        if self.name.is_empty() {
            return Err(DefinitionError::MissingServiceName);
        }
        if self.weights.0 < 1 {
            return Err(DefinitionError::WeightPassing);
        }
        if self.weights.1 < 0 {
            return Err(DefinitionError::WeightWarning);
        }
        validate_meta(&self.meta, false).map_err(DefinitionError::Meta)?;
        for check in &self.checks {
            check.validate()?;
        }
        Ok(())
    }
}

/// Consul's `structs.ValidateMetadata`: at most 64 pairs, keys `[A-Za-z0-9_-]{1,128}` not starting
/// with `consul-` (unless `allow_consul_prefix`), values at most 512 characters.
pub fn validate_meta(
    meta: &BTreeMap<String, String>,
    allow_consul_prefix: bool,
) -> Result<(), String> {
    if meta.len() > 64 {
        return Err("Node metadata cannot contain more than 64 key/value pairs".to_string());
    }
    for (key, value) in meta {
        if key.is_empty() {
            return Err("Key cannot be blank".to_string());
        }
        if key.len() > 128 {
            return Err(format!("Key is too long (limit: 128 characters): {key:?}"));
        }
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("Key contains invalid characters: {key:?}"));
        }
        if !allow_consul_prefix && key.starts_with("consul-") {
            return Err(format!(
                "Key prefix 'consul-' is reserved for internal use: {key:?}"
            ));
        }
        if value.len() > 512 {
            return Err(format!(
                "Value is too long (limit: 512 characters): {key:?}"
            ));
        }
    }
    Ok(())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ttl_check(name: &str) -> CheckSpec {
        CheckSpec {
            name: Some(name.to_string()),
            ttl: Some(Duration::from_secs(10)),
            ..CheckSpec::default()
        }
    }

    #[test]
    fn check_needs_exactly_one_kind() {
        let none = CheckSpec {
            name: Some("c".into()),
            ..CheckSpec::default()
        };
        assert_eq!(none.build(), Err(DefinitionError::NoCheckType));
        let two = CheckSpec {
            http: Some("http://x".into()),
            tcp: Some("x:1".into()),
            interval: Some(Duration::from_secs(1)),
            ..ttl_check("c")
        };
        assert_eq!(
            two.build(),
            Err(DefinitionError::MultipleCheckTypes("TTL, HTTP, TCP".into()))
        );
    }

    #[test]
    fn http_and_tcp_need_interval() {
        let http = CheckSpec {
            name: Some("web".into()),
            http: Some("http://127.0.0.1/health".into()),
            ..CheckSpec::default()
        };
        let err = http.clone().build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Interval must be > 0 for Script, HTTP, or TCP checks"
        );
        let ok = CheckSpec {
            interval: Some(Duration::from_secs(5)),
            ..http
        }
        .build()
        .expect("valid http check");
        assert_eq!(ok.id, "web");
        assert!(matches!(ok.kind, CheckKind::Http { ref method, .. } if method == "GET"));
        let tcp = CheckSpec {
            name: Some("db".into()),
            tcp: Some("127.0.0.1:5432".into()),
            ..CheckSpec::default()
        };
        assert_eq!(tcp.build(), Err(DefinitionError::IntervalRequired));
    }

    #[test]
    fn ttl_and_status_rules() {
        let with_interval = CheckSpec {
            interval: Some(Duration::from_secs(1)),
            ..ttl_check("t")
        };
        assert_eq!(with_interval.build(), Err(DefinitionError::IntervalWithTtl));
        let bad_status = CheckSpec {
            status: Some("ok".into()),
            ..ttl_check("t")
        };
        assert_eq!(bad_status.build(), Err(DefinitionError::InvalidStatus));
        let zero = CheckSpec {
            ttl: Some(Duration::ZERO),
            ..ttl_check("t")
        };
        assert_eq!(zero.build(), Err(DefinitionError::TtlRequired));
        let missing_name = CheckSpec {
            name: None,
            ..ttl_check("t")
        };
        assert_eq!(missing_name.build(), Err(DefinitionError::MissingCheckName));
    }

    #[test]
    fn service_defaults_follow_consul() {
        let svc = ServiceSpec {
            name: Some("web".into()),
            checks: vec![
                CheckSpec {
                    name: None,
                    ..ttl_check("x")
                },
                ttl_check("second"),
            ],
            ..ServiceSpec::default()
        }
        .build()
        .expect("valid service");
        assert_eq!(svc.id, "web");
        assert_eq!(svc.weights, (1, 1));
        assert_eq!(svc.checks[0].id, "service:web:1");
        assert_eq!(svc.checks[0].name, "Service 'web' check");
        assert_eq!(svc.checks[1].id, "service:web:2");
        assert_eq!(svc.checks[1].name, "second");
        assert_eq!(svc.checks[1].service_id.as_deref(), Some("web"));

        let single = ServiceSpec {
            name: Some("db".into()),
            id: Some("db-1".into()),
            checks: vec![CheckSpec {
                name: None,
                ..ttl_check("x")
            }],
            ..ServiceSpec::default()
        }
        .build()
        .expect("valid service");
        assert_eq!(single.checks[0].id, "service:db-1");
    }

    #[test]
    fn service_validation_errors() {
        assert_eq!(
            ServiceSpec::default().build(),
            Err(DefinitionError::MissingServiceName)
        );
        let weights = ServiceSpec {
            name: Some("w".into()),
            weights: Some((0, 1)),
            ..ServiceSpec::default()
        };
        assert_eq!(weights.build(), Err(DefinitionError::WeightPassing));
        let meta = ServiceSpec {
            name: Some("w".into()),
            meta: BTreeMap::from([("bad key".to_string(), "v".to_string())]),
            ..ServiceSpec::default()
        };
        assert!(matches!(meta.build(), Err(DefinitionError::Meta(_))));
    }

    #[test]
    fn meta_rules() {
        let ok = BTreeMap::from([("rack".to_string(), "r1".to_string())]);
        assert!(validate_meta(&ok, false).is_ok());
        let reserved = BTreeMap::from([("consul-x".to_string(), "v".to_string())]);
        assert!(validate_meta(&reserved, false).is_err());
        assert!(validate_meta(&reserved, true).is_ok());
        let blank = BTreeMap::from([(String::new(), "v".to_string())]);
        assert_eq!(
            validate_meta(&blank, false),
            Err("Key cannot be blank".into())
        );
    }
}
