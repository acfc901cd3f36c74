//! `praetor operator raft list-peers` (the Raft configuration as Consul's table) and
//! `praetor operator area ...` (network areas through `/v1/operator/area`, with Consul
//! Enterprise's flags, output and exit codes).

use anyhow::anyhow;
use clap::{ArgAction, Args, Subcommand};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Outcome;
use crate::cli::{HttpArgs, HttpOnly};
use crate::client::{Client, escape_segment};
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

// === praetor operator area ===

const AREA_PATH: &str = "/v1/operator/area";

/// `praetor operator area ...`
#[derive(Debug, Subcommand)]
pub enum AreaCommand {
    /// Create a new network area
    Create(AreaCreateArgs),
    /// Remove a network area
    Delete(AreaSelectArgs),
    /// Join Consul servers into an existing network area
    Join(AreaJoinArgs),
    /// List network areas
    List(HttpOnly),
    /// Display Consul server members present in network areas
    Members(AreaMembersArgs),
    /// Update the configuration of a network area
    Update(AreaUpdateArgs),
}

/// `-id` or `-peer-datacenter`: which area a command works on.
#[derive(Debug, Clone, Default, Args)]
pub struct AreaSelect {
    /// ID of the network area to operate on (alternative to -peer-datacenter)
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Peer datacenter of the network area to operate on (alternative to -id)
    #[arg(long = "peer-datacenter", value_name = "DC")]
    pub peer_datacenter: Option<String>,
}

/// `praetor operator area create`
#[derive(Debug, Args)]
pub struct AreaCreateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The peer datacenter that makes up the other side of the area (required)
    #[arg(long = "peer-datacenter", value_name = "DC")]
    pub peer_datacenter: Option<String>,
    /// Address of a server of the peer datacenter to join, host[:port] (repeatable)
    #[arg(long = "retry-join", value_name = "ADDR")]
    pub retry_join: Vec<String>,
    /// Encrypt gossip over this area with TLS if possible
    #[arg(long = "use-tls", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub use_tls: bool,
}

/// `praetor operator area delete`
#[derive(Debug, Args)]
pub struct AreaSelectArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub area: AreaSelect,
}

/// `praetor operator area join`
#[derive(Debug, Args)]
pub struct AreaJoinArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub area: AreaSelect,
    /// Addresses of servers of the peer datacenter, host[:port]
    #[arg(value_name = "ADDRESS")]
    pub addresses: Vec<String>,
}

/// `praetor operator area members`
#[derive(Debug, Args)]
pub struct AreaMembersArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub area: AreaSelect,
    /// Also show each member's node ID and role
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub detailed: bool,
}

/// `praetor operator area update`
#[derive(Debug, Args)]
pub struct AreaUpdateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub area: AreaSelect,
    /// Replace the addresses to join (repeatable; unset keeps them)
    #[arg(long = "retry-join", value_name = "ADDR")]
    pub retry_join: Vec<String>,
    /// Encrypt gossip over this area with TLS if possible (unset keeps it)
    #[arg(long = "use-tls", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub use_tls: Option<bool>,
}

/// One network area (`GET /v1/operator/area`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AreaJson {
    #[serde(rename = "ID")]
    pub id: String,
    pub peer_datacenter: String,
    /// `null` when the area has none.
    pub retry_join: Option<Vec<String>>,
    #[serde(rename = "UseTLS")]
    pub use_tls: bool,
}

/// The outcome of joining one address (`PUT /v1/operator/area/<id>/join`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AreaJoinJson {
    pub address: String,
    pub joined: bool,
    pub error: String,
}

/// One member of an area (`GET /v1/operator/area/<id>/members`, Consul's `api.SerfMember`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SerfMemberJson {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub datacenter: String,
    pub role: String,
    pub build: String,
    pub protocol: i64,
    pub status: String,
    /// Nanoseconds; negative when there is no estimate.
    #[serde(rename = "RTT")]
    pub rtt: i64,
}

