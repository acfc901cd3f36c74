//! Intentions as Consul stores them since 1.9: sources of `service-intentions` entries named
//! after the destination. Validation, the legacy `Intention` view the intention API answers,
//! and the set handed to the `intentions` plugin slot.

use std::collections::{BTreeMap, BTreeSet};

use praetor_policy as policy;
use serde_json::{Value, json};

use crate::MeshError;
use crate::entry::{IntentionPermission, ServiceIntentions, SourceIntention};

/// The namespace (and partition) of every name in praetor (Consul CE).
pub const DEFAULT_NS: &str = "default";
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn invalid(msg: String) -> MeshError {
    MeshError::Invalid(msg)
}

fn check_wildcard(field: &str, name: &str) -> Result<(), MeshError> {
    if name != "*" && name.contains('*') {
        return Err(invalid(format!(
            "{field}: wildcard character '*' cannot be used with partial values"
        )));
    }
    Ok(())
}

/// Consul's `Normalize` + `Validate` of a `service-intentions` entry written through
/// `/v1/config` (a `LegacyID` is refused) or, with `legacy`, through the intention API.
pub fn normalize_and_validate_with(
    e: &mut ServiceIntentions,
    legacy: bool,
) -> Result<(), MeshError> {
    if e.name.is_empty() {
        return Err(invalid("Name is required".into()));
    }
    check_wildcard("Name", &e.name)?;
    if e.sources.is_empty() {
        return Err(invalid("At least one source is required".into()));
    }
    let mut seen = BTreeSet::new();
    for (i, src) in e.sources.iter_mut().enumerate() {
        let at = format!("Sources[{i}]");
        if src.name.is_empty() {
            return Err(invalid(format!("{at}.Name is required")));
        }
        check_wildcard(&format!("{at}.Name"), &src.name)?;
        if !seen.insert((src.peer.clone(), src.name.clone())) {
            return Err(invalid(format!(
                "{at} defines {:?} more than once",
                src.name
            )));
        }
        if src.source_type.is_empty() {
            src.source_type = "consul".into();
        }
        if src.source_type != "consul" {
            return Err(invalid(format!("{at}.Type must be set to 'consul'")));
        }
        if !legacy && !src.legacy_id.is_empty() {
            return Err(invalid(format!("{at}.LegacyID must be omitted")));
        }
        src.action = src.action.to_ascii_lowercase();
        if src.permissions.is_empty() {
            if src.action != "allow" && src.action != "deny" {
                return Err(invalid(format!(
                    "{at}.Action must be set to 'allow' or 'deny'"
                )));
            }
        } else {
            if !src.action.is_empty() {
                return Err(invalid(format!(
                    "{at}.Action must be omitted if Permissions are specified"
                )));
            }
            if e.name == "*" {
                return Err(invalid(format!(
                    "{at}.Permissions cannot be specified on intentions with wildcarded destinations"
                )));
            }
            for (j, p) in src.permissions.iter_mut().enumerate() {
                validate_permission(p, &format!("{at}.Permissions[{j}]"))?;
            }
        }
        src.precedence = precedence(&src.name, &e.name);
    }
    // Highest precedence first; equal ones keep their order.
    e.sources.sort_by_key(|s| std::cmp::Reverse(s.precedence));
    // Whatever the evaluator would refuse (e.g. an invalid regex) is refused here too.
    policy::Evaluator::new(to_policy(e), false).map_err(MeshError::Invalid)?;
    Ok(())
}

/// [`normalize_and_validate_with`] for `/v1/config` writes.
pub fn normalize_and_validate(e: &mut ServiceIntentions) -> Result<(), MeshError> {
    normalize_and_validate_with(e, false)
}

