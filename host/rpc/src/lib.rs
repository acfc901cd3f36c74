//! The server RPC layer and the one forwarding point.
//!
//! [`Rpc::call`] decides where every request runs, for the HTTP API, DNS and the CLI alike:
//! on this server, on the raft leader, on a server of the local datacenter (from a client agent),
//! or on a server of another datacenter known from the WAN pool ([`router`]).

pub mod acl;
pub mod autopilot;
pub mod ca;
mod error;
pub mod login;
mod messages;
pub mod prepared_query;
mod router;
mod sessions;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use praetor_consensus::{Consensus, ConsensusError};
use praetor_proto::rpc::rpc_client::RpcClient;
use praetor_proto::rpc::rpc_server::{Rpc as RpcSvc, RpcServer};
use praetor_proto::rpc::{CallReply, CallRequest};
use praetor_state::format::{self, FORMAT_VERSION};
use praetor_state::{Command, CommandResult};
use tonic::transport::Channel;

pub use acl::{AclSettings, AgentTokens, Caller, DownPolicy, Identity, ReplicationStatus};
pub use autopilot::{AutopilotHealth, RaftStats, ServerHealth};
pub use error::RpcError;
pub use messages::{
    AreaJoinResult, AreaMember, CaLeaf, Consistency, DatacenterMap, KeyringOp, KeyringResponse,
    QueryRequest, QueryResponse, RaftServerInfo, Request, Response, RouteInfo, StoreCopy,
    UserEvent,
};
pub use prepared_query::ExecuteResult;
pub use router::{Advert, NativePolicy, RoutePolicy, WanServer, WanView};
pub use sessions::{SESSION_TTL_MULTIPLIER, SessionTimers};

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it): the time a
/// proposer stamps on commands, and autopilot's `StableSince`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What only the agent can do for a request that arrives over RPC (its gossip pools).
#[tonic::async_trait]
pub trait LocalOps: Send + Sync + 'static {
    /// Runs a keyring operation on this agent's LAN pool and, with `include_wan` on a server,
    /// its WAN pool; one response per pool.
    async fn keyring(
        &self,
        op: &KeyringOp,
        include_wan: bool,
    ) -> Result<Vec<KeyringResponse>, RpcError>;

    /// Joins network area `id` through `addresses`.
    async fn area_join(
        &self,
        id: &str,
        addresses: &[String],
    ) -> Result<Vec<AreaJoinResult>, RpcError>;

    /// The members of network area `id`.
    async fn area_members(&self, id: &str) -> Result<Vec<AreaMember>, RpcError>;

    /// Sends a user event on this agent's LAN pool; returns it with its Lamport time.
    async fn fire_event(&self, event: UserEvent) -> Result<UserEvent, RpcError>;

    /// The LAN gossip view of this datacenter's servers: node name -> (status, Consul
    /// version from the `build` tag).
    fn server_members(&self) -> BTreeMap<String, (String, String)>;
}

/// Consul's `performance.rpc_hold_timeout`: how long a request waits for a leader.
const RPC_HOLD_TIMEOUT: Duration = Duration::from_secs(7);
/// Extra time given to a forwarded call beyond its own wait.
const RPC_MARGIN: Duration = Duration::from_secs(10);
/// Hop limit for forwarding: client -> server -> (remote server ->) leader.
const MAX_HOPS: u32 = 5;
/// Connect timeout towards a server of another datacenter: a datacenter that is down must
/// fail fast; its servers are then skipped for [`router::FAILED_SERVER_BACKOFF`].
const CROSS_DC_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// HTTP/2 keepalive towards a server of another datacenter (a cut link is noticed fast).
const CROSS_DC_KEEPALIVE: Duration = Duration::from_secs(1);
/// Connect timeout towards a server of the local datacenter (raft uses it too).
pub const LOCAL_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 keepalive towards a server of the local datacenter (raft uses it too).
pub const LOCAL_KEEPALIVE: Duration = Duration::from_secs(10);
/// Consul's maximum blocking wait.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// Consul's default blocking wait.
const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// A server of the local datacenter, as learned from LAN gossip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    pub name: String,
    pub rpc_addr: SocketAddr,
}

/// Counters exported as metrics.
#[derive(Default, Debug)]
pub struct RpcCounters {
    pub calls_in: AtomicU64,
    pub calls_out: AtomicU64,
    pub call_errors: AtomicU64,
    pub blocking_in_flight: AtomicU64,
}

struct Inner {
    datacenter: String,
    consensus: Option<Consensus>,
    servers: RwLock<Vec<ServerEntry>>,
    preferred: AtomicUsize,
    pool: Mutex<HashMap<SocketAddr, RpcClient<Channel>>>,
    sessions: Arc<SessionTimers>,
    counters: Arc<RpcCounters>,
    router: router::Router,
    /// TLS material of the RPC port (`None` = plaintext everywhere).
    tls: RwLock<Option<praetor_tls::RpcTls>>,
    policy: RwLock<Arc<dyn RoutePolicy>>,
    local_ops: RwLock<Option<Arc<dyn LocalOps>>>,
    /// Autopilot on the leader: per raft ID, whether the server was healthy at the last look
    /// and since when (unix ms).
    stable_since: Mutex<HashMap<u64, (bool, u64)>>,
    /// ACL settings, the agent's tokens and compiled identities.
    acl: acl::AclState,
    /// The CA's CSR limits (servers).
    csr_limiter: ca::CsrLimiter,
}

/// The forwarding point. Cheap to clone.
#[derive(Clone)]
pub struct Rpc {
    inner: Arc<Inner>,
}

impl Rpc {
    /// For a server agent: requests run here or on the leader.
    pub fn server(datacenter: &str, consensus: Consensus) -> Self {
        Self::new(datacenter, Some(consensus))
    }

    /// For a client agent: requests go to a server of the local datacenter.
    pub fn client(datacenter: &str) -> Self {
        Self::new(datacenter, None)
    }

    fn new(datacenter: &str, consensus: Option<Consensus>) -> Self {
        Rpc {
            inner: Arc::new(Inner {
                datacenter: datacenter.to_string(),
                consensus,
                servers: RwLock::new(Vec::new()),
                preferred: AtomicUsize::new(0),
                pool: Mutex::new(HashMap::new()),
                sessions: Arc::new(SessionTimers::default()),
                counters: Arc::new(RpcCounters::default()),
                router: router::Router::new(datacenter),
                tls: RwLock::new(None),
                policy: RwLock::new(Arc::new(NativePolicy)),
                local_ops: RwLock::new(None),
                stable_since: Mutex::new(HashMap::new()),
                acl: acl::AclState::default(),
                csr_limiter: ca::CsrLimiter::default(),
            }),
        }
    }

    pub fn datacenter(&self) -> &str {
        &self.inner.datacenter
    }

    pub fn consensus(&self) -> Option<&Consensus> {
        self.inner.consensus.as_ref()
    }

    pub fn sessions(&self) -> &Arc<SessionTimers> {
        &self.inner.sessions
    }

    pub fn counters(&self) -> &Arc<RpcCounters> {
        &self.inner.counters
    }

