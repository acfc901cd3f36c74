//! `/v1/acl/*` and `/v1/agent/token/<kind>`: Consul's ACL HTTP API. Bodies are decoded with
//! unknown fields refused (as Consul does for ACL objects); objects are answered in Consul's
//! JSON (field order and `omitempty` as `api/acl.go`). The answering server checks `acl:read` /
//! `acl:write` and hides secrets; here are the request rules that need no state.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use praetor_acl::builtin;
use praetor_rpc::{Caller, QueryRequest};
use praetor_state::{
    AclLink, AclNodeIdentity, AclPolicy, AclRole, AclServiceIdentity, AclTemplatedPolicy, AclToken,
    AclTokenFilter, Command, CommandResult, Query as Q, QueryResult,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::decode::{Unknown, from_slice};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, query_headers};
use crate::{AppState, now_ms};

/// The ACL routes, merged into the API's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/acl/bootstrap", put(bootstrap))
        .route("/v1/acl/replication", get(replication))
        .route("/v1/acl/token", put(token_create))
        .route("/v1/acl/token/self", get(token_self))
        .route(
            "/v1/acl/token/{id}",
            get(token_read).put(token_update).delete(token_delete),
        )
        .route("/v1/acl/token/{id}/clone", put(token_clone))
        .route("/v1/acl/tokens", get(token_list))
        .route("/v1/acl/policy", put(policy_create))
        .route(
            "/v1/acl/policy/{id}",
            get(policy_read).put(policy_update).delete(policy_delete),
        )
        .route("/v1/acl/policy/name/{name}", get(policy_read_by_name))
        .route("/v1/acl/policies", get(policy_list))
        .route("/v1/acl/role", put(role_create))
        .route(
            "/v1/acl/role/{id}",
            get(role_read).put(role_update).delete(role_delete),
        )
        .route("/v1/acl/role/name/{name}", get(role_read_by_name))
        .route("/v1/acl/roles", get(role_list))
        .route("/v1/acl/templated-policies", get(templated_list))
        .route("/v1/acl/templated-policy/name/{name}", get(templated_read))
        .route(
            "/v1/acl/templated-policy/preview/{name}",
            post(templated_preview),
        )
        .route("/v1/agent/token/{kind}", put(agent_token))
}

// === JSON ===

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Link {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ServiceIdentityJson {
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(rename = "Datacenters", skip_serializing_if = "Vec::is_empty")]
    datacenters: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct NodeIdentityJson {
    #[serde(rename = "NodeName")]
    node_name: String,
    #[serde(rename = "Datacenter")]
    datacenter: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct TemplateVariablesJson {
    #[serde(rename = "Name")]
    name: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct TemplatedPolicyJson {
    #[serde(rename = "TemplateName")]
    template_name: String,
    #[serde(rename = "TemplateVariables", skip_serializing_if = "Option::is_none")]
    template_variables: Option<TemplateVariablesJson>,
    #[serde(rename = "Datacenters", skip_serializing_if = "Vec::is_empty")]
    datacenters: Vec<String>,
}

/// A token as Consul shows it (`api.ACLToken`), and as it is written (the output-only fields
/// are ignored on input).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct TokenJson {
    #[serde(rename = "AccessorID")]
    accessor_id: String,
    #[serde(rename = "SecretID")]
    secret_id: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "Policies", skip_serializing_if = "Vec::is_empty")]
    policies: Vec<Link>,
    #[serde(rename = "Roles", skip_serializing_if = "Vec::is_empty")]
    roles: Vec<Link>,
    #[serde(rename = "ServiceIdentities", skip_serializing_if = "Vec::is_empty")]
    service_identities: Vec<ServiceIdentityJson>,
    #[serde(rename = "NodeIdentities", skip_serializing_if = "Vec::is_empty")]
    node_identities: Vec<NodeIdentityJson>,
    #[serde(rename = "TemplatedPolicies", skip_serializing_if = "Vec::is_empty")]
    templated_policies: Vec<TemplatedPolicyJson>,
    #[serde(rename = "Local")]
    local: bool,
    #[serde(rename = "AuthMethod", skip_serializing_if = "String::is_empty")]
    auth_method: String,
    #[serde(rename = "ExpirationTime", skip_serializing_if = "Option::is_none")]
    expiration_time: Option<String>,
    #[serde(rename = "ExpirationTTL", skip_serializing)]
    expiration_ttl: Option<Value>,
    #[serde(rename = "CreateTime")]
    create_time: String,
    #[serde(rename = "Hash")]
    hash: String,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
    // Accepted and ignored on input, as Consul's decoder knows them.
    #[serde(rename = "Namespace", skip_serializing)]
    namespace: String,
    #[serde(rename = "Partition", skip_serializing)]
    partition: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct PolicyJson {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "Rules", skip_serializing_if = "Option::is_none")]
    rules: Option<String>,
    #[serde(rename = "Datacenters", skip_serializing_if = "Vec::is_empty")]
    datacenters: Vec<String>,
    #[serde(rename = "Hash")]
    hash: String,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
    #[serde(rename = "Namespace", skip_serializing)]
    namespace: String,
    #[serde(rename = "Partition", skip_serializing)]
    partition: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct RoleJson {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "Policies", skip_serializing_if = "Vec::is_empty")]
    policies: Vec<Link>,
    #[serde(rename = "ServiceIdentities", skip_serializing_if = "Vec::is_empty")]
    service_identities: Vec<ServiceIdentityJson>,
    #[serde(rename = "NodeIdentities", skip_serializing_if = "Vec::is_empty")]
    node_identities: Vec<NodeIdentityJson>,
    #[serde(rename = "TemplatedPolicies", skip_serializing_if = "Vec::is_empty")]
    templated_policies: Vec<TemplatedPolicyJson>,
    #[serde(rename = "Hash")]
    hash: String,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
    #[serde(rename = "Namespace", skip_serializing)]
    namespace: String,
    #[serde(rename = "Partition", skip_serializing)]
    partition: String,
}

