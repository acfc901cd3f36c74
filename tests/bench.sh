#!/usr/bin/env bash
# The whole-system benchmark: praetor (3 servers, 127.0.1.1-3) vs etcd 3.4 (3 members,
# 127.0.7.1-3, driven over gRPC) for KV, vs bind9 (127.0.0.1:18600) and Knot DNS
# (127.0.0.1:18601) for DNS A and SRV, and `agent -dev` start-up and memory vs a 1-member etcd,
# all on loopback. Every figure is the median of --runs runs (default 3) with its spread.
# Installs the Debian packages it needs when missing, builds release binaries (under
# $CARGO_TARGET_DIR, else target/), runs the bench and keeps its output.
# Usage: tests/bench.sh [--quick] [--runs N] [--skip-etcd] [--skip-dns]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v dnsperf >/dev/null 2>&1 || missing+=(dnsperf)
[ -x /usr/sbin/named ] || missing+=(bind9)
[ -x /usr/sbin/knotd ] || missing+=(knot)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing ${missing[*]}"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

cargo build --locked --release --bin praetor
cargo build --locked --release -p praetor-tests --bin bench

target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target/bench"
out="$target/bench/results-$(date +%Y%m%d-%H%M%S).txt"
status=0
"$target/release/bench" "$@" 2>&1 | tee "$out" || status=$?
echo
echo "bench output (progress and table) saved to $out"
echo "the table alone is in the results.md named above; server logs are in the dirs it lists"
exit "$status"
