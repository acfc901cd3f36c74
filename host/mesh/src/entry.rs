//! Config entries (`/v1/config`): the kinds praetor serves, their Consul JSON, normalization and
//! validation with Consul's messages.
//!
//! Request bodies are decoded into these types by the HTTP edge (Go's case-insensitive key
//! matching, unknown keys refused); stored entries are this crate's canonical JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::MeshError;

/// The config entry kinds praetor serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    ProxyDefaults,
    ServiceDefaults,
    ServiceIntentions,
    ServiceResolver,
    Mesh,
}

impl Kind {
    /// Every kind, in Consul's listing order.
    pub const ALL: [Kind; 5] = [
        Kind::ServiceDefaults,
        Kind::ProxyDefaults,
        Kind::ServiceResolver,
        Kind::ServiceIntentions,
        Kind::Mesh,
    ];

    /// Parses a kind name (`invalid config entry kind: <k>` otherwise).
    pub fn parse(s: &str) -> Result<Kind, MeshError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "proxy-defaults" => Kind::ProxyDefaults,
            "service-defaults" => Kind::ServiceDefaults,
            "service-intentions" => Kind::ServiceIntentions,
            "service-resolver" => Kind::ServiceResolver,
            "mesh" => Kind::Mesh,
            _ => return Err(MeshError::InvalidKind(s.to_string())),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ProxyDefaults => "proxy-defaults",
            Kind::ServiceDefaults => "service-defaults",
            Kind::ServiceIntentions => "service-intentions",
            Kind::ServiceResolver => "service-resolver",
            Kind::Mesh => "mesh",
        }
    }
}

/// The name of the one `proxy-defaults` entry.
pub const PROXY_DEFAULTS_NAME: &str = "global";
/// The name of the one `mesh` entry.
pub const MESH_NAME: &str = "mesh";

/// `MeshGateway { Mode }` (FED §7.5): `""` (unset), `none`, `local`, `remote`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MeshGatewayConfig {
    #[serde(default)]
    pub mode: String,
}

impl MeshGatewayConfig {
    pub fn is_empty(&self) -> bool {
        self.mode.is_empty()
    }

    /// Consul's `ValidateMeshGatewayMode`; the mode is lower-cased.
    pub fn normalize_and_validate(&mut self) -> Result<(), MeshError> {
        self.mode = self.mode.to_ascii_lowercase();
        match self.mode.as_str() {
            "" | "none" | "local" | "remote" => Ok(()),
            _ => Err(MeshError::Invalid(format!(
                "Invalid Mesh Gateway Mode: {:?}",
                self.mode
            ))),
        }
    }
}

/// `proxy-defaults` (name `global`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProxyDefaults {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    /// Opaque proxy configuration, e.g. `{"protocol": "http"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparent_proxy: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mutual_tls_mode: String,
    #[serde(default)]
    pub mesh_gateway: MeshGatewayConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_policy: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// One upstream's settings in `service-defaults` `UpstreamConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpstreamSettings {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub connect_timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<Value>,
    #[serde(default)]
    pub mesh_gateway: MeshGatewayConfig,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub balance_outbound_connections: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `service-defaults` `UpstreamConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpstreamConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<UpstreamSettings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<UpstreamSettings>,
}

/// `service-defaults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceDefaults {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    /// `""`, `tcp`, `http`, `http2`, `grpc`; always serialized.
    #[serde(default)]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparent_proxy: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mutual_tls_mode: String,
    #[serde(default)]
    pub mesh_gateway: MeshGatewayConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<Value>,
    #[serde(
        default,
        rename = "ExternalSNI",
        skip_serializing_if = "String::is_empty"
    )]
    pub external_sni: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_config: Option<UpstreamConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Value>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_inbound_connections: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub local_connect_timeout_ms: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub local_request_timeout_ms: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub balance_inbound_connections: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// An HTTP header condition of an L7 intention permission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeaderPermission {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub present: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exact: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suffix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub regex: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub invert: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The HTTP part of an L7 intention permission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpPermission {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_exact: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_regex: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header: Vec<HeaderPermission>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

