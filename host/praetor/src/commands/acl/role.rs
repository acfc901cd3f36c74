//! `praetor acl role create|read|update|delete|list` (`/v1/acl/role*`).

use anyhow::{anyhow, bail};
use clap::{ArgAction, Args, Subcommand};
use serde::{Deserialize, Serialize};

use super::{
    DeleteArgs, Grants, LinkArgs, ListArgs, NameArgs, Output, OutputArgs, ReadArgs, block,
    get_optional, help, object_path, put_json, resolve_role_id,
};
use crate::cli::HttpArgs;
use crate::client::Client;

/// `praetor acl role ...`
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create an ACL role
    Create(RoleCreateArgs),
    /// Read an ACL role
    Read(ReadArgs),
    /// Update an ACL role
    Update(RoleUpdateArgs),
    /// Delete an ACL role
    Delete(DeleteArgs),
    /// Lists ACL roles
    List(ListArgs),
}

impl RoleCommand {
    pub fn http(&self) -> &HttpArgs {
        match self {
            RoleCommand::Create(a) => &a.http,
            RoleCommand::Read(a) => &a.http,
            RoleCommand::Update(a) => &a.http,
            RoleCommand::Delete(a) => &a.http,
            RoleCommand::List(a) => &a.http,
        }
    }
}

/// `praetor acl role create -name NAME [options]`
#[derive(Debug, Args)]
pub struct RoleCreateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub named: NameArgs,
    #[command(flatten)]
    pub links: LinkArgs,
}

/// `praetor acl role update -id ID [options]`: adds to the current role unless `-no-merge`.
#[derive(Debug, Args)]
pub struct RoleUpdateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    /// The ID of the role (a unique prefix)
    #[arg(long, value_name = "ID", default_value = "")]
    pub id: String,
    /// A new name (empty keeps the current one)
    #[arg(long, value_name = "NAME", default_value = "")]
    pub name: String,
    /// A new description (empty keeps the current one)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub description: String,
    #[command(flatten)]
    pub links: LinkArgs,
    /// Overwrite every field with the flags given instead of adding to the role
    #[arg(long = "no-merge", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub no_merge: bool,
}

/// `api.ACLRole`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Role {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(flatten)]
    pub grants: Grants,
    /// `null` when unset, as Go encodes a nil `[]byte`.
    pub hash: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
}

/// Consul's role block, or (with a `prefix`) its list entry: `<name>:` and everything
/// indented by the prefix.
fn role_lines(r: &Role, prefix: &str, meta: bool) -> String {
    let head = head_of!(r);
    let mut lines = head.lines(prefix, meta, &[]);
    lines.extend(r.grants.lines(prefix));
    block(lines)
}

pub fn role_block(r: &Role, meta: bool) -> String {
    role_lines(r, "", meta)
}

fn role_list(roles: &[Role], meta: bool) -> String {
    roles.iter().map(|r| role_lines(r, "   ", meta)).collect()
}

fn role_path(id: &str) -> String {
    object_path("role", id)
}

pub fn execute(client: &Client, cmd: &RoleCommand) -> Output {
    match cmd {
        RoleCommand::Create(a) => create(client, a),
        RoleCommand::Read(a) => read(client, a),
        RoleCommand::Update(a) => update(client, a),
        RoleCommand::Delete(a) => delete(client, a),
        RoleCommand::List(a) => a.run(client, "role", role_list),
    }
}

/// `PUT /v1/acl/role`
fn create(client: &Client, a: &RoleCreateArgs) -> Output {
    if a.named.name.is_empty() {
        bail!(
            "Missing required '-name' flag\n{}",
            help(&["role", "create"])
        );
    }
    if a.links.is_empty() {
        bail!(
            "Cannot create a role without specifying -policy-name, -policy-id, -service-identity, or -node-identity at least once"
        );
    }
    let mut role = Role {
        name: a.named.name.clone(),
        description: a.named.description.clone(),
        ..Role::default()
    };
    a.links.add_to(client, &mut role.grants)?;
    let created: Role = put_json(client, "/v1/acl/role", &role)
        .map_err(|e| anyhow!("Failed to create new role: {e}"))?;
    a.out.render(&created, role_block)
}

