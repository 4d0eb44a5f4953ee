#!/usr/bin/env bash
# Throughput and server CPU per request: forkhorn builtin:hello vs nginx `return 200`, both
# with 2 workers, under the same wrk load, in one run.
#
#   bash benches/wrk-vs-nginx.sh [DURATION] [CONNECTIONS] [keepalive|close]
#
# `close`: every request carries `Connection: close`, so each costs a connection (accept,
# poll registration, close): what a client without keep-alive costs. FORKHORN=PATH measures
# that binary instead of building one.
#
# Needs wrk and nginx (Debian packages `wrk`, `nginx-light`); installs them if apt-get can.
# CPU time is utime+stime of the server's master and workers from /proc, over the wrk run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DURATION=${1:-10s}
CONNS=${2:-256}
MODE=${3:-keepalive}
case "$MODE" in
  keepalive) WRK_HEADER=() ;;
  close) WRK_HEADER=(-H "Connection: close") ;;
  *) echo "mode: keepalive or close, not $MODE" >&2; exit 2 ;;
esac
for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null; then
    apt-get install -y -qq wrk nginx-light >/dev/null
  fi
done
[ -n "${FORKHORN:-}" ] || cargo build --release -q
BIN=${FORKHORN:-target/release/forkhorn}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
TCK=$(getconf CLK_TCK)


# Sum of utime+stime (clock ticks) of a process and its children.


# run NAME PID PORT: warm up, then measure.
run() {
  local name=$1 pid=$2 port=$3
  wait_port "$port"
  wrk -t1 -c"$CONNS" -d2s "${WRK_HEADER[@]}" "http://127.0.0.1:$port/" >/dev/null
  local t0 t1 out rps reqs
  t0=$(tree_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"$DURATION" "${WRK_HEADER[@]}" "http://127.0.0.1:$port/")
  t1=$(tree_ticks "$pid")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local errors
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  local us_per_req
  us_per_req=$(awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f", t / k * 1e6 / n }')
  printf '%-10s %12s req/s %10s us CPU/req  %s\n' "$name" "$rps" "$us_per_req" "${errors:-no errors}"
}

PORT=$(free_port)
"$BIN" -w 2 -b "127.0.0.1:$PORT" --log-level warning builtin:hello 2>"$TMP/forkhorn.log" &
FH=$!
run forkhorn "$FH" "$PORT"
kill -TERM "$FH"; wait "$FH" || true

NPORT=$(free_port)
cat > "$TMP/nginx.conf" <<NGINX
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT;
    location / { default_type "text/plain; charset=utf-8"; return 200 "Hello, World!"; }
  }
}
NGINX
nginx -c "$TMP/nginx.conf" -p "$TMP" &
NG=$!
run nginx "$NG" "$NPORT"
kill -QUIT "$NG"; wait "$NG" || true