/// An L7 intention permission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IntentionPermission {
    #[serde(default)]
    pub action: String,
    #[serde(default, rename = "HTTP", skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpPermission>,
}

/// One source of a `service-intentions` entry: one intention.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SourceIntention {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<IntentionPermission>,
    /// Computed on write; always output.
    #[serde(default)]
    pub precedence: u8,
    /// `consul` (the default).
    #[serde(default, rename = "Type")]
    pub source_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, rename = "LegacyID", skip_serializing_if = "String::is_empty")]
    pub legacy_id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub legacy_meta: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_update_time: Option<String>,
}

/// `service-intentions`, named after the destination (`*` = every destination).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceIntentions {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub sources: Vec<SourceIntention>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// A subset of a service's instances.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolverSubset {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub only_passing: bool,
}

/// `service-resolver` `Redirect`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolverRedirect {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub partition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer: String,
}

/// One failover target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailoverTarget {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub partition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer: String,
}

/// `service-resolver` `Failover["<subset>"|"*"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolverFailover {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<FailoverTarget>,
}

/// `service-resolver`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceResolver {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_subset: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subsets: BTreeMap<String, ResolverSubset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<ResolverRedirect>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failover: BTreeMap<String, ResolverFailover>,
    /// A Go duration (`"15s"`) or nanoseconds on input; a Go duration string on output,
    /// omitted when zero.
    #[serde(
        default,
        with = "go_duration",
        skip_serializing_if = "std::time::Duration::is_zero"
    )]
    pub connect_timeout: std::time::Duration,
    #[serde(
        default,
        with = "go_duration",
        skip_serializing_if = "std::time::Duration::is_zero"
    )]
    pub request_timeout: std::time::Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// `mesh` (name `mesh`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mesh {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparent_proxy: Option<Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_enabling_permissive_mutual_tls: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub validate_clusters: bool,
    #[serde(default, rename = "TLS", skip_serializing_if = "Option::is_none")]
    pub tls: Option<Value>,
    #[serde(default, rename = "HTTP", skip_serializing_if = "Option::is_none")]
    pub http: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// Go durations in JSON: a string (`"15s"`) or a number of nanoseconds.
mod go_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&praetor_config::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Ok(Duration::ZERO),
            serde_json::Value::String(s) => {
                praetor_config::parse_duration(&s).map_err(de::Error::custom)
            }
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(ns) => Ok(Duration::from_nanos(ns)),
                None => Err(de::Error::custom(format!(
                    "Bad duration '{n}', must be >= 0"
                ))),
            },
            other => Err(de::Error::custom(format!(
                "expected a duration, found {other}"
            ))),
        }
    }
}

/// One config entry of any kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigEntry {
    ProxyDefaults(ProxyDefaults),
    ServiceDefaults(ServiceDefaults),
    ServiceIntentions(ServiceIntentions),
    ServiceResolver(ServiceResolver),
    Mesh(Mesh),
}

impl ConfigEntry {
    pub fn kind(&self) -> Kind {
        match self {
            ConfigEntry::ProxyDefaults(_) => Kind::ProxyDefaults,
            ConfigEntry::ServiceDefaults(_) => Kind::ServiceDefaults,
            ConfigEntry::ServiceIntentions(_) => Kind::ServiceIntentions,
            ConfigEntry::ServiceResolver(_) => Kind::ServiceResolver,
            ConfigEntry::Mesh(_) => Kind::Mesh,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ConfigEntry::ProxyDefaults(e) => &e.name,
            ConfigEntry::ServiceDefaults(e) => &e.name,
            ConfigEntry::ServiceIntentions(e) => &e.name,
            ConfigEntry::ServiceResolver(e) => &e.name,
            ConfigEntry::Mesh(e) => &e.name,
        }
    }

