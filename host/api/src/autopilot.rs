//! `/v1/operator/autopilot/*`: the stored configuration (read, replace, check-and-set) and the
//! leader's health view of the servers, in Consul's JSON.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use praetor_config::{format_duration, parse_duration};
use praetor_rpc::{AutopilotHealth, Request, Response as RpcResponse};
use praetor_state::{AutopilotConfig, Command, CommandResult, Query as Q, QueryResult};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::decode::{Unknown, from_slice};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, query_headers};

fn go_ms(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

fn config_json(c: &AutopilotConfig) -> Value {
    json!({
        "CleanupDeadServers": c.cleanup_dead_servers,
        "LastContactThreshold": go_ms(c.last_contact_threshold_ms),
        "MaxTrailingLogs": c.max_trailing_logs,
        "MinQuorum": c.min_quorum,
        "ServerStabilizationTime": go_ms(c.server_stabilization_time_ms),
        "RedundancyZoneTag": c.redundancy_zone_tag,
        "DisableUpgradeMigration": c.disable_upgrade_migration,
        "UpgradeVersionTag": c.upgrade_version_tag,
        "CreateIndex": c.create_index,
        "ModifyIndex": c.modify_index,
    })
}

/// `GET /v1/operator/autopilot/configuration`
pub async fn get_config(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let resp = st
        .rpc
        .query(&p, p.dc(), p.query(Q::AutopilotConfig)?)
        .await?;
    match &resp.output.result {
        QueryResult::Autopilot(Some(c)) => {
            Ok((query_headers(&resp), axum::Json(config_json(c))).into_response())
        }
        QueryResult::Autopilot(None) => Err(ApiError::Internal(
            "autopilot config not initialized yet".into(),
        )),
        r => Err(ApiError::unexpected_result(r)),
    }
}

/// The PUT body: Consul decodes it onto the defaults, so omitted fields reset.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConfigBody {
    cleanup_dead_servers: bool,
    last_contact_threshold: Value,
    max_trailing_logs: u64,
    min_quorum: u32,
    server_stabilization_time: Value,
    redundancy_zone_tag: String,
    disable_upgrade_migration: bool,
    upgrade_version_tag: String,
    #[serde(rename = "CreateIndex")]
    _create_index: u64,
    #[serde(rename = "ModifyIndex")]
    _modify_index: u64,
}

impl Default for ConfigBody {
    fn default() -> Self {
        let d = AutopilotConfig::default();
        ConfigBody {
            cleanup_dead_servers: d.cleanup_dead_servers,
            last_contact_threshold: json!(go_ms(d.last_contact_threshold_ms)),
            max_trailing_logs: d.max_trailing_logs,
            min_quorum: d.min_quorum,
            server_stabilization_time: json!(go_ms(d.server_stabilization_time_ms)),
            redundancy_zone_tag: String::new(),
            disable_upgrade_migration: false,
            upgrade_version_tag: String::new(),
            _create_index: 0,
            _modify_index: 0,
        }
    }
}

/// Consul's `ReadableDuration`: a Go duration string or a number of nanoseconds.
fn duration_ms(v: &Value, field: &str) -> Result<u64, String> {
    match v {
        Value::String(s) => parse_duration(s)
            .map(|d| d.as_millis() as u64)
            .map_err(|e| format!("{field}: {e}")),
        Value::Number(n) => n
            .as_u64()
            .map(|ns| ns / 1_000_000)
            .ok_or_else(|| format!("{field}: invalid duration {n}")),
        other => Err(format!("{field}: invalid duration {other}")),
    }
}

