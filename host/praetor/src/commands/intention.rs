//! `praetor intention check | create | delete | get | list | match`: Connect intentions over
//! `/v1/connect/intentions*`, with Consul's flags, output and exit codes.

use std::collections::BTreeMap;
use std::io::Read;

use clap::{ArgAction, Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Outcome, Reply, null_as_default};
use crate::cli::{HttpArgs, HttpOnly};
use crate::client::{Client, ClientError, escape_segment};
use crate::table::columnize;

/// `praetor intention ...`
#[derive(Debug, Subcommand)]
pub enum IntentionCommand {
    /// Check whether a connection between two services is allowed
    Check(CheckArgs),
    /// Create intentions for service connections
    Create(CreateArgs),
    /// Delete an intention
    Delete(TargetArgs),
    /// Show information about an intention
    Get(TargetArgs),
    /// List connect intentions
    List(HttpOnly),
    /// Show intentions that match a source or destination
    Match(MatchArgs),
}

impl IntentionCommand {
    fn http(&self) -> &HttpArgs {
        match self {
            IntentionCommand::Check(a) => &a.http,
            IntentionCommand::Create(a) => &a.http,
            IntentionCommand::Delete(a) | IntentionCommand::Get(a) => &a.http,
            IntentionCommand::List(a) => &a.http,
            IntentionCommand::Match(a) => &a.http,
        }
    }
}

/// `praetor intention check [-source-type consul] SRC DST`
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The source type of the source (only consul)
    #[arg(long = "source-type", value_name = "TYPE", default_value = "consul")]
    pub source_type: String,
    /// SRC DST
    #[arg(value_name = "SRC DST")]
    pub args: Vec<String>,
}

/// `praetor intention create [-allow|-deny] [-replace] [-meta k=v]... SRC DST` or
/// `-file FILE...`
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Create an intention that allows when matched
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub allow: bool,
    /// Create an intention that denies when matched
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub deny: bool,
    /// Read intention data (legacy intention JSON) from one or more files; - reads stdin
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub file: bool,
    /// Replace matching intentions
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub replace: bool,
    /// Metadata to set on the intention, key=value (repeatable)
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// SRC DST, or the files with -file
    #[arg(value_name = "SRC DST")]
    pub args: Vec<String>,
}

/// `praetor intention get|delete SRC DST` or `ID`
#[derive(Debug, Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// SRC DST, or the ID of a legacy intention
    #[arg(value_name = "SRC DST|ID")]
    pub args: Vec<String>,
}

/// `praetor intention match [-source|-destination] NAME`
#[derive(Debug, Args)]
pub struct MatchArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Match intentions with the given source
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub source: bool,
    /// Match intentions with the given destination (the default)
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub destination: bool,
    /// The source or destination name
    #[arg(value_name = "SRC|DST")]
    pub args: Vec<String>,
}

/// Runs an `intention` subcommand and prints what it returns.
pub fn run(cmd: &IntentionCommand) -> Outcome {
    execute(&Client::from_args(cmd.http()), cmd, &mut std::io::stdin()).print()
}

/// Runs an `intention` subcommand against `client`; `stdin` feeds `-file -`.
pub fn execute(client: &Client, cmd: &IntentionCommand, stdin: &mut dyn Read) -> Reply {
    match cmd {
        IntentionCommand::Check(a) => check(client, a),
        IntentionCommand::Create(a) => create(client, a, stdin),
        IntentionCommand::Delete(a) => delete(client, a),
        IntentionCommand::Get(a) => get(client, a),
        IntentionCommand::List(_) => list(client),
        IntentionCommand::Match(a) => matches(client, a),
    }
}

/// Consul's `api.Intention`: what the API returns and the legacy create takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Intention {
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub description: String,
    #[serde(rename = "SourceNS", skip_serializing_if = "String::is_empty")]
    pub source_ns: String,
    pub source_name: String,
    #[serde(rename = "DestinationNS", skip_serializing_if = "String::is_empty")]
    pub destination_ns: String,
    pub destination_name: String,
    pub source_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub permissions: Vec<Value>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub meta: BTreeMap<String, String>,
    #[serde(skip_serializing)]
    pub precedence: i64,
    #[serde(skip_serializing)]
    pub created_at: String,
}

