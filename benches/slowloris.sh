#!/usr/bin/env bash
# How much do N slow clients (one header byte per second each) lower the throughput other
# clients see, with the default settings (worker_connections 1000, header_timeout 15)? Runs wrk
# against builtin:hello (2 workers) alone, then again while benches/slowloris.py holds N such
# connections, and prints both and the ratio, and wrk's errors (timeouts).
#
#   bash benches/slowloris.sh [DURATION=10s] [N=2000]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
N=${2:-2000}
ulimit -n "$(( N + 1024 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The defaults: a full worker closes idle and slow connections to take new ones.
target/release/forkhorn -w 2 -b "127.0.0.1:$PORT" --log-level warning builtin:hello 2>"$TMP/log" &
FH=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.05; done
rps() {
  wrk -t1 -c64 -d"$DURATION" "http://127.0.0.1:$PORT/" > "$TMP/wrk.out"
  awk '/Socket errors/ {print "wrk: " $0 > "/dev/stderr"} /Requests\/sec/ {print $2}' "$TMP/wrk.out"
}
wrk -t1 -c64 -d2s "http://127.0.0.1:$PORT/" >/dev/null
BASE=$(rps)
SECS=$(( ${DURATION%s} + 15 ))
python3 benches/slowloris.py "$PORT" "$N" "$SECS" > "$TMP/slow.out" &
SLOW=$!
sleep 5 # let all N connections open
LOADED=$(rps)
wait "$SLOW" || true
kill -TERM "$FH"; wait "$FH" || true
cat "$TMP/slow.out"
awk -v a="$BASE" -v b="$LOADED" -v n="$N" 'BEGIN { printf "alone: %.0f req/s\nwith %d slow clients: %.0f req/s (%.1f%% of alone)\n", a, n, b, 100*b/a }'
