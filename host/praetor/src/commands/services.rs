//! `praetor services register | deregister`: service definitions (files or flags) sent to the
//! local agent as Consul's `/v1/agent/service/register` JSON.

use std::collections::BTreeMap;

use anyhow::anyhow;
use praetor_config::{CheckDefinition, CheckKind, ServiceDefinition, ServiceSpec, format_duration};
use serde_json::{Map, Value, json};

use super::Outcome;
use crate::cli::{ServicesDeregisterArgs, ServicesRegisterArgs};
use crate::client::{Client, escape_segment};

/// Consul's `AgentServiceCheck` JSON for a check.
pub fn check_json(check: &CheckDefinition) -> Value {
    let mut m = Map::new();
    m.insert("CheckID".into(), json!(check.id));
    m.insert("Name".into(), json!(check.name));
    if !check.notes.is_empty() {
        m.insert("Notes".into(), json!(check.notes));
    }
    if let Some(status) = &check.status {
        m.insert("Status".into(), json!(status));
    }
    match &check.kind {
        CheckKind::Ttl(ttl) => {
            m.insert("TTL".into(), json!(format_duration(*ttl)));
        }
        CheckKind::Http {
            url,
            method,
            headers,
            tls_skip_verify,
        } => {
            m.insert("HTTP".into(), json!(url));
            m.insert("Method".into(), json!(method));
            if !headers.is_empty() {
                m.insert("Header".into(), json!(headers));
            }
            if *tls_skip_verify {
                m.insert("TLSSkipVerify".into(), json!(true));
            }
        }
        CheckKind::Tcp(addr) => {
            m.insert("TCP".into(), json!(addr));
        }
        CheckKind::Script(args) => {
            m.insert("Args".into(), json!(args));
        }
        CheckKind::Alias(service) => {
            m.insert("AliasService".into(), json!(service));
        }
    }
    let durations = [
        ("Interval", check.interval),
        ("Timeout", check.timeout),
        (
            "DeregisterCriticalServiceAfter",
            check.deregister_critical_service_after,
        ),
    ];
    for (key, d) in durations {
        if let Some(d) = d {
            m.insert(key.into(), json!(format_duration(d)));
        }
    }
    Value::Object(m)
}

/// Consul's `AgentServiceRegistration` JSON for a service.
pub fn registration_json(def: &ServiceDefinition) -> Value {
    let tagged: BTreeMap<&String, Value> = def
        .tagged_addresses
        .iter()
        .map(|(k, (addr, port))| (k, json!({"Address": addr, "Port": port})))
        .collect();
    let mut m = Map::new();
    m.insert("ID".into(), json!(def.id));
    m.insert("Name".into(), json!(def.name));
    m.insert("Tags".into(), json!(def.tags));
    m.insert("Address".into(), json!(def.address));
    m.insert("Port".into(), json!(def.port));
    m.insert("Meta".into(), json!(def.meta));
    if !tagged.is_empty() {
        m.insert("TaggedAddresses".into(), json!(tagged));
    }
    m.insert("EnableTagOverride".into(), json!(def.enable_tag_override));
    m.insert(
        "Weights".into(),
        json!({"Passing": def.weights.0, "Warning": def.weights.1}),
    );
    if !def.checks.is_empty() {
        m.insert(
            "Checks".into(),
            Value::Array(def.checks.iter().map(check_json).collect()),
        );
    }
    Value::Object(m)
}

/// The service described by `-name`, `-id`, `-address`, `-port`, `-tag`, `-meta k=v`.
pub fn service_from_flags(args: &ServicesRegisterArgs) -> anyhow::Result<ServiceDefinition> {
    let mut meta = BTreeMap::new();
    for pair in &args.meta {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(anyhow!(
                "Error: -meta must be of the form key=value, got {pair:?}"
            ));
        };
        meta.insert(k.to_string(), v.to_string());
    }
    let spec = ServiceSpec {
        id: args.id.clone(),
        name: args.name.clone(),
        tags: args.tags.clone(),
        address: args.address.clone(),
        port: args.port,
        meta,
        ..ServiceSpec::default()
    };
    spec.build().map_err(|e| anyhow!("Error: {e}"))
}

