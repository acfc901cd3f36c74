//! `praetor acl token create|read|update|clone|delete|list` (`/v1/acl/token*`). Updates are
//! merged client side, as Consul's CLI does: the token is read, the given lists replace or
//! extend its own, and the whole token is written back.

use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{ArgAction, Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    FormatArg, Grants, LinkArgs, ListArgs, Output, OutputArgs, append_links,
    append_node_identities, block, field, go_time, go_zero_time, is_zero_time,
    merge_service_identities, meta_fields, object_path, parse_node_identities,
    parse_service_identities, put_json, render, resolve_ids, resolve_policy_id, resolve_role_id,
    resolve_token_id,
};
use crate::cli::HttpArgs;
use crate::client::Client;

/// `praetor acl token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an ACL token
    Create(TokenCreateArgs),
    /// Read an ACL token
    Read(TokenReadArgs),
    /// Update an ACL token
    Update(TokenUpdateArgs),
    /// Clone an ACL token
    Clone(TokenCloneArgs),
    /// Delete an ACL token
    Delete(TokenDeleteArgs),
    /// List ACL tokens
    List(ListArgs),
}

impl TokenCommand {
    pub fn http(&self) -> &HttpArgs {
        match self {
            TokenCommand::Create(a) => &a.http,
            TokenCommand::Read(a) => &a.http,
            TokenCommand::Update(a) => &a.http,
            TokenCommand::Clone(a) => &a.http,
            TokenCommand::Delete(a) => &a.http,
            TokenCommand::List(a) => &a.http,
        }
    }
}

/// `-accessor-id` (and Consul's deprecated `-id`).
#[derive(Debug, Clone, Default, Args)]
pub struct AccessorArg {
    /// The Accessor ID of the token: a unique prefix, or anonymous
    #[arg(long = "accessor-id", value_name = "ID", default_value = "")]
    pub accessor_id: String,
    /// Deprecated: use -accessor-id
    #[arg(long = "id", value_name = "ID", default_value = "", hide = true)]
    pub id: String,
}

impl AccessorArg {
    /// The accessor (prefix) given, or `missing` as the error.
    fn get(&self, missing: &str) -> anyhow::Result<&str> {
        if !self.accessor_id.is_empty() {
            return Ok(&self.accessor_id);
        }
        if !self.id.is_empty() {
            eprintln!("Use the -accessor-id parameter to specify token by Accessor ID");
            return Ok(&self.id);
        }
        Err(anyhow!("{missing}"))
    }
}

/// `-role-id`, `-role-name`
#[derive(Debug, Clone, Default, Args)]
pub struct RoleLinkArgs {
    /// ID (or unique ID prefix) of a role to link (repeatable)
    #[arg(long = "role-id", value_name = "ID")]
    pub role_ids: Vec<String>,
    /// Name of a role to link (repeatable)
    #[arg(long = "role-name", value_name = "NAME")]
    pub role_names: Vec<String>,
}

/// `praetor acl token create`
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    /// A description of the token
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub description: String,
    #[command(flatten)]
    pub links: LinkArgs,
    #[command(flatten)]
    pub roles: RoleLinkArgs,
    /// Create this as a datacenter local token
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub local: bool,
    /// Duration of time this token should be valid for (a Go duration, e.g. 1h30m)
    #[arg(long = "expires-ttl", value_name = "DURATION", value_parser = parse_ttl)]
    pub expires_ttl: Option<Duration>,
    /// Create the token with this Accessor ID (a UUID; generated if not given)
    #[arg(long, value_name = "UUID", default_value = "")]
    pub accessor: String,
    /// Create the token with this Secret ID (a UUID; generated if not given)
    #[arg(long, value_name = "UUID", default_value = "")]
    pub secret: String,
}

/// `praetor acl token read`
#[derive(Debug, Args)]
pub struct TokenReadArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub accessor: AccessorArg,
    /// Read the token of the request's own secret (-token and its sources)
    #[arg(long = "self", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub self_: bool,
    /// Accepted for compatibility; the token is shown as without it
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub expanded: bool,
}

