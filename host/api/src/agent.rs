//! `/v1/agent/*`: the local agent (members, join/leave, local services and checks, reload,
//! metrics). These run on the agent that receives them; nothing is forwarded.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use praetor_config::{CheckSpec, ServiceSpec, parse_duration};
use praetor_state::CheckStatus;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::agent_api::{MemberInfo, Metric, MetricKind};
use crate::error::{ApiError, ApiResult};
use crate::filtering::{self, ListFilter};
use crate::json::{self, AddressBody, WeightsBody, decode};
use crate::params::Params;

pub fn member_json(m: &MemberInfo) -> Value {
    json!({
        "Name": m.name,
        "Addr": m.addr.to_string(),
        "Port": m.port,
        "Tags": m.tags,
        "Status": m.status,
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
    })
}

pub async fn self_(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let s = st.agent.self_info();
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .agent_read_allowed(&s.node_name)?;
    Ok(axum::Json(json!({
        "Config": {
            "Datacenter": s.datacenter,
            "PrimaryDatacenter": s.primary_datacenter,
            "NodeName": s.node_name,
            "NodeID": s.node_id,
            "Revision": s.revision,
            "Server": s.server,
            "Version": s.version,
            "BuildDate": BUILD_DATE,
            "PraetorVersion": s.praetor_version,
        },
        "DebugConfig": s.debug_config,
        "Coord": json::CoordBody::from(&s.coord),
        "Member": member_json(&s.member),
        "Stats": s.stats,
        "Meta": s.meta,
        "xDS": null,
    }))
    .into_response())
}

/// Consul's build date when none is stamped.
const BUILD_DATE: &str = "1970-01-01T00:00:01Z";

/// `GET /v1/agent/version`: Consul's `BuildInfo` (the Consul API level as `HumanVersion`),
/// with praetor's own version as `PraetorVersion`.
pub async fn version(State(st): State<AppState>) -> ApiResult<Response> {
    let s = st.agent.self_info();
    Ok(axum::Json(json!({
        "SHA": s.revision,
        "BuildDate": BUILD_DATE,
        "HumanVersion": s.version,
        "FIPS": "",
        "PraetorVersion": s.praetor_version,
    }))
    .into_response())
}

/// `GET /v1/agent/members[?wan=<any non-empty value>][&segment=]`: a bare `?wan` is the LAN
/// pool, as in Consul; with the WAN the segment must be empty or `_all`.
pub async fn members(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let wan = p.non_empty("wan");
    if wan && !matches!(p.get("segment"), None | Some("") | Some("_all")) {
        return Err(ApiError::BadRequest(
            "Cannot provide a segment with wan=true".into(),
        ));
    }
    let lf = ListFilter::from_params(&p, Some(filtering::MEMBER))?;
    let id = st.rpc.identity(&p).await?;
    let mut members = st.agent.members(wan)?;
    let before = members.len();
    members.retain(|m| {
        // WAN members are named `<node>.<dc>`; Consul checks node:read on the node part.
        let node = if wan {
            m.name.rsplit_once('.').map_or(m.name.as_str(), |(n, _)| n)
        } else {
            m.name.as_str()
        };
        id.authz.node_read(node).is_allow()
    });
    let mut r = axum::Json(lf.apply(members.iter().map(member_json).collect())?).into_response();
    filtered_header(&mut r, members.len() < before, &st, &p);
    Ok(r)
}

/// `PUT /v1/agent/join/<addr>[?wan=<any non-empty value>]` (a bare `?wan` joins the LAN).
pub async fn join(
    State(st): State<AppState>,
    Path(addr): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    agent_write(&st, &p).await?;
    st.agent.join(&addr, p.non_empty("wan")).await?;
    Ok(().into_response())
}

pub async fn leave(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    agent_write(&st, &p).await?;
    st.agent.leave().await?;
    Ok(().into_response())
}

/// `PUT /v1/agent/force-leave/<node>[?prune][&wan]`: both flags by presence, as in Consul
/// (with `?wan` the name is the WAN name `<node>.<dc>`).
pub async fn force_leave(
    State(st): State<AppState>,
    Path(node): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .operator_write_allowed()?;
    st.agent
        .force_leave(&node, p.has("prune"), p.has("wan"))
        .await?;
    Ok(().into_response())
}