/// RFC 3339 with nanoseconds, as Go prints a `time.Time` in JSON.
fn go_time(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    t.format(&f).unwrap_or_default()
}

fn parse_time(s: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn b64(h: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

fn links_out(l: &[AclLink]) -> Vec<Link> {
    l.iter()
        .map(|l| Link {
            id: l.id.clone(),
            name: l.name.clone(),
        })
        .collect()
}

fn links_in(l: Vec<Link>) -> Vec<AclLink> {
    l.into_iter()
        .map(|l| AclLink {
            id: l.id,
            name: l.name,
        })
        .collect()
}

fn services_out(s: &[AclServiceIdentity]) -> Vec<ServiceIdentityJson> {
    s.iter()
        .map(|s| ServiceIdentityJson {
            service_name: s.service_name.clone(),
            datacenters: s.datacenters.clone(),
        })
        .collect()
}

fn nodes_out(n: &[AclNodeIdentity]) -> Vec<NodeIdentityJson> {
    n.iter()
        .map(|n| NodeIdentityJson {
            node_name: n.node_name.clone(),
            datacenter: n.datacenter.clone(),
        })
        .collect()
}

fn templates_out(t: &[AclTemplatedPolicy]) -> Vec<TemplatedPolicyJson> {
    t.iter()
        .map(|t| TemplatedPolicyJson {
            template_name: t.template_name.clone(),
            template_variables: t.name.clone().map(|name| TemplateVariablesJson { name }),
            datacenters: t.datacenters.clone(),
        })
        .collect()
}

fn token_json(t: &AclToken) -> TokenJson {
    TokenJson {
        accessor_id: t.accessor_id.clone(),
        secret_id: t.secret_id.clone(),
        description: t.description.clone(),
        policies: links_out(&t.policies),
        roles: links_out(&t.roles),
        service_identities: services_out(&t.service_identities),
        node_identities: nodes_out(&t.node_identities),
        templated_policies: templates_out(&t.templated_policies),
        local: t.local,
        auth_method: t.auth_method.clone(),
        expiration_time: t.expiration_time_ms.map(go_time),
        create_time: go_time(t.create_time_ms),
        hash: b64(&t.hash),
        create_index: t.create_index,
        modify_index: t.modify_index,
        ..TokenJson::default()
    }
}

fn policy_json(p: &AclPolicy, with_rules: bool) -> PolicyJson {
    PolicyJson {
        id: p.id.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        rules: with_rules.then(|| p.rules.clone()),
        datacenters: p.datacenters.clone(),
        hash: b64(&p.hash),
        create_index: p.create_index,
        modify_index: p.modify_index,
        ..PolicyJson::default()
    }
}

fn role_json(r: &AclRole) -> RoleJson {
    RoleJson {
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        policies: links_out(&r.policies),
        service_identities: services_out(&r.service_identities),
        node_identities: nodes_out(&r.node_identities),
        templated_policies: templates_out(&r.templated_policies),
        hash: b64(&r.hash),
        create_index: r.create_index,
        modify_index: r.modify_index,
        ..RoleJson::default()
    }
}

// === shared rules ===

/// 401 `ACL support disabled` when this agent has ACLs off.
fn enabled(st: &AppState) -> ApiResult<()> {
    if st.rpc.inner().acl_settings().enabled {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(builtin::ERR_DISABLED.into()))
    }
}

fn body<T: serde::de::DeserializeOwned + Default>(body: &[u8], what: &str) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    from_slice(body, Unknown::Reject)
        .map_err(|e| ApiError::BadRequest(format!("{what} decoding failed: {e}")))
}

