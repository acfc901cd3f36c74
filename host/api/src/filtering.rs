//! `?filter=` and `?node-meta=` on listings: the expression is parsed once per request, its
//! top-level selectors checked against the fields of the listed type (go-bexpr's `Selector
//! "X" is not valid`), then evaluated on each rendered JSON element.

use std::collections::BTreeMap;

use praetor_filter::Filter;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;

/// Consul's `structs.Node` fields (`RaftIndex` is not selectable).
pub const NODE: &[&str] = &[
    "ID",
    "Node",
    "Address",
    "Datacenter",
    "Partition",
    "PeerName",
    "TaggedAddresses",
    "Meta",
    "Locality",
];

/// Consul's `structs.ServiceNode` fields.
pub const SERVICE_NODE: &[&str] = &[
    "ID",
    "Node",
    "Address",
    "Datacenter",
    "TaggedAddresses",
    "NodeMeta",
    "ServiceKind",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "ServiceAddress",
    "ServiceTaggedAddresses",
    "ServiceWeights",
    "ServiceMeta",
    "ServicePort",
    "ServiceSocketPath",
    "ServiceEnableTagOverride",
    "ServiceProxy",
    "ServiceConnect",
    "ServiceLocality",
    "PeerName",
    "Partition",
    "Namespace",
];

/// Consul's `structs.NodeService` / `api.AgentService` fields.
pub const NODE_SERVICE: &[&str] = &[
    "Kind",
    "ID",
    "Service",
    "Tags",
    "Address",
    "TaggedAddresses",
    "Meta",
    "Port",
    "SocketPath",
    "Weights",
    "EnableTagOverride",
    "Proxy",
    "Connect",
    "Locality",
    "PeerName",
    "Namespace",
    "Partition",
    "Datacenter",
    "ContentHash",
];

/// Consul's `structs.HealthCheck` fields.
pub const HEALTH_CHECK: &[&str] = &[
    "Node",
    "CheckID",
    "Name",
    "Status",
    "Notes",
    "Output",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "Type",
    "Interval",
    "Timeout",
    "ExposedPort",
    "Definition",
    "PeerName",
    "Namespace",
    "Partition",
];

/// Consul's `structs.CheckServiceNode` fields.
pub const CHECK_SERVICE_NODE: &[&str] = &["Node", "Service", "Checks"];

/// `serf.Member` fields (`/v1/agent/members`).
pub const MEMBER: &[&str] = &[
    "Name",
    "Addr",
    "Port",
    "Tags",
    "Status",
    "ProtocolMin",
    "ProtocolMax",
    "ProtocolCur",
    "DelegateMin",
    "DelegateMax",
    "DelegateCur",
];

/// A request's `?filter=` and `?node-meta=`.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    filter: Option<Filter>,
    node_meta: BTreeMap<String, String>,
}

impl ListFilter {
    /// Reads both parameters; with `fields`, a top-level selector that is not one of them is a
    /// 400 (Consul validates selectors against the listed Go type). `None` skips the check,
    /// as Consul does for `/v1/agent/checks`.
    pub fn from_params(p: &Params, fields: Option<&[&str]>) -> ApiResult<ListFilter> {
        let filter = p.filter()?;
        if let (Some(f), Some(fields)) = (&filter, fields) {
            check_selectors(f, fields)?;
        }
        Ok(ListFilter {
            filter,
            node_meta: p.node_meta(),
        })
    }

    /// Whether there is nothing to filter on.
    pub fn is_empty(&self) -> bool {
        self.filter.is_none() && self.node_meta.is_empty()
    }

    /// Whether `?node-meta=` is given.
    pub fn has_node_meta(&self) -> bool {
        !self.node_meta.is_empty()
    }

    /// Consul's `SatisfiesMetaFilters`: every requested key present with exactly that value.
    pub fn meta_matches(&self, meta: &BTreeMap<String, String>) -> bool {
        self.node_meta
            .iter()
            .all(|(k, v)| meta.get(k).is_some_and(|m| m == v))
    }

    /// The elements the expression keeps; an evaluation error fails the request (500, with
    /// go-bexpr's text), as in Consul.
    pub fn apply(&self, items: Vec<Value>) -> ApiResult<Vec<Value>> {
        match &self.filter {
            None => Ok(items),
            Some(f) => f
                .filter_values(items)
                .map_err(|e| ApiError::Internal(e.to_string())),
        }
    }

    /// [`ListFilter::apply`] over the values of a map (Consul filters `/v1/agent/services`
    /// and `/v1/catalog/node/<n>` this way).
    pub fn apply_map(&self, items: BTreeMap<String, Value>) -> ApiResult<BTreeMap<String, Value>> {
        let Some(f) = &self.filter else {
            return Ok(items);
        };
        let mut kept = BTreeMap::new();
        for (k, v) in items {
            if f.evaluate(&v)
                .map_err(|e| ApiError::Internal(e.to_string()))?
            {
                kept.insert(k, v);
            }
        }
        Ok(kept)
    }
}

/// go-bexpr's field validation, for the first segment of each selector.
fn check_selectors(f: &Filter, fields: &[&str]) -> ApiResult<()> {
    for path in f.selectors() {
        if let Some(first) = path.first()
            && !fields.contains(&first.as_str())
        {
            return Err(ApiError::BadRequest(format!(
                "Failed to create boolean expression evaluator: Selector \"{}\" is not valid",
                path.join(".")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lf(pairs: &[(&str, &str)], fields: Option<&[&str]>) -> ApiResult<ListFilter> {
        ListFilter::from_params(&Params::from_pairs(pairs), fields)
    }

    #[test]
    fn malformed_expression_is_a_400_with_bexpr_text() {
        let err = lf(&[("filter", "Node ==")], Some(NODE)).unwrap_err();
        assert!(matches!(&err, ApiError::BadRequest(m)
            if m.starts_with("Failed to create boolean expression evaluator: ")));
    }

    #[test]
    fn unknown_selector_is_refused_only_for_typed_listings() {
        let err = lf(&[("filter", "Nope == x")], Some(NODE)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Failed to create boolean expression evaluator: Selector \"Nope\" is not valid"
        );
        assert!(lf(&[("filter", "Nope == x")], None).is_ok());
    }

    #[test]
    fn filters_elements_and_map_values() {
        let f = lf(&[("filter", "Meta.env == prod")], Some(NODE)).unwrap();
        let items = vec![json!({"Meta": {"env": "prod"}}), json!({"Meta": {}})];
        assert_eq!(f.apply(items).unwrap().len(), 1);
        let m = BTreeMap::from([
            ("a".to_string(), json!({"Meta": {"env": "dev"}})),
            ("b".to_string(), json!({"Meta": {"env": "prod"}})),
        ]);
        assert_eq!(f.apply_map(m).unwrap().keys().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn node_meta_is_and_of_exact_pairs_and_repeatable() {
        let f = lf(&[("node-meta", "env:prod"), ("node-meta", "rack:r1")], None).unwrap();
        let meta = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(f.meta_matches(&meta(&[("env", "prod"), ("rack", "r1"), ("x", "y")])));
        assert!(!f.meta_matches(&meta(&[("env", "prod")])));
        assert!(!f.meta_matches(&meta(&[("env", "prod"), ("rack", "r10")])));
        let bare = lf(&[("node-meta", "flag")], None).unwrap();
        assert!(bare.meta_matches(&meta(&[("flag", "")])));
        assert!(!bare.meta_matches(&meta(&[])));
    }
}
