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
        .route("/v1/acl/policy/name/{*name}", get(policy_read_by_name))
        .route("/v1/acl/policies", get(policy_list))
        .route("/v1/acl/role", put(role_create))
        .route(
            "/v1/acl/role/{id}",
            get(role_read).put(role_update).delete(role_delete),
        )
        .route("/v1/acl/role/name/{name}", get(role_read_by_name))
        .route("/v1/acl/roles", get(role_list))
        .route("/v1/acl/templated-policies", get(templated_list))
        .route("/v1/acl/templated-policy/name/{*name}", get(templated_read))
        .route(
            "/v1/acl/templated-policy/preview/{*name}",
            post(templated_preview),
        )
        .route("/v1/agent/token/{kind}", put(agent_token))
        .route("/v1/acl/auth-method", put(method_create))
        .route(
            "/v1/acl/auth-method/{name}",
            get(method_read).put(method_update).delete(method_delete),
        )
        .route("/v1/acl/auth-methods", get(method_list))
        .route("/v1/acl/binding-rule", put(rule_create))
        .route(
            "/v1/acl/binding-rule/{id}",
            get(rule_read).put(rule_update).delete(rule_delete),
        )
        .route("/v1/acl/binding-rules", get(rule_list))
        .route("/v1/acl/login", post(login))
        .route("/v1/acl/logout", post(logout))
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

/// RFC 3339 with nanoseconds, as Go prints a `time.Time` in JSON (`RFC3339Nano`: trailing
/// zeros of the fraction dropped, no fraction when it is zero; UTC).
fn go_time(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let mut s = t.format(&f).unwrap_or_default();
    let frac = format!("{:09}", t.nanosecond());
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    s.push('Z');
    s
}

/// Go's `Duration.String()` of a signed millisecond count (`1m0s`, `59.5s`, `-2s`).
fn go_duration(ms: i64) -> String {
    let d = praetor_config::format_duration(std::time::Duration::from_millis(ms.unsigned_abs()));
    if ms < 0 { format!("-{d}") } else { d }
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

/// Decodes an ACL body as Consul's `lib.DecodeJSON` does: unknown fields refused, and an empty
/// body is `EOF`; 400 `<what> decoding failed: <err>` (`Token`, `Policy`, `Role`...).
fn body<T: serde::de::DeserializeOwned>(raw: &[u8], what: &str) -> ApiResult<T> {
    body_or(raw, &format!("{what} decoding failed"))
}

/// [`body`] with the whole start of the 400's text (`Failed to decode request body`).
fn body_or<T: serde::de::DeserializeOwned>(raw: &[u8], prefix: &str) -> ApiResult<T> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(format!("{prefix}: EOF")));
    }
    from_slice(raw, Unknown::Reject).map_err(|e| ApiError::BadRequest(format!("{prefix}: {e}")))
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

/// An optional caller-chosen token AccessorID/SecretID: outside the reserved range (checked
/// first, as Consul's `validateTokenID` does) and a UUID. 500, as Consul's token writer.
fn check_token_id(field: &str, id: &str) -> ApiResult<()> {
    if id.is_empty() {
        return Ok(());
    }
    if builtin::is_reserved_id(id) {
        return Err(ApiError::Internal(format!(
            "Invalid Token: {field} - UUIDs with the prefix {:?} are reserved",
            builtin::RESERVED_ID_PREFIX
        )));
    }
    if !praetor_state::is_uuid(id) {
        return Err(ApiError::Internal(format!(
            "Invalid Token: {field} - not a valid UUID"
        )));
    }
    Ok(())
}

/// go-uuid's `ParseUUID` errors (the bootstrap secret is checked with it).
fn go_uuid_error(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return Some("uuid string is wrong length".into());
    }
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return Some("uuid is improperly formatted".into());
    }
    let bad = b
        .iter()
        .enumerate()
        .filter(|(i, _)| ![8, 13, 18, 23].contains(i))
        .map(|(_, c)| *c)
        .find(|c| !c.is_ascii_hexdigit())?;
    // Go's `%#U` of the byte as a rune: the character is shown when printable.
    let printable = bad == b' ' || bad.is_ascii_graphic() || (bad >= 0xA1 && bad != 0xAD);
    Some(if printable {
        format!(
            "encoding/hex: invalid byte: U+{:04X} '{}'",
            bad,
            char::from(bad)
        )
    } else {
        format!("encoding/hex: invalid byte: U+{bad:04X}")
    })
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
    // Consul's token and role writers answer these with 500.
    let bad = |e: &dyn std::fmt::Display| ApiError::Internal(e.to_string());
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

/// `ExpirationTTL` in milliseconds, as Consul's `ACLToken.UnmarshalJSON` reads it: a Go duration
/// string or a number of nanoseconds (other JSON types are ignored, as there). May be negative.
fn signed_ttl_ms(v: &Value) -> ApiResult<i64> {
    match v {
        Value::String(s) => {
            let (negative, rest) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            let d = praetor_config::parse_duration(rest).map_err(|_| {
                // The text of Go's `time.ParseDuration` names the whole input.
                let e = praetor_config::parse_duration(s).err().map_or_else(
                    || format!("time: invalid duration {s:?}"),
                    |e| e.to_string(),
                );
                ApiError::BadRequest(format!("Token decoding failed: {e}"))
            })?;
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            Ok(if negative { -ms } else { ms })
        }
        Value::Number(n) => Ok(n.as_f64().map_or(0, |ns| (ns / 1_000_000.0) as i64)),
        _ => Ok(0),
    }
}

/// A non-negative duration field (`MaxTokenTTL`) in milliseconds, read as `ExpirationTTL` is.
fn ttl_ms(v: &Value) -> ApiResult<u64> {
    u64::try_from(signed_ttl_ms(v)?)
        .map_err(|_| ApiError::BadRequest("Token decoding failed: negative duration".into()))
}