/// A command's answer: 403 for a denial, 404 for a missing object, 500 with Consul's text for
/// a rule (Consul answers its validation errors with 500).
fn applied(r: CommandResult) -> ApiResult<()> {
    match r {
        CommandResult::Ok | CommandResult::Bool(true) => Ok(()),
        CommandResult::Denied(e) => Err(ApiError::Forbidden(e)),
        CommandResult::NotFound(e) => Err(ApiError::NotFound(e)),
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        other => Err(ApiError::unexpected_result(&other)),
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An optional caller-chosen ID: a UUID outside the reserved range.
fn check_id(kind: &str, field: &str, id: &str) -> ApiResult<()> {
    if id.is_empty() {
        return Ok(());
    }
    if !praetor_state::is_uuid(id) {
        return Err(ApiError::BadRequest(format!(
            "Invalid {kind}: {field} - not a valid UUID"
        )));
    }
    if builtin::is_reserved_id(id) {
        return Err(ApiError::BadRequest(format!(
            "Invalid {kind}: {field} - UUIDs with the prefix {:?} are reserved",
            builtin::RESERVED_ID_PREFIX
        )));
    }
    Ok(())
}

fn identities_in(
    owner: praetor_acl::IdentityOwner,
    local: bool,
    services: Vec<ServiceIdentityJson>,
    nodes: Vec<NodeIdentityJson>,
    templates: Vec<TemplatedPolicyJson>,
) -> ApiResult<(
    Vec<AclServiceIdentity>,
    Vec<AclNodeIdentity>,
    Vec<AclTemplatedPolicy>,
)> {
    let bad = |e: &dyn std::fmt::Display| ApiError::BadRequest(e.to_string());
    let mut out_s = Vec::new();
    for s in services {
        praetor_acl::ServiceIdentity {
            service_name: s.service_name.clone(),
            datacenters: s.datacenters.clone(),
        }
        .validate(owner, local)
        .map_err(|e| bad(&e))?;
        out_s.push(AclServiceIdentity {
            service_name: s.service_name,
            datacenters: s.datacenters,
        });
    }
    let mut out_n = Vec::new();
    for n in nodes {
        praetor_acl::NodeIdentity {
            node_name: n.node_name.clone(),
            datacenter: n.datacenter.clone(),
        }
        .validate(owner)
        .map_err(|e| bad(&e))?;
        out_n.push(AclNodeIdentity {
            node_name: n.node_name,
            datacenter: n.datacenter,
        });
    }
    let mut out_t = Vec::new();
    for t in templates {
        let vars = t
            .template_variables
            .map(|v| praetor_acl::TemplateVariables { name: v.name });
        praetor_acl::validate_templated_policy(&t.template_name, vars.as_ref())
            .map_err(|e| bad(&e))?;
        out_t.push(AclTemplatedPolicy {
            template_name: t.template_name,
            name: vars.map(|v| v.name),
            datacenters: t.datacenters,
        });
    }
    Ok((out_s, out_n, out_t))
}

/// `ExpirationTTL`: a Go duration string or integer nanoseconds.
fn ttl_ms(v: &Value) -> ApiResult<u64> {
    match v {
        Value::String(s) => praetor_config::parse_duration(s)
            .map(|d| d.as_millis() as u64)
            .map_err(|e| {
                ApiError::BadRequest(format!("Token decoding failed: ExpirationTTL: {e}"))
            }),
        Value::Number(n) => n.as_u64().map(|ns| ns / 1_000_000).ok_or_else(|| {
            ApiError::BadRequest("Token decoding failed: ExpirationTTL: not a duration".into())
        }),
        _ => Err(ApiError::BadRequest(
            "Token decoding failed: ExpirationTTL: not a duration".into(),
        )),
    }
}

/// Consul's bounds on an expiration: at least a minute, at most 24 h ahead.
const MIN_EXPIRATION_MS: u64 = 60_000;
const MAX_EXPIRATION_MS: u64 = 24 * 3600 * 1000;

/// A token from a create or update body (links by ID or name; state fills the other half).
fn token_in(t: TokenJson, now: u64) -> ApiResult<AclToken> {
    check_id("Token", "AccessorID", &t.accessor_id)?;
    check_id("Token", "SecretID", &t.secret_id)?;
    if !t.auth_method.is_empty() {
        return Err(ApiError::Internal(
            "AuthMethod field is disallowed outside of login".into(),
        ));
    }
    let expiration = match (&t.expiration_ttl, &t.expiration_time) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Internal(
                "Token Expiration TTL and Expiration Time cannot both be set".into(),
            ));
        }
        (Some(ttl), None) => Some(now + ttl_ms(ttl)?),
        (None, Some(at)) => Some(parse_time(at).ok_or_else(|| {
            ApiError::BadRequest(format!("Token decoding failed: ExpirationTime {at:?}"))
        })?),
        (None, None) => None,
    };
    if let Some(at) = expiration {
        let ahead = at.saturating_sub(now);
        if ahead < MIN_EXPIRATION_MS {
            return Err(ApiError::Internal(format!(
                "ExpirationTime cannot be less than 1m0s in the future (was {}ms)",
                ahead
            )));
        }
        if ahead > MAX_EXPIRATION_MS {
            return Err(ApiError::Internal(
                "ExpirationTime cannot be more than 24h0m0s in the future".into(),
            ));
        }
    }
    let (service_identities, node_identities, templated_policies) = identities_in(
        praetor_acl::IdentityOwner::Token,
        t.local,
        t.service_identities,
        t.node_identities,
        t.templated_policies,
    )?;
    Ok(AclToken {
        accessor_id: t.accessor_id,
        secret_id: t.secret_id,
        description: t.description,
        policies: links_in(t.policies),
        roles: links_in(t.roles),
        service_identities,
        node_identities,
        templated_policies,
        local: t.local,
        expiration_time_ms: expiration,
        create_time_ms: now,
        ..AclToken::default()
    })
}

