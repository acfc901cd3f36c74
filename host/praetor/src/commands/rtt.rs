//! `praetor rtt [-wan] node1 [node2]`: the estimated round-trip time between two nodes from
//! their network coordinates (LAN from `/v1/coordinate/nodes`, WAN from
//! `/v1/coordinate/datacenters`), with Consul's messages.

use std::collections::HashMap;

use anyhow::anyhow;
use praetor_coordinate::Coordinate;
use serde::Deserialize;

use super::Outcome;
use crate::cli::RttArgs;
use crate::client::Client;

/// A coordinate in serf's JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CoordJson {
    pub vec: Vec<f64>,
    pub error: f64,
    pub adjustment: f64,
    pub height: f64,
}

impl From<&CoordJson> for Coordinate {
    fn from(c: &CoordJson) -> Self {
        Coordinate {
            vec: c.vec.clone(),
            error: c.error,
            adjustment: c.adjustment,
            height: c.height,
        }
    }
}

/// `{"Node","Segment","Coord"}`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeCoord {
    pub node: String,
    pub segment: String,
    pub coord: Option<CoordJson>,
}

/// `{"Datacenter","AreaID","Coordinates"}`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DatacenterMap {
    pub datacenter: String,
    #[serde(rename = "AreaID")]
    pub area_id: String,
    pub coordinates: Vec<NodeCoord>,
}

/// The agent facts `rtt` needs from `/v1/agent/self`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentSelf {
    config: AgentConfig,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentConfig {
    node_name: String,
    datacenter: String,
}

/// `<node>.<dc>`, exactly one dot.
fn split_wan_name(name: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        [node, dc] => Some((node, dc)),
        _ => None,
    }
}

/// Consul's WAN search: both nodes (case-insensitive, in their datacenters) in the same area;
/// anything less finds neither.
pub fn find_wan(
    maps: &[DatacenterMap],
    (node1, dc1): (&str, &str),
    (node2, dc2): (&str, &str),
) -> Option<(Coordinate, Coordinate)> {
    let (mut area1, mut area2) = ("", "");
    let (mut c1, mut c2): (Option<&CoordJson>, Option<&CoordJson>) = (None, None);
    for m in maps {
        for e in &m.coordinates {
            if m.datacenter == dc1 && e.node.eq_ignore_ascii_case(node1) {
                area1 = &m.area_id;
                c1 = e.coord.as_ref();
            }
            if m.datacenter == dc2 && e.node.eq_ignore_ascii_case(node2) {
                area2 = &m.area_id;
                c2 = e.coord.as_ref();
            }
            if let (true, Some(a), Some(b)) = (area1 == area2, c1, c2) {
                return Some((a.into(), b.into()));
            }
        }
    }
    None
}

/// Consul's LAN search (`lib.CoordinateSet.Intersect`): the default segment, unless one of
/// the nodes is in exactly one segment (a client), whose segment then wins.
pub fn find_lan(
    entries: &[NodeCoord],
    node1: &str,
    node2: &str,
) -> (Option<Coordinate>, Option<Coordinate>) {
    let mut cs1: HashMap<&str, Option<&CoordJson>> = HashMap::new();
    let mut cs2: HashMap<&str, Option<&CoordJson>> = HashMap::new();
    for e in entries {
        if e.node.eq_ignore_ascii_case(node1) {
            cs1.insert(&e.segment, e.coord.as_ref());
        }
        if e.node.eq_ignore_ascii_case(node2) {
            cs2.insert(&e.segment, e.coord.as_ref());
        }
    }
    let mut segment = "";
    for set in [&cs1, &cs2] {
        if set.len() == 1
            && let Some(s) = set.keys().next()
        {
            segment = s;
        }
    }
    let pick = |set: &HashMap<&str, Option<&CoordJson>>| {
        set.get(segment).copied().flatten().map(Coordinate::from)
    };
    (pick(&cs1), pick(&cs2))
}

/// `Estimated a <-> b rtt: 0.610 ms (using LAN coordinates)`
pub fn format_rtt(n1: &str, n2: &str, c1: &Coordinate, c2: &Coordinate, source: &str) -> String {
    let ms = c1.distance_to(c2).as_secs_f64() * 1000.0;
    format!("Estimated {n1} <-> {n2} rtt: {ms:.3} ms (using {source} coordinates)")
}

fn help() -> String {
    super::subcommand_help(&["rtt"], "Usage: praetor rtt [options] node1 [node2]")
}

