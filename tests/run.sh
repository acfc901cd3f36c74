#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the project needs, builds the
# `praetor` binary the integration tests start, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# The toolchain is pinned in rust-toolchain.toml; targets are not installed automatically.
rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2

# Third-party clients the integration tests drive: dig (DNS), curl (HTTPS API) and a headless
# Chromium (the web UI's browser test).
missing=()
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The fault suite: network namespaces (iproute2) and partitions (nftables).
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

# Every plugin component (built-ins, examples, test guests), into the directory the plugin
# host's build step uses, so the agent build below finds them already built.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/plugins" bash plugins/build.sh >/dev/null

# Hygiene first: formatting and every clippy warning are failures.
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings

cargo build --locked --bin praetor
# Integration tests start real agents on 127.0.x.y; run test binaries one at a time (cargo's
# default) and at most two tests at once inside a binary (2-core machine).
cargo test --locked --workspace -- --test-threads=2
# The guest workspace's own tests (SDK doctests, each plugin's logic), natively.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/plugins-native" \
    cargo test --locked --manifest-path plugins/Cargo.toml
