//! `praetor info` (the agent's stats by section) and `praetor reload`.

use std::collections::BTreeMap;

use anyhow::anyhow;
use serde::Deserialize;
use serde_json::Value;

use super::Outcome;
use crate::cli::HttpOnly;
use crate::client::Client;

/// The part of `/v1/agent/self` that `info` prints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentSelf {
    #[serde(default)]
    pub stats: BTreeMap<String, BTreeMap<String, Value>>,
}

/// `section:` lines followed by `\tkey = value`, everything sorted (Consul's layout).
pub fn format_stats(stats: &BTreeMap<String, BTreeMap<String, Value>>) -> String {
    let mut out = Vec::new();
    for (section, values) in stats {
        out.push(format!("{section}:"));
        for (key, value) in values {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            out.push(format!("\t{key} = {text}"));
        }
    }
    out.join("\n")
}

/// `GET /v1/agent/self`
pub fn info(args: &HttpOnly) -> Outcome {
    let client = Client::from_args(&args.http);
    let me: AgentSelf = client
        .get_json("/v1/agent/self", &[])
        .map_err(|e| anyhow!("Error querying agent: {e}"))?;
    let text = format_stats(&me.stats);
    if !text.is_empty() {
        println!("{text}");
    }
    Ok(0)
}

/// `PUT /v1/agent/reload`
pub fn reload(args: &HttpOnly) -> Outcome {
    let client = Client::from_args(&args.http);
    client
        .put("/v1/agent/reload", &[], None)
        .map_err(|e| anyhow!("Error reloading: {e}"))?;
    println!("Configuration reload triggered");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_printed_by_section() {
        let me: AgentSelf = serde_json::from_value(serde_json::json!({
            "Config": {"NodeName": "n1"},
            "Stats": {
                "raft": {"state": "Leader", "applied_index": "12"},
                "agent": {"services": 2, "checks": "1"}
            }
        }))
        .expect("valid");
        assert_eq!(
            format_stats(&me.stats),
            "agent:\n\tchecks = 1\n\tservices = 2\nraft:\n\tapplied_index = 12\n\tstate = Leader"
        );
    }
}
