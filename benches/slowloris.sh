#!/usr/bin/env bash
# How much do 2,000 slow clients (one header byte per second each) lower the throughput other
# clients see? Runs wrk against builtin:hello (2 workers) alone, then again while
# benches/slowloris.py holds 2,000 such connections, and prints both and the ratio.
#
#   bash benches/slowloris.sh [DURATION=10s]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Each worker must be able to hold its share of the slow clients plus wrk's connections.
target/release/forkhorn -w 2 -b "127.0.0.1:$PORT" --worker-connections 4000 --header-timeout 60 \
  --log-level warning builtin:hello 2>"$TMP/log" &
FH=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.05; done
rps() { wrk -t1 -c64 -d"$DURATION" "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}'; }
wrk -t1 -c64 -d2s "http://127.0.0.1:$PORT/" >/dev/null
BASE=$(rps)
SECS=$(( ${DURATION%s} + 15 ))
python3 benches/slowloris.py "$PORT" 2000 "$SECS" > "$TMP/slow.out" &
SLOW=$!
sleep 5 # let all 2,000 connections open
LOADED=$(rps)
wait "$SLOW" || true
kill -TERM "$FH"; wait "$FH" || true
cat "$TMP/slow.out"
awk -v a="$BASE" -v b="$LOADED" 'BEGIN { printf "alone: %.0f req/s\nwith 2000 slow clients: %.0f req/s (%.1f%% of alone)\n", a, b, 100*b/a }'
