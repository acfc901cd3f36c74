//! ACL duties: the agent's settings and tokens handed to the forwarding point, and the
//! leader's part (built-in policies, anonymous token, `initial_management`, expired tokens).

use std::time::{Duration, Instant};

use praetor_acl::builtin;
use praetor_config::Config;
use praetor_consensus::Consensus;
use praetor_rpc::{
    AclSettings, AgentTokens, Caller, Consistency, DownPolicy, QueryRequest, ReplicationStatus, Rpc,
};
use praetor_state::{AclLink, AclToken, Command, Query, QueryResult};

use crate::Shared;
use crate::leader::{LeaderTask, write};

/// How often the leader looks for expired tokens.
const REAP_INTERVAL: Duration = Duration::from_secs(10);

/// Hands `config.acl` to the forwarding point (start and reload). The config was validated,
/// so the policies parse.
pub(crate) fn configure(rpc: &Rpc, config: &Config) {
    let acl = &config.acl;
    rpc.set_acl(AclSettings {
        enabled: acl.enabled,
        default_policy: praetor_acl::DefaultPolicy::parse(&acl.default_policy)
            .unwrap_or(praetor_acl::DefaultPolicy::Allow),
        down_policy: DownPolicy::parse(&acl.down_policy).unwrap_or(DownPolicy::ExtendCache),
        // A client caches whole identities (token, policies and roles together), so each is
        // fresh within the shortest of Consul's three TTLs.
        token_ttl: acl.token_ttl.min(acl.policy_ttl).min(acl.role_ttl),
        enable_key_list_policy: acl.enable_key_list_policy,
        node_name: config.node_name.clone(),
        primary_datacenter: config.primary_datacenter.clone(),
    });
    // A secondary server replicates from the moment it starts (Consul reports `Enabled` from
    // the start; `Running` only while its leader runs the replicator).
    if acl.enabled && config.server && config.datacenter != config.primary_datacenter {
        rpc.update_replication_status(|s| {
            s.enabled = true;
            s.source_datacenter = config.primary_datacenter.clone();
            s.replication_type = replication_type(acl.enable_token_replication).into();
        });
    }
}

fn replication_type(tokens: bool) -> &'static str {
    if tokens { "tokens" } else { "policies" }
}

/// The configured agent tokens (persisted ones override them; see `tokens.rs`).
pub(crate) fn configured_tokens(config: &Config) -> AgentTokens {
    let t = &config.acl.tokens;
    AgentTokens {
        default: t.default.clone(),
        agent: t.agent.clone(),
        agent_recovery: t.agent_recovery.clone(),
        replication: t.replication.clone(),
        config_file_service_registration: t.config_file_service_registration.clone(),
        dns: t.dns.clone(),
    }
}

/// The leader's ACL bookkeeping, reset on every leadership gain.
#[derive(Default)]
pub(crate) struct AclLeader {
    initialized: bool,
    last_reap: Option<Instant>,
    /// A secondary's replicator, stopped with the leadership.
    replicator: LeaderTask,
}

impl AclLeader {
    pub(crate) async fn run(
        &mut self,
        shared: &Shared,
        consensus: &Consensus,
    ) -> Result<(), String> {
        let cfg = &shared.config;
        if !cfg.acl.enabled {
            return Ok(());
        }
        if cfg.datacenter != cfg.primary_datacenter {
            let (rpc, consensus) = (shared.rpc.clone(), consensus.clone());
            let primary = cfg.primary_datacenter.clone();
            let tokens = cfg.acl.enable_token_replication;
            self.replicator
                .ensure(|| replicate(rpc, consensus, primary, tokens));
            return Ok(());
        }
        if !self.initialized {
            write(
                consensus,
                Command::AclInitBuiltins {
                    now_ms: praetor_rpc::now_ms(),
                },
            )
            .await?;
            tracing::info!("Created ACL 'global-management' policy");
            initial_management(consensus, &cfg.acl.tokens.initial_management).await?;
            self.initialized = true;
        }
        if self.last_reap.is_none_or(|t| t.elapsed() >= REAP_INTERVAL) {
            self.last_reap = Some(Instant::now());
            let now_ms = praetor_rpc::now_ms();
            let any_expired = consensus.store().read(|s| s.acl_has_expired_tokens(now_ms));
            if any_expired {
                write(consensus, Command::AclTokensReap { now_ms }).await?;
            }
        }
        Ok(())
    }
}

