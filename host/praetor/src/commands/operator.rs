//! `praetor operator raft list-peers`: the Raft configuration as Consul's table.

use anyhow::anyhow;
use serde::Deserialize;
use serde_json::Value;

use super::Outcome;
use crate::cli::HttpOnly;
use crate::client::Client;
use crate::table::columnize;

/// `/v1/operator/raft/configuration`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RaftConfiguration {
    #[serde(default)]
    pub servers: Vec<RaftServer>,
}

/// One server of the Raft configuration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RaftServer {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub leader: bool,
    #[serde(default)]
    pub voter: bool,
    /// A string in Consul (`"3"`); a number is accepted too.
    #[serde(default)]
    pub protocol_version: Value,
}

/// `Node  ID  Address  State  Voter  RaftProtocol`
pub fn peers_table(config: &RaftConfiguration) -> String {
    let mut rows = vec![
        ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]
            .map(String::from)
            .to_vec(),
    ];
    for s in &config.servers {
        let protocol = match &s.protocol_version {
            Value::String(v) if !v.is_empty() => v.clone(),
            Value::Number(n) => n.to_string(),
            _ => "<=1".to_string(),
        };
        let state = if s.leader { "leader" } else { "follower" };
        rows.push(vec![
            s.node.clone(),
            s.id.clone(),
            s.address.clone(),
            state.to_string(),
            s.voter.to_string(),
            protocol,
        ]);
    }
    columnize(&rows)
}

/// `GET /v1/operator/raft/configuration`
pub fn list_peers(args: &HttpOnly) -> Outcome {
    let client = Client::from_args(&args.http);
    let config: RaftConfiguration = client
        .get_json("/v1/operator/raft/configuration", &[])
        .map_err(|e| anyhow!("Failed to retrieve raft configuration: {e}"))?;
    println!("{}", peers_table(&config));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_table_matches_consul() {
        let config: RaftConfiguration = serde_json::from_value(serde_json::json!({
            "Servers": [
                {"ID": "id-1", "Node": "server-1", "Address": "127.0.1.1:8300",
                 "Leader": true, "Voter": true, "ProtocolVersion": "3"},
                {"ID": "id-2", "Node": "server-2", "Address": "127.0.1.2:8300",
                 "Leader": false, "Voter": false, "ProtocolVersion": 3},
                {"ID": "id-3", "Node": "server-3", "Address": "127.0.1.3:8300",
                 "Leader": false, "Voter": true}
            ],
            "Index": 7
        }))
        .expect("valid");
        assert_eq!(
            peers_table(&config),
            "Node      ID    Address         State     Voter  RaftProtocol\n\
             server-1  id-1  127.0.1.1:8300  leader    true   3\n\
             server-2  id-2  127.0.1.2:8300  follower  false  3\n\
             server-3  id-3  127.0.1.3:8300  follower  true   <=1"
        );
    }
}
