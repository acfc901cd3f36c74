//! The `coordinates` table: batch upserts of network coordinates (Consul
//! `CoordinateBatchUpdate`), their deletion with the node, the coordinate reads, and `?near`
//! sorting by estimated round-trip time (Consul `agent/consul/rtt.go`).

use std::collections::BTreeMap;

use praetor_coordinate::{Coordinate, distance_seconds};

use crate::change::Table;
use crate::error::StateError;
use crate::query::QueryResult;
use crate::store::{PairKey, Store, fold};
use crate::types::NodeCoordinate;

/// A node's coordinates by segment (Consul `lib.CoordinateSet`).
type CoordinateSet<'a> = BTreeMap<&'a str, &'a Coordinate>;

/// Consul's `CoordinateSet.Intersect`: the default segment, unless either side has exactly one
/// segment (a client), whose segment then wins (the other side's single segment last).
fn intersect<'a>(
    a: &CoordinateSet<'a>,
    b: &CoordinateSet<'a>,
) -> (Option<&'a Coordinate>, Option<&'a Coordinate>) {
    let single = |set: &CoordinateSet<'a>| match set.len() {
        1 => set.keys().next().copied(),
        _ => None,
    };
    let segment = single(b).or(single(a)).unwrap_or("");
    (a.get(segment).copied(), b.get(segment).copied())
}

/// Stable-sorts `items` by `distance(item)` ascending (`+Inf` last, ties keep their order).
fn sort_by_distance<T>(items: &mut Vec<T>, distance: impl Fn(&T) -> f64) {
    let mut keyed: Vec<(f64, T)> = items.drain(..).map(|t| (distance(&t), t)).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    items.extend(keyed.into_iter().map(|(_, t)| t));
}

impl Store {
    /// Upserts coordinates of known nodes; the table index moves only if a row changed.
    pub(crate) fn coordinate_batch_update(
        &mut self,
        idx: u64,
        updates: Vec<NodeCoordinate>,
    ) -> Result<(), StateError> {
        if updates.iter().any(|u| !u.coord.is_valid()) {
            return Err(StateError::InvalidCoordinate);
        }
        let mut changed = 0usize;
        let mut skipped = 0usize;
        for update in updates {
            let node_key = fold(&update.node);
            // Coordinates are deleted with their node, so a row for a node missing from the
            // catalog would never go away: drop it (the node re-sends once registered).
            if !self.nodes.contains_key(&node_key) {
                skipped += 1;
                continue;
            }
            let key = (node_key, fold(&update.segment));
            if self.coordinates.get(&key) == Some(&update) {
                continue;
            }
            self.put_coordinate(key, Some(update));
            changed += 1;
        }
        if changed > 0 {
            self.touch(Table::Coordinates, idx);
        }
        tracing::trace!(idx, changed, skipped, "Applied a coordinate batch");
        Ok(())
    }

    /// Deletes every coordinate of a node (by lowercased name), as Consul does when the node
    /// is deleted.
    pub(crate) fn delete_node_coordinates(&mut self, idx: u64, node_key: &str) {
        let keys: Vec<PairKey> = self
            .node_coordinates(node_key)
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            return;
        }
        for key in keys {
            self.put_coordinate(key, None);
        }
        self.touch(Table::Coordinates, idx);
    }

    /// The coordinates of a node (by lowercased name), ordered by lowercased segment.
    pub(crate) fn node_coordinates<'a>(
        &'a self,
        node_key: &str,
    ) -> impl Iterator<Item = (&'a PairKey, &'a NodeCoordinate)> + use<'a> {
        let node_key = node_key.to_string();
        self.coordinates
            .range((node_key.clone(), String::new())..)
            .take_while(move |((n, _), _)| *n == node_key)
    }

    /// A node's coordinates by segment (case-insensitive node name).
    fn coordinate_set(&self, node: &str) -> CoordinateSet<'_> {
        self.node_coordinates(&fold(node))
            .map(|(_, c)| (c.segment.as_str(), &c.coord))
            .collect()
    }

    /// Every coordinate row, by node then segment; `Some(segment)` keeps only that segment
    /// (exact match, as Consul's `?segment=` filter).
    pub(crate) fn coordinate_rows(&self, segment: Option<&str>) -> Vec<NodeCoordinate> {
        self.coordinates
            .values()
            .filter(|c| segment.is_none_or(|s| c.segment == s))
            .cloned()
            .collect()
    }

    /// The coordinates of one node (every segment; empty if none).
    pub(crate) fn coordinate_rows_of(&self, node: &str) -> Vec<NodeCoordinate> {
        self.node_coordinates(&fold(node))
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Consul's `sortNodesByDistanceFrom`: if node `near` has a coordinate in the default
    /// segment, stable-sorts node lists (`Nodes`, `ServiceNodes`, `CheckServiceNodes`, and the
    /// `Checks` of health endpoints) by estimated round-trip time from it; rows whose node has
    /// no comparable coordinate go last. Otherwise, and for other results, nothing changes.
    pub fn sort_by_near(&self, result: &mut QueryResult, near: &str) {
        let source = self.coordinate_set(near);
        if !source.contains_key("") {
            return;
        }
        let distance = |node: &str| {
            let (a, b) = intersect(&source, &self.coordinate_set(node));
            distance_seconds(a, b)
        };
        match result {
            QueryResult::Nodes(rows) => sort_by_distance(rows, |n| distance(&n.node)),
            QueryResult::ServiceNodes(rows) => sort_by_distance(rows, |r| distance(&r.node.node)),
            QueryResult::CheckServiceNodes(rows) => {
                sort_by_distance(rows, |r| distance(&r.node.node))
            }
            QueryResult::Checks(rows) => sort_by_distance(rows, |c| distance(&c.node)),
            QueryResult::Kv(_)
            | QueryResult::KvList(_)
            | QueryResult::Keys(_)
            | QueryResult::Services(_)
            | QueryResult::NodeServices(_)
            | QueryResult::Sessions(_)
            | QueryResult::Coordinates(_)
            | QueryResult::Areas(_)
            | QueryResult::Autopilot(_)
            | QueryResult::PreparedQueries(_)
            | QueryResult::AclTokens(_)
            | QueryResult::AclPolicies(_)
            | QueryResult::AclRoles(_)
            | QueryResult::AclResolved(_)
            | QueryResult::AclReplication(_)
            | QueryResult::AclAuthMethods(_)
            | QueryResult::AclBindingRules(_)
            | QueryResult::ConfigEntries(_)
            | QueryResult::CaRoots { .. }
            | QueryResult::CaConfig(_) => {}
        }
    }
}
