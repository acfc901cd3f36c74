//! praetor's WebAssembly plugin host (wasmtime 48, component model).
//!
//! Policies are components of the WIT package `praetor:plugins@0.2.0` (`wit/`), one per slot:
//! `translator` (world `address-translator`), `router` (`router`), `intentions`
//! (`intention-evaluator`) and `join:<provider>` (`join-provider`). Each slot starts with its
//! built-in component (embedded, built from `plugins/`, compiled when the slot is first used),
//! can be hot-swapped with [`PluginHost::load`],
//! and answers with praetor-policy's native code whenever its component traps, runs past its
//! deadline or hits its memory cap. After consecutive failures a slot reverts to its built-in.
//!
//! One `Engine` per process (epoch interruption with a 1 ms ticker thread, Cranelift, pooling
//! allocator); one `Store` per instance with `StoreLimits`; a small pool of warm instances per
//! slot.

mod bindings;
pub mod builtin;
mod convert;
mod engine;
mod error;
mod host;
mod imports;
mod info;
pub mod json;
mod lazy;
pub mod scaffold;
mod settings;
mod slot;
mod store;
mod testcall;
#[cfg(any(test, feature = "test-support"))]
pub mod testdata;
mod worlds;

#[cfg(test)]
mod tests;

pub use engine::MAX_MEMORY_BYTES;
pub use error::{LoadError, PluginError};
pub use host::{LoadRequest, PluginHost};
pub use info::{ComponentSource, SlotInfo, SlotState};
pub use praetor_policy as policy;
pub use scaffold::{PluginKind, ScaffoldFile, scaffold};
pub use settings::{Grants, PluginHostConfig, SlotSettings};
pub use testcall::test_call;
