//! `praetor join`, `leave` and `force-leave`: changing cluster membership through an agent.

use anyhow::anyhow;

use super::Outcome;
use crate::cli::{ForceLeaveArgs, HttpOnly, JoinArgs};
use crate::client::{Client, escape_segment};

/// `PUT /v1/agent/join/<addr>[?wan=1]` for each address.
pub fn join(args: &JoinArgs) -> Outcome {
    if args.addresses.is_empty() {
        return Err(anyhow!("At least one address to join must be specified."));
    }
    let client = Client::from_args(&args.http);
    let query: &[(&str, &str)] = if args.wan { &[("wan", "1")] } else { &[] };
    let mut joined = 0;
    for addr in &args.addresses {
        let path = format!("/v1/agent/join/{}", escape_segment(addr));
        match client.put(&path, query, None) {
            Ok(_) => joined += 1,
            Err(e) => eprintln!("Error joining address '{addr}': {e}"),
        }
    }
    if joined == 0 {
        return Err(anyhow!("Failed to join any nodes."));
    }
    println!("Successfully joined cluster by contacting {joined} nodes.");
    Ok(0)
}

/// `PUT /v1/agent/leave`
pub fn leave(args: &HttpOnly) -> Outcome {
    let client = Client::from_args(&args.http);
    client
        .put("/v1/agent/leave", &[], None)
        .map_err(|e| anyhow!("Error leaving: {e}"))?;
    println!("Graceful leave complete");
    Ok(0)
}

/// `PUT /v1/agent/force-leave/<node>[?prune=1][&wan=1]`
pub fn force_leave(args: &ForceLeaveArgs) -> Outcome {
    let Some(node) = args.node.as_deref().filter(|n| !n.is_empty()) else {
        return Err(anyhow!("A node name must be specified to force leave."));
    };
    let client = Client::from_args(&args.http);
    let mut query = Vec::new();
    if args.prune {
        query.push(("prune", "1"));
    }
    if args.wan {
        query.push(("wan", "1"));
    }
    let path = format!("/v1/agent/force-leave/{}", escape_segment(node));
    client
        .put(&path, &query, None)
        .map_err(|e| anyhow!("Error force leaving: {e}"))?;
    Ok(0)
}
