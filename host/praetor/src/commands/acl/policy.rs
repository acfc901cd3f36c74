//! `praetor acl policy create|read|update|delete|list` (`/v1/acl/policy*`).

use std::io::Read;

use anyhow::{anyhow, bail};
use clap::{ArgAction, Args, Subcommand};
use serde::{Deserialize, Serialize};

use super::{
    DeleteArgs, ListArgs, NameArgs, Output, OutputArgs, ReadArgs, block, get_optional, help,
    object_path, put_json, resolve_policy_id,
};
use crate::cli::HttpArgs;
use crate::client::Client;
use crate::commands::load_data_source;

/// `praetor acl policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create an ACL policy
    Create(PolicyCreateArgs),
    /// Read an ACL policy
    Read(ReadArgs),
    /// Update an ACL policy
    Update(PolicyUpdateArgs),
    /// Delete an ACL policy
    Delete(DeleteArgs),
    /// Lists ACL policies
    List(ListArgs),
}

impl PolicyCommand {
    pub fn http(&self) -> &HttpArgs {
        match self {
            PolicyCommand::Create(a) => &a.http,
            PolicyCommand::Read(a) => &a.http,
            PolicyCommand::Update(a) => &a.http,
            PolicyCommand::Delete(a) => &a.http,
            PolicyCommand::List(a) => &a.http,
        }
    }
}

/// `praetor acl policy create -name NAME [options]`
#[derive(Debug, Args)]
pub struct PolicyCreateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub named: NameArgs,
    /// Datacenter the policy is valid within (repeatable; none: all)
    #[arg(long = "valid-datacenter", value_name = "DC")]
    pub valid_datacenters: Vec<String>,
    /// The policy rules: the rules, @file to read a file, or - to read stdin
    #[arg(long, value_name = "RULES", default_value = "")]
    pub rules: String,
}

/// `praetor acl policy update -id ID [options]`: merges with the current policy unless
/// `-no-merge`.
#[derive(Debug, Args)]
pub struct PolicyUpdateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    /// The ID of the policy (a unique prefix, or global-management)
    #[arg(long, value_name = "ID", default_value = "")]
    pub id: String,
    /// The policy's name (selects the policy when -id is not given)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A description of the policy
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Datacenter the policy is valid within (repeatable)
    #[arg(long = "valid-datacenter", value_name = "DC")]
    pub valid_datacenters: Vec<String>,
    /// The policy rules: the rules, @file to read a file, or - to read stdin
    #[arg(long, value_name = "RULES")]
    pub rules: Option<String>,
    /// Overwrite every field with the flags given instead of merging with the policy
    #[arg(long = "no-merge", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub no_merge: bool,
}

/// `api.ACLPolicy`; list entries (`api.ACLPolicyListEntry`) have no `Rules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Policy {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// `null` when unset, as Go encodes a nil slice.
    pub datacenters: Option<Vec<String>>,
    pub hash: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
}

/// The fields before the rules (a list entry: `<name>:` and the fields after `prefix`).
fn head(p: &Policy, prefix: &str, meta: bool) -> Vec<String> {
    let head = head_of!(p);
    let dcs = p.datacenters.as_deref().unwrap_or_default().join(", ");
    head.lines(prefix, meta, &[("Datacenters:", dcs)])
}

/// Consul's policy block: the fields, `Rules:`, then the rules as they are.
pub fn policy_block(p: &Policy, meta: bool) -> String {
    let mut lines = head(p, "", meta);
    lines.push("Rules:".into());
    block(lines) + p.rules.as_deref().unwrap_or_default()
}

/// Consul's policy list: `<name>:` and its fields indented by 3.
fn policy_list(policies: &[Policy], meta: bool) -> String {
    policies
        .iter()
        .map(|p| block(head(p, "   ", meta)))
        .collect()
}

fn policy_path(id: &str) -> String {
    object_path("policy", id)
}

/// `GET /v1/acl/policy/name/<name>`: `None` when there is no such policy.
fn policy_by_name(client: &Client, name: &str) -> anyhow::Result<Option<Policy>> {
    let path = object_path("policy/name", name);
    get_optional(client, &path).map_err(|e| anyhow!("Failed to find policy with name {name}: {e}"))
}

/// The ID `-id` (a prefix) or `-name` selects.
fn select_id(client: &Client, id: &str, name: &str) -> anyhow::Result<String> {
    let found = if !id.is_empty() {
        resolve_policy_id(client, id)
    } else {
        policy_by_name(client, name)?
            .map(|p| p.id)
            .ok_or_else(|| anyhow!("No such policy with name {name}"))
    };
    found.map_err(|e| anyhow!("Error determining policy ID: {e}"))
}

