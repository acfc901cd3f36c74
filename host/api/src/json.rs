//! Consul's JSON shapes (PascalCase), converted from and to the domain types. The only place
//! in praetor that knows them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use praetor_state::{
    CheckServiceNode, HealthCheck, KvEntry, Node, Service, ServiceNode, Session, SessionBehavior,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub fn kv(e: &KvEntry) -> Value {
    let mut v = json!({
        "LockIndex": e.lock_index,
        "Key": e.key,
        "Flags": e.flags,
        "Value": if e.value.is_empty() { Value::Null } else { Value::String(B64.encode(&e.value)) },
        "CreateIndex": e.create_index,
        "ModifyIndex": e.modify_index,
    });
    if let Some(s) = &e.session {
        v["Session"] = Value::String(s.clone());
    }
    v
}

pub fn node(n: &Node) -> Value {
    json!({
        "ID": n.id,
        "Node": n.node,
        "Address": n.address,
        "Datacenter": n.datacenter,
        "TaggedAddresses": n.tagged_addresses,
        "Meta": n.meta,
        "CreateIndex": n.create_index,
        "ModifyIndex": n.modify_index,
    })
}

fn tagged_service_addresses(s: &Service) -> Value {
    let m: BTreeMap<&String, Value> = s
        .tagged_addresses
        .iter()
        .map(|(k, a)| (k, json!({"Address": a.address, "Port": a.port})))
        .collect();
    json!(m)
}

/// A service as the catalog and health endpoints show it.
pub fn service(s: &Service) -> Value {
    json!({
        "ID": s.id,
        "Service": s.service,
        "Tags": s.tags,
        "Address": s.address,
        "TaggedAddresses": tagged_service_addresses(s),
        "Meta": s.meta,
        "Port": s.port,
        "Weights": {"Passing": s.weights.passing, "Warning": s.weights.warning},
        "EnableTagOverride": s.enable_tag_override,
        "Kind": s.kind,
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

/// A service as the agent endpoints show it (with the datacenter, without indexes).
pub fn agent_service(s: &Service, dc: &str) -> Value {
    json!({
        "ID": s.id,
        "Service": s.service,
        "Tags": s.tags,
        "Meta": s.meta,
        "Port": s.port,
        "Address": s.address,
        "TaggedAddresses": tagged_service_addresses(s),
        "Weights": {"Passing": s.weights.passing, "Warning": s.weights.warning},
        "EnableTagOverride": s.enable_tag_override,
        "Kind": s.kind,
        "Datacenter": dc,
    })
}

pub fn service_node(sn: &ServiceNode) -> Value {
    let (n, s) = (&sn.node, &sn.service);
    json!({
        "ID": n.id,
        "Node": n.node,
        "Address": n.address,
        "Datacenter": n.datacenter,
        "TaggedAddresses": n.tagged_addresses,
        "NodeMeta": n.meta,
        "ServiceKind": s.kind,
        "ServiceID": s.id,
        "ServiceName": s.service,
        "ServiceTags": s.tags,
        "ServiceAddress": s.address,
        "ServiceTaggedAddresses": tagged_service_addresses(s),
        "ServiceWeights": {"Passing": s.weights.passing, "Warning": s.weights.warning},
        "ServiceMeta": s.meta,
        "ServicePort": s.port,
        "ServiceEnableTagOverride": s.enable_tag_override,
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

pub fn check(c: &HealthCheck) -> Value {
    json!({
        "Node": c.node,
        "CheckID": c.check_id,
        "Name": c.name,
        "Status": c.status.as_str(),
        "Notes": c.notes,
        "Output": c.output,
        "ServiceID": c.service_id,
        "ServiceName": c.service_name,
        "ServiceTags": c.service_tags,
        "Type": c.check_type,
        "Interval": c.interval,
        "Timeout": c.timeout,
        "ExposedPort": 0,
        "Definition": {},
        "CreateIndex": c.create_index,
        "ModifyIndex": c.modify_index,
    })
}

pub fn check_service_node(csn: &CheckServiceNode) -> Value {
    json!({
        "Node": node(&csn.node),
        "Service": service(&csn.service),
        "Checks": csn.checks.iter().map(check).collect::<Vec<_>>(),
    })
}

pub fn session(s: &Session) -> Value {
    json!({
        "ID": s.id,
        "Name": s.name,
        "Node": s.node,
        "LockDelay": s.lock_delay_ms * 1_000_000,
        "Behavior": match s.behavior { SessionBehavior::Release => "release", SessionBehavior::Delete => "delete" },
        "TTL": s.ttl,
        "NodeChecks": s.node_checks,
        "ServiceChecks": if s.service_checks.is_empty() { Value::Null } else {
            json!(s.service_checks.iter().map(|c| json!({"ID": c.id, "Namespace": c.namespace})).collect::<Vec<_>>())
        },
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

/// Body of `PUT /v1/catalog/register`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegisterRequest {
    #[serde(rename = "ID")]
    pub id: String,
    pub node: String,
    pub address: String,
    pub datacenter: String,
    pub tagged_addresses: BTreeMap<String, String>,
    pub node_meta: BTreeMap<String, String>,
    pub service: Option<ServiceBody>,
    pub check: Option<CheckBody>,
    pub checks: Vec<CheckBody>,
    pub skip_node_update: bool,
}

/// A service in a catalog registration (`Service` field) or an agent registration.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceBody {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(alias = "Name")]
    pub service: String,
    pub tags: Vec<String>,
    pub address: String,
    pub tagged_addresses: BTreeMap<String, AddressBody>,
    pub meta: BTreeMap<String, String>,
    pub port: u16,
    pub kind: String,
    pub enable_tag_override: bool,
    pub weights: Option<WeightsBody>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct AddressBody {
    pub address: String,
    pub port: u16,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightsBody {
    pub passing: i32,
    pub warning: i32,
}

/// A check in a catalog registration.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckBody {
    pub node: String,
    #[serde(rename = "CheckID", alias = "ID")]
    pub check_id: String,
    pub name: String,
    pub status: String,
    pub notes: String,
    pub output: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    pub definition: Option<Value>,
}

/// Body of `PUT /v1/catalog/deregister`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeregisterRequest {
    pub node: String,
    pub datacenter: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
}

/// Body of `PUT /v1/session/create`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SessionCreateRequest {
    pub name: String,
    pub node: String,
    pub lock_delay: Option<Value>,
    pub behavior: String,
    #[serde(rename = "TTL")]
    pub ttl: String,
    pub node_checks: Option<Vec<String>>,
    pub service_checks: Option<Vec<ServiceCheckBody>>,
    /// Deprecated form of node checks.
    pub checks: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceCheckBody {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
}

/// One operation of `PUT /v1/txn`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnOpBody {
    #[serde(rename = "KV")]
    pub kv: Option<TxnKvBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TxnKvBody {
    pub verb: String,
    pub key: String,
    pub value: Option<String>,
    pub flags: u64,
    pub index: u64,
    pub session: String,
}

/// Decodes a request body as JSON, answering Consul's 400 on failure.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, crate::error::ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| crate::error::ApiError::BadRequest(format!("Request decode failed: {e}")))
}

/// Decodes base64 from Consul's JSON (`Value` fields).
pub fn b64(s: &str) -> Result<Vec<u8>, crate::error::ApiError> {
    B64.decode(s).map_err(|e| {
        crate::error::ApiError::BadRequest(format!("Request decode failed: invalid base64: {e}"))
    })
}