    /// The canonical JSON stored in the state (Consul's field names, no indexes).
    pub fn to_stored(&self) -> String {
        let v = match self {
            ConfigEntry::ProxyDefaults(e) => serde_json::to_string(e),
            ConfigEntry::ServiceDefaults(e) => serde_json::to_string(e),
            ConfigEntry::ServiceIntentions(e) => serde_json::to_string(e),
            ConfigEntry::ServiceResolver(e) => serde_json::to_string(e),
            ConfigEntry::Mesh(e) => serde_json::to_string(e),
        };
        // Plain structs of strings, numbers, maps and JSON values always serialize.
        v.unwrap_or_default()
    }

    /// Decodes a stored entry (written by [`ConfigEntry::to_stored`]).
    pub fn from_stored(kind: &str, body: &str) -> Result<ConfigEntry, MeshError> {
        let bad = |e: serde_json::Error| MeshError::Stored(format!("{kind}: {e}"));
        Ok(match Kind::parse(kind)? {
            Kind::ProxyDefaults => {
                ConfigEntry::ProxyDefaults(serde_json::from_str(body).map_err(bad)?)
            }
            Kind::ServiceDefaults => {
                ConfigEntry::ServiceDefaults(serde_json::from_str(body).map_err(bad)?)
            }
            Kind::ServiceIntentions => {
                ConfigEntry::ServiceIntentions(serde_json::from_str(body).map_err(bad)?)
            }
            Kind::ServiceResolver => {
                ConfigEntry::ServiceResolver(serde_json::from_str(body).map_err(bad)?)
            }
            Kind::Mesh => ConfigEntry::Mesh(serde_json::from_str(body).map_err(bad)?),
        })
    }

    /// Consul's `Normalize` then `Validate`: kind and enums canonical, intention sources
    /// sorted by precedence, then every rule with Consul's message.
    pub fn normalize_and_validate(&mut self) -> Result<(), MeshError> {
        let kind = self.kind().as_str().to_string();
        match self {
            ConfigEntry::ProxyDefaults(e) => {
                e.kind = kind;
                if e.name != PROXY_DEFAULTS_NAME {
                    return Err(invalid(format!(
                        "invalid name ({:?}), only {PROXY_DEFAULTS_NAME:?} is supported",
                        e.name
                    )));
                }
                validate_proxy_mode(&e.mode)?;
                e.mesh_gateway.normalize_and_validate()
            }
            ConfigEntry::ServiceDefaults(e) => {
                e.kind = kind;
                validate_service_name(&e.name)?;
                e.protocol = e.protocol.to_ascii_lowercase();
                validate_protocol(&e.protocol)?;
                validate_proxy_mode(&e.mode)?;
                e.mesh_gateway.normalize_and_validate()?;
                if e.upstream_config.is_some() && e.destination.is_some() {
                    return Err(invalid(
                        "UpstreamConfig and Destination are mutually exclusive for service defaults"
                            .into(),
                    ));
                }
                if let Some(u) = &mut e.upstream_config {
                    if let Some(d) = &mut u.defaults {
                        validate_upstream(d, "upstream defaults")?;
                    }
                    for o in &mut u.overrides {
                        if o.name.is_empty() {
                            return Err(invalid(
                                "error in upstream override: Name is required".into(),
                            ));
                        }
                        let who = format!("upstream override for {}", o.name);
                        validate_upstream(o, &who)?;
                    }
                }
                Ok(())
            }
            ConfigEntry::ServiceIntentions(e) => {
                e.kind = kind;
                crate::intentions::normalize_and_validate(e)
            }
            ConfigEntry::ServiceResolver(e) => {
                e.kind = kind;
                validate_service_name(&e.name)?;
                validate_resolver(e)
            }
            ConfigEntry::Mesh(e) => {
                e.kind = kind;
                if e.name != MESH_NAME {
                    return Err(invalid(format!(
                        "invalid name ({:?}), only {MESH_NAME:?} is supported",
                        e.name
                    )));
                }
                Ok(())
            }
        }
    }

