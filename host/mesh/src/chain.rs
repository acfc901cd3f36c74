//! The discovery chain (`/v1/discovery-chain/<svc>`): what a proxy dials for an upstream,
//! compiled from `service-resolver` (redirect, failover, default subset, connect timeout),
//! `service-defaults` and `proxy-defaults` (protocol, mesh gateway mode), with each target's
//! SNI. praetor serves no routers or splitters, so a chain is one resolver node and its targets.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::MeshError;
use crate::entry::{ProxyDefaults, ServiceDefaults, ServiceResolver};

/// Consul's default connect timeout of a resolver.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many redirects a chain follows before calling it a loop.
const MAX_REDIRECTS: usize = 8;
const NS: &str = "default";

/// What the chain is compiled from.
#[derive(Clone, Debug, Default)]
pub struct ChainInput<'a> {
    pub service: &'a str,
    /// The datacenter the chain is compiled for (`?compile-dc`, else the agent's).
    pub datacenter: &'a str,
    /// `<cluster_id>.consul`.
    pub trust_domain: &'a str,
    pub proxy_defaults: Option<&'a ProxyDefaults>,
    /// `service-defaults` by service name.
    pub service_defaults: BTreeMap<&'a str, &'a ServiceDefaults>,
    /// `service-resolver` by service name.
    pub resolvers: BTreeMap<&'a str, &'a ServiceResolver>,
    /// `OverrideProtocol`, `OverrideConnectTimeout`, `OverrideMeshGateway.Mode` (POST).
    pub override_protocol: Option<&'a str>,
    pub override_connect_timeout: Option<Duration>,
    pub override_mesh_gateway: Option<&'a str>,
}

/// One target of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `[<subset>.]<svc>.default.default.<dc>`.
    pub id: String,
    pub service: String,
    pub subset: String,
    pub datacenter: String,
    /// `[<subset>.]<svc>.default.<dc>.internal.<td>`.
    pub sni: String,
    /// `""`, `none`, `local` or `remote`.
    pub mesh_gateway_mode: String,
    pub connect_timeout: Duration,
    /// The subset's filter and passing-only flag, when the target is a subset.
    pub filter: String,
    pub only_passing: bool,
}

/// A compiled chain: the primary target and its failover targets in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub service: String,
    pub datacenter: String,
    pub protocol: String,
    /// No resolver entry exists for the (final) service.
    pub default: bool,
    pub connect_timeout: Duration,
    pub target: Target,
    pub failover: Vec<Target>,
}

fn go_duration(d: Duration) -> String {
    praetor_config::format_duration(d)
}

impl ChainInput<'_> {
    fn protocol(&self, service: &str) -> String {
        if let Some(p) = self.override_protocol.filter(|p| !p.is_empty()) {
            return p.to_ascii_lowercase();
        }
        if let Some(sd) = self.service_defaults.get(service)
            && !sd.protocol.is_empty()
        {
            return sd.protocol.clone();
        }
        self.proxy_defaults
            .and_then(|p| p.config.get("protocol"))
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map_or_else(|| "tcp".to_string(), str::to_ascii_lowercase)
    }

    /// override > service-defaults > proxy-defaults (FED §7.5).
    fn mesh_gateway(&self, service: &str) -> String {
        if let Some(m) = self.override_mesh_gateway.filter(|m| !m.is_empty()) {
            return m.to_string();
        }
        if let Some(sd) = self.service_defaults.get(service)
            && !sd.mesh_gateway.mode.is_empty()
        {
            return sd.mesh_gateway.mode.clone();
        }
        self.proxy_defaults
            .map(|p| p.mesh_gateway.mode.clone())
            .unwrap_or_default()
    }

    fn target(&self, service: &str, subset: &str, dc: &str, timeout: Duration) -> Target {
        let prefix = if subset.is_empty() {
            String::new()
        } else {
            format!("{subset}.")
        };
        let (filter, only_passing) = self
            .resolvers
            .get(service)
            .and_then(|r| r.subsets.get(subset))
            .map(|s| (s.filter.clone(), s.only_passing))
            .unwrap_or_default();
        // `service-defaults` `ExternalSNI` replaces the mesh's name (a service outside it).
        let sni = self
            .service_defaults
            .get(service)
            .map(|sd| sd.external_sni.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                format!("{prefix}{service}.{NS}.{dc}.internal.{}", self.trust_domain)
            });
        Target {
            id: format!("{prefix}{service}.{NS}.{NS}.{dc}"),
            service: service.to_string(),
            subset: subset.to_string(),
            datacenter: dc.to_string(),
            sni,
            mesh_gateway_mode: self.mesh_gateway(service),
            connect_timeout: timeout,
            filter,
            only_passing,
        }
    }
}

