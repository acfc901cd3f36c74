//! The agent as the HTTP API sees it: `/v1/agent/*` operations on local state and gossip.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use praetor_api::{
    AgentApi, AgentError, AgentSelf, IntentionVerdict, LeafCert, MemberInfo, Metric, PluginInfo,
};
use praetor_config::{CheckDefinition, CheckKind, ServiceDefinition};
use praetor_gossip::Member;
use praetor_state::{CheckStatus, HealthCheck, Service};
use serde_json::json;

use crate::{CONSUL_API_VERSION, Shared, VERSION, graceful_leave, resolve_join};

pub struct AgentHandle(pub Arc<Shared>);

pub(crate) fn member_info(m: &Member) -> MemberInfo {
    MemberInfo {
        name: m.name.clone(),
        addr: m.addr,
        port: m.port,
        tags: m.tags.clone(),
        status: m.status.code(),
    }
}

/// Reloads the config files: services and checks defined there are replaced.
pub(crate) async fn reload(shared: &Arc<Shared>) -> Result<(), String> {
    let loaded = praetor_config::load(&shared.config.source_flags).map_err(|e| e.to_string())?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    shared.load_config_definitions(&loaded.config);
    shared.rpc.set_multi_hop(loaded.config.multi_hop_routing);
    // New certificates and keys apply to new connections; a bad reload keeps the old ones.
    if let Some(tls) = &shared.rpc_tls {
        tls.reload(&loaded.config.tls.internal_rpc)
            .map_err(|e| format!("tls.internal_rpc: {e}"))?;
    }
    if let Some(tls) = &shared.https_tls {
        tls.reload(&loaded.config.tls.https)
            .map_err(|e| format!("tls.https: {e}"))?;
    }
    crate::plugins::apply(
        &shared.plugins,
        &loaded.config.plugins,
        &shared.plugin_slots,
    )
    .await?;
    tracing::info!("configuration reloaded");
    Ok(())
}

#[async_trait::async_trait]
impl AgentApi for AgentHandle {
    fn node_name(&self) -> String {
        self.0.config.node_name.clone()
    }

    fn self_info(&self) -> AgentSelf {
        let s = &self.0;
        let c = &s.config;
        let me = s.lan.members().into_iter().find(|m| m.name == c.node_name);
        let member = me.as_ref().map(member_info).unwrap_or(MemberInfo {
            name: c.node_name.clone(),
            addr: c.advertise_addr,
            port: c.ports.serf_lan,
            tags: BTreeMap::new(),
            status: 1,
        });
        let mut stats: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let agent = stats.entry("agent".into()).or_default();
        agent.insert(
            "checks".into(),
            s.local
                .lock()
                .map(|l| l.checks.len())
                .unwrap_or(0)
                .to_string(),
        );
        agent.insert(
            "services".into(),
            s.local
                .lock()
                .map(|l| l.services.len())
                .unwrap_or(0)
                .to_string(),
        );
        let consul = stats.entry("consul".into()).or_default();
        consul.insert("server".into(), c.server.to_string());
        consul.insert("known_servers".into(), s.rpc.servers().len().to_string());
        if let Some(cons) = &s.consensus {
            consul.insert("leader".into(), cons.is_leader().to_string());
            consul.insert(
                "leader_addr".into(),
                cons.leader().map(|(_, n)| n.rpc_addr).unwrap_or_default(),
            );
            let raft = stats.entry("raft".into()).or_default();
            raft.insert("applied_index".into(), cons.applied_index().to_string());
            raft.insert("term".into(), cons.term().to_string());
            raft.insert(
                "state".into(),
                if cons.is_leader() {
                    "Leader"
                } else {
                    "Follower"
                }
                .into(),
            );
            raft.insert(
                "num_peers".into(),
                cons.peers().len().saturating_sub(1).to_string(),
            );
        }
        let serf = stats.entry("serf_lan".into()).or_default();
        serf.insert("members".into(), s.lan.members().len().to_string());
        let rt = stats.entry("runtime".into()).or_default();
        rt.insert("arch".into(), std::env::consts::ARCH.into());
        rt.insert("os".into(), std::env::consts::OS.into());
        rt.insert("version".into(), format!("praetor {VERSION}"));
        AgentSelf {
            datacenter: c.datacenter.clone(),
            primary_datacenter: c.primary_datacenter.clone(),
            node_name: c.node_name.clone(),
            node_id: s.node_id.clone(),
            server: c.server,
            version: CONSUL_API_VERSION.into(),
            praetor_version: VERSION.into(),
            revision: String::new(),
            meta: s.node_meta(),
            member,
            coord: s.lan_coords.own(),
            debug_config: json!({
                "Datacenter": c.datacenter,
                "NodeName": c.node_name,
                "ServerMode": c.server,
                "BindAddr": c.bind_addr.to_string(),
                "AdvertiseAddrLAN": c.advertise_addr.to_string(),
                "AdvertiseAddrWAN": c.advertise_addr_wan.to_string(),
                "ClientAddrs": c.client_addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "DNSDomain": c.domain,
                "HTTPPort": c.ports.http.map(i32::from).unwrap_or(-1),
                "DNSPort": c.ports.dns.map(i32::from).unwrap_or(-1),
                "ServerPort": c.ports.server,
                "SerfPortLAN": c.ports.serf_lan,
                "SerfPortWAN": c.ports.serf_wan.map(i32::from).unwrap_or(-1),
                "BootstrapExpect": c.bootstrap_expect,
                "Bootstrap": c.bootstrap,
                "DevMode": c.dev,
                "DataDir": c.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
                "RetryJoinLAN": c.retry_join,
                "EnableScriptChecks": c.enable_script_checks,
            }),
            stats,
        }
    }

