//! `praetor catalog datacenters | nodes | services`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use serde::Deserialize;

use super::Outcome;
use crate::cli::{CatalogNodesArgs, CatalogServicesArgs, HttpOnly};
use crate::client::{Client, escape_segment};
use crate::table::{columnize, map_to_kv};

/// A node from `/v1/catalog/nodes` (or `/v1/catalog/service/<s>`, whose meta is `NodeMeta`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CatalogNode {
    #[serde(rename = "ID", default)]
    pub id: String,
    pub node: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub datacenter: String,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub tagged_addresses: BTreeMap<String, String>,
    #[serde(
        default,
        alias = "NodeMeta",
        deserialize_with = "super::null_as_default"
    )]
    pub meta: BTreeMap<String, String>,
}

/// `Node  ID  Address  DC` (ID cut at the first `-`), or with `-detailed` the full ID plus
/// `TaggedAddresses` and `Meta`.
pub fn nodes_table(nodes: &[CatalogNode], detailed: bool) -> String {
    let mut rows = Vec::with_capacity(nodes.len() + 1);
    if detailed {
        rows.push(
            ["Node", "ID", "Address", "DC", "TaggedAddresses", "Meta"]
                .map(String::from)
                .to_vec(),
        );
        for n in nodes {
            rows.push(vec![
                n.node.clone(),
                n.id.clone(),
                n.address.clone(),
                n.datacenter.clone(),
                map_to_kv(&n.tagged_addresses, ", "),
                map_to_kv(&n.meta, ", "),
            ]);
        }
    } else {
        rows.push(["Node", "ID", "Address", "DC"].map(String::from).to_vec());
        for n in nodes {
            let id = match n.id.find('-') {
                Some(i) if i > 0 => &n.id[..i],
                _ => n.id.as_str(),
            };
            rows.push(vec![
                n.node.clone(),
                id.to_string(),
                n.address.clone(),
                n.datacenter.clone(),
            ]);
        }
    }
    columnize(&rows)
}

/// Service names sorted; with `-tags` a second column of comma-joined sorted tags.
pub fn services_output(services: &BTreeMap<String, BTreeSet<String>>, tags: bool) -> String {
    if tags {
        let rows: Vec<Vec<String>> = services
            .iter()
            .map(|(name, t)| {
                vec![
                    name.clone(),
                    t.iter().cloned().collect::<Vec<_>>().join(","),
                ]
            })
            .collect();
        columnize(&rows)
    } else {
        services.keys().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// `GET /v1/catalog/datacenters`
pub fn datacenters(args: &HttpOnly) -> Outcome {
    let client = Client::from_args(&args.http);
    let dcs: Vec<String> = client
        .get_json("/v1/catalog/datacenters", &[])
        .map_err(|e| anyhow!("Error listing datacenters: {e}"))?;
    if dcs.is_empty() {
        return Err(anyhow!("No datacenters found"));
    }
    for dc in dcs {
        println!("{dc}");
    }
    Ok(0)
}

/// `GET /v1/catalog/nodes` or `/v1/catalog/service/<service>`
pub fn nodes(args: &CatalogNodesArgs) -> Outcome {
    let client = Client::from_args(&args.http);
    let path = match args.service.as_deref() {
        Some(s) => format!("/v1/catalog/service/{}", escape_segment(s)),
        None => "/v1/catalog/nodes".to_string(),
    };
    let nodes: Vec<CatalogNode> = client
        .get_json(&path, &[])
        .map_err(|e| anyhow!("Error listing nodes: {e}"))?;
    if nodes.is_empty() {
        eprintln!("No nodes match the given query - try expanding your search.");
        return Ok(0);
    }
    println!("{}", nodes_table(&nodes, args.detailed));
    Ok(0)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeServices {
    #[serde(default, deserialize_with = "super::null_as_default")]
    services: BTreeMap<String, NodeService>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeService {
    service: String,
    #[serde(default, deserialize_with = "super::null_as_default")]
    tags: Vec<String>,
}

/// `GET /v1/catalog/services` or `/v1/catalog/node/<node>`
pub fn services(args: &CatalogServicesArgs) -> Outcome {
    let client = Client::from_args(&args.http);
    let list_err = |e| anyhow!("Error listing services: {e}");
    let services: BTreeMap<String, BTreeSet<String>> = match args.node.as_deref() {
        Some(node) => {
            let path = format!("/v1/catalog/node/{}", escape_segment(node));
            let body = client.get_optional(&path, &[]).map_err(list_err)?;
            let parsed: Option<NodeServices> = match body {
                Some(b) => client.decode(&path, &b).map_err(list_err)?,
                None => None,
            };
            let Some(parsed) = parsed else {
                return Err(anyhow!("No node matches the name {node:?}"));
            };
            let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for svc in parsed.services.into_values() {
                out.entry(svc.service).or_default().extend(svc.tags);
            }
            out
        }
        None => {
            let raw: BTreeMap<String, Option<Vec<String>>> = client
                .get_json("/v1/catalog/services", &[])
                .map_err(list_err)?;
            raw.into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default().into_iter().collect()))
                .collect()
        }
    };
    if services.is_empty() {
        eprintln!("No services match the given query - try expanding your search.");
        return Ok(0);
    }
    println!("{}", services_output(&services, args.tags));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<CatalogNode> {
        serde_json::from_value(serde_json::json!([
            {"ID": "4a1f5c3e-aaaa-bbbb-cccc-000000000001", "Node": "server-1",
             "Address": "127.0.1.1", "Datacenter": "dc1",
             "TaggedAddresses": {"wan": "127.0.1.1", "lan": "127.0.1.1"}, "Meta": {"rack": "r1"}},
            {"ID": "", "Node": "client-10", "Address": "127.0.1.10", "Datacenter": "dc1",
             "TaggedAddresses": null, "NodeMeta": null}
        ]))
        .expect("valid nodes")
    }

    #[test]
    fn simple_nodes_table_shortens_ids() {
        assert_eq!(
            nodes_table(&nodes(), false),
            "Node       ID        Address     DC\n\
             server-1   4a1f5c3e  127.0.1.1   dc1\n\
             client-10            127.0.1.10  dc1"
        );
    }

    #[test]
    fn detailed_nodes_table_has_addresses_and_meta() {
        let out = nodes_table(&nodes(), true);
        let first = out.lines().nth(1).expect("row");
        assert!(first.contains("4a1f5c3e-aaaa-bbbb-cccc-000000000001"));
        assert!(first.contains("lan=127.0.1.1, wan=127.0.1.1"));
        assert!(first.ends_with("rack=r1"));
    }

    #[test]
    fn services_with_and_without_tags() {
        let s = BTreeMap::from([
            (
                "web".to_string(),
                BTreeSet::from(["v2".to_string(), "v1".to_string()]),
            ),
            ("consul".to_string(), BTreeSet::new()),
        ]);
        assert_eq!(services_output(&s, false), "consul\nweb");
        assert_eq!(services_output(&s, true), "consul\nweb     v1,v2");
    }
}