/// The `-append-*` flags of `token update`.
#[derive(Debug, Clone, Default, Args)]
pub struct AppendArgs {
    /// ID of a policy to add; the token keeps its policies (repeatable)
    #[arg(long = "append-policy-id", value_name = "ID")]
    pub append_policy_ids: Vec<String>,
    /// Name of a policy to add; the token keeps its policies (repeatable)
    #[arg(long = "append-policy-name", value_name = "NAME")]
    pub append_policy_names: Vec<String>,
    /// ID of a role to add; the token keeps its roles (repeatable)
    #[arg(long = "append-role-id", value_name = "ID")]
    pub append_role_ids: Vec<String>,
    /// Name of a role to add; the token keeps its roles (repeatable)
    #[arg(long = "append-role-name", value_name = "NAME")]
    pub append_role_names: Vec<String>,
    /// A service identity to add; the token keeps its service identities (repeatable)
    #[arg(long = "append-service-identity", value_name = "NAME[:DCS]")]
    pub append_service_identities: Vec<String>,
    /// A node identity to add; the token keeps its node identities (repeatable)
    #[arg(long = "append-node-identity", value_name = "NAME:DC")]
    pub append_node_identities: Vec<String>,
}

/// `praetor acl token update`
#[derive(Debug, Args)]
pub struct TokenUpdateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub accessor: AccessorArg,
    /// A new description (empty keeps the current one)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub description: String,
    /// The -policy-*, -role-*, -service-identity and -node-identity lists replace the token's
    #[command(flatten)]
    pub links: LinkArgs,
    #[command(flatten)]
    pub roles: RoleLinkArgs,
    #[command(flatten)]
    pub append: AppendArgs,
}

/// `praetor acl token clone`
#[derive(Debug, Args)]
pub struct TokenCloneArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub format: FormatArg,
    #[command(flatten)]
    pub accessor: AccessorArg,
    /// A description of the new token
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub description: String,
}

/// `praetor acl token delete`
#[derive(Debug, Args)]
pub struct TokenDeleteArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub accessor: AccessorArg,
}

/// `-expires-ttl`: a Go duration; a negative one is no TTL (Consul only uses positive ones).
fn parse_ttl(s: &str) -> Result<Duration, String> {
    match praetor_config::parse_duration(s) {
        Ok(d) => Ok(d),
        Err(praetor_config::DurationError::Negative(_)) => Ok(Duration::ZERO),
        Err(e) => Err(e.to_string()),
    }
}

/// `api.ACLToken` (also used for `api.ACLTokenListEntry`, which has the same fields here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Token {
    pub create_index: u64,
    pub modify_index: u64,
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    pub description: String,
    #[serde(flatten)]
    pub grants: Grants,
    pub local: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_method: String,
    /// Input only: nanoseconds, as Go encodes a `time.Duration`.
    #[serde(rename = "ExpirationTTL", skip_serializing_if = "Option::is_none")]
    pub expiration_ttl: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<String>,
    #[serde(serialize_with = "go_zero_time")]
    pub create_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hash: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_method_namespace: String,
}

/// Consul's token block (`command/acl/token/formatter.go`), values at column 19.
pub fn token_block(t: &Token, meta: bool) -> String {
    const W: usize = 18;
    let mut lines = vec![
        field("", W, "AccessorID:", &t.accessor_id),
        field("", W, "SecretID:", &t.secret_id),
    ];
    if !t.partition.is_empty() {
        lines.push(field("", W, "Partition:", &t.partition));
    }
    if !t.namespace.is_empty() {
        lines.push(field("", W, "Namespace:", &t.namespace));
    }
    lines.push(field("", W, "Description:", &t.description));
    lines.push(field("", W, "Local:", t.local));
    if !t.auth_method.is_empty() {
        lines.push(field(
            "",
            W,
            "Auth Method:",
            format!("{} (Namespace: {})", t.auth_method, t.auth_method_namespace),
        ));
    }
    lines.push(field("", W, "Create Time:", go_time(&t.create_time)));
    if let Some(exp) = t.expiration_time.as_deref().filter(|e| !is_zero_time(e)) {
        lines.push(field("", W, "Expiration Time:", go_time(exp)));
    }
    if meta {
        lines.extend(meta_fields("", W, &t.hash, t.create_index, t.modify_index));
    }
    lines.extend(t.grants.lines(""));
    block(lines)
}

/// Token blocks separated by a blank line.
fn token_list(tokens: &[Token], meta: bool) -> String {
    tokens
        .iter()
        .map(|t| token_block(t, meta))
        .collect::<Vec<_>>()
        .join("\n")
}

fn token_path(id: &str) -> String {
    object_path("token", id)
}

