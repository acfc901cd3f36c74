//! Address translator: Consul's `translate_wan_addrs` (`praetor_policy::translate`), the same
//! code the agent runs natively.

use praetor_plugin_sdk::{AddressQuery, AddressTranslator, Presented, export_plugin, json};

#[derive(Default)]
struct TranslateWanAddrs;

impl AddressTranslator for TranslateWanAddrs {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        json::expect_empty_object(config_json)
    }

    fn translate(&self, query: &AddressQuery) -> Presented {
        praetor_policy::translate(query)
    }
}

export_plugin!(translator: TranslateWanAddrs);

#[cfg(test)]
mod tests {
    use super::*;
    use praetor_policy::{Accept, TaggedAddress};

    #[test]
    fn translates_remote_records() {
        let mut query = AddressQuery {
            local_datacenter: "dc1".into(),
            record_datacenter: "dc2".into(),
            enabled: true,
            address: "10.0.1.1".into(),
            port: 8080,
            tagged: vec![TaggedAddress::new("wan", "198.18.0.1", 80)],
            accept: Accept::ANY,
        };
        assert_eq!(
            TranslateWanAddrs.translate(&query),
            Presented {
                address: "198.18.0.1".into(),
                port: 80
            }
        );
        query.local_datacenter = "dc2".into();
        assert_eq!(
            TranslateWanAddrs.translate(&query),
            Presented {
                address: "10.0.1.1".into(),
                port: 8080
            }
        );
        assert_eq!(TranslateWanAddrs.configure("{}"), Ok(()));
    }
}