/// Consul's default bounds on an expiration (`acl.token_min_expiration_ttl`,
/// `acl.token_max_expiration_ttl`): at least a minute, at most 24 h after creation.
const MIN_EXPIRATION_MS: u64 = 60_000;
const MAX_EXPIRATION_MS: u64 = 24 * 3600 * 1000;

/// The expiration rules of a new token (Consul's `TokenWriter.Create`).
fn check_expiration(at: u64, now: u64) -> ApiResult<()> {
    if at < now {
        return Err(ApiError::Internal(
            "ExpirationTime cannot be before CreateTime".into(),
        ));
    }
    let ahead = at - now;
    let was = go_duration(i64::try_from(ahead).unwrap_or(i64::MAX));
    if ahead > MAX_EXPIRATION_MS {
        return Err(ApiError::Internal(format!(
            "ExpirationTime cannot be more than {} in the future (was {was})",
            go_duration(MAX_EXPIRATION_MS as i64)
        )));
    }
    if ahead < MIN_EXPIRATION_MS {
        return Err(ApiError::Internal(format!(
            "ExpirationTime cannot be less than {} in the future (was {was})",
            go_duration(MIN_EXPIRATION_MS as i64)
        )));
    }
    Ok(())
}

/// A token from a create (`create`) or update body (links by ID or name; state fills the other
/// half). On update the AccessorID is already the URL's; what may not change (SecretID, local,
/// expiration, auth method) is checked against the stored token by the state.
/// `Namespace` and `Partition` (Consul Enterprise): only the default one exists here; any
/// other value is refused rather than ignored.
fn default_tenancy(namespace: &str, partition: &str) -> ApiResult<()> {
    for (field, v) in [("Namespace", namespace), ("Partition", partition)] {
        if !v.is_empty() && v != "default" {
            return Err(ApiError::BadRequest(format!(
                "{field} {v:?} is not supported: namespaces and admin partitions are Consul Enterprise features"
            )));
        }
    }
    Ok(())
}

fn token_in(t: TokenJson, now: u64, create: bool) -> ApiResult<AclToken> {
    default_tenancy(&t.namespace, &t.partition)?;
    let ttl = t
        .expiration_ttl
        .as_ref()
        .map(signed_ttl_ms)
        .transpose()?
        .unwrap_or(0);
    let expiration = t
        .expiration_time
        .as_deref()
        .map(|at| {
            parse_time(at).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Token decoding failed: parsing time {at:?}: not RFC 3339"
                ))
            })
        })
        .transpose()?;
    let expiration = if create {
        check_token_id("AccessorID", &t.accessor_id)?;
        check_token_id("SecretID", &t.secret_id)?;
        if ttl < 0 {
            return Err(ApiError::Internal(format!(
                "Token Expiration TTL '{}' should be > 0",
                go_duration(ttl)
            )));
        }
        let expiration = match (ttl, expiration) {
            (0, at) => at,
            (_, Some(_)) => {
                return Err(ApiError::Internal(
                    "Token Expiration TTL and Expiration Time cannot both be set".into(),
                ));
            }
            (ttl, None) => Some(now.saturating_add(ttl.unsigned_abs())),
        };
        if let Some(at) = expiration {
            check_expiration(at, now)?;
        }
        if !t.auth_method.is_empty() {
            return Err(ApiError::Internal(
                "AuthMethod field is disallowed outside of login".into(),
            ));
        }
        expiration
    } else {
        if builtin::ROOT_SECRETS.contains(&t.secret_id.as_str()) {
            return Err(ApiError::Forbidden(format!(
                "{}: Cannot modify root ACL",
                builtin::PERMISSION_DENIED
            )));
        }
        if ttl != 0 {
            return Err(ApiError::Internal(format!(
                "Cannot change expiration time of {}",
                t.accessor_id
            )));
        }
        expiration
    };
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
        auth_method: t.auth_method,
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