pub fn execute(client: &Client, cmd: &TokenCommand) -> Output {
    match cmd {
        TokenCommand::Create(a) => create(client, a),
        TokenCommand::Read(a) => read(client, a),
        TokenCommand::Update(a) => update(client, a),
        TokenCommand::Clone(a) => clone(client, a),
        TokenCommand::Delete(a) => delete(client, a),
        TokenCommand::List(a) => a.run(client, "token", token_list),
    }
}

/// The role links: names, then IDs resolved from their prefixes.
fn add_roles(client: &Client, roles: &RoleLinkArgs, grants: &mut Grants) -> anyhow::Result<()> {
    let ids = resolve_ids("role", &roles.role_ids, |p| resolve_role_id(client, p))?;
    append_links(&mut grants.roles, &roles.role_names, ids);
    Ok(())
}

/// `PUT /v1/acl/token` with the token Consul's CLI builds.
fn create(client: &Client, a: &TokenCreateArgs) -> Output {
    if a.links.is_empty() && a.roles.role_ids.is_empty() && a.roles.role_names.is_empty() {
        bail!(
            "Cannot create a token without specifying -policy-name, -policy-id, -role-name, -role-id, -service-identity, or -node-identity at least once"
        );
    }
    let mut token = Token {
        description: a.description.clone(),
        local: a.local,
        accessor_id: a.accessor.clone(),
        secret_id: a.secret.clone(),
        expiration_ttl: a
            .expires_ttl
            .filter(|d| !d.is_zero())
            .map(|d| json!(d.as_nanos() as u64)),
        ..Token::default()
    };
    a.links.add_to(client, &mut token.grants)?;
    add_roles(client, &a.roles, &mut token.grants)?;
    let created: Token = put_json(client, "/v1/acl/token", &token)
        .map_err(|e| anyhow!("Failed to create new token: {e}"))?;
    a.out.render(&created, token_block)
}

fn read(client: &Client, a: &TokenReadArgs) -> Output {
    let token: Token = if a.self_ {
        if a.expanded {
            bail!(
                "Cannot use both -expanded and -self. Instead, use -expanded and -accessor-id=<accessor id>."
            );
        }
        client
            .get_json("/v1/acl/token/self", &[])
            .map_err(|e| anyhow!("Error reading token: {e}"))?
    } else {
        let partial = a.accessor.get("Must specify the -accessor-id parameter")?;
        let id = resolve_token_id(client, partial)
            .map_err(|e| anyhow!("Error determining token ID: {e}"))?;
        client
            .get_json(&token_path(&id), &[])
            .map_err(|e| anyhow!("Error reading token {id:?}: {e}"))?
    };
    a.out.render(&token, token_block)
}

/// Replaces (`-policy-*`, `-role-*`) or extends (`-append-*`) a token's links; both at once
/// is Consul's error.
fn update_links(
    links: &mut Vec<super::Link>,
    kind: (&str, &str),
    set: (&[String], &[String]),
    add: (&[String], &[String]),
    resolve: impl FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let (k, plural) = kind;
    let setting = !set.0.is_empty() || !set.1.is_empty();
    if setting && (!add.0.is_empty() || !add.1.is_empty()) {
        bail!(
            "Cannot combine the use of {k}-id/{k}-name flags with append- variants. To set or overwrite existing {plural}, use -{k}-id or -{k}-name. To append to existing {plural}, use -append-{k}-id or -append-{k}-name."
        );
    }
    let (names, ids) = if setting {
        links.clear();
        set
    } else {
        add
    };
    let ids = resolve_ids(k, ids, resolve)?;
    append_links(links, names, ids);
    Ok(())
}