/// `name`, or `ns/name` outside the default namespace (Consul's `partString`).
fn part_string(ns: &str, name: &str) -> String {
    if ns.is_empty() || ns == "default" {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

/// `name`, or `ns/name` whenever a namespace is set (Consul's `FormatSource`).
fn format_target(ns: &str, name: &str) -> String {
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

impl Intention {
    /// Consul's `SourceString`.
    pub fn source_string(&self) -> String {
        part_string(&self.source_ns, &self.source_name)
    }

    /// Consul's `DestinationString`.
    pub fn destination_string(&self) -> String {
        part_string(&self.destination_ns, &self.destination_name)
    }
}

impl std::fmt::Display for Intention {
    /// `web => db (allow)`; an L7 intention shows its permission count.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let detail = match self.permissions.len() {
            0 => self.action.clone(),
            1 => "1 permission".to_string(),
            n => format!("{n} permissions"),
        };
        write!(
            f,
            "{} => {} ({detail})",
            self.source_string(),
            self.destination_string()
        )
    }
}

/// Consul's `ParseIntentionTarget`: `name`, `ns/name`; partitions are not supported.
fn parse_target(input: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = input.split('/').collect();
    match parts.as_slice() {
        [name] => Ok((String::new(), (*name).to_string())),
        [ns, name] => Ok(((*ns).to_string(), (*name).to_string())),
        [_, _, _] => Err("admin partitions are a Consul Enterprise feature".into()),
        _ => Err("input can contain at most two '/'".into()),
    }
}

/// Consul's `FlagMapValue`: `key=value` pairs.
fn parse_meta(meta: &[String]) -> Result<BTreeMap<String, String>, String> {
    meta.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("Missing \"=\" value in argument: {kv}")),
        })
        .collect()
}

/// The intentions `create` makes: from the two arguments, or from `-file` files.
fn intentions_from_args(a: &CreateArgs, stdin: &mut dyn Read) -> Result<Vec<Intention>, String> {
    if a.file {
        return a
            .args
            .iter()
            .map(|path| {
                let data = if path == "-" {
                    super::load_data_source("-", stdin)?
                } else {
                    std::fs::read(path).map_err(|e| format!("open {path}: {e}"))?
                };
                let ixn: Intention = serde_json::from_slice(&data).map_err(|e| e.to_string())?;
                if !ixn.permissions.is_empty() {
                    return Err(format!(
                        "cannot create L7 intention from file {path:?} using this CLI; use 'praetor config write' instead"
                    ));
                }
                Ok(ixn)
            })
            .collect();
    }
    let [src, dst] = a.args.as_slice() else {
        return Err("Must specify two arguments: source and destination".into());
    };
    let (source_ns, source_name) =
        parse_target(src).map_err(|e| format!("Invalid intention source: {e}"))?;
    let (destination_ns, destination_name) =
        parse_target(dst).map_err(|e| format!("Invalid intention destination: {e}"))?;
    Ok(vec![Intention {
        source_ns,
        source_name,
        destination_ns,
        destination_name,
        source_type: "consul".into(),
        action: if a.deny { "deny" } else { "allow" }.into(),
        meta: parse_meta(&a.meta)?,
        ..Intention::default()
    }])
}

/// A GET whose 404 is `None`; other failures read as Consul's `IntentionGet` and
/// `IntentionGetExact` report them (`Unexpected response 500: ...`).
fn get_intention(
    client: &Client,
    path: &str,
    query: &[(&str, &str)],
) -> Result<Option<Intention>, String> {
    let body = client.get_optional(path, query).map_err(|e| match e {
        ClientError::Status { code, body } => format!("Unexpected response {code}: {body}"),
        other => other.to_string(),
    })?;
    body.map(|b| client.decode(path, &b).map_err(|e| e.to_string()))
        .transpose()
}

const EXACT: &str = "/v1/connect/intentions/exact";