async fn read_tokens(st: &AppState, p: &Params, q: Q) -> ApiResult<(Vec<AclToken>, Response)> {
    let resp = st.rpc.query(p, p.dc(), p.query(q)?).await?;
    let headers = query_headers(&resp);
    match resp.output.result {
        QueryResult::AclTokens(t) => Ok((t, headers.into_response())),
        other => Err(ApiError::unexpected_result(&other)),
    }
}

/// A JSON body with the read's headers.
fn with_headers(head: Response, body: impl Serialize) -> Response {
    let (parts, _) = head.into_parts();
    (parts.headers, axum::Json(body)).into_response()
}

/// Where a write goes and its answer is read: the request's `?dc=`, else the primary for a
/// global object written in a secondary (the forwarding point sends it there anyway; reading
/// the answer there too shows the write before it is replicated back), else here.
fn write_dc(st: &AppState, p: &Params, global: bool) -> Option<String> {
    if let Some(dc) = p.dc() {
        return Some(dc.to_string());
    }
    let s = st.rpc.inner().acl_settings();
    (global
        && s.enabled
        && !s.primary_datacenter.is_empty()
        && s.primary_datacenter != st.rpc.datacenter())
    .then_some(s.primary_datacenter)
}

// === bootstrap and replication ===

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BootstrapBody {
    #[serde(rename = "BootstrapSecret")]
    bootstrap_secret: String,
}

/// `PUT /v1/acl/bootstrap`: the first management token, once.
async fn bootstrap(State(st): State<AppState>, p: Params, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let b: BootstrapBody = if raw.iter().all(u8::is_ascii_whitespace) {
        BootstrapBody::default()
    } else {
        from_slice(&raw, Unknown::Ignore)
            .map_err(|e| ApiError::BadRequest(format!("Request decoding failed: {e}")))?
    };
    let secret: String = if b.bootstrap_secret.is_empty() {
        new_id()
    } else {
        check_id("Token", "SecretID", &b.bootstrap_secret)?;
        b.bootstrap_secret
    };
    let accessor = new_id();
    let token = AclToken {
        accessor_id: accessor.clone(),
        secret_id: secret.clone(),
        description: "Bootstrap Token (Global Management)".into(),
        policies: vec![AclLink {
            id: builtin::GLOBAL_MANAGEMENT_POLICY_ID.into(),
            name: String::new(),
        }],
        create_time_ms: now_ms(),
        ..AclToken::default()
    };
    let dc = write_dc(&st, &p, true);
    applied(
        st.rpc
            .apply(
                &p,
                dc.as_deref(),
                Command::AclBootstrap {
                    token,
                    reset_index: 0,
                },
            )
            .await?,
    )?;
    tracing::info!("ACL bootstrap completed");
    // Read back as the new token itself (the request had none).
    let mut q = QueryRequest::new(Q::AclTokenGet {
        accessor_id: accessor,
    });
    q.consistency = praetor_rpc::Consistency::Default;
    let resp = st
        .rpc
        .inner()
        .query_as(&Caller::Token(secret), dc.as_deref(), q)
        .await?;
    let tokens = match resp.output.result {
        QueryResult::AclTokens(t) => t,
        other => return Err(ApiError::unexpected_result(&other)),
    };
    let t = tokens
        .first()
        .ok_or_else(|| ApiError::Internal("bootstrap token not found after write".into()))?;
    let mut v = serde_json::to_value(token_json(t)).unwrap_or_default();
    if let Value::Object(m) = &mut v {
        m.insert("ID".into(), json!(t.secret_id));
    }
    Ok(axum::Json(v).into_response())
}

/// `GET /v1/acl/replication`, answered by this agent.
async fn replication(State(st): State<AppState>) -> ApiResult<Response> {
    enabled(&st)?;
    let s = st.rpc.inner().replication_status();
    let time = |ms: u64| {
        if ms == 0 {
            "0001-01-01T00:00:00Z".to_string()
        } else {
            go_time(ms)
        }
    };
    Ok(axum::Json(json!({
        "Enabled": s.enabled,
        "Running": s.running,
        "SourceDatacenter": s.source_datacenter,
        "ReplicationType": s.replication_type,
        "ReplicatedIndex": s.replicated_index,
        "ReplicatedRoleIndex": s.replicated_role_index,
        "ReplicatedTokenIndex": s.replicated_token_index,
        "LastSuccess": time(s.last_success_ms),
        "LastError": time(s.last_error_ms),
        "LastErrorMessage": s.last_error_message,
    }))
    .into_response())
}

// === tokens ===

