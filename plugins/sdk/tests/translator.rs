//! The translator glue end to end (natively): `__export_slot!` as `export_plugin!` uses it,
//! the WIT-side `Guest` calls, the conversions and the per-instance state.

use praetor_plugin_sdk::bindings::lifecycle::exports::praetor::plugins::lifecycle::Guest as Lifecycle;
use praetor_plugin_sdk::bindings::translator::exports::praetor::plugins::translation::{
    self as wit, Guest,
};
use praetor_plugin_sdk::{AddressQuery, AddressTranslator, Presented, json};

/// Echoes what it received so the conversion can be checked; `configure` sets a prefix.
#[derive(Default)]
struct Echo {
    prefix: String,
}

impl AddressTranslator for Echo {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        let config = json::parse(config_json).map_err(|e| e.to_string())?;
        self.prefix = config
            .get("prefix")
            .and_then(|v| v.as_str())
            .ok_or("prefix: required")?
            .to_string();
        Ok(())
    }

    fn translate(&self, q: &AddressQuery) -> Presented {
        let tags: Vec<String> = q
            .tagged
            .iter()
            .map(|t| format!("{}={}:{}", t.key, t.address, t.port))
            .collect();
        let accept = format!(
            "{}{}{}",
            u8::from(q.accept.ipv4),
            u8::from(q.accept.ipv6),
            u8::from(q.accept.domain)
        );
        Presented {
            address: format!(
                "{}|{}|{}|{}|{}|{}|{}",
                self.prefix,
                q.local_datacenter,
                q.record_datacenter,
                q.enabled,
                q.address,
                tags.join(","),
                accept
            ),
            port: q.port + 1,
        }
    }
}

praetor_plugin_sdk::__export_slot!(
    TestSlot,
    Echo,
    praetor_plugin_sdk::AddressTranslator,
    __export_translator_exports_impl,
    translator
);

#[test]
fn configure_then_translate_through_the_wit_types() {
    assert_eq!(
        <TestSlot as Lifecycle>::configure("{}".to_string()),
        Err("prefix: required".to_string())
    );
    assert_eq!(
        <TestSlot as Lifecycle>::configure(r#"{"prefix": "p"}"#.to_string()),
        Ok(())
    );
    <TestSlot as Guest>::set_agent("dc1".into(), true);
    let query = |key| wit::AddressQuery {
        record_datacenter: "dc2".into(),
        address: "10.0.0.1".into(),
        port: 8080,
        tagged: vec![wit::TaggedAddress {
            key,
            address: "198.18.0.1".into(),
            port: 80,
        }],
        accept: wit::Accept::IPV4 | wit::Accept::DOMAIN,
    };
    let out = <TestSlot as Guest>::translate(query(wit::AddressKey::Wan));
    assert_eq!(out.address, "p|dc1|dc2|true|10.0.0.1|wan=198.18.0.1:80|101");
    assert_eq!(out.port, 8081);
    // Every well-known key is spelled as the catalog spells it; others arrive as they are.
    for (key, spelled) in [
        (wit::AddressKey::Lan, "lan"),
        (wit::AddressKey::LanIpv4, "lan_ipv4"),
        (wit::AddressKey::WanIpv4, "wan_ipv4"),
        (wit::AddressKey::LanIpv6, "lan_ipv6"),
        (wit::AddressKey::WanIpv6, "wan_ipv6"),
        (wit::AddressKey::Other("public".into()), "public"),
    ] {
        let out = <TestSlot as Guest>::translate(query(key));
        assert!(
            out.address.contains(&format!("|{spelled}=198.18.0.1:80|")),
            "{}",
            out.address
        );
    }
    // The agent part stays until it is given again.
    <TestSlot as Guest>::set_agent("dc3".into(), false);
    let out = <TestSlot as Guest>::translate(query(wit::AddressKey::Wan));
    assert_eq!(
        out.address,
        "p|dc3|dc2|false|10.0.0.1|wan=198.18.0.1:80|101"
    );
}
