//! `praetor config write | read | list | delete`: centralized config entries over `/v1/config`,
//! with Consul's flags, texts and exit codes. Entries are read as JSON or HCL (HCL blocks
//! become JSON objects, repeated blocks arrays); the agent decodes and validates them.

use std::io::Read;

use clap::{ArgAction, Args, Subcommand};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::{Outcome, Reply};
use crate::cli::HttpArgs;
use crate::client::{Client, escape_segment, parse_bool_body};

/// `praetor config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Create or update a centralized config entry
    Write(WriteArgs),
    /// Read a centralized config entry
    Read(ReadArgs),
    /// List centralized config entries of a given kind
    List(ListArgs),
    /// Delete a centralized config entry
    Delete(DeleteArgs),
}

impl ConfigCommand {
    fn http(&self) -> &HttpArgs {
        match self {
            ConfigCommand::Write(a) => &a.http,
            ConfigCommand::Read(a) => &a.http,
            ConfigCommand::List(a) => &a.http,
            ConfigCommand::Delete(a) => &a.http,
        }
    }
}

/// `praetor config write [-cas -modify-index N] FILE|-`
#[derive(Debug, Args)]
pub struct WriteArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Perform a Check-And-Set operation (needs -modify-index; 0 writes only a new entry)
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub cas: bool,
    /// The ModifyIndex the config entry must have for -cas
    #[arg(long = "modify-index", value_name = "INDEX")]
    pub modify_index: Option<u64>,
    /// The config entry file (JSON or HCL), or - to read it from stdin
    #[arg(value_name = "FILE")]
    pub source: Vec<String>,
}

/// `praetor config read -kind KIND -name NAME`
#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The kind of configuration to read
    #[arg(long, value_name = "KIND", default_value = "")]
    pub kind: String,
    /// The name of configuration to read
    #[arg(long, value_name = "NAME", default_value = "")]
    pub name: String,
}

/// `praetor config list -kind KIND`
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The kind of configurations to list
    #[arg(long, value_name = "KIND", default_value = "")]
    pub kind: String,
}

/// `praetor config delete (-kind KIND -name NAME | -filename FILE) [-cas -modify-index N]`
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The kind of configuration to delete
    #[arg(long, value_name = "KIND", default_value = "")]
    pub kind: String,
    /// The name of configuration to delete
    #[arg(long, value_name = "NAME", default_value = "")]
    pub name: String,
    /// The filename of the config entry to delete
    #[arg(long, value_name = "FILE", default_value = "")]
    pub filename: String,
    /// Perform a Check-And-Set operation (needs -modify-index)
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub cas: bool,
    /// The ModifyIndex the config entry must have for -cas
    #[arg(long = "modify-index", value_name = "INDEX", default_value_t = 0)]
    pub modify_index: u64,
}

/// Runs a `config` subcommand and prints what it returns.
pub fn run(cmd: &ConfigCommand) -> Outcome {
    execute(&Client::from_args(cmd.http()), cmd, &mut std::io::stdin()).print()
}

/// Runs a `config` subcommand against `client`; `stdin` feeds a `-` argument.
pub fn execute(client: &Client, cmd: &ConfigCommand, stdin: &mut dyn Read) -> Reply {
    match cmd {
        ConfigCommand::Write(a) => write(client, a, stdin),
        ConfigCommand::Read(a) => read(client, a),
        ConfigCommand::List(a) => list(client, a),
        ConfigCommand::Delete(a) => delete(client, a, stdin),
    }
}

/// The kinds Consul's `api.MakeConfigEntry` knows; others fail before any request.
const KINDS: &[&str] = &[
    "service-defaults",
    "proxy-defaults",
    "service-router",
    "service-splitter",
    "service-resolver",
    "ingress-gateway",
    "terminating-gateway",
    "service-intentions",
    "mesh",
    "exported-services",
    "sameness-group",
    "api-gateway",
    "bound-api-gateway",
    "inline-certificate",
    "file-system-certificate",
    "http-route",
    "tcp-route",
    "jwt-provider",
    "rate-limit-ip-config",
];