    /// The JSON answered by `GET /v1/config/...` (Consul's struct with its indexes).
    pub fn to_json(&self, create_index: u64, modify_index: u64) -> Value {
        let mut v: Value = serde_json::from_str(&self.to_stored()).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("CreateIndex".into(), create_index.into());
            m.insert("ModifyIndex".into(), modify_index.into());
        }
        v
    }

    /// The protocol a `service-defaults` entry sets (`""` = unset).
    pub fn protocol(&self) -> Option<&str> {
        match self {
            ConfigEntry::ServiceDefaults(e) => Some(&e.protocol),
            ConfigEntry::ProxyDefaults(e) => e.config.get("protocol").and_then(Value::as_str),
            _ => None,
        }
    }
}

fn invalid(msg: String) -> MeshError {
    MeshError::Invalid(msg)
}

fn validate_service_name(name: &str) -> Result<(), MeshError> {
    if name.is_empty() {
        return Err(invalid("Name is required".into()));
    }
    if name == "*" {
        return Err(invalid(
            "service-defaults name must not be the wildcard \"*\"".into(),
        ));
    }
    Ok(())
}

fn validate_protocol(p: &str) -> Result<(), MeshError> {
    match p {
        "" | "tcp" | "http" | "http2" | "grpc" => Ok(()),
        _ => Err(invalid(format!("invalid value for protocol: {p}"))),
    }
}

fn validate_proxy_mode(mode: &str) -> Result<(), MeshError> {
    match mode {
        "" | "direct" | "transparent" => Ok(()),
        _ => Err(invalid(format!("invalid proxy mode: {mode:?}"))),
    }
}

fn validate_upstream(u: &mut UpstreamSettings, who: &str) -> Result<(), MeshError> {
    u.protocol = u.protocol.to_ascii_lowercase();
    validate_protocol(&u.protocol)
        .and_then(|()| u.mesh_gateway.normalize_and_validate())
        .map_err(|e| invalid(format!("error in {who}: {e}")))
}