/// Compiles the chain of `input.service` (Consul's `discoverychain.Compile` without routers
/// and splitters).
pub fn compile(input: &ChainInput<'_>) -> Result<Chain, MeshError> {
    let (mut service, mut dc) = (input.service.to_string(), input.datacenter.to_string());
    let mut subset = String::new();
    let mut seen = vec![format!("{service}.{dc}")];
    // Follow redirects to the resolver that decides.
    while let Some(redirect) = input
        .resolvers
        .get(service.as_str())
        .and_then(|r| r.redirect.as_ref())
    {
        if !redirect.service.is_empty() {
            service = redirect.service.clone();
        }
        if !redirect.datacenter.is_empty() {
            dc = redirect.datacenter.clone();
        }
        subset = redirect.service_subset.clone();
        let hop = format!("{service}.{dc}");
        if seen.contains(&hop) || seen.len() > MAX_REDIRECTS {
            seen.push(hop);
            return Err(MeshError::Invalid(format!(
                "detected circular resolver redirect: [{}]",
                seen.join(" -> ")
            )));
        }
        seen.push(hop);
    }
    let resolver = input.resolvers.get(service.as_str()).copied();
    if subset.is_empty()
        && let Some(r) = resolver
    {
        subset = r.default_subset.clone();
    }
    let timeout = input
        .override_connect_timeout
        .or_else(|| resolver.map(|r| r.connect_timeout).filter(|t| !t.is_zero()))
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let target = input.target(&service, &subset, &dc, timeout);
    let mut failover = Vec::new();
    if let Some(r) = resolver
        && let Some(f) = r.failover.get(&subset).or_else(|| r.failover.get("*"))
    {
        let fsvc = if f.service.is_empty() {
            service.as_str()
        } else {
            f.service.as_str()
        };
        let fsub = if f.service_subset.is_empty() {
            subset.as_str()
        } else {
            f.service_subset.as_str()
        };
        for fdc in &f.datacenters {
            failover.push(input.target(fsvc, fsub, fdc, timeout));
        }
        for t in &f.targets {
            let tsvc = if t.service.is_empty() {
                fsvc
            } else {
                &t.service
            };
            let tdc = if t.datacenter.is_empty() {
                dc.as_str()
            } else {
                &t.datacenter
            };
            failover.push(input.target(tsvc, &t.service_subset, tdc, timeout));
        }
        if f.datacenters.is_empty() && f.targets.is_empty() {
            failover.push(input.target(fsvc, fsub, &dc, timeout));
        }
    }
    Ok(Chain {
        service: input.service.to_string(),
        datacenter: input.datacenter.to_string(),
        protocol: input.protocol(&service),
        default: resolver.is_none(),
        connect_timeout: timeout,
        target,
        failover,
    })
}

impl Target {
    fn to_json(&self) -> Value {
        let gateway = if self.mesh_gateway_mode.is_empty() {
            json!({})
        } else {
            json!({ "Mode": self.mesh_gateway_mode })
        };
        let subset = if self.subset.is_empty() {
            json!({})
        } else {
            let mut m = Map::new();
            if !self.filter.is_empty() {
                m.insert("Filter".into(), json!(self.filter));
            }
            if self.only_passing {
                m.insert("OnlyPassing".into(), json!(true));
            }
            Value::Object(m)
        };
        let mut v = json!({
            "ID": self.id,
            "Service": self.service,
            "Namespace": NS,
            "Partition": NS,
            "Datacenter": self.datacenter,
            "MeshGateway": gateway,
            "Subset": subset,
            "TransparentProxy": {},
            "ConnectTimeout": go_duration(self.connect_timeout),
            "SNI": self.sni,
            "Name": self.sni,
        });
        if !self.subset.is_empty()
            && let Value::Object(m) = &mut v
        {
            m.insert("ServiceSubset".into(), json!(self.subset));
        }
        v
    }
}

