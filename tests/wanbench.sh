#!/usr/bin/env bash
# WAN federation figures on loopback: forwarded ?dc= GET vs local GET (dc1 127.0.1.1, dc2
# 127.0.2.1) and WAN gossip convergence/bandwidth for 3 datacenters x 5 servers
# (127.0.{1,2,3}.1-5). Builds release binaries first.
# Usage: tests/wanbench.sh [--quick] [--skip-gossip]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release --bin praetor
cargo build --locked --release -p praetor-tests --bin wanbench
mkdir -p target/bench
out="target/bench/wan-$(date +%Y%m%d-%H%M%S).txt"
target/release/wanbench "$@" 2>&1 | tee "$out"
echo "saved to $out"
