//! Consul's JSON shapes (PascalCase), converted from and to the domain types. The only place
//! in praetor that knows them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use praetor_coordinate::Coordinate;
use praetor_rpc::{AreaJoinResult, AreaMember, DatacenterMap, KeyringResponse};
use praetor_state::{
    Area, CheckServiceNode, HealthCheck, KvEntry, Node, NodeCoordinate, Service, ServiceNode,
    Session, SessionBehavior,
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

/// A user event (Consul's `api.UserEvent`; `Payload` base64 or null).
pub fn user_event(e: &praetor_rpc::UserEvent) -> Value {
    json!({
        "ID": e.id,
        "Name": e.name,
        "Payload": e.payload.as_ref().map(|p| B64.encode(p)),
        "NodeFilter": e.node_filter,
        "ServiceFilter": e.service_filter,
        "TagFilter": e.tag_filter,
        "Version": e.version,
        "LTime": e.ltime,
    })
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

fn opaque(text: &str) -> Option<Value> {
    (!text.is_empty())
        .then(|| serde_json::from_str(text).ok())
        .flatten()
}

fn mesh_gateway(mode: &str) -> Value {
    if mode.is_empty() {
        json!({})
    } else {
        json!({ "Mode": mode })
    }
}

/// Consul's `Proxy` of a `connect-proxy` or `mesh-gateway` (`{"MeshGateway":{},"Expose":{}}`
/// for other services, as Consul's catalog shows them).
pub fn proxy(s: &Service) -> Value {
    let Some(p) = &s.proxy else {
        return json!({"MeshGateway": {}, "Expose": {}});
    };
    let mut v = json!({
        "MeshGateway": mesh_gateway(&p.mesh_gateway_mode),
        "Expose": {},
    });
    let m = v.as_object_mut().expect("object literal");
    let mut put = |k: &str, val: Value| {
        m.insert(k.to_string(), val);
    };
    if !p.destination_service_name.is_empty() {
        put("DestinationServiceName", json!(p.destination_service_name));
    }
    if !p.destination_service_id.is_empty() {
        put("DestinationServiceID", json!(p.destination_service_id));
    }
    if !p.local_service_address.is_empty() {
        put("LocalServiceAddress", json!(p.local_service_address));
    }
    if p.local_service_port != 0 {
        put("LocalServicePort", json!(p.local_service_port));
    }
    if !p.mode.is_empty() {
        put("Mode", json!(p.mode));
    }
    if let Some(c) = opaque(&p.config_json) {
        put("Config", c);
    }
    if !p.upstreams.is_empty() {
        let ups: Vec<Value> = p
            .upstreams
            .iter()
            .map(|u| {
                let mut o = json!({
                    "DestinationType": u.destination_type,
                    "DestinationName": u.destination_name,
                    "LocalBindPort": u.local_bind_port,
                    "MeshGateway": mesh_gateway(&u.mesh_gateway_mode),
                });
                let m = o.as_object_mut().expect("object literal");
                if !u.datacenter.is_empty() {
                    m.insert("Datacenter".into(), json!(u.datacenter));
                }
                if !u.local_bind_address.is_empty() {
                    m.insert("LocalBindAddress".into(), json!(u.local_bind_address));
                }
                if let Some(c) = opaque(&u.config_json) {
                    m.insert("Config".into(), c);
                }
                o
            })
            .collect();
        put("Upstreams", Value::Array(ups));
    }
    v
}

/// Consul's `Connect` block (`{}` unless native).
pub fn connect(s: &Service) -> Value {
    if s.connect_native {
        json!({"Native": true})
    } else {
        json!({})
    }
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
        "Proxy": proxy(s),
        "Connect": connect(s),
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

/// A service as the agent endpoints show it (with the datacenter, without indexes).
pub fn agent_service(s: &Service, dc: &str) -> Value {
    let mut v = json!({
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
    });
    if s.proxy.is_some() {
        v["Proxy"] = proxy(s);
    }
    if s.connect_native {
        v["Connect"] = connect(s);
    }
    v
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
        "ServiceProxy": proxy(s),
        "ServiceConnect": connect(s),
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
    pub proxy: Option<ProxyBody>,
    pub connect: Option<CatalogConnectBody>,
}

/// `MeshGateway { Mode }`.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct MeshGatewayBody {
    pub mode: String,
}

/// A service's `Proxy` (Consul's `ConnectProxyConfig`).
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProxyBody {
    pub destination_service_name: String,
    #[serde(rename = "DestinationServiceID")]
    pub destination_service_id: String,
    pub local_service_address: String,
    pub local_service_port: u16,
    pub mode: String,
    pub config: serde_json::Map<String, serde_json::Value>,
    pub mesh_gateway: MeshGatewayBody,
    pub upstreams: Vec<UpstreamBody>,
}

/// One `Upstream`.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpstreamBody {
    pub destination_type: String,
    pub destination_name: String,
    pub datacenter: String,
    pub local_bind_address: String,
    pub local_bind_port: u16,
    pub mesh_gateway: MeshGatewayBody,
    pub config: serde_json::Map<String, serde_json::Value>,
}

pub fn proxy_spec(p: ProxyBody) -> praetor_config::ProxySpec {
    praetor_config::ProxySpec {
        destination_service_name: p.destination_service_name,
        destination_service_id: p.destination_service_id,
        local_service_address: p.local_service_address,
        local_service_port: p.local_service_port,
        mode: p.mode,
        config: p.config,
        mesh_gateway_mode: p.mesh_gateway.mode,
        upstreams: p
            .upstreams
            .into_iter()
            .map(|u| praetor_config::UpstreamSpec {
                destination_type: u.destination_type,
                destination_name: u.destination_name,
                datacenter: u.datacenter,
                local_bind_address: u.local_bind_address,
                local_bind_port: u.local_bind_port,
                mesh_gateway_mode: u.mesh_gateway.mode,
                config: u.config,
            })
            .collect(),
    }
}

/// A catalog registration's `Connect` block.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogConnectBody {
    pub native: bool,
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

/// Decodes a request body as Consul does (field names matched case-insensitively and with
/// snake_case aliases, unknown fields ignored; see [`crate::decode`]), answering Consul's 400
/// on failure.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, crate::error::ApiError> {
    crate::decode::from_slice(body, crate::decode::Unknown::Ignore)
        .map_err(|e| crate::error::ApiError::BadRequest(format!("Request decode failed: {e}")))
}

