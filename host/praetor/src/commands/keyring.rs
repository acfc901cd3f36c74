//! `praetor keyring`: list, install, use and remove gossip encryption keys through
//! `/v1/operator/keyring`, with Consul's flags, messages and output.

use std::collections::BTreeMap;

use anyhow::anyhow;
use serde::Deserialize;

use super::Outcome;
use crate::cli::KeyringArgs;
use crate::client::Client;

const PATH: &str = "/v1/operator/keyring";

/// One pool's answer (`GET /v1/operator/keyring`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyringResponse {
    #[serde(rename = "WAN")]
    pub wan: bool,
    pub datacenter: String,
    pub segment: String,
    #[serde(deserialize_with = "super::null_as_default")]
    pub messages: BTreeMap<String, String>,
    #[serde(deserialize_with = "super::null_as_default")]
    pub keys: BTreeMap<String, u64>,
    #[serde(deserialize_with = "super::null_as_default")]
    pub primary_keys: BTreeMap<String, u64>,
    pub num_nodes: u64,
}

/// The action asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    List,
    ListPrimary,
    Install(String),
    Use(String),
    Remove(String),
}

/// Consul's checks, in its order: exactly one action (none: the help), a relay factor in
/// [0, 5], `-local-only` only with `-list`.
pub fn action(args: &KeyringArgs) -> Result<Action, String> {
    let non_empty = |v: &Option<String>| v.clone().filter(|k| !k.is_empty());
    let mut actions = Vec::new();
    if args.list {
        actions.push(Action::List);
    }
    if args.list_primary {
        actions.push(Action::ListPrimary);
    }
    if let Some(k) = non_empty(&args.install) {
        actions.push(Action::Install(k));
    }
    if let Some(k) = non_empty(&args.use_key) {
        actions.push(Action::Use(k));
    }
    if let Some(k) = non_empty(&args.remove) {
        actions.push(Action::Remove(k));
    }
    if actions.is_empty() {
        return Err(help());
    }
    if actions.len() > 1 {
        return Err("Only a single action is allowed".into());
    }
    if !(0..=5).contains(&args.relay_factor) {
        return Err(
            "Error parsing relay factor: Relay factor must be in range: [0, 5]".to_string(),
        );
    }
    // As Consul: only -list may be combined with -local-only (not -list-primary).
    if args.local_only && !args.list {
        return Err(
            "Error validating local-only: local-only can only be set for list requests".into(),
        );
    }
    Ok(actions.remove(0))
}

fn help() -> String {
    super::subcommand_help(&["keyring"], "Usage: praetor keyring [options]")
}

/// `<dc> (LAN)` or `WAN`, with ` [<segment>]`, then `:`.
fn pool_name(r: &KeyringResponse) -> String {
    let mut pool = if r.wan {
        "WAN".to_string()
    } else {
        format!("{} (LAN)", r.datacenter)
    };
    if !r.segment.is_empty() {
        pool.push_str(&format!(" [{}]", r.segment));
    }
    pool.push(':');
    pool
}

/// One pool's block: a blank line, the pool name, its members' messages, then
/// `  <key> [<count>/<nodes>]` lines (keys sorted).
pub fn format_response(r: &KeyringResponse, keys: &BTreeMap<String, u64>) -> String {
    let mut lines = vec![String::new(), pool_name(r)];
    for (from, msg) in &r.messages {
        lines.push(format!("  ===> {from}: {msg}"));
    }
    for (key, n) in keys {
        lines.push(format!("  {key} [{n}/{}]", r.num_nodes));
    }
    lines.join("\n")
}