async fn token_create(State(st): State<AppState>, p: Params, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let mut t = token_in(body(&raw, "Token")?, now_ms())?;
    if t.accessor_id.is_empty() {
        t.accessor_id = new_id();
    }
    if t.secret_id.is_empty() {
        t.secret_id = new_id();
    }
    let accessor = t.accessor_id.clone();
    let dc = write_dc(&st, &p, !t.local);
    applied(
        st.rpc
            .apply(
                &p,
                dc.as_deref(),
                Command::AclTokenSet {
                    token: t,
                    create: true,
                },
            )
            .await?,
    )?;
    read_one_token(&st, &p, dc.as_deref(), accessor).await
}

async fn read_one_token(
    st: &AppState,
    p: &Params,
    dc: Option<&str>,
    accessor: String,
) -> ApiResult<Response> {
    let mut q = p.query(Q::AclTokenGet {
        accessor_id: accessor,
    })?;
    // A write's answer must show the write: read at the leader of the written datacenter.
    q.consistency = praetor_rpc::Consistency::Default;
    q.min_index = 0;
    let resp = st.rpc.query(p, dc, q).await?;
    let headers = query_headers(&resp);
    match resp.output.result {
        QueryResult::AclTokens(t) => match t.first() {
            Some(t) => Ok((headers, axum::Json(token_json(t))).into_response()),
            None => Err(ApiError::Forbidden(format!(
                "token does not exist: {}",
                builtin::ERR_NOT_FOUND
            ))),
        },
        other => Err(ApiError::unexpected_result(&other)),
    }
}

async fn token_read(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    if id.is_empty() {
        return Err(ApiError::BadRequest("Missing token AccessorID".into()));
    }
    let (t, head) = read_tokens(&st, &p, Q::AclTokenGet { accessor_id: id }).await?;
    match t.first() {
        Some(t) => Ok(with_headers(head, token_json(t))),
        None => Err(ApiError::Forbidden(format!(
            "token does not exist: {}",
            builtin::ERR_NOT_FOUND
        ))),
    }
}

/// `GET /v1/acl/token/self`: the request's own token, secret included.
async fn token_self(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    enabled(&st)?;
    let secret = st.rpc.secret(&p);
    if secret.is_empty() {
        return Err(ApiError::Forbidden(builtin::ERR_NOT_FOUND.into()));
    }
    let (t, head) = read_tokens(
        &st,
        &p,
        Q::AclTokenBySecret {
            secret_id: secret.clone(),
        },
    )
    .await?;
    match t.into_iter().next() {
        Some(mut t) => {
            t.secret_id = secret;
            Ok(with_headers(head, token_json(&t)))
        }
        None => Err(ApiError::Forbidden(builtin::ERR_NOT_FOUND.into())),
    }
}

async fn token_update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    let j: TokenJson = body(&raw, "Token")?;
    if !j.accessor_id.is_empty() && j.accessor_id != id {
        return Err(ApiError::BadRequest(
            "Token Accessor ID in URL and payload do not match".into(),
        ));
    }
    let mut t = token_in(j, now_ms())?;
    t.accessor_id = id.clone();
    let dc = write_dc(&st, &p, !t.local);
    applied(
        st.rpc
            .apply(
                &p,
                dc.as_deref(),
                Command::AclTokenSet {
                    token: t,
                    create: false,
                },
            )
            .await?,
    )?;
    read_one_token(&st, &p, dc.as_deref(), id).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CloneBody {
    #[serde(rename = "Description")]
    description: String,
}

async fn token_clone(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    let c: CloneBody = body(&raw, "Token")?;
    let (t, _) = read_tokens(&st, &p, Q::AclTokenGet { accessor_id: id }).await?;
    let Some(src) = t.into_iter().next() else {
        return Err(ApiError::Internal(
            "Cannot clone nonexistent token".to_string(),
        ));
    };
    if !src.auth_method.is_empty() {
        return Err(ApiError::Internal(
            "Cannot clone a token created from an auth method".into(),
        ));
    }
    let token = AclToken {
        accessor_id: new_id(),
        secret_id: new_id(),
        description: if c.description.is_empty() {
            src.description.clone()
        } else {
            c.description
        },
        create_time_ms: now_ms(),
        hash: Vec::new(),
        create_index: 0,
        modify_index: 0,
        ..src
    };
    let accessor = token.accessor_id.clone();
    let dc = write_dc(&st, &p, !token.local);
    applied(
        st.rpc
            .apply(
                &p,
                dc.as_deref(),
                Command::AclTokenSet {
                    token,
                    create: true,
                },
            )
            .await?,
    )?;
    read_one_token(&st, &p, dc.as_deref(), accessor).await
}

async fn token_delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    if !praetor_state::is_uuid(&id) {
        return Err(ApiError::BadRequest(
            "Accessor ID is missing or an invalid UUID".into(),
        ));
    }
    let who = st.rpc.identity(&p).await?;
    if who.accessor_id == id {
        return Err(ApiError::Internal(
            "Deletion of the request's authorization token is not permitted".into(),
        ));
    }
    applied(
        st.rpc
            .apply(&p, p.dc(), Command::AclTokenDelete { accessor_id: id })
            .await?,
    )?;
    Ok(axum::Json(true).into_response())
}