/// Go's `time.Duration.String()` of a nanosecond count (`0s`, `594.191µs`, `1.5s`).
pub fn go_duration(nanos: i64) -> String {
    let text =
        praetor_config::format_duration(std::time::Duration::from_nanos(nanos.unsigned_abs()));
    if nanos < 0 { format!("-{text}") } else { text }
}

/// The area `-id` or `-peer-datacenter` names, among `areas` (the list endpoint's answer)
/// for the latter.
pub fn find_area(sel: &AreaSelect, areas: Option<&[AreaJson]>) -> Result<String, String> {
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    match (non_empty(&sel.id), non_empty(&sel.peer_datacenter)) {
        (Some(_), Some(_)) => Err("Only one of -id or -peer-datacenter can be specified".into()),
        (None, None) => Err("Must specify either -id or -peer-datacenter".into()),
        (Some(id), None) => Ok(id),
        (None, Some(peer)) => areas
            .into_iter()
            .flatten()
            .find(|a| a.peer_datacenter.eq_ignore_ascii_case(&peer))
            .map(|a| a.id.clone())
            .ok_or_else(|| format!("No area found with peer datacenter {peer:?}")),
    }
}

fn list_areas(client: &Client) -> anyhow::Result<Vec<AreaJson>> {
    client
        .get_json(AREA_PATH, &[])
        .map_err(|e| anyhow!("Error listing areas: {e}"))
}

/// Resolves the selected area to its ID (`-peer-datacenter` through the list endpoint).
fn resolve_area(client: &Client, sel: &AreaSelect) -> anyhow::Result<String> {
    let by_peer = sel
        .peer_datacenter
        .as_deref()
        .is_some_and(|p| !p.is_empty());
    let by_id = sel.id.as_deref().is_some_and(|i| !i.is_empty());
    let areas = if by_peer && !by_id {
        Some(list_areas(client)?)
    } else {
        None
    };
    find_area(sel, areas.as_deref()).map_err(|e| anyhow!(e))
}

fn area_path(id: &str, suffix: &str) -> String {
    format!("{AREA_PATH}/{}{suffix}", escape_segment(id))
}

/// `Area  PeerDC  RetryJoin` (addresses comma-separated, `(none)` when empty).
pub fn list_table(areas: &[AreaJson]) -> String {
    let mut rows = vec![["Area", "PeerDC", "RetryJoin"].map(String::from).to_vec()];
    for a in areas {
        let retry = match &a.retry_join {
            Some(r) if !r.is_empty() => r.join(","),
            _ => "(none)".to_string(),
        };
        rows.push(vec![a.id.clone(), a.peer_datacenter.clone(), retry]);
    }
    columnize(&rows)
}

/// `Address  Joined  Error` (`(none)` when there is no error).
pub fn join_table(results: &[AreaJoinJson]) -> String {
    let mut rows = vec![["Address", "Joined", "Error"].map(String::from).to_vec()];
    for r in results {
        let error = if r.error.is_empty() {
            "(none)".to_string()
        } else {
            r.error.clone()
        };
        rows.push(vec![r.address.clone(), r.joined.to_string(), error]);
    }
    columnize(&rows)
}

/// `Area  Node  Address  Status  Build  Protocol  DC  RTT`; with `detailed`, also the node's
/// `ID` (after Node) and `Role` (before RTT). Rows keep the given order.
pub fn members_table(rows_in: &[(String, SerfMemberJson)], detailed: bool) -> String {
    let header: &[&str] = if detailed {
        &[
            "Area", "Node", "ID", "Address", "Status", "Build", "Protocol", "DC", "Role", "RTT",
        ]
    } else {
        &[
            "Area", "Node", "Address", "Status", "Build", "Protocol", "DC", "RTT",
        ]
    };
    let mut rows = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    for (area, m) in rows_in {
        let mut row = vec![area.clone(), m.name.clone()];
        if detailed {
            row.push(m.id.clone());
        }
        row.extend([
            super::host_port(&m.addr, m.port),
            m.status.clone(),
            m.build.clone(),
            m.protocol.to_string(),
            m.datacenter.clone(),
        ]);
        if detailed {
            row.push(m.role.clone());
        }
        row.push(go_duration(m.rtt));
        rows.push(row);
    }
    columnize(&rows)
}