/// The changes `token update` makes to the token read: a non-empty description; each list
/// given replaces the token's, each `-append-*` list extends it; the rest is kept.
pub fn apply_update(
    t: &mut Token,
    a: &TokenUpdateArgs,
    resolve_policy: impl FnMut(&str) -> anyhow::Result<String>,
    resolve_role: impl FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    if !a.description.is_empty() {
        t.description = a.description.clone();
    }
    let (set_s, add_s) = (
        &a.links.service_identities,
        &a.append.append_service_identities,
    );
    if !set_s.is_empty() && !add_s.is_empty() {
        bail!(
            "Cannot combine the use of service-identity flag with append-service-identity. To set or overwrite existing service identities, use -service-identity. To append to existing service identities, use -append-service-identity."
        );
    }
    let (set_n, add_n) = (&a.links.node_identities, &a.append.append_node_identities);
    if !set_n.is_empty() && !add_n.is_empty() {
        bail!(
            "Cannot combine the use of node-identity flag with append-node-identity. To set or overwrite existing node identities, use -node-identity. To append to existing node identities, use -append-node-identity."
        );
    }
    let g = &mut t.grants;
    update_links(
        &mut g.policies,
        ("policy", "policies"),
        (&a.links.policy_names, &a.links.policy_ids),
        (&a.append.append_policy_names, &a.append.append_policy_ids),
        resolve_policy,
    )?;
    update_links(
        &mut g.roles,
        ("role", "roles"),
        (&a.roles.role_names, &a.roles.role_ids),
        (&a.append.append_role_names, &a.append.append_role_ids),
        resolve_role,
    )?;
    if !set_s.is_empty() {
        g.service_identities = parse_service_identities(set_s)?;
    } else {
        merge_service_identities(&mut g.service_identities, parse_service_identities(add_s)?);
    }
    if !set_n.is_empty() {
        g.node_identities = parse_node_identities(set_n)?;
    } else {
        append_node_identities(&mut g.node_identities, parse_node_identities(add_n)?);
    }
    Ok(())
}

/// Reads the token, applies the flags, `PUT /v1/acl/token/<id>` of the whole token.
fn update(client: &Client, a: &TokenUpdateArgs) -> Output {
    let partial = a
        .accessor
        .get("Cannot update a token without specifying the -accessor-id parameter")?;
    let id = resolve_token_id(client, partial)
        .map_err(|e| anyhow!("Error determining token ID: {e}"))?;
    let mut token: Token = client
        .get_json(&token_path(&id), &[])
        .map_err(|e| anyhow!("Error when retrieving current token: {e}"))?;
    apply_update(
        &mut token,
        a,
        |p| resolve_policy_id(client, p),
        |r| resolve_role_id(client, r),
    )?;
    let updated: Token = put_json(client, &token_path(&id), &token)
        .map_err(|e| anyhow!("Failed to update token {id}: {e}"))?;
    a.out.render(&updated, token_block)
}

/// `PUT /v1/acl/token/<id>/clone` with `{"Description"}`.
fn clone(client: &Client, a: &TokenCloneArgs) -> Output {
    let partial = a
        .accessor
        .get("Cannot update a token without specifying the -accessor-id parameter")?;
    let id = resolve_token_id(client, partial)
        .map_err(|e| anyhow!("Error determining token Accessor ID: {e}"))?;
    let path = format!("{}/clone", token_path(&id));
    let token: Token = put_json(client, &path, &json!({ "Description": a.description }))
        .map_err(|e| anyhow!("Error cloning token: {e}"))?;
    render(&token, &a.format.format, false, token_block)
}