/// `acl.tokens.initial_management`: created once with `global-management`; written as the
/// bootstrap while bootstrapping is still allowed (so it uses it up), as Consul does.
async fn initial_management(consensus: &Consensus, secret: &str) -> Result<(), String> {
    if secret.is_empty() {
        return Ok(());
    }
    let known = matches!(
        consensus.store().query(&Query::AclTokenBySecret { secret_id: secret.to_string() }).result,
        QueryResult::AclTokens(ref t) if !t.is_empty()
    );
    if known {
        return Ok(());
    }
    if !praetor_state::is_uuid(secret) {
        tracing::warn!("Configuring a non-UUID management token is deprecated");
    }
    let token = AclToken {
        accessor_id: uuid::Uuid::new_v4().to_string(),
        secret_id: secret.to_string(),
        description: "Initial Management Token".into(),
        policies: vec![AclLink {
            id: builtin::GLOBAL_MANAGEMENT_POLICY_ID.into(),
            name: String::new(),
        }],
        create_time_ms: praetor_rpc::now_ms(),
        ..AclToken::default()
    };
    let bootstrapped = consensus
        .store()
        .read(|s| s.acl_bootstrap_index().is_some());
    let cmd = if bootstrapped {
        Command::AclTokenSet {
            token,
            create: true,
        }
    } else {
        Command::AclBootstrap {
            token,
            reset_index: 0,
        }
    };
    write(consensus, cmd).await?;
    tracing::info!("Created ACL initial management token from configuration");
    Ok(())
}

/// Consul's ACL replication rate: one round a second at most.
const REPLICATION_MIN_ROUND: Duration = Duration::from_secs(1);
/// How long one blocking fetch from the primary waits for a change.
const REPLICATION_WAIT: Duration = Duration::from_secs(60);

