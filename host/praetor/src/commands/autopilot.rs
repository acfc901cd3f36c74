//! `praetor operator autopilot get-config|set-config|state` and `praetor operator raft
//! remove-peer|transfer-leader`, with Consul's output.

use anyhow::anyhow;
use clap::{ArgAction, Args, Subcommand};
use serde_json::Value;

use super::Outcome;
use crate::cli::{HttpArgs, HttpOnly};
use crate::client::Client;

/// `praetor operator autopilot ...`
#[derive(Debug, Subcommand)]
pub enum AutopilotCommand {
    /// Display the current Autopilot configuration
    #[command(name = "get-config")]
    GetConfig(HttpOnly),
    /// Modify the current Autopilot configuration
    #[command(name = "set-config")]
    SetConfig(SetConfigArgs),
    /// Display the current Autopilot state
    State(StateArgs),
}

/// `praetor operator autopilot set-config [flags]`: only the flags given change.
#[derive(Debug, Args)]
pub struct SetConfigArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Remove dead servers from raft automatically
    #[arg(long = "cleanup-dead-servers", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub cleanup_dead_servers: Option<bool>,
    /// Log entries a server may trail the leader by and stay healthy
    #[arg(long = "max-trailing-logs", value_name = "N")]
    pub max_trailing_logs: Option<u64>,
    /// Cleanup never leaves fewer voters than this
    #[arg(long = "min-quorum", value_name = "N")]
    pub min_quorum: Option<u64>,
    /// How long since the leader's last contact a server stays healthy
    #[arg(long = "last-contact-threshold", value_name = "DURATION")]
    pub last_contact_threshold: Option<String>,
    /// How long a new server must be healthy before it is stable
    #[arg(long = "server-stabilization-time", value_name = "DURATION")]
    pub server_stabilization_time: Option<String>,
}

/// `praetor operator autopilot state [-format pretty|json]`
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Output format: pretty or json
    #[arg(long, value_name = "FORMAT", default_value = "pretty")]
    pub format: String,
}

/// `praetor operator raft remove-peer -id=ID | -address=IP:PORT`
#[derive(Debug, Args)]
pub struct RemovePeerArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The raft ID of the server to remove
    #[arg(long, value_name = "ID", default_value = "")]
    pub id: String,
    /// The address (IP:port) of the server to remove
    #[arg(long, value_name = "ADDR", default_value = "")]
    pub address: String,
}

/// `praetor operator raft transfer-leader [-id=ID]`
#[derive(Debug, Args)]
pub struct TransferLeaderArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The raft ID of the server to hand leadership to
    #[arg(long, value_name = "ID", default_value = "")]
    pub id: String,
}

/// Asks the agent to transfer raft leadership (praetor's agents refuse: see the API).
pub fn transfer_leader(a: &TransferLeaderArgs) -> Outcome {
    let query: Vec<(&str, &str)> = if a.id.is_empty() {
        Vec::new()
    } else {
        vec![("id", a.id.as_str())]
    };
    Client::from_args(&a.http)
        .post("/v1/operator/raft/transfer-leader", &query, None)
        .map_err(|e| anyhow!("Error transfering leadership: {e}"))?;
    println!("Success");
    Ok(0)
}

const PATH: &str = "/v1/operator/autopilot/configuration";

/// Consul's `get-config` lines.
fn config_lines(c: &Value) -> String {
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    [
        format!("CleanupDeadServers = {}", c["CleanupDeadServers"]),
        format!("LastContactThreshold = {}", s("LastContactThreshold")),
        format!("MaxTrailingLogs = {}", c["MaxTrailingLogs"]),
        format!("MinQuorum = {}", c["MinQuorum"]),
        format!("ServerStabilizationTime = {}", s("ServerStabilizationTime")),
        format!("RedundancyZoneTag = {:?}", s("RedundancyZoneTag")),
        format!("DisableUpgradeMigration = {}", c["DisableUpgradeMigration"]),
        format!("UpgradeVersionTag = {:?}", s("UpgradeVersionTag")),
    ]
    .join("\n")
}

pub fn run(cmd: &AutopilotCommand) -> Outcome {
    match cmd {
        AutopilotCommand::GetConfig(a) => {
            let c: Value = Client::from_args(&a.http)
                .get_json(PATH, &[])
                .map_err(|e| anyhow!("Error querying Autopilot configuration: {e}"))?;
            println!("{}", config_lines(&c));
            Ok(0)
        }
        AutopilotCommand::SetConfig(a) => set_config(a),
        AutopilotCommand::State(a) => state(a),
    }
}