/// The body of an update: only the fields given on the command line.
pub fn update_body(args: &AreaUpdateArgs) -> Value {
    let mut body = serde_json::Map::new();
    if !args.retry_join.is_empty() {
        body.insert("RetryJoin".into(), json!(args.retry_join));
    }
    if let Some(tls) = args.use_tls {
        body.insert("UseTLS".into(), json!(tls));
    }
    Value::Object(body)
}

/// Runs an area subcommand; prints its output.
pub fn area(cmd: &AreaCommand) -> Outcome {
    let http = match cmd {
        AreaCommand::Create(a) => &a.http,
        AreaCommand::Delete(a) => &a.http,
        AreaCommand::Join(a) => &a.http,
        AreaCommand::List(a) => &a.http,
        AreaCommand::Members(a) => &a.http,
        AreaCommand::Update(a) => &a.http,
    };
    let (code, out) = run_area(&Client::from_args(http), cmd)?;
    println!("{out}");
    Ok(code)
}

/// Runs an area subcommand against `client`: the exit code and what to print.
pub fn run_area(client: &Client, cmd: &AreaCommand) -> anyhow::Result<(u8, String)> {
    match cmd {
        AreaCommand::Create(args) => area_create(client, args),
        AreaCommand::Delete(args) => {
            let id = resolve_area(client, &args.area)?;
            client
                .delete(&area_path(&id, ""), &[])
                .map_err(|e| anyhow!("Error deleting area: {e}"))?;
            Ok((0, format!("Deleted area {id:?}!")))
        }
        AreaCommand::Join(args) => area_join(client, args),
        AreaCommand::List(_) => Ok((0, list_table(&list_areas(client)?))),
        AreaCommand::Members(args) => area_members(client, args),
        AreaCommand::Update(args) => {
            let id = resolve_area(client, &args.area)?;
            let body = update_body(args).to_string();
            client
                .put(&area_path(&id, ""), &[], Some(body.as_bytes()))
                .map_err(|e| anyhow!("Error updating area: {e}"))?;
            Ok((0, format!("Updated area {id:?}")))
        }
    }
}

fn area_create(client: &Client, args: &AreaCreateArgs) -> anyhow::Result<(u8, String)> {
    let peer = args
        .peer_datacenter
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| anyhow!("Must specify -peer-datacenter"))?;
    let body = json!({
        "PeerDatacenter": peer,
        "RetryJoin": args.retry_join,
        "UseTLS": args.use_tls,
    })
    .to_string();
    let reply = client
        .post(AREA_PATH, &[], Some(body.as_bytes()))
        .map_err(|e| anyhow!("Error creating area: {e}"))?;
    #[derive(Deserialize)]
    struct Created {
        #[serde(rename = "ID")]
        id: String,
    }
    let created: Created = client
        .decode(AREA_PATH, &reply)
        .map_err(|e| anyhow!("Error creating area: {e}"))?;
    Ok((
        0,
        format!(
            "Created area {:?} with peer datacenter {peer:?}!",
            created.id
        ),
    ))
}