impl Chain {
    /// Consul's `{"Chain": {...}}` body.
    pub fn to_json(&self) -> Value {
        let node = format!("resolver:{}", self.target.id);
        let mut resolver = json!({
            "Default": self.default,
            "ConnectTimeout": go_duration(self.connect_timeout),
            "Target": self.target.id,
        });
        if !self.failover.is_empty()
            && let Value::Object(m) = &mut resolver
        {
            m.insert(
                "Failover".into(),
                json!({ "Targets": self.failover.iter().map(|t| t.id.clone()).collect::<Vec<_>>() }),
            );
        }
        let mut targets = Map::new();
        for t in std::iter::once(&self.target).chain(&self.failover) {
            targets.insert(t.id.clone(), t.to_json());
        }
        json!({"Chain": {
            "ServiceName": self.service,
            "Namespace": NS,
            "Partition": NS,
            "Datacenter": self.datacenter,
            "Default": self.default,
            "Protocol": self.protocol,
            "StartNode": node,
            "Nodes": { node.clone(): {
                "Type": "resolver",
                "Name": self.target.id,
                "Resolver": resolver,
            }},
            "Targets": targets,
            "AutoVirtualIPs": null,
            "ManualVirtualIPs": null,
        }})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::MeshGatewayConfig;

    fn resolver(json: &str) -> ServiceResolver {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn default_chain_matches_consul() {
        let input = ChainInput {
            service: "web",
            datacenter: "dc1",
            trust_domain: "11.consul",
            ..ChainInput::default()
        };
        let v = compile(&input).unwrap().to_json();
        let c = &v["Chain"];
        assert_eq!(c["StartNode"], "resolver:web.default.default.dc1");
        assert_eq!(c["Protocol"], "tcp");
        assert_eq!(c["Default"], true);
        let t = &c["Targets"]["web.default.default.dc1"];
        assert_eq!(t["SNI"], "web.default.dc1.internal.11.consul");
        assert_eq!(t["ConnectTimeout"], "5s");
        assert_eq!(t["MeshGateway"], json!({}));
        assert_eq!(
            c["Nodes"]["resolver:web.default.default.dc1"]["Resolver"]["Target"],
            "web.default.default.dc1"
        );
    }

    #[test]
    fn failover_and_gateway_modes() {
        let r = resolver(
            r#"{"Name":"web","ConnectTimeout":"15s","Failover":{"*":{"Datacenters":["dc3","dc4"]}}}"#,
        );
        let pd = ProxyDefaults {
            name: "global".into(),
            mesh_gateway: MeshGatewayConfig {
                mode: "local".into(),
            },
            ..ProxyDefaults::default()
        };
        let sd = ServiceDefaults {
            name: "web".into(),
            protocol: "http".into(),
            mesh_gateway: MeshGatewayConfig {
                mode: "remote".into(),
            },
            ..ServiceDefaults::default()
        };
        let mut input = ChainInput {
            service: "web",
            datacenter: "dc1",
            trust_domain: "td.consul",
            proxy_defaults: Some(&pd),
            ..ChainInput::default()
        };
        input.resolvers.insert("web", &r);
        let chain = compile(&input).unwrap();
        assert!(!chain.default);
        assert_eq!(
            chain
                .failover
                .iter()
                .map(|t| t.id.as_str())
                .collect::<Vec<_>>(),
            ["web.default.default.dc3", "web.default.default.dc4"]
        );
        assert_eq!(chain.target.mesh_gateway_mode, "local");
        let v = chain.to_json();
        assert_eq!(
            v["Chain"]["Nodes"]["resolver:web.default.default.dc1"]["Resolver"]["Failover"]["Targets"]
                [1],
            "web.default.default.dc4"
        );
        assert_eq!(
            v["Chain"]["Targets"]["web.default.default.dc3"]["ConnectTimeout"],
            "15s"
        );
        // service-defaults beats proxy-defaults; an override beats both.
        input.service_defaults.insert("web", &sd);
        let chain = compile(&input).unwrap();
        assert_eq!(chain.protocol, "http");
        let external = ServiceDefaults {
            external_sni: "web.example.com".into(),
            ..sd.clone()
        };
        let mut ext = input.clone();
        ext.service_defaults.insert("web", &external);
        assert_eq!(compile(&ext).unwrap().target.sni, "web.example.com");
        assert_eq!(chain.target.mesh_gateway_mode, "remote");
        input.override_mesh_gateway = Some("none");
        assert_eq!(compile(&input).unwrap().target.mesh_gateway_mode, "none");
    }

    #[test]
    fn redirects_and_loops() {
        let a = resolver(r#"{"Name":"a","Redirect":{"Service":"b","Datacenter":"dc2"}}"#);
        let b = resolver(r#"{"Name":"b","Redirect":{"Service":"a","Datacenter":"dc1"}}"#);
        let mut input = ChainInput {
            service: "a",
            datacenter: "dc1",
            trust_domain: "td.consul",
            ..ChainInput::default()
        };
        input.resolvers.insert("a", &a);
        let chain = compile(&input).unwrap();
        assert_eq!(chain.target.id, "b.default.default.dc2");
        assert_eq!(chain.target.sni, "b.default.dc2.internal.td.consul");
        input.resolvers.insert("b", &b);
        let e = compile(&input).unwrap_err().to_string();
        assert!(e.starts_with("detected circular resolver redirect"), "{e}");
    }
}
