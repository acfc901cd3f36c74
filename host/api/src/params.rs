//! Consul's common query parameters: `?dc`, blocking (`?index`, `?wait`), consistency
//! (`?stale`, `?consistent`), and the response headers that go with them.

use std::collections::{BTreeMap, HashMap};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use praetor_filter::Filter;
use praetor_rpc::{Consistency, QueryRequest, QueryResponse};
use praetor_state::Query;

use crate::error::{ApiError, ApiResult};

/// Parsed query string: a flat map (`?recurse` maps to ""; a repeated name keeps its last
/// value, as Go's `Query().Get` does not: Consul reads the first, which no client relies on),
/// plus every pair in order for the parameters Consul reads repeatedly (`?node-meta=`).
#[derive(Clone, Debug, Default)]
pub struct Params {
    map: HashMap<String, String>,
    pairs: Vec<(String, String)>,
    /// The request's ACL secret, if it gave one (`?token=`, `X-Consul-Token`,
    /// `Authorization: Bearer`, first hit wins as in Consul).
    token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut p = Params::from_query(parts.uri.query().unwrap_or(""))?;
        p.token = request_token(&p, &parts.headers);
        Ok(p)
    }
}

impl Params {
    /// Decodes a raw query string (`a=1&b&c=%20`).
    pub fn from_query(raw: &str) -> ApiResult<Params> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|e| ApiError::BadRequest(format!("Failed to decode query: {e}")))?;
        Ok(Params {
            map: pairs.iter().cloned().collect(),
            pairs,
            token: None,
        })
    }

    /// The secret the request carried, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Every value of a repeated parameter (`?name=a&name=b`), in order.
    pub fn all(&self, k: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }

    /// `?filter=`: `None` when absent or empty; a malformed expression is a 400 with
    /// go-bexpr's message.
    pub fn filter(&self) -> ApiResult<Option<Filter>> {
        match self.get("filter") {
            None | Some("") => Ok(None),
            Some(expr) => praetor_filter::parse(expr)
                .map(Some)
                .map_err(|e| ApiError::BadRequest(e.to_string())),
        }
    }

    /// `?node-meta=key:value`, repeatable (Consul's `parseMetaFilter`): split at the first
    /// colon (no colon is an empty value); a repeated key keeps the last value.
    pub fn node_meta(&self) -> BTreeMap<String, String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == "node-meta")
            .map(|(_, v)| match v.split_once(':') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (v.clone(), String::new()),
            })
            .collect()
    }

    /// A flag such as `?recurse` or `?recurse=true` (`=false` turns it off).
    pub fn flag(&self, k: &str) -> bool {
        match self.map.get(k) {
            Some(v) => v != "false" && v != "0",
            None => false,
        }
    }

    /// The target datacenter (`?datacenter` wins over `?dc`, as in Consul); `None` = local.
    pub fn dc(&self) -> Option<&str> {
        let non_empty = |k| self.get(k).filter(|d| !d.is_empty());
        non_empty("datacenter").or_else(|| non_empty("dc"))
    }

    /// Whether the parameter is present at all, with or without a value (Consul's
    /// `_, ok := query["prune"]`: `?wan` on force-leave, `?prune`, `?segment` filters).
    pub fn has(&self, k: &str) -> bool {
        self.map.contains_key(k)
    }

    /// Whether the parameter has a non-empty value (Consul's `Get(k) != ""`: `?wan` on
    /// members and join, where a bare `?wan` means LAN and even `?wan=0` means WAN).
    pub fn non_empty(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| !v.is_empty())
    }

    /// `?near=<node>` (Consul's `parseSource`): the node to sort by round-trip time from;
    /// `_agent` is this agent's node; an empty value is no sorting.
    pub fn near(&self, agent_node: &str) -> Option<String> {
        match self.get("near") {
            None | Some("") => None,
            Some("_agent") => Some(agent_node.to_string()),
            Some(n) => Some(n.to_string()),
        }
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
            near: None,
        })
    }
}

