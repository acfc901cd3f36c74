//! `praetor plugin list|load|test|new`: the policy slots of an agent (WebAssembly components).

use std::path::Path;

use anyhow::{Context as _, anyhow};
use serde::Deserialize;

use super::Outcome;
use crate::cli::HttpOnly;
use crate::cli::{PluginLoadArgs, PluginNewArgs, PluginTestArgs};
use crate::client::Client;
use crate::table::columnize;

/// One slot of `/v1/agent/plugins`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginInfo {
    pub slot: String,
    pub component: String,
    pub source: String,
    #[serde(rename = "SHA256")]
    pub sha256: String,
    pub calls: u64,
    pub failures: u64,
    pub state: String,
}

/// `Slot  Component  Source  Hash  Calls  Failures  State`
pub fn plugins_table(plugins: &[PluginInfo]) -> String {
    let mut rows = vec![
        [
            "Slot",
            "Component",
            "Source",
            "Hash",
            "Calls",
            "Failures",
            "State",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for p in plugins {
        rows.push(vec![
            p.slot.clone(),
            p.component.clone(),
            p.source.clone(),
            p.sha256.get(..12).unwrap_or(&p.sha256).to_string(),
            p.calls.to_string(),
            p.failures.to_string(),
            p.state.clone(),
        ]);
    }
    columnize(&rows)
}

pub fn list(args: &HttpOnly) -> Outcome {
    let client = Client::from_args(&args.http);
    let plugins: Vec<PluginInfo> = client
        .get_json("/v1/agent/plugins", &[])
        .map_err(|e| anyhow!("Error listing plugins: {e}"))?;
    println!("{}", plugins_table(&plugins));
    Ok(0)
}

fn read_config(config: &Option<String>) -> anyhow::Result<String> {
    let text = match config.as_deref() {
        None | Some("") => return Ok("{}".into()),
        Some(c) if c.starts_with('@') => {
            std::fs::read_to_string(&c[1..]).with_context(|| format!("reading {}", &c[1..]))?
        }
        Some(c) => c.to_string(),
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v.is_object() => Ok(text),
        _ => Err(anyhow!(
            "-config must be a JSON object (or @file holding one)"
        )),
    }
}

pub fn load(args: &PluginLoadArgs) -> Outcome {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| anyhow!("Error reading {}: {e}", args.file.display()))?;
    let config = read_config(&args.config)?;
    let client = Client::from_args(&args.http);
    let body = client
        .put(
            "/v1/agent/plugin/load",
            &[("slot", &args.slot), ("config", &config)],
            Some(&bytes),
        )
        .map_err(|e| anyhow!("Error loading plugin: {e}"))?;
    let info: PluginInfo = client
        .decode("/v1/agent/plugin/load", &body)
        .map_err(|e| anyhow!("{e}"))?;
    println!(
        "Loaded {} into slot {:?} (sha256 {})",
        args.file.display(),
        info.slot,
        info.sha256.get(..12).unwrap_or(&info.sha256)
    );
    Ok(0)
}

/// Runs a component against sample input, offline (no agent needed).
pub fn test(args: &PluginTestArgs) -> Outcome {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| anyhow!("Error reading {}: {e}", args.file.display()))?;
    let input = match &args.input {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| anyhow!("Error reading {}: {e}", p.display()))?
        }
        None => sample_input(&args.slot)?,
    };
    let config = read_config(&args.config)?;
    match praetor_plugin_host::test_call(&args.slot, &bytes, &config, &input, None) {
        Ok(output) => {
            println!("{output}");
            Ok(0)
        }
        Err(e) => Err(anyhow!("Error: {e}")),
    }
}

/// A sample input for each kind of slot (what `plugin test` runs without an input file): a
/// record of dc2 asked from dc1, two datacenters to rank, one L4 intention check, a static join.
fn sample_input(slot: &str) -> anyhow::Result<String> {
    let json = match slot {
        "translator" | "translate" => {
            r#"{"local_datacenter":"dc1","record_datacenter":"dc2","enabled":true,"address":"10.0.2.1","port":8080,
"tagged":[{"key":"lan","address":"10.0.2.1","port":0},{"key":"wan","address":"198.18.2.1","port":0}],
"accept":{"ipv4":true,"ipv6":true,"domain":true}}"#
        }
        "router" | "route" => {
            r#"{"rank":{"local_datacenter":"dc1","candidates":[
{"datacenter":"dc3","path":"wan","path_id":"","rtt_ms":40.0,"labels":[],"servers":[{"name":"s1.dc3","address":"127.0.3.1:8300","healthy":true}]},
{"datacenter":"dc2","path":"wan","path_id":"","rtt_ms":12.5,"labels":[],"servers":[{"name":"s1.dc2","address":"127.0.2.1:8300","healthy":true}]},
{"datacenter":"dc1","path":"local","path_id":"","rtt_ms":0.0,"labels":[],"servers":[]}]}}"#
        }
        "intentions" => {
            r#"{"intentions":[{"id":"i1","source_name":"web","destination_name":"db","action":"allow"},
{"id":"i2","source_name":"*","destination_name":"db","action":"deny"}],"default_allow":false,
"requests":[{"source":{"service":"web"},"destination":{"service":"db"}},{"source":{"service":"api"},"destination":{"service":"db"}}]}"#
        }
        s if s.starts_with("join:") => {
            r#"{"entry":"provider=static addrs=\"127.0.1.1 127.0.1.2:8301\""}"#
        }
        _ => {
            return Err(anyhow!(
                "no sample input for slot {slot:?}; pass an input file"
            ));
        }
    };
    Ok(json.to_string())
}

pub fn new(args: &PluginNewArgs) -> Outcome {
    let files =
        praetor_plugin_host::scaffold(&args.kind, &args.name).map_err(|e| anyhow!("Error: {e}"))?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| Path::new(&args.name).to_path_buf());
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(anyhow!("Error: {} exists and is not empty", dir.display()));
    }
    for f in &files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow!("Error creating {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, &f.content)
            .map_err(|e| anyhow!("Error writing {}: {e}", path.display()))?;
    }
    println!(
        "Created {} plugin {:?} in {}",
        args.kind,
        args.name,
        dir.display()
    );
    println!(
        "Build it:  cd {} && cargo build --release --target wasm32-wasip2",
        dir.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_consul_style_columns() {
        let p = PluginInfo {
            slot: "translator".into(),
            component: "translate-wan-addrs".into(),
            source: "builtin".into(),
            sha256: "0123456789abcdef".into(),
            calls: 3,
            failures: 0,
            state: "active".into(),
        };
        let t = plugins_table(&[p]);
        assert!(t.starts_with("Slot"), "{t}");
        assert!(
            t.contains("translate-wan-addrs  builtin  0123456789ab  3"),
            "{t}"
        );
    }

    #[test]
    fn config_must_be_an_object() {
        assert_eq!(read_config(&None).unwrap(), "{}");
        assert!(read_config(&Some("[1]".into())).is_err());
        assert_eq!(
            read_config(&Some(r#"{"a":1}"#.into())).unwrap(),
            r#"{"a":1}"#
        );
    }
}