/// `PUT /v1/operator/autopilot/configuration[?cas=<index>]`: `true`, or with `cas` whether
/// the stored configuration still had that index.
pub async fn set_config(State(st): State<AppState>, p: Params, body: Bytes) -> ApiResult<Response> {
    let bad = |e: String| ApiError::BadRequest(format!("Error parsing autopilot config: {e}"));
    let b: ConfigBody = from_slice(&body, Unknown::Reject).map_err(|e| bad(e.to_string()))?;
    let config = AutopilotConfig {
        cleanup_dead_servers: b.cleanup_dead_servers,
        last_contact_threshold_ms: duration_ms(&b.last_contact_threshold, "LastContactThreshold")
            .map_err(bad)?,
        max_trailing_logs: b.max_trailing_logs,
        min_quorum: b.min_quorum,
        server_stabilization_time_ms: duration_ms(
            &b.server_stabilization_time,
            "ServerStabilizationTime",
        )
        .map_err(bad)?,
        redundancy_zone_tag: b.redundancy_zone_tag,
        disable_upgrade_migration: b.disable_upgrade_migration,
        upgrade_version_tag: b.upgrade_version_tag,
        create_index: 0,
        modify_index: 0,
    };
    let cas = match p.get("cas") {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|e| ApiError::BadRequest(format!("Error parsing cas value: {e}")))?,
        ),
    };
    match st
        .rpc
        .apply(&p, p.dc(), Command::AutopilotSetConfig { config, cas })
        .await?
    {
        CommandResult::Bool(ok) => Ok(axum::Json(ok).into_response()),
        CommandResult::Error(e) => Err(ApiError::Internal(e)),
        other => Err(ApiError::unexpected_result(&other)),
    }
}

async fn health_of(st: &AppState, p: &Params) -> ApiResult<AutopilotHealth> {
    match st.rpc.call(p, p.dc(), Request::AutopilotHealth).await? {
        RpcResponse::AutopilotHealth(h) => Ok(h),
        other => Err(ApiError::unexpected_response(&other)),
    }
}

fn rfc3339_ms(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

/// `GET /v1/operator/autopilot/health`: 429 when the datacenter is not healthy.
pub async fn health(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let h = health_of(&st, &p).await?;
    let servers: Vec<Value> = h
        .servers
        .iter()
        .map(|s| {
            let stats = s.stats.clone().unwrap_or_default();
            json!({
                "ID": s.id,
                "Name": s.name,
                "Address": s.address,
                "SerfStatus": s.serf_status,
                "Version": s.version,
                "Leader": s.leader,
                "LastContact": go_ms(stats.last_contact_ms.unwrap_or(0)),
                "LastTerm": stats.last_term,
                "LastIndex": stats.last_index,
                "Healthy": s.healthy,
                "Voter": s.voter,
                "StableSince": rfc3339_ms(s.stable_since_ms),
            })
        })
        .collect();
    let code = if h.healthy {
        StatusCode::OK
    } else {
        StatusCode::TOO_MANY_REQUESTS
    };
    let body = json!({
        "Healthy": h.healthy,
        "FailureTolerance": h.failure_tolerance,
        "Servers": servers,
    });
    Ok((code, axum::Json(body)).into_response())
}

/// `GET /v1/operator/autopilot/state`
pub async fn state(State(st): State<AppState>, p: Params) -> ApiResult<Response> {
    let h = health_of(&st, &p).await?;
    let mut servers = serde_json::Map::new();
    let mut leader = String::new();
    let mut voters = Vec::new();
    for s in &h.servers {
        let stats = s.stats.clone().unwrap_or_default();
        let status = if s.leader {
            leader = s.id.clone();
            "leader"
        } else if s.voter {
            "voter"
        } else {
            "non-voter"
        };
        if s.voter {
            voters.push(s.id.clone());
        }
        servers.insert(
            s.id.clone(),
            json!({
                "ID": s.id,
                "Name": s.name,
                "Address": s.address,
                "NodeStatus": s.serf_status,
                "Version": s.version,
                "LastContact": go_ms(stats.last_contact_ms.unwrap_or(0)),
                "LastTerm": stats.last_term,
                "LastIndex": stats.last_index,
                "Healthy": s.healthy,
                "StableSince": rfc3339_ms(s.stable_since_ms),
                "ReadReplica": false,
                "Status": status,
                "Meta": {},
                "NodeType": "voter",
            }),
        );
    }
    Ok(axum::Json(json!({
        "Healthy": h.healthy,
        "FailureTolerance": h.failure_tolerance,
        "OptimisticFailureTolerance": h.failure_tolerance,
        "Servers": servers,
        "Leader": leader,
        "Voters": voters,
    }))
    .into_response())
}