fn set_config(a: &SetConfigArgs) -> Outcome {
    let client = Client::from_args(&a.http);
    let mut c: Value = client
        .get_json(PATH, &[])
        .map_err(|e| anyhow!("Error querying Autopilot configuration: {e}"))?;
    if let Some(v) = a.cleanup_dead_servers {
        c["CleanupDeadServers"] = v.into();
    }
    if let Some(v) = a.max_trailing_logs {
        c["MaxTrailingLogs"] = v.into();
    }
    if let Some(v) = a.min_quorum {
        c["MinQuorum"] = v.into();
    }
    if let Some(v) = &a.last_contact_threshold {
        c["LastContactThreshold"] = v.clone().into();
    }
    if let Some(v) = &a.server_stabilization_time {
        c["ServerStabilizationTime"] = v.clone().into();
    }
    let index = c["ModifyIndex"].as_u64().unwrap_or(0).to_string();
    if let Some(o) = c.as_object_mut() {
        o.remove("CreateIndex");
        o.remove("ModifyIndex");
    }
    let body = client
        .put(PATH, &[("cas", &index)], Some(c.to_string().as_bytes()))
        .map_err(|e| anyhow!("Error setting Autopilot configuration: {e}"))?;
    if crate::client::parse_bool_body(&body) {
        println!("Configuration updated!");
        Ok(0)
    } else {
        println!("Configuration could not be atomically updated, please try again");
        Ok(1)
    }
}

fn state(a: &StateArgs) -> Outcome {
    let s: Value = Client::from_args(&a.http)
        .get_json("/v1/operator/autopilot/state", &[])
        .map_err(|e| anyhow!("Failed to get autopilot state: {e}"))?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&s)?),
        "pretty" => print!("{}", state_pretty(&s)),
        other => return Err(anyhow!("Unknown format: {other}")),
    }
    Ok(0)
}

/// Consul's pretty layout of the autopilot state.
fn state_pretty(s: &Value) -> String {
    let mut out = format!(
        "Healthy:                      {}\nFailure Tolerance:            {}\nOptimistic Failure Tolerance: {}\nLeader:                       {}\nVoters:\n",
        s["Healthy"],
        s["FailureTolerance"],
        s["OptimisticFailureTolerance"],
        s["Leader"].as_str().unwrap_or_default()
    );
    for v in s["Voters"].as_array().into_iter().flatten() {
        out.push_str(&format!("   {}\n", v.as_str().unwrap_or_default()));
    }
    out.push_str("Servers:\n");
    if let Some(servers) = s["Servers"].as_object() {
        for (id, srv) in servers {
            let t = |k: &str| {
                srv[k]
                    .as_str()
                    .map_or_else(|| srv[k].to_string(), String::from)
            };
            out.push_str(&format!(
                "   {id}\n      Name:            {}\n      Address:         {}\n      Version:         {}\n      Status:          {}\n      Node Type:       {}\n      Node Status:     {}\n      Healthy:         {}\n      Last Contact:    {}\n      Last Term:       {}\n      Last Index:      {}\n",
                t("Name"),
                t("Address"),
                t("Version"),
                t("Status"),
                t("NodeType"),
                t("NodeStatus"),
                t("Healthy"),
                t("LastContact"),
                t("LastTerm"),
                t("LastIndex"),
            ));
        }
    }
    out
}

pub fn remove_peer(a: &RemovePeerArgs) -> Outcome {
    let query: Vec<(&str, &str)> = match (a.id.is_empty(), a.address.is_empty()) {
        (true, true) => {
            return Err(anyhow!(
                "Error removing peer: Must specify either -id or -address"
            ));
        }
        (false, false) => {
            return Err(anyhow!(
                "Error removing peer: Must specify only one of -id or -address"
            ));
        }
        (false, true) => vec![("id", &a.id)],
        (true, false) => vec![("address", &a.address)],
    };
    Client::from_args(&a.http)
        .delete("/v1/operator/raft/peer", &query)
        .map_err(|e| anyhow!("Error removing peer: {e}"))?;
    if a.id.is_empty() {
        println!("Removed peer with address {:?}", a.address);
    } else {
        println!("Removed peer with id {:?}", a.id);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn get_config_prints_consuls_lines() {
        let c = json!({"CleanupDeadServers": true, "LastContactThreshold": "200ms",
            "MaxTrailingLogs": 250, "MinQuorum": 0, "ServerStabilizationTime": "10s",
            "RedundancyZoneTag": "", "DisableUpgradeMigration": false, "UpgradeVersionTag": ""});
        assert_eq!(
            config_lines(&c),
            "CleanupDeadServers = true\nLastContactThreshold = 200ms\nMaxTrailingLogs = 250\nMinQuorum = 0\nServerStabilizationTime = 10s\nRedundancyZoneTag = \"\"\nDisableUpgradeMigration = false\nUpgradeVersionTag = \"\""
        );
    }
}