fn from_files(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<ServiceDefinition>> {
    let mut defs = Vec::new();
    for f in files {
        defs.extend(
            praetor_config::load_service_definitions(f).map_err(|e| anyhow!("Error: {e}"))?,
        );
    }
    Ok(defs)
}

/// `PUT /v1/agent/service/register` for each service.
pub fn register(args: &ServicesRegisterArgs) -> Outcome {
    if args.files.is_empty() && args.name.is_none() {
        return Err(anyhow!(
            "Service registration requires at least one argument or flags."
        ));
    }
    let defs = if args.files.is_empty() {
        vec![service_from_flags(args)?]
    } else {
        from_files(&args.files)?
    };
    let client = Client::from_args(&args.http);
    for def in &defs {
        let body = registration_json(def).to_string();
        client
            .put("/v1/agent/service/register", &[], Some(body.as_bytes()))
            .map_err(|e| anyhow!("Error registering service {:?}: {e}", def.name))?;
        println!("Registered service: {}", def.name);
    }
    Ok(0)
}

/// `PUT /v1/agent/service/deregister/<id>` for `-id` or each service in the files.
pub fn deregister(args: &ServicesDeregisterArgs) -> Outcome {
    let ids: Vec<String> = match (&args.id, args.files.is_empty()) {
        (None, true) => {
            return Err(anyhow!(
                "Service deregistration requires at least one argument or -id."
            ));
        }
        (Some(_), false) => {
            return Err(anyhow!(
                "Service deregistration requires arguments or -id, not both."
            ));
        }
        (Some(id), true) => vec![id.clone()],
        (None, false) => from_files(&args.files)?.into_iter().map(|d| d.id).collect(),
    };
    let client = Client::from_args(&args.http);
    for id in ids {
        let path = format!("/v1/agent/service/deregister/{}", escape_segment(&id));
        client
            .put(&path, &[], None)
            .map_err(|e| anyhow!("Error deregistering service {id:?}: {e}"))?;
        println!("Deregistered service: {id}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use praetor_config::CheckSpec;
    use std::time::Duration;

    #[test]
    fn registration_uses_consul_field_names() {
        let def = ServiceSpec {
            name: Some("web".into()),
            port: Some(8080),
            tags: vec!["v1".into()],
            tagged_addresses: BTreeMap::from([("lan".into(), ("10.0.0.1".into(), 8080))]),
            checks: vec![CheckSpec {
                http: Some("http://127.0.0.1:8080/health".into()),
                interval: Some(Duration::from_secs(10)),
                timeout: Some(Duration::from_millis(1500)),
                ..CheckSpec::default()
            }],
            ..ServiceSpec::default()
        }
        .build()
        .expect("valid");
        let v = registration_json(&def);
        assert_eq!(v["ID"], "web");
        assert_eq!(v["Name"], "web");
        assert_eq!(v["Port"], 8080);
        assert_eq!(v["Tags"][0], "v1");
        assert_eq!(v["TaggedAddresses"]["lan"]["Address"], "10.0.0.1");
        assert_eq!(v["Weights"]["Passing"], 1);
        let check = &v["Checks"][0];
        assert_eq!(check["CheckID"], "service:web");
        assert_eq!(check["HTTP"], "http://127.0.0.1:8080/health");
        assert_eq!(check["Method"], "GET");
        assert_eq!(check["Interval"], "10s");
        assert_eq!(check["Timeout"], "1.5s");
    }

    #[test]
    fn flags_build_a_service() {
        let args = ServicesRegisterArgs {
            http: Default::default(),
            name: Some("db".into()),
            id: None,
            address: Some("127.0.0.1".into()),
            port: Some(5432),
            tags: vec!["primary".into()],
            meta: vec!["version=14".into()],
            files: vec![],
        };
        let def = service_from_flags(&args).expect("valid");
        assert_eq!(def.id, "db");
        assert_eq!(def.meta.get("version").map(String::as_str), Some("14"));
        let bad = ServicesRegisterArgs {
            meta: vec!["novalue".into()],
            ..args
        };
        assert!(service_from_flags(&bad).is_err());
    }
}
