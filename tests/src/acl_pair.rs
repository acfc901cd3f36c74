//! Two WAN-joined datacenters with ACLs on and default deny, as the seed guide sets them up:
//! dc1 is the primary with `initial_management`; dc2 replicates with the guide's replication
//! policy and token. Used by the ACL, mesh and UI tests.

use serde_json::{Value, json};

use crate::{Agent, AgentOptions, Http, wait_for};

/// The management token (dc1's `initial_management`).
pub const ROOT: &str = "6a0d3c1e-2f6a-4e7b-9a61-0c2b7d4e8f11";
/// Every agent's `agent_recovery` token (the harness reads `/v1/agent/self` with it).
pub const RECOVERY: &str = "1c9e1f2a-3b4c-4d5e-8f60-718293a4b5c7";
/// dc2's replication token (made in dc1 by [`start`]).
pub const REPLICATION: &str = "8d0c3a52-9f3e-4c1b-8a55-2b6d1e0f4a78";

const LONG: std::time::Duration = std::time::Duration::from_secs(60);

/// The agent options of a server of `dc`; `extra` is merged into the config file's top level.
pub fn options(dc: &str, extra: &Value) -> AgentOptions {
    let mut tokens = json!({"agent_recovery": RECOVERY});
    if dc == "dc1" {
        tokens["initial_management"] = json!(ROOT);
    } else {
        tokens["replication"] = json!(REPLICATION);
    }
    let mut config = json!({
        "performance": {"raft_multiplier": 1},
        "log_level": "debug",
        "primary_datacenter": "dc1",
        "acl": {
            "enabled": true,
            "default_policy": "deny",
            "enable_token_replication": true,
            "tokens": tokens,
        },
    });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    AgentOptions {
        config_json: config.to_string(),
        self_token: Some(RECOVERY.into()),
        ..AgentOptions::default()
    }
}

fn ok(r: &crate::Resp, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
}

/// Starts `<prefix>p` (dc1) on `primary_ip` and `<prefix>s` (dc2) on `secondary_ip`, makes
/// the replication policy and token in dc1, and returns once the management token works in
/// both.
pub fn start(prefix: &str, primary_ip: &str, secondary_ip: &str, extra: &Value) -> (Agent, Agent) {
    let p = Agent::start_with(
        &format!("{prefix}p"),
        primary_ip,
        &["-server", "-bootstrap", "-datacenter=dc1"],
        &options("dc1", extra),
    );
    let root1 = p.http().with_token(ROOT);
    wait_for("primary bootstrapped", LONG, || {
        (root1.get("/v1/acl/token/self").status == 200).then_some(())
    });
    ok(
        &root1.put_json(
            "/v1/acl/policy",
            &json!({"Name": "replication", "Rules":
                "acl = \"write\"\noperator = \"write\"\nservice_prefix \"\" { policy = \"read\" intentions = \"read\" }"}),
        ),
        "replication policy",
    );
    ok(
        &root1.put_json(
            "/v1/acl/token",
            &json!({"SecretID": REPLICATION, "Description": "replication",
                "Policies": [{"Name": "replication"}]}),
        ),
        "replication token",
    );
    let join = format!("-retry-join-wan={primary_ip}");
    let s = Agent::start_with(
        &format!("{prefix}s"),
        secondary_ip,
        &[
            "-server",
            "-bootstrap",
            "-datacenter=dc2",
            &join,
            "-retry-interval-wan=1s",
        ],
        &options("dc2", extra),
    );
    let root2: Http = s.http().with_token(ROOT);
    wait_for("management token resolves in dc2", LONG, || {
        (root2.get("/v1/acl/token/self").status == 200).then_some(())
    });
    (p, s)
}