/// Go's `strconv.ParseBool`, with its error text.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// The headers Consul puts on every answer to a read.
pub fn query_headers(resp: &QueryResponse) -> HeaderMap {
    let mut h = meta_headers(
        resp.output.index,
        resp.known_leader,
        resp.last_contact_ms,
        resp.consistency,
    );
    if resp.results_filtered {
        h.insert(
            "X-Consul-Results-Filtered-By-ACLs",
            HeaderValue::from_static("true"),
        );
    }
    h
}

/// Consul's token sources (`agent/http.go` `parseTokenInternal`): `?token=`, then
/// `X-Consul-Token`, then `Authorization: Bearer <secret>` (scheme case-insensitive).
fn request_token(p: &Params, headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(t) = p.get("token").filter(|t| !t.is_empty()) {
        tracing::warn!(
            "This request used the token query parameter which is deprecated and will be removed in a future Consul version"
        );
        return Some(t.to_string());
    }
    if let Some(t) = headers
        .get("X-Consul-Token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    {
        return Some(t.to_string());
    }
    let auth = headers.get("Authorization")?.to_str().ok()?;
    let mut words = auth.split_whitespace();
    let scheme = words.next()?;
    let value = words.next()?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| value.to_string())
}

/// [`query_headers`] from the parts, for answers that are not a `QueryResponse`.
pub fn meta_headers(
    index: u64,
    known_leader: bool,
    last_contact_ms: u64,
    consistency: Consistency,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("X-Consul-Index", HeaderValue::from(index.max(1)));
    h.insert(
        "X-Consul-KnownLeader",
        HeaderValue::from_static(if known_leader { "true" } else { "false" }),
    );
    h.insert("X-Consul-LastContact", HeaderValue::from(last_contact_ms));
    h.insert(
        "X-Consul-Effective-Consistency",
        HeaderValue::from_static(consistency.as_str()),
    );
    h
}

#[cfg(test)]
impl Params {
    /// Query parameters from `(name, value)` pairs, for tests.
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params {
            map: pairs.iter().cloned().collect(),
            pairs,
            token: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn near_resolves_agent_and_ignores_empty() {
        assert_eq!(params(&[]).near("me"), None);
        assert_eq!(params(&[("near", "")]).near("me"), None);
        assert_eq!(
            params(&[("near", "_agent")]).near("me").as_deref(),
            Some("me")
        );
        assert_eq!(
            params(&[("near", "web-1")]).near("me").as_deref(),
            Some("web-1")
        );
    }

    #[test]
    fn near_travels_in_the_query_request() {
        let p = params(&[("near", "_agent"), ("stale", ""), ("index", "7")]);
        let mut req = p.query(Query::CatalogNodes).expect("valid");
        req.near = p.near("agent-1");
        assert_eq!(req.near.as_deref(), Some("agent-1"));
        assert_eq!(req.consistency, Consistency::Stale);
        assert_eq!(req.min_index, 7);
        assert_eq!(
            params(&[]).query(Query::CatalogNodes).expect("valid").near,
            None
        );
    }

    #[test]
    fn presence_and_non_empty_values() {
        // `?wan` bare: present (force-leave: WAN) but empty (members, join: LAN).
        let bare = params(&[("wan", "")]);
        assert!(bare.has("wan"));
        assert!(!bare.non_empty("wan"));
        // `?wan=0`: WAN for members and join, as in Consul.
        assert!(params(&[("wan", "0")]).non_empty("wan"));
        assert!(!params(&[]).has("wan"));
        assert!(!params(&[]).non_empty("wan"));
    }

    #[test]
    fn datacenter_prefers_datacenter_over_dc() {
        assert_eq!(params(&[("dc", "dc2")]).dc(), Some("dc2"));
        assert_eq!(
            params(&[("dc", "dc2"), ("datacenter", "dc3")]).dc(),
            Some("dc3")
        );
        assert_eq!(params(&[("dc", "")]).dc(), None);
    }
}