/// `PUT /v1/acl/bootstrap`: the first management token, once. Needs no token (the request's
/// is not even resolved, as Consul's `ACL.BootstrapTokens` ignores it) and ignores `?dc=`.
/// The `<data_dir>/acl-bootstrap-reset` file is not read here (the API has no data dir), so a
/// reset is not possible through this endpoint yet.
async fn bootstrap(State(st): State<AppState>, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let b: BootstrapBody = if raw.is_empty() {
        BootstrapBody::default()
    } else {
        from_slice(&raw, Unknown::Reject)
            .map_err(|e| ApiError::BadRequest(format!("Request decoding failed: {e}")))?
    };
    // Only the primary datacenter bootstraps (a secondary answers `acl.ErrDisabled`, 500).
    let s = st.rpc.inner().acl_settings();
    if !s.primary_datacenter.is_empty() && s.primary_datacenter != st.rpc.datacenter() {
        return Err(ApiError::Internal(builtin::ERR_DISABLED.into()));
    }
    let secret: String = if b.bootstrap_secret.is_empty() {
        new_id()
    } else {
        if let Some(e) = go_uuid_error(&b.bootstrap_secret) {
            return Err(ApiError::Internal(e));
        }
        if builtin::is_reserved_id(&b.bootstrap_secret) {
            // Consul's `checkTokenUUID` refuses reserved IDs like used ones.
            return Err(ApiError::Internal(
                "Provided token cannot be used because a token with that secret already exists."
                    .into(),
            ));
        }
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
    let dc: Option<&str> = None;
    applied(
        st.rpc
            .inner()
            .apply_as(
                &Caller::Token(String::new()),
                dc,
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
        .query_as(&Caller::Token(secret), dc, q)
        .await?;
    let tokens = match resp.output.result {
        QueryResult::AclTokens(t) => t,
        other => return Err(ApiError::unexpected_result(&other)),
    };
    let t = tokens
        .first()
        .ok_or_else(|| ApiError::Internal("bootstrap token not found after write".into()))?;
    Ok(axum::Json(bootstrap_json(t)).into_response())
}

/// Consul's `aclBootstrapResponse`: the legacy `ID` (= SecretID) in front of the token.
#[derive(Serialize)]
struct BootstrapJson {
    #[serde(rename = "ID")]
    id: String,
    #[serde(flatten)]
    token: TokenJson,
}

fn bootstrap_json(t: &AclToken) -> BootstrapJson {
    BootstrapJson {
        id: t.secret_id.clone(),
        token: token_json(t),
    }
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

/// `token does not exist: ACL not found` (403): an unknown or expired token read.
fn token_missing() -> ApiError {
    ApiError::Forbidden(format!("token does not exist: {}", builtin::ERR_NOT_FOUND))
}

async fn token_create(State(st): State<AppState>, p: Params, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let mut t = token_in(body(&raw, "Token")?, now_ms(), true)?;
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
            None => Err(token_missing()),
        },
        other => Err(ApiError::unexpected_result(&other)),
    }
}

/// The first token of a read that has not expired (the state keeps expired tokens until the
/// leader reaps them; Consul's reads treat them as absent).
fn live(tokens: Vec<AclToken>, now: u64) -> Option<AclToken> {
    tokens.into_iter().find(|t| !t.is_expired(now))
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
    match live(t, now_ms()) {
        Some(t) => Ok(with_headers(head, token_json(&t))),
        None => Err(token_missing()),
    }
}

/// `GET /v1/acl/token/self`: the request's own token (its secret, else the agent's `default`
/// token), secret included. Unknown or expired: 403 `token does not exist: ACL not found`, as
/// Consul answers (also when the request has no token).
async fn token_self(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    enabled(&st)?;
    let secret = st.rpc.secret(&p);
    if secret.is_empty() {
        return Err(token_missing());
    }
    let (t, head) = match read_tokens(
        &st,
        &p,
        Q::AclTokenBySecret {
            secret_id: secret.clone(),
        },
    )
    .await
    {
        Ok(r) => r,
        // The request's own secret is resolved first: unknown means no such token.
        Err(ApiError::Forbidden(m)) if m.contains(builtin::ERR_NOT_FOUND) => {
            return Err(token_missing());
        }
        Err(e) => return Err(e),
    };
    match live(t, now_ms()) {
        Some(mut t) => {
            // Filtered as `<hidden>` for a token without acl:write; its own secret is shown.
            t.secret_id = secret;
            Ok(with_headers(head, token_json(&t)))
        }
        None => Err(token_missing()),
    }
}

async fn token_update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    let mut j: TokenJson = body(&raw, "Token")?;
    if j.accessor_id.is_empty() {
        j.accessor_id = id.clone();
    }
    if j.accessor_id != id {
        return Err(ApiError::BadRequest(
            "Token Accessor ID in URL and payload do not match".into(),
        ));
    }
    if !praetor_state::is_uuid(&id) {
        return Err(ApiError::Internal("AccessorID is not a valid UUID".into()));
    }
    let t = token_in(j, now_ms(), false)?;
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

/// `PUT /v1/acl/token/<id>/clone`: a new token with the links, identities, `Local` and
/// `ExpirationTime` of another; the body is a token of which only `Description` is used.
async fn token_clone(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    let c: TokenJson = body(&raw, "Token")?;
    let now = now_ms();
    let mut q = p.query(Q::AclTokenGet { accessor_id: id })?;
    q.min_index = 0;
    let resp = st.rpc.query(&p, p.dc(), q).await?;
    let found = match resp.output.result {
        QueryResult::AclTokens(t) => live(t, now),
        other => return Err(ApiError::unexpected_result(&other)),
    };
    let Some(src) = found else {
        return Err(ApiError::Forbidden(builtin::ERR_NOT_FOUND.into()));
    };
    if !src.auth_method.is_empty() {
        return Err(ApiError::Internal(
            "Cannot clone a token created from an auth method".into(),
        ));
    }
    if let Some(at) = src.expiration_time_ms {
        check_expiration(at, now)?;
    }
    let token = AclToken {
        accessor_id: new_id(),
        secret_id: new_id(),
        description: if c.description.is_empty() {
            src.description.clone()
        } else {
            c.description
        },
        create_time_ms: now,
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
        return Err(ApiError::Internal(
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
    default_tenancy(&j.namespace, &j.partition)?;
    // Consul's `ACL.PolicySet`: 500 with the rule's text (`Invalid Policy: ...`).
    if j.name.is_empty() {
        return Err(ApiError::Internal("Invalid Policy: no Name is set".into()));
    }
    praetor_acl::validate_policy_name(&j.name).map_err(|e| ApiError::Internal(e.to_string()))?;
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
    default_tenancy(&j.namespace, &j.partition)?;
    if j.name.is_empty() {
        return Err(ApiError::Internal("Invalid Role: no Name is set".into()));
    }
    praetor_acl::validate_role_name(&j.name).map_err(|e| ApiError::Internal(e.to_string()))?;
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
    // Consul's create is its update with an empty URL ID.
    if !j.id.is_empty() {
        return Err(ApiError::BadRequest(
            "Role ID in URL and payload do not match".into(),
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
    let vars: TemplateVariablesJson = body_or(&raw, "Failed to decode request body")?;
    let t = praetor_acl::TemplatedPolicy {
        template_name: name,
        variables: Some(praetor_acl::TemplateVariables { name: vars.name }),
        datacenters: Vec::new(),
    };
    let s = t.synthetic_policy().map_err(|e| {
        // Go's `%q` of the error (JSON escaping matches it for these ASCII texts).
        let quoted = serde_json::to_string(&e.to_string()).unwrap_or_default();
        ApiError::BadRequest(format!("Failed to generate synthetic policy: {quoted}"))
    })?;
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

/// Sets the agent token `kind` names (Consul's names and their legacy aliases); false for an
/// unknown kind.
fn set_agent_token(tokens: &mut praetor_rpc::AgentTokens, kind: &str, token: String) -> bool {
    let slot = match kind {
        "default" | "acl_token" => &mut tokens.default,
        "agent" | "acl_agent_token" => &mut tokens.agent,
        "agent_recovery" | "agent_master" | "acl_agent_master_token" => &mut tokens.agent_recovery,
        "replication" | "acl_replication_token" => &mut tokens.replication,
        "config_file_service_registration" => &mut tokens.config_file_service_registration,
        "dns" | "dns_token" => &mut tokens.dns,
        _ => return false,
    };
    *slot = token;
    true
}

/// `PUT /v1/agent/token/<kind>`: changes one of the agent's tokens (`agent:write` on this
/// node). Persistence (`enable_token_persistence`) is the agent's, behind
/// `agent_tokens_changed`.
async fn agent_token(
    State(st): State<AppState>,
    Path(kind): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    crate::agent::agent_write(&st, &p).await?;
    let b: AgentTokenBody = crate::json::decode(&raw)?;
    let mut known = true;
    st.rpc
        .inner()
        .update_agent_tokens(|x| known = set_agent_token(x, &kind, b.token));
    if !known {
        return Err(ApiError::NotFound(format!("Token {kind:?} is unknown")));
    }
    st.agent.agent_tokens_changed()?;
    tracing::info!("Updated agent's ACL token");
    Ok(().into_response())
}

// === auth methods, binding rules, login ===

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct MethodJson {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Type")]
    method_type: String,
    #[serde(rename = "DisplayName", skip_serializing_if = "String::is_empty")]
    display_name: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "MaxTokenTTL", skip_serializing_if = "Option::is_none")]
    max_token_ttl: Option<Value>,
    #[serde(rename = "TokenLocality", skip_serializing_if = "String::is_empty")]
    token_locality: String,
    #[serde(rename = "Config")]
    config: Value,
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
struct RuleJson {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "AuthMethod")]
    auth_method: String,
    #[serde(rename = "Selector")]
    selector: String,
    #[serde(rename = "BindType")]
    bind_type: String,
    #[serde(rename = "BindName")]
    bind_name: String,
    #[serde(rename = "BindVars", skip_serializing_if = "Option::is_none")]
    bind_vars: Option<TemplateVariablesJson>,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
    #[serde(rename = "Namespace", skip_serializing)]
    namespace: String,
    #[serde(rename = "Partition", skip_serializing)]
    partition: String,
}

fn method_json(m: &praetor_state::AclAuthMethod) -> MethodJson {
    MethodJson {
        name: m.name.clone(),
        method_type: m.method_type.clone(),
        display_name: m.display_name.clone(),
        description: m.description.clone(),
        max_token_ttl: (m.max_token_ttl_ms > 0).then(|| {
            json!(praetor_config::format_duration(
                std::time::Duration::from_millis(m.max_token_ttl_ms)
            ))
        }),
        token_locality: m.token_locality.clone(),
        config: serde_json::from_str(&m.config).unwrap_or(Value::Null),
        create_index: m.create_index,
        modify_index: m.modify_index,
        ..MethodJson::default()
    }
}

fn rule_json(r: &praetor_state::AclBindingRule) -> RuleJson {
    RuleJson {
        id: r.id.clone(),
        description: r.description.clone(),
        auth_method: r.auth_method.clone(),
        selector: r.selector.clone(),
        bind_type: r.bind_type.clone(),
        bind_name: r.bind_name.clone(),
        bind_vars: r
            .bind_vars_name
            .clone()
            .map(|name| TemplateVariablesJson { name }),
        create_index: r.create_index,
        modify_index: r.modify_index,
        ..RuleJson::default()
    }
}

/// The JWT leeways as integer nanoseconds (what the server reads); Consul accepts a Go
/// duration string or a number.
fn leeways_in_ns(config: &mut Value) -> ApiResult<()> {
    let Value::Object(m) = config else {
        return Ok(());
    };
    for key in ["ExpirationLeeway", "NotBeforeLeeway", "ClockSkewLeeway"] {
        if let Some(Value::String(d)) = m.get(key) {
            let ns = praetor_config::parse_duration(d)
                .map_err(|e| {
                    ApiError::BadRequest(format!(
                        "AuthMethod decoding failed: invalid {key} {d:?}: {e}"
                    ))
                })?
                .as_nanos();
            m.insert(key.into(), json!(i64::try_from(ns).unwrap_or(i64::MAX)));
        }
    }
    Ok(())
}

fn method_in(mut j: MethodJson) -> ApiResult<praetor_state::AclAuthMethod> {
    default_tenancy(&j.namespace, &j.partition)?;
    leeways_in_ns(&mut j.config)?;
    let max_token_ttl_ms = match &j.max_token_ttl {
        None | Some(Value::Null) => 0,
        Some(v) => ttl_ms(v).map_err(|_| {
            ApiError::BadRequest("AuthMethod decoding failed: invalid MaxTokenTTL".into())
        })?,
    };
    let m = praetor_state::AclAuthMethod {
        name: j.name,
        method_type: j.method_type,
        display_name: j.display_name,
        description: j.description,
        max_token_ttl_ms,
        token_locality: j.token_locality,
        config: match j.config {
            Value::Null => "{}".into(),
            v => v.to_string(),
        },
        ..Default::default()
    };
    if m.name.is_empty() {
        return Err(ApiError::Internal(
            "Invalid Auth Method: no Name is set".into(),
        ));
    }
    praetor_rpc::login::validate_method(&m).map_err(ApiError::Internal)?;
    Ok(m)
}

fn rule_in(j: RuleJson) -> ApiResult<praetor_state::AclBindingRule> {
    default_tenancy(&j.namespace, &j.partition)?;
    let r = praetor_state::AclBindingRule {
        id: j.id,
        description: j.description,
        auth_method: j.auth_method,
        selector: j.selector,
        bind_type: j.bind_type,
        bind_name: j.bind_name,
        bind_vars_name: j.bind_vars.map(|v| v.name),
        ..Default::default()
    };
    praetor_rpc::login::validate_rule(&r).map_err(ApiError::Internal)?;
    Ok(r)
}

async fn read_methods(
    st: &AppState,
    p: &Params,
    name: Option<String>,
    fresh: bool,
) -> ApiResult<Response> {
    let single = name.is_some();
    let mut q = p.query(Q::AclAuthMethods { name })?;
    if fresh {
        q.consistency = praetor_rpc::Consistency::Default;
        q.min_index = 0;
    }
    let resp = st.rpc.query(p, p.dc(), q).await?;
    let headers = query_headers(&resp);
    let QueryResult::AclAuthMethods(m) = resp.output.result else {
        return Err(ApiError::unexpected_result(&resp.output.result));
    };
    if !single {
        let list: Vec<MethodJson> = m.iter().map(|(m, _)| method_json(m)).collect();
        return Ok((headers, axum::Json(list)).into_response());
    }
    match m.first() {
        Some((m, _)) => Ok((headers, axum::Json(method_json(m))).into_response()),
        None => Ok((
            StatusCode::NOT_FOUND,
            headers,
            format!(
                "Requested auth method does not exist: {}",
                builtin::ERR_NOT_FOUND
            ),
        )
            .into_response()),
    }
}

async fn method_create(State(st): State<AppState>, p: Params, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let m = method_in(body(&raw, "AuthMethod")?)?;
    let name = m.name.clone();
    applied(
        st.rpc
            .apply(&p, p.dc(), Command::AclAuthMethodSet { method: m })
            .await?,
    )?;
    read_methods(&st, &p, Some(name), true).await
}

async fn method_update(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    let mut j: MethodJson = body(&raw, "AuthMethod")?;
    if !j.name.is_empty() && j.name != name {
        return Err(ApiError::BadRequest(
            "AuthMethod Name in URL and payload do not match".into(),
        ));
    }
    j.name = name.clone();
    let m = method_in(j)?;
    applied(
        st.rpc
            .apply(&p, p.dc(), Command::AclAuthMethodSet { method: m })
            .await?,
    )?;
    read_methods(&st, &p, Some(name), true).await
}

async fn method_read(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    read_methods(&st, &p, Some(name), false).await
}

async fn method_list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    enabled(&st)?;
    read_methods(&st, &p, None, false).await
}

async fn method_delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    applied(
        st.rpc
            .apply(&p, p.dc(), Command::AclAuthMethodDelete { name })
            .await?,
    )?;
    Ok(axum::Json(true).into_response())
}

async fn read_rules(
    st: &AppState,
    p: &Params,
    id: Option<String>,
    fresh: bool,
) -> ApiResult<Response> {
    let single = id.is_some();
    let auth_method = p
        .get("authmethod")
        .filter(|m| !m.is_empty())
        .map(String::from);
    let mut q = p.query(Q::AclBindingRules { id, auth_method })?;
    if fresh {
        q.consistency = praetor_rpc::Consistency::Default;
        q.min_index = 0;
    }
    let resp = st.rpc.query(p, p.dc(), q).await?;
    let headers = query_headers(&resp);
    let QueryResult::AclBindingRules(r) = resp.output.result else {
        return Err(ApiError::unexpected_result(&resp.output.result));
    };
    if !single {
        let list: Vec<RuleJson> = r.iter().map(rule_json).collect();
        return Ok((headers, axum::Json(list)).into_response());
    }
    match r.first() {
        Some(r) => Ok((headers, axum::Json(rule_json(r))).into_response()),
        None => Ok((
            StatusCode::NOT_FOUND,
            headers,
            format!(
                "Requested binding rule does not exist: {}",
                builtin::ERR_NOT_FOUND
            ),
        )
            .into_response()),
    }
}

async fn rule_create(State(st): State<AppState>, p: Params, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let j: RuleJson = body(&raw, "BindingRule")?;
    if !j.id.is_empty() {
        return Err(ApiError::BadRequest(
            "Cannot specify the ID when creating a new binding rule".into(),
        ));
    }
    let mut r = rule_in(j)?;
    r.id = new_id();
    let id = r.id.clone();
    applied(
        st.rpc
            .apply(
                &p,
                p.dc(),
                Command::AclBindingRuleSet {
                    rule: r,
                    create: true,
                },
            )
            .await?,
    )?;
    read_rules(&st, &p, Some(id), true).await
}

async fn rule_update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
    raw: Bytes,
) -> ApiResult<Response> {
    enabled(&st)?;
    let mut j: RuleJson = body(&raw, "BindingRule")?;
    if !j.id.is_empty() && j.id != id {
        return Err(ApiError::BadRequest(
            "BindingRule ID in URL and payload do not match".into(),
        ));
    }
    j.id = id.clone();
    let r = rule_in(j)?;
    applied(
        st.rpc
            .apply(
                &p,
                p.dc(),
                Command::AclBindingRuleSet {
                    rule: r,
                    create: false,
                },
            )
            .await?,
    )?;
    read_rules(&st, &p, Some(id), true).await
}

async fn rule_read(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    read_rules(&st, &p, Some(id), false).await
}

async fn rule_list(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    enabled(&st)?;
    read_rules(&st, &p, None, false).await
}

async fn rule_delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    enabled(&st)?;
    applied(
        st.rpc
            .apply(&p, p.dc(), Command::AclBindingRuleDelete { id })
            .await?,
    )?;
    Ok(axum::Json(true).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginBody {
    #[serde(rename = "AuthMethod")]
    auth_method: String,
    #[serde(rename = "BearerToken")]
    bearer_token: String,
    #[serde(rename = "Meta")]
    meta: std::collections::BTreeMap<String, String>,
}

/// `POST /v1/acl/login`: a bearer token in, an ACL token out (issued by a server).
async fn login(State(st): State<AppState>, p: Params, raw: Bytes) -> ApiResult<Response> {
    enabled(&st)?;
    let b: LoginBody = body(&raw, "Login")?;
    if b.auth_method.is_empty() {
        return Err(ApiError::BadRequest("Missing AuthMethod".into()));
    }
    if b.bearer_token.is_empty() {
        return Err(ApiError::BadRequest("Missing BearerToken".into()));
    }
    let req = praetor_rpc::Request::AclLogin {
        auth_method: b.auth_method,
        bearer_token: b.bearer_token,
        meta: b.meta,
    };
    match st.rpc.call(&p, p.dc(), req).await? {
        praetor_rpc::Response::AclLogin(t) => Ok(axum::Json(token_json(&t)).into_response()),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

/// `POST /v1/acl/logout`: deletes the request's own token, if a login made it.
async fn logout(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    enabled(&st)?;
    let secret = st.rpc.secret(&p);
    if secret.is_empty() {
        return Err(ApiError::Forbidden(builtin::ERR_NOT_FOUND.into()));
    }
    match st
        .rpc
        .call(&p, p.dc(), praetor_rpc::Request::AclLogout { secret })
        .await?
    {
        praetor_rpc::Response::AclLogout => Ok(().into_response()),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(e: &ApiError) -> (u16, String) {
        let code = match e {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Internal(_) => 500,
            _ => 0,
        };
        (code, e.to_string())
    }

    const UUID_A: &str = "6a1253d2-1785-24fd-91c2-f8e78c745511";

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
            r#"{"AccessorID":"a","SecretID":"<hidden>","Description":"","Local":false,"CreateTime":"2023-11-14T22:13:20.123Z","Hash":"","CreateIndex":0,"ModifyIndex":0}"#
        );
    }

    #[test]
    fn full_token_json_in_consul_order() {
        let t = AclToken {
            accessor_id: UUID_A.into(),
            secret_id: "s".into(),
            description: "d".into(),
            policies: vec![AclLink {
                id: "p1".into(),
                name: "pol".into(),
            }],
            roles: vec![AclLink {
                id: "r1".into(),
                name: "role".into(),
            }],
            service_identities: vec![AclServiceIdentity {
                service_name: "web".into(),
                datacenters: vec![],
            }],
            node_identities: vec![AclNodeIdentity {
                node_name: "n1".into(),
                datacenter: "dc1".into(),
            }],
            templated_policies: vec![AclTemplatedPolicy {
                template_name: "builtin/service".into(),
                name: Some("api".into()),
                datacenters: vec!["dc2".into()],
            }],
            local: true,
            auth_method: String::new(),
            expiration_time_ms: Some(1_700_000_060_000),
            create_time_ms: 1_700_000_000_000,
            hash: vec![1, 2, 3],
            create_index: 5,
            modify_index: 7,
        };
        let s = serde_json::to_string(&token_json(&t)).unwrap();
        assert_eq!(
            s,
            concat!(
                r#"{"AccessorID":"6a1253d2-1785-24fd-91c2-f8e78c745511","SecretID":"s","Description":"d","#,
                r#""Policies":[{"ID":"p1","Name":"pol"}],"Roles":[{"ID":"r1","Name":"role"}],"#,
                r#""ServiceIdentities":[{"ServiceName":"web"}],"#,
                r#""NodeIdentities":[{"NodeName":"n1","Datacenter":"dc1"}],"#,
                r#""TemplatedPolicies":[{"TemplateName":"builtin/service","TemplateVariables":{"Name":"api"},"Datacenters":["dc2"]}],"#,
                r#""Local":true,"ExpirationTime":"2023-11-14T22:14:20Z","CreateTime":"2023-11-14T22:13:20Z","#,
                r#""Hash":"AQID","CreateIndex":5,"ModifyIndex":7}"#
            )
        );
        // The bootstrap answer: the legacy `ID` (the secret) first.
        let b = serde_json::to_string(&bootstrap_json(&t)).unwrap();
        assert!(b.starts_with(r#"{"ID":"s","AccessorID":"#), "{b}");
    }

    #[test]
    fn policy_and_role_json() {
        let p = AclPolicy {
            id: "i".into(),
            name: "n".into(),
            rules: "key \"\" {}".into(),
            hash: vec![255],
            ..AclPolicy::default()
        };
        assert_eq!(
            serde_json::to_string(&policy_json(&p, true)).unwrap(),
            r#"{"ID":"i","Name":"n","Description":"","Rules":"key \"\" {}","Hash":"/w==","CreateIndex":0,"ModifyIndex":0}"#
        );
        // List stubs have no Rules.
        assert!(
            !serde_json::to_string(&policy_json(&p, false))
                .unwrap()
                .contains("Rules")
        );
        let r = AclRole {
            id: "i".into(),
            name: "n".into(),
            ..AclRole::default()
        };
        assert_eq!(
            serde_json::to_string(&role_json(&r)).unwrap(),
            r#"{"ID":"i","Name":"n","Description":"","Hash":"","CreateIndex":0,"ModifyIndex":0}"#
        );
    }

    #[test]
    fn go_times_and_durations() {
        assert_eq!(go_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(go_time(1_500), "1970-01-01T00:00:01.5Z");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(10_000), "10s");
        assert_eq!(go_duration(-5_000), "-5s");
        assert_eq!(go_duration(24 * 3_600_000), "24h0m0s");
    }

    #[test]
    fn bodies_refuse_unknown_fields_and_emptiness() {
        let e = body::<TokenJson>(br#"{"Bogus": 1}"#, "Token").unwrap_err();
        assert_eq!(
            msg(&e),
            (
                400,
                r#"Token decoding failed: json: unknown field "Bogus""#.to_string()
            )
        );
        let e = body::<PolicyJson>(b"", "Policy").unwrap_err();
        assert_eq!(msg(&e), (400, "Policy decoding failed: EOF".to_string()));
        let e = body::<RoleJson>(b"{", "Role").unwrap_err();
        assert!(msg(&e).1.starts_with("Role decoding failed: "), "{e}");
        // Output-only and enterprise fields are known on input.
        body::<TokenJson>(
            br#"{"Hash":"x","CreateIndex":1,"Namespace":"","ExpirationTTL":"1h"}"#,
            "Token",
        )
        .unwrap();
        // Go's case-insensitive keys.
        let t: TokenJson = body(br#"{"description":"x"}"#, "Token").unwrap();
        assert_eq!(t.description, "x");
    }

    #[test]
    fn expiration_ttl_parsing() {
        assert_eq!(signed_ttl_ms(&json!("1h")).unwrap(), 3_600_000);
        assert_eq!(signed_ttl_ms(&json!("1m30s")).unwrap(), 90_000);
        assert_eq!(signed_ttl_ms(&json!(60_000_000_000u64)).unwrap(), 60_000);
        assert_eq!(signed_ttl_ms(&json!("-5s")).unwrap(), -5_000);
        assert_eq!(signed_ttl_ms(&json!(true)).unwrap(), 0);
        let e = signed_ttl_ms(&json!("forever")).unwrap_err();
        assert_eq!(
            msg(&e),
            (
                400,
                r#"Token decoding failed: time: invalid duration "forever""#.to_string()
            )
        );
    }

    fn create(j: TokenJson) -> Result<AclToken, (u16, String)> {
        token_in(j, 1_000_000, true).map_err(|e| msg(&e))
    }

    #[test]
    fn token_create_rules() {
        let e = create(TokenJson {
            accessor_id: "not-a-uuid".into(),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (500, "Invalid Token: AccessorID - not a valid UUID".into())
        );
        let e = create(TokenJson {
            secret_id: "00000000-0000-0000-0000-000000000009".into(),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (
                500,
                r#"Invalid Token: SecretID - UUIDs with the prefix "00000000-0000-0000-0000-0000000000" are reserved"#.into()
            )
        );
        let e = create(TokenJson {
            expiration_ttl: Some(json!("10s")),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (
                500,
                "ExpirationTime cannot be less than 1m0s in the future (was 10s)".into()
            )
        );
        let e = create(TokenJson {
            expiration_ttl: Some(json!("48h")),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (
                500,
                "ExpirationTime cannot be more than 24h0m0s in the future (was 48h0m0s)".into()
            )
        );
        let e = create(TokenJson {
            expiration_ttl: Some(json!("-1h")),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (500, "Token Expiration TTL '-1h0m0s' should be > 0".into())
        );
        let e = create(TokenJson {
            expiration_ttl: Some(json!("1h")),
            expiration_time: Some(go_time(1_000_000 + 3_600_000)),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (
                500,
                "Token Expiration TTL and Expiration Time cannot both be set".into()
            )
        );
        let e = create(TokenJson {
            expiration_time: Some(go_time(1_000)),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (500, "ExpirationTime cannot be before CreateTime".into())
        );
        let e = create(TokenJson {
            auth_method: "m".into(),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (
                500,
                "AuthMethod field is disallowed outside of login".into()
            )
        );
        let e = create(TokenJson {
            service_identities: vec![ServiceIdentityJson {
                service_name: "Web!".into(),
                datacenters: vec![],
            }],
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(e.0, 500);
        assert!(
            e.1.starts_with(r#"Service identity "Web!" has an invalid name"#),
            "{e:?}"
        );
        // A zero TTL is no TTL.
        let t = create(TokenJson {
            expiration_ttl: Some(json!("0s")),
            ..TokenJson::default()
        })
        .unwrap();
        assert_eq!(t.expiration_time_ms, None);
        let t = create(TokenJson {
            accessor_id: UUID_A.into(),
            expiration_ttl: Some(json!("2h")),
            policies: vec![Link {
                id: String::new(),
                name: "by-name".into(),
            }],
            ..TokenJson::default()
        })
        .unwrap();
        assert_eq!(t.expiration_time_ms, Some(1_000_000 + 7_200_000));
        assert_eq!(t.create_time_ms, 1_000_000);
        assert_eq!(t.policies[0].name, "by-name");
    }

    #[test]
    fn token_update_rules() {
        let update = |j: TokenJson| token_in(j, 5, false).map_err(|e| msg(&e));
        let e = update(TokenJson {
            accessor_id: UUID_A.into(),
            expiration_ttl: Some(json!("1h")),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            (500, format!("Cannot change expiration time of {UUID_A}"))
        );
        let e = update(TokenJson {
            accessor_id: UUID_A.into(),
            secret_id: "manage".into(),
            ..TokenJson::default()
        })
        .unwrap_err();
        assert_eq!(e, (403, "Permission denied: Cannot modify root ACL".into()));
        // What must not change is the state's to check against the stored token.
        let t = update(TokenJson {
            accessor_id: UUID_A.into(),
            secret_id: "legacy-secret".into(),
            auth_method: "m".into(),
            expiration_time: Some(go_time(10)),
            ..TokenJson::default()
        })
        .unwrap();
        assert_eq!(t.auth_method, "m");
        assert_eq!(t.expiration_time_ms, Some(10));
    }

    #[test]
    fn bootstrap_secret_checks() {
        assert_eq!(go_uuid_error(UUID_A), None);
        assert_eq!(
            go_uuid_error("abc").as_deref(),
            Some("uuid string is wrong length")
        );
        assert_eq!(
            go_uuid_error("6a1253d2x1785-24fd-91c2-f8e78c745511").as_deref(),
            Some("uuid is improperly formatted")
        );
        assert_eq!(
            go_uuid_error("6a1253d2-1785-24fd-91c2-f8e78c74551g").as_deref(),
            Some("encoding/hex: invalid byte: U+0067 'g'")
        );
    }

    #[test]
    fn policy_and_role_rules() {
        let e = policy_in(PolicyJson::default()).unwrap_err();
        assert_eq!(msg(&e), (500, "Invalid Policy: no Name is set".into()));
        let e = policy_in(PolicyJson {
            name: "a b".into(),
            ..PolicyJson::default()
        })
        .unwrap_err();
        assert_eq!(
            msg(&e),
            (
                500,
                "Invalid Policy: invalid Name. Only alphanumeric characters, a single '/', '-' and '_' are allowed".into()
            )
        );
        let e = policy_in(PolicyJson {
            name: "builtin/x".into(),
            ..PolicyJson::default()
        })
        .unwrap_err();
        assert_eq!(
            msg(&e),
            (
                500,
                "Invalid Policy: invalid Name. Names cannot be prefixed with '/' or 'builtin/'"
                    .into()
            )
        );
        let e = role_in(RoleJson {
            name: "a/b".into(),
            ..RoleJson::default()
        })
        .unwrap_err();
        assert_eq!(
            msg(&e),
            (
                500,
                "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
                    .into()
            )
        );
        let e = role_in(RoleJson::default()).unwrap_err();
        assert_eq!(msg(&e), (500, "Invalid Role: no Name is set".into()));
        let p = policy_in(PolicyJson {
            name: "team/app".into(),
            rules: Some(r#"key_prefix "" { policy = "read" }"#.into()),
            ..PolicyJson::default()
        })
        .unwrap();
        assert_eq!(p.name, "team/app");
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

    /// The router with a client `Rpc` that knows no server: the rules decided before any
    /// forwarding answer; anything forwarded fails with `No known Consul servers`.
    fn app(acl: bool) -> axum::Router {
        let rpc = praetor_rpc::Rpc::client("dc1");
        rpc.set_acl(praetor_rpc::AclSettings {
            enabled: acl,
            ..praetor_rpc::AclSettings::default()
        });
        crate::router(AppState {
            rpc: rpc.into(),
            agent: std::sync::Arc::new(crate::router_tests::FakeAgent::default()),
            http: std::sync::Arc::new(crate::HttpCounters::default()),
        })
    }

    async fn send(app: &axum::Router, method: &str, uri: &str, body: &str) -> (u16, String) {
        let m = axum::http::Method::from_bytes(method.as_bytes()).unwrap();
        let (code, text) = crate::router_tests::send(app, m, uri, body).await;
        (code.as_u16(), text)
    }

    #[tokio::test]
    async fn acl_disabled_is_401() {
        let app = app(false);
        for (m, uri) in [
            ("GET", "/v1/acl/tokens"),
            ("PUT", "/v1/acl/bootstrap"),
            ("GET", "/v1/acl/replication"),
            ("PUT", "/v1/agent/token/default"),
            ("GET", "/v1/acl/templated-policies"),
        ] {
            assert_eq!(
                send(&app, m, uri, "").await,
                (401, "ACL support disabled".into()),
                "{m} {uri}"
            );
        }
    }

    #[tokio::test]
    async fn request_rules_before_forwarding() {
        let app = app(true);
        let cases: [(&str, &str, &str, (u16, &str)); 9] = [
            (
                "PUT",
                "/v1/acl/token",
                r#"{"Bogus":1}"#,
                (400, r#"Token decoding failed: json: unknown field "Bogus""#),
            ),
            (
                "PUT",
                "/v1/acl/token",
                "",
                (400, "Token decoding failed: EOF"),
            ),
            (
                "PUT",
                "/v1/acl/token/6a1253d2-1785-24fd-91c2-f8e78c745511",
                r#"{"AccessorID":"6a1253d2-1785-24fd-91c2-f8e78c745512"}"#,
                (400, "Token Accessor ID in URL and payload do not match"),
            ),
            (
                "PUT",
                "/v1/acl/policy",
                r#"{"ID":"x","Name":"p"}"#,
                (400, "Cannot specify the ID when creating a new policy"),
            ),
            (
                "PUT",
                "/v1/acl/policy/abc",
                r#"{"ID":"x","Name":"p"}"#,
                (400, "Policy ID in URL and payload do not match"),
            ),
            (
                "PUT",
                "/v1/acl/role",
                r#"{"Name":"r","Bogus":true}"#,
                (400, r#"Role decoding failed: json: unknown field "Bogus""#),
            ),
            (
                "GET",
                "/v1/acl/tokens?policy=a&role=b",
                "",
                (
                    500,
                    "can only filter by one of policy, role, serviceName, or methodName at a time",
                ),
            ),
            (
                "PUT",
                "/v1/acl/bootstrap",
                r#"{"BootstrapSecret":"x","Other":1}"#,
                (
                    400,
                    r#"Request decoding failed: json: unknown field "Other""#,
                ),
            ),
            (
                "PUT",
                "/v1/acl/bootstrap",
                r#"{"BootstrapSecret":"nope"}"#,
                (500, "uuid string is wrong length"),
            ),
        ];
        for (m, uri, body, (code, text)) in cases {
            assert_eq!(
                send(&app, m, uri, body).await,
                (code, text.to_string()),
                "{m} {uri} {body}"
            );
        }
        // Names with a `/` reach their handlers (forwarded, so no server here).
        for uri in [
            "/v1/acl/policy/name/team/app",
            "/v1/acl/templated-policy/name/builtin/service",
        ] {
            let (code, _) = send(&app, "GET", uri, "").await;
            assert_ne!(code, 404, "{uri}");
        }
    }

    #[test]
    fn agent_token_kinds() {
        let mut t = praetor_rpc::AgentTokens::default();
        for (kind, expect) in [
            ("default", "d1"),
            ("acl_token", "d2"),
            ("agent", "a1"),
            ("acl_agent_token", "a2"),
            ("agent_recovery", "r1"),
            ("agent_master", "r2"),
            ("acl_agent_master_token", "r3"),
            ("replication", "p1"),
            ("acl_replication_token", "p2"),
            ("config_file_service_registration", "c1"),
            ("dns", "n1"),
            ("dns_token", "n2"),
        ] {
            assert!(set_agent_token(&mut t, kind, expect.into()), "{kind}");
            let got = match expect.as_bytes()[0] {
                b'd' => &t.default,
                b'a' => &t.agent,
                b'r' => &t.agent_recovery,
                b'p' => &t.replication,
                b'c' => &t.config_file_service_registration,
                _ => &t.dns,
            };
            assert_eq!(got, expect, "{kind}");
        }
        let before = t.clone();
        for kind in ["master", "acl_dns_token", "Default", ""] {
            assert!(!set_agent_token(&mut t, kind, "x".into()), "{kind}");
        }
        assert_eq!(t, before);
    }
}