fn delete(client: &Client, a: &TokenDeleteArgs) -> Output {
    let partial = a.accessor.get("Must specify the -accessor-id parameter")?;
    let id = resolve_token_id(client, partial)
        .map_err(|e| anyhow!("Error determining token ID: {e}"))?;
    client
        .delete(&token_path(&id), &[])
        .map_err(|e| anyhow!("Error deleting token {id:?}: {e}"))?;
    Ok(format!("Token {id:?} deleted successfully"))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error_of, parse, reply, run_with};
    use super::super::{AclCommand, Link};
    use super::*;

    fn token_cmd(args: &[&str]) -> TokenCommand {
        let args: Vec<&str> = std::iter::once("token")
            .chain(args.iter().copied())
            .collect();
        match parse(&args) {
            AclCommand::Token(t) => t,
            other => panic!("expected token, got {other:?}"),
        }
    }

    const COMPLEX: &str = r#"{
        "CreateIndex": 5, "ModifyIndex": 10,
        "AccessorID": "fbd2447f-7479-4329-ad13-b021d74f86ba",
        "SecretID": "257ade69-748c-4022-bafd-76d27d9143f8",
        "Description": "test token",
        "Policies": [{"ID": "beb04680-815b-4d7c-9e33-3d707c24672c", "Name": "hobbiton"},
                     {"ID": "18788457-584c-4812-80d3-23d403148a90", "Name": "bywater"}],
        "Roles": [{"ID": "3b0a78fe-b9c3-40de-b8ea-7d4d6674b366", "Name": "shire"},
                  {"ID": "6c9d1e1d-34bc-4d55-80f3-add0890ad791", "Name": "west-farthing"}],
        "ServiceIdentities": [{"ServiceName": "gardener", "Datacenters": ["middleearth-northwest"]},
                              {"ServiceName": "web"}],
        "NodeIdentities": [{"NodeName": "bagend", "Datacenter": "middleearth-northwest"}],
        "TemplatedPolicies": [{"TemplateName": "builtin/service", "TemplateVariables": {"Name": "api"}},
                              {"TemplateName": "builtin/dns", "Datacenters": ["dc1", "dc2"]}],
        "Local": false,
        "AuthMethod": "bar", "AuthMethodNamespace": "baz",
        "ExpirationTime": "2020-05-22T19:52:31Z",
        "CreateTime": "2020-05-22T18:52:31Z",
        "Hash": "YWJjZGVmZ2g=",
        "Namespace": "foo"
    }"#;

    #[test]
    fn token_block_matches_consuls_golden_output() {
        let t: Token = serde_json::from_str(COMPLEX).expect("valid");
        assert_eq!(
            token_block(&t, false),
            "AccessorID:       fbd2447f-7479-4329-ad13-b021d74f86ba\n\
             SecretID:         257ade69-748c-4022-bafd-76d27d9143f8\n\
             Namespace:        foo\n\
             Description:      test token\n\
             Local:            false\n\
             Auth Method:      bar (Namespace: baz)\n\
             Create Time:      2020-05-22 18:52:31 +0000 UTC\n\
             Expiration Time:  2020-05-22 19:52:31 +0000 UTC\n\
             Policies:\n\
             \x20  beb04680-815b-4d7c-9e33-3d707c24672c - hobbiton\n\
             \x20  18788457-584c-4812-80d3-23d403148a90 - bywater\n\
             Roles:\n\
             \x20  3b0a78fe-b9c3-40de-b8ea-7d4d6674b366 - shire\n\
             \x20  6c9d1e1d-34bc-4d55-80f3-add0890ad791 - west-farthing\n\
             Service Identities:\n\
             \x20  gardener (Datacenters: middleearth-northwest)\n\
             \x20  web (Datacenters: all)\n\
             Node Identities:\n\
             \x20  bagend (Datacenter: middleearth-northwest)\n\
             Templated Policies:\n\
             \x20  builtin/service\n\
             \x20     Name: api\n\
             \x20     Datacenters: all\n\
             \x20  builtin/dns\n\
             \x20     Datacenters: dc1, dc2\n"
        );
        let with_meta = token_block(&t, true);
        assert!(
            with_meta.contains(
                "Expiration Time:  2020-05-22 19:52:31 +0000 UTC\n\
                 Hash:             6162636465666768\n\
                 Create Index:     5\n\
                 Modify Index:     10\n\
                 Policies:\n"
            ),
            "{with_meta}"
        );
        // A list: blocks separated by a blank line.
        let list = token_list(&[t.clone(), t], false);
        assert!(list.contains("west-farthing\n"));
        assert!(
            list.contains("Datacenters: dc1, dc2\n\nAccessorID:"),
            "{list}"
        );
    }

    #[test]
    fn token_json_has_consuls_field_order() {
        let t: Token = serde_json::from_str(COMPLEX).expect("valid");
        let text = serde_json::to_string(&t).expect("json");
        let at: Vec<usize> = [
            "CreateIndex",
            "ModifyIndex",
            "AccessorID",
            "SecretID",
            "Description",
            "Policies",
            "Roles",
            "ServiceIdentities",
            "NodeIdentities",
            "TemplatedPolicies",
            "Local",
            "AuthMethod",
            "ExpirationTime",
            "CreateTime",
            "Hash",
            "Namespace",
            "AuthMethodNamespace",
        ]
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).expect(k))
        .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        // A token being created: what Go's api.ACLToken marshals for it.
        let new = Token {
            description: "d".into(),
            ..Token::default()
        };
        assert_eq!(
            serde_json::to_string(&new).expect("json"),
            r#"{"CreateIndex":0,"ModifyIndex":0,"AccessorID":"","SecretID":"","Description":"d","Local":false,"CreateTime":"0001-01-01T00:00:00Z"}"#
        );
    }

    #[test]
    fn token_flags_parse() {
        let TokenCommand::Create(c) = token_cmd(&[
            "create",
            "-description=replication",
            "-policy-id=b52fc3de-5",
            "-policy-name",
            "acl-replication",
            "-role-name=db-updater",
            "-service-identity",
            "db:east,west",
            "-node-identity=n1:dc1",
            "-local",
            "-expires-ttl=1h30m",
            "-format=json",
            "-meta",
        ]) else {
            panic!("expected create");
        };
        assert_eq!(c.description, "replication");
        assert_eq!(c.links.policy_ids, ["b52fc3de-5"]);
        assert_eq!(c.links.policy_names, ["acl-replication"]);
        assert_eq!(c.roles.role_names, ["db-updater"]);
        assert_eq!(c.links.service_identities, ["db:east,west"]);
        assert_eq!(c.links.node_identities, ["n1:dc1"]);
        assert!(c.local && c.out.meta);
        assert_eq!(c.expires_ttl, Some(Duration::from_secs(5400)));
        assert_eq!(c.out.format.format, "json");

        let TokenCommand::Read(r) = token_cmd(&["read", "-self"]) else {
            panic!("expected read");
        };
        assert!(r.self_ && !r.expanded && r.accessor.accessor_id.is_empty());
        assert_eq!(r.out.format.format, "pretty");

        let TokenCommand::Update(u) = token_cmd(&[
            "update",
            "-accessor-id",
            "abcd",
            "-append-policy-name=p2",
            "-append-service-identity=web",
            "-role-id=r1",
        ]) else {
            panic!("expected update");
        };
        assert_eq!(u.accessor.accessor_id, "abcd");
        assert_eq!(u.append.append_policy_names, ["p2"]);
        assert_eq!(u.append.append_service_identities, ["web"]);
        assert_eq!(u.roles.role_ids, ["r1"]);

        let TokenCommand::Delete(d) = token_cmd(&["delete", "-id=abcd"]) else {
            panic!("expected delete");
        };
        assert_eq!(d.accessor.get("missing").expect("deprecated -id"), "abcd");
        assert!(matches!(token_cmd(&["list"]), TokenCommand::List(_)));
        assert!(matches!(
            token_cmd(&["clone", "-accessor-id=x", "-description=y"]),
            TokenCommand::Clone(_)
        ));
    }

    #[test]
    fn create_puts_consuls_body() {
        let policies = r#"[{"ID":"b52fc3de-5a3c-4a5f-9c1e-000000000001","Name":"p1"},
                          {"ID":"00000000-0000-0000-0000-000000000001","Name":"global-management"}]"#;
        let created = r#"{"AccessorID":"6a1253d2-1785-24fd-91c2-f8e78c745511",
            "SecretID":"45a3bd52-07c7-47a4-52fd-0745e0cfe967","Description":"replication",
            "Policies":[{"ID":"b52fc3de-5a3c-4a5f-9c1e-000000000001","Name":"p1"},
                        {"ID":"00000000-0000-0000-0000-000000000003","Name":"acl-replication"}],
            "ServiceIdentities":[{"ServiceName":"db","Datacenters":["east","west"]}],
            "Local":true,"ExpirationTime":"2025-08-06T13:10:19Z",
            "CreateTime":"2025-08-06T12:10:19Z","Hash":"YWJj","CreateIndex":59,"ModifyIndex":59}"#;
        let (out, seen) = run_with(
            &[
                "token",
                "create",
                "-description=replication",
                "-policy-id=b52",
                "-policy-name=acl-replication",
                "-service-identity=db:east,west",
                "-node-identity=n1:dc1",
                "-local",
                "-expires-ttl=1h",
            ],
            vec![reply(200, policies), reply(200, created)],
            "",
        );
        let out = out.expect("created");
        assert!(out.starts_with("AccessorID:       6a1253d2-1785-24fd-91c2-f8e78c745511\n"));
        assert!(out.contains("Local:            true\n"));
        assert!(out.contains("Expiration Time:  2025-08-06 13:10:19 +0000 UTC\n"));
        assert_eq!(seen[0].0, "GET /v1/acl/policies");
        assert_eq!(seen[1].0, "PUT /v1/acl/token");
        assert_eq!(
            seen[1].1,
            json!({
                "CreateIndex": 0, "ModifyIndex": 0, "AccessorID": "", "SecretID": "",
                "Description": "replication",
                "Policies": [{"ID": "", "Name": "acl-replication"},
                             {"ID": "b52fc3de-5a3c-4a5f-9c1e-000000000001", "Name": ""}],
                "ServiceIdentities": [{"ServiceName": "db", "Datacenters": ["east", "west"]}],
                "NodeIdentities": [{"NodeName": "n1", "Datacenter": "dc1"}],
                "Local": true,
                "ExpirationTTL": 3_600_000_000_000u64,
                "CreateTime": "0001-01-01T00:00:00Z"
            })
        );

        let (out, seen) = run_with(&["token", "create"], vec![], "");
        assert!(
            out.unwrap_err()
                .to_string()
                .starts_with("Cannot create a token without specifying -policy-name")
        );
        assert!(seen.is_empty());

        assert_eq!(
            error_of(
                &["token", "create", "-policy-name=nope"],
                vec![reply(500, "No such ACL policy with name \"nope\"")]
            ),
            "Failed to create new token: Unexpected response code: 500 (No such ACL policy with name \"nope\")"
        );
    }

    const CURRENT: &str = r#"{"AccessorID":"a1b2c3d4-0000-4000-8000-000000000001",
        "SecretID":"s-1","Description":"old",
        "Policies":[{"ID":"p-1","Name":"one"}],
        "Roles":[{"ID":"r-1","Name":"ops"}],
        "ServiceIdentities":[{"ServiceName":"web"}],
        "NodeIdentities":[{"NodeName":"n1","Datacenter":"dc1"}],
        "Local":false,"ExpirationTime":"2030-01-01T00:00:00Z",
        "CreateTime":"2025-01-01T00:00:00Z","Hash":"YWJj","CreateIndex":7,"ModifyIndex":9}"#;

    fn updated(args: &[&str]) -> anyhow::Result<Token> {
        let mut t: Token = serde_json::from_str(CURRENT).expect("valid");
        let args: Vec<&str> = ["update", "-accessor-id=a1b2"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let TokenCommand::Update(a) = token_cmd(&args) else {
            panic!("expected update");
        };
        apply_update(
            &mut t,
            &a,
            |p| Ok(format!("{p}-full")),
            |r| Ok(format!("{r}-full")),
        )?;
        Ok(t)
    }

    fn link(id: &str, name: &str) -> Link {
        Link {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn update_replaces_or_appends_and_keeps_the_rest() {
        // Nothing given: only what is kept.
        let current: Token = serde_json::from_str(CURRENT).expect("valid");
        assert_eq!(updated(&[]).expect("ok"), current);

        let t = updated(&["-description=new", "-policy-name=two", "-policy-id=p9"]).expect("ok");
        assert_eq!(t.description, "new");
        assert_eq!(t.grants.policies, [link("", "two"), link("p9-full", "")]);
        assert_eq!(t.grants.roles, current.grants.roles);
        assert_eq!(
            t.grants.service_identities,
            current.grants.service_identities
        );
        assert_eq!(t.expiration_time, current.expiration_time);

        let t = updated(&[
            "-append-policy-name=two",
            "-append-policy-name=one",
            "-append-role-id=r2",
            "-append-service-identity=web:dc2",
            "-append-service-identity=api",
            "-append-node-identity=n1:dc1",
            "-append-node-identity=n2:dc1",
        ])
        .expect("ok");
        assert_eq!(t.grants.policies, [link("p-1", "one"), link("", "two")]);
        assert_eq!(t.grants.roles, [link("r-1", "ops"), link("r2-full", "")]);
        let services: Vec<String> = t
            .grants
            .service_identities
            .iter()
            .map(|s| format!("{}{:?}", s.service_name, s.datacenters))
            .collect();
        assert_eq!(services, ["web[\"dc2\"]", "api[]"]);
        assert_eq!(t.grants.node_identities.len(), 2);

        let t = updated(&[
            "-service-identity=db",
            "-node-identity=n3:dc2",
            "-role-name=dev",
        ])
        .expect("ok");
        assert_eq!(t.grants.service_identities.len(), 1);
        assert_eq!(t.grants.service_identities[0].service_name, "db");
        assert_eq!(t.grants.node_identities[0].node_name, "n3");
        assert_eq!(t.grants.roles, [link("", "dev")]);
        assert_eq!(t.grants.policies, current.grants.policies);

        let err = updated(&["-policy-id=x", "-append-policy-name=y"]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "Cannot combine the use of policy-id/policy-name flags with append- variants."
            ),
            "{err}"
        );
        let err = updated(&["-role-name=x", "-append-role-id=y"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("-append-role-id or -append-role-name")
        );
        let err = updated(&["-service-identity=x", "-append-service-identity=y"]).unwrap_err();
        assert!(err.to_string().starts_with(
            "Cannot combine the use of service-identity flag with append-service-identity."
        ));
    }

    #[test]
    fn update_reads_merges_and_puts_the_whole_token() {
        let list = r#"[{"AccessorID":"a1b2c3d4-0000-4000-8000-000000000001"}]"#;
        let (out, seen) = run_with(
            &[
                "token",
                "update",
                "-accessor-id=a1b2",
                "-append-policy-name=two",
                "-format=json",
            ],
            vec![reply(200, list), reply(200, CURRENT), reply(200, CURRENT)],
            "",
        );
        assert!(
            out.expect("updated")
                .starts_with("{\n    \"CreateIndex\": 7,")
        );
        assert_eq!(seen[0].0, "GET /v1/acl/tokens");
        assert_eq!(
            seen[1].0,
            "GET /v1/acl/token/a1b2c3d4-0000-4000-8000-000000000001"
        );
        assert_eq!(
            seen[2].0,
            "PUT /v1/acl/token/a1b2c3d4-0000-4000-8000-000000000001"
        );
        let body = &seen[2].1;
        assert_eq!(body["SecretID"], "s-1");
        assert_eq!(body["ExpirationTime"], "2030-01-01T00:00:00Z");
        assert_eq!(
            body["Policies"],
            json!([{"ID": "p-1", "Name": "one"}, {"ID": "", "Name": "two"}])
        );
        assert_eq!(body["Roles"], json!([{"ID": "r-1", "Name": "ops"}]));
        assert_eq!(body["NodeIdentities"][0]["NodeName"], "n1");

        assert_eq!(
            error_of(&["token", "update"], vec![]),
            "Cannot update a token without specifying the -accessor-id parameter"
        );
    }

    #[test]
    fn prefixes_read_clone_delete_and_list() {
        let two = r#"[{"AccessorID":"a1b2c3d4-0000-4000-8000-000000000001"},
                      {"AccessorID":"a1b2ffff-0000-4000-8000-000000000001"}]"#;
        let (out, seen) = run_with(
            &["token", "read", "-accessor-id=a1b2"],
            vec![reply(200, two)],
            "",
        );
        assert_eq!(
            out.unwrap_err().to_string(),
            "Error determining token ID: Partial token ID is not unique"
        );
        assert_eq!(seen.len(), 1);
        assert_eq!(
            error_of(&["token", "read", "-accessor-id=zz"], vec![reply(200, two)]),
            "Error determining token ID: No such token ID with prefix: zz"
        );

        let (out, seen) = run_with(
            &["token", "read", "-accessor-id=anonymous"],
            vec![reply(403, "token does not exist: ACL not found")],
            "",
        );
        assert_eq!(
            out.unwrap_err().to_string(),
            "Error reading token \"00000000-0000-0000-0000-000000000002\": Unexpected response code: 403 (token does not exist: ACL not found)"
        );
        assert_eq!(
            seen[0].0,
            "GET /v1/acl/token/00000000-0000-0000-0000-000000000002"
        );

        let (out, seen) = run_with(&["token", "read", "-self"], vec![reply(200, CURRENT)], "");
        assert!(out.expect("read").contains("Description:      old\n"));
        assert_eq!(seen[0].0, "GET /v1/acl/token/self");

        let full = "a1b2c3d4-0000-4000-8000-000000000001";
        let (out, seen) = run_with(
            &[
                "token",
                "clone",
                &format!("-accessor-id={full}"),
                "-description=copy",
            ],
            vec![reply(200, CURRENT)],
            "",
        );
        assert!(out.is_ok());
        assert_eq!(seen[0].0, format!("PUT /v1/acl/token/{full}/clone"));
        assert_eq!(seen[0].1, json!({"Description": "copy"}));

        let (out, seen) = run_with(
            &["token", "delete", &format!("-accessor-id={full}")],
            vec![reply(200, "true")],
            "",
        );
        assert_eq!(
            out.expect("deleted"),
            format!("Token \"{full}\" deleted successfully")
        );
        assert_eq!(seen[0].0, format!("DELETE /v1/acl/token/{full}"));

        let (out, _) = run_with(&["token", "list"], vec![reply(200, "[]")], "");
        assert_eq!(out.expect("empty"), "");
        let (out, _) = run_with(
            &["token", "list", "-format=json"],
            vec![reply(200, "[]")],
            "",
        );
        assert_eq!(out.expect("empty"), "[]");
    }
}
