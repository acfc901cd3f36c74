//! `praetor connect ca get-config | set-config`: the Connect CA configuration over
//! `/v1/connect/ca/configuration`, with Consul's flags, output and exit codes.

use std::collections::BTreeMap;

use clap::{ArgAction, Args, Subcommand};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::{Outcome, Reply};
use crate::cli::{HttpArgs, HttpOnly};
use crate::client::Client;

/// `praetor connect ...`
#[derive(Debug, Subcommand)]
pub enum ConnectCommand {
    /// Interact with the Connect Certificate Authority (CA)
    #[command(subcommand)]
    Ca(CaCommand),
}

/// `praetor connect ca ...`
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Display the current Connect Certificate Authority (CA) configuration
    #[command(name = "get-config")]
    GetConfig(HttpOnly),
    /// Modify the current Connect CA configuration
    #[command(name = "set-config")]
    SetConfig(SetConfigArgs),
}

/// `praetor connect ca set-config -config-file FILE [-force-without-cross-signing]`
#[derive(Debug, Args)]
pub struct SetConfigArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The path to the config file to use
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Option<String>,
    /// Go ahead with the CA reconfiguration even if the current CA is unable to cross sign
    /// certificates (new leaves are rejected by proxies that have not yet seen the new root)
    #[arg(long = "force-without-cross-signing", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub force_without_cross_signing: bool,
}

impl ConnectCommand {
    /// The HTTP flags of the command; `-stale` only applies to reads (Consul's write options
    /// have no stale mode).
    fn http(&self) -> HttpArgs {
        match self {
            ConnectCommand::Ca(CaCommand::GetConfig(a)) => a.http.clone(),
            ConnectCommand::Ca(CaCommand::SetConfig(a)) => HttpArgs {
                stale: false,
                ..a.http.clone()
            },
        }
    }
}

/// Runs a `connect` subcommand and prints what it returns.
pub fn run(cmd: &ConnectCommand) -> Outcome {
    execute(&Client::from_args(&cmd.http()), cmd).print()
}

/// Runs a `connect` subcommand against `client`.
pub fn execute(client: &Client, cmd: &ConnectCommand) -> Reply {
    match cmd {
        ConnectCommand::Ca(CaCommand::GetConfig(_)) => get_config(client),
        ConnectCommand::Ca(CaCommand::SetConfig(a)) => set_config(client, a),
    }
}

const CA_CONFIG_PATH: &str = "/v1/connect/ca/configuration";

/// Consul's `api.CAConfig`, serialized in its field order. `Config` holds what Go's
/// `map[string]interface{}` would: keys in byte order (a `BTreeMap`), numbers as `float64`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CaConfig {
    pub provider: String,
    pub config: Option<Map<String, Value>>,
    pub state: Option<BTreeMap<String, String>>,
    pub force_without_cross_signing: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

/// The name Go's JSON decoder gives a value's kind in its type errors.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's `json.UnmarshalTypeError` text for a field of `api.CAConfig`.
fn type_error(v: &Value, field: &str, go_type: &str) -> String {
    let what = match v {
        Value::Number(n) => format!("number {n}"),
        other => kind(other).to_string(),
    };
    format!("json: cannot unmarshal {what} into Go struct field CAConfig.{field} of type {go_type}")
}

/// A JSON number as Go's `interface{}` decoding keeps it (a `float64`) and re-encodes it:
/// integral values print without a fraction.
fn go_float(n: &Number) -> Value {
    let Some(f) = n.as_f64() else {
        return Value::Number(n.clone());
    };
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        // Integral and within i64: exact, and Go prints it without a fraction or exponent.
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Every number inside `v` as [`go_float`] makes it.
fn go_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) => go_float(&n),
        Value::Array(items) => Value::Array(items.into_iter().map(go_numbers).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, go_numbers(v))).collect())
        }
        other => other,
    }
}