async fn token_list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    enabled(&st)?;
    let pick = |k: &str| p.get(k).filter(|v| !v.is_empty()).map(String::from);
    let filter = AclTokenFilter {
        policy: pick("policy"),
        role: pick("role"),
        auth_method: pick("authmethod"),
        service_name: pick("servicename"),
    };
    let set = [
        &filter.policy,
        &filter.role,
        &filter.auth_method,
        &filter.service_name,
    ]
    .iter()
    .filter(|f| f.is_some())
    .count();
    if set > 1 {
        return Err(ApiError::Internal(
            "can only filter by one of policy, role, serviceName, or methodName at a time".into(),
        ));
    }
    let (tokens, head) = read_tokens(&st, &p, Q::AclTokenList { filter }).await?;
    let now = now_ms();
    let out: Vec<TokenJson> = tokens
        .iter()
        .filter(|t| !t.is_expired(now))
        .map(token_json)
        .collect();
    Ok(with_headers(head, out))
}

// === policies ===

fn policy_in(j: PolicyJson) -> ApiResult<AclPolicy> {
    praetor_acl::validate_policy_name(&j.name).map_err(|e| {
        if j.name.is_empty() {
            ApiError::Internal("Invalid Policy: no Name is set".into())
        } else {
            ApiError::Internal(format!("Invalid Policy: {e}"))
        }
    })?;
    let rules = j.rules.unwrap_or_default();
    // A malformed policy is refused before anything is stored (Consul answers 500; a client
    // error is a 400 here).
    praetor_acl::parse_rules(&rules).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(AclPolicy {
        id: j.id,
        name: j.name,
        description: j.description,
        rules,
        datacenters: j.datacenters,
        ..AclPolicy::default()
    })
}

async fn policy_create(State(st): State<AppState>, p: Params, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let j: PolicyJson = body(&raw, "Policy")?;
    if !j.id.is_empty() {
        return Err(ApiError::BadRequest(
            "Cannot specify the ID when creating a new policy".into(),
        ));
    }
    let mut policy = policy_in(j)?;
    policy.id = new_id();
    let id = policy.id.clone();
    let dc = write_dc(&st, &p, true);
    applied(
        st.rpc
            .apply(
                &p,
                dc.as_deref(),
                Command::AclPolicySet {
                    policy,
                    create: true,
                },
            )
            .await?,
    )?;
    read_policy(&st, &p, dc.as_deref(), Some(id), None, true).await
}

async fn read_policy(
    st: &AppState,
    p: &Params,
    dc: Option<&str>,
    id: Option<String>,
    name: Option<String>,
    after_write: bool,
) -> ApiResult<Response> {
    let mut q = p.query(Q::AclPolicies { id, name })?;
    if after_write {
        q.consistency = praetor_rpc::Consistency::Default;
        q.min_index = 0;
    }
    let resp = st.rpc.query(p, dc, q).await?;
    let headers = query_headers(&resp);
    match resp.output.result {
        QueryResult::AclPolicies(v) => match v.first() {
            Some(x) => Ok((headers, axum::Json(policy_json(x, true))).into_response()),
            None => Ok((
                StatusCode::NOT_FOUND,
                headers,
                format!(
                    "Requested policy does not exist: {}",
                    builtin::ERR_NOT_FOUND
                ),
            )
                .into_response()),
        },
        other => Err(ApiError::unexpected_result(&other)),
    }
}

async fn policy_read(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    if id.is_empty() {
        return Err(ApiError::BadRequest("Missing policy ID".into()));
    }
    read_policy(&st, &p, p.dc(), Some(id), None, false).await
}

async fn policy_read_by_name(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    if name.is_empty() {
        return Err(ApiError::BadRequest("Missing policy Name".into()));
    }
    read_policy(&st, &p, p.dc(), None, Some(name), false).await
}

async fn policy_update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    let j: PolicyJson = body(&raw, "Policy")?;
    if !j.id.is_empty() && j.id != id {
        return Err(ApiError::BadRequest(
            "Policy ID in URL and payload do not match".into(),
        ));
    }
    let mut policy = policy_in(j)?;
    policy.id = id.clone();
    let dc = write_dc(&st, &p, true);
    applied(
        st.rpc
            .apply(
                &p,
                dc.as_deref(),
                Command::AclPolicySet {
                    policy,
                    create: false,
                },
            )
            .await?,
    )?;
    read_policy(&st, &p, dc.as_deref(), Some(id), None, true).await
}

async fn policy_delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    applied(
        st.rpc
            .apply(
                &p,
                write_dc(&st, &p, true).as_deref(),
                Command::AclPolicyDelete { id },
            )
            .await?,
    )?;
    Ok(axum::Json(true).into_response())
}

async fn policy_list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    enabled(&st)?;
    let resp = st
        .rpc
        .query(
            &p,
            p.dc(),
            p.query(Q::AclPolicies {
                id: None,
                name: None,
            })?,
        )
        .await?;
    let headers = query_headers(&resp);
    match resp.output.result {
        QueryResult::AclPolicies(v) => Ok((
            headers,
            axum::Json(v.iter().map(|x| policy_json(x, false)).collect::<Vec<_>>()),
        )
            .into_response()),
        other => Err(ApiError::unexpected_result(&other)),
    }
}

