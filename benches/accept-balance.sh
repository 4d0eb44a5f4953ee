#!/usr/bin/env bash
# How evenly do connections and work spread over workers? For the shared listening socket
# (default) and for reuse_port (one SO_REUSEPORT socket per worker): runs wrk against
# builtin:hello with 4 workers and prints, per worker, the established connections it holds
# (from `ss -tnp`) and the CPU time it used (from /proc).
#
#   bash benches/accept-balance.sh [DURATION=5s] [CONNECTIONS=256]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5s}
CONNS=${2:-256}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v ss >/dev/null || apt-get install -y -qq iproute2 >/dev/null
cargo build --release -q
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

for mode in shared reuse_port; do
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  extra=()
  [ "$mode" = reuse_port ] && extra=(--reuse-port)
  target/release/forkhorn -w 4 -b "127.0.0.1:$PORT" "${extra[@]}" --log-level warning builtin:hello 2>"$TMP/log" &
  FH=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.05; done
  WORKERS=$(pgrep -P "$FH" | sort -n)
  declare -A before=()
  for w in $WORKERS; do before[$w]=$(ticks "$w"); done
  wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$PORT/" > "$TMP/wrk" &
  WRK=$!
  sleep 1
  ss -tnpH state established "( sport = :$PORT )" > "$TMP/ss"
  wait "$WRK"
  echo "== $mode: $(awk '/Requests\/sec/ {print $2}' "$TMP/wrk") req/s"
  printf '%-8s %12s %10s\n' worker connections cpu_ticks
  for w in $WORKERS; do
    printf '%-8s %12s %10s\n' "$w" "$(grep -c "pid=$w," "$TMP/ss" || true)" "$(( $(ticks "$w") - ${before[$w]} ))"
  done
  kill -TERM "$FH"; wait "$FH" || true
  unset before
done