pub async fn services(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let lf = ListFilter::from_params(&p, Some(filtering::NODE_SERVICE))?;
    let dc = st.rpc.datacenter().to_string();
    let id = st.rpc.identity(&p).await?;
    let all = st.agent.services();
    let m: BTreeMap<String, Value> = all
        .iter()
        .filter(|s| id.authz.service_read(&s.service).is_allow())
        .map(|s| (s.id.clone(), json::agent_service(s, &dc)))
        .collect();
    let filtered = m.len() < all.len();
    let mut r = axum::Json(lf.apply_map(m)?).into_response();
    filtered_header(&mut r, filtered, &st, &p);
    Ok(r)
}

pub async fn service(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let dc = st.rpc.datacenter().to_string();
    let who = st.rpc.identity(&p).await?;
    match st.agent.services().iter().find(|s| s.id == id) {
        Some(s) => {
            who.enforcer().service_read_allowed(&s.service)?;
            Ok(axum::Json(json::agent_service(s, &dc)).into_response())
        }
        None => Err(ApiError::NotFound(format!("unknown service ID: {id}"))),
    }
}

/// `GET /v1/agent/checks`; Consul's filter here is untyped: unknown selectors are not refused.
pub async fn checks(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let lf = ListFilter::from_params(&p, None)?;
    let id = st.rpc.identity(&p).await?;
    let all = st.agent.checks();
    let m: BTreeMap<String, Value> = all
        .iter()
        .filter(|c| {
            if c.service_name.is_empty() {
                id.authz.node_read(&c.node).is_allow()
            } else {
                id.authz.service_read(&c.service_name).is_allow()
            }
        })
        .map(|c| (c.check_id.clone(), json::check(c)))
        .collect();
    let filtered = m.len() < all.len();
    let mut r = axum::Json(lf.apply_map(m)?).into_response();
    filtered_header(&mut r, filtered, &st, &p);
    Ok(r)
}

/// An agent service registration body (Consul's `api.AgentServiceRegistration`): a service
/// plus its checks.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AgentServiceBody {
    #[serde(rename = "ID")]
    id: String,
    #[serde(alias = "Service")]
    name: String,
    tags: Vec<String>,
    address: String,
    tagged_addresses: BTreeMap<String, AddressBody>,
    meta: BTreeMap<String, String>,
    port: u16,
    kind: String,
    enable_tag_override: bool,
    weights: Option<WeightsBody>,
    check: Option<AgentCheckBody>,
    checks: Vec<AgentCheckBody>,
    proxy: Option<crate::json::ProxyBody>,
    connect: Option<ConnectBody>,
}

/// A service's `Connect` block.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    native: bool,
    sidecar_service: Option<Box<AgentServiceBody>>,
}

/// The user-level spec of a service body (a sidecar's too).
fn service_spec(s: AgentServiceBody) -> ApiResult<ServiceSpec> {
    let mut checks = Vec::new();
    for c in s.check.into_iter().chain(s.checks) {
        checks.push(check_spec(c)?);
    }
    let (connect_native, sidecar) = match s.connect {
        Some(c) => (
            c.native,
            c.sidecar_service
                .map(|b| service_spec(*b).map(Box::new))
                .transpose()?,
        ),
        None => (false, None),
    };
    Ok(ServiceSpec {
        id: some(s.id),
        name: some(s.name),
        tags: s.tags,
        address: some(s.address),
        port: Some(s.port),
        meta: s.meta,
        tagged_addresses: s
            .tagged_addresses
            .into_iter()
            .map(|(k, a)| (k, (a.address, a.port)))
            .collect(),
        enable_tag_override: s.enable_tag_override,
        weights: s.weights.map(|w| (w.passing, w.warning)),
        checks,
        kind: some(s.kind),
        proxy: s.proxy.map(crate::json::proxy_spec),
        connect_native,
        sidecar,
    })
}

/// An agent check definition body (Consul's `CheckType` fields).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AgentCheckBody {
    #[serde(rename = "ID", alias = "CheckID")]
    id: String,
    name: String,
    notes: String,
    #[serde(rename = "ServiceID")]
    service_id: String,
    status: String,
    #[serde(rename = "TTL")]
    ttl: String,
    #[serde(rename = "HTTP")]
    http: String,
    method: String,
    header: BTreeMap<String, Vec<String>>,
    #[serde(rename = "TLSSkipVerify")]
    tls_skip_verify: bool,
    #[serde(rename = "TCP")]
    tcp: String,
    args: Vec<String>,
    script_args: Vec<String>,
    alias_service: String,
    interval: String,
    timeout: String,
    deregister_critical_service_after: String,
}

