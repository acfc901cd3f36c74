//! Test translator: with `{"address": "X"}` it presents X for every node and service record
//! (ports unchanged), so an agent's answers show which configuration is loaded; with `{}` it
//! behaves like the built-in. Used by the hot-swap tests.

use praetor_plugin_sdk::{AddressQuery, AddressTranslator, Presented, export_plugin, json};

#[derive(Default)]
struct Fixed {
    address: Option<String>,
}

impl AddressTranslator for Fixed {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        let v = json::parse(config_json).map_err(|e| e.to_string())?;
        if v.as_object().is_none() {
            return Err("config must be an object".into());
        }
        self.address = match v.get("address") {
            None => None,
            Some(a) => Some(a.as_str().ok_or("address must be a string")?.to_string()),
        };
        Ok(())
    }

    fn translate(&self, query: &AddressQuery) -> Presented {
        match &self.address {
            Some(a) => Presented { address: a.clone(), port: query.port },
            None => praetor_policy::translate(query),
        }
    }
}

export_plugin!(translator: Fixed);

#[cfg(test)]
mod tests {
    use super::*;
    use praetor_policy::Accept;

    #[test]
    fn presents_the_configured_address() {
        let q = AddressQuery {
            local_datacenter: "dc1".into(),
            record_datacenter: "dc1".into(),
            enabled: false,
            address: "127.0.0.1".into(),
            port: 80,
            tagged: vec![],
            accept: Accept::ANY,
        };
        let mut f = Fixed::default();
        assert_eq!(f.translate(&q).address, "127.0.0.1");
        f.configure(r#"{"address":"10.9.9.9"}"#).unwrap();
        assert_eq!(f.translate(&q), Presented { address: "10.9.9.9".into(), port: 80 });
        assert!(f.configure(r#"{"address":1}"#).is_err());
    }
}
