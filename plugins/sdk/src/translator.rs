//! Address translators (world `address-translator`): the [`AddressTranslator`] trait and its
//! bridge to the generated bindings.

use std::cell::RefCell;

use crate::bindings::translator::exports::praetor::plugins::translation as wit;
use crate::slot::Slot;
use praetor_policy::translate::{
    Accept, AddressQuery, Presented, TAGGED_LAN, TAGGED_LAN_IPV4, TAGGED_LAN_IPV6, TAGGED_WAN,
    TAGGED_WAN_IPV4, TAGGED_WAN_IPV6, TaggedAddress,
};

/// Chooses the address and port an agent presents for a node or service record (Consul's
/// `translate_wan_addrs`). Export with `export_plugin!(translator: MyType)`.
///
/// ```
/// use praetor_plugin_sdk::{AddressQuery, AddressTranslator, Presented};
///
/// /// Presents every remote record under a fixed gateway address, keeping its port.
/// #[derive(Default)]
/// struct Gateway {
///     address: String,
/// }
///
/// impl AddressTranslator for Gateway {
///     fn configure(&mut self, config_json: &str) -> Result<(), String> {
///         let config = praetor_plugin_sdk::json::parse(config_json).map_err(|e| e.to_string())?;
///         let address = config.get("gateway").and_then(|v| v.as_str()).ok_or("gateway: required")?;
///         self.address = address.to_string();
///         Ok(())
///     }
///
///     fn translate(&self, query: &AddressQuery) -> Presented {
///         if query.record_datacenter == query.local_datacenter {
///             return praetor_plugin_sdk::policy::translate(query);
///         }
///         Presented { address: self.address.clone(), port: query.port }
///     }
/// }
///
/// let mut gateway = Gateway::default();
/// gateway.configure(r#"{"gateway": "198.18.0.1"}"#).unwrap();
/// let query = AddressQuery {
///     local_datacenter: "dc1".into(),
///     record_datacenter: "dc2".into(),
///     address: "10.0.0.5".into(),
///     port: 8080,
///     ..AddressQuery::default()
/// };
/// assert_eq!(gateway.translate(&query), Presented { address: "198.18.0.1".into(), port: 8080 });
///
/// praetor_plugin_sdk::export_plugin!(translator: Gateway);
/// ```
pub trait AddressTranslator: Default + 'static {
    /// Applies the slot's `config = { ... }` block (a JSON object, `{}` when none). Called once
    /// before any other call and again when the configuration changes; an `Err` makes the host
    /// refuse the component. The default accepts any configuration.
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        let _ = config_json;
        Ok(())
    }

    /// What to present for `query`; an empty address means none of an accepted family.
    /// Must not fail (a trap makes the host use its built-in translator for that call).
    fn translate(&self, query: &AddressQuery) -> Presented;
}

impl<S> wit::Guest for S
where
    S: Slot,
    S::Plugin: AddressTranslator,
{
    fn set_agent(local_datacenter: String, enabled: bool) {
        QUERY.with(|q| {
            let mut q = q.borrow_mut();
            q.local_datacenter = local_datacenter;
            q.enabled = enabled;
        });
    }

    fn translate(query: wit::AddressQuery) -> wit::Presented {
        QUERY.with(|q| {
            let mut q = q.borrow_mut();
            q.record_datacenter = query.record_datacenter;
            q.address = query.address;
            q.port = query.port;
            q.tagged.clear();
            q.tagged
                .extend(query.tagged.into_iter().map(|t| TaggedAddress {
                    key: key(t.key),
                    address: t.address,
                    port: t.port,
                }));
            q.accept = Accept {
                ipv4: query.accept.contains(wit::Accept::IPV4),
                ipv6: query.accept.contains(wit::Accept::IPV6),
                domain: query.accept.contains(wit::Accept::DOMAIN),
            };
            let presented = S::with(|plugin| plugin.translate(&q));
            wit::Presented {
                address: presented.address,
                port: presented.port,
            }
        })
    }
}

thread_local! {
    /// The query handed to the plugin: the agent's part as `set-agent` last gave it, the
    /// record's part replaced by each `translate` (its list keeps its capacity).
    static QUERY: RefCell<AddressQuery> = RefCell::new(AddressQuery::default());
}

/// The catalog's spelling of a tagged-address key.
fn key(k: wit::AddressKey) -> String {
    match k {
        wit::AddressKey::Lan => TAGGED_LAN.to_owned(),
        wit::AddressKey::Wan => TAGGED_WAN.to_owned(),
        wit::AddressKey::LanIpv4 => TAGGED_LAN_IPV4.to_owned(),
        wit::AddressKey::WanIpv4 => TAGGED_WAN_IPV4.to_owned(),
        wit::AddressKey::LanIpv6 => TAGGED_LAN_IPV6.to_owned(),
        wit::AddressKey::WanIpv6 => TAGGED_WAN_IPV6.to_owned(),
        wit::AddressKey::Other(other) => other,
    }
}