/// Decodes `api.CAConfig` as Go's `json.Unmarshal` does: field names matched without case
/// (an exact match first), unknown fields ignored, `null` leaving a field unchanged (a map
/// becomes nil), a value of the wrong type an error.
pub fn decode_ca_config(data: &[u8]) -> Result<CaConfig, String> {
    let value: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let mut out = CaConfig::default();
    let map = match value {
        Value::Null => return Ok(out),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type api.CAConfig",
                kind(&other)
            ));
        }
    };
    const FIELDS: [&str; 6] = [
        "Provider",
        "Config",
        "State",
        "ForceWithoutCrossSigning",
        "CreateIndex",
        "ModifyIndex",
    ];
    for (key, v) in map {
        let field = FIELDS
            .iter()
            .find(|f| **f == key)
            .or_else(|| FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&key)));
        let Some(&field) = field else {
            continue;
        };
        match (field, v) {
            ("Config", Value::Null) => out.config = None,
            ("State", Value::Null) => out.state = None,
            (_, Value::Null) => {}
            ("Provider", Value::String(s)) => out.provider = s,
            ("Config", Value::Object(m)) => {
                let config = out.config.get_or_insert_with(Map::new);
                config.extend(m.into_iter().map(|(k, v)| (k, go_numbers(v))));
            }
            ("State", Value::Object(m)) => {
                let state = out.state.get_or_insert_with(BTreeMap::new);
                for (k, v) in m {
                    match v {
                        Value::String(s) => {
                            state.insert(k, s);
                        }
                        Value::Null => {
                            state.insert(k, String::new());
                        }
                        other => return Err(type_error(&other, "State", "string")),
                    }
                }
            }
            ("ForceWithoutCrossSigning", Value::Bool(b)) => out.force_without_cross_signing = b,
            ("CreateIndex" | "ModifyIndex", Value::Number(n)) => {
                let Some(i) = n.as_u64() else {
                    return Err(type_error(&Value::Number(n), field, "uint64"));
                };
                if field == "CreateIndex" {
                    out.create_index = i;
                } else {
                    out.modify_index = i;
                }
            }
            (field, other) => {
                let go_type = match field {
                    "Provider" => "string",
                    "Config" => "map[string]interface {}",
                    "State" => "map[string]string",
                    "ForceWithoutCrossSigning" => "bool",
                    _ => "uint64",
                };
                return Err(type_error(&other, field, go_type));
            }
        }
    }
    Ok(out)
}

/// The configuration as `consul connect ca get-config` prints it: Go's
/// `json.MarshalIndent(config, "", "\t")` of `api.CAConfig`.
pub fn render_ca_config(config: &CaConfig) -> anyhow::Result<String> {
    super::go_json_indent(config, "\t")
}

/// `praetor connect ca get-config`
fn get_config(client: &Client) -> Reply {
    let config = client
        .get(CA_CONFIG_PATH, &[])
        .map_err(|e| e.to_string())
        .and_then(|body| decode_ca_config(&body));
    let config = match config {
        Ok(c) => c,
        Err(e) => return Reply::fail(1, format!("Error querying CA configuration: {e}")),
    };
    match render_ca_config(&config) {
        Ok(text) => Reply::ok(text),
        // Consul reports it and still prints (the empty) output with exit code 0.
        Err(e) => Reply {
            code: 0,
            out: vec![String::new()],
            err: vec![format!("Error formatting CA configuration: {e}")],
        },
    }
}

/// Go's `os.ReadFile` error text: `open PATH: no such file or directory`.
fn read_error(path: &str, e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(at) => &text[..at],
        None => text.as_str(),
    };
    let mut chars = text.chars();
    let text: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    // A directory opens and then fails to read (EISDIR).
    let op = if e.raw_os_error() == Some(libc::EISDIR) {
        "read"
    } else {
        "open"
    };
    format!("{op} {path}: {text}")
}