/// The `-rules` value (raw, `@file` or `-`).
fn load_rules(rules: &str, stdin: &mut dyn Read) -> Result<String, String> {
    load_data_source(rules, stdin).map(|b| String::from_utf8_lossy(&b).into_owned())
}

pub fn execute(client: &Client, cmd: &PolicyCommand, stdin: &mut dyn Read) -> Output {
    match cmd {
        PolicyCommand::Create(a) => create(client, a, stdin),
        PolicyCommand::Read(a) => read(client, a),
        PolicyCommand::Update(a) => update(client, a, stdin),
        PolicyCommand::Delete(a) => {
            let (id, name) = (&a.select.id, &a.select.name);
            if id.is_empty() && name.is_empty() {
                bail!("Must specify either the -id or -name parameters");
            }
            let id = select_id(client, id, name)?;
            client
                .delete(&policy_path(&id), &[])
                .map_err(|e| anyhow!("Error deleting policy {id:?}: {e}"))?;
            Ok(format!("Policy {id:?} deleted successfully"))
        }
        PolicyCommand::List(a) => a.run(client, "policy", policy_list),
    }
}

/// `PUT /v1/acl/policy` with `{ID:"", Name, Description, Rules, Datacenters, ...}`.
fn create(client: &Client, a: &PolicyCreateArgs, stdin: &mut dyn Read) -> Output {
    if a.named.name.is_empty() {
        bail!(
            "Missing required '-name' flag\n{}",
            help(&["policy", "create"])
        );
    }
    let rules = load_rules(&a.rules, stdin).map_err(|e| anyhow!("Error loading rules: {e}"))?;
    let policy = Policy {
        name: a.named.name.clone(),
        description: a.named.description.clone(),
        datacenters: (!a.valid_datacenters.is_empty()).then(|| a.valid_datacenters.clone()),
        rules: Some(rules),
        ..Policy::default()
    };
    let created: Policy = put_json(client, "/v1/acl/policy", &policy)
        .map_err(|e| anyhow!("Failed to create new policy: {e}"))?;
    a.out.render(&created, policy_block)
}

fn read(client: &Client, a: &ReadArgs) -> Output {
    let (id, name) = (&a.select.id, &a.select.name);
    if id.is_empty() && name.is_empty() {
        bail!("Must specify either the -id or -name parameters");
    }
    let policy = if !id.is_empty() {
        let id = resolve_policy_id(client, id)
            .map_err(|e| anyhow!("Error determining policy ID: {e}"))?;
        client
            .get_json::<Policy>(&policy_path(&id), &[])
            .map_err(|e| anyhow!("Error reading policy {:?}: {e}", format!("id:{id}")))?
    } else {
        policy_by_name(client, name)
            .map_err(|e| anyhow!("Error reading policy {:?}: {e}", format!("name:{name}")))?
            .ok_or_else(|| anyhow!("Error policy not found: {name}"))?
    };
    a.out.render(&policy, policy_block)
}

/// The policy `policy update` writes: the flags given over the current policy, or (with
/// `-no-merge`) the flags alone.
pub fn updated_policy(
    id: &str,
    current: Option<Policy>,
    a: &PolicyUpdateArgs,
    rules: String,
) -> Policy {
    let datacenters = (!a.valid_datacenters.is_empty()).then(|| a.valid_datacenters.clone());
    let current = current.unwrap_or_default();
    let keep = !a.no_merge;
    let pick = |given: &Option<String>, old: String| match given {
        Some(v) => v.clone(),
        None if keep => old,
        None => String::new(),
    };
    Policy {
        id: id.to_string(),
        name: pick(&a.name, current.name),
        description: pick(&a.description, current.description),
        rules: Some(if a.rules.is_some() || !keep {
            rules
        } else {
            current.rules.unwrap_or_default()
        }),
        datacenters: if keep {
            datacenters.or(current.datacenters)
        } else {
            datacenters
        },
        ..Policy::default()
    }
}

