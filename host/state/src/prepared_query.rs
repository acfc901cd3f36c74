//! The `prepared_queries` table (Consul's prepared queries): create/update/delete rules, the
//! name-or-ID resolution of execute (exact name, then the longest template prefix), session
//! binding (a query bound to a session goes when the session does) and template rendering.
//!
//! IDs are chosen by the proposer. Validation of the definition itself (service name, TTL, ...)
//! is the proposer's; here are the rules that need the table: unique names, sessions that exist.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::change::Table;
use crate::error::StateError;
use crate::query::QueryResult;
use crate::store::Store;

/// `Template` of a prepared query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryTemplate {
    /// `""` (not a template) or `name_prefix_match`.
    pub kind: String,
    pub regexp: String,
    pub remove_empty_tags: bool,
}

/// `Service.Failover`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryFailover {
    /// How many of the nearest other datacenters to try (by the router slot's ranking).
    pub nearest_n: u32,
    /// Datacenters to try after the nearest ones, in order.
    pub datacenters: Vec<String>,
}

/// `Service` of a prepared query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceQuery {
    pub service: String,
    pub failover: QueryFailover,
    pub only_passing: bool,
    pub ignore_check_ids: Vec<String>,
    pub near: String,
    pub tags: Vec<String>,
    pub node_meta: BTreeMap<String, String>,
    pub service_meta: BTreeMap<String, String>,
    pub connect: bool,
}

/// A prepared query (Consul `structs.PreparedQuery`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedQuery {
    pub id: String,
    pub name: String,
    pub session: String,
    pub token: String,
    pub template: QueryTemplate,
    pub service: ServiceQuery,
    /// `DNS.TTL` (a Go duration, or empty).
    pub dns_ttl: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl PreparedQuery {
    pub fn is_template(&self) -> bool {
        !self.template.kind.is_empty()
    }
}

/// Consul's UUID shape (`8-4-4-4-12` hex digits).
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Store {
    /// Creates (`create`, a new ID) or replaces (an existing ID) a prepared query.
    pub(crate) fn prepared_query_set(
        &mut self,
        idx: u64,
        mut q: PreparedQuery,
        create: bool,
    ) -> Result<(), StateError> {
        let existing = self.prepared_queries.get(&q.id).cloned();
        match (&existing, create) {
            (Some(_), true) => {
                return Err(StateError::PreparedQuery(format!(
                    "prepared query ID '{}' is already in use",
                    q.id
                )));
            }
            (None, false) => {
                return Err(StateError::PreparedQuery(format!(
                    "Cannot modify non-existent prepared query: '{}'",
                    q.id
                )));
            }
            _ => {}
        }
        if !q.name.is_empty() {
            let lower = q.name.to_lowercase();
            if self
                .prepared_queries
                .values()
                .any(|o| o.id != q.id && o.name.to_lowercase() == lower)
            {
                return Err(StateError::PreparedQuery(format!(
                    "name '{}' aliases an existing query name",
                    q.name
                )));
            }
            if self
                .prepared_queries
                .keys()
                .any(|id| *id != q.id && id.eq_ignore_ascii_case(&q.name))
            {
                return Err(StateError::PreparedQuery(format!(
                    "name '{}' aliases an existing query ID",
                    q.name
                )));
            }
        } else if q.is_template()
            && self
                .prepared_queries
                .values()
                .any(|o| o.id != q.id && o.is_template() && o.name.is_empty())
        {
            return Err(StateError::PreparedQuery(
                "a query template with an empty name already exists".into(),
            ));
        }
        if !q.session.is_empty() && !self.sessions.contains_key(&q.session) {
            return Err(StateError::PreparedQuery(format!(
                "invalid session \"{}\"",
                q.session
            )));
        }
        q.create_index = existing.map_or(idx, |e| e.create_index);
        q.modify_index = idx;
        self.put_prepared_query(q.id.clone(), Some(q));
        self.touch(Table::PreparedQueries, idx);
        Ok(())
    }

    pub(crate) fn prepared_query_delete(&mut self, idx: u64, id: &str) -> Result<(), StateError> {
        if !self.prepared_queries.contains_key(id) {
            return Err(StateError::PreparedQuery(format!(
                "Cannot modify non-existent prepared query: '{id}'"
            )));
        }
        self.put_prepared_query(id.to_string(), None);
        self.touch(Table::PreparedQueries, idx);
        Ok(())
    }

    /// Deletes every query bound to a session that is going away.
    pub(crate) fn delete_queries_of_session(&mut self, idx: u64, session: &str) {
        let bound: Vec<String> = self
            .prepared_queries
            .values()
            .filter(|q| q.session == session)
            .map(|q| q.id.clone())
            .collect();
        for id in &bound {
            self.put_prepared_query(id.clone(), None);
        }
        if !bound.is_empty() {
            self.touch(Table::PreparedQueries, idx);
        }
    }

    pub(crate) fn prepared_query_list(&self) -> (u64, QueryResult) {
        (
            self.indexes.prepared_queries,
            QueryResult::PreparedQueries(self.prepared_queries.values().cloned().collect()),
        )
    }

    pub(crate) fn prepared_query_get(&self, id: &str) -> (u64, QueryResult) {
        (
            self.indexes.prepared_queries,
            QueryResult::PreparedQueries(
                self.prepared_queries.get(id).cloned().into_iter().collect(),
            ),
        )
    }

    /// Consul's `PreparedQueryResolve`: an ID (not of a template), else an exact name
    /// (case-insensitive), else the template with the longest name prefix of it (a template
    /// named `""` matches everything). Zero or one query, not rendered.
    pub(crate) fn prepared_query_resolve(&self, name_or_id: &str) -> (u64, QueryResult) {
        let index = self.indexes.prepared_queries;
        let found = |q: Option<&PreparedQuery>| {
            (
                index,
                QueryResult::PreparedQueries(q.cloned().into_iter().collect()),
            )
        };
        if is_uuid(name_or_id)
            && let Some(q) = self.prepared_queries.get(&name_or_id.to_lowercase())
            && !q.is_template()
        {
            return found(Some(q));
        }
        let lower = name_or_id.to_lowercase();
        if let Some(q) = self
            .prepared_queries
            .values()
            .find(|q| !q.name.is_empty() && q.name.to_lowercase() == lower)
        {
            return found(Some(q));
        }
        let best = self
            .prepared_queries
            .values()
            .filter(|q| q.is_template() && lower.starts_with(&q.name.to_lowercase()))
            .max_by_key(|q| q.name.len());
        found(best)
    }
}