// === roles ===

fn role_in(j: RoleJson) -> ApiResult<AclRole> {
    if j.name.is_empty() {
        return Err(ApiError::Internal("Invalid Role: no Name is set".into()));
    }
    praetor_acl::validate_role_name(&j.name)
        .map_err(|e| ApiError::Internal(format!("Invalid Role: {e}")))?;
    let (service_identities, node_identities, templated_policies) = identities_in(
        praetor_acl::IdentityOwner::Role,
        false,
        j.service_identities,
        j.node_identities,
        j.templated_policies,
    )?;
    Ok(AclRole {
        id: j.id,
        name: j.name,
        description: j.description,
        policies: links_in(j.policies),
        service_identities,
        node_identities,
        templated_policies,
        ..AclRole::default()
    })
}

async fn role_create(State(st): State<AppState>, p: Params, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let j: RoleJson = body(&raw, "Role")?;
    if !j.id.is_empty() {
        return Err(ApiError::BadRequest(
            "Cannot specify the ID when creating a new role".into(),
        ));
    }
    let mut role = role_in(j)?;
    role.id = new_id();
    let id = role.id.clone();
    let dc = write_dc(&st, &p, true);
    applied(
        st.rpc
            .apply(
                &p,
                dc.as_deref(),
                Command::AclRoleSet { role, create: true },
            )
            .await?,
    )?;
    read_role(&st, &p, dc.as_deref(), Some(id), None, true).await
}

async fn read_role(
    st: &AppState,
    p: &Params,
    dc: Option<&str>,
    id: Option<String>,
    name: Option<String>,
    after_write: bool,
) -> ApiResult<Response> {
    let mut q = p.query(Q::AclRoles {
        id,
        name,
        policy: None,
    })?;
    if after_write {
        q.consistency = praetor_rpc::Consistency::Default;
        q.min_index = 0;
    }
    let resp = st.rpc.query(p, dc, q).await?;
    let headers = query_headers(&resp);
    match resp.output.result {
        QueryResult::AclRoles(v) => match v.first() {
            Some(x) => Ok((headers, axum::Json(role_json(x))).into_response()),
            None => Ok((
                StatusCode::NOT_FOUND,
                headers,
                format!("Requested role does not exist: {}", builtin::ERR_NOT_FOUND),
            )
                .into_response()),
        },
        other => Err(ApiError::unexpected_result(&other)),
    }
}

async fn role_read(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    if id.is_empty() {
        return Err(ApiError::BadRequest("Missing role ID".into()));
    }
    read_role(&st, &p, p.dc(), Some(id), None, false).await
}

async fn role_read_by_name(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    if name.is_empty() {
        return Err(ApiError::BadRequest("Missing role Name".into()));
    }
    read_role(&st, &p, p.dc(), None, Some(name), false).await
}

async fn role_update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    let j: RoleJson = body(&raw, "Role")?;
    if !j.id.is_empty() && j.id != id {
        return Err(ApiError::BadRequest(
            "Role ID in URL and payload do not match".into(),
        ));
    }
    let mut role = role_in(j)?;
    role.id = id.clone();
    let dc = write_dc(&st, &p, true);
    applied(
        st.rpc
            .apply(
                &p,
                dc.as_deref(),
                Command::AclRoleSet {
                    role,
                    create: false,
                },
            )
            .await?,
    )?;
    read_role(&st, &p, dc.as_deref(), Some(id), None, true).await
}

async fn role_delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    applied(
        st.rpc
            .apply(
                &p,
                write_dc(&st, &p, true).as_deref(),
                Command::AclRoleDelete { id },
            )
            .await?,
    )?;
    Ok(axum::Json(true).into_response())
}

async fn role_list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    enabled(&st)?;
    let policy = p.get("policy").filter(|v| !v.is_empty()).map(String::from);
    let resp = st
        .rpc
        .query(
            &p,
            p.dc(),
            p.query(Q::AclRoles {
                id: None,
                name: None,
                policy,
            })?,
        )
        .await?;
    let headers = query_headers(&resp);
    match resp.output.result {
        QueryResult::AclRoles(v) => Ok((
            headers,
            axum::Json(v.iter().map(role_json).collect::<Vec<_>>()),
        )
            .into_response()),
        other => Err(ApiError::unexpected_result(&other)),
    }
}

// === templated policies ===

async fn acl_read(st: &AppState, p: &Params) -> ApiResult<()> {
    enabled(st)?;
    Ok(st.rpc.identity(p).await?.enforcer().acl_read_allowed()?)
}

fn templated_json(t: &praetor_acl::TemplatedPolicyInfo) -> Value {
    json!({
        "TemplateName": t.template_name,
        "Schema": t.schema,
        "Template": t.template,
        "Description": t.description,
    })
}