fn validate_permission(p: &mut IntentionPermission, at: &str) -> Result<(), MeshError> {
    p.action = p.action.to_ascii_lowercase();
    if p.action != "allow" && p.action != "deny" {
        return Err(invalid(format!(
            "{at}.Action must be set to 'allow' or 'deny'"
        )));
    }
    let Some(http) = &mut p.http else {
        return Err(invalid(format!("{at}.HTTP is required")));
    };
    let paths = [&http.path_exact, &http.path_prefix, &http.path_regex]
        .iter()
        .filter(|s| !s.is_empty())
        .count();
    if paths > 1 {
        return Err(invalid(format!(
            "{at}.HTTP should only contain at most one of PathExact, PathPrefix, or PathRegex"
        )));
    }
    for (field, v) in [
        ("PathExact", &http.path_exact),
        ("PathPrefix", &http.path_prefix),
    ] {
        if !v.is_empty() && !v.starts_with('/') {
            return Err(invalid(format!(
                "{at}.HTTP.{field} doesn't start with '/': {v:?}"
            )));
        }
    }
    for m in &mut http.methods {
        *m = m.to_ascii_uppercase();
        if !METHODS.contains(&m.as_str()) {
            return Err(invalid(format!(
                "{at}.HTTP.Methods contains an invalid method {m:?}"
            )));
        }
    }
    for (k, h) in http.header.iter().enumerate() {
        if h.name.is_empty() {
            return Err(invalid(format!(
                "{at}.HTTP.Header[{k}] missing required Name field"
            )));
        }
        let set = usize::from(h.present)
            + [&h.exact, &h.prefix, &h.suffix, &h.regex]
                .iter()
                .filter(|s| !s.is_empty())
                .count();
        if set != 1 {
            return Err(invalid(format!(
                "{at}.HTTP.Header[{k}] should only contain one of Present, Exact, Prefix, Suffix, or Regex"
            )));
        }
    }
    if paths == 0 && http.methods.is_empty() && http.header.is_empty() {
        return Err(invalid(format!("{at}.HTTP should not be empty")));
    }
    Ok(())
}

/// Consul's intention precedence for `source => destination` in the default namespace.
pub fn precedence(source: &str, destination: &str) -> u8 {
    policy::Intention::new("", source, destination, policy::Action::Allow).precedence()
}

/// One intention as the legacy API shows it (Consul's `Intention`).
#[derive(Clone, Debug, PartialEq)]
pub struct IntentionView {
    pub source: SourceIntention,
    pub destination: String,
    /// The indexes of the destination's entry (an intention has none of its own).
    pub create_index: u64,
    pub modify_index: u64,
}

impl IntentionView {
    /// The key an intention is known by in the evaluator set (unique per pair).
    pub fn key(&self) -> String {
        key(&self.source.name, &self.destination)
    }

    pub fn is_l7(&self) -> bool {
        !self.source.permissions.is_empty()
    }

    /// Consul's `Intention.String()`: `default/web => default/db (Precedence: 9, Action: ALLOW)`,
    /// `ID: <id>, ` before the precedence for legacy intentions, `Permissions: N` for L7.
    pub fn describe(&self) -> String {
        let id = if self.source.legacy_id.is_empty() {
            String::new()
        } else {
            format!("ID: {}, ", self.source.legacy_id)
        };
        let what = if self.is_l7() {
            format!("Permissions: {}", self.source.permissions.len())
        } else {
            format!("Action: {}", self.source.action.to_ascii_uppercase())
        };
        format!(
            "{DEFAULT_NS}/{} => {DEFAULT_NS}/{} ({id}Precedence: {}, {what})",
            self.source.name, self.destination, self.source.precedence
        )
    }

    /// The CLI's short form: `web => db (allow)` / `(1 permission)` / `(N permissions)`.
    pub fn short(&self) -> String {
        let what = match self.source.permissions.len() {
            0 => self.source.action.clone(),
            1 => "1 permission".into(),
            n => format!("{n} permissions"),
        };
        format!("{} => {} ({what})", self.source.name, self.destination)
    }