fn update(client: &Client, a: &PolicyUpdateArgs, stdin: &mut dyn Read) -> Output {
    let name = a.name.as_deref().unwrap_or_default();
    if a.id.is_empty() && name.is_empty() {
        bail!("Must specify either the -id or -name parameters");
    }
    let id = select_id(client, &a.id, name)?;
    let rules = load_rules(a.rules.as_deref().unwrap_or_default(), stdin)
        .map_err(|e| anyhow!("Error loading data source: {e}"))?;
    let current = if a.no_merge {
        None
    } else {
        let p: Policy = client
            .get_json(&policy_path(&id), &[])
            .map_err(|e| anyhow!("Error reading policy {id:?}: {e}"))?;
        Some(p)
    };
    let policy = updated_policy(&id, current, a, rules);
    let written: Policy = put_json(client, &policy_path(&id), &policy)
        .map_err(|e| anyhow!("Error updating policy {id:?}: {e}"))?;
    a.out.render(&written, policy_block)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error_of, reply, run_with};
    use super::*;
    use serde_json::json;

    const POLICY: &str = r#"{"ID":"beb04680-815b-4d7c-9e33-3d707c24672c","Name":"hobbiton",
        "Description":"user policy on the hobbiton node","Rules":"node \"hobbiton\" {\n  policy = \"write\"\n}",
        "Datacenters":["dc1","dc2"],"Hash":"YWJjZGVmZ2g=","CreateIndex":5,"ModifyIndex":10}"#;

    #[test]
    fn policy_block_and_list_match_consul() {
        let p: Policy = serde_json::from_str(POLICY).expect("valid");
        assert_eq!(
            policy_block(&p, false),
            "ID:           beb04680-815b-4d7c-9e33-3d707c24672c\n\
             Name:         hobbiton\n\
             Description:  user policy on the hobbiton node\n\
             Datacenters:  dc1, dc2\n\
             Rules:\n\
             node \"hobbiton\" {\n  policy = \"write\"\n}"
        );
        assert!(policy_block(&p, true).contains(
            "Datacenters:  dc1, dc2\nHash:         6162636465666768\nCreate Index: 5\nModify Index: 10\nRules:\n"
        ));
        let entry: Policy = serde_json::from_str(
            r#"{"ID":"00000000-0000-0000-0000-000000000001","Name":"global-management",
                "Description":"Builtin Policy that grants unlimited access","Datacenters":null,
                "Hash":"YWJj","CreateIndex":4,"ModifyIndex":4}"#,
        )
        .expect("valid");
        assert_eq!(
            policy_list(&[entry.clone(), p], false),
            "global-management:\n   \
             ID:           00000000-0000-0000-0000-000000000001\n   \
             Description:  Builtin Policy that grants unlimited access\n   \
             Datacenters:  \n\
             hobbiton:\n   \
             ID:           beb04680-815b-4d7c-9e33-3d707c24672c\n   \
             Description:  user policy on the hobbiton node\n   \
             Datacenters:  dc1, dc2\n"
        );
        // List entries have no Rules; nil slices stay null, as Go prints them.
        assert_eq!(
            super::super::super::go_json(&entry).expect("json"),
            "{\n    \"ID\": \"00000000-0000-0000-0000-000000000001\",\n    \"Name\": \"global-management\",\n    \"Description\": \"Builtin Policy that grants unlimited access\",\n    \"Datacenters\": null,\n    \"Hash\": \"YWJj\",\n    \"CreateIndex\": 4,\n    \"ModifyIndex\": 4\n}"
        );
    }

    #[test]
    fn create_puts_consuls_body() {
        let (out, seen) = run_with(
            &[
                "policy",
                "create",
                "-name=hobbiton",
                "-description",
                "user policy on the hobbiton node",
                "-valid-datacenter=dc1",
                "-valid-datacenter",
                "dc2",
                "-rules",
                "-",
            ],
            vec![reply(200, POLICY)],
            "node \"hobbiton\" {\n  policy = \"write\"\n}",
        );
        assert!(out.expect("created").starts_with("ID:           beb04680"));
        assert_eq!(seen[0].0, "PUT /v1/acl/policy");
        assert_eq!(
            seen[0].1,
            json!({
                "ID": "", "Name": "hobbiton", "Description": "user policy on the hobbiton node",
                "Rules": "node \"hobbiton\" {\n  policy = \"write\"\n}",
                "Datacenters": ["dc1", "dc2"], "Hash": null, "CreateIndex": 0, "ModifyIndex": 0
            })
        );

        let (out, seen) = run_with(&["policy", "create", "-rules=x"], vec![], "");
        let err = out.unwrap_err().to_string();
        assert!(err.starts_with("Missing required '-name' flag\n"), "{err}");
        assert!(err.contains("-valid-datacenter"), "{err}");
        assert!(seen.is_empty());

        let err = error_of(
            &["policy", "create", "-name=x", "-rules=bogus"],
            vec![reply(
                500,
                "Failed to parse ACL rules: At 1:6: key 'bogus' expected start of object ('{') or assignment ('=')",
            )],
        );
        assert!(err.starts_with(
            "Failed to create new policy: Unexpected response code: 500 (Failed to parse ACL rules"
        ));
    }

    #[test]
    fn read_by_prefix_builtin_name_or_name() {
        let list = r#"[{"ID":"beb04680-815b-4d7c-9e33-3d707c24672c","Name":"hobbiton"}]"#;
        let (out, seen) = run_with(
            &["policy", "read", "-id=beb0"],
            vec![reply(200, list), reply(200, POLICY)],
            "",
        );
        assert!(out.expect("read").contains("Name:         hobbiton\n"));
        assert_eq!(seen[0].0, "GET /v1/acl/policies");
        assert_eq!(
            seen[1].0,
            "GET /v1/acl/policy/beb04680-815b-4d7c-9e33-3d707c24672c"
        );

        let (_, seen) = run_with(
            &["policy", "read", "-id=global-management"],
            vec![reply(200, POLICY)],
            "",
        );
        assert_eq!(
            seen[0].0,
            "GET /v1/acl/policy/00000000-0000-0000-0000-000000000001"
        );

        let (out, seen) = run_with(
            &["policy", "read", "-name=my policy"],
            vec![reply(404, "Requested policy does not exist: ACL not found")],
            "",
        );
        assert_eq!(
            out.unwrap_err().to_string(),
            "Error policy not found: my policy"
        );
        assert_eq!(seen[0].0, "GET /v1/acl/policy/name/my%20policy");

        assert_eq!(
            error_of(&["policy", "read"], vec![]),
            "Must specify either the -id or -name parameters"
        );
    }

    fn update_args(args: &[&str]) -> PolicyUpdateArgs {
        let args: Vec<&str> = ["policy", "update"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        match super::super::tests::parse(&args) {
            super::super::AclCommand::Policy(PolicyCommand::Update(u)) => u,
            other => panic!("expected policy update, got {other:?}"),
        }
    }

    #[test]
    fn update_merges_unless_no_merge() {
        let current: Policy = serde_json::from_str(POLICY).expect("valid");
        let a = update_args(&["-id=beb0", "-description=new"]);
        let p = updated_policy("id-1", Some(current.clone()), &a, String::new());
        assert_eq!(p.id, "id-1");
        assert_eq!(p.name, "hobbiton");
        assert_eq!(p.description, "new");
        assert_eq!(p.rules, current.rules);
        assert_eq!(p.datacenters, current.datacenters);
        assert_eq!((p.hash, p.create_index), (None, 0));

        let a = update_args(&["-id=beb0", "-rules=acl = \"read\"", "-valid-datacenter=dc3"]);
        let p = updated_policy("id-1", Some(current.clone()), &a, "acl = \"read\"".into());
        assert_eq!(p.rules.as_deref(), Some("acl = \"read\""));
        assert_eq!(p.datacenters, Some(vec!["dc3".to_string()]));

        let a = update_args(&["-id=beb0", "-name=renamed", "-no-merge"]);
        let p = updated_policy("id-1", None, &a, String::new());
        assert_eq!(p.name, "renamed");
        assert_eq!(p.description, "");
        assert_eq!(p.rules.as_deref(), Some(""));
        assert_eq!(p.datacenters, None);
    }

    #[test]
    fn update_reads_then_puts_and_delete_by_name() {
        let full = "beb04680-815b-4d7c-9e33-3d707c24672c";
        let (out, seen) = run_with(
            &["policy", "update", &format!("-id={full}"), "-name=shire"],
            vec![reply(200, POLICY), reply(200, POLICY)],
            "",
        );
        assert!(out.is_ok());
        assert_eq!(seen[0].0, format!("GET /v1/acl/policy/{full}"));
        assert_eq!(seen[1].0, format!("PUT /v1/acl/policy/{full}"));
        assert_eq!(seen[1].1["Name"], "shire");
        assert_eq!(seen[1].1["Description"], "user policy on the hobbiton node");
        assert_eq!(seen[1].1["Datacenters"], json!(["dc1", "dc2"]));

        let (out, seen) = run_with(
            &["policy", "delete", "-name=hobbiton"],
            vec![reply(200, POLICY), reply(200, "true")],
            "",
        );
        assert_eq!(
            out.expect("deleted"),
            format!("Policy \"{full}\" deleted successfully")
        );
        assert_eq!(seen[0].0, "GET /v1/acl/policy/name/hobbiton");
        assert_eq!(seen[1].0, format!("DELETE /v1/acl/policy/{full}"));

        assert_eq!(
            error_of(
                &["policy", "delete", "-id=global-management"],
                vec![reply(
                    500,
                    "Delete operation not permitted on the builtin global-management policy",
                )]
            ),
            "Error deleting policy \"00000000-0000-0000-0000-000000000001\": Unexpected response code: 500 (Delete operation not permitted on the builtin global-management policy)"
        );
    }
}