fn read(client: &Client, a: &ReadArgs) -> Output {
    let (id, name) = (&a.select.id, &a.select.name);
    if id.is_empty() && name.is_empty() {
        bail!("Must specify either the -id or -name parameters");
    }
    let role: Role = if !id.is_empty() {
        let id =
            resolve_role_id(client, id).map_err(|e| anyhow!("Error determining role ID: {e}"))?;
        get_optional(client, &role_path(&id))
            .map_err(|e| anyhow!("Error reading role {id:?}: {e}"))?
            .ok_or_else(|| anyhow!("Role not found with ID {id:?}"))?
    } else {
        let path = object_path("role/name", name);
        get_optional(client, &path)
            .map_err(|e| anyhow!("Error reading role {name:?}: {e}"))?
            .ok_or_else(|| anyhow!("Role not found with name {name:?}"))?
    };
    a.out.render(&role, role_block)
}

/// Reads the role; adds the flags' links to it (or, with `-no-merge`, writes only the flags);
/// `PUT /v1/acl/role/<id>`.
fn update(client: &Client, a: &RoleUpdateArgs) -> Output {
    if a.id.is_empty() {
        bail!("Cannot update a role without specifying the -id parameter");
    }
    let id =
        resolve_role_id(client, &a.id).map_err(|e| anyhow!("Error determining role ID: {e}"))?;
    let current: Role = get_optional(client, &role_path(&id))
        .map_err(|e| anyhow!("Error when retrieving current role: {e}"))?
        .ok_or_else(|| anyhow!("Role not found with ID {id:?}"))?;
    let mut role = if a.no_merge {
        Role {
            id: id.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            ..Role::default()
        }
    } else {
        let mut r = current;
        if !a.name.is_empty() {
            r.name = a.name.clone();
        }
        if !a.description.is_empty() {
            r.description = a.description.clone();
        }
        r
    };
    a.links.add_to(client, &mut role.grants)?;
    let written: Role = put_json(client, &role_path(&id), &role)
        .map_err(|e| anyhow!("Error updating role {id:?}: {e}"))?;
    a.out.render(&written, role_block)
}

