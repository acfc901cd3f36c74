//! Builds the plugins workspace (`plugins/`) for wasm32-wasip2 into `<target root>/plugins` and
//! exports each component's path as `PRAETOR_WASM_<NAME>` (the built-ins are embedded with
//! `include_bytes!`; the hostile test guests are only referenced by tests).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Components the host embeds or its tests use, by crate name.
const COMPONENTS: &[&str] = &[
    "translate-wan-addrs",
    "route-rtt",
    "intentions-consul",
    "join-static",
    "join-file",
    "join-dns",
    "route-prefer-region",
    "hostile-loop",
    "hostile-membomb",
    "hostile-trap",
    "hostile-wrong-world",
    "hostile-old-abi",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let repo = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/plugin-host lies two levels below the repository root")
        .to_path_buf();
    let plugins = repo.join("plugins");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let target_root = target_root(&out_dir);
    let plugin_target = target_root.join("plugins");

    rerun_if_changed_tree(&plugins);
    println!("cargo:rerun-if-changed={}", repo.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        repo.join("host/policy").display()
    );

    check_wasm_target();

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&plugin_target);
    // The nested build must not inherit the outer build's target, flags or jobserver.
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let strip =
            (key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_NET_OFFLINE")
                || matches!(
                    key,
                    "RUSTFLAGS"
                        | "RUSTDOCFLAGS"
                        | "RUSTC_WRAPPER"
                        | "RUSTC_WORKSPACE_WRAPPER"
                        | "TARGET"
                        | "HOST"
                        | "OUT_DIR"
                        | "OPT_LEVEL"
                        | "PROFILE"
                        | "DEBUG"
                        | "NUM_JOBS"
                        | "RUSTC_LINKER"
                        | "MAKEFLAGS"
                        | "MFLAGS"
                );
        if strip {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for the plugins workspace: {e}"));
    if !status.success() {
        panic!(
            "building the plugins workspace ({}) for {TARGET} failed ({status}); \
             if the target is missing, run `rustup target add {TARGET}`",
            plugins.display()
        );
    }

    let artifacts = plugin_target.join(TARGET).join("release");
    for name in COMPONENTS {
        let file = artifacts.join(format!("{}.wasm", name.replace('-', "_")));
        if !file.exists() {
            panic!(
                "the plugins build did not produce {} (is `{name}` a member of plugins/Cargo.toml?)",
                file.display()
            );
        }
        let var = format!("PRAETOR_WASM_{}", name.replace('-', "_").to_uppercase());
        println!("cargo:rustc-env={var}={}", file.display());
    }
}

/// `<target root>` of the outer build: the directory holding `CACHEDIR.TAG` above OUT_DIR
/// (OUT_DIR is `<root>[/<triple>]/<profile>/build/<pkg>-<hash>/out`).
fn target_root(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .or_else(|| out_dir.ancestors().nth(4).map(Path::to_path_buf))
        .unwrap_or_else(|| out_dir.to_path_buf())
}

/// Fails early, with the fix, when the toolchain has no wasm32-wasip2 standard library.
fn check_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(out) = Command::new(&rustc).args(["--print", "sysroot"]).output() else {
        return;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if sysroot.is_empty() {
        return;
    }
    let lib = Path::new(&sysroot).join("lib/rustlib").join(TARGET);
    if !lib.exists() {
        // RUSTUP_AUTO_INSTALL does not cover targets: install it, so `cargo run` works on a
        // fresh machine (rustup picks the toolchain pinned by rust-toolchain.toml).
        let added = Command::new("rustup")
            .args(["target", "add", TARGET])
            .status()
            .is_ok_and(|s| s.success());
        if !added || !lib.exists() {
            panic!("the {TARGET} target is not installed: run `rustup target add {TARGET}`");
        }
    }
}

/// rerun-if-changed for everything under `dir` except build output (`target/`).
fn rerun_if_changed_tree(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