/// `praetor intention create`
fn create(client: &Client, a: &CreateArgs, stdin: &mut dyn Read) -> Reply {
    if a.allow && a.deny {
        return Reply::fail(1, "Only one of -allow or -deny may be specified.");
    }
    let ixns = match intentions_from_args(a, stdin) {
        Ok(v) => v,
        Err(e) => return Reply::fail(1, format!("Error: {e}")),
    };
    let mut reply = Reply::default();
    for mut ixn in ixns {
        let source = format_target(&ixn.source_ns, &ixn.source_name);
        let destination = format_target(&ixn.destination_ns, &ixn.destination_name);
        if a.replace {
            let old = get_intention(
                client,
                EXACT,
                &[("source", &source), ("destination", &destination)],
            );
            let old = match old {
                Ok(old) => old,
                Err(e) => {
                    reply.code = 1;
                    reply.err.push(format!(
                        "Error looking up intention for replacement with source {source:?} and destination {destination:?}: {e}"
                    ));
                    return reply;
                }
            };
            if let Some(old) = old {
                if let Err(e) = replace(client, &mut ixn, &old, &source, &destination) {
                    reply.code = 1;
                    reply.err.push(format!(
                        "Error replacing intention with source {source:?} and destination {destination:?}: {e}"
                    ));
                    return reply;
                }
                // Consul prints nothing for a replaced intention.
                continue;
            }
        }
        let body = serde_json::to_vec(&ixn).unwrap_or_default();
        if let Err(e) = client.post("/v1/connect/intentions", &[], Some(&body)) {
            reply.code = 1;
            reply.err.push(format!(
                "Error creating intention {:?}: {e}",
                ixn.to_string()
            ));
            return reply;
        }
        reply.out.push(format!("Created: {ixn}"));
    }
    reply
}

/// Overwrites `old` with `ixn`: a legacy intention (with an ID) by ID as Consul's
/// `IntentionUpdate` does, any other by its source and destination.
fn replace(
    client: &Client,
    ixn: &mut Intention,
    old: &Intention,
    source: &str,
    destination: &str,
) -> Result<(), ClientError> {
    if !old.id.is_empty() {
        ixn.id = old.id.clone();
        let body = serde_json::to_vec(&*ixn).unwrap_or_default();
        let path = format!("/v1/connect/intentions/{}", escape_segment(&ixn.id));
        client.put(&path, &[], Some(&body))?;
        return Ok(());
    }
    let body = json!({
        "SourceType": ixn.source_type,
        "Action": ixn.action,
        "Description": ixn.description,
        "Meta": ixn.meta,
    });
    client.put(
        EXACT,
        &[("source", source), ("destination", destination)],
        Some(body.to_string().as_bytes()),
    )?;
    Ok(())
}

/// Consul's `intention.GetFromArgs`: by ID or by source and destination.
fn get_from_args(client: &Client, args: &[String]) -> Result<Intention, String> {
    match args {
        [id] => {
            let path = format!("/v1/connect/intentions/{}", escape_segment(id));
            get_intention(client, &path, &[])
                .map_err(|e| format!("Error reading the intention: {e}"))?
                .ok_or_else(|| format!("Intention not found with ID {id:?}"))
        }
        [source, destination] => get_intention(
            client,
            EXACT,
            &[("source", source), ("destination", destination)],
        )
        .map_err(|e| format!("Error reading the intention: {e}"))?
        .ok_or_else(|| {
            format!("Intention not found with source {source:?} and destination {destination:?}")
        }),
        _ => Err("command requires exactly 1 or 2 arguments".into()),
    }
}

/// Go's zero `time.Time` in JSON.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `praetor intention get`
fn get(client: &Client, a: &TargetArgs) -> Reply {
    match get_from_args(client, &a.args) {
        Ok(ixn) => Reply {
            out: get_output(&ixn),
            ..Reply::default()
        },
        Err(e) => Reply::fail(1, e),
    }
}

/// Consul's `intention get` block: a two-column table, then the permissions of an L7
/// intention.
pub fn get_output(ixn: &Intention) -> Vec<String> {
    let mut rows = vec![
        vec!["Source:".to_string(), ixn.source_string()],
        vec!["Destination:".to_string(), ixn.destination_string()],
    ];
    let mut push = |label: String, value: &str| rows.push(vec![label, value.to_string()]);
    if !ixn.action.is_empty() {
        push("Action:".into(), &ixn.action);
    }
    if !ixn.id.is_empty() {
        push("ID:".into(), &ixn.id);
    }
    if !ixn.description.is_empty() {
        push("Description:".into(), &ixn.description);
    }
    for (k, v) in &ixn.meta {
        push(format!("Meta[{k}]:"), v);
    }
    let created = rfc850(&ixn.created_at);
    if !ixn.created_at.is_empty() && created != rfc850(ZERO_TIME) {
        push(
            "Created At:".into(),
            &created.unwrap_or(ixn.created_at.clone()),
        );
    }
    let mut out = vec![columnize(&rows)];
    if !ixn.permissions.is_empty() {
        let json = super::go_json_indent(&ixn.permissions, "  ").unwrap_or_default();
        out.push(format!("Permissions:\n{json}"));
    }
    out
}