/// Keys whose values are lists of objects: a single HCL block of that name is a one-element
/// list (Consul's weak decoding), compared without case and `_`.
const LIST_KEYS: &[&str] = &[
    "sources",
    "permissions",
    "routes",
    "splits",
    "listeners",
    "services",
];

/// A config entry read from a file: the JSON object to send, its kind and its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub body: Value,
    pub kind: String,
    pub name: String,
}

/// Consul's `helpers.LoadDataSourceNoRaw`: a file path (`@path` too), or `-` for stdin.
fn load_source(arg: &str, stdin: &mut dyn Read) -> Result<Vec<u8>, String> {
    if arg.is_empty() {
        return Err("Failed to load data: must specify a file path or '-' for stdin".into());
    }
    if arg == "-" {
        return super::load_data_source("-", stdin);
    }
    let path = arg.strip_prefix('@').unwrap_or(arg);
    std::fs::read(path).map_err(|e| format!("Failed to read file: open {path}: {e}"))
}

/// Decodes a config entry given as JSON or HCL (Consul's `helpers.ParseConfigEntry`): the
/// top level must name a known `Kind` (or `kind`).
pub fn parse_entry(data: &[u8]) -> Result<Entry, String> {
    let text = std::str::from_utf8(data).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let body = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(json_err) => {
            let parsed = hcl::from_str::<Value>(text)
                .or_else(|e| hcl::from_str::<Value>(&hcl1_nested_blocks(text)).map_err(|_| e));
            match parsed {
                Ok(mut v) => {
                    listify_blocks(&mut v);
                    v
                }
                Err(_) if text.trim_start().starts_with(['{', '[']) => {
                    return Err(json_err.to_string());
                }
                Err(hcl_err) => return Err(hcl_err.to_string().trim().to_string()),
            }
        }
    };
    let Value::Object(map) = &body else {
        return Err("Payload does not contain a kind/Kind key at the top level".into());
    };
    let kind = match map.get("Kind").or_else(|| map.get("kind")) {
        None => return Err("Payload does not contain a kind/Kind key at the top level".into()),
        Some(Value::String(k)) => k.clone(),
        Some(_) => return Err("Kind value in payload is not a string".into()),
    };
    if !KINDS.contains(&kind.as_str()) {
        return Err(format!("invalid config entry kind: {kind}"));
    }
    let name = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("name"))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
        .to_string();
    Ok(Entry { body, kind, name })
}

