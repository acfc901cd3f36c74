//! L7 permissions compiled for matching: path (exact, prefix or full-match regex), methods and
//! header conditions with Envoy's semantics (Consul renders permissions to Envoy RBAC).

use super::{Action, HeaderMatch, HttpRequest, Permission};
use regex_lite::Regex;

/// The HTTP methods Consul accepts in `Methods`.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

enum PathMatch {
    Any,
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

enum HeaderKind {
    Present,
    Exact(String),
    Prefix(String),
    Suffix(String),
    Regex(Regex),
}

struct CompiledHeader {
    name: String,
    kind: HeaderKind,
    invert: bool,
}

pub(super) struct CompiledPermission {
    pub(super) action: Action,
    path: PathMatch,
    methods: Vec<String>,
    headers: Vec<CompiledHeader>,
}

/// A set value: Consul treats "" as unset.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// Envoy's safe_regex matches the whole value.
fn full_match(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("invalid regex \"{pattern}\": {e}"))
}

impl CompiledPermission {
    /// Validates like Consul's `IntentionPermission` checks; errors start with the field path
    /// (".HTTP.PathExact ...") so the caller can prefix `Permissions[i]`.
    pub(super) fn new(p: &Permission) -> Result<Self, String> {
        let (exact, prefix, regex) = (set(&p.path_exact), set(&p.path_prefix), set(&p.path_regex));
        if [exact, prefix, regex]
            .iter()
            .filter(|v| v.is_some())
            .count()
            > 1
        {
            return Err(
                ".HTTP should only contain at most one of PathExact, PathPrefix, or PathRegex"
                    .to_string(),
            );
        }
        let path = match (exact, prefix, regex) {
            (Some(e), _, _) if !e.starts_with('/') => {
                return Err(".HTTP.PathExact doesn't start with '/'".to_string());
            }
            (_, Some(pre), _) if !pre.starts_with('/') => {
                return Err(".HTTP.PathPrefix doesn't start with '/'".to_string());
            }
            (Some(e), _, _) => PathMatch::Exact(e.to_string()),
            (_, Some(pre), _) => PathMatch::Prefix(pre.to_string()),
            (_, _, Some(r)) => {
                PathMatch::Regex(full_match(r).map_err(|e| format!(".HTTP.PathRegex: {e}"))?)
            }
            _ => PathMatch::Any,
        };
        for (i, m) in p.methods.iter().enumerate() {
            if !METHODS.contains(&m.as_str()) {
                return Err(format!(".HTTP.Methods contains an invalid method \"{m}\""));
            }
            if p.methods[..i].contains(m) {
                return Err(format!(".HTTP.Methods contains \"{m}\" more than once"));
            }
        }
        let headers = p
            .headers
            .iter()
            .enumerate()
            .map(|(j, h)| CompiledHeader::new(h).map_err(|e| format!(".HTTP.Header[{j}] {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if matches!(path, PathMatch::Any) && p.methods.is_empty() && headers.is_empty() {
            return Err(".HTTP should not be empty".to_string());
        }
        Ok(CompiledPermission {
            action: p.action,
            path,
            methods: p.methods.clone(),
            headers,
        })
    }

    /// Whether every condition holds for `request`.
    pub(super) fn matches(&self, request: &HttpRequest) -> bool {
        let path = request
            .path
            .split_once('?')
            .map_or(request.path.as_str(), |(p, _)| p);
        let path_ok = match &self.path {
            PathMatch::Any => true,
            PathMatch::Exact(e) => path == e,
            PathMatch::Prefix(pre) => path.starts_with(pre.as_str()),
            PathMatch::Regex(re) => re.is_match(path),
        };
        path_ok
            && (self.methods.is_empty() || self.methods.contains(&request.method))
            && self.headers.iter().all(|h| h.matches(&request.headers))
    }
}

impl CompiledHeader {
    fn new(h: &HeaderMatch) -> Result<Self, String> {
        if h.name.is_empty() {
            return Err("missing required Name field".to_string());
        }
        let (exact, prefix, suffix, regex) =
            (set(&h.exact), set(&h.prefix), set(&h.suffix), set(&h.regex));
        let parts = usize::from(h.present)
            + [exact, prefix, suffix, regex]
                .iter()
                .filter(|v| v.is_some())
                .count();
        if parts != 1 {
            return Err(
                "should only contain one of Present, Exact, Prefix, Suffix, or Regex".to_string(),
            );
        }
        let kind = match (exact, prefix, suffix, regex) {
            (Some(v), ..) => HeaderKind::Exact(v.to_string()),
            (_, Some(v), ..) => HeaderKind::Prefix(v.to_string()),
            (_, _, Some(v), _) => HeaderKind::Suffix(v.to_string()),
            (_, _, _, Some(r)) => HeaderKind::Regex(full_match(r)?),
            _ => HeaderKind::Present,
        };
        Ok(CompiledHeader {
            name: h.name.to_ascii_lowercase(),
            kind,
            invert: h.invert,
        })
    }

    /// Envoy's header matching: values of a repeated header are joined with ","; an absent
    /// header matches nothing (inverted: nothing but an inverted `present`).
    fn matches(&self, headers: &[(String, String)]) -> bool {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(&self.name))
            .map(|(_, v)| v.as_str())
            .collect();
        if values.is_empty() {
            return self.invert && matches!(self.kind, HeaderKind::Present);
        }
        let value = values.join(",");
        let hit = match &self.kind {
            HeaderKind::Present => true,
            HeaderKind::Exact(v) => value == *v,
            HeaderKind::Prefix(v) => value.starts_with(v.as_str()),
            HeaderKind::Suffix(v) => value.ends_with(v.as_str()),
            HeaderKind::Regex(re) => re.is_match(&value),
        };
        hit != self.invert
    }
}