fn validate_resolver(e: &mut ServiceResolver) -> Result<(), MeshError> {
    for name in e.subsets.keys() {
        if name.is_empty() {
            return Err(invalid("Subset defined with empty name".into()));
        }
    }
    if !e.default_subset.is_empty() && !e.subsets.contains_key(&e.default_subset) {
        return Err(invalid(format!(
            "DefaultSubset {:?} is not a valid subset",
            e.default_subset
        )));
    }
    if e.redirect.is_some() && !e.failover.is_empty() {
        return Err(invalid("Redirect and Failover cannot both be set".into()));
    }
    if let Some(r) = &e.redirect
        && r.service.is_empty()
        && r.service_subset.is_empty()
        && r.namespace.is_empty()
        && r.partition.is_empty()
        && r.datacenter.is_empty()
        && r.peer.is_empty()
    {
        return Err(invalid(
            "Redirect is empty; either Service, ServiceSubset, Namespace, Partition, Datacenter, Peer, or SamenessGroup must be set"
                .into(),
        ));
    }
    for (subset, f) in &e.failover {
        if subset != "*" && !e.subsets.contains_key(subset) {
            return Err(invalid(format!(
                "Bad Failover[{subset:?}]: not a valid subset subset"
            )));
        }
        if f.service.is_empty()
            && f.service_subset.is_empty()
            && f.namespace.is_empty()
            && f.datacenters.is_empty()
            && f.targets.is_empty()
        {
            return Err(invalid(format!(
                "Bad Failover[{subset:?}]: one of Service, ServiceSubset, Namespace, Targets, SamenessGroup, or Datacenters is required"
            )));
        }
        if !f.targets.is_empty() && !f.datacenters.is_empty() {
            return Err(invalid(format!(
                "Bad Failover[{subset:?}]: Targets cannot be set with Datacenters"
            )));
        }
        if f.datacenters.iter().any(String::is_empty) {
            return Err(invalid(format!(
                "Bad Failover[{subset:?}].Datacenters: found empty datacenter"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_refuse() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()).unwrap(), k);
        }
        assert_eq!(
            Kind::parse("nope").unwrap_err().to_string(),
            "invalid config entry kind: nope"
        );
    }

    #[test]
    fn proxy_defaults_name_and_mode() {
        let mut e = ConfigEntry::ProxyDefaults(ProxyDefaults {
            name: "x".into(),
            ..Default::default()
        });
        assert_eq!(
            e.normalize_and_validate().unwrap_err().to_string(),
            "invalid name (\"x\"), only \"global\" is supported"
        );
        let mut e = ConfigEntry::ProxyDefaults(ProxyDefaults {
            name: "global".into(),
            mesh_gateway: MeshGatewayConfig {
                mode: "Sideways".into(),
            },
            ..Default::default()
        });
        assert_eq!(
            e.normalize_and_validate().unwrap_err().to_string(),
            "Invalid Mesh Gateway Mode: \"sideways\""
        );
        let mut e = ConfigEntry::ProxyDefaults(ProxyDefaults {
            name: "global".into(),
            mesh_gateway: MeshGatewayConfig {
                mode: "LOCAL".into(),
            },
            ..Default::default()
        });
        e.normalize_and_validate().unwrap();
        let stored = e.to_stored();
        assert!(stored.contains(r#""Kind":"proxy-defaults""#), "{stored}");
        assert!(
            stored.contains(r#""MeshGateway":{"Mode":"local"}"#),
            "{stored}"
        );
        assert_eq!(
            ConfigEntry::from_stored("proxy-defaults", &stored).unwrap(),
            e
        );
    }

    #[test]
    fn service_defaults_protocol() {
        let mut e = ConfigEntry::ServiceDefaults(ServiceDefaults {
            name: "web".into(),
            protocol: "HTTP".into(),
            ..Default::default()
        });
        e.normalize_and_validate().unwrap();
        assert_eq!(e.protocol(), Some("http"));
        let mut e = ConfigEntry::ServiceDefaults(ServiceDefaults {
            name: "web".into(),
            protocol: "smtp".into(),
            ..Default::default()
        });
        assert_eq!(
            e.normalize_and_validate().unwrap_err().to_string(),
            "invalid value for protocol: smtp"
        );
    }

    #[test]
    fn resolver_rules_and_durations() {
        let mut r: ServiceResolver = serde_json::from_str(
            r#"{"Name":"web","ConnectTimeout":"15s","Failover":{"*":{"Datacenters":["dc3","dc4"]}}}"#,
        )
        .unwrap();
        assert_eq!(r.connect_timeout, std::time::Duration::from_secs(15));
        let mut e = ConfigEntry::ServiceResolver(r.clone());
        e.normalize_and_validate().unwrap();
        assert!(e.to_stored().contains(r#""ConnectTimeout":"15s""#));
        r.failover.insert("v9".into(), ResolverFailover::default());
        assert_eq!(
            ConfigEntry::ServiceResolver(r)
                .normalize_and_validate()
                .unwrap_err()
                .to_string(),
            "Bad Failover[\"v9\"]: not a valid subset subset"
        );
        let both: ServiceResolver = serde_json::from_str(
            r#"{"Name":"web","Redirect":{"Datacenter":"dc2"},"Failover":{"*":{"Datacenters":["dc3"]}}}"#,
        )
        .unwrap();
        assert_eq!(
            ConfigEntry::ServiceResolver(both)
                .normalize_and_validate()
                .unwrap_err()
                .to_string(),
            "Redirect and Failover cannot both be set"
        );
    }
}