/// HCL 1 (Consul's parser) also takes blocks inside objects (`Permissions = [{ HTTP { ... } }]`,
/// as Consul's documentation writes L7 intentions), where HCL 2 needs `HTTP = { ... }`: adds
/// the `=` after every name directly followed by `{` (outside strings, comments and heredocs).
/// Used when the text does not parse as it is.
fn hcl1_nested_blocks(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 32);
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        match c {
            '"' => {
                out.push(c);
                i += 1;
                while let Some(d) = at(i) {
                    out.push(d);
                    i += 1;
                    if d == '\\' {
                        if let Some(e) = at(i) {
                            out.push(e);
                            i += 1;
                        }
                    } else if d == '"' {
                        break;
                    }
                }
            }
            '#' => i = copy_line(&chars, i, &mut out),
            '/' if at(i + 1) == Some('/') => i = copy_line(&chars, i, &mut out),
            '/' if at(i + 1) == Some('*') => {
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                    .map_or(chars.len(), |j| j + 2);
                out.extend(&chars[i..end]);
                i = end;
            }
            '<' if at(i + 1) == Some('<') => {
                let mut j = i + 2;
                if at(j) == Some('-') {
                    j += 1;
                }
                let start = j;
                while at(j).is_some_and(|d| d.is_alphanumeric() || d == '_') {
                    j += 1;
                }
                let marker: String = chars[start..j].iter().collect();
                i = copy_line(&chars, i, &mut out);
                if !marker.is_empty() {
                    // The heredoc's lines, through the one holding only the marker.
                    while i < chars.len() {
                        let line_start = out.len();
                        i = copy_line(&chars, i, &mut out);
                        if out[line_start..].trim() == marker {
                            break;
                        }
                    }
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_some_and(|d| d.is_alphanumeric() || d == '_' || d == '-') {
                    i += 1;
                }
                out.extend(&chars[start..i]);
                let mut j = i;
                while at(j).is_some_and(|d| d == ' ' || d == '\t') {
                    j += 1;
                }
                if at(j) == Some('{') {
                    out.push_str(" =");
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Copies `chars[i..]` through the end of its line (the newline included); the next index.
fn copy_line(chars: &[char], i: usize, out: &mut String) -> usize {
    let end = (i..chars.len())
        .find(|&j| chars[j] == '\n')
        .map_or(chars.len(), |j| j + 1);
    out.extend(&chars[i..end]);
    end
}

/// Wraps a lone object under a list key (`Sources { ... }` written as one HCL block) in a
/// list, at any depth.
fn listify_blocks(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let key = k.to_ascii_lowercase().replace('_', "");
                if LIST_KEYS.contains(&key.as_str()) && child.is_object() {
                    *child = Value::Array(vec![child.take()]);
                }
                listify_blocks(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(listify_blocks),
        _ => {}
    }
}

/// `praetor config write`
fn write(client: &Client, a: &WriteArgs, stdin: &mut dyn Read) -> Reply {
    if a.source.len() != 1 {
        return Reply::fail(
            1,
            "Must provide exactly one positional argument to specify the config entry to write",
        );
    }
    if a.cas && a.modify_index.is_none() {
        return Reply::fail(1, "Must specify -modify-index with -cas");
    }
    let data = match load_source(&a.source[0], stdin) {
        Ok(d) => d,
        Err(e) => return Reply::fail(1, format!("Failed to load data: {e}")),
    };
    let entry = match parse_entry(&data) {
        Ok(e) => e,
        Err(e) => return Reply::fail(1, format!("Failed to decode config entry input: {e}")),
    };
    let (kind, name) = (&entry.kind, &entry.name);
    let index = a.modify_index.unwrap_or(0).to_string();
    let query: Vec<(&str, &str)> = if a.cas {
        vec![("cas", index.as_str())]
    } else {
        Vec::new()
    };
    let body = entry.body.to_string();
    match client.put("/v1/config", &query, Some(body.as_bytes())) {
        Err(e) => Reply::fail(1, format!("Error writing config entry {kind}/{name}: {e}")),
        Ok(b) if !parse_bool_body(&b) => {
            Reply::fail(1, format!("Config entry not updated: {kind}/{name}"))
        }
        Ok(_) => Reply::ok(format!("Config entry written: {kind}/{name}")),
    }
}

fn entry_path(kind: &str, name: &str) -> String {
    format!(
        "/v1/config/{}/{}",
        escape_segment(kind),
        escape_segment(name)
    )
}

/// `praetor config read`
fn read(client: &Client, a: &ReadArgs) -> Reply {
    if a.kind.is_empty() {
        return Reply::fail(1, "Must specify the -kind parameter");
    }
    if a.name.is_empty() {
        return Reply::fail(1, "Must specify the -name parameter");
    }
    let (kind, name) = (&a.kind, &a.name);
    let entry: Value = match client.get_json(&entry_path(kind, name), &[]) {
        Ok(v) => v,
        Err(e) => return Reply::fail(1, format!("Error reading config entry {kind}/{name}: {e}")),
    };
    match render_entry(&entry) {
        Ok(text) => Reply::ok(text),
        Err(_) => Reply::fail(1, "Failed to encode output data"),
    }
}

/// An entry as Consul's `config read` prints it: 4-space indented JSON, `Kind`, `Name`,
/// `Partition` and `Namespace` first and `Meta`, `CreateIndex`, `ModifyIndex` last (the order
/// of Consul's Go structs), the rest in name order; no `Hash`.
pub fn render_entry(entry: &Value) -> anyhow::Result<String> {
    match entry {
        Value::Object(map) => {
            let mut map = map.clone();
            map.remove("Hash");
            super::go_json(&Ordered(&map))
        }
        other => super::go_json(other),
    }
}

const FIRST: &[&str] = &["Kind", "Name", "Partition", "Namespace"];
const LAST: &[&str] = &["Meta", "CreateIndex", "ModifyIndex"];

/// A top-level entry object serialized in [`render_entry`]'s key order.
struct Ordered<'a>(&'a Map<String, Value>);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map = self.0;
        let middle = map
            .keys()
            .map(String::as_str)
            .filter(|k| !FIRST.contains(k) && !LAST.contains(k));
        let keys: Vec<&str> = FIRST
            .iter()
            .copied()
            .chain(middle)
            .chain(LAST.iter().copied())
            .filter(|k| map.contains_key(*k))
            .collect();
        let mut out = s.serialize_map(Some(keys.len()))?;
        for k in keys {
            out.serialize_entry(k, &map[k])?;
        }
        out.end()
    }
}

/// `praetor config list`
fn list(client: &Client, a: &ListArgs) -> Reply {
    if a.kind.is_empty() {
        return Reply::fail(1, "Must specify the -kind parameter");
    }
    let path = format!("/v1/config/{}", escape_segment(&a.kind));
    let entries: Vec<Value> = match client.get_json(&path, &[]) {
        Ok(v) => v,
        Err(e) => {
            return Reply::fail(
                1,
                format!("Error listing config entries for kind {:?}: {e}", a.kind),
            );
        }
    };
    Reply {
        out: entries
            .iter()
            .map(|e| e["Name"].as_str().unwrap_or_default().to_string())
            .collect(),
        ..Reply::default()
    }
}

/// Consul's `config delete` flag checks.
fn validate_delete(a: &DeleteArgs) -> Result<(), &'static str> {
    let count = [&a.filename, &a.kind, &a.name]
        .iter()
        .filter(|s| !s.is_empty())
        .count();
    if count == 0 {
        return Err("Must specify the -kind or -filename parameter");
    }
    if !a.filename.is_empty() {
        if count >= 2 {
            return Err("filename can't be used with kind or name");
        }
    } else if a.kind.is_empty() {
        return Err("Must specify the -kind parameter");
    } else if a.name.is_empty() {
        return Err("Must specify the -name parameter");
    }
    if a.cas && a.modify_index == 0 {
        return Err("Must specify a -modify-index greater than 0 with -cas");
    }
    if a.modify_index != 0 && !a.cas {
        return Err("Cannot specify -modify-index without -cas");
    }
    Ok(())
}