    /// Consul's legacy `Intention` JSON.
    pub fn to_json(&self) -> Value {
        let s = &self.source;
        let mut v = json!({
            "Description": s.description,
            "SourceNS": DEFAULT_NS,
            "SourceName": s.name,
            "DestinationNS": DEFAULT_NS,
            "DestinationName": self.destination,
            "SourceType": s.source_type,
            "Action": s.action,
            "Precedence": s.precedence,
            "CreatedAt": s.legacy_create_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            "UpdatedAt": s.legacy_update_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        });
        if let Value::Object(m) = &mut v {
            if !s.legacy_id.is_empty() {
                m.insert("ID".into(), s.legacy_id.clone().into());
            }
            if !s.permissions.is_empty() {
                m.insert(
                    "Permissions".into(),
                    serde_json::to_value(&s.permissions).unwrap_or(Value::Null),
                );
                m.remove("Action");
            }
            if !s.legacy_meta.is_empty() {
                m.insert(
                    "Meta".into(),
                    serde_json::to_value(&s.legacy_meta).unwrap_or(Value::Null),
                );
            }
            if !s.peer.is_empty() {
                m.insert("SourcePeer".into(), s.peer.clone().into());
            }
        }
        v
    }

    /// The intention as the evaluator (and the `intentions` plugin slot) sees it.
    pub fn to_policy(&self) -> policy::Intention {
        source_to_policy(&self.source, &self.destination)
    }
}

fn key(source: &str, destination: &str) -> String {
    format!("{source} => {destination}")
}

fn source_to_policy(s: &SourceIntention, destination: &str) -> policy::Intention {
    let action = |a: &str| {
        if a == "allow" {
            policy::Action::Allow
        } else {
            policy::Action::Deny
        }
    };
    let none_if_empty = |v: &String| (!v.is_empty()).then(|| v.clone());
    policy::Intention {
        id: key(&s.name, destination),
        source_name: s.name.clone(),
        source_peer: s.peer.clone(),
        destination_name: destination.to_string(),
        action: action(&s.action),
        permissions: s
            .permissions
            .iter()
            .map(|p| {
                let http = p.http.clone().unwrap_or_default();
                policy::Permission {
                    action: action(&p.action),
                    path_exact: none_if_empty(&http.path_exact),
                    path_prefix: none_if_empty(&http.path_prefix),
                    path_regex: none_if_empty(&http.path_regex),
                    methods: http.methods.clone(),
                    headers: http
                        .header
                        .iter()
                        .map(|h| policy::HeaderMatch {
                            name: h.name.clone(),
                            present: h.present,
                            exact: none_if_empty(&h.exact),
                            prefix: none_if_empty(&h.prefix),
                            suffix: none_if_empty(&h.suffix),
                            regex: none_if_empty(&h.regex),
                            invert: h.invert,
                        })
                        .collect(),
                }
            })
            .collect(),
        ..policy::Intention::default()
    }
}

/// Every source of one entry as evaluator intentions.
pub fn to_policy(e: &ServiceIntentions) -> Vec<policy::Intention> {
    e.sources
        .iter()
        .map(|s| source_to_policy(s, &e.name))
        .collect()
}

/// Every intention of `entries` (entry, create index, modify index), in Consul's order:
/// precedence descending, then source name, then destination name.
pub fn views<'a>(
    entries: impl IntoIterator<Item = (&'a ServiceIntentions, u64, u64)>,
) -> Vec<IntentionView> {
    let mut out: Vec<IntentionView> = entries
        .into_iter()
        .flat_map(|(e, create_index, modify_index)| {
            e.sources.iter().map(move |s| IntentionView {
                source: s.clone(),
                destination: e.name.clone(),
                create_index,
                modify_index,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.source
            .precedence
            .cmp(&a.source.precedence)
            .then_with(|| a.source.name.cmp(&b.source.name))
            .then_with(|| a.destination.cmp(&b.destination))
    });
    out
}

/// The intentions that apply to `name` as a source (`by_source`) or destination, wildcards
/// included, in precedence order (`/v1/connect/intentions/match`).
pub fn matching<'a>(
    all: &'a [IntentionView],
    name: &str,
    by_source: bool,
) -> Vec<&'a IntentionView> {
    all.iter()
        .filter(|v| {
            let n = if by_source {
                &v.source.name
            } else {
                &v.destination
            };
            n == name || n == "*"
        })
        .collect()
}