    /// Replaces the list of known local servers (fed from LAN gossip).
    pub fn set_servers(&self, mut servers: Vec<ServerEntry>) {
        servers.sort_by(|a, b| a.name.cmp(&b.name));
        if let Ok(mut s) = self.inner.servers.write() {
            *s = servers;
        }
    }

    pub fn servers(&self) -> Vec<ServerEntry> {
        self.inner
            .servers
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Replaces what the WAN pool says about servers of every datacenter (servers only).
    pub fn set_wan(&self, view: WanView) {
        self.inner.router.set_view(view);
    }

    /// Replaces what network area `id` says: its server members and their adverts.
    pub fn set_area(&self, id: &str, view: WanView, adverts: Vec<Advert>) {
        self.inner.router.set_area(id, view, adverts);
    }

    /// Forgets network area `id` (deleted).
    pub fn remove_area(&self, id: &str) {
        self.inner.router.remove_area(id);
    }

    /// Multi-hop routing (praetor's extension): datacenters advertised by adjacent ones become
    /// reachable through them.
    pub fn set_multi_hop(&self, on: bool) {
        self.inner.router.set_multi_hop(on);
    }

    /// What this server can reach (datacenter, cost in ms, hops), to advertise in areas.
    pub fn reach(&self) -> Vec<(String, f64, u32)> {
        self.inner.router.reach()
    }

    /// Secures outgoing RPC with TLS (and checks incoming callers' certificates).
    pub fn set_tls(&self, tls: Option<praetor_tls::RpcTls>) {
        if let Ok(mut t) = self.inner.tls.write() {
            *t = tls;
        }
        // Channels made with the old setting must not be reused.
        if let Ok(mut p) = self.inner.pool.lock() {
            p.clear();
        }
    }

    fn tls(&self) -> Option<praetor_tls::RpcTls> {
        self.inner.tls.read().ok().and_then(|t| t.clone())
    }

    /// Installs the policy that ranks datacenters and picks servers (the router slot).
    pub fn set_policy(&self, policy: Arc<dyn RoutePolicy>) {
        if let Ok(mut p) = self.inner.policy.write() {
            *p = policy;
        }
    }

    fn policy(&self) -> Arc<dyn RoutePolicy> {
        self.inner
            .policy
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|_| Arc::new(NativePolicy))
    }

    /// Installs the agent's side of agent-level requests (keyring).
    pub fn set_local_ops(&self, ops: Arc<dyn LocalOps>) {
        if let Ok(mut o) = self.inner.local_ops.write() {
            *o = Some(ops);
        }
    }

    fn local_ops(&self) -> Result<Arc<dyn LocalOps>, RpcError> {
        self.inner
            .local_ops
            .read()
            .ok()
            .and_then(|o| o.clone())
            .ok_or_else(|| RpcError::Internal("agent operations are not available".into()))
    }