fn delete(client: &Client, a: &DeleteArgs) -> Output {
    let (id, name) = (&a.select.id, &a.select.name);
    if id.is_empty() && name.is_empty() {
        bail!("Must specify the -id or -name parameters");
    }
    let found = if !id.is_empty() {
        resolve_role_id(client, id)
    } else {
        client
            .get_json::<Vec<Role>>("/v1/acl/roles", &[])
            .map_err(anyhow::Error::from)
            .and_then(|roles| {
                roles
                    .into_iter()
                    .find(|r| &r.name == name)
                    .map(|r| r.id)
                    .ok_or_else(|| anyhow!("No such role with name {name}"))
            })
    };
    let id = found.map_err(|e| anyhow!("Error determining role ID: {e}"))?;
    client
        .delete(&role_path(&id), &[])
        .map_err(|e| anyhow!("Error deleting role {id:?}: {e}"))?;
    Ok(format!("Role {id:?} deleted successfully"))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error_of, reply, run_with};
    use super::*;
    use serde_json::json;

    const COMPLEX: &str = r#"{"ID":"c29c4ee4-bca6-474e-be37-7d9606f9582a","Name":"complex",
        "Description":"test role complex",
        "Policies":[{"ID":"beb04680-815b-4d7c-9e33-3d707c24672c","Name":"hobbiton"},
                    {"ID":"18788457-584c-4812-80d3-23d403148a90","Name":"bywater"}],
        "ServiceIdentities":[{"ServiceName":"gardener","Datacenters":["middleearth-northwest"]}],
        "NodeIdentities":[{"NodeName":"bagend","Datacenter":"middleearth-northwest"}],
        "Hash":"YWJjZGVmZ2g=","CreateIndex":5,"ModifyIndex":10,"Namespace":"foo"}"#;

    #[test]
    fn role_block_list_and_json_match_consuls_golden_files() {
        let r: Role = serde_json::from_str(COMPLEX).expect("valid");
        assert_eq!(
            role_block(&r, false),
            "ID:           c29c4ee4-bca6-474e-be37-7d9606f9582a\n\
             Name:         complex\n\
             Namespace:    foo\n\
             Description:  test role complex\n\
             Policies:\n   \
             beb04680-815b-4d7c-9e33-3d707c24672c - hobbiton\n   \
             18788457-584c-4812-80d3-23d403148a90 - bywater\n\
             Service Identities:\n   \
             gardener (Datacenters: middleearth-northwest)\n\
             Node Identities:\n   \
             bagend (Datacenter: middleearth-northwest)\n"
        );
        assert_eq!(
            role_list(std::slice::from_ref(&r), false),
            "complex:\n   \
             ID:           c29c4ee4-bca6-474e-be37-7d9606f9582a\n   \
             Namespace:    foo\n   \
             Description:  test role complex\n   \
             Policies:\n      \
             beb04680-815b-4d7c-9e33-3d707c24672c - hobbiton\n      \
             18788457-584c-4812-80d3-23d403148a90 - bywater\n   \
             Service Identities:\n      \
             gardener (Datacenters: middleearth-northwest)\n   \
             Node Identities:\n      \
             bagend (Datacenter: middleearth-northwest)\n"
        );
        assert!(role_block(&r, true).contains(
            "Description:  test role complex\nHash:         6162636465666768\nCreate Index: 5\nModify Index: 10\n"
        ));
        // command/acl/role/testdata/FormatRole/complex.json.golden
        assert_eq!(
            super::super::super::go_json(&r).expect("json"),
            "{\n    \"ID\": \"c29c4ee4-bca6-474e-be37-7d9606f9582a\",\n    \"Name\": \"complex\",\n    \"Description\": \"test role complex\",\n    \"Policies\": [\n        {\n            \"ID\": \"beb04680-815b-4d7c-9e33-3d707c24672c\",\n            \"Name\": \"hobbiton\"\n        },\n        {\n            \"ID\": \"18788457-584c-4812-80d3-23d403148a90\",\n            \"Name\": \"bywater\"\n        }\n    ],\n    \"ServiceIdentities\": [\n        {\n            \"ServiceName\": \"gardener\",\n            \"Datacenters\": [\n                \"middleearth-northwest\"\n            ]\n        }\n    ],\n    \"NodeIdentities\": [\n        {\n            \"NodeName\": \"bagend\",\n            \"Datacenter\": \"middleearth-northwest\"\n        }\n    ],\n    \"Hash\": \"YWJjZGVmZ2g=\",\n    \"CreateIndex\": 5,\n    \"ModifyIndex\": 10,\n    \"Namespace\": \"foo\"\n}"
        );
    }

    #[test]
    fn create_update_delete_requests() {
        let (out, seen) = run_with(
            &[
                "role",
                "create",
                "-name=complex",
                "-policy-name=hobbiton",
                "-service-identity=gardener:middleearth-northwest",
            ],
            vec![reply(200, COMPLEX)],
            "",
        );
        assert!(out.expect("created").starts_with("ID:           c29c4ee4"));
        assert_eq!(seen[0].0, "PUT /v1/acl/role");
        assert_eq!(
            seen[0].1,
            json!({"ID": "", "Name": "complex", "Description": "",
                   "Policies": [{"ID": "", "Name": "hobbiton"}],
                   "ServiceIdentities": [{"ServiceName": "gardener", "Datacenters": ["middleearth-northwest"]}],
                   "Hash": null, "CreateIndex": 0, "ModifyIndex": 0})
        );
        assert!(
            error_of(&["role", "create", "-name=x"], vec![])
                .starts_with("Cannot create a role without specifying")
        );

        let full = "c29c4ee4-bca6-474e-be37-7d9606f9582a";
        let (out, seen) = run_with(
            &[
                "role",
                "update",
                &format!("-id={full}"),
                "-policy-name=shire",
                "-node-identity=bagend:middleearth-northwest",
            ],
            vec![reply(200, COMPLEX), reply(200, COMPLEX)],
            "",
        );
        assert!(out.is_ok());
        assert_eq!(seen[0].0, format!("GET /v1/acl/role/{full}"));
        assert_eq!(seen[1].0, format!("PUT /v1/acl/role/{full}"));
        assert_eq!(seen[1].1["Policies"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            seen[1].1["NodeIdentities"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(seen[1].1["Description"], "test role complex");

        assert_eq!(
            error_of(
                &["role", "update", &format!("-id={full}")],
                vec![reply(404, "Requested role does not exist: ACL not found")]
            ),
            format!("Role not found with ID \"{full}\"")
        );

        let list = format!("[{COMPLEX}]");
        let (out, seen) = run_with(
            &["role", "delete", "-name=complex"],
            vec![reply(200, &list), reply(200, "true")],
            "",
        );
        assert_eq!(
            out.expect("deleted"),
            format!("Role \"{full}\" deleted successfully")
        );
        assert_eq!(seen[1].0, format!("DELETE /v1/acl/role/{full}"));
        assert_eq!(
            error_of(&["role", "delete"], vec![]),
            "Must specify the -id or -name parameters"
        );

        assert_eq!(
            error_of(
                &["role", "read", "-name=nope"],
                vec![reply(404, "Requested role does not exist: ACL not found")]
            ),
            "Role not found with name \"nope\""
        );
    }
}
