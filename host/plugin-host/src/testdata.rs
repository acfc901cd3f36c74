//! Paths of the hostile test guests built by `build.rs` (tests and the `test-support` feature
//! only; they are never embedded in the binary).

/// Loops forever in every call.
pub const HOSTILE_LOOP: &str = env!("PRAETOR_WASM_HOSTILE_LOOP");
/// Allocates until the memory cap stops it.
pub const HOSTILE_MEMBOMB: &str = env!("PRAETOR_WASM_HOSTILE_MEMBOMB");
/// Traps in every call.
pub const HOSTILE_TRAP: &str = env!("PRAETOR_WASM_HOSTILE_TRAP");
/// A component of another world than the slot it is loaded into.
pub const HOSTILE_WRONG_WORLD: &str = env!("PRAETOR_WASM_HOSTILE_WRONG_WORLD");
/// A translator built against the previous version of the WIT package.
pub const HOSTILE_OLD_ABI: &str = env!("PRAETOR_WASM_HOSTILE_OLD_ABI");

/// Reads one of the paths above.
pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("test guest {path}: {e}"))
}