/// Decodes base64 from Consul's JSON (`Value` fields).
pub fn b64(s: &str) -> Result<Vec<u8>, crate::error::ApiError> {
    B64.decode(s).map_err(|e| {
        crate::error::ApiError::BadRequest(format!("Request decode failed: invalid base64: {e}"))
    })
}

/// A Vivaldi coordinate as serf's JSON shows it (`Vec`, `Error`, `Adjustment`, `Height`, in
/// that order; seconds except `Error`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CoordBody {
    pub vec: Vec<f64>,
    pub error: f64,
    pub adjustment: f64,
    pub height: f64,
}

impl From<&Coordinate> for CoordBody {
    fn from(c: &Coordinate) -> Self {
        CoordBody {
            vec: c.vec.clone(),
            error: c.error,
            adjustment: c.adjustment,
            height: c.height,
        }
    }
}

impl From<CoordBody> for Coordinate {
    fn from(c: CoordBody) -> Self {
        Coordinate {
            vec: c.vec,
            error: c.error,
            adjustment: c.adjustment,
            height: c.height,
        }
    }
}

/// One node's coordinate (`/v1/coordinate/nodes`, `/v1/coordinate/node/<n>`, and the entries
/// of `/v1/coordinate/datacenters`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeCoordBody {
    pub node: String,
    pub segment: String,
    pub coord: CoordBody,
}