/// Runs the action against the agent.
pub fn run(args: &KeyringArgs) -> Outcome {
    let action = action(args).map_err(|e| anyhow!(e))?;
    let client = Client::from_args(&args.http);
    let relay = args.relay_factor.to_string();
    let mut query: Vec<(&str, &str)> = Vec::new();
    if args.relay_factor != 0 {
        query.push(("relay-factor", &relay));
    }
    let fail = |e| anyhow!("error: {e}");
    let body = |key: &str| serde_json::json!({ "Key": key }).to_string().into_bytes();
    match action {
        Action::List | Action::ListPrimary => {
            let primary = action == Action::ListPrimary;
            if primary {
                println!("==> Gathering installed primary encryption keys...");
            } else {
                println!("==> Gathering installed encryption keys...");
            }
            if args.local_only {
                query.push(("local-only", "true"));
            }
            let responses: Vec<KeyringResponse> = client.get_json(PATH, &query).map_err(fail)?;
            for r in &responses {
                let keys = if primary { &r.primary_keys } else { &r.keys };
                println!("{}", format_response(r, keys));
            }
        }
        Action::Install(key) => {
            println!("==> Installing new gossip encryption key...");
            client.post(PATH, &query, Some(&body(&key))).map_err(fail)?;
        }
        Action::Use(key) => {
            println!("==> Changing primary gossip encryption key...");
            client.put(PATH, &query, Some(&body(&key))).map_err(fail)?;
        }
        Action::Remove(key) => {
            println!("==> Removing gossip encryption key...");
            client
                .delete_with_body(PATH, &query, Some(&body(&key)))
                .map_err(fail)?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, HttpArgs};

    fn parse(args: &[&str]) -> KeyringArgs {
        let args: Vec<&str> = std::iter::once("keyring")
            .chain(args.iter().copied())
            .collect();
        match crate::cli::parse_for_test(&args).command {
            Command::Keyring(k) => k,
            other => panic!("expected keyring, got {other:?}"),
        }
    }

    #[test]
    fn exactly_one_action() {
        assert_eq!(action(&parse(&["-list"])), Ok(Action::List));
        assert_eq!(action(&parse(&["-list-primary"])), Ok(Action::ListPrimary));
        assert_eq!(
            action(&parse(&["-install=k1", "-relay-factor=5"])),
            Ok(Action::Install("k1".into()))
        );
        assert_eq!(
            action(&parse(&["-use", "k2"])),
            Ok(Action::Use("k2".into()))
        );
        assert_eq!(
            action(&parse(&["-remove=k3"])),
            Ok(Action::Remove("k3".into()))
        );
        assert_eq!(
            action(&parse(&["-list", "-install=k"])),
            Err("Only a single action is allowed".into())
        );
        assert_eq!(
            action(&parse(&["-list", "-list-primary"])),
            Err("Only a single action is allowed".into())
        );
        // An empty key is no action: the help.
        let help = action(&parse(&["-install="])).unwrap_err();
        assert!(
            help.contains("-install") || help.contains("--install"),
            "{help}"
        );
        assert!(action(&parse(&[])).is_err());
    }

    #[test]
    fn relay_factor_and_local_only_are_validated() {
        assert_eq!(
            action(&parse(&["-list", "-relay-factor=6"])),
            Err("Error parsing relay factor: Relay factor must be in range: [0, 5]".into())
        );
        assert_eq!(
            action(&parse(&["-list", "-relay-factor", "-1"])),
            Err("Error parsing relay factor: Relay factor must be in range: [0, 5]".into())
        );
        assert_eq!(action(&parse(&["-list", "-local-only"])), Ok(Action::List));
        assert_eq!(
            action(&parse(&["-use=k", "-local-only"])),
            Err("Error validating local-only: local-only can only be set for list requests".into())
        );
    }

    #[test]
    fn list_output_matches_consul() {
        let responses: Vec<KeyringResponse> = serde_json::from_value(serde_json::json!([
            {"WAN": true, "Datacenter": "dc1", "Segment": "",
             "Keys": {"pUqJ=": 3, "ZWTL=": 1}, "PrimaryKeys": {"pUqJ=": 3}, "NumNodes": 3},
            {"WAN": false, "Datacenter": "dc1", "Segment": "",
             "Messages": {"node-2": "key not found"},
             "Keys": {"pUqJ=": 2}, "PrimaryKeys": null, "NumNodes": 2}
        ]))
        .expect("valid");
        assert_eq!(
            format_response(&responses[0], &responses[0].keys),
            "\nWAN:\n  ZWTL= [1/3]\n  pUqJ= [3/3]"
        );
        assert_eq!(
            format_response(&responses[0], &responses[0].primary_keys),
            "\nWAN:\n  pUqJ= [3/3]"
        );
        assert_eq!(
            format_response(&responses[1], &responses[1].keys),
            "\ndc1 (LAN):\n  ===> node-2: key not found\n  pUqJ= [2/2]"
        );
        let seg = KeyringResponse {
            segment: "alpha".into(),
            ..responses[1].clone()
        };
        assert!(format_response(&seg, &BTreeMap::new()).starts_with("\ndc1 (LAN) [alpha]:"));
    }

    #[test]
    fn http_flags_are_shared() {
        let k = parse(&["-list", "-http-addr=127.0.9.1:8500"]);
        assert!(matches!(
            k.http,
            HttpArgs {
                http_addr: Some(_),
                ..
            }
        ));
    }
}
