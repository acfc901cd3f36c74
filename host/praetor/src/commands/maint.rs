//! `praetor maint`: node and service maintenance mode, or (no flags) the list of what is in
//! maintenance on the agent, with Consul's texts; and `praetor monitor`, the agent's log stream.

use std::collections::BTreeMap;

use anyhow::anyhow;
use serde::Deserialize;

use super::Outcome;
use crate::cli::MaintArgs;
use crate::client::{Client, escape_segment};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Check {
    #[serde(rename = "CheckID")]
    check_id: String,
    #[serde(default)]
    notes: String,
    #[serde(rename = "ServiceID", default)]
    service_id: String,
    #[serde(default)]
    node: String,
}

const NODE_CHECK: &str = "_node_maintenance";
const SERVICE_CHECK_PREFIX: &str = "_service_maintenance:";

fn list(client: &Client) -> Outcome {
    let checks: BTreeMap<String, Check> = client
        .get_json("/v1/agent/checks", &[])
        .map_err(|e| anyhow!("Error getting checks: {e}"))?;
    for c in checks.values() {
        if c.check_id == NODE_CHECK {
            println!("Node:\n  Name:   {}\n  Reason: {}\n", c.node, c.notes);
        } else if c.check_id.starts_with(SERVICE_CHECK_PREFIX) {
            println!(
                "Service:\n  ID:     {}\n  Reason: {}\n",
                c.service_id, c.notes
            );
        }
    }
    Ok(0)
}

pub fn run(args: &MaintArgs) -> Outcome {
    if args.enable && args.disable {
        return Err(anyhow!("Only one of -enable or -disable may be provided"));
    }
    if !args.enable && !args.reason.is_empty() {
        return Err(anyhow!("Reason may only be provided with -enable"));
    }
    if !args.enable && !args.disable && !args.service.is_empty() {
        return Err(anyhow!("Service requires either -enable or -disable"));
    }
    let client = Client::from_args(&args.http);
    if !args.enable && !args.disable {
        return list(&client);
    }
    let enable = if args.enable { "true" } else { "false" };
    let query = [("enable", enable), ("reason", args.reason.as_str())];
    let state = if args.enable { "enabled" } else { "disabled" };
    let verb = if args.enable { "enabling" } else { "disabling" };
    if args.service.is_empty() {
        client
            .put("/v1/agent/maintenance", &query, None)
            .map_err(|e| anyhow!("Error {verb} node maintenance: {e}"))?;
        println!("Node maintenance is now {state}");
    } else {
        let path = format!(
            "/v1/agent/service/maintenance/{}",
            escape_segment(&args.service)
        );
        client
            .put(&path, &query, None)
            .map_err(|e| anyhow!("Error {verb} service maintenance: {e}"))?;
        println!(
            "Service maintenance is now {state} for \"{}\"",
            args.service
        );
    }
    Ok(0)
}

/// `praetor monitor`: prints the agent's log lines until the agent ends the stream.
pub fn monitor(args: &crate::cli::MonitorArgs) -> Outcome {
    use std::io::BufRead as _;
    let mut query = vec![("loglevel", args.log_level.as_str())];
    if args.log_json {
        query.push(("logjson", ""));
    }
    let what = if args.log_json {
        "JSON monitor"
    } else {
        "monitor"
    };
    let stream = Client::from_args(&args.http)
        .get_stream("/v1/agent/monitor", &query)
        .map_err(|e| anyhow!("Error starting {what}: {e}"))?;
    for line in std::io::BufReader::new(stream).lines() {
        match line {
            Ok(l) => println!("{l}"),
            Err(_) => break,
        }
    }
    println!(
        "\nRemote side ended the monitor! This usually means that the\nremote side has exited or crashed."
    );
    Ok(1)
}