/// An RFC 3339 time as Go's `time.RFC850` layout prints it in UTC
/// (`Monday, 02-Jan-06 15:04:05 UTC`); `None` if it does not parse.
pub fn rfc850(rfc3339: &str) -> Option<String> {
    let (date, rest) = rfc3339.split_once(['T', 't'])?;
    let mut ymd = date.splitn(3, '-');
    let year: i64 = ymd.next()?.parse().ok()?;
    let month: i64 = ymd.next()?.parse().ok()?;
    let day: i64 = ymd.next()?.parse().ok()?;
    let (clock, offset) = if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (clock, zone) = rest.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        (
            clock,
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60),
        )
    };
    let clock = clock.split('.').next()?;
    let mut hms = clock.splitn(3, ':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let s: i64 = hms.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s - offset;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    Some(format!(
        "{weekday}, {day:02}-{}-{:02} {:02}:{:02}:{:02} UTC",
        MONTHS[(month - 1) as usize],
        year.rem_euclid(100),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `praetor intention delete`
fn delete(client: &Client, a: &TargetArgs) -> Reply {
    let result = match a.args.as_slice() {
        [id] => client.delete(
            &format!("/v1/connect/intentions/{}", escape_segment(id)),
            &[],
        ),
        [source, destination] => {
            client.delete(EXACT, &[("source", source), ("destination", destination)])
        }
        _ => return Reply::fail(1, "command requires exactly 1 or 2 arguments"),
    };
    match result {
        Ok(_) => Reply::ok("Intention deleted."),
        Err(e) => Reply::fail(1, format!("Error deleting the intention: {e}")),
    }
}

/// `praetor intention list`
fn list(client: &Client) -> Reply {
    let ixns: Vec<Intention> = match client.get_json("/v1/connect/intentions", &[]) {
        Ok(v) => v,
        Err(e) => {
            return Reply::fail(1, format!("Failed to retrieve the intentions list: {e}"));
        }
    };
    if ixns.is_empty() {
        return Reply::fail(2, "There are no intentions.");
    }
    Reply::ok(list_output(&ixns))
}

/// Consul's `intention list` table.
pub fn list_output(ixns: &[Intention]) -> String {
    let header = ["ID", "Source", "Action", "Destination", "Precedence"].map(String::from);
    let rows: Vec<Vec<String>> = std::iter::once(header.to_vec())
        .chain(ixns.iter().map(|i| {
            vec![
                i.id.clone(),
                i.source_name.clone(),
                i.action.clone(),
                i.destination_name.clone(),
                i.precedence.to_string(),
            ]
        }))
        .collect();
    columnize(&rows)
}

/// `praetor intention check`: exit 0 allowed, 1 denied, 2 on errors.
fn check(client: &Client, a: &CheckArgs) -> Reply {
    let [source, destination] = a.args.as_slice() else {
        return Reply::fail(
            2,
            "Error: command requires exactly two arguments: src and dst",
        );
    };
    let mut query = vec![("source", source.as_str()), ("destination", destination)];
    if !a.source_type.is_empty() {
        query.push(("source-type", &a.source_type));
    }
    let answer: Value = match client.get_json("/v1/connect/intentions/check", &query) {
        Ok(v) => v,
        Err(e) => return Reply::fail(2, format!("Error checking the connection: {e}")),
    };
    if answer["Allowed"].as_bool().unwrap_or(false) {
        Reply::ok("Allowed")
    } else {
        Reply {
            code: 1,
            out: vec!["Denied".into()],
            err: Vec::new(),
        }
    }
}

/// `praetor intention match`
fn matches(client: &Client, a: &MatchArgs) -> Reply {
    let [name] = a.args.as_slice() else {
        return Reply::fail(
            1,
            "Error: command requires exactly one argument: src or dst",
        );
    };
    if a.source && a.destination {
        return Reply::fail(
            1,
            "Error: only one of -source or -destination may be specified",
        );
    }
    let by = if a.source { "source" } else { "destination" };
    let found: BTreeMap<String, Vec<Intention>> = match client.get_json(
        "/v1/connect/intentions/match",
        &[("by", by), ("name", name)],
    ) {
        Ok(v) => v,
        Err(e) => return Reply::fail(1, format!("Error matching the connection: {e}")),
    };
    Reply {
        out: found
            .get(name)
            .map(|v| v.iter().map(Intention::to_string).collect())
            .unwrap_or_default(),
        ..Reply::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::acl::tests::{reply, request};

    fn parse(args: &[&str]) -> IntentionCommand {
        let args: Vec<&str> = std::iter::once("intention")
            .chain(args.iter().copied())
            .collect();
        match crate::cli::parse_for_test(&args).command {
            Command::Intention(c) => c,
            other => panic!("expected intention, got {other:?}"),
        }
    }

    /// Runs `praetor intention <args>` against `responses`: the reply and the requests seen.
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

    fn ixn(value: Value) -> Intention {
        serde_json::from_value(value).expect("intention")
    }

    #[test]
    fn times_print_as_rfc850() {
        assert_eq!(
            rfc850("2006-01-02T15:04:05Z").as_deref(),
            Some("Monday, 02-Jan-06 15:04:05 UTC")
        );
        assert_eq!(
            rfc850("2025-08-06T12:10:19.331206299Z").as_deref(),
            Some("Wednesday, 06-Aug-25 12:10:19 UTC")
        );
        assert_eq!(
            rfc850("2024-03-01T01:30:00+02:00").as_deref(),
            Some("Thursday, 29-Feb-24 23:30:00 UTC")
        );
        assert_eq!(
            rfc850(ZERO_TIME).as_deref(),
            Some("Monday, 01-Jan-01 00:00:00 UTC")
        );
        assert_eq!(rfc850("yesterday"), None);
    }

    #[test]
    fn names_and_strings() {
        let mut i = ixn(json!({"SourceNS": "default", "SourceName": "web",
            "DestinationNS": "", "DestinationName": "db", "Action": "allow"}));
        assert_eq!(i.to_string(), "web => db (allow)");
        i.source_ns = "team".into();
        assert_eq!(i.to_string(), "team/web => db (allow)");
        i.permissions = vec![json!({"Action": "allow"})];
        assert_eq!(i.to_string(), "team/web => db (1 permission)");
        i.permissions.push(json!({"Action": "deny"}));
        assert_eq!(i.to_string(), "team/web => db (2 permissions)");
        assert_eq!(parse_target("web"), Ok((String::new(), "web".into())));
        assert_eq!(parse_target("ns/web"), Ok(("ns".into(), "web".into())));
        assert!(parse_target("a/b/c/d").is_err());
        assert_eq!(
            parse_meta(&["a=b=c".into()]),
            Ok(BTreeMap::from([("a".into(), "b=c".into())]))
        );
        assert!(parse_meta(&["nope".into()]).is_err());
    }

    #[test]
    fn get_block_matches_consul() {
        let i = ixn(json!({
            "ID": "b8d3e6c1-0000-4000-8000-000000000001", "SourceNS": "default",
            "SourceName": "web", "DestinationNS": "default", "DestinationName": "db",
            "SourceType": "consul", "Action": "allow", "Description": "front to back",
            "Meta": {"owner": "ops", "env": "prod"}, "Precedence": 9,
            "CreatedAt": "2006-01-02T15:04:05.5Z", "UpdatedAt": "2006-01-02T15:04:05Z",
            "Permissions": null
        }));
        assert_eq!(
            get_output(&i),
            ["Source:       web\n\
              Destination:  db\n\
              Action:       allow\n\
              ID:           b8d3e6c1-0000-4000-8000-000000000001\n\
              Description:  front to back\n\
              Meta[env]:    prod\n\
              Meta[owner]:  ops\n\
              Created At:   Monday, 02-Jan-06 15:04:05 UTC"]
        );
        // A config-entry intention: no ID, zero creation time, L7 permissions.
        let l7 = ixn(json!({
            "SourceName": "web", "DestinationName": "api", "CreatedAt": ZERO_TIME,
            "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/v1"}}]
        }));
        assert_eq!(
            get_output(&l7),
            [
                "Source:       web\nDestination:  api",
                "Permissions:\n[\n  {\n    \"Action\": \"allow\",\n    \"HTTP\": {\n      \"PathPrefix\": \"/v1\"\n    }\n  }\n]"
            ]
        );
    }

    #[test]
    fn list_table_and_empty_list() {
        let rows = [
            ixn(
                json!({"ID": "id-1", "SourceName": "web", "Action": "allow", "DestinationName": "db", "Precedence": 9}),
            ),
            ixn(
                json!({"SourceName": "*", "Action": "deny", "DestinationName": "db", "Precedence": 8}),
            ),
        ];
        assert_eq!(
            list_output(&rows),
            "ID    Source  Action  Destination  Precedence\n\
             id-1  web     allow   db           9\n\
             \x20     *       deny    db           8"
        );
        let (out, seen) = run_with(&["list"], vec![reply(200, "[]")], "");
        assert_eq!(seen[0].0, "GET /v1/connect/intentions");
        assert_eq!(out, Reply::fail(2, "There are no intentions."));
    }

    #[test]
    fn create_posts_legacy_intentions() {
        let (out, seen) = run_with(
            &["create", "-meta", "owner=ops", "web", "db"],
            vec![reply(200, r#"{"ID":"x"}"#)],
            "",
        );
        assert_eq!(out, Reply::ok("Created: web => db (allow)"));
        assert_eq!(seen[0].0, "POST /v1/connect/intentions");
        assert_eq!(
            seen[0].1,
            json!({"Description": "", "SourceName": "web", "DestinationName": "db",
                   "SourceType": "consul", "Action": "allow", "Meta": {"owner": "ops"}})
        );

        let (out, _) = run_with(
            &["create", "-deny", "api", "db"],
            vec![reply(500, "Invalid service name")],
            "",
        );
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error creating intention \"api => db (deny)\": Unexpected response code: 500 (Invalid service name)"
            )
        );

        let (out, _) = run_with(&["create", "-allow", "-deny", "a", "b"], vec![], "");
        assert_eq!(
            out,
            Reply::fail(1, "Only one of -allow or -deny may be specified.")
        );
        let (out, _) = run_with(&["create", "web"], vec![], "");
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error: Must specify two arguments: source and destination"
            )
        );

        // -file: legacy intention JSON, - for stdin; L7 ones are refused.
        let (out, seen) = run_with(
            &["create", "-file", "-"],
            vec![reply(200, r#"{"ID":"y"}"#)],
            r#"{"SourceName": "web", "DestinationName": "cache", "Action": "deny", "SourceType": "consul"}"#,
        );
        assert_eq!(out, Reply::ok("Created: web => cache (deny)"));
        assert_eq!(seen[0].1["Action"], "deny");
        let (out, _) = run_with(
            &["create", "-file", "-"],
            vec![],
            r#"{"SourceName": "web", "DestinationName": "cache", "Permissions": [{"Action": "deny"}]}"#,
        );
        assert!(
            out.err[0].starts_with("Error: cannot create L7 intention from file \"-\""),
            "{out:?}"
        );
    }

    #[test]
    fn create_replace_updates_the_existing_intention() {
        // Not found: created.
        let (out, seen) = run_with(
            &["create", "-replace", "-deny", "web", "db"],
            vec![
                reply(404, "Intention not found"),
                reply(200, r#"{"ID":"n"}"#),
            ],
            "",
        );
        assert_eq!(out, Reply::ok("Created: web => db (deny)"));
        assert_eq!(
            seen[0].0,
            "GET /v1/connect/intentions/exact?source=web&destination=db"
        );
        assert_eq!(seen[1].0, "POST /v1/connect/intentions");

        // A legacy intention: updated by ID, nothing printed (as Consul).
        let (out, seen) = run_with(
            &["create", "-replace", "-deny", "web", "db"],
            vec![
                reply(
                    200,
                    r#"{"ID":"abc","SourceName":"web","DestinationName":"db","Action":"allow"}"#,
                ),
                reply(200, r#"{"ID":"abc"}"#),
            ],
            "",
        );
        assert_eq!(out, Reply::default());
        assert_eq!(seen[1].0, "PUT /v1/connect/intentions/abc");
        assert_eq!(seen[1].1["Action"], "deny");
        assert_eq!(seen[1].1["ID"], "abc");

        // A config-entry intention (no ID): updated by source and destination.
        let (out, seen) = run_with(
            &["create", "-replace", "-deny", "web", "db"],
            vec![
                reply(
                    200,
                    r#"{"SourceName":"web","DestinationName":"db","Action":"allow"}"#,
                ),
                reply(200, "true"),
            ],
            "",
        );
        assert_eq!(out.code, 0);
        assert_eq!(
            seen[1].0,
            "PUT /v1/connect/intentions/exact?source=web&destination=db"
        );
        assert_eq!(seen[1].1["Action"], "deny");

        let (out, _) = run_with(
            &["create", "-replace", "web", "db"],
            vec![reply(403, "Permission denied")],
            "",
        );
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error looking up intention for replacement with source \"web\" and destination \"db\": Unexpected response 403: Permission denied"
            )
        );
    }

    #[test]
    fn get_delete_check_and_match() {
        let (out, seen) = run_with(
            &["get", "web", "db"],
            vec![reply(
                200,
                r#"{"SourceName":"web","DestinationName":"db","Action":"deny","CreatedAt":"0001-01-01T00:00:00Z"}"#,
            )],
            "",
        );
        assert_eq!(
            seen[0].0,
            "GET /v1/connect/intentions/exact?source=web&destination=db"
        );
        assert_eq!(
            out.out,
            ["Source:       web\nDestination:  db\nAction:       deny"]
        );
        let (out, _) = run_with(
            &["get", "web", "db"],
            vec![reply(404, "Intention not found")],
            "",
        );
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Intention not found with source \"web\" and destination \"db\""
            )
        );
        let (out, seen) = run_with(&["get", "abc"], vec![reply(404, "")], "");
        assert_eq!(seen[0].0, "GET /v1/connect/intentions/abc");
        assert_eq!(out, Reply::fail(1, "Intention not found with ID \"abc\""));
        let (out, _) = run_with(&["get"], vec![], "");
        assert_eq!(
            out,
            Reply::fail(1, "command requires exactly 1 or 2 arguments")
        );

        let (out, seen) = run_with(&["delete", "web", "db"], vec![reply(200, "true")], "");
        assert_eq!(
            seen[0].0,
            "DELETE /v1/connect/intentions/exact?source=web&destination=db"
        );
        assert_eq!(out, Reply::ok("Intention deleted."));
        let (out, _) = run_with(
            &["delete", "abc"],
            vec![reply(404, "Intention not found")],
            "",
        );
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error deleting the intention: Unexpected response code: 404 (Intention not found)"
            )
        );

        let (out, seen) = run_with(
            &["check", "-datacenter=dc2", "web", "db"],
            vec![reply(200, r#"{"Allowed":true}"#)],
            "",
        );
        assert_eq!(
            seen[0].0,
            "GET /v1/connect/intentions/check?dc=dc2&source=web&destination=db&source-type=consul"
        );
        assert_eq!(out, Reply::ok("Allowed"));
        let (out, _) = run_with(
            &["check", "api", "db"],
            vec![reply(200, r#"{"Allowed":false}"#)],
            "",
        );
        assert_eq!((out.code, out.out), (1, vec!["Denied".to_string()]));
        let (out, _) = run_with(&["check", "api"], vec![], "");
        assert_eq!(out.code, 2);
        let (out, _) = run_with(&["check", "a", "b"], vec![reply(500, "boom")], "");
        assert_eq!(
            out,
            Reply::fail(
                2,
                "Error checking the connection: Unexpected response code: 500 (boom)"
            )
        );

        let body = r#"{"db":[{"SourceName":"web","DestinationName":"db","Action":"allow"},
            {"SourceName":"api","DestinationName":"db","Permissions":[{"Action":"deny"}]}]}"#;
        let (out, seen) = run_with(&["match", "db"], vec![reply(200, body)], "");
        assert_eq!(
            seen[0].0,
            "GET /v1/connect/intentions/match?by=destination&name=db"
        );
        assert_eq!(out.out, ["web => db (allow)", "api => db (1 permission)"]);
        let (_, seen) = run_with(
            &["match", "-source", "web"],
            vec![reply(200, r#"{"web":[]}"#)],
            "",
        );
        assert_eq!(
            seen[0].0,
            "GET /v1/connect/intentions/match?by=source&name=web"
        );
        let (out, _) = run_with(&["match", "-source", "-destination", "x"], vec![], "");
        assert_eq!(
            out,
            Reply::fail(
                1,
                "Error: only one of -source or -destination may be specified"
            )
        );
    }
}