pub fn node_coordinate(c: &NodeCoordinate) -> NodeCoordBody {
    NodeCoordBody {
        node: c.node.clone(),
        segment: c.segment.clone(),
        coord: CoordBody::from(&c.coord),
    }
}

/// One element of `/v1/coordinate/datacenters`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatacenterMapBody {
    pub datacenter: String,
    #[serde(rename = "AreaID")]
    pub area_id: String,
    pub coordinates: Vec<NodeCoordBody>,
}

pub fn datacenter_map(m: &DatacenterMap) -> DatacenterMapBody {
    DatacenterMapBody {
        datacenter: m.datacenter.clone(),
        area_id: m.area_id.clone(),
        coordinates: m
            .coordinates
            .iter()
            .map(|(node, coord)| NodeCoordBody {
                node: node.clone(),
                segment: String::new(),
                coord: CoordBody::from(coord),
            })
            .collect(),
    }
}

/// Body of `PUT /v1/coordinate/update`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CoordinateUpdateRequest {
    pub node: String,
    pub segment: String,
    pub coord: Option<CoordBody>,
}

/// Body of `POST|PUT|DELETE /v1/operator/keyring`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyringRequestBody {
    pub key: String,
}

/// One pool's answer in `GET /v1/operator/keyring` (Consul's `structs.KeyringResponse`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyringResponseBody {
    #[serde(rename = "WAN")]
    pub wan: bool,
    pub datacenter: String,
    pub segment: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub messages: BTreeMap<String, String>,
    pub keys: BTreeMap<String, u32>,
    pub primary_keys: BTreeMap<String, u32>,
    pub num_nodes: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

pub fn keyring_response(r: &KeyringResponse) -> KeyringResponseBody {
    KeyringResponseBody {
        wan: r.wan,
        datacenter: r.datacenter.clone(),
        segment: r.segment.clone(),
        messages: r.messages.clone(),
        keys: r.keys.clone(),
        primary_keys: r.primary_keys.clone(),
        num_nodes: r.num_nodes,
        error: r.error.clone(),
    }
}

/// Body of `POST /v1/operator/area` and `PUT /v1/operator/area/<id>` (Consul's `api.Area`).
/// Go clients send `"RetryJoin": null` for no list, so every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AreaRequestBody {
    #[serde(rename = "ID")]
    pub id: Option<String>,
    pub peer_datacenter: Option<String>,
    pub retry_join: Option<Vec<String>>,
    #[serde(rename = "UseTLS")]
    pub use_tls: Option<bool>,
}

/// One element of `GET /v1/operator/area[/<id>]` (Consul's `api.Area`). An empty `RetryJoin`
/// is `null`, as Go renders a nil slice.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AreaBody {
    #[serde(rename = "ID")]
    pub id: String,
    pub peer_datacenter: String,
    pub retry_join: Option<Vec<String>>,
    #[serde(rename = "UseTLS")]
    pub use_tls: bool,
}

pub fn area(a: &Area) -> AreaBody {
    AreaBody {
        id: a.id.clone(),
        peer_datacenter: a.peer_datacenter.clone(),
        retry_join: (!a.retry_join.is_empty()).then(|| a.retry_join.clone()),
        use_tls: a.use_tls,
    }
}

/// One element of `PUT /v1/operator/area/<id>/join` (Consul's `api.AreaJoinResponse`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AreaJoinBody {
    pub address: String,
    pub joined: bool,
    pub error: String,
}

pub fn area_join(r: &AreaJoinResult) -> AreaJoinBody {
    AreaJoinBody {
        address: r.address.clone(),
        joined: r.joined,
        error: r.error.clone(),
    }
}

/// One element of `GET /v1/operator/area/<id>/members` (Consul's `api.SerfMember`): `Name`
/// is `<node>.<dc>`, `Addr` the IP, `Port` the server RPC port, `RTT` nanoseconds (Go's
/// `time.Duration`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AreaMemberBody {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub datacenter: String,
    pub role: String,
    pub build: String,
    pub protocol: u32,
    pub status: String,
    #[serde(rename = "RTT")]
    pub rtt: i64,
}

