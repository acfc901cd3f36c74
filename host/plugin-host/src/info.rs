//! What `list()` reports about a slot.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

/// Where a slot's component came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    /// Embedded in the binary.
    Builtin,
    /// Loaded from this file.
    Path(PathBuf),
    /// Loaded from bytes without a file (e.g. over the API).
    Bytes,
}

impl fmt::Display for ComponentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComponentSource::Builtin => f.write_str("builtin"),
            ComponentSource::Path(p) => write!(f, "{}", p.display()),
            ComponentSource::Bytes => f.write_str("bytes"),
        }
    }
}

/// Health of a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotState {
    /// Serving with its current component.
    Active,
    /// Went back to its built-in component after consecutive failures, until the next load.
    Reverted(String),
    /// Failing consecutively with no built-in to revert to (calls use the native policy).
    Failing(String),
}

impl fmt::Display for SlotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotState::Active => f.write_str("active"),
            SlotState::Reverted(reason) => write!(f, "reverted: {reason}"),
            SlotState::Failing(reason) => write!(f, "failing: {reason}"),
        }
    }
}

/// One slot as `praetor plugin list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotInfo {
    /// `translator`, `router`, `intentions` or `join:<provider>`.
    pub slot: String,
    /// The WIT world the slot serves.
    pub world: &'static str,
    /// Component name (the built-in plugin's crate name, or the name given at load).
    pub component: String,
    pub source: ComponentSource,
    /// Hex SHA-256 of the component bytes (its version identity).
    pub sha256: String,
    pub loaded_at: SystemTime,
    /// Whether the component is compiled: a built-in is compiled when its slot is first used
    /// (calls are answered by the native policy until then).
    pub compiled: bool,
    /// Calls since start (all components of the slot).
    pub calls: u64,
    /// Calls that trapped, timed out or hit the memory cap (answered natively).
    pub failures: u64,
    pub consecutive_failures: u32,
    /// Plugin log lines dropped by the rate limit.
    pub logs_dropped: u64,
    pub state: SlotState,
}

impl SlotInfo {
    /// The first 12 hex digits of the SHA-256, as shown in listings.
    pub fn short_hash(&self) -> &str {
        self.sha256.get(..12).unwrap_or(&self.sha256)
    }
}
