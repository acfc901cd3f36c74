//! `praetor members`: the LAN or WAN gossip members as Consul's table.

use std::collections::BTreeMap;

use anyhow::anyhow;
use serde::Deserialize;
use serde_json::Value;

use super::Outcome;
use crate::cli::MembersArgs;
use crate::client::Client;
use crate::table::columnize;

/// One element of `/v1/agent/members`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Member {
    pub name: String,
    pub addr: String,
    pub port: u16,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Serf status: an integer in Consul's JSON (a name is accepted too).
    #[serde(default)]
    pub status: Value,
}

impl Member {
    /// `none`, `alive`, `leaving`, `left`, `failed` (Serf's names for 0..=4).
    pub fn status_name(&self) -> String {
        match &self.status {
            Value::Number(n) => match n.as_u64() {
                Some(0) => "none".into(),
                Some(1) => "alive".into(),
                Some(2) => "leaving".into(),
                Some(3) => "left".into(),
                Some(4) => "failed".into(),
                _ => format!("unknown({n})"),
            },
            Value::String(s) => s.clone(),
            _ => "none".into(),
        }
    }

    fn tag(&self, key: &str) -> &str {
        self.tags.get(key).map(String::as_str).unwrap_or("")
    }

    fn role(&self) -> &str {
        self.tag("role")
    }

    fn partition(&self) -> &str {
        match self.tag("ap") {
            "" => "default",
            p => p,
        }
    }

    fn address(&self) -> String {
        super::host_port(&self.addr, self.port)
    }
}

/// Servers first, then the default partition, then by segment, partition and name.
pub fn sort_members(members: &mut [Member]) {
    members.sort_by(|a, b| {
        let key = |m: &Member| {
            (
                m.role() != "consul",
                m.partition() != "default",
                m.tag("segment").to_string(),
                m.partition().to_string(),
                m.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// `Node  Address  Status  Type  Build  Protocol  DC  Partition  Segment`
pub fn standard_table(members: &[Member]) -> String {
    let mut rows = vec![
        [
            "Node",
            "Address",
            "Status",
            "Type",
            "Build",
            "Protocol",
            "DC",
            "Partition",
            "Segment",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for m in members {
        let kind = match m.role() {
            "consul" => "server",
            "node" => "client",
            _ => "unknown",
        };
        if kind == "unknown" {
            rows.push(vec![
                m.name.clone(),
                m.address(),
                m.status_name(),
                kind.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        let build = match m.tag("build").split(':').next().unwrap_or("") {
            "" => "< 0.3".to_string(),
            b => b.to_string(),
        };
        let segment = if m.partition() != "default" {
            String::new()
        } else if kind == "server" {
            "<all>".to_string()
        } else {
            match m.tag("segment") {
                "" => "<default>".to_string(),
                s => s.to_string(),
            }
        };
        rows.push(vec![
            m.name.clone(),
            m.address(),
            m.status_name(),
            kind.to_string(),
            build,
            m.tag("vsn").to_string(),
            m.tag("dc").to_string(),
            m.partition().to_string(),
            segment,
        ]);
    }
    columnize(&rows)
}

/// `Node  Address  Status  Tags` with every tag as `k=v`, sorted.
pub fn detailed_table(members: &[Member]) -> String {
    let mut rows = vec![
        ["Node", "Address", "Status", "Tags"]
            .map(String::from)
            .to_vec(),
    ];
    for m in members {
        rows.push(vec![
            m.name.clone(),
            m.address(),
            m.status_name(),
            crate::table::map_to_kv(&m.tags, ","),
        ]);
    }
    columnize(&rows)
}

/// Lists members; exit code 2 (no output) when none match, as Consul.
pub fn run(args: &MembersArgs) -> Outcome {
    let status = regex::Regex::new(&args.status)
        .map_err(|e| anyhow!("Failed to compile status regexp: {e}"))?;
    let client = Client::from_args(&args.http);
    let query: &[(&str, &str)] = if args.wan { &[("wan", "1")] } else { &[] };
    let mut members: Vec<Member> = client
        .get_json("/v1/agent/members", query)
        .map_err(|e| anyhow!("Error retrieving members: {e}"))?;
    members.retain(|m| status.is_match(&m.status_name()));
    if members.is_empty() {
        return Ok(2);
    }
    sort_members(&mut members);
    let out = if args.detailed {
        detailed_table(&members)
    } else {
        standard_table(&members)
    };
    println!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<Member> {
        serde_json::from_value(serde_json::json!([
            {"Name": "client-1", "Addr": "127.0.1.10", "Port": 8301, "Status": 1,
             "Tags": {"role": "node", "dc": "dc1", "build": "0.1.0:abc", "vsn": "2", "segment": ""}},
            {"Name": "server-2", "Addr": "127.0.1.2", "Port": 8301, "Status": 4,
             "Tags": {"role": "consul", "dc": "dc1", "build": "0.1.0", "vsn": "2"}},
            {"Name": "server-1", "Addr": "127.0.1.1", "Port": 8301, "Status": 1,
             "Tags": {"role": "consul", "dc": "dc1", "build": "0.1.0", "vsn": "2"}},
            {"Name": "odd", "Addr": "::1", "Port": 8301, "Status": 3, "Tags": {}}
        ]))
        .expect("valid members json")
    }

    #[test]
    fn standard_table_matches_consul_layout() {
        let mut m = members();
        sort_members(&mut m);
        let expected = "\
Node      Address          Status  Type     Build  Protocol  DC   Partition  Segment
server-1  127.0.1.1:8301   alive   server   0.1.0  2         dc1  default    <all>
server-2  127.0.1.2:8301   failed  server   0.1.0  2         dc1  default    <all>
client-1  127.0.1.10:8301  alive   client   0.1.0  2         dc1  default    <default>
odd       [::1]:8301       left    unknown";
        assert_eq!(standard_table(&m), expected);
    }

    #[test]
    fn detailed_table_lists_sorted_tags() {
        let m = &members()[1..2];
        assert_eq!(
            detailed_table(m),
            "Node      Address         Status  Tags\n\
             server-2  127.0.1.2:8301  failed  build=0.1.0,dc=dc1,role=consul,vsn=2"
        );
    }

    #[test]
    fn status_names() {
        let m = members();
        let names: Vec<String> = m.iter().map(Member::status_name).collect();
        assert_eq!(names, ["alive", "failed", "alive", "left"]);
    }
}