/// Estimates the round-trip time between two nodes.
pub fn run(args: &RttArgs) -> Outcome {
    let mut nodes = args.nodes.clone();
    if nodes.is_empty() || nodes.len() > 2 {
        return Err(anyhow!(
            "One or two node names must be specified\n\n{}",
            help()
        ));
    }
    let client = Client::from_args(&args.http);
    let agent_self = || -> anyhow::Result<AgentConfig> {
        let s: AgentSelf = client
            .get_json("/v1/agent/self", &[])
            .map_err(|e| anyhow!("Unable to look up agent info: {e}"))?;
        Ok(s.config)
    };
    let coords_err = |e| anyhow!("Error getting coordinates: {e}");
    let (source, found) = if args.wan {
        if nodes.len() < 2 {
            let me = agent_self()?;
            nodes.push(format!("{}.{}", me.node_name, me.datacenter));
        }
        let (Some(a), Some(b)) = (split_wan_name(&nodes[0]), split_wan_name(&nodes[1])) else {
            return Err(anyhow!(
                "Node names must be specified as <node name>.<datacenter> with -wan"
            ));
        };
        let maps: Vec<DatacenterMap> = client
            .get_json("/v1/coordinate/datacenters", &[])
            .map_err(coords_err)?;
        let found = match find_wan(&maps, a, b) {
            Some((c1, c2)) => (Some(c1), Some(c2)),
            None => (None, None),
        };
        ("WAN", found)
    } else {
        if nodes.len() < 2 {
            nodes.push(agent_self()?.node_name);
        }
        let entries: Vec<NodeCoord> = client
            .get_json("/v1/coordinate/nodes", &[])
            .map_err(coords_err)?;
        ("LAN", find_lan(&entries, &nodes[0], &nodes[1]))
    };
    match found {
        (Some(c1), Some(c2)) => {
            println!("{}", format_rtt(&nodes[0], &nodes[1], &c1, &c2, source));
            Ok(0)
        }
        (None, _) => Err(anyhow!(
            "Could not find a coordinate for node {:?}",
            nodes[0]
        )),
        (_, None) => Err(anyhow!(
            "Could not find a coordinate for node {:?}",
            nodes[1]
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coord_at(x_ms: f64) -> serde_json::Value {
        let mut vec = vec![0.0; 8];
        vec[0] = x_ms / 1000.0;
        serde_json::json!({"Vec": vec, "Error": 1.5, "Adjustment": 0.0, "Height": 0.0})
    }

    #[test]
    fn lan_rtt_uses_the_default_segment_unless_a_node_has_one_segment() {
        let entries: Vec<NodeCoord> = serde_json::from_value(serde_json::json!([
            {"Node": "server-1", "Segment": "", "Coord": coord_at(0.0)},
            {"Node": "server-1", "Segment": "alpha", "Coord": coord_at(5.0)},
            {"Node": "client-a", "Segment": "alpha", "Coord": coord_at(8.0)},
            {"Node": "client-d", "Segment": "", "Coord": coord_at(10.0)}
        ]))
        .expect("valid");
        let (a, b) = find_lan(&entries, "SERVER-1", "client-d");
        let (a, b) = (a.expect("server-1"), b.expect("client-d"));
        assert_eq!(
            format_rtt("server-1", "client-d", &a, &b, "LAN"),
            "Estimated server-1 <-> client-d rtt: 10.000 ms (using LAN coordinates)"
        );
        // client-a is only in segment alpha: server-1's alpha coordinate is used.
        let (a, b) = find_lan(&entries, "server-1", "client-a");
        let (a, b) = (a.expect("server-1"), b.expect("client-a"));
        assert_eq!(
            format_rtt("server-1", "client-a", &a, &b, "LAN"),
            "Estimated server-1 <-> client-a rtt: 3.000 ms (using LAN coordinates)"
        );
        let (a, b) = find_lan(&entries, "server-1", "nope");
        assert!(a.is_some() && b.is_none());
    }

    fn maps() -> Vec<DatacenterMap> {
        serde_json::from_value(serde_json::json!([
            {"Datacenter": "dc1", "AreaID": "wan", "Coordinates": [
                {"Node": "s1", "Segment": "", "Coord": coord_at(0.0)}]},
            {"Datacenter": "dc2", "AreaID": "wan", "Coordinates": [
                {"Node": "s2", "Segment": "", "Coord": coord_at(0.61)}]},
            {"Datacenter": "dc3", "AreaID": "other-area", "Coordinates": [
                {"Node": "s3", "Segment": "", "Coord": coord_at(1.0)}]}
        ]))
        .expect("valid")
    }

    #[test]
    fn wan_rtt_compares_nodes_of_one_area() {
        let (a, b) = find_wan(&maps(), ("s1", "dc1"), ("S2", "dc2")).expect("found");
        assert_eq!(
            format_rtt("s1.dc1", "S2.dc2", &a, &b, "WAN"),
            "Estimated s1.dc1 <-> S2.dc2 rtt: 0.610 ms (using WAN coordinates)"
        );
        assert!(find_wan(&maps(), ("s1", "dc1"), ("s3", "dc3")).is_none());
        assert!(find_wan(&maps(), ("s1", "dc2"), ("s2", "dc2")).is_none());
    }

    #[test]
    fn wan_names_need_exactly_one_dot() {
        assert_eq!(split_wan_name("s1.dc1"), Some(("s1", "dc1")));
        assert_eq!(split_wan_name("s1"), None);
        assert_eq!(split_wan_name("s1.dc1.x"), None);
    }
}