/// Renders a template for `full_name` (Consul's `name_prefix_match`): `${name.full}`,
/// `${name.prefix}`, `${name.suffix}` and `${match(N)}` (the Nth submatch of the template's
/// regular expression over the full name, `""` when absent) in every string of `Service`.
/// A query that is not a template comes back unchanged.
pub fn render(q: &PreparedQuery, full_name: &str) -> Result<PreparedQuery, String> {
    if !q.is_template() {
        return Ok(q.clone());
    }
    if q.template.kind != "name_prefix_match" {
        return Err(format!("Bad Template.Type '{}'", q.template.kind));
    }
    let re = if q.template.regexp.is_empty() {
        None
    } else {
        Some(regex::Regex::new(&q.template.regexp).map_err(|e| format!("Bad Regexp: {e}"))?)
    };
    let captures: Vec<String> = re
        .as_ref()
        .and_then(|re| re.captures(full_name))
        .map(|c| {
            c.iter()
                .map(|m| m.map_or(String::new(), |m| m.as_str().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let suffix = full_name
        .strip_prefix(q.name.as_str())
        .unwrap_or(full_name)
        .to_string();
    let interpolate = |s: &str| -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("Bad format '{s}' in Service: unterminated ${{"))?;
            let expr = after[..end].trim();
            let value = match expr {
                "name.full" => full_name.to_string(),
                "name.prefix" => q.name.clone(),
                "name.suffix" => suffix.clone(),
                "agent.segment" => String::new(),
                _ => match expr
                    .strip_prefix("match(")
                    .and_then(|e| e.strip_suffix(')'))
                    .and_then(|n| n.trim().parse::<usize>().ok())
                {
                    Some(n) => captures.get(n).cloned().unwrap_or_default(),
                    None => {
                        return Err(format!(
                            "Bad format '{s}' in Service: unknown variable '{expr}'"
                        ));
                    }
                },
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    };
    let mut r = q.clone();
    let s = &mut r.service;
    s.service = interpolate(&s.service)?;
    s.near = interpolate(&s.near)?;
    s.tags = s
        .tags
        .iter()
        .map(|t| interpolate(t))
        .collect::<Result<_, _>>()?;
    if q.template.remove_empty_tags {
        s.tags.retain(|t| !t.is_empty());
    }
    s.failover.datacenters = s
        .failover
        .datacenters
        .iter()
        .map(|d| interpolate(d))
        .collect::<Result<_, _>>()?;
    s.ignore_check_ids = s
        .ignore_check_ids
        .iter()
        .map(|c| interpolate(c))
        .collect::<Result<_, _>>()?;
    for map in [&mut s.node_meta, &mut s.service_meta] {
        for v in map.values_mut() {
            *v = interpolate(v)?;
        }
    }
    Ok(r)
}
