//! `/v1/operator/keyring`: gossip encryption keys of the LAN and WAN pools. GET lists, POST
//! installs, PUT makes a key primary, DELETE removes; the operation runs on a server of this
//! datacenter, which relays it to every other known datacenter unless `?local-only`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use praetor_rpc::{KeyringOp, KeyringResponse, Request, Response as RpcResponse};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::json::{self, KeyringRequestBody, decode};
use crate::params::Params;

/// Consul's largest relay factor.
const MAX_RELAY_FACTOR: i64 = 5;

/// Go's `strconv.Atoi` error text.
fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {s:?}: {why}")
    })
}

/// `?relay-factor` (accepted and validated as Consul does; responses are not relayed
/// through other members here) and `?local-only` (list only).
fn keyring_params(p: &Params, method: &Method) -> ApiResult<bool> {
    if let Some(rf) = p.get("relay-factor").filter(|v| !v.is_empty()) {
        let n = atoi(rf)
            .map_err(|e| ApiError::BadRequest(format!("Error parsing relay factor: {e}")))?;
        if !(0..=MAX_RELAY_FACTOR).contains(&n) {
            return Err(ApiError::BadRequest(
                "Invalid relay-factor: Relay factor must be in range: [0, 5]".into(),
            ));
        }
    }
    let mut local_only = false;
    if let Some(lo) = p.get("local-only").filter(|v| !v.is_empty()) {
        local_only = crate::params::parse_bool(lo)
            .map_err(|e| ApiError::BadRequest(format!("Error parsing local-only: {e}")))?;
        if local_only && method != Method::GET {
            return Err(ApiError::BadRequest(
                "Invalid use of local-only: local-only can only be set for list requests".into(),
            ));
        }
    }
    Ok(local_only)
}

/// Consul's `keyringErrorsOrNil`: every pool that reported an error, with its members'
/// messages, in go-multierror's format.
pub(crate) fn keyring_errors(responses: &[KeyringResponse]) -> Option<String> {
    let mut errors = Vec::new();
    for r in responses.iter().filter(|r| !r.error.is_empty()) {
        let mut pool = if r.wan {
            "WAN".to_string()
        } else {
            format!("{} (LAN)", r.datacenter)
        };
        if !r.segment.is_empty() {
            pool.push_str(&format!(" [segment: {}]", r.segment));
        }
        errors.push(format!("{pool} error: {}", r.error));
        for (member, message) in &r.messages {
            errors.push(format!("{member}: {message}"));
        }
    }
    match errors.len() {
        0 => None,
        1 => Some(format!("1 error occurred:\n\t* {}\n\n", errors[0])),
        n => Some(format!(
            "{n} errors occurred:\n\t{}\n\n",
            errors
                .iter()
                .map(|e| format!("* {e}"))
                .collect::<Vec<_>>()
                .join("\n\t")
        )),
    }
}

/// `GET|POST|PUT|DELETE /v1/operator/keyring`
pub async fn keyring(
    State(st): State<AppState>,
    method: Method,
    p: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let writes = method == Method::POST || method == Method::PUT || method == Method::DELETE;
    let key = if writes {
        decode::<KeyringRequestBody>(&body)?.key
    } else {
        String::new()
    };
    let local_only = keyring_params(&p, &method)?;
    let op = match method {
        Method::GET => KeyringOp::List,
        Method::POST => KeyringOp::Install(key),
        Method::PUT => KeyringOp::Use(key),
        Method::DELETE => KeyringOp::Remove(key),
        other => return Err(ApiError::MethodNotAllowed(other.to_string())),
    };
    let list = op == KeyringOp::List;
    let request = Request::Keyring {
        op,
        relay: !local_only,
    };
    let responses = match st.rpc.call(&p, None, request).await? {
        RpcResponse::Keyring(r) => r,
        other => return Err(ApiError::unexpected_response(&other)),
    };
    if let Some(e) = keyring_errors(&responses) {
        return Err(ApiError::Internal(e));
    }
    if list {
        let body: Vec<_> = responses.iter().map(json::keyring_response).collect();
        return Ok(axum::Json(body).into_response());
    }
    Ok(().into_response())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    fn bad_request(r: ApiResult<bool>) -> String {
        match r {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn relay_factor_and_local_only_follow_consul() {
        assert_eq!(keyring_params(&params(&[]), &Method::GET).ok(), Some(false));
        assert_eq!(
            keyring_params(&params(&[("local-only", "true")]), &Method::GET).ok(),
            Some(true)
        );
        assert_eq!(
            keyring_params(
                &params(&[("local-only", "0"), ("relay-factor", "5")]),
                &Method::PUT
            )
            .ok(),
            Some(false)
        );
        assert_eq!(
            bad_request(keyring_params(
                &params(&[("relay-factor", "x")]),
                &Method::GET
            )),
            "Error parsing relay factor: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            bad_request(keyring_params(
                &params(&[("relay-factor", "6")]),
                &Method::GET
            )),
            "Invalid relay-factor: Relay factor must be in range: [0, 5]"
        );
        assert_eq!(
            bad_request(keyring_params(
                &params(&[("local-only", "yes")]),
                &Method::GET
            )),
            "Error parsing local-only: strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(
            bad_request(keyring_params(
                &params(&[("local-only", "true")]),
                &Method::POST
            )),
            "Invalid use of local-only: local-only can only be set for list requests"
        );
    }

    fn response(dc: &str, wan: bool, error: &str, messages: &[(&str, &str)]) -> KeyringResponse {
        KeyringResponse {
            wan,
            datacenter: dc.into(),
            error: error.into(),
            messages: messages
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            num_nodes: 2,
            ..Default::default()
        }
    }

    #[test]
    fn errors_are_combined_like_go_multierror() {
        assert_eq!(keyring_errors(&[response("dc1", false, "", &[])]), None);
        assert_eq!(
            keyring_errors(&[response("dc2", false, "No path to datacenter", &[])]).as_deref(),
            Some("1 error occurred:\n\t* dc2 (LAN) error: No path to datacenter\n\n")
        );
        let mut seg = response("dc1", false, "1/2 nodes reported failure", &[("b", "bad")]);
        seg.segment = "alpha".into();
        assert_eq!(
            keyring_errors(&[
                response(
                    "dc1",
                    true,
                    "1/2 nodes reported failure",
                    &[("a.dc1", "key not found")]
                ),
                response("dc1", false, "", &[("ignored", "no error in this pool")]),
                seg,
            ])
            .as_deref(),
            Some(
                "4 errors occurred:\n\
                 \t* WAN error: 1/2 nodes reported failure\n\
                 \t* a.dc1: key not found\n\
                 \t* dc1 (LAN) [segment: alpha] error: 1/2 nodes reported failure\n\
                 \t* b: bad\n\n"
            )
        );
    }
}