/// A secondary leader's ACL replicator (Consul's `runACLReplicator`): blocking fetches from
/// the primary with the replication token, the difference applied through raft, a full
/// resync when the remote index goes backwards, exponential backoff on errors (up to 32 s),
/// the status kept for `GET /v1/acl/replication`. Runs until the leadership is lost.
async fn replicate(rpc: Rpc, consensus: Consensus, primary: String, tokens: bool) {
    rpc.update_replication_status(|s| {
        *s = ReplicationStatus {
            enabled: true,
            running: true,
            source_datacenter: primary.clone(),
            replication_type: replication_type(tokens).into(),
            ..s.clone()
        }
    });
    let mut last_remote = 0u64;
    let mut failures = 0u32;
    loop {
        let round = Instant::now();
        let secret = rpc.agent_tokens().replication;
        if secret.is_empty() {
            tokio::time::sleep(REPLICATION_MIN_ROUND).await;
            continue;
        }
        let mut q = QueryRequest::new(Query::AclReplication { tokens });
        q.consistency = Consistency::Stale;
        q.min_index = last_remote;
        q.wait_ms = REPLICATION_WAIT.as_millis() as u64;
        let fetched = rpc
            .query_as(&Caller::Token(secret), Some(&primary), q)
            .await
            .map_err(|e| e.to_string());
        let outcome = match fetched {
            Ok(r) if r.output.index < last_remote => {
                tracing::warn!(
                    "ACL replication remote index moved backwards, forcing a full ACL sync"
                );
                last_remote = 0;
                continue;
            }
            Ok(r) => match r.output.result {
                QueryResult::AclReplication(set) => {
                    let index = r.output.index;
                    write(&consensus, Command::AclReplicate { set })
                        .await
                        .map(|()| index)
                }
                other => Err(format!("unexpected answer {other:?}")),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok(index) => {
                if index != last_remote {
                    tracing::debug!(index, "ACL replication round done");
                }
                last_remote = index;
                failures = 0;
                rpc.update_replication_status(|s| {
                    s.replicated_index = index;
                    s.replicated_role_index = index;
                    if tokens {
                        s.replicated_token_index = index;
                    }
                    s.last_success_ms = praetor_rpc::now_ms();
                });
                let spent = round.elapsed();
                if spent < REPLICATION_MIN_ROUND {
                    tokio::time::sleep(REPLICATION_MIN_ROUND - spent).await;
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                last_remote = 0;
                tracing::warn!(error = %e, datacenter = %primary, "ACL replication failed");
                rpc.update_replication_status(|s| {
                    s.last_error_ms = praetor_rpc::now_ms();
                    s.last_error_message = e.clone();
                });
                let backoff = Duration::from_secs(1 << failures.min(5));
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// `<data_dir>/acl-tokens.json` (`enable_token_persistence`): the tokens set through
/// `/v1/agent/token/<kind>`, under Consul's keys.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct PersistedTokens {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    default: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    agent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    agent_recovery: String,
    /// Consul's legacy name of `agent_recovery`, read only.
    #[serde(default, skip_serializing)]
    agent_master: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    replication: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    config_file_service_registration: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    dns: String,
}

const TOKENS_FILE: &str = "acl-tokens.json";

/// The agent's tokens at start: the configured ones, overridden per kind by persisted ones
/// (with Consul's warning) when `enable_token_persistence` is on.
pub(crate) fn start_tokens(config: &Config) -> AgentTokens {
    let mut tokens = configured_tokens(config);
    let (true, Some(dir)) = (config.acl.enable_token_persistence, &config.data_dir) else {
        return tokens;
    };
    let path = dir.join(TOKENS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return tokens,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read persisted ACL tokens");
            return tokens;
        }
    };
    let mut p: PersistedTokens = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring malformed persisted ACL tokens");
            return tokens;
        }
    };
    if p.agent_recovery.is_empty() {
        p.agent_recovery = std::mem::take(&mut p.agent_master);
    }
    for (kind, persisted, slot) in [
        ("default", p.default, &mut tokens.default),
        ("agent", p.agent, &mut tokens.agent),
        (
            "agent_recovery",
            p.agent_recovery,
            &mut tokens.agent_recovery,
        ),
        ("replication", p.replication, &mut tokens.replication),
        (
            "config_file_service_registration",
            p.config_file_service_registration,
            &mut tokens.config_file_service_registration,
        ),
        ("dns", p.dns, &mut tokens.dns),
    ] {
        if persisted.is_empty() {
            continue;
        }
        if !slot.is_empty() {
            tracing::warn!(
                "{kind:?} token present in both the configuration and persisted token store, using the persisted token"
            );
        }
        *slot = persisted;
    }
    tokens
}

/// Writes the tokens set through the API (atomically, mode 0600) when persistence is on.
pub(crate) fn persist_tokens(config: &Config, tokens: &AgentTokens) -> std::io::Result<()> {
    let (true, Some(dir)) = (config.acl.enable_token_persistence, &config.data_dir) else {
        return Ok(());
    };
    let configured = configured_tokens(config);
    let keep = |now: &str, conf: &str| {
        if now == conf {
            String::new()
        } else {
            now.to_string()
        }
    };
    let p = PersistedTokens {
        default: keep(&tokens.default, &configured.default),
        agent: keep(&tokens.agent, &configured.agent),
        agent_recovery: keep(&tokens.agent_recovery, &configured.agent_recovery),
        agent_master: String::new(),
        replication: keep(&tokens.replication, &configured.replication),
        config_file_service_registration: keep(
            &tokens.config_file_service_registration,
            &configured.config_file_service_registration,
        ),
        dns: keep(&tokens.dns, &configured.dns),
    };
    let body = serde_json::to_vec(&p).map_err(std::io::Error::other)?;
    crate::persist::write_atomically(dir, TOKENS_FILE, &body)
}
