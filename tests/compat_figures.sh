#!/usr/bin/env bash
# Figures for issue 11 (not a test): one -dev agent on 127.0.1.90, 10,000 KV keys and 1,000
# catalog nodes, then the time of `snapshot save`, `snapshot restore`, and a catalog read with
# and without `?filter=` (median of 11 runs each, with min and max). Needs a built praetor.
set -euo pipefail
cd "$(dirname "$0")/.."
B="${CARGO_TARGET_DIR:-$PWD/target}/${PROFILE:-release}/praetor"
[ -x "$B" ] || { echo "build praetor first (cargo build --release --bin praetor)"; exit 1; }
IP=127.0.1.90
DIR=$(mktemp -d)
"$B" agent -dev -node=fig -bind=$IP -client=$IP >"$DIR/agent.log" 2>&1 &
AGENT=$!
trap 'kill $AGENT 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do curl -sf "http://$IP:8500/v1/status/leader" | grep -q 8300 && break; sleep 0.1; done
H="http://$IP:8500"
python3 - "$H" <<'PY'
import json, sys, urllib.request
h = sys.argv[1]
def put(path, body):
    req = urllib.request.Request(h + path, data=body, method="PUT")
    urllib.request.urlopen(req).read()
for b in range(0, 10000, 64):
    ops = [{"KV": {"Verb": "set", "Key": f"fig/{i:05d}", "Value": "dmFsdWU="}} for i in range(b, min(b + 64, 10000))]
    put("/v1/txn", json.dumps(ops).encode())
for i in range(1000):
    body = {"Node": f"n{i:04d}", "Address": f"10.1.{i // 250}.{i % 250}",
            "NodeMeta": {"rack": f"r{i % 10}"},
            "Service": {"Service": "web", "Port": 80, "Tags": ["v1" if i % 2 else "v2"]}}
    put("/v1/catalog/register", json.dumps(body).encode())
PY
median() { sort -n | awk '{a[NR]=$1/1000} END {printf "median %.1f ms (min %.1f, max %.1f, n=%d)\n", a[int((NR+1)/2)], a[1], a[NR], NR}'; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
export CONSUL_HTTP_ADDR=$IP:8500
echo "snapshot save (10k keys, 1k nodes):    $(for _ in $(seq 11); do ms "$B" snapshot save "$DIR/s.snap"; done | median)"
echo "snapshot size: $(stat -c %s "$DIR/s.snap") bytes"
echo "snapshot restore:                      $(for _ in $(seq 11); do ms "$B" snapshot restore "$DIR/s.snap"; done | median)"
echo "GET /v1/catalog/service/web:           $(for _ in $(seq 11); do ms curl -sf "$H/v1/catalog/service/web"; done | median)"
F='filter=NodeMeta.rack%20%3D%3D%20r3%20and%20%22v1%22%20in%20ServiceTags'
echo "  with ?filter= (100 of 1000 kept):    $(for _ in $(seq 11); do ms curl -sf "$H/v1/catalog/service/web?$F"; done | median)"
echo "  with ?node-meta=rack:r3:             $(for _ in $(seq 11); do ms curl -sf "$H/v1/catalog/service/web?node-meta=rack:r3"; done | median)"
