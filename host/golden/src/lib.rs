//! Golden files of versioned wire and disk formats: today's encoding of a value is compared
//! with the file committed under `<package>/tests/golden/v<version>/`, which every later build
//! must keep decoding. `PRAETOR_BLESS_GOLDEN=1` writes a missing file; an existing one is never
//! overwritten.
//!
//! The package directory is read at run time (`cargo test` sets `CARGO_MANIFEST_DIR`), so a
//! test binary that cargo reuses from another checkout sharing the target directory still
//! reads this checkout's files; the directory it was compiled in is the fallback.

use std::path::PathBuf;

/// `<package>/tests/golden/v<version>`; `compiled_dir` is the caller's
/// `env!("CARGO_MANIFEST_DIR")`.
pub fn dir(compiled_dir: &str, version: u32) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(compiled_dir), PathBuf::from)
        .join(format!("tests/golden/v{version}"))
}

/// Asserts that `bytes` equal the golden file `name` of format `version` and returns the
/// file's bytes (to decode them back). Panics naming the file when it is missing or differs.
pub fn check(compiled_dir: &str, version: u32, name: &str, bytes: &[u8]) -> Vec<u8> {
    let dir = dir(compiled_dir, version);
    let path = dir.join(name);
    if !path.exists() && std::env::var_os("PRAETOR_BLESS_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).expect("golden dir");
        std::fs::write(&path, bytes).expect("write golden file");
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (PRAETOR_BLESS_GOLDEN=1 writes a missing file)",
            path.display()
        )
    });
    assert!(
        golden == bytes,
        "format version {version} moved: today's bytes of {name} differ from {}. \
         Reordering or inserting fields or variants is a new format version; \
         append variants at the end instead",
        path.display()
    );
    golden
}
