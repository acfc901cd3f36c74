//! The `areas` table: network areas (Consul Enterprise's operator-defined links between this
//! datacenter and one peer datacenter), their create/update/delete rules and reads.
//!
//! IDs are chosen by the proposer (the HTTP layer makes a UUID), never here. At most one area
//! per peer datacenter (compared case-insensitively); an area's peer datacenter never changes.
//! That the peer is not this datacenter itself is checked by the proposer (the state machine
//! does not know its datacenter's name).

use serde::{Deserialize, Serialize};

use crate::change::Table;
use crate::error::StateError;
use crate::query::QueryResult;
use crate::store::{Store, eq_fold};

/// A network area (Consul `structs.Area` / `api.Area`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    /// A UUID chosen by the proposer.
    pub id: String,
    /// The datacenter at the other end of the area.
    pub peer_datacenter: String,
    /// Servers of the peer datacenter to join (`host[:port]`) until a join succeeds.
    pub retry_join: Vec<String>,
    /// Whether gossip over this area should use TLS.
    pub use_tls: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Store {
    /// Creates the area when its ID is new, else updates its `retry_join` and `use_tls`.
    ///
    /// Create: the ID and the peer datacenter are required and no other area may have the same
    /// peer datacenter. Update: an empty `peer_datacenter` keeps the stored one, another one
    /// is refused. An update that changes nothing leaves the table (and its index) alone.
    pub(crate) fn area_upsert(&mut self, idx: u64, mut area: Area) -> Result<(), StateError> {
        if area.id.is_empty() {
            return Err(StateError::MissingAreaId);
        }
        match self.areas.get(&area.id) {
            Some(existing) => {
                if !area.peer_datacenter.is_empty()
                    && !eq_fold(&area.peer_datacenter, &existing.peer_datacenter)
                {
                    return Err(StateError::AreaPeerChange {
                        id: area.id,
                        from: existing.peer_datacenter.clone(),
                        to: area.peer_datacenter,
                    });
                }
                // Empty or another spelling: the stored peer stays.
                area.peer_datacenter = existing.peer_datacenter.clone();
                area.create_index = existing.create_index;
                area.modify_index = existing.modify_index;
                if *existing == area {
                    return Ok(());
                }
            }
            None => {
                if area.peer_datacenter.is_empty() {
                    return Err(StateError::MissingPeerDatacenter);
                }
                if let Some(other) = self
                    .areas
                    .values()
                    .find(|a| eq_fold(&a.peer_datacenter, &area.peer_datacenter))
                {
                    return Err(StateError::AreaPeerExists {
                        peer: other.peer_datacenter.clone(),
                        id: other.id.clone(),
                    });
                }
                area.create_index = idx;
            }
        }
        area.modify_index = idx;
        tracing::debug!(
            id = %area.id,
            peer_datacenter = %area.peer_datacenter,
            idx,
            "Network area written"
        );
        self.put_area(area.id.clone(), Some(area));
        self.touch(Table::Areas, idx);
        Ok(())
    }

    /// Deletes an area; an unknown ID is an error.
    pub(crate) fn area_delete(&mut self, idx: u64, id: &str) -> Result<(), StateError> {
        if !self.areas.contains_key(id) {
            return Err(StateError::AreaNotFound(id.to_string()));
        }
        tracing::debug!(id, idx, "Network area deleted");
        self.put_area(id.to_string(), None);
        self.touch(Table::Areas, idx);
        Ok(())
    }

    /// Every area, sorted by peer datacenter (then ID), with the table index.
    pub(crate) fn areas_list(&self) -> (u64, QueryResult) {
        let mut areas: Vec<Area> = self.areas.values().cloned().collect();
        areas.sort_by(|a, b| (&a.peer_datacenter, &a.id).cmp(&(&b.peer_datacenter, &b.id)));
        (self.indexes.areas, QueryResult::Areas(areas))
    }

    /// One area (zero or one element), with the table index.
    pub(crate) fn area_get(&self, id: &str) -> (u64, QueryResult) {
        let found = self.areas.get(id).cloned().into_iter().collect();
        (self.indexes.areas, QueryResult::Areas(found))
    }
}