pub fn area_member(m: &AreaMember) -> AreaMemberBody {
    AreaMemberBody {
        id: m.id.clone(),
        name: format!("{}.{}", m.node, m.datacenter),
        addr: m.address.clone(),
        port: m.port,
        datacenter: m.datacenter.clone(),
        role: m.role.clone(),
        build: m.build.clone(),
        protocol: m.protocol,
        status: m.status.clone(),
        rtt: m.rtt_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coordinate() -> Coordinate {
        Coordinate {
            vec: vec![0.001, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.002],
            error: 1.5,
            adjustment: 0.0001,
            height: 1e-5,
        }
    }

    #[test]
    fn coordinate_fields_keep_go_names_and_order() {
        let text = serde_json::to_string(&CoordBody::from(&coordinate())).expect("serializes");
        let at = |k: &str| text.find(k).unwrap_or_else(|| panic!("{k} in {text}"));
        assert!(at("\"Vec\"") < at("\"Error\""));
        assert!(at("\"Error\"") < at("\"Adjustment\""));
        assert!(at("\"Adjustment\"") < at("\"Height\""));
        let back: CoordBody = serde_json::from_str(&text).expect("parses");
        assert_eq!(Coordinate::from(back), coordinate());
    }

    #[test]
    fn node_coordinate_shape() {
        let v = serde_json::to_value(node_coordinate(&NodeCoordinate {
            node: "web-1".into(),
            segment: String::new(),
            coord: coordinate(),
        }))
        .expect("serializes");
        assert_eq!(
            v,
            json!({"Node": "web-1", "Segment": "",
                   "Coord": {"Vec": [0.001, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.002],
                             "Error": 1.5, "Adjustment": 0.0001, "Height": 1e-5}})
        );
    }

    #[test]
    fn datacenter_map_shape() {
        let m = DatacenterMap {
            datacenter: "dc2".into(),
            area_id: "wan".into(),
            coordinates: vec![("server-1".into(), coordinate())],
        };
        let v = serde_json::to_value(datacenter_map(&m)).expect("serializes");
        assert_eq!(v["Datacenter"], "dc2");
        assert_eq!(v["AreaID"], "wan");
        assert_eq!(v["Coordinates"][0]["Node"], "server-1");
        assert_eq!(v["Coordinates"][0]["Segment"], "");
        assert_eq!(v["Coordinates"][0]["Coord"]["Error"], 1.5);
        let empty = DatacenterMap {
            coordinates: Vec::new(),
            ..m
        };
        let v = serde_json::to_value(datacenter_map(&empty)).expect("serializes");
        assert_eq!(v["Coordinates"], json!([]));
    }

    #[test]
    fn coordinate_update_body() {
        let r: CoordinateUpdateRequest = serde_json::from_str(
            r#"{"Node":"n1","Segment":"","Coord":{"Vec":[0,0,0,0,0,0,0,0],"Error":1.5,"Adjustment":0,"Height":1e-05}}"#,
        )
        .expect("parses");
        assert_eq!(r.node, "n1");
        let c = r.coord.expect("coord");
        assert_eq!(c.vec.len(), 8);
        assert_eq!(c.height, 1e-5);
        let missing: CoordinateUpdateRequest =
            serde_json::from_str(r#"{"Node":"n1"}"#).expect("parses");
        assert!(missing.coord.is_none());
        let e = decode::<CoordinateUpdateRequest>(b"{").unwrap_err();
        assert!(e.to_string().starts_with("Request decode failed: "), "{e}");
    }

    #[test]
    fn keyring_response_shape() {
        let r = KeyringResponse {
            wan: true,
            datacenter: "dc1".into(),
            segment: String::new(),
            keys: BTreeMap::from([("k1".to_string(), 3), ("k2".to_string(), 1)]),
            primary_keys: BTreeMap::from([("k1".to_string(), 3)]),
            num_nodes: 3,
            ..Default::default()
        };
        let v = serde_json::to_value(keyring_response(&r)).expect("serializes");
        assert_eq!(
            v,
            json!({"WAN": true, "Datacenter": "dc1", "Segment": "",
                   "Keys": {"k1": 3, "k2": 1}, "PrimaryKeys": {"k1": 3}, "NumNodes": 3})
        );
        let failed = KeyringResponse {
            messages: BTreeMap::from([("n2".to_string(), "boom".to_string())]),
            error: "1/3 nodes reported failure".into(),
            ..r
        };
        let v = serde_json::to_value(keyring_response(&failed)).expect("serializes");
        assert_eq!(v["Messages"], json!({"n2": "boom"}));
        assert_eq!(v["Error"], "1/3 nodes reported failure");
    }

    #[test]
    fn area_shapes() {
        let a = Area {
            id: "8f246b77-f3e1-ff88-5b48-8ec93abf3e05".into(),
            peer_datacenter: "dc2".into(),
            retry_join: vec!["10.1.2.3".into(), "10.1.2.4:8300".into()],
            use_tls: true,
            create_index: 4,
            modify_index: 5,
        };
        let text = serde_json::to_string(&area(&a)).expect("serializes");
        assert_eq!(
            text,
            r#"{"ID":"8f246b77-f3e1-ff88-5b48-8ec93abf3e05","PeerDatacenter":"dc2","RetryJoin":["10.1.2.3","10.1.2.4:8300"],"UseTLS":true}"#
        );
        let empty = Area {
            retry_join: Vec::new(),
            use_tls: false,
            ..a
        };
        let v = serde_json::to_value(area(&empty)).expect("serializes");
        assert_eq!(v["RetryJoin"], Value::Null);
        assert_eq!(v["UseTLS"], false);
    }

    #[test]
    fn area_request_bodies() {
        let r: AreaRequestBody = serde_json::from_str(
            r#"{"PeerDatacenter":"dc2","RetryJoin":["10.1.2.3"],"UseTLS":false}"#,
        )
        .expect("parses");
        assert_eq!(r.peer_datacenter.as_deref(), Some("dc2"));
        assert_eq!(r.retry_join, Some(vec!["10.1.2.3".to_string()]));
        assert_eq!(r.use_tls, Some(false));
        assert_eq!(r.id, None);
        // What Go's api.Area marshals to when only UseTLS is set.
        let go: AreaRequestBody =
            serde_json::from_str(r#"{"ID":"","PeerDatacenter":"","RetryJoin":null,"UseTLS":true}"#)
                .expect("parses");
        assert_eq!(go.id.as_deref(), Some(""));
        assert_eq!(go.retry_join, None);
        assert_eq!(go.use_tls, Some(true));
        assert!(decode::<AreaRequestBody>(br#"{"RetryJoin":"x"}"#).is_err());
    }

    #[test]
    fn area_join_and_member_shapes() {
        let v = serde_json::to_value(area_join(&AreaJoinResult {
            address: "10.1.2.3".into(),
            joined: false,
            error: "i/o timeout".into(),
        }))
        .expect("serializes");
        assert_eq!(
            v,
            json!({"Address": "10.1.2.3", "Joined": false, "Error": "i/o timeout"})
        );
        let m = AreaMember {
            id: "afc5d95c-1eee-4b46-b85b-0efe4c76dd48".into(),
            node: "node-2".into(),
            address: "127.0.0.2".into(),
            port: 8300,
            datacenter: "dc1".into(),
            role: "server".into(),
            build: "0.8.0".into(),
            protocol: 2,
            status: "alive".into(),
            rtt_ns: 256_478,
        };
        let text = serde_json::to_string(&area_member(&m)).expect("serializes");
        assert_eq!(
            text,
            r#"{"ID":"afc5d95c-1eee-4b46-b85b-0efe4c76dd48","Name":"node-2.dc1","Addr":"127.0.0.2","Port":8300,"Datacenter":"dc1","Role":"server","Build":"0.8.0","Protocol":2,"Status":"alive","RTT":256478}"#
        );
    }

    #[test]
    fn keyring_request_body() {
        let b: KeyringRequestBody =
            serde_json::from_str(r#"{"Key":"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="}"#)
                .expect("parses");
        assert_eq!(b.key, "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=");
        assert!(decode::<KeyringRequestBody>(b"").is_err());
    }
}

/// Consul's `QueryMeta` as fields of a response body (endpoints that return a whole struct
/// embedding it: prepared-query explain, operator usage).
pub fn query_meta(resp: &praetor_rpc::QueryResponse) -> serde_json::Map<String, Value> {
    [
        ("Index", json!(resp.output.index.max(1))),
        ("LastContact", json!(resp.last_contact_ms * 1_000_000)),
        ("KnownLeader", json!(resp.known_leader)),
        ("ConsistencyLevel", json!(resp.consistency.as_str())),
        ("NotModified", json!(false)),
        ("Backend", json!(0)),
        ("ResultsFilteredByACLs", json!(false)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

// === prepared queries ===

/// A list as Go marshals a nil slice: `null` when empty.
fn list_or_null(v: &[String]) -> Value {
    if v.is_empty() { Value::Null } else { json!(v) }
}

/// A map as Go marshals a nil map: `null` when empty.
fn map_or_null(m: &BTreeMap<String, String>) -> Value {
    if m.is_empty() { Value::Null } else { json!(m) }
}

/// Consul's `structs.PreparedQuery`.
pub fn prepared_query(q: &praetor_state::PreparedQuery) -> Value {
    let s = &q.service;
    json!({
        "ID": q.id,
        "Name": q.name,
        "Session": q.session,
        "Token": q.token,
        "Template": {
            "Type": q.template.kind,
            "Regexp": q.template.regexp,
            "RemoveEmptyTags": q.template.remove_empty_tags,
        },
        "Service": {
            "Service": s.service,
            "SamenessGroup": "",
            "Failover": {
                "NearestN": s.failover.nearest_n,
                "Datacenters": list_or_null(&s.failover.datacenters),
                "Targets": null,
            },
            "OnlyPassing": s.only_passing,
            "IgnoreCheckIDs": list_or_null(&s.ignore_check_ids),
            "Near": s.near,
            "Tags": list_or_null(&s.tags),
            "NodeMeta": map_or_null(&s.node_meta),
            "ServiceMeta": map_or_null(&s.service_meta),
            "Connect": s.connect,
            "Peer": "",
        },
        "DNS": {"TTL": q.dns_ttl},
        "CreateIndex": q.create_index,
        "ModifyIndex": q.modify_index,
    })
}

/// The body of `POST /v1/query` and `PUT /v1/query/<id>` (unknown fields are refused, as
/// Consul's `decodeBody` does here).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PreparedQueryBody {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub session: String,
    pub token: String,
    pub template: QueryTemplateBody,
    pub service: ServiceQueryBody,
    #[serde(rename = "DNS")]
    pub dns: QueryDnsBody,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct QueryTemplateBody {
    #[serde(rename = "Type")]
    pub kind: String,
    pub regexp: String,
    pub remove_empty_tags: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceQueryBody {
    pub service: String,
    pub sameness_group: String,
    pub failover: QueryFailoverBody,
    pub only_passing: bool,
    #[serde(rename = "IgnoreCheckIDs")]
    pub ignore_check_ids: Vec<String>,
    pub near: String,
    pub tags: Vec<String>,
    pub node_meta: BTreeMap<String, String>,
    pub service_meta: BTreeMap<String, String>,
    pub connect: bool,
    pub peer: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct QueryFailoverBody {
    pub nearest_n: i64,
    pub datacenters: Vec<String>,
    pub targets: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct QueryDnsBody {
    #[serde(rename = "TTL")]
    pub ttl: String,
}