/// Index of views by [`IntentionView::key`], to explain an evaluator's decision.
pub fn by_key(all: &[IntentionView]) -> BTreeMap<String, IntentionView> {
    all.iter().map(|v| (v.key(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: &str) -> ServiceIntentions {
        serde_json::from_str(json).unwrap()
    }

    fn err(json: &str) -> String {
        normalize_and_validate(&mut entry(json))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn validation_messages() {
        assert_eq!(err(r#"{"Name":"db"}"#), "At least one source is required");
        assert_eq!(
            err(r#"{"Name":"db","Sources":[{"Name":"web"}]}"#),
            "Sources[0].Action must be set to 'allow' or 'deny'"
        );
        assert_eq!(
            err(
                r#"{"Name":"db","Sources":[{"Name":"web","Action":"allow"},{"Name":"web","Action":"deny"}]}"#
            ),
            "Sources[1] defines \"web\" more than once"
        );
        assert_eq!(
            err(r#"{"Name":"db","Sources":[{"Name":"we*","Action":"allow"}]}"#),
            "Sources[0].Name: wildcard character '*' cannot be used with partial values"
        );
        assert_eq!(
            err(
                r#"{"Name":"*","Sources":[{"Name":"web","Permissions":[{"Action":"allow","HTTP":{"PathPrefix":"/"}}]}]}"#
            ),
            "Sources[0].Permissions cannot be specified on intentions with wildcarded destinations"
        );
        assert_eq!(
            err(
                r#"{"Name":"db","Sources":[{"Name":"web","Permissions":[{"Action":"allow","HTTP":{"PathPrefix":"/","PathExact":"/a"}}]}]}"#
            ),
            "Sources[0].Permissions[0].HTTP should only contain at most one of PathExact, PathPrefix, or PathRegex"
        );
        assert_eq!(
            err(
                r#"{"Name":"db","Sources":[{"Name":"web","Permissions":[{"Action":"allow","HTTP":{"Methods":["FETCH"]}}]}]}"#
            ),
            "Sources[0].Permissions[0].HTTP.Methods contains an invalid method \"FETCH\""
        );
        assert_eq!(
            err(r#"{"Name":"db","Sources":[{"Name":"web","Action":"allow","LegacyID":"x"}]}"#),
            "Sources[0].LegacyID must be omitted"
        );
    }

    #[test]
    fn precedence_sorting_and_views() {
        let mut e = entry(
            r#"{"Name":"db","Sources":[{"Name":"*","Action":"deny"},{"Name":"web","Action":"ALLOW"}]}"#,
        );
        normalize_and_validate(&mut e).unwrap();
        assert_eq!(e.sources[0].name, "web");
        assert_eq!(e.sources[0].precedence, 9);
        assert_eq!(e.sources[1].precedence, 8);
        let mut star = entry(r#"{"Name":"*","Sources":[{"Name":"web","Action":"deny"}]}"#);
        normalize_and_validate(&mut star).unwrap();
        assert_eq!(star.sources[0].precedence, 6);
        let all = views([(&star, 5, 5), (&e, 7, 8)]);
        let order: Vec<_> = all.iter().map(IntentionView::short).collect();
        assert_eq!(
            order,
            ["web => db (allow)", "* => db (deny)", "web => * (deny)"]
        );
        assert_eq!(
            all[0].describe(),
            "default/web => default/db (Precedence: 9, Action: ALLOW)"
        );
        let j = all[0].to_json();
        assert_eq!(j["SourceName"], "web");
        assert_eq!(j["CreatedAt"], "0001-01-01T00:00:00Z");
        assert_eq!(j["ModifyIndex"], 8);
        assert_eq!(matching(&all, "web", true).len(), 3);
        assert_eq!(matching(&all, "db", false).len(), 3);
    }

    #[test]
    fn evaluator_decides_by_precedence() {
        let mut e = entry(
            r#"{"Name":"db","Sources":[{"Name":"*","Action":"deny"},{"Name":"web","Action":"allow"}]}"#,
        );
        normalize_and_validate(&mut e).unwrap();
        let ev = policy::Evaluator::new(to_policy(&e), false).unwrap();
        let req = |s: &str| policy::Request {
            source: policy::Identity::service(s),
            destination: policy::Identity::service("db"),
            http: None,
        };
        let d = ev.evaluate(&req("web"));
        assert!(d.allowed);
        assert_eq!(d.intention_id.as_deref(), Some("web => db"));
        assert!(!ev.evaluate(&req("api")).allowed);
    }
}
