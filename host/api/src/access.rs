//! Who a request runs as: [`ApiRpc`] sends every read and write with the request's secret
//! (or the agent's `default` token), so the answering server authorizes it; agent-local
//! endpoints ask [`ApiRpc::identity`] and check the permission themselves.

use praetor_rpc::{
    Caller, Identity, QueryRequest, QueryResponse, Request, Response, Rpc, RpcError,
};
use praetor_state::{Command, CommandResult};

use crate::params::Params;

/// The forwarding point as handlers see it: every call names the request it serves.
#[derive(Clone)]
pub struct ApiRpc(Rpc);

impl From<Rpc> for ApiRpc {
    fn from(rpc: Rpc) -> Self {
        ApiRpc(rpc)
    }
}

impl ApiRpc {
    /// The agent's forwarding point, for what is not a request's data (datacenter name,
    /// settings, tokens).
    pub fn inner(&self) -> &Rpc {
        &self.0
    }

    pub fn datacenter(&self) -> &str {
        self.0.datacenter()
    }

    /// The request's secret, else the agent's `default` token, else anonymous.
    pub fn caller(&self, p: &Params) -> Caller {
        Caller::Token(self.secret(p))
    }

    /// The secret a request acts with.
    pub fn secret(&self, p: &Params) -> String {
        match p.token() {
            Some(t) => t.to_string(),
            None => self.0.agent_tokens().default,
        }
    }

    /// Whom the request runs as (agent-local endpoints).
    pub async fn identity(&self, p: &Params) -> Result<Identity, RpcError> {
        self.0.resolve(&self.secret(p)).await
    }

    pub async fn call(
        &self,
        p: &Params,
        dc: Option<&str>,
        req: Request,
    ) -> Result<Response, RpcError> {
        self.0.call_as(&self.caller(p), dc, req).await
    }

    pub async fn query(
        &self,
        p: &Params,
        dc: Option<&str>,
        q: QueryRequest,
    ) -> Result<QueryResponse, RpcError> {
        self.0.query_as(&self.caller(p), dc, q).await
    }

    pub async fn apply(
        &self,
        p: &Params,
        dc: Option<&str>,
        cmd: Command,
    ) -> Result<CommandResult, RpcError> {
        self.0.apply_as(&self.caller(p), dc, cmd).await
    }
}
