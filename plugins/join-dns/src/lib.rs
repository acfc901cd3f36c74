//! Join provider `dns`: `provider=dns name=servers.example type=A|AAAA|SRV port=8301` joins
//! the answers of a lookup through the host's `resolve` import (the operator must grant `dns`).
//! A/AAAA answers get `port` appended when given; SRV answers carry their own port. Logic:
//! `praetor_policy::discover::{dns_query, dns_addrs}`.

use praetor_plugin_sdk::{JoinProvider, discovery, export_plugin, json};
use praetor_policy::discover;

#[derive(Default)]
struct Dns;

impl JoinProvider for Dns {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        json::expect_empty_object(config_json)
    }

    fn discover(&mut self, args: &[(String, String)]) -> Result<Vec<String>, String> {
        discover_with(args, discovery::resolve)
    }
}

/// `discover` with the resolver as a parameter (the host import in the component).
fn discover_with(
    args: &[(String, String)],
    resolve: impl Fn(&str, &str) -> Result<Vec<String>, String>,
) -> Result<Vec<String>, String> {
    let query = discover::dns_query(args)?;
    let answers = resolve(&query.name, query.kind.as_str())
        .map_err(|e| format!("dns: {} {}: {e}", query.kind.as_str(), query.name))?;
    let addrs = discover::dns_addrs(&query, &answers);
    if addrs.is_empty() {
        return Err(format!(
            "dns: {} {}: no answers",
            query.kind.as_str(),
            query.name
        ));
    }
    Ok(addrs)
}

export_plugin!(join: Dns);

#[cfg(test)]
mod tests {
    use super::*;

    fn args(entry: &str) -> Vec<(String, String)> {
        discover::parse_args(entry).unwrap()
    }

    fn fake(name: &str, kind: &str) -> Result<Vec<String>, String> {
        match (name, kind) {
            ("servers.example", "A") => Ok(vec!["10.0.0.1".into(), "10.0.0.2".into()]),
            ("_serf._tcp.example", "SRV") => {
                Ok(vec!["a.example:8301".into(), "b.example:8302".into()])
            }
            ("empty.example", _) => Ok(vec![]),
            _ => Err("NXDOMAIN".into()),
        }
    }

    #[test]
    fn a_and_srv_lookups() {
        assert_eq!(
            discover_with(&args("provider=dns name=servers.example"), fake).unwrap(),
            ["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(
            discover_with(
                &args("provider=dns name=servers.example type=A port=8301"),
                fake
            )
            .unwrap(),
            ["10.0.0.1:8301", "10.0.0.2:8301"]
        );
        assert_eq!(
            discover_with(&args("provider=dns name=_serf._tcp.example type=SRV"), fake).unwrap(),
            ["a.example:8301", "b.example:8302"]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            discover_with(&args("provider=dns name=nope.example"), fake).unwrap_err(),
            "dns: A nope.example: NXDOMAIN"
        );
        assert_eq!(
            discover_with(&args("provider=dns name=empty.example"), fake).unwrap_err(),
            "dns: A empty.example: no answers"
        );
        assert!(
            discover_with(&args("provider=dns name=x type=TXT"), fake)
                .unwrap_err()
                .contains("type must be")
        );
        assert!(
            Dns.discover(&args("provider=dns name=x"))
                .unwrap_err()
                .ends_with(discovery::NATIVE)
        );
    }
}