    fn members(&self, wan: bool) -> Result<Vec<MemberInfo>, AgentError> {
        if wan {
            // Clients (and servers with the WAN port disabled) have no WAN members.
            // Listed alive means routable: the router takes the pool's view first, and a
            // member whose tags (datacenter, port) have not arrived yet is not listed.
            let Some(w) = self.0.wan.as_ref() else {
                return Ok(Vec::new());
            };
            self.0.rpc.set_wan(crate::wan::view(w, &self.0.wan_coords));
            return Ok(w
                .members()
                .iter()
                .filter(|m| !m.tags.is_empty())
                .map(member_info)
                .collect());
        }
        Ok(self.0.lan.members().iter().map(member_info).collect())
    }

    async fn join(&self, addr: &str, wan: bool) -> Result<usize, AgentError> {
        if wan {
            if !self.0.config.server {
                return Err(AgentError::Internal(
                    "Must be a server to join WAN cluster".into(),
                ));
            }
            let Some(pool) = &self.0.wan else {
                return Err(AgentError::Internal("WAN Federation is disabled".into()));
            };
            let port = self.0.config.ports.serf_wan.unwrap_or(8302);
            let addrs = crate::wan::resolve(addr, port)
                .await
                .map_err(AgentError::Internal)?;
            if addrs.is_empty() {
                return Err(AgentError::Internal(format!(
                    "cannot resolve join address {addr:?}"
                )));
            }
            return pool
                .join(&addrs, Duration::from_secs(10))
                .await
                .map_err(|e| AgentError::Internal(e.to_string()));
        }
        let addrs = resolve_join(addr, self.0.config.ports.serf_lan).await;
        if addrs.is_empty() {
            return Err(AgentError::BadRequest(format!(
                "cannot resolve join address {addr:?}"
            )));
        }
        self.0
            .lan
            .join(&addrs, Duration::from_secs(10))
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))
    }

    async fn leave(&self) -> Result<(), AgentError> {
        graceful_leave(&self.0).await;
        let shared = self.0.clone();
        // Answer the request first, then stop the agent (as Consul does).
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            shared.request_shutdown();
        });
        Ok(())
    }

    async fn force_leave(&self, node: &str, prune: bool, wan: bool) -> Result<(), AgentError> {
        let no_member = |e| match e {
            praetor_gossip::GossipError::NoMember(_) => {
                AgentError::NotFound(format!("agent: No node found with name '{node}'"))
            }
            e => AgentError::Internal(e.to_string()),
        };
        if wan {
            if !self.0.config.server {
                return Err(AgentError::Internal(
                    "Must be a server to force-leave a node from the WAN cluster".into(),
                ));
            }
            let Some(pool) = &self.0.wan else {
                return Err(AgentError::Internal("WAN Federation is disabled".into()));
            };
            return pool.force_leave(node, prune).await.map_err(no_member);
        }
        // Consul's LAN force-leave also removes the server's `<node>.<dc>` from the WAN.
        if let Some(pool) = &self.0.wan {
            let dc = &self.0.config.datacenter;
            let wan_name = if node.ends_with(&format!(".{dc}")) {
                node.to_string()
            } else {
                crate::wan::wan_name(node, dc)
            };
            let _ = pool.force_leave(&wan_name, prune).await;
        }
        self.0.lan.force_leave(node, prune).await.map_err(no_member)
    }

    fn services(&self) -> Vec<Service> {
        self.0
            .local
            .lock()
            .map(|l| l.services.values().cloned().collect())
            .unwrap_or_default()
    }

    fn checks(&self) -> Vec<HealthCheck> {
        self.0
            .local
            .lock()
            .map(|l| l.catalog_checks())
            .unwrap_or_default()
    }

    async fn register_service(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
    ) -> Result<(), AgentError> {
        for c in &def.checks {
            reject_disabled(&self.0, c)?;
        }
        self.0
            .register_service(def.clone(), replace_existing_checks)
            .map_err(AgentError::BadRequest)?;
        crate::persist::save_service(&self.0, &def);
        Ok(())
    }

    async fn deregister_service(&self, id: &str) -> Result<(), AgentError> {
        if self.0.remove_service(id) {
            crate::persist::remove_service(&self.0, id);
            Ok(())
        } else {
            Err(AgentError::NotFound(format!(
                "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
            )))
        }
    }

    async fn register_check(&self, def: CheckDefinition) -> Result<(), AgentError> {
        reject_disabled(&self.0, &def)?;
        if let Some(sid) = def.service_id.as_deref().filter(|s| !s.is_empty()) {
            let known = self
                .0
                .local
                .lock()
                .map(|l| l.services.contains_key(sid))
                .unwrap_or(false);
            if !known {
                return Err(AgentError::BadRequest(format!(
                    "ServiceID {sid:?} does not exist"
                )));
            }
        }
        crate::persist::save_check(&self.0, &def);
        self.0.add_check(def);
        Ok(())
    }

    async fn deregister_check(&self, id: &str) -> Result<(), AgentError> {
        if self.0.remove_check(id) {
            crate::persist::remove_check(&self.0, id);
            Ok(())
        } else {
            Err(AgentError::NotFound(format!(
                "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
            )))
        }
    }

    async fn update_ttl(
        &self,
        id: &str,
        status: CheckStatus,
        output: Option<String>,
    ) -> Result<(), AgentError> {
        let is_ttl = self
            .0
            .local
            .lock()
            .map(|l| {
                l.checks
                    .get(id)
                    .map(|c| matches!(c.def.as_ref().map(|d| &d.kind), Some(CheckKind::Ttl(_))))
            })
            .ok()
            .flatten();
        match is_ttl {
            None => Err(AgentError::NotFound(format!(
                "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
            ))),
            Some(false) => Err(AgentError::Internal(format!(
                "CheckID {id:?} does not have associated TTL"
            ))),
            Some(true) => {
                self.0.update_check(id, status, output.unwrap_or_default());
                let _ = self.0.ttl_updates.send(id.to_string());
                Ok(())
            }
        }
    }

    async fn reload(&self) -> Result<(), AgentError> {
        reload(&self.0).await.map_err(AgentError::Internal)
    }

    async fn node_maintenance(&self, enable: bool, reason: &str) -> Result<(), AgentError> {
        self.0.set_node_maintenance(enable, reason);
        Ok(())
    }

    async fn service_maintenance(
        &self,
        id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), AgentError> {
        if self.0.set_service_maintenance(id, enable, reason) {
            Ok(())
        } else {
            Err(AgentError::NotFound(format!(
                "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
            )))
        }
    }

    fn events(&self) -> (Vec<praetor_rpc::UserEvent>, u64) {
        self.0.events.list()
    }

    async fn wait_events(&self, index: u64, wait: Duration) {
        self.0.events.wait(index, wait).await
    }

    fn metrics(&self) -> Vec<Metric> {
        crate::metrics::collect(&self.0)
    }

    fn translate_enabled(&self) -> bool {
        self.0.config.translate_wan_addrs
    }

    fn translate(&self, query: &praetor_policy::AddressQuery) -> praetor_policy::Presented {
        self.0.plugins.translate(query)
    }

    fn agent_tokens_changed(&self) -> Result<(), AgentError> {
        let shared = &self.0;
        crate::acl::persist_tokens(&shared.config, &shared.rpc.agent_tokens())
            .map_err(|e| AgentError::Internal(format!("persisting ACL tokens: {e}")))?;
        shared.sync_now.notify_one();
        Ok(())
    }

    fn remote_plugin_load(&self) -> bool {
        self.0.config.enable_remote_plugin_load
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        self.0
            .plugins
            .list()
            .iter()
            .map(crate::plugins::info)
            .collect()
    }

    async fn load_plugin(
        &self,
        slot: &str,
        bytes: Vec<u8>,
        config_json: &str,
    ) -> Result<PluginInfo, AgentError> {
        let info = self
            .0
            .plugins
            .load(slot, bytes, config_json)
            .await
            .map_err(|e| AgentError::BadRequest(e.to_string()))?;
        tracing::info!(slot = %info.slot, sha256 = info.short_hash(), "plugin loaded through the API");
        Ok(crate::plugins::info(&info))
    }

    async fn revert_plugin(&self, slot: &str) -> Result<PluginInfo, AgentError> {
        self.0
            .plugins
            .revert(slot)
            .map_err(|e| AgentError::BadRequest(e.to_string()))?;
        let info = self
            .0
            .plugins
            .info(slot)
            .map_err(|e| AgentError::BadRequest(e.to_string()))?;
        Ok(crate::plugins::info(&info))
    }

    async fn leaf_cert(
        &self,
        service: &str,
        token: String,
        min_index: u64,
        wait: Option<&str>,
    ) -> Result<LeafCert, AgentError> {
        crate::leaf::get(&self.0, service, token, min_index, wait).await
    }

    fn authorize_intention(
        &self,
        source: &str,
        destination: &str,
        http: Option<praetor_policy::HttpRequest>,
    ) -> IntentionVerdict {
        crate::mesh::authorize(&self.0, source, destination, http)
    }
}

fn reject_disabled(shared: &Shared, def: &CheckDefinition) -> Result<(), AgentError> {
    if matches!(def.kind, CheckKind::Script(_)) && !shared.config.enable_script_checks {
        return Err(AgentError::BadRequest(
            "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true".into(),
        ));
    }
    Ok(())
}
