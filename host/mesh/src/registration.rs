//! The catalog's form of a mesh proxy block (`praetor_config::ProxySpec` →
//! `praetor_state::ServiceProxy`), for agent and catalog registrations alike.

use serde_json::{Map, Value};

fn opaque(m: &Map<String, Value>) -> String {
    if m.is_empty() {
        String::new()
    } else {
        Value::Object(m.clone()).to_string()
    }
}

/// The stored proxy of a registration: gateway modes lower-cased, an empty upstream type
/// meaning `service`, opaque `Config` maps kept as JSON.
pub fn service_proxy(p: &praetor_config::ProxySpec) -> praetor_state::ServiceProxy {
    praetor_state::ServiceProxy {
        destination_service_name: p.destination_service_name.clone(),
        destination_service_id: p.destination_service_id.clone(),
        local_service_address: p.local_service_address.clone(),
        local_service_port: p.local_service_port,
        mode: p.mode.clone(),
        config_json: opaque(&p.config),
        mesh_gateway_mode: p.mesh_gateway_mode.to_ascii_lowercase(),
        upstreams: p
            .upstreams
            .iter()
            .map(|u| praetor_state::Upstream {
                destination_type: if u.destination_type.is_empty() {
                    "service".into()
                } else {
                    u.destination_type.clone()
                },
                destination_name: u.destination_name.clone(),
                datacenter: u.datacenter.clone(),
                local_bind_address: u.local_bind_address.clone(),
                local_bind_port: u.local_bind_port,
                mesh_gateway_mode: u.mesh_gateway_mode.to_ascii_lowercase(),
                config_json: opaque(&u.config),
            })
            .collect(),
    }
}
