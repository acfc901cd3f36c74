//! `praetor event`: fire a user event (`PUT /v1/event/fire/<name>`), Consul's flags and texts.

use anyhow::anyhow;
use serde::Deserialize;

use super::Outcome;
use crate::cli::EventArgs;
use crate::client::{Client, escape_segment};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Fired {
    #[serde(rename = "ID")]
    id: String,
}

pub fn run(args: &EventArgs) -> Outcome {
    if args.name.is_empty() {
        return Err(anyhow!("Event name must be specified"));
    }
    if !args.node.is_empty() {
        regex::Regex::new(&args.node)
            .map_err(|e| anyhow!("Failed to compile node filter regexp: {e}"))?;
    }
    if !args.service.is_empty() {
        regex::Regex::new(&args.service)
            .map_err(|e| anyhow!("Failed to compile service filter regexp: {e}"))?;
    }
    if !args.tag.is_empty() {
        regex::Regex::new(&args.tag)
            .map_err(|e| anyhow!("Failed to compile tag filter regexp: {e}"))?;
    }
    if !args.tag.is_empty() && args.service.is_empty() {
        return Err(anyhow!("Cannot provide tag filter without service filter."));
    }
    let payload = match args.payload.as_slice() {
        [] => None,
        [p] => Some(p.as_bytes()),
        _ => return Err(anyhow!("Too many command line arguments.")),
    };
    let mut query = Vec::new();
    for (k, v) in [
        ("node", &args.node),
        ("service", &args.service),
        ("tag", &args.tag),
    ] {
        if !v.is_empty() {
            query.push((k, v.as_str()));
        }
    }
    let client = Client::from_args(&args.http);
    let path = format!("/v1/event/fire/{}", escape_segment(&args.name));
    let body = client
        .put(&path, &query, payload)
        .map_err(|e| anyhow!("Error firing event: {e}"))?;
    let fired: Fired = client
        .decode(&path, &body)
        .map_err(|e| anyhow!("Error firing event: {e}"))?;
    println!("Event ID: {}", fired.id);
    Ok(0)
}