/// `praetor connect ca set-config`
fn set_config(client: &Client, a: &SetConfigArgs) -> Reply {
    let path = a.config_file.as_deref().unwrap_or_default();
    if path.is_empty() {
        return Reply::fail(1, "The -config-file flag is required");
    }
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            return Reply::fail(
                1,
                format!("Error reading config file: {}", read_error(path, &e)),
            );
        }
    };
    let mut config = match decode_ca_config(&data) {
        Ok(c) => c,
        Err(e) => return Reply::fail(1, format!("Error parsing config file: {e}")),
    };
    config.force_without_cross_signing = a.force_without_cross_signing;
    let body = match serde_json::to_vec(&config) {
        Ok(b) => b,
        Err(e) => return Reply::fail(1, format!("Error setting CA configuration: {e}")),
    };
    match client.put(CA_CONFIG_PATH, &[], Some(&body)) {
        Ok(_) => Reply::ok("Configuration updated!"),
        Err(e) => Reply::fail(1, format!("Error setting CA configuration: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::acl::tests::{reply, request};
    use serde_json::json;

    fn parse(args: &[&str]) -> ConnectCommand {
        let args: Vec<&str> = ["connect", "ca"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        match crate::cli::parse_for_test(&args).command {
            Command::Connect(c) => c,
            other => panic!("expected connect, got {other:?}"),
        }
    }

    /// Runs `praetor connect ca <args>` against `responses`: the reply and the requests seen.
    fn run_with(args: &[&str], responses: Vec<String>) -> (Reply, Vec<(String, Value)>) {
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
        let client = Client::from_args(&cmd.http());
        let out = execute(&client, &cmd);
        drop(client);
        let seen = server.join().expect("server");
        (out, seen.iter().map(|r| request(r)).collect())
    }

    const GET_BODY: &str = r#"{"Provider":"consul","Config":{"RootCertTTL":"87600h0m0s","LeafCertTTL":"72h0m0s","PrivateKeyBits":256,"IntermediateCertTTL":"8760h0m0s","PrivateKeyType":"ec","CSRMaxPerSecond":50.0,"Nested":{"b":1,"a":"<x>"}},"State":null,"ForceWithoutCrossSigning":false,"CreateIndex":5,"ModifyIndex":7}"#;

    #[test]
    fn get_config_prints_tab_indented_go_json() {
        let (out, seen) = run_with(
            &["get-config", "-datacenter=dc2", "-stale"],
            vec![reply(200, GET_BODY)],
        );
        assert_eq!(seen[0].0, "GET /v1/connect/ca/configuration?dc=dc2&stale=");
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.err.is_empty(), "{out:?}");
        let want = "{\n\t\"Provider\": \"consul\",\n\t\"Config\": {\n\t\t\"CSRMaxPerSecond\": 50,\n\t\t\"IntermediateCertTTL\": \"8760h0m0s\",\n\t\t\"LeafCertTTL\": \"72h0m0s\",\n\t\t\"Nested\": {\n\t\t\t\"a\": \"\\u003cx\\u003e\",\n\t\t\t\"b\": 1\n\t\t},\n\t\t\"PrivateKeyBits\": 256,\n\t\t\"PrivateKeyType\": \"ec\",\n\t\t\"RootCertTTL\": \"87600h0m0s\"\n\t},\n\t\"State\": null,\n\t\"ForceWithoutCrossSigning\": false,\n\t\"CreateIndex\": 5,\n\t\"ModifyIndex\": 7\n}";
        assert_eq!(out.out, [want]);
    }

    #[test]
    fn get_config_errors() {
        let (out, _) = run_with(&["get-config"], vec![reply(403, "Permission denied")]);
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error querying CA configuration: Unexpected response code: 403 (Permission denied)"
            )
        );
        let (out, _) = run_with(&["get-config"], vec![reply(200, "[]")]);
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error querying CA configuration: json: cannot unmarshal array into Go value of type api.CAConfig"
            )
        );
    }

    #[test]
    fn set_config_puts_the_file_with_the_force_flag() {
        let dir = std::env::temp_dir().join(format!("praetor-ca-set-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ca.json");
        std::fs::write(
            &file,
            r#"{"provider":"consul","Config":{"PrivateKeyType":"ec","PrivateKeyBits":384.0},"ForceWithoutCrossSigning":false,"Extra":1}"#,
        )
        .unwrap();
        let file = file.display().to_string();
        let (out, seen) = run_with(
            &[
                "set-config",
                "-config-file",
                &file,
                "-force-without-cross-signing",
                "-stale",
            ],
            vec![reply(200, "")],
        );
        assert_eq!(out, Reply::ok("Configuration updated!"));
        assert_eq!(seen[0].0, "PUT /v1/connect/ca/configuration");
        assert_eq!(
            seen[0].1,
            json!({"Provider": "consul",
                   "Config": {"PrivateKeyBits": 384, "PrivateKeyType": "ec"},
                   "State": null, "ForceWithoutCrossSigning": true,
                   "CreateIndex": 0, "ModifyIndex": 0})
        );

        let (out, _) = run_with(
            &["set-config", "-config-file", &file],
            vec![reply(
                400,
                "leaf cert TTL must be greater or equal than 1h0m0s",
            )],
        );
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error setting CA configuration: Unexpected response code: 400 (leaf cert TTL must be greater or equal than 1h0m0s)"
            )
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn set_config_local_errors() {
        let (out, seen) = run_with(&["set-config"], vec![]);
        assert_eq!(out, Reply::fail(1, "The -config-file flag is required"));
        assert!(seen.is_empty());
        let (out, _) = run_with(&["set-config", "-config-file=/nonexistent/ca.json"], vec![]);
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error reading config file: open /nonexistent/ca.json: no such file or directory"
            )
        );
        let dir = std::env::temp_dir().join(format!("praetor-ca-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.json");
        std::fs::write(&file, r#"{"Provider": 1}"#).unwrap();
        let (out, _) = run_with(
            &["set-config", &format!("-config-file={}", file.display())],
            vec![],
        );
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error parsing config file: json: cannot unmarshal number 1 into Go struct field CAConfig.Provider of type string"
            )
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn decoding_follows_go() {
        assert_eq!(decode_ca_config(b"null"), Ok(CaConfig::default()));
        let c = decode_ca_config(
            br#"{"PROVIDER":"vault","Provider":"consul","state":{"a":"b","c":null},"config":null,"CreateIndex":3}"#,
        )
        .unwrap();
        assert_eq!(c.provider, "consul");
        assert_eq!(c.config, None);
        assert_eq!(c.create_index, 3);
        assert_eq!(
            c.state,
            Some(BTreeMap::from([
                ("a".to_string(), "b".to_string()),
                ("c".to_string(), String::new())
            ]))
        );
        assert_eq!(
            decode_ca_config(br#"{"Config":[1]}"#),
            Err("json: cannot unmarshal array into Go struct field CAConfig.Config of type map[string]interface {}".to_string())
        );
        assert_eq!(
            decode_ca_config(br#"{"ModifyIndex":-1}"#),
            Err("json: cannot unmarshal number -1 into Go struct field CAConfig.ModifyIndex of type uint64".to_string())
        );
        assert!(decode_ca_config(b"{").is_err());
        assert_eq!(
            go_numbers(json!([1.0, 1.5, -2, 1e3])),
            json!([1, 1.5, -2, 1000])
        );
    }
}
