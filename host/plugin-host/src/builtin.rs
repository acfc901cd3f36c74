//! The built-in components, embedded in the binary (built from `plugins/` by `build.rs`), and a
//! process-wide cache of their compiled form.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use wasmtime::Engine;
use wasmtime::component::Component;

/// One embedded component.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The plugin crate's name (shown in `list()`).
    pub name: &'static str,
    /// The slot it serves by default.
    pub slot: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! embedded {
    ($env:literal) => {
        include_bytes!(env!($env))
    };
}

/// `translate-wan-addrs`: Consul's `translate_wan_addrs`.
pub const TRANSLATE_WAN_ADDRS: Builtin = Builtin {
    name: "translate-wan-addrs",
    slot: "translator",
    bytes: embedded!("PRAETOR_WASM_TRANSLATE_WAN_ADDRS"),
};
/// `route-rtt`: Consul's RTT ranking and server choice.
pub const ROUTE_RTT: Builtin = Builtin {
    name: "route-rtt",
    slot: "router",
    bytes: embedded!("PRAETOR_WASM_ROUTE_RTT"),
};
/// `intentions-consul`: Consul's intention precedence and L7 permissions.
pub const INTENTIONS_CONSUL: Builtin = Builtin {
    name: "intentions-consul",
    slot: "intentions",
    bytes: embedded!("PRAETOR_WASM_INTENTIONS_CONSUL"),
};
/// `join-static`: `provider=static addrs="..."`.
pub const JOIN_STATIC: Builtin = Builtin {
    name: "join-static",
    slot: "join:static",
    bytes: embedded!("PRAETOR_WASM_JOIN_STATIC"),
};
/// `join-file`: `provider=file path=...`.
pub const JOIN_FILE: Builtin = Builtin {
    name: "join-file",
    slot: "join:file",
    bytes: embedded!("PRAETOR_WASM_JOIN_FILE"),
};
/// `join-dns`: `provider=dns name=... type=A|AAAA|SRV port=...`.
pub const JOIN_DNS: Builtin = Builtin {
    name: "join-dns",
    slot: "join:dns",
    bytes: embedded!("PRAETOR_WASM_JOIN_DNS"),
};
/// `route-prefer-region`: an example router preferring datacenters with given labels (not
/// installed by default; `praetor plugin new` and the docs point to it).
pub const ROUTE_PREFER_REGION: Builtin = Builtin {
    name: "route-prefer-region",
    slot: "router",
    bytes: embedded!("PRAETOR_WASM_ROUTE_PREFER_REGION"),
};

/// The built-in join providers, one slot each.
pub const JOIN_PROVIDERS: [Builtin; 3] = [JOIN_STATIC, JOIN_FILE, JOIN_DNS];

/// Every embedded component.
pub const ALL: [Builtin; 7] = [
    TRANSLATE_WAN_ADDRS,
    ROUTE_RTT,
    INTENTIONS_CONSUL,
    JOIN_STATIC,
    JOIN_FILE,
    JOIN_DNS,
    ROUTE_PREFER_REGION,
];

static COMPILED: OnceLock<Mutex<HashMap<&'static str, Component>>> = OnceLock::new();

/// The compiled form of a built-in, compiled once per process.
pub(crate) fn compiled(engine: &Engine, builtin: &Builtin) -> wasmtime::Result<Component> {
    let cache = COMPILED.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(map) = cache.lock()
        && let Some(c) = map.get(builtin.name)
    {
        return Ok(c.clone());
    }
    let component = Component::new(engine, builtin.bytes)?;
    if let Ok(mut map) = cache.lock() {
        map.insert(builtin.name, component.clone());
    }
    Ok(component)
}