async fn templated_list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    acl_read(&st, &p).await?;
    let m: serde_json::Map<String, Value> = praetor_acl::templated_policies()
        .iter()
        .map(|t| (t.template_name.to_string(), templated_json(t)))
        .collect();
    Ok(axum::Json(m).into_response())
}

async fn templated_read(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    acl_read(&st, &p).await?;
    match praetor_acl::templated_policy(&name) {
        Some(t) => Ok(axum::Json(templated_json(t)).into_response()),
        None => Err(ApiError::BadRequest(format!(
            "Invalid templated policy Name: {name}"
        ))),
    }
}

async fn templated_preview(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    acl_read(&st, &p).await?;
    let vars: TemplateVariablesJson = body(&raw, "Templated policy variables")?;
    let t = praetor_acl::TemplatedPolicy {
        template_name: name,
        variables: Some(praetor_acl::TemplateVariables { name: vars.name }),
        datacenters: Vec::new(),
    };
    let s = t
        .synthetic_policy()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(axum::Json(json!({
        "ID": s.id,
        "Name": s.name,
        "Description": s.description,
        "Rules": s.rules,
    }))
    .into_response())
}

// === /v1/agent/token ===

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AgentTokenBody {
    #[serde(rename = "Token")]
    token: String,
}

/// `PUT /v1/agent/token/<kind>`: changes one of the agent's tokens.
async fn agent_token(
    State(st): State<AppState>,
    Path(kind): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    crate::agent::agent_write(&st, &p).await?;
    let b: AgentTokenBody = crate::json::decode(&raw)?;
    let t = b.token;
    let rpc = st.rpc.inner();
    match kind.as_str() {
        "default" | "acl_token" => rpc.update_agent_tokens(|x| x.default = t),
        "agent" | "acl_agent_token" => rpc.update_agent_tokens(|x| x.agent = t),
        "agent_recovery" | "agent_master" | "acl_agent_master_token" => {
            rpc.update_agent_tokens(|x| x.agent_recovery = t);
        }
        "replication" | "acl_replication_token" => rpc.update_agent_tokens(|x| x.replication = t),
        "config_file_service_registration" => {
            rpc.update_agent_tokens(|x| x.config_file_service_registration = t);
        }
        "dns" | "dns_token" => rpc.update_agent_tokens(|x| x.dns = t),
        other => return Err(ApiError::NotFound(format!("Token {other:?} is unknown"))),
    }
    st.agent.agent_tokens_changed()?;
    tracing::info!("Updated agent's ACL token");
    Ok(().into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_json_order_and_omitempty() {
        let t = AclToken {
            accessor_id: "a".into(),
            secret_id: "<hidden>".into(),
            create_time_ms: 1_700_000_000_123,
            ..AclToken::default()
        };
        let s = serde_json::to_string(&token_json(&t)).unwrap();
        assert_eq!(
            s,
            r#"{"AccessorID":"a","SecretID":"<hidden>","Description":"","Local":false,"CreateTime":"2023-11-14T22:13:20.123000000Z","Hash":"","CreateIndex":0,"ModifyIndex":0}"#
        );
    }

    #[test]
    fn unknown_fields_and_bad_ttl_are_400() {
        let e = body::<TokenJson>(br#"{"Bogus": 1}"#, "Token").unwrap_err();
        assert!(
            matches!(&e, ApiError::BadRequest(m) if m.starts_with("Token decoding failed: ")),
            "{e}"
        );
        let e = ttl_ms(&json!("forever")).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)));
        assert_eq!(ttl_ms(&json!("1h")).unwrap(), 3_600_000);
        assert_eq!(ttl_ms(&json!(60_000_000_000u64)).unwrap(), 60_000);
    }

    #[test]
    fn token_ids_and_expiry_rules() {
        let j = TokenJson {
            accessor_id: "not-a-uuid".into(),
            ..TokenJson::default()
        };
        assert!(token_in(j, 0).is_err());
        let j = TokenJson {
            accessor_id: "00000000-0000-0000-0000-000000000009".into(),
            ..TokenJson::default()
        };
        let e = token_in(j, 0).unwrap_err().to_string();
        assert!(e.contains("reserved"), "{e}");
        let j = TokenJson {
            expiration_ttl: Some(json!("10s")),
            ..TokenJson::default()
        };
        let e = token_in(j, 0).unwrap_err().to_string();
        assert!(
            e.starts_with("ExpirationTime cannot be less than 1m0s"),
            "{e}"
        );
        let j = TokenJson {
            expiration_ttl: Some(json!("2h")),
            ..TokenJson::default()
        };
        assert_eq!(
            token_in(j, 1000).unwrap().expiration_time_ms,
            Some(1000 + 7_200_000)
        );
    }

    #[test]
    fn malformed_rules_are_400_naming_the_rule() {
        let j = PolicyJson {
            name: "p".into(),
            rules: Some(r#"key_prefix "" { policy = "sometimes" }"#.into()),
            ..PolicyJson::default()
        };
        let e = policy_in(j).unwrap_err();
        assert!(
            matches!(&e, ApiError::BadRequest(m) if m.contains("Invalid key_prefix policy")),
            "{e}"
        );
    }
}