/// `praetor config delete`
fn delete(client: &Client, a: &DeleteArgs, stdin: &mut dyn Read) -> Reply {
    if let Err(e) = validate_delete(a) {
        return Reply::fail(1, e);
    }
    let (kind, name) = if a.filename.is_empty() {
        (a.kind.clone(), a.name.clone())
    } else {
        let data = match load_source(&a.filename, stdin) {
            Ok(d) => d,
            Err(e) => return Reply::fail(1, format!("Failed to load data: {e}")),
        };
        match parse_entry(&data) {
            Ok(e) => (e.kind, e.name),
            Err(e) => {
                return Reply::fail(1, format!("Failed to decode config entry input: {e}"));
            }
        }
    };
    let index = a.modify_index.to_string();
    let query: Vec<(&str, &str)> = if a.cas {
        vec![("cas", index.as_str())]
    } else {
        Vec::new()
    };
    match client.delete(&entry_path(&kind, &name), &query) {
        Err(e) => Reply::fail(1, format!("Error deleting config entry {kind}/{name}: {e}")),
        Ok(b) if a.cas && !parse_bool_body(&b) => {
            Reply::fail(1, format!("Config entry not deleted: {kind}/{name}"))
        }
        Ok(_) => Reply::ok(format!("Config entry deleted: {kind}/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::acl::tests::{reply, request};
    use serde_json::json;

    fn parse(args: &[&str]) -> ConfigCommand {
        let args: Vec<&str> = std::iter::once("config")
            .chain(args.iter().copied())
            .collect();
        match crate::cli::parse_for_test(&args).command {
            Command::Config(c) => c,
            other => panic!("expected config, got {other:?}"),
        }
    }

    /// Runs `praetor config <args>` against `responses`: the reply and the requests seen.
    fn run_with(
        args: &[&str],
        responses: Vec<String>,
        stdin: &str,
    ) -> (Reply, Vec<(String, Value)>) {
        // The client is built from the flags as `run` builds it, pointed at the server.
        let (addr, server) = crate::client::test_server::serve(responses);
        let addr = format!("-http-addr=http://{addr}");
        let args: Vec<&str> = args[..1]
            .iter()
            .copied()
            .chain(std::iter::once(addr.as_str()))
            .chain(args[1..].iter().copied())
            .collect();
        let cmd = parse(&args);
        let client = Client::from_args(cmd.http());
        let mut input = stdin.as_bytes();
        let out = execute(&client, &cmd, &mut input);
        drop(client);
        let seen = server.join().expect("server");
        (out, seen.iter().map(|r| request(r)).collect())
    }

    const PROXY_HCL: &str = r#"
Kind = "proxy-defaults"
Name = "global"
Config {
  protocol = "http"
}
MeshGateway {
  Mode = "local"
}
"#;

    #[test]
    fn hcl_blocks_become_the_json_the_api_takes() {
        let e = parse_entry(PROXY_HCL.as_bytes()).expect("parses");
        assert_eq!(
            (e.kind.as_str(), e.name.as_str()),
            ("proxy-defaults", "global")
        );
        assert_eq!(
            e.body,
            json!({"Kind": "proxy-defaults", "Name": "global",
                   "Config": {"protocol": "http"}, "MeshGateway": {"Mode": "local"}})
        );

        let ixn = r#"
Kind = "service-intentions"
Name = "db"
Sources = [
  {
    Name   = "web"
    Action = "allow"
  },
  {
    Name   = "api"
    Action = "deny"
  }
]
"#;
        let e = parse_entry(ixn.as_bytes()).expect("parses");
        assert_eq!(
            e.body["Sources"],
            json!([{"Name": "web", "Action": "allow"}, {"Name": "api", "Action": "deny"}])
        );

        // Sources written as blocks: one block is a one-element list, repeated blocks a list.
        let one = "Kind = \"service-intentions\"\nName = \"db\"\nSources {\n  Name = \"web\"\n  Action = \"allow\"\n}\n";
        let e = parse_entry(one.as_bytes()).expect("parses");
        assert_eq!(
            e.body["Sources"],
            json!([{"Name": "web", "Action": "allow"}])
        );
        let two = format!("{one}Sources {{\n  Name = \"api\"\n  Action = \"deny\"\n}}\n");
        let e = parse_entry(two.as_bytes()).expect("parses");
        assert_eq!(e.body["Sources"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn hcl1_blocks_inside_objects() {
        let l7 = r#"
Kind = "service-intentions"
Name = "db"
# a comment with a brace {
Sources = [
  {
    Name = "admin"
    Description = "not a block {"
    Permissions = [
      {
        Action = "allow"
        HTTP {
          PathPrefix = "/admin"
          Header = [{ Name = "x-ok", Present = true }]
        }
      }
    ]
  }
]
"#;
        let e = parse_entry(l7.as_bytes()).expect("parses");
        assert_eq!(
            e.body["Sources"],
            json!([{"Name": "admin", "Description": "not a block {", "Permissions": [
                {"Action": "allow", "HTTP": {"PathPrefix": "/admin",
                  "Header": [{"Name": "x-ok", "Present": true}]}}]}])
        );
        assert_eq!(
            hcl1_nested_blocks("a {\n  s = <<EOT\nx {\nEOT\n}\n/* y { */ z\t{}"),
            "a = {\n  s = <<EOT\nx {\nEOT\n}\n/* y { */ z =\t{}"
        );
    }

    #[test]
    fn json_entries_and_decode_errors() {
        let e = parse_entry(br#"{"kind": "service-defaults", "name": "web", "protocol": "http"}"#)
            .expect("parses");
        assert_eq!(
            (e.kind.as_str(), e.name.as_str()),
            ("service-defaults", "web")
        );
        assert_eq!(e.body["protocol"], "http");
        assert_eq!(
            parse_entry(br#"{"Name": "web"}"#).unwrap_err(),
            "Payload does not contain a kind/Kind key at the top level"
        );
        assert_eq!(
            parse_entry(br#"{"Kind": 3}"#).unwrap_err(),
            "Kind value in payload is not a string"
        );
        assert_eq!(
            parse_entry(b"Kind = \"bogus\"\nName = \"x\"\n").unwrap_err(),
            "invalid config entry kind: bogus"
        );
        // Broken JSON reports the JSON error, other text the HCL one.
        let err = parse_entry(br#"{"Kind": "mesh""#).unwrap_err();
        assert!(err.contains("EOF"), "{err}");
        assert!(parse_entry(b"Kind = ").is_err());
    }

    #[test]
    fn read_prints_consul_ordered_json_without_hash() {
        let entry = json!({
            "Name": "global", "Kind": "proxy-defaults", "MeshGateway": {"Mode": "local"},
            "Config": {"protocol": "http"}, "Hash": "abc", "ModifyIndex": 12, "CreateIndex": 11,
            "Meta": {"owner": "a<b"}
        });
        assert_eq!(
            render_entry(&entry).expect("renders"),
            r#"{
    "Kind": "proxy-defaults",
    "Name": "global",
    "Config": {
        "protocol": "http"
    },
    "MeshGateway": {
        "Mode": "local"
    },
    "Meta": {
        "owner": "a\u003cb"
    },
    "CreateIndex": 11,
    "ModifyIndex": 12
}"#
        );
    }

    #[test]
    fn write_sends_the_entry_and_reports_like_consul() {
        let dir = std::env::temp_dir().join(format!("praetor-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("proxy.hcl");
        std::fs::write(&file, PROXY_HCL).expect("write");
        let path = file.display().to_string();

        let (out, seen) = run_with(&["write", &path], vec![reply(200, "true")], "");
        assert_eq!(
            out,
            Reply::ok("Config entry written: proxy-defaults/global")
        );
        assert_eq!(seen[0].0, "PUT /v1/config");
        assert_eq!(seen[0].1["MeshGateway"], json!({"Mode": "local"}));

        let (out, seen) = run_with(
            &["write", "-cas", "-modify-index=7", "-datacenter=dc2", "-"],
            vec![reply(200, "false")],
            r#"{"Kind": "service-defaults", "Name": "web"}"#,
        );
        assert_eq!(
            out,
            Reply::fail(1, "Config entry not updated: service-defaults/web")
        );
        assert_eq!(seen[0].0, "PUT /v1/config?dc=dc2&cas=7");

        let (out, _) = run_with(
            &["write", "-"],
            vec![reply(
                500,
                r#"Invalid protocol "smtp": must be one of http, http2, grpc, tcp"#,
            )],
            "Kind = \"service-defaults\"\nName = \"web\"\nProtocol = \"smtp\"\n",
        );
        assert_eq!(
            out.err,
            [
                "Error writing config entry service-defaults/web: Unexpected response code: 500 (Invalid protocol \"smtp\": must be one of http, http2, grpc, tcp)"
            ]
        );
        assert_eq!(out.code, 1);

        // Failures before any request.
        let (out, _) = run_with(&["write", "-"], vec![], "Name = \"x\"\n");
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Failed to decode config entry input: Payload does not contain a kind/Kind key at the top level"
            )
        );
        let (out, _) = run_with(&["write", "-cas", &path], vec![], "");
        assert_eq!(out, Reply::fail(1, "Must specify -modify-index with -cas"));
        let (out, _) = run_with(&["write"], vec![], "");
        assert_eq!(out.code, 1);
        let (out, _) = run_with(&["write", "/nonexistent/entry.hcl"], vec![], "");
        assert!(
            out.err[0].starts_with("Failed to load data: Failed to read file: "),
            "{out:?}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn read_list_and_delete() {
        let (out, seen) = run_with(
            &["read", "-kind", "proxy-defaults", "-name", "global"],
            vec![reply(200, r#"{"Kind":"proxy-defaults","Name":"global"}"#)],
            "",
        );
        assert_eq!(seen[0].0, "GET /v1/config/proxy-defaults/global");
        assert_eq!(
            out.out,
            ["{\n    \"Kind\": \"proxy-defaults\",\n    \"Name\": \"global\"\n}"]
        );
        let (out, _) = run_with(
            &["read", "-kind=service-defaults", "-name=nope"],
            vec![reply(
                404,
                r#"Config entry not found for "service-defaults" / "nope""#,
            )],
            "",
        );
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error reading config entry service-defaults/nope: Unexpected response code: 404 (Config entry not found for \"service-defaults\" / \"nope\")"
            )
        );
        let (out, _) = run_with(&["read", "-name=x"], vec![], "");
        assert_eq!(out, Reply::fail(1, "Must specify the -kind parameter"));
        let (out, _) = run_with(&["read", "-kind=mesh"], vec![], "");
        assert_eq!(out, Reply::fail(1, "Must specify the -name parameter"));

        let (out, seen) = run_with(
            &["list", "-kind", "service-defaults"],
            vec![reply(
                200,
                r#"[{"Kind":"service-defaults","Name":"api"},{"Name":"web"}]"#,
            )],
            "",
        );
        assert_eq!(seen[0].0, "GET /v1/config/service-defaults");
        assert_eq!(out.out, ["api", "web"]);
        assert_eq!(out.code, 0);

        let (out, seen) = run_with(
            &["delete", "-kind", "service-defaults", "-name", "web"],
            vec![reply(200, "{}")],
            "",
        );
        assert_eq!(seen[0].0, "DELETE /v1/config/service-defaults/web");
        assert_eq!(out, Reply::ok("Config entry deleted: service-defaults/web"));
        let (out, seen) = run_with(
            &["delete", "-filename", "-", "-cas", "-modify-index", "4"],
            vec![reply(200, "false")],
            r#"{"Kind":"mesh","Name":"mesh"}"#,
        );
        assert_eq!(seen[0].0, "DELETE /v1/config/mesh/mesh?cas=4");
        assert_eq!(out, Reply::fail(1, "Config entry not deleted: mesh/mesh"));

        for (args, text) in [
            (
                &["delete"][..],
                "Must specify the -kind or -filename parameter",
            ),
            (
                &["delete", "-kind=mesh"],
                "Must specify the -name parameter",
            ),
            (
                &["delete", "-filename=f", "-kind=mesh"],
                "filename can't be used with kind or name",
            ),
            (
                &["delete", "-kind=mesh", "-name=mesh", "-cas"],
                "Must specify a -modify-index greater than 0 with -cas",
            ),
            (
                &["delete", "-kind=mesh", "-name=mesh", "-modify-index=2"],
                "Cannot specify -modify-index without -cas",
            ),
        ] {
            let (out, _) = run_with(args, vec![], "");
            assert_eq!(out, Reply::fail(1, text), "{args:?}");
        }
    }
}