fn dur(field: &str, s: &str) -> ApiResult<Option<Duration>> {
    if s.is_empty() {
        return Ok(None);
    }
    parse_duration(s).map(Some).map_err(|_| {
        ApiError::BadRequest(format!(
            "Request decode failed: {field}: invalid duration \"{s}\""
        ))
    })
}

fn some(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

/// Turns a JSON check body into the user-level spec that `praetor_config` validates.
fn check_spec(c: AgentCheckBody) -> ApiResult<CheckSpec> {
    Ok(CheckSpec {
        ttl: dur("TTL", &c.ttl)?,
        interval: dur("Interval", &c.interval)?,
        timeout: dur("Timeout", &c.timeout)?,
        deregister_critical_service_after: dur(
            "DeregisterCriticalServiceAfter",
            &c.deregister_critical_service_after,
        )?,
        id: some(c.id),
        name: some(c.name),
        notes: some(c.notes),
        service_id: some(c.service_id),
        status: some(c.status),
        http: some(c.http),
        method: some(c.method),
        header: c.header,
        tls_skip_verify: c.tls_skip_verify,
        tcp: some(c.tcp),
        args: if c.args.is_empty() {
            c.script_args
        } else {
            c.args
        },
        alias_service: some(c.alias_service),
    })
}

pub async fn register_service(
    State(st): State<AppState>,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let s: AgentServiceBody = decode(&body)?;
    let spec = service_spec(s)?;
    let def = spec
        .build()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let who = st.rpc.identity(&p).await?;
    who.enforcer().service_write_allowed(&def.name)?;
    // A proxy also needs write on the service it fronts (Consul); a sidecar on its own name.
    if let Some(proxy) = &def.proxy
        && !proxy.destination_service_name.is_empty()
    {
        who.enforcer()
            .service_write_allowed(&proxy.destination_service_name)?;
    }
    if def.sidecar.is_some() {
        who.enforcer()
            .service_write_allowed(&format!("{}-sidecar-proxy", def.name))?;
    }
    // Replacing a service under another name needs write on the old name too.
    if let Some(old) = st.agent.services().iter().find(|x| x.id == def.id) {
        who.enforcer().service_write_allowed(&old.service)?;
    }
    st.agent
        .register_service(def, p.flag("replace-existing-checks"))
        .await?;
    Ok(().into_response())
}

pub async fn deregister_service(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    service_write_by_id(&st, &p, &id).await?;
    st.agent.deregister_service(&id).await?;
    Ok(().into_response())
}

pub async fn register_check(
    State(st): State<AppState>,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let c: AgentCheckBody = decode(&body)?;
    let def = check_spec(c)?
        .build()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    match def.service_id.as_deref().filter(|s| !s.is_empty()) {
        Some(sid) => service_write_by_id(&st, &p, sid).await?,
        None => node_write(&st, &p).await?,
    }
    st.agent.register_check(def).await?;
    Ok(().into_response())
}

pub async fn deregister_check(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    check_write(&st, &p, &id).await?;
    st.agent.deregister_check(&id).await?;
    Ok(().into_response())
}

/// `PUT /v1/agent/check/{pass,warn,fail}/<id>?note=` and `PUT /v1/agent/check/update/<id>`
/// with `{"Status", "Output"}`: set a TTL check's status.
pub async fn check_ttl(
    State(st): State<AppState>,
    Path((verb, id)): Path<(String, String)>,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let note = p.get("note").map(String::from);
    let (status, output) = match verb.as_str() {
        "pass" => (CheckStatus::Passing, note),
        "warn" => (CheckStatus::Warning, note),
        "fail" => (CheckStatus::Critical, note),
        "update" => {
            let b: CheckUpdateBody = decode(&body)?;
            let status = CheckStatus::parse(&b.status).map_err(|_| {
                ApiError::BadRequest(format!("Invalid check status: '{}'", b.status))
            })?;
            (status, Some(b.output))
        }
        _ => {
            return Err(ApiError::NotFound(format!(
                "unknown check operation {verb:?}"
            )));
        }
    };
    check_write(&st, &p, &id).await?;
    st.agent.update_ttl(&id, status, output).await?;
    Ok(().into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CheckUpdateBody {
    status: String,
    output: String,
}

/// The `?enable=` of the maintenance endpoints: required, a Go boolean.
fn maintenance_enable(p: &Params) -> ApiResult<bool> {
    match p.get("enable") {
        None | Some("") => Err(ApiError::BadRequest("Missing value for enable".into())),
        Some(v) => crate::params::parse_bool(v)
            .map_err(|_| ApiError::BadRequest(format!("Invalid value for enable: {v:?}"))),
    }
}

/// `PUT /v1/agent/maintenance?enable=<bool>&reason=`: node maintenance mode.
pub async fn node_maintenance(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let enable = maintenance_enable(&p)?;
    node_write(&st, &p).await?;
    st.agent
        .node_maintenance(enable, p.get("reason").unwrap_or(""))
        .await?;
    Ok(().into_response())
}

/// `PUT /v1/agent/service/maintenance/<id>?enable=<bool>&reason=`.
pub async fn service_maintenance(
    State(st): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Response> {
    let enable = maintenance_enable(&p)?;
    service_write_by_id(&st, &p, &id).await?;
    st.agent
        .service_maintenance(&id, enable, p.get("reason").unwrap_or(""))
        .await?;
    Ok(().into_response())
}

pub async fn reload(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    agent_write(&st, &p).await?;
    st.agent.reload().await?;
    Ok(().into_response())
}

pub async fn metrics(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    agent_read(&st, &p).await?;
    let mut all = st.agent.metrics();
    all.extend(st.http.metrics());
    if p.get("format") == Some("prometheus") {
        let mut r = prometheus_text(&all).into_response();
        r.headers_mut().insert(
            "Content-Type",
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return Ok(r);
    }
    Ok(axum::Json(metrics_json(&all)).into_response())
}

/// Consul's JSON metrics summary (go-metrics `MetricsSummary`).
fn metrics_json(all: &[Metric]) -> Value {
    let mut gauges = Vec::new();
    let mut counters = Vec::new();
    for m in all {
        let name = m.name.replace('_', ".");
        match m.kind {
            MetricKind::Gauge => gauges.push(json!({"Name": name, "Value": m.value, "Labels": m.labels})),
            MetricKind::Counter => counters.push(json!({
                "Name": name, "Count": m.value as u64, "Rate": 0.0, "Sum": m.value, "Min": 0.0, "Max": m.value,
                "Mean": 0.0, "Stddev": 0.0, "Labels": m.labels,
            })),
        }
    }
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    json!({"Timestamp": ts.to_string(), "Gauges": gauges, "Points": [], "Counters": counters, "Samples": []})
}

/// Prometheus text exposition format 0.0.4.
pub fn prometheus_text(all: &[Metric]) -> String {
    let mut out = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for m in all {
        if seen.insert(m.name.clone()) {
            let kind = match m.kind {
                MetricKind::Gauge => "gauge",
                MetricKind::Counter => "counter",
            };
            out.push_str(&format!(
                "# HELP {} {}\n# TYPE {} {}\n",
                m.name, m.help, m.name, kind
            ));
        }
        out.push_str(&m.name);
        if !m.labels.is_empty() {
            let labels: Vec<String> = m
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            out.push_str(&format!("{{{}}}", labels.join(",")));
        }
        out.push_str(&format!(" {}\n", m.value));
    }
    out
}

fn plugin_json(p: &crate::agent_api::PluginInfo) -> Value {
    json!({
        "Slot": p.slot,
        "World": p.world,
        "Component": p.component,
        "Source": p.source,
        "SHA256": p.sha256,
        "LoadedAt": p.loaded_at_unix,
        "Calls": p.calls,
        "Failures": p.failures,
        "ConsecutiveFailures": p.consecutive_failures,
        "State": p.state,
    })
}

/// `GET /v1/agent/plugins`: every policy slot and what is loaded in it.
pub async fn plugins(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .operator_read_allowed()?;
    Ok(axum::Json(
        st.agent
            .plugins()
            .iter()
            .map(plugin_json)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// `PUT /v1/agent/plugin/load?slot=NAME[&config=JSON]` with the component as the body.
pub async fn plugin_load(
    State(st): State<AppState>,
    parts: axum::http::request::Parts,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    plugin_write(&st, &p, &parts).await?;
    let slot = p
        .get("slot")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("Missing slot".into()))?;
    let config = p.get("config").filter(|c| !c.is_empty()).unwrap_or("{}");
    if !serde_json::from_str::<Value>(config).is_ok_and(|v| v.is_object()) {
        return Err(ApiError::BadRequest("config must be a JSON object".into()));
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "Missing component (request body)".into(),
        ));
    }
    let info = st.agent.load_plugin(slot, body.to_vec(), config).await?;
    Ok(axum::Json(plugin_json(&info)).into_response())
}

/// `PUT /v1/agent/plugin/revert?slot=NAME`: the slot's built-in comes back.
pub async fn plugin_revert(
    State(st): State<AppState>,
    parts: axum::http::request::Parts,
    p: Params,
) -> ApiResult<Response> {
    plugin_write(&st, &p, &parts).await?;
    let slot = p
        .get("slot")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("Missing slot".into()))?;
    let info = st.agent.revert_plugin(slot).await?;
    Ok(axum::Json(plugin_json(&info)).into_response())
}

/// `agent:read` on this agent's node.
async fn agent_read(st: &AppState, p: &Params) -> ApiResult<()> {
    let node = st.agent.node_name();
    Ok(st
        .rpc
        .identity(p)
        .await?
        .enforcer()
        .agent_read_allowed(&node)?)
}

/// `agent:write` on this agent's node.
pub(crate) async fn agent_write(st: &AppState, p: &Params) -> ApiResult<()> {
    let node = st.agent.node_name();
    Ok(st
        .rpc
        .identity(p)
        .await?
        .enforcer()
        .agent_write_allowed(&node)?)
}

/// `node:write` on this agent's node.
async fn node_write(st: &AppState, p: &Params) -> ApiResult<()> {
    let node = st.agent.node_name();
    Ok(st
        .rpc
        .identity(p)
        .await?
        .enforcer()
        .node_write_allowed(&node)?)
}

/// `service:write` on the service registered here under `id` (an unknown ID is left to the
/// handler, which answers 404).
async fn service_write_by_id(st: &AppState, p: &Params, id: &str) -> ApiResult<()> {
    let who = st.rpc.identity(p).await?;
    if let Some(s) = st.agent.services().iter().find(|s| s.id == id) {
        who.enforcer().service_write_allowed(&s.service)?;
    }
    Ok(())
}

/// `service:write` for a service check, `node:write` for a node check.
async fn check_write(st: &AppState, p: &Params, id: &str) -> ApiResult<()> {
    let who = st.rpc.identity(p).await?;
    if let Some(c) = st.agent.checks().iter().find(|c| c.check_id == id) {
        if c.service_name.is_empty() {
            who.enforcer().node_write_allowed(&c.node)?;
        } else {
            who.enforcer().service_write_allowed(&c.service_name)?;
        }
    }
    Ok(())
}

/// Loading or reverting code needs `operator:write`; with ACLs off, only a caller on a
/// loopback address may do it unless `enable_remote_plugin_load` opens it.
async fn plugin_write(
    st: &AppState,
    p: &Params,
    parts: &axum::http::request::Parts,
) -> ApiResult<()> {
    if !st.rpc.inner().acl_settings().enabled && !st.agent.remote_plugin_load() {
        let remote = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if !remote.is_some_and(|ip| ip.is_loopback()) {
            return Err(ApiError::Forbidden(
                "Permission denied: loading plugins over HTTP is allowed only from a loopback address when ACLs are disabled (set enable_remote_plugin_load to allow it)".into(),
            ));
        }
    }
    Ok(st
        .rpc
        .identity(p)
        .await?
        .enforcer()
        .operator_write_allowed()?)
}

/// `X-Consul-Results-Filtered-By-ACLs: true` when an agent-local listing dropped something and
/// the request had an effective token (Consul's agent endpoints).
pub(crate) fn filtered_header(r: &mut Response, filtered: bool, st: &AppState, p: &Params) {
    if filtered && !st.rpc.secret(p).is_empty() {
        r.headers_mut().insert(
            "X-Consul-Results-Filtered-By-ACLs",
            HeaderValue::from_static("true"),
        );
    }
}