fn area_join(client: &Client, args: &AreaJoinArgs) -> anyhow::Result<(u8, String)> {
    if args.addresses.is_empty() {
        return Err(anyhow!("At least one address to join must be specified."));
    }
    let id = resolve_area(client, &args.area)?;
    let path = area_path(&id, "/join");
    let body = json!(args.addresses).to_string();
    let reply = client
        .put(&path, &[], Some(body.as_bytes()))
        .map_err(|e| anyhow!("Error joining area: {e}"))?;
    let results: Vec<AreaJoinJson> = client
        .decode(&path, &reply)
        .map_err(|e| anyhow!("Error joining area: {e}"))?;
    let code = if results.iter().any(|r| r.joined) {
        0
    } else {
        1
    };
    Ok((code, join_table(&results)))
}

fn area_members(client: &Client, args: &AreaMembersArgs) -> anyhow::Result<(u8, String)> {
    let selected = args.area.id.as_deref().is_some_and(|i| !i.is_empty())
        || args
            .area
            .peer_datacenter
            .as_deref()
            .is_some_and(|p| !p.is_empty());
    let ids = if selected {
        vec![resolve_area(client, &args.area)?]
    } else {
        list_areas(client)?.into_iter().map(|a| a.id).collect()
    };
    let mut rows = Vec::new();
    for id in ids {
        let mut members: Vec<SerfMemberJson> = client
            .get_json(&area_path(&id, "/members"), &[])
            .map_err(|e| anyhow!("Error retrieving members: {e}"))?;
        members.sort_by(|a, b| (&a.datacenter, &a.name).cmp(&(&b.datacenter, &b.name)));
        rows.extend(members.into_iter().map(|m| (id.clone(), m)));
    }
    Ok((0, members_table(&rows, args.detailed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::{Command, OperatorCommand};

    fn parse(args: &[&str]) -> AreaCommand {
        let args: Vec<&str> = ["operator", "area"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        match crate::cli::parse_for_test(&args).command {
            Command::Operator(OperatorCommand::Area(a)) => a,
            other => panic!("expected operator area, got {other:?}"),
        }
    }

    #[test]
    fn area_flags_parse_like_consul() {
        let AreaCommand::Create(c) = parse(&[
            "create",
            "-peer-datacenter=dc2",
            "-retry-join=10.1.2.3",
            "-retry-join",
            "10.1.2.4:8300",
            "-use-tls",
            "-http-addr=127.0.9.1:8500",
        ]) else {
            panic!("expected create");
        };
        assert_eq!(c.peer_datacenter.as_deref(), Some("dc2"));
        assert_eq!(c.retry_join, ["10.1.2.3", "10.1.2.4:8300"]);
        assert!(c.use_tls);
        assert_eq!(c.http.http_addr.as_deref(), Some("127.0.9.1:8500"));
        let AreaCommand::Create(c) = parse(&["create", "-peer-datacenter", "dc2"]) else {
            panic!("expected create");
        };
        assert!(!c.use_tls && c.retry_join.is_empty());

        let AreaCommand::Update(u) = parse(&["update", "-id=a-1", "-use-tls=false"]) else {
            panic!("expected update");
        };
        assert_eq!(u.area.id.as_deref(), Some("a-1"));
        assert_eq!(u.use_tls, Some(false));
        assert_eq!(update_body(&u), json!({"UseTLS": false}));
        let AreaCommand::Update(u) =
            parse(&["update", "-peer-datacenter=dc2", "-retry-join=10.0.0.1"])
        else {
            panic!("expected update");
        };
        assert_eq!(u.use_tls, None);
        assert_eq!(update_body(&u), json!({"RetryJoin": ["10.0.0.1"]}));

        let AreaCommand::Join(j) = parse(&[
            "join",
            "-peer-datacenter=dc2",
            "127.0.0.2",
            "127.0.0.3:8300",
        ]) else {
            panic!("expected join");
        };
        assert_eq!(j.area.peer_datacenter.as_deref(), Some("dc2"));
        assert_eq!(j.addresses, ["127.0.0.2", "127.0.0.3:8300"]);

        let AreaCommand::Members(m) = parse(&["members", "-detailed", "-datacenter=dc1"]) else {
            panic!("expected members");
        };
        assert!(m.detailed && m.area.id.is_none());
        assert_eq!(m.http.datacenter.as_deref(), Some("dc1"));
        assert!(matches!(parse(&["list", "-stale"]), AreaCommand::List(_)));
        assert!(matches!(
            parse(&["delete", "-id", "a-1"]),
            AreaCommand::Delete(_)
        ));
    }

    fn area_json(id: &str, peer: &str, retry_join: Option<&[&str]>) -> AreaJson {
        AreaJson {
            id: id.into(),
            peer_datacenter: peer.into(),
            retry_join: retry_join.map(|r| r.iter().map(|a| a.to_string()).collect()),
            use_tls: false,
        }
    }

    fn select(id: Option<&str>, peer: Option<&str>) -> AreaSelect {
        AreaSelect {
            id: id.map(String::from),
            peer_datacenter: peer.map(String::from),
        }
    }

    #[test]
    fn an_area_is_selected_by_id_or_peer_datacenter() {
        let areas = [
            area_json("a-1", "dc2", None),
            area_json("a-2", "other", None),
        ];
        assert_eq!(find_area(&select(Some("x"), None), None), Ok("x".into()));
        assert_eq!(
            find_area(&select(None, Some("OTHER")), Some(&areas)),
            Ok("a-2".into())
        );
        assert_eq!(
            find_area(&select(None, Some("dc9")), Some(&areas)),
            Err("No area found with peer datacenter \"dc9\"".into())
        );
        assert_eq!(
            find_area(&select(Some("x"), Some("dc2")), Some(&areas)),
            Err("Only one of -id or -peer-datacenter can be specified".into())
        );
        assert_eq!(
            find_area(&select(Some(""), None), None),
            Err("Must specify either -id or -peer-datacenter".into())
        );
    }

    #[test]
    fn area_tables_match_consul() {
        assert_eq!(
            list_table(&[
                area_json(
                    "6a52a0af-62e2-dad4-da60-e66acc37096c",
                    "dc2",
                    Some(&["10.1.2.3", "10.1.2.4", "10.1.2.5"])
                ),
                area_json("96e33424-f5ce-9fcd-ecab-27974e36678f", "other", None),
            ]),
            "Area                                  PeerDC  RetryJoin\n\
             6a52a0af-62e2-dad4-da60-e66acc37096c  dc2     10.1.2.3,10.1.2.4,10.1.2.5\n\
             96e33424-f5ce-9fcd-ecab-27974e36678f  other   (none)"
        );
        assert_eq!(list_table(&[]), "Area  PeerDC  RetryJoin");

        let results: Vec<AreaJoinJson> = serde_json::from_value(json!([
            {"Address": "10.1.2.3", "Joined": false,
             "Error": "failed to connect to \"10.1.2.3:8300\": dial tcp 10.1.2.3:8300: i/o timeout"},
            {"Address": "10.1.2.4", "Joined": true, "Error": ""},
        ]))
        .expect("valid");
        assert_eq!(
            join_table(&results),
            "Address   Joined  Error\n\
             10.1.2.3  false   failed to connect to \"10.1.2.3:8300\": dial tcp 10.1.2.3:8300: i/o timeout\n\
             10.1.2.4  true    (none)"
        );
    }

    fn member(name: &str, addr: &str, rtt: i64) -> SerfMemberJson {
        serde_json::from_value(json!({
            "ID": "afc5d95c-1eee-4b46-b85b-0efe4c76dd48", "Name": name, "Addr": addr,
            "Port": 8300, "Datacenter": "dc1", "Role": "server", "Build": "0.8.0",
            "Protocol": 2, "Status": "alive", "RTT": rtt
        }))
        .expect("valid")
    }

    #[test]
    fn members_table_matches_consul() {
        let area = "6a52a0af-62e2-dad4-da60-e66acc37096c".to_string();
        let rows = vec![
            (area.clone(), member("node-1.dc1", "127.0.0.1", 0)),
            (area.clone(), member("node-2.dc1", "127.0.0.2", 594_191)),
        ];
        assert_eq!(
            members_table(&rows, false),
            "Area                                  Node        Address         Status  Build  Protocol  DC   RTT\n\
             6a52a0af-62e2-dad4-da60-e66acc37096c  node-1.dc1  127.0.0.1:8300  alive   0.8.0  2         dc1  0s\n\
             6a52a0af-62e2-dad4-da60-e66acc37096c  node-2.dc1  127.0.0.2:8300  alive   0.8.0  2         dc1  594.191µs"
        );
        let detailed = members_table(&rows[..1], true);
        assert_eq!(
            detailed.lines().next(),
            Some(
                "Area                                  Node        ID                                    \
                 Address         Status  Build  Protocol  DC   Role    RTT"
            )
        );
        assert!(detailed.contains("afc5d95c-1eee-4b46-b85b-0efe4c76dd48  127.0.0.1:8300"));
        let v6 = members_table(&[(area, member("n.dc1", "::1", -1))], false);
        assert!(
            v6.ends_with("[::1]:8300  alive   0.8.0  2         dc1  -1ns"),
            "{v6}"
        );
    }

    #[test]
    fn rtt_is_a_go_duration() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(999), "999ns");
        assert_eq!(go_duration(1_123_000), "1.123ms");
        assert_eq!(go_duration(594_191), "594.191µs");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(-2_000_000), "-2ms");
    }

    /// Answers one canned response per connection, in order, on a loopback socket; returns
    /// the requests (head and body) it saw.
    fn serve(responses: Vec<String>) -> (Client, std::thread::JoinHandle<Vec<String>>) {
        let (addr, handle) = crate::client::test_server::serve(responses);
        let client = Client::new(format!("http://{addr}"), None, Some("dc1".into()), false);
        (client, handle)
    }

    fn reply(code: u16, body: &str) -> String {
        format!(
            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    const LIST: &str = r#"[{"ID":"a-1","PeerDatacenter":"dc2","RetryJoin":null,"UseTLS":false},
        {"ID":"a-2","PeerDatacenter":"dc3","RetryJoin":["10.0.0.1"],"UseTLS":true}]"#;

    #[test]
    fn create_posts_consuls_body() {
        let (client, server) = serve(vec![reply(200, r#"{"ID":"a-9"}"#)]);
        let cmd = parse(&["create", "-peer-datacenter=dc2", "-retry-join=10.1.2.3"]);
        let (code, out) = run_area(&client, &cmd).expect("created");
        assert_eq!(code, 0);
        assert_eq!(out, r#"Created area "a-9" with peer datacenter "dc2"!"#);
        let seen = server.join().expect("server");
        assert!(
            seen[0].starts_with("POST /v1/operator/area?dc=dc1 HTTP/1.1"),
            "{}",
            seen[0]
        );
        let body = seen[0].split("\r\n\r\n").nth(1).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<Value>(body).expect("json"),
            json!({"PeerDatacenter": "dc2", "RetryJoin": ["10.1.2.3"], "UseTLS": false})
        );
        let err = run_area(&client, &parse(&["create"])).unwrap_err();
        assert_eq!(err.to_string(), "Must specify -peer-datacenter");
    }

    #[test]
    fn peer_datacenter_resolves_through_the_list() {
        let (client, server) = serve(vec![reply(200, LIST), reply(200, "")]);
        let (code, out) =
            run_area(&client, &parse(&["delete", "-peer-datacenter=dc3"])).expect("deleted");
        assert_eq!((code, out.as_str()), (0, r#"Deleted area "a-2"!"#));
        let seen = server.join().expect("server");
        assert!(
            seen[0].starts_with("GET /v1/operator/area?dc=dc1 "),
            "{}",
            seen[0]
        );
        assert!(
            seen[1].starts_with("DELETE /v1/operator/area/a-2?dc=dc1 "),
            "{}",
            seen[1]
        );

        let (client, server) = serve(vec![reply(200, LIST)]);
        let err = run_area(
            &client,
            &parse(&["update", "-peer-datacenter=dc9", "-use-tls"]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "No area found with peer datacenter \"dc9\""
        );
        server.join().expect("server");

        let (client, server) = serve(vec![reply(200, r#"{"ID":"a-1"}"#)]);
        let (_, out) = run_area(&client, &parse(&["update", "-id=a-1", "-use-tls"])).expect("ok");
        assert_eq!(out, r#"Updated area "a-1""#);
        let seen = server.join().expect("server");
        assert!(
            seen[0].starts_with("PUT /v1/operator/area/a-1?dc=dc1 "),
            "{}",
            seen[0]
        );
        assert!(seen[0].ends_with(r#"{"UseTLS":true}"#), "{}", seen[0]);
    }

    #[test]
    fn join_fails_when_nothing_joined() {
        let joined = r#"[{"Address":"127.0.0.2","Joined":true,"Error":""}]"#;
        let (client, server) = serve(vec![reply(200, joined)]);
        let (code, out) =
            run_area(&client, &parse(&["join", "-id=a-1", "127.0.0.2"])).expect("joined");
        assert_eq!(code, 0);
        assert_eq!(out, "Address    Joined  Error\n127.0.0.2  true    (none)");
        let seen = server.join().expect("server");
        assert!(
            seen[0].starts_with("PUT /v1/operator/area/a-1/join?dc=dc1 "),
            "{}",
            seen[0]
        );
        assert!(seen[0].ends_with(r#"["127.0.0.2"]"#), "{}", seen[0]);

        let failed = r#"[{"Address":"10.9.9.9","Joined":false,"Error":"i/o timeout"}]"#;
        let (client, server) = serve(vec![reply(200, failed)]);
        let (code, _) = run_area(&client, &parse(&["join", "-id=a-1", "10.9.9.9"])).expect("ran");
        assert_eq!(code, 1);
        server.join().expect("server");

        let err = run_area(&client, &parse(&["join", "-id=a-1"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "At least one address to join must be specified."
        );
    }

    #[test]
    fn members_of_every_area_and_errors() {
        let m = |name: &str, dc: &str| {
            format!(
                r#"{{"ID":"x","Name":"{name}.{dc}","Addr":"127.0.0.1","Port":8300,"Datacenter":"{dc}","Role":"server","Build":"1.0.0","Protocol":2,"Status":"alive","RTT":1123000}}"#
            )
        };
        let a1 = format!("[{},{}]", m("s2", "dc2"), m("s1", "dc1"));
        let a2 = format!("[{}]", m("s3", "dc3"));
        let (client, server) = serve(vec![reply(200, LIST), reply(200, &a1), reply(200, &a2)]);
        let (code, out) = run_area(&client, &parse(&["members"])).expect("members");
        assert_eq!(code, 0);
        let nodes: Vec<(&str, &str)> = out
            .lines()
            .skip(1)
            .map(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                (cells[0], cells[1])
            })
            .collect();
        assert_eq!(
            nodes,
            [("a-1", "s1.dc1"), ("a-1", "s2.dc2"), ("a-2", "s3.dc3")]
        );
        assert!(out.lines().nth(1).is_some_and(|l| l.ends_with("1.123ms")));
        let seen = server.join().expect("server");
        assert!(seen[1].starts_with("GET /v1/operator/area/a-1/members?dc=dc1 "));
        assert!(seen[2].starts_with("GET /v1/operator/area/a-2/members?dc=dc1 "));

        let (client, server) = serve(vec![reply(500, "No path to datacenter")]);
        let err = run_area(&client, &parse(&["list"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error listing areas: Unexpected response code: 500 (No path to datacenter)"
        );
        server.join().expect("server");
    }

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
