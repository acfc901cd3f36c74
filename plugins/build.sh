#!/usr/bin/env bash
# Builds every praetor plugin (sdk, built-ins, examples, hostile test guests) as wasm32-wasip2
# components and prints the directory holding the .wasm files (only that, on stdout).
# Honours CARGO_TARGET_DIR (default: plugins/target).
set -euo pipefail

plugins="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target_dir="${CARGO_TARGET_DIR:-$plugins/target}"
case "$target_dir" in
    /*) ;;
    *) target_dir="$PWD/$target_dir" ;;
esac

# Inside the repository so rust-toolchain.toml picks the pinned toolchain.
cd "$plugins"
if command -v rustup >/dev/null 2>&1; then
    rustup target add wasm32-wasip2 >/dev/null 2>&1 || echo "build.sh: rustup could not add wasm32-wasip2" >&2
fi
cargo build --release --target wasm32-wasip2 --target-dir "$target_dir" >&2
echo "$target_dir/wasm32-wasip2/release"
