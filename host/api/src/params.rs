//! Consul's common query parameters: `?dc`, blocking (`?index`, `?wait`), consistency
//! (`?stale`, `?consistent`), and the response headers that go with them.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue};
use praetor_rpc::{Consistency, QueryRequest, QueryResponse};
use praetor_state::Query;

use crate::error::{ApiError, ApiResult};

/// Parsed query string: a flat map (`?recurse` maps to "").
#[derive(Clone, Debug, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// A flag such as `?recurse` or `?recurse=true` (`=false` turns it off).
    pub fn flag(&self, k: &str) -> bool {
        match self.0.get(k) {
            Some(v) => v != "false" && v != "0",
            None => false,
        }
    }

    /// The target datacenter (`?datacenter` wins over `?dc`, as in Consul); `None` = local.
    pub fn dc(&self) -> Option<&str> {
        let non_empty = |k| self.get(k).filter(|d| !d.is_empty());
        non_empty("datacenter").or_else(|| non_empty("dc"))
    }

    pub fn u64(&self, k: &str, what: &str) -> ApiResult<Option<u64>> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("Invalid {what}"))),
        }
    }

    /// Builds a read request with the blocking and consistency parameters.
    pub fn query(&self, query: Query) -> ApiResult<QueryRequest> {
        let stale = self.flag("stale");
        let consistent = self.flag("consistent");
        if stale && consistent {
            return Err(ApiError::BadRequest(
                "Cannot specify ?stale with ?consistent, conflicting semantics.".into(),
            ));
        }
        let min_index = self.u64("index", "index")?.unwrap_or(0);
        let wait_ms = match self.get("wait") {
            None | Some("") => 0,
            Some(w) => praetor_config::parse_duration(w)
                .map_err(|_| ApiError::BadRequest("Invalid wait time".into()))?
                .as_millis() as u64,
        };
        let consistency = if stale {
            Consistency::Stale
        } else if consistent {
            Consistency::Consistent
        } else {
            Consistency::Default
        };
        Ok(QueryRequest {
            query,
            consistency,
            min_index,
            wait_ms,
        })
    }
}

/// The headers Consul puts on every answer to a read.
pub fn query_headers(resp: &QueryResponse) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "X-Consul-Index",
        HeaderValue::from(resp.output.index.max(1)),
    );
    h.insert(
        "X-Consul-KnownLeader",
        HeaderValue::from_static(if resp.known_leader { "true" } else { "false" }),
    );
    h.insert(
        "X-Consul-LastContact",
        HeaderValue::from(resp.last_contact_ms),
    );
    h.insert(
        "X-Consul-Effective-Consistency",
        HeaderValue::from_static(resp.consistency.as_str()),
    );
    h
}
