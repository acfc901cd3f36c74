//! Gossip keyring operations (Consul's `agent/keyring.go` + serf's key manager): the agent's
//! side of `Request::Keyring`, run on its LAN pool and, on a server, its WAN pool.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use praetor_gossip::{KeyOp, KeyOpOutcome, Pool};
use praetor_rpc::{
    AreaJoinResult, AreaMember, KeyringOp, KeyringResponse, LocalOps, RpcError, UserEvent,
};

use crate::Shared;

/// How long a keyring query waits for the members' answers.
const KEY_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

fn key_op(op: &KeyringOp) -> Result<KeyOp, RpcError> {
    let key = |k: &str| praetor_gossip::decode_key(k).map_err(RpcError::BadRequest);
    Ok(match op {
        KeyringOp::List => KeyOp::List,
        KeyringOp::Install(k) => KeyOp::Install(key(k)?),
        KeyringOp::Use(k) => KeyOp::Use(key(k)?),
        KeyringOp::Remove(k) => KeyOp::Remove(key(k)?),
    })
}

fn response(wan: bool, datacenter: &str, o: KeyOpOutcome) -> KeyringResponse {
    let b64 = |m: BTreeMap<[u8; 32], u32>| -> BTreeMap<String, u32> {
        m.into_iter().map(|(k, n)| (B64.encode(k), n)).collect()
    };
    let error = if o.messages.is_empty() {
        String::new()
    } else {
        // serf's KeyManager error text.
        format!(
            "{}/{} nodes reported failure",
            o.messages.len(),
            o.num_nodes
        )
    };
    KeyringResponse {
        wan,
        datacenter: datacenter.to_string(),
        segment: String::new(),
        keys: b64(o.keys),
        primary_keys: b64(o.primary_keys),
        num_nodes: o.num_nodes,
        messages: o.messages,
        error,
    }
}

async fn run(pool: &Pool, op: KeyOp) -> Result<KeyOpOutcome, RpcError> {
    pool.key_op(op, KEY_QUERY_TIMEOUT)
        .await
        .map_err(|e| RpcError::Internal(e.to_string()))
}

/// `LocalOps` for the rpc layer; holds the agent weakly (the rpc layer is owned by it).
pub(crate) struct AgentOps(pub Weak<Shared>);

#[tonic::async_trait]
impl LocalOps for AgentOps {
    async fn keyring(
        &self,
        op: &KeyringOp,
        include_wan: bool,
    ) -> Result<Vec<KeyringResponse>, RpcError> {
        let shared: Arc<Shared> = self
            .0
            .upgrade()
            .ok_or_else(|| RpcError::Internal("agent is shutting down".into()))?;
        let op = key_op(op)?;
        let dc = &shared.config.datacenter;
        let mut out = Vec::new();
        // Consul answers the WAN pool first.
        if include_wan && let Some(wan) = &shared.wan {
            out.push(response(true, dc, run(wan, op).await?));
        }
        out.push(response(false, dc, run(&shared.lan, op).await?));
        Ok(out)
    }

    async fn area_join(
        &self,
        id: &str,
        addresses: &[String],
    ) -> Result<Vec<AreaJoinResult>, RpcError> {
        let shared = self.shared()?;
        crate::areas::join(&shared, id, addresses).await
    }

    async fn area_members(&self, id: &str) -> Result<Vec<AreaMember>, RpcError> {
        let shared = self.shared()?;
        crate::areas::members(&shared, id)
    }

    async fn fire_event(&self, event: UserEvent) -> Result<UserEvent, RpcError> {
        let shared = self.shared()?;
        crate::events::send(&shared, event).await
    }

    fn server_members(&self) -> std::collections::BTreeMap<String, (String, String)> {
        let Ok(shared) = self.shared() else {
            return Default::default();
        };
        shared
            .lan
            .members()
            .into_iter()
            .filter(|m| crate::is_local_server(&m.tags, &shared.config.datacenter))
            .map(|m| {
                let version = m
                    .tags
                    .get("build")
                    .and_then(|b| b.split(':').next())
                    .unwrap_or_default()
                    .to_string();
                (m.name.clone(), (m.status.as_str().to_string(), version))
            })
            .collect()
    }
}

impl AgentOps {
    fn shared(&self) -> Result<Arc<Shared>, RpcError> {
        self.0
            .upgrade()
            .ok_or_else(|| RpcError::Internal("agent is shutting down".into()))
    }
}