    /// Installs the ACL settings (start, reload); compiled identities are dropped.
    pub fn set_acl(&self, settings: AclSettings) {
        if let Ok(mut s) = self.inner.acl.settings.write() {
            *s = settings;
        }
        self.inner.acl.cache.clear();
        self.inner.acl.remote.clear();
        self.inner.acl.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn acl_settings(&self) -> AclSettings {
        self.inner
            .acl
            .settings
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The agent's tokens.
    pub fn agent_tokens(&self) -> AgentTokens {
        self.inner
            .acl
            .tokens
            .read()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Changes the agent's tokens (`/v1/agent/token/<kind>`, start, reload).
    pub fn update_agent_tokens(&self, f: impl FnOnce(&mut AgentTokens)) {
        if let Ok(mut t) = self.inner.acl.tokens.write() {
            f(&mut t);
        }
        self.inner.acl.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A counter bumped after every change of the ACL settings or the agent's tokens (never before
    /// the change is visible): what a read answered as the agent may differ once it moved.
    pub fn acl_generation(&self) -> u64 {
        self.inner.acl.generation.load(Ordering::SeqCst)
    }

    /// The secret a call carries on the wire: the agent's own token for internal calls.
    fn wire_token(&self, caller: &Caller) -> String {
        match caller {
            Caller::Internal => self.agent_tokens().agent_or_default().to_string(),
            Caller::Token(t) => t.clone(),
        }
    }

    /// The primary datacenter when ACLs are on and this is a secondary.
    /// The primary datacenter when it is configured and not this one.
    fn primary_elsewhere(&self) -> Option<String> {
        let s = self.acl_settings();
        (!s.primary_datacenter.is_empty() && s.primary_datacenter != self.inner.datacenter)
            .then_some(s.primary_datacenter)
    }

    fn acl_primary_elsewhere(&self) -> Option<String> {
        let s = self.acl_settings();
        (s.enabled
            && !s.primary_datacenter.is_empty()
            && s.primary_datacenter != self.inner.datacenter)
            .then_some(s.primary_datacenter)
    }

    /// On a server: whom a request runs as (`None`: unchecked, ACLs off or internal). A
    /// secondary asks the primary for a token it does not know (token replication off, or not
    /// caught up yet).
    async fn identity_on_server(
        &self,
        c: &Consensus,
        caller: &Caller,
        hops: u32,
    ) -> Result<Option<Identity>, RpcError> {
        let settings = self.acl_settings();
        let secret = match caller {
            _ if !settings.enabled => return Ok(None),
            Caller::Internal => return Ok(None),
            Caller::Token(secret) => secret,
        };
        let local = c
            .store()
            .read(|s| self.resolve_in_store(&settings, s, secret));
        match (local, self.acl_primary_elsewhere()) {
            // Not replicated (or not yet): the primary knows every global token.
            (Err(RpcError::AclNotFound(_)), Some(primary)) if !secret.is_empty() => self
                .resolve_in_primary(&settings, &primary, secret, hops)
                .await
                .map(Some),
            (other, _) => other.map(Some),
        }
    }

    /// Resolves a secret in the primary datacenter (kept for `token_ttl`; a cached answer
    /// outlives an unreachable primary, as `extend-cache` does).
    async fn resolve_in_primary(
        &self,
        settings: &AclSettings,
        primary: &str,
        secret: &str,
        hops: u32,
    ) -> Result<Identity, RpcError> {
        let cache = &self.inner.acl.remote;
        let cached = cache.get(secret, None, settings.token_ttl);
        if let Some((id, true)) = &cached {
            return Ok(id.clone());
        }
        let mut q = QueryRequest::new(praetor_state::Query::AclResolve {
            secret_id: secret.to_string(),
        });
        q.consistency = Consistency::Stale;
        let caller = Caller::Token(secret.to_string());
        match self
            .forward_dc(&caller, primary, Request::Query(q), hops)
            .await
        {
            Ok(Response::Query(r)) => match r.output.result {
                praetor_state::QueryResult::AclResolved(Some(r)) => {
                    let id = acl::compile(
                        &r,
                        settings.default_policy,
                        &self.inner.datacenter,
                        now_ms(),
                    )?;
                    cache.put(secret, id.clone(), 0);
                    Ok(id)
                }
                _ => Err(acl::not_found(true)),
            },
            Ok(other) => Err(unexpected(&other)),
            Err(e) if matches!(e.root(), RpcError::AclNotFound(_)) => Err(e),
            Err(e) => match cached {
                Some((id, _)) => Ok(id),
                None => Err(e),
            },
        }
    }

    /// Replication status (`GET /v1/acl/replication`).
    pub fn replication_status(&self) -> ReplicationStatus {
        self.inner
            .acl
            .replication
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Updates the replication status (the secondary leader's replicator).
    pub fn update_replication_status(&self, f: impl FnOnce(&mut ReplicationStatus)) {
        if let Ok(mut s) = self.inner.acl.replication.lock() {
            f(&mut s);
        }
    }

    /// Resolves a secret against a state store (a server's own), cached until an ACL table
    /// changes.
    fn resolve_in_store(
        &self,
        settings: &AclSettings,
        store: &praetor_state::Store,
        secret: &str,
    ) -> Result<Identity, RpcError> {
        acl::resolve_in_store(
            &self.inner.acl.cache,
            &self.agent_tokens(),
            settings,
            store,
            secret,
            &self.inner.datacenter,
        )
    }

    /// Whom a request with `secret` runs as, on any agent (agent-local endpoints): a server
    /// resolves in its own state; a client agent asks a server and keeps the answer for
    /// `acl.token_ttl`, applying `acl.down_policy` when no server answers.
    pub async fn resolve(&self, secret: &str) -> Result<Identity, RpcError> {
        let settings = self.acl_settings();
        if !settings.enabled {
            return Ok(Identity::unrestricted());
        }
        if let Some(c) = &self.inner.consensus {
            let caller = Caller::Token(secret.to_string());
            return Ok(self
                .identity_on_server(c, &caller, 0)
                .await?
                .unwrap_or_else(Identity::unrestricted));
        }
        let secret = if secret.is_empty() {
            praetor_acl::builtin::ANONYMOUS_TOKEN_SECRET
        } else {
            secret
        };
        if let Some(r) = acl::resolve_static(&self.agent_tokens(), &settings, secret) {
            return r;
        }
        let cache = &self.inner.acl.cache;
        let cached = cache.get(secret, None, settings.token_ttl);
        if let Some((id, true)) = &cached {
            return Ok(id.clone());
        }
        let mut q = QueryRequest::new(praetor_state::Query::AclResolve {
            secret_id: secret.to_string(),
        });
        q.consistency = Consistency::Stale;
        match self
            .query_as(&Caller::Token(secret.to_string()), None, q)
            .await
        {
            Ok(r) => {
                let resolved = match r.output.result {
                    praetor_state::QueryResult::AclResolved(Some(r)) => *r,
                    _ if secret == praetor_acl::builtin::ANONYMOUS_TOKEN_SECRET => {
                        acl::anonymous_resolved()
                    }
                    _ => return Err(acl::not_found(true)),
                };
                let id = acl::compile(
                    &resolved,
                    settings.default_policy,
                    &self.inner.datacenter,
                    now_ms(),
                )?;
                cache.put(secret, id.clone(), 0);
                Ok(id)
            }
            Err(e) if matches!(e.root(), RpcError::AclNotFound(_)) => Err(e),
            Err(e) if matches!(e.root(), RpcError::PermissionDenied(_)) => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, down_policy = ?settings.down_policy, "could not resolve an ACL token");
                Ok(match (settings.down_policy, cached) {
                    (DownPolicy::ExtendCache | DownPolicy::AsyncCache, Some((id, _))) => id,
                    (DownPolicy::Allow, _) => Identity {
                        accessor_id: String::new(),
                        authz: praetor_acl::Authorizer::allow_all(),
                        token: None,
                    },
                    (DownPolicy::Deny, _) => Identity {
                        accessor_id: String::new(),
                        authz: praetor_acl::Authorizer::deny_all(),
                        token: None,
                    },
                    _ => Identity {
                        accessor_id: String::new(),
                        authz: praetor_acl::Authorizer::from_static(
                            settings.default_policy.authorizer(),
                        ),
                        token: None,
                    },
                })
            }
        }
    }

    /// Known datacenters in Consul's order (local first, then by WAN RTT), as this agent's
    /// router sees them (a client agent knows only its own; ask a server with
    /// [`Request::Datacenters`]).
    pub fn datacenters(&self) -> Vec<String> {
        self.inner.router.datacenters(self.policy().as_ref())
    }

    /// The tonic service answering `Call` on the server RPC port.
    pub fn service(&self) -> RpcServer<RpcService> {
        RpcServer::new(RpcService { rpc: self.clone() })
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    /// Runs `req` in datacenter `dc` (`None` = local): the one forwarding point.
    /// The agent's own calls ([`Caller::Internal`]).
    /// Asks the server at `addr` (`ip:port` of its RPC listener) for its raft term and index:
    /// both zero while it has no raft state (bootstrap's check, Consul's `maybeBootstrap`).
    pub async fn raft_stats_of(&self, addr: &str) -> Result<RaftStats, RpcError> {
        match self
            .forward_to(
                &Caller::Internal,
                addr,
                None,
                Request::RaftStats,
                1,
                Duration::from_secs(2),
            )
            .await?
        {
            Response::RaftStats(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn call(&self, dc: Option<&str>, req: Request) -> Result<Response, RpcError> {
        self.call_as(&Caller::Internal, dc, req).await
    }

    /// Runs `req` in datacenter `dc` (`None` = local) as `caller`: the one forwarding point.
    pub async fn call_as(
        &self,
        caller: &Caller,
        dc: Option<&str>,
        req: Request,
    ) -> Result<Response, RpcError> {
        let dc = dc.filter(|d| !d.is_empty());
        match &self.inner.consensus {
            Some(c) => self.route_on_server(c, caller, dc, req, 0).await,
            // A client agent knows no other datacenter: its servers route the request.
            None => self.forward_to_any_server(caller, dc, req).await,
        }
    }

    /// On a server: run in this datacenter, or route to a server of another one.
    async fn route_on_server(
        &self,
        c: &Consensus,
        caller: &Caller,
        dc: Option<&str>,
        req: Request,
        hops: u32,
    ) -> Result<Response, RpcError> {
        match dc {
            Some(dc) if dc != self.inner.datacenter => self.forward_dc(caller, dc, req, hops).await,
            _ => {
                // Global ACL objects are written in the primary datacenter only.
                if let (Some(primary), Request::Apply(cmd)) = (self.acl_primary_elsewhere(), &req)
                    && c.store().read(|s| acl::is_global_acl_write(cmd, s))
                {
                    return self.forward_dc(caller, &primary, req, hops).await;
                }
                // So are config entries (intentions included), ACLs on or off.
                if let (Some(primary), Request::Apply(cmd)) = (self.primary_elsewhere(), &req)
                    && matches!(
                        cmd,
                        Command::ConfigEntrySet { .. } | Command::ConfigEntryDelete { .. }
                    )
                {
                    return self.forward_dc(caller, &primary, req, hops).await;
                }
                self.handle_on_server(c, caller, req, hops).await
            }
        }
    }

    /// Consul's `forwardDC`: send the request to a usable server of `dc`, trying another one
    /// when a server cannot be reached. `No path to datacenter` when no server of `dc` is known,
    /// `Remote DC has no server currently reachable` when none is usable.
    async fn forward_dc(
        &self,
        caller: &Caller,
        dc: &str,
        req: Request,
        hops: u32,
    ) -> Result<Response, RpcError> {
        let router = &self.inner.router;
        if !router.has_datacenter(dc) {
            tracing::warn!(
                datacenter = dc,
                "RPC request for DC is currently failing as no path was found"
            );
            return Err(RpcError::NoPathToDatacenter);
        }
        let policy = self.policy();
        let timeout = call_timeout(&req);
        let mut tried = Vec::new();
        loop {
            let Some(addr) = router.route(policy.as_ref(), dc, &tried) else {
                tracing::warn!(
                    datacenter = dc,
                    "RPC request to DC is currently failing as no server can be reached"
                );
                return Err(RpcError::DatacenterUnavailable);
            };
            match self
                .forward_to(
                    caller,
                    &addr.to_string(),
                    Some(dc),
                    req.clone(),
                    hops.saturating_add(1),
                    timeout,
                )
                .await
            {
                Err(RpcError::Transport(e)) => {
                    tracing::warn!(datacenter = dc, server = %addr, error = %e, "RPC failed to server in DC");
                    router.mark_failed(addr);
                    tried.push(addr);
                }
                other => {
                    router.mark_ok(addr);
                    return other;
                }
            }
        }
    }

    /// Applies a command (forwarded to the leader as needed) as the agent itself.
    pub async fn apply(&self, dc: Option<&str>, cmd: Command) -> Result<CommandResult, RpcError> {
        self.apply_as(&Caller::Internal, dc, cmd).await
    }

    /// Applies a command as `caller`.
    pub async fn apply_as(
        &self,
        caller: &Caller,
        dc: Option<&str>,
        cmd: Command,
    ) -> Result<CommandResult, RpcError> {
        match self.call_as(caller, dc, Request::Apply(cmd)).await? {
            Response::Apply(r) => Ok(r),
            other => Err(unexpected(&other)),
        }
    }

    /// Runs a read (forwarded per its consistency mode).
    pub async fn query(
        &self,
        dc: Option<&str>,
        q: QueryRequest,
    ) -> Result<QueryResponse, RpcError> {
        self.query_as(&Caller::Internal, dc, q).await
    }

    /// Runs a read as `caller`.
    pub async fn query_as(
        &self,
        caller: &Caller,
        dc: Option<&str>,
        q: QueryRequest,
    ) -> Result<QueryResponse, RpcError> {
        match self.call_as(caller, dc, Request::Query(q)).await? {
            Response::Query(r) => Ok(r),
            other => Err(unexpected(&other)),
        }
    }

    async fn handle_on_server(
        &self,
        c: &Consensus,
        caller: &Caller,
        req: Request,
        hops: u32,
    ) -> Result<Response, RpcError> {
        let identity = self.identity_on_server(c, caller, hops).await?;
        if let Some(id) = &identity {
            c.store().read(|s| acl::authorize(id, &req, s))?;
        }
        match req {
            Request::Apply(cmd) => self.apply_on_server(c, caller, cmd, hops).await,
            Request::Query(q) => self.query_on_server(c, caller, q, hops).await,
            Request::RaftConfiguration => {
                let servers = c
                    .peers()
                    .into_iter()
                    .map(|p| RaftServerInfo {
                        id: raft_id_string(p.id),
                        node: p.node.name,
                        address: p.node.rpc_addr,
                        leader: p.leader,
                        voter: p.voter,
                    })
                    .collect();
                Ok(Response::RaftConfiguration {
                    servers,
                    index: c.applied_index().max(1),
                })
            }
            Request::SessionRenew { id } => {
                if !c.is_leader() {
                    return self
                        .forward_to_leader(c, caller, Request::SessionRenew { id }, hops)
                        .await;
                }
                let exists = !matches!(
                    c.store().query(&praetor_state::Query::SessionInfo { id: id.clone() }).result,
                    praetor_state::QueryResult::Sessions(ref s) if s.is_empty()
                );
                self.inner.sessions.renew(&id);
                Ok(Response::SessionRenew { found: exists })
            }
            Request::RemoveRaftPeer { node } => {
                if !c.is_leader() {
                    return self
                        .forward_to_leader(c, caller, Request::RemoveRaftPeer { node }, hops)
                        .await;
                }
                if let Some(p) = c.peers().into_iter().find(|p| p.node.name == node) {
                    c.remove_server(p.id).await.map_err(consensus_err)?;
                }
                Ok(Response::RemoveRaftPeer)
            }
            Request::Datacenters => Ok(Response::Datacenters(self.datacenters())),
            Request::Routes => Ok(Response::Routes(self.inner.router.routes())),
            Request::CoordinateDatacenters => Ok(Response::CoordinateDatacenters(
                self.inner.router.coordinate_maps(),
            )),
            Request::Keyring { op, relay } => self.keyring_on_server(caller, op, relay, hops).await,
            Request::AreaJoin { id, addresses } => Ok(Response::AreaJoin(
                self.local_ops()?.area_join(&id, &addresses).await?,
            )),
            Request::AreaMembers { id } => Ok(Response::AreaMembers(
                self.local_ops()?.area_members(&id).await?,
            )),
            Request::EventFire(event) => Ok(Response::EventFire(
                self.local_ops()?.fire_event(event).await?,
            )),
            Request::RaftStats => Ok(Response::RaftStats(RaftStats {
                last_contact_ms: c.last_contact().map(|d| d.as_millis() as u64),
                last_term: c.term(),
                last_index: c.applied_index(),
            })),
            Request::AutopilotHealth => {
                if !c.is_leader() {
                    return self
                        .forward_to_leader(c, caller, Request::AutopilotHealth, hops)
                        .await;
                }
                Ok(Response::AutopilotHealth(
                    self.autopilot_health(c, hops).await?,
                ))
            }
            Request::PreparedQueryExecute {
                name,
                near,
                limit,
                stale,
                connect,
            } => {
                if !stale && !c.is_leader() {
                    let req = Request::PreparedQueryExecute {
                        name,
                        near,
                        limit,
                        stale,
                        connect,
                    };
                    return self.forward_to_leader(c, caller, req, hops).await;
                }
                let mut result = self
                    .execute_prepared_query(
                        c,
                        caller,
                        Execute {
                            name: &name,
                            near: near.as_deref(),
                            limit,
                            connect,
                        },
                        hops,
                    )
                    .await?;
                if let (Some(id), Some(r)) = (&identity, result.as_mut()) {
                    acl::filter_nodes(id, &mut r.nodes);
                }
                Ok(Response::PreparedQueryExecute(result))
            }
            Request::PreparedQueryExecuteRemote { query, limit } => {
                let mut r = self.execute_here(c, &query, None, limit);
                if let Some(id) = &identity {
                    acl::filter_nodes(id, &mut r.nodes);
                }
                Ok(Response::PreparedQueryExecute(Some(r)))
            }
            Request::AclLogin {
                auth_method,
                bearer_token,
                meta,
            } => self
                .acl_login(c, &auth_method, &bearer_token, &meta, hops)
                .await
                .map(|t| Response::AclLogin(Box::new(t))),
            Request::AclLogout { secret } => {
                let token = match c
                    .store()
                    .query(&praetor_state::Query::AclTokenBySecret { secret_id: secret })
                    .result
                {
                    praetor_state::QueryResult::AclTokens(mut t) => t.pop(),
                    _ => None,
                };
                let Some(token) = token else {
                    return Err(acl::not_found(true));
                };
                if token.auth_method.is_empty() {
                    return Err(RpcError::PermissionDenied(
                        praetor_acl::builtin::PERMISSION_DENIED.into(),
                    ));
                }
                let cmd = Command::AclTokenDelete {
                    accessor_id: token.accessor_id,
                };
                match self
                    .apply_on_server(c, &Caller::Internal, cmd, hops)
                    .await?
                {
                    Response::Apply(CommandResult::Ok) => Ok(Response::AclLogout),
                    Response::Apply(r) => Err(RpcError::Internal(format!("{r:?}"))),
                    other => Err(unexpected(&other)),
                }
            }
            Request::CaSignLeaf { csr_pem } => {
                let (rate, concurrent) = c.store().read(|s| ca::csr_limits(s.ca_state()));
                let _permit = self.inner.csr_limiter.acquire(rate, concurrent).await?;
                let index = c.applied_index();
                c.store()
                    .read(|s| {
                        ca::sign_leaf(
                            s,
                            identity.as_ref(),
                            &self.inner.datacenter,
                            &csr_pem,
                            index,
                        )
                    })
                    .map(Response::CaLeaf)
            }
            Request::CaSignIntermediate { csr_pem } => {
                if self.primary_elsewhere().is_some() {
                    return Err(RpcError::BadRequest("not the primary datacenter".into()));
                }
                c.store()
                    .read(|s| ca::sign_intermediate(s, &csr_pem))
                    .map(Response::CaIntermediate)
            }
            Request::CaSetConfig {
                provider,
                config_json,
                force_without_cross_signing,
            } => {
                if !c.is_leader() {
                    let req = Request::CaSetConfig {
                        provider,
                        config_json,
                        force_without_cross_signing,
                    };
                    return self.forward_to_leader(c, caller, req, hops).await;
                }
                if self.primary_elsewhere().is_some() {
                    return Err(RpcError::BadRequest(
                        "the CA configuration is changed in the primary datacenter".into(),
                    ));
                }
                let current = c.store().read(|s| s.ca_state().clone());
                let cas = current.config.as_ref().map(|c| c.modify_index);
                let Some(next) = ca::reconfigure(
                    &current,
                    &provider,
                    &config_json,
                    force_without_cross_signing,
                    ca::now_secs(),
                )?
                else {
                    return Ok(Response::Apply(CommandResult::Ok));
                };
                let cmd = Command::CaSet {
                    state: Box::new(next),
                    cas,
                };
                self.apply_on_server(c, &Caller::Internal, cmd, hops).await
            }
            Request::SnapshotSave => {
                if !c.is_leader() {
                    return self
                        .forward_to_leader(c, caller, Request::SnapshotSave, hops)
                        .await;
                }
                c.read_barrier().await.map_err(consensus_err)?;
                let snap = c.store().snapshot();
                let state = postcard::to_allocvec(&snap)
                    .map_err(|e| RpcError::Internal(format!("encoding the snapshot: {e}")))?;
                Ok(Response::SnapshotSave(StoreCopy {
                    index: snap.last_index,
                    term: c.term(),
                    state,
                }))
            }
        }
    }

    /// `/v1/acl/login`: verify the bearer token with the auth method, apply the binding rules,
    /// write the token (local unless the method says `global`, which only the primary may
    /// issue) and answer it.
    async fn acl_login(
        &self,
        c: &Consensus,
        method_name: &str,
        bearer: &str,
        meta: &BTreeMap<String, String>,
        hops: u32,
    ) -> Result<praetor_state::AclToken, RpcError> {
        use praetor_state::{Query as Q, QueryResult as R};
        let store = c.store();
        let (method, rules) = match store
            .query(&Q::AclAuthMethods {
                name: Some(method_name.to_string()),
            })
            .result
        {
            R::AclAuthMethods(mut m) if !m.is_empty() => m.remove(0),
            _ => {
                return Err(RpcError::BadRequest(format!(
                    "auth method {method_name:?} not found"
                )));
            }
        };
        let global = method.token_locality == "global";
        if global && self.acl_primary_elsewhere().is_some() {
            return Err(RpcError::BadRequest(
                "an auth method with TokenLocality \"global\" issues tokens in the primary datacenter only".into(),
            ));
        }
        let config = login::JwtConfig::parse(&method.config).map_err(RpcError::Internal)?;
        let claims = login::verify(&config, bearer).map_err(|e| {
            tracing::debug!(method = method_name, error = %e, "login refused");
            RpcError::PermissionDenied(praetor_acl::builtin::PERMISSION_DENIED.into())
        })?;
        let vars = login::variables(&config, &claims);
        let exists = |kind: &str, name: &str| {
            let q = match kind {
                "role" => Q::AclRoles {
                    id: None,
                    name: Some(name.to_string()),
                    policy: None,
                },
                _ => Q::AclPolicies {
                    id: None,
                    name: Some(name.to_string()),
                },
            };
            match store.query(&q).result {
                R::AclRoles(r) => !r.is_empty(),
                R::AclPolicies(p) => !p.is_empty(),
                _ => false,
            }
        };
        let grant = login::bind(&rules, &vars, &self.inner.datacenter, exists)
            .map_err(RpcError::Internal)?;
        if grant.is_empty() {
            return Err(RpcError::PermissionDenied(
                praetor_acl::builtin::PERMISSION_DENIED.into(),
            ));
        }
        let now = now_ms();
        let meta_text = serde_json::to_string(meta).unwrap_or_default();
        let token = praetor_state::AclToken {
            accessor_id: uuid::Uuid::new_v4().to_string(),
            secret_id: uuid::Uuid::new_v4().to_string(),
            description: format!("token created via login: {meta_text}"),
            policies: grant.policies,
            roles: grant.roles,
            service_identities: grant.service_identities,
            node_identities: grant.node_identities,
            templated_policies: grant.templated_policies,
            local: !global,
            auth_method: method.name.clone(),
            expiration_time_ms: (method.max_token_ttl_ms > 0)
                .then(|| now + method.max_token_ttl_ms),
            create_time_ms: now,
            ..Default::default()
        };
        let cmd = Command::AclTokenSet {
            token: token.clone(),
            create: true,
        };
        match self
            .apply_on_server(c, &Caller::Internal, cmd, hops)
            .await?
        {
            Response::Apply(CommandResult::Ok) => {}
            Response::Apply(CommandResult::Error(e)) => return Err(RpcError::Internal(e)),
            Response::Apply(r) => return Err(RpcError::Internal(format!("{r:?}"))),
            other => return Err(unexpected(&other)),
        }
        tracing::info!(method = method_name, accessor = %token.accessor_id, "ACL login");
        Ok(token)
    }

    /// Resolves, renders and runs a prepared query here; when nothing passes, tries the
    /// failover datacenters in order until one answers with instances.
    async fn execute_prepared_query(
        &self,
        c: &Consensus,
        caller: &Caller,
        x: Execute<'_>,
        hops: u32,
    ) -> Result<Option<ExecuteResult>, RpcError> {
        let Execute {
            name,
            near,
            limit,
            connect,
        } = x;
        let resolved = match c
            .store()
            .query(&praetor_state::Query::PreparedQueryResolve {
                name: name.to_string(),
            })
            .result
        {
            praetor_state::QueryResult::PreparedQueries(mut q) => q.pop(),
            _ => None,
        };
        let Some(query) = resolved else {
            return Ok(None);
        };
        let mut query = praetor_state::render_prepared_query(&query, name)
            .map_err(|e| RpcError::Internal(format!("failed to render query: {e}")))?;
        query.service.connect |= connect;
        // The query's own `Near`; `_agent`/`_ip` need the caller's node, which only a `?near`
        // from the HTTP edge carries, so they sort nothing here.
        let near = near
            .or(Some(query.service.near.as_str()))
            .filter(|n| !n.is_empty() && *n != "_agent" && *n != "_ip");
        let mut result = self.execute_here(c, &query, near, limit);
        if !result.nodes.is_empty() {
            return Ok(Some(result));
        }
        let ranked: Vec<String> = self
            .datacenters()
            .into_iter()
            .filter(|d| *d != self.inner.datacenter)
            .collect();
        for dc in prepared_query::failover_targets(&query.service.failover, &ranked) {
            result.failovers += 1;
            let req = Request::PreparedQueryExecuteRemote {
                query: query.clone(),
                limit,
            };
            match self.forward_dc(caller, &dc, req, hops).await {
                Ok(Response::PreparedQueryExecute(Some(remote))) if !remote.nodes.is_empty() => {
                    return Ok(Some(ExecuteResult {
                        failovers: result.failovers,
                        ..remote
                    }));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(datacenter = %dc, error = %e, "prepared query failover failed")
                }
            }
        }
        Ok(Some(result))
    }

    /// One datacenter's part of an execute: the service's instances that pass the query's
    /// filters, shuffled, sorted by distance from `near` when given, cut at `limit`.
    fn execute_here(
        &self,
        c: &Consensus,
        query: &praetor_state::PreparedQuery,
        near: Option<&str>,
        limit: usize,
    ) -> ExecuteResult {
        use rand::seq::SliceRandom as _;
        let service = query.service.service.clone();
        let out = c.store().query(&if query.service.connect {
            praetor_state::Query::HealthConnect {
                service,
                tag: None,
                passing_only: false,
            }
        } else {
            praetor_state::Query::HealthService {
                service,
                tag: None,
                passing_only: false,
            }
        });
        let mut nodes = match out.result {
            praetor_state::QueryResult::CheckServiceNodes(n) => n,
            _ => Vec::new(),
        };
        nodes.retain(|n| prepared_query::passes(&query.service, n));
        nodes.shuffle(&mut rand::rng());
        if let Some(near) = near {
            let mut sorted = praetor_state::QueryResult::CheckServiceNodes(nodes);
            c.store().sort_by_near(&mut sorted, near);
            nodes = match sorted {
                praetor_state::QueryResult::CheckServiceNodes(n) => n,
                _ => Vec::new(),
            };
        }
        if limit > 0 {
            nodes.truncate(limit);
        }
        ExecuteResult {
            service: query.service.service.clone(),
            nodes,
            dns_ttl: query.dns_ttl.clone(),
            datacenter: self.inner.datacenter.clone(),
            failovers: 0,
            index: out.index.max(1),
            known_leader: c.leader().is_some(),
            last_contact_ms: c.last_contact().map_or(0, |d| d.as_millis() as u64),
        }
    }

    /// Autopilot's judgement of every raft peer: stats asked of each (1 s each, in parallel),
    /// gossip status from the agent, thresholds from the stored configuration.
    async fn autopilot_health(
        &self,
        c: &Consensus,
        hops: u32,
    ) -> Result<AutopilotHealth, RpcError> {
        let config = match c
            .store()
            .query(&praetor_state::Query::AutopilotConfig)
            .result
        {
            praetor_state::QueryResult::Autopilot(conf) => conf,
            _ => None,
        };
        let judge = config.unwrap_or_default();
        let members = self.local_ops()?.server_members();
        let (term, index) = (c.term(), c.applied_index());
        let peers = c.peers();
        let asks = peers.iter().map(|p| async move {
            if p.id == c.node_id() {
                return Some(RaftStats {
                    last_contact_ms: Some(0),
                    last_term: term,
                    last_index: index,
                });
            }
            match self
                .forward_to(
                    &Caller::Internal,
                    &p.node.rpc_addr,
                    None,
                    Request::RaftStats,
                    hops.saturating_add(1),
                    Duration::from_secs(1),
                )
                .await
            {
                Ok(Response::RaftStats(s)) => Some(s),
                _ => None,
            }
        });
        let stats = futures::future::join_all(asks).await;
        let now = now_ms();
        let mut stable = self
            .inner
            .stable_since
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        stable.retain(|id, _| peers.iter().any(|p| p.id == *id));
        let servers: Vec<ServerHealth> = peers
            .iter()
            .zip(stats)
            .map(|(p, stats)| {
                let (serf_status, version) = members
                    .get(&p.node.name)
                    .cloned()
                    .unwrap_or_else(|| ("none".to_string(), String::new()));
                let healthy =
                    autopilot::is_healthy(&judge, &serf_status, stats.as_ref(), term, index);
                let entry = stable.entry(p.id).or_insert((healthy, now));
                if entry.0 != healthy {
                    *entry = (healthy, now);
                }
                ServerHealth {
                    id: raft_id_string(p.id),
                    name: p.node.name.clone(),
                    address: p.node.rpc_addr.clone(),
                    serf_status,
                    version,
                    leader: p.leader,
                    voter: p.voter,
                    stats,
                    healthy,
                    stable_since_ms: entry.1,
                }
            })
            .collect();
        let failure_tolerance = autopilot::failure_tolerance(&servers);
        Ok(AutopilotHealth {
            healthy: servers.iter().all(|s| s.healthy),
            failure_tolerance,
            servers,
        })
    }

    /// A keyring operation: this datacenter's pools (and the WAN pool when relaying), then,
    /// when relaying, every other known datacenter's pools (Consul's keyring fan-out).
    async fn keyring_on_server(
        &self,
        caller: &Caller,
        op: KeyringOp,
        relay: bool,
        hops: u32,
    ) -> Result<Response, RpcError> {
        let mut out = self.local_ops()?.keyring(&op, relay).await?;
        if relay {
            for dc in self.datacenters() {
                if dc == self.inner.datacenter {
                    continue;
                }
                let req = Request::Keyring {
                    op: op.clone(),
                    relay: false,
                };
                match self.forward_dc(caller, &dc, req, hops).await {
                    Ok(Response::Keyring(r)) => out.extend(r),
                    Ok(other) => return Err(unexpected(&other)),
                    Err(e) => out.push(KeyringResponse {
                        datacenter: dc.clone(),
                        error: e.to_string(),
                        ..Default::default()
                    }),
                }
            }
        }
        Ok(Response::Keyring(out))
    }

    async fn apply_on_server(
        &self,
        c: &Consensus,
        caller: &Caller,
        cmd: Command,
        hops: u32,
    ) -> Result<Response, RpcError> {
        // A follower that knows the leader forwards at once, instead of proposing to its own
        // raft core first only to be told to (a copy of the command and a round trip through
        // the core per write). The leader stamps the time again when it proposes.
        if !c.is_leader()
            && let Some((id, node)) = c.leader()
            && id != c.node_id()
        {
            return self.forward_apply(caller, &node.rpc_addr, cmd, hops).await;
        }
        let deadline = Instant::now() + RPC_HOLD_TIMEOUT;
        let mut cmd = cmd;
        loop {
            // Times in the log come from the server that proposes the entry (the leader when
            // the write succeeds), not from the agent that took the request.
            cmd.stamp_time(now_ms());
            match c.write(cmd.clone()).await {
                Ok(r) => return Ok(Response::Apply(r)),
                Err(ConsensusError::ForwardToLeader(Some((id, node)))) if id != c.node_id() => {
                    return self.forward_apply(caller, &node.rpc_addr, cmd, hops).await;
                }
                Err(ConsensusError::ForwardToLeader(_)) | Err(ConsensusError::NoLeader) => {
                    if Instant::now() >= deadline {
                        return Err(RpcError::NoLeader);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await; // waiting for an election
                }
                Err(e) => return Err(consensus_err(e)),
            }
        }
    }

    /// Sends a write to the leader at `leader_addr` (one hop more).
    async fn forward_apply(
        &self,
        caller: &Caller,
        leader_addr: &str,
        cmd: Command,
        hops: u32,
    ) -> Result<Response, RpcError> {
        self.forward_to(
            caller,
            leader_addr,
            None,
            Request::Apply(cmd),
            hops.saturating_add(1),
            RPC_MARGIN,
        )
        .await
    }

    async fn query_on_server(
        &self,
        c: &Consensus,
        caller: &Caller,
        q: QueryRequest,
        hops: u32,
    ) -> Result<Response, RpcError> {
        if q.consistency != Consistency::Stale && !c.is_leader() {
            return self
                .forward_to_leader(c, caller, Request::Query(q), hops)
                .await;
        }
        match q.consistency {
            Consistency::Consistent => c.read_barrier().await.map_err(consensus_err)?,
            // A leader answers default reads once its own term's first entry is applied and
            // while a quorum acknowledged it within the read lease (no stale reads from a new
            // leader's incomplete state, nor from a deposed one).
            Consistency::Default => c
                .wait_ready_for_reads(RPC_HOLD_TIMEOUT)
                .await
                .map_err(consensus_err)?,
            Consistency::Stale => {}
        }
        let store = c.store().clone();
        let output = if q.min_index > 0 {
            let deadline = tokio::time::Instant::now() + blocking_wait(q.wait_ms);
            self.inner
                .counters
                .blocking_in_flight
                .fetch_add(1, Ordering::Relaxed);
            let _guard = InFlight(&self.inner.counters.blocking_in_flight);
            store.blocking_query(&q.query, q.min_index, deadline).await
        } else {
            store.query(&q.query)
        };
        let mut output = output;
        // Resolved again after a blocking wait: a token revoked meanwhile sees nothing.
        let mut results_filtered = false;
        if let Some(id) = self.identity_on_server(c, caller, hops).await? {
            let key_list = self.acl_settings().enable_key_list_policy;
            results_filtered =
                acl::filter(&id, &q.query, &mut output.result, key_list)? && !id.is_anonymous();
        }
        if let Some(near) = q.near.as_deref().filter(|n| !n.is_empty()) {
            store.sort_by_near(&mut output.result, near);
        }
        let last_contact_ms = c.last_contact().map(|d| d.as_millis() as u64).unwrap_or(0);
        Ok(Response::Query(QueryResponse {
            output,
            known_leader: c.leader().is_some(),
            last_contact_ms,
            consistency: q.consistency,
            results_filtered,
        }))
    }

    async fn forward_to_leader(
        &self,
        c: &Consensus,
        caller: &Caller,
        req: Request,
        hops: u32,
    ) -> Result<Response, RpcError> {
        let deadline = Instant::now() + RPC_HOLD_TIMEOUT;
        loop {
            match c.leader() {
                Some((id, node)) if id != c.node_id() => {
                    let timeout = match &req {
                        Request::Query(q) if q.min_index > 0 => {
                            blocking_wait(q.wait_ms) + RPC_MARGIN
                        }
                        _ => RPC_MARGIN,
                    };
                    return self
                        .forward_to(
                            caller,
                            &node.rpc_addr,
                            None,
                            req,
                            hops.saturating_add(1),
                            timeout,
                        )
                        .await;
                }
                Some(_) => return Box::pin(self.handle_on_server(c, caller, req, hops)).await,
                None if Instant::now() >= deadline => return Err(RpcError::NoLeader),
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn forward_to_any_server(
        &self,
        caller: &Caller,
        dc: Option<&str>,
        req: Request,
    ) -> Result<Response, RpcError> {
        let servers = self.servers();
        if servers.is_empty() {
            return Err(RpcError::NoServers);
        }
        let timeout = call_timeout(&req);
        let start = self.inner.preferred.load(Ordering::Relaxed);
        let mut last_err = RpcError::NoServers;
        for i in 0..servers.len() {
            let s = &servers[(start + i) % servers.len()];
            match self
                .forward_to(caller, &s.rpc_addr.to_string(), dc, req.clone(), 1, timeout)
                .await
            {
                Err(RpcError::Transport(e)) => {
                    tracing::warn!(server = %s.name, error = %e, "server unreachable, trying another");
                    self.inner
                        .preferred
                        .store((start + i + 1) % servers.len(), Ordering::Relaxed);
                    last_err = RpcError::Transport(e);
                }
                Err(e) => return Err(RpcError::Forwarded(Box::new(e))),
                ok => return ok,
            }
        }
        Err(last_err)
    }

    fn client_for(
        &self,
        addr: SocketAddr,
        target_dc: &str,
    ) -> Result<RpcClient<Channel>, RpcError> {
        let mut pool = self
            .inner
            .pool
            .lock()
            .map_err(|_| RpcError::Internal("rpc pool poisoned".into()))?;
        if let Some(c) = pool.get(&addr) {
            return Ok(c.clone());
        }
        // Another datacenter must fail fast when it is down.
        let (connect, keepalive) = if target_dc != self.inner.datacenter {
            (CROSS_DC_CONNECT_TIMEOUT, CROSS_DC_KEEPALIVE)
        } else {
            (LOCAL_CONNECT_TIMEOUT, LOCAL_KEEPALIVE)
        };
        let tls = self.tls();
        let ch = praetor_tls::grpc_channel(tls.as_ref(), addr, target_dc, connect, Some(keepalive));
        let c = RpcClient::new(ch)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        pool.insert(addr, c.clone());
        Ok(c)
    }

    /// Sends one request to one server and decodes its answer.
    async fn forward_to(
        &self,
        caller: &Caller,
        addr: &str,
        dc: Option<&str>,
        req: Request,
        hops: u32,
        timeout: Duration,
    ) -> Result<Response, RpcError> {
        if hops > MAX_HOPS {
            return Err(RpcError::Internal("too many forwarding hops".into()));
        }
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| RpcError::Internal(format!("bad server address {addr}")))?;
        let body = postcard::to_allocvec(&req).map_err(|e| RpcError::Internal(e.to_string()))?;
        // A request for another datacenter sent by a server goes to a server of that
        // datacenter (its certificate is checked for it); everything else stays local.
        let target_dc = match dc {
            Some(d) if self.inner.consensus.is_some() => d,
            _ => self.inner.datacenter.as_str(),
        };
        let mut client = self.client_for(addr, target_dc)?;
        let mut call = tonic::Request::new(CallRequest {
            source_datacenter: self.inner.datacenter.clone(),
            hops,
            body: body.into(),
            datacenter: dc.unwrap_or_default().to_string(),
            token: self.wire_token(caller),
            format: FORMAT_VERSION,
        });
        call.set_timeout(timeout);
        self.inner
            .counters
            .calls_out
            .fetch_add(1, Ordering::Relaxed);
        let reply = client.call(call).await.map_err(|s| {
            self.inner
                .counters
                .call_errors
                .fetch_add(1, Ordering::Relaxed);
            match s.code() {
                // The server answered and refused us: trying another server will not help.
                tonic::Code::PermissionDenied | tonic::Code::InvalidArgument => {
                    RpcError::Internal(s.message().to_string())
                }
                _ => RpcError::Transport(format!("{addr}: {}", s.message())),
            }
        })?;
        let reply = reply.into_inner();
        format::readable(reply.format).map_err(|e| RpcError::Internal(e.to_string()))?;
        let resp: Response =
            postcard::from_bytes(&reply.body).map_err(|e| RpcError::Internal(e.to_string()))?;
        match resp {
            Response::Error(e) => Err(e),
            r => Ok(r),
        }
    }
}

/// How long a forwarded call may take: a blocking read its wait plus a margin, anything else
/// the leader hold time plus a margin.
/// What a prepared-query execute asks for.
struct Execute<'a> {
    name: &'a str,
    near: Option<&'a str>,
    limit: usize,
    /// Answer the connect set instead of the instances.
    connect: bool,
}

fn call_timeout(req: &Request) -> Duration {
    match req {
        Request::Query(q) if q.min_index > 0 => blocking_wait(q.wait_ms) + RPC_MARGIN,
        _ => RPC_MARGIN + RPC_HOLD_TIMEOUT,
    }
}

struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Consul's blocking wait: default 5 min, capped at 10 min, plus up to wait/16 of jitter.
fn blocking_wait(wait_ms: u64) -> Duration {
    let wait = if wait_ms == 0 {
        DEFAULT_WAIT
    } else {
        Duration::from_millis(wait_ms).min(MAX_WAIT)
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = wait / 16 * (nanos % 1000) / 1000;
    wait + jitter
}

/// The raft id rendered as Consul shows node IDs.
pub fn raft_id_string(id: u64) -> String {
    format!("{id:016x}")
}

fn consensus_err(e: ConsensusError) -> RpcError {
    match e {
        ConsensusError::NoLeader | ConsensusError::ForwardToLeader(None) => RpcError::NoLeader,
        e => RpcError::Internal(e.to_string()),
    }
}

fn unexpected(r: &Response) -> RpcError {
    RpcError::Internal(format!("unexpected rpc response: {r:?}"))
}

/// The incoming side of `Call`.
pub struct RpcService {
    rpc: Rpc,
}

#[tonic::async_trait]
impl RpcSvc for RpcService {
    async fn call(
        &self,
        request: tonic::Request<CallRequest>,
    ) -> Result<tonic::Response<CallReply>, tonic::Status> {
        let peer = request.extensions().get::<praetor_tls::PeerInfo>().cloned();
        let call = request.into_inner();
        if let (Some(tls), Some(peer)) = (self.rpc.tls(), peer) {
            authorize(&tls, &peer, &call, &self.rpc.inner.datacenter)?;
        }
        self.rpc
            .inner
            .counters
            .calls_in
            .fetch_add(1, Ordering::Relaxed);
        // A hop count is a number from the network: past the limit the request is refused
        // here, so every `hops.saturating_add(1)` below stays small.
        if call.hops > MAX_HOPS {
            return Err(tonic::Status::invalid_argument(
                "too many forwarding hops".to_string(),
            ));
        }
        format::readable(call.format)
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let req: Request = postcard::from_bytes(&call.body)
            .map_err(|e| tonic::Status::invalid_argument(format!("malformed rpc request: {e}")))?;
        let dc = Some(call.datacenter.as_str()).filter(|d| !d.is_empty());
        // What arrives over the wire is never internal: it runs as the token it carries.
        let caller = Caller::Token(call.token);
        let resp = match &self.rpc.inner.consensus {
            Some(c) => {
                self.rpc
                    .route_on_server(c, &caller, dc, req, call.hops)
                    .await
            }
            None => Err(RpcError::Internal("not a server".into())),
        };
        let resp = resp.unwrap_or_else(Response::Error);
        let body =
            postcard::to_allocvec(&resp).map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(CallReply {
            body: body.into(),
            format: FORMAT_VERSION,
        }))
    }
}

/// Consul's rule with `verify_server_hostname`: a call from another datacenter must come from
/// a certificate for `server.<that dc>.<domain>` (a client certificate, or another
/// datacenter's server certificate, cannot act as that datacenter's server). Calls from this
/// datacenter's client agents are accepted with any certificate the TLS layer verified.
#[allow(clippy::result_large_err)]
fn authorize(
    tls: &praetor_tls::RpcTls,
    peer: &praetor_tls::PeerInfo,
    call: &CallRequest,
    local_dc: &str,
) -> Result<(), tonic::Status> {
    if !tls.verify_server_hostname() {
        return Ok(());
    }
    let source = call.source_datacenter.as_str();
    if source.is_empty() || source == local_dc {
        return Ok(());
    }
    if peer.is_server_of(source, tls.domain()) {
        return Ok(());
    }
    tracing::warn!(remote = %peer.remote, source_dc = source, "refusing RPC: not a server certificate of the calling datacenter");
    Err(tonic::Status::permission_denied(format!(
        "certificate is not valid for {}",
        tls.server_name(source)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_capped_and_jittered() {
        assert!(blocking_wait(0) >= DEFAULT_WAIT);
        assert!(blocking_wait(0) <= DEFAULT_WAIT + DEFAULT_WAIT / 16);
        assert!(blocking_wait(3_600_000) <= MAX_WAIT + MAX_WAIT / 16);
        assert!(blocking_wait(1000) >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn client_without_servers_and_wrapped_errors() {
        // A client agent with no server known cannot route anywhere.
        let rpc = Rpc::client("dc1");
        let err = rpc
            .call(Some("dc2"), Request::RaftConfiguration)
            .await
            .unwrap_err();
        assert_eq!(err, RpcError::NoServers);
        let wrapped = RpcError::Forwarded(Box::new(RpcError::NoPathToDatacenter));
        assert_eq!(
            wrapped.to_string(),
            "rpc error making call: No path to datacenter"
        );
        assert_eq!(wrapped.root(), &RpcError::NoPathToDatacenter);
    }
}
