//! Errors at the crate boundary.

/// The host could not start.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The wasmtime engine could not be created.
    #[error("plugin engine: {0}")]
    Engine(String),
    /// An embedded built-in component failed to load (a build defect).
    #[error("built-in plugin {slot}: {source}")]
    Builtin {
        slot: String,
        #[source]
        source: LoadError,
    },
}

/// A component was refused; the slot keeps its previous component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The slot name is not `translator`, `router`, `intentions` or `join:<provider>`.
    #[error(
        "unknown plugin slot {0:?} (expected translator, router, intentions or join:<provider>)"
    )]
    UnknownSlot(String),
    /// The bytes are not a valid WebAssembly component.
    #[error("not a valid component: {0}")]
    Compile(String),
    /// The component does not implement the slot's world.
    #[error("{0}")]
    WrongWorld(String),
    /// `configure` (or the intention-set `update`) returned an error.
    #[error("plugin refused its configuration: {0}")]
    Configure(String),
    /// The canary instance trapped or timed out.
    #[error("plugin failed its first call: {0}")]
    Canary(String),
    /// A `test_call` call trapped, timed out or hit the memory cap.
    #[error("plugin call failed: {0}")]
    Call(String),
    /// The input JSON of `test_call` could not be read.
    #[error("invalid input: {0}")]
    Input(String),
    /// The blocking task running the load was lost.
    #[error("load task failed: {0}")]
    Task(String),
}
