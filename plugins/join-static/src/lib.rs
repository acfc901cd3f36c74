//! Join provider `static`: `provider=static addrs="10.0.0.1 10.0.0.2:8301"` joins the listed
//! addresses (whitespace separated). Logic: `praetor_policy::discover::static_addrs`.

use praetor_plugin_sdk::{JoinProvider, export_plugin, json};
use praetor_policy::discover;

#[derive(Default)]
struct Static;

impl JoinProvider for Static {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        json::expect_empty_object(config_json)
    }

    fn discover(&mut self, args: &[(String, String)]) -> Result<Vec<String>, String> {
        discover::static_addrs(args)
    }
}

export_plugin!(join: Static);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_addresses() {
        let args =
            discover::parse_args(r#"provider=static addrs="10.0.0.1 10.0.0.2:8301""#).unwrap();
        assert_eq!(
            Static.discover(&args).unwrap(),
            ["10.0.0.1", "10.0.0.2:8301"]
        );
        assert_eq!(
            Static.discover(&[]).unwrap_err(),
            "static: addrs is required"
        );
        assert!(Static.configure(r#"{"addrs": "x"}"#).is_err());
    }
}
