//! The Connect CA's rows: its configuration (provider, Consul's `Config` map as JSON, the
//! cluster ID), the roots every datacenter trusts (the primary's, replicated to secondaries
//! with each secondary's intermediate), and this datacenter's signer (the certificate and key
//! that sign its leaves). The signer never leaves the datacenter: no query returns it; the
//! server that signs reads it from the store.

use serde::{Deserialize, Serialize};

use crate::change::Table;
use crate::query::QueryResult;
use crate::store::Store;

/// `/v1/connect/ca/configuration`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaConfiguration {
    /// `consul` (the built-in provider).
    pub provider: String,
    /// Consul's `Config` map (CamelCase keys), as JSON.
    pub config_json: String,
    /// The UUID whose `<id>.consul` is the trust domain.
    pub cluster_id: String,
    pub create_index: u64,
    pub modify_index: u64,
}

/// One trusted root (Consul's `CARoot`, without key material).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaRoot {
    /// Colon-hex SHA-1 of the root certificate.
    pub id: String,
    pub name: String,
    pub serial_number: u64,
    /// Colon-hex key ID of the certificate that signs this datacenter's leaves.
    pub signing_key_id: String,
    pub external_trust_domain: String,
    pub not_before: u64,
    pub not_after: u64,
    pub root_cert: String,
    /// Cross-signed and intermediate certificates, leaf side first.
    pub intermediate_certs: Vec<String>,
    pub active: bool,
    /// Unix seconds when a rotation made it inactive (0 = never).
    pub rotated_out_at: u64,
    pub private_key_type: String,
    pub private_key_bits: u32,
    pub create_index: u64,
    pub modify_index: u64,
}

/// This datacenter's leaf signer (the root in the primary, the intermediate in a secondary).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaSigner {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The CA's state in one piece (what a CA change writes at once).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaState {
    pub config: Option<CaConfiguration>,
    pub roots: Vec<CaRoot>,
    pub signer: Option<CaSigner>,
}

impl Store {
    /// Replaces the CA's configuration, roots and signer at once. With `cas`, only if the
    /// stored configuration's modify index equals it (0: only if none yet). Answers whether
    /// it was written.
    pub(crate) fn ca_set(&mut self, idx: u64, mut state: CaState, cas: Option<u64>) -> bool {
        let current = self.ca.config.as_ref().map_or(0, |c| c.modify_index);
        if cas.is_some_and(|c| c != current) {
            return false;
        }
        if let Some(c) = &mut state.config {
            c.create_index = self.ca.config.as_ref().map_or(idx, |old| old.create_index);
            c.modify_index = idx;
        }
        for r in &mut state.roots {
            match self.ca.roots.iter().find(|o| o.id == r.id) {
                Some(old) => {
                    let unchanged = CaRoot {
                        create_index: old.create_index,
                        modify_index: old.modify_index,
                        ..r.clone()
                    } == *old;
                    r.create_index = old.create_index;
                    r.modify_index = if unchanged { old.modify_index } else { idx };
                }
                None => {
                    r.create_index = idx;
                    r.modify_index = idx;
                }
            }
        }
        let old = std::mem::replace(&mut self.ca, state);
        self.journal_ca(old);
        self.touch(Table::ConnectCa, idx);
        true
    }

    pub(crate) fn ca_roots_get(&self) -> QueryResult {
        QueryResult::CaRoots {
            cluster_id: self
                .ca
                .config
                .as_ref()
                .map(|c| c.cluster_id.clone())
                .unwrap_or_default(),
            roots: self.ca.roots.clone(),
        }
    }

    pub(crate) fn ca_config_get(&self) -> QueryResult {
        QueryResult::CaConfig(self.ca.config.clone())
    }

    /// The whole CA state, signer included (for the server that signs; never a query).
    pub fn ca_state(&self) -> &CaState {
        &self.ca
    }
}
