//! Service-mesh configuration as Consul has it: config entries, intentions, discovery chains and
//! the catalog form of proxy registrations (pure, no I/O).

pub mod chain;
pub mod entry;
pub mod intentions;
pub mod registration;

pub use entry::{ConfigEntry, Kind, MeshGatewayConfig};
pub use intentions::IntentionView;

/// Why an entry or intention is refused. Display is Consul's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeshError {
    /// An unknown config entry kind.
    #[error("invalid config entry kind: {0}")]
    InvalidKind(String),
    /// A validation rule failed (Consul answers 500 with this text).
    #[error("{0}")]
    Invalid(String),
    /// A stored entry no longer decodes (a bug or a format change).
    #[error("stored config entry does not decode: {0}")]
    Stored(String),
}
